using System.Diagnostics;
using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>One trained configuration: test accuracy after each epoch and the training loss of every step.</summary>
internal sealed record TrainedRun(string Configuration, IReadOnlyList<double> TestAccuracy, IReadOnlyList<float> StepLosses, TimeSpan Elapsed)
{
    public int Steps => StepLosses.Count;
    public double FirstEpochAccuracy => TestAccuracy[0];
    public double FinalAccuracy => TestAccuracy[^1];
}

/// <summary>
/// Trains configurations of one seed with the library's <see cref="MultilayerPerceptronTraining"/> or
/// <see cref="ConvolutionalNetworkTraining"/>, printing one line per epoch.
/// </summary>
internal sealed class Trainer(ExperimentData data, ExperimentSettings settings, int seed)
{
    /// <summary>MLP 784-256-256-10, SGD lr 0.01, momentum 0.9, batch 64: every experiment's base.</summary>
    public const double LearningRate = 0.01;
    public const double Momentum = 0.9;
    public const int BatchSize = 64;
    public static readonly int[] HiddenLayers = [256, 256];

    public ExperimentData Data => data;

    public ExperimentSettings Settings => settings;

    public int Seed => seed;

    /// <summary>The shared options with the given normalization and epochs.</summary>
    public MultilayerPerceptronOptions Options(HiddenNormalization normalization, int epochs) => new()
    {
        HiddenLayers = HiddenLayers,
        Normalization = normalization,
        BatchSize = BatchSize,
        Epochs = epochs,
        LearningRate = LearningRate,
        Momentum = Momentum,
        Seed = seed,
    };

    /// <summary>
    /// The convolutional network <paramref name="blocks"/> on the 1 × 28 × 28 images with the given normalization, epochs,
    /// batch and learning rate, SGD momentum <see cref="Momentum"/>; group norm with <see cref="ConvolutionalNetworks.GroupNormGroups"/> groups.
    /// </summary>
    public ConvolutionalNetworkOptions ConvolutionalOptions(
        IReadOnlyList<NetworkBlock> blocks, HiddenNormalization normalization, int epochs, int batchSize, double learningRate) => new()
    {
        InputShape = ConvolutionalNetworks.Image,
        Blocks = [.. blocks],
        Normalization = normalization,
        GroupNormGroups = ConvolutionalNetworks.GroupNormGroups,
        BatchSize = batchSize,
        Epochs = epochs,
        LearningRate = learningRate,
        Momentum = Momentum,
        Seed = seed,
    };

    /// <summary>Trains the network of <paramref name="options"/> (a multilayer perceptron or a convolutional network) on the training split, evaluating on the test split after every epoch.</summary>
    public NetworkTraining Fit(NetworkTrainingOptions options) => options switch
    {
        MultilayerPerceptronOptions mlp => MultilayerPerceptronTraining.Train(data.Train, mlp, data.Test),
        ConvolutionalNetworkOptions cnn => ConvolutionalNetworkTraining.Train(data.Train, cnn, data.Test),
        _ => throw new ArgumentException($"The sample trains no {options.GetType().Name}.", nameof(options)),
    };

    /// <summary>Trains one configuration on the training split, evaluating on the test split after every epoch.</summary>
    public TrainedRun Train(string experiment, string configuration, NetworkTrainingOptions options)
    {
        var watch = Stopwatch.StartNew();
        string label = $"[{experiment}] {configuration}, seed {seed}";
        Console.WriteLine($"  {label,-48} {options.Epochs} epoch(s) of ~{StepsFor(options) / options.Epochs} steps, batch {options.BatchSize}, lr {options.LearningRate} ...");
        options.EpochCompleted = report => Console.WriteLine(
            $"  {label,-48} epoch {report.Epoch,3}/{options.Epochs}  loss {report.Loss:F4}  train {Format.Percent(report.TrainAccuracy)}  " +
            $"test {Format.Percent(report.ValidationAccuracy ?? double.NaN)}  {watch.Elapsed.TotalSeconds,6:F1} s");
        var model = Fit(options);
        return new TrainedRun(configuration, model.Epochs.Select(e => e.ValidationAccuracy ?? double.NaN).ToList(), model.StepLosses.ToList(), watch.Elapsed);
    }

    /// <summary>
    /// The steps of a run of <paramref name="options"/> with batch statistics. Shuffled: ⌈rows / batch⌉ per epoch, less a
    /// last batch of one row. Class-grouped: every batch joins k chunks of ⌊batch / k⌋ rows of one class each (a class's
    /// last chunk holds the rest), so ⌈chunks / k⌉ per epoch; exact but for a last batch of one row, which is rare.
    /// </summary>
    public long StepsFor(NetworkTrainingOptions options)
    {
        var labels = data.Train.Labels;
        long perEpoch;
        if (options.BatchOrder == BatchOrder.ClassGrouped)
        {
            var sizes = new int[data.Train.Classes];
            foreach (int label in labels)
                sizes[label]++;
            int classesWithRows = sizes.Count(s => s > 0);
            int k = Math.Max(1, Math.Min(Math.Min(options.ClassesPerBatch, classesWithRows), options.BatchSize));
            int chunkRows = options.BatchSize / k;
            long chunks = sizes.Sum(s => (long)(s + chunkRows - 1) / chunkRows);
            perEpoch = (chunks + k - 1) / k;
        }
        else
        {
            int rows = labels.Length;
            perEpoch = rows / options.BatchSize + (rows % options.BatchSize >= 2 ? 1 : 0);
        }
        return options.Epochs * perEpoch;
    }
}

/// <summary>Mean and sample standard deviation (n − 1) of one measurement over seeds.</summary>
internal readonly record struct Stat(double Mean, double Std, int Count)
{
    public static Stat Of(IEnumerable<double> values)
    {
        var v = values.ToArray();
        double mean = v.Average();
        double std = v.Length > 1 ? Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1)) : 0;
        return new Stat(mean, std, v.Length);
    }

    /// <summary>"84.5 ± 0.3 %", or "84.5 %" for one seed.</summary>
    public string Percent() => Count > 1 ? $"{100 * Mean:F1} ± {100 * Std:F1} %" : Format.Percent(Mean);

    /// <summary>A difference of accuracies in points: "3.1 ± 0.4 points", or "3.1 points" for one seed.</summary>
    public string Points() => Count > 1 ? $"{100 * Mean:F1} ± {100 * Std:F1} points" : $"{100 * Mean:F1} points";

    /// <summary>"0.0532 ± 0.0012", or "0.0532" for one seed.</summary>
    public string Loss() => Count > 1 ? $"{Format.Loss(Mean)} ± {Format.Loss(Std)}" : Format.Loss(Mean);
}

/// <summary>How numbers are written in the console and in results.md.</summary>
internal static class Format
{
    public static string Percent(double fraction) => double.IsNaN(fraction) ? "–" : $"{100 * fraction:F1} %";

    public static string Loss(double value) => value.ToString("F4");

    public static string Seeds(IReadOnlyList<int> seeds) => $"seed{(seeds.Count == 1 ? "" : "s")} {string.Join(", ", seeds)}";
}
