using System.Diagnostics;
using System.Globalization;
using MLNet.Normalization.Training;
using Samples.Common;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// Times one training epoch of the Fashion-MNIST MLP 784-256-256-10 (SGD lr 0.01, momentum 0.9, batch 64) per
/// normalization, and its test accuracy after that epoch, as one JSON line each; benchmarks/mlp_epoch_torch.py
/// times the same network in PyTorch. An epoch is long enough for a stopwatch; the run is repeated and the median kept.
/// </summary>
internal static class MlpEpoch
{
    public static void Run(string folder, int repeats)
    {
        var train = Labeled(FashionMnist.Load(folder, train: true));
        var test = Labeled(FashionMnist.Load(folder, train: false));
        // Compile the training path before timing.
        MultilayerPerceptronTraining.Train(train with { Features = train.Features[..(640 * 784)], Labels = train.Labels[..640] }, Options(HiddenNormalization.BatchNorm));
        foreach (var normalization in new[] { HiddenNormalization.None, HiddenNormalization.BatchNorm, HiddenNormalization.BatchRenorm })
        {
            var seconds = new List<double>();
            double accuracy = 0;
            for (int r = 0; r < repeats; r++)
            {
                var watch = Stopwatch.StartNew();
                var model = MultilayerPerceptronTraining.Train(train, Options(normalization));
                seconds.Add(watch.Elapsed.TotalSeconds);
                accuracy = model.Accuracy(test);
            }
            seconds.Sort();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{{\"normalization\": \"{normalization}\", \"epoch_seconds\": {seconds[seconds.Count / 2]:F3}, \"test_accuracy\": {accuracy:F4}, \"rows\": {train.Rows}}}"));
        }
    }

    private static MultilayerPerceptronOptions Options(HiddenNormalization normalization) => new()
    {
        HiddenLayers = [256, 256],
        Normalization = normalization,
        BatchSize = 64,
        Epochs = 1,
        LearningRate = 0.01,
        Momentum = 0.9,
        Seed = 1,
        RenormSchedule = new RenormSchedule(WarmupSteps: 100, FinalRMax: 3, RMaxSteps: 600, FinalDMax: 5, DMaxSteps: 400),
    };

    internal static LabeledData Labeled(FashionMnist data)
    {
        var features = new float[data.Count * FashionMnist.PixelsPerImage];
        for (int n = 0; n < data.Count; n++)
            for (int p = 0; p < FashionMnist.PixelsPerImage; p++)
                features[n * FashionMnist.PixelsPerImage + p] = data.Images[n][p] / 255f;
        return new LabeledData(features, data.Labels.Select(l => (int)l).ToArray(), FashionMnist.PixelsPerImage, 10);
    }
}
