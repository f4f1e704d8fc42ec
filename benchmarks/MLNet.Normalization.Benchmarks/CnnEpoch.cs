using System.Diagnostics;
using System.Globalization;
using MLNet.Normalization.Training;
using Samples.Common;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// Times one training epoch of the Fashion-MNIST convolutional network conv 3×3 (32)–norm–ReLU–max pool 2–conv 3×3 (64)–
/// norm–ReLU–max pool 2–dense (128)–ReLU–dense (10) (SGD lr 0.01, momentum 0.9, batch 64, shuffled) per normalization,
/// its test accuracy after that epoch and the bytes the epoch allocated, as one JSON line each;
/// benchmarks/cnn_epoch_torch.py times the same network in PyTorch. The run is repeated and the median kept.
/// </summary>
internal static class CnnEpoch
{
    public const int GroupNormGroups = 8;

    public static void Run(string folder, int repeats)
    {
        var train = MlpEpoch.Labeled(FashionMnist.Load(folder, train: true));
        var test = MlpEpoch.Labeled(FashionMnist.Load(folder, train: false));
        // Compile the training path before timing.
        ConvolutionalNetworkTraining.Train(train with { Features = train.Features[..(640 * 784)], Labels = train.Labels[..640] }, Options(HiddenNormalization.BatchNorm));
        foreach (var normalization in new[] { HiddenNormalization.BatchNorm, HiddenNormalization.GroupNorm, HiddenNormalization.BatchRenorm })
        {
            var seconds = new List<double>();
            double accuracy = 0;
            long allocated = 0;
            for (int r = 0; r < repeats; r++)
            {
                long before = GC.GetTotalAllocatedBytes(precise: true);
                var watch = Stopwatch.StartNew();
                var model = ConvolutionalNetworkTraining.Train(train, Options(normalization));
                seconds.Add(watch.Elapsed.TotalSeconds);
                allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                accuracy = model.Accuracy(test);
            }
            seconds.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"normalization\": \"{normalization}\", \"epoch_seconds\": {seconds[seconds.Count / 2]:F3}, \"test_accuracy\": {accuracy:F4}, \"rows\": {train.Rows}, \"allocated_bytes\": {allocated}}}"));
        }
    }

    private static ConvolutionalNetworkOptions Options(HiddenNormalization normalization) => new()
    {
        InputShape = new ImageShape(1, 28, 28),
        Blocks = [new ConvolutionBlock(32), new MaxPoolBlock(), new ConvolutionBlock(64), new MaxPoolBlock(), new DenseBlock(128)],
        Normalization = normalization,
        GroupNormGroups = GroupNormGroups,
        BatchSize = 64,
        Epochs = 1,
        LearningRate = 0.01,
        Momentum = 0.9,
        Seed = 1,
        RenormSchedule = new RenormSchedule(WarmupSteps: 100, FinalRMax: 3, RMaxSteps: 600, FinalDMax: 5, DMaxSteps: 400),
    };
}
