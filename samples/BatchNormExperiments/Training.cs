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

/// <summary>Trains configurations with the library's <see cref="MultilayerPerceptronTraining"/>, printing one line per epoch.</summary>
internal sealed class Trainer(ExperimentData data, ExperimentSettings settings)
{
    /// <summary>MLP 784-256-256-10, SGD lr 0.01, momentum 0.9, batch 64, the settings' seed: every experiment's base.</summary>
    public const double LearningRate = 0.01;
    public const double Momentum = 0.9;
    public const int BatchSize = 64;
    public static readonly int[] HiddenLayers = [256, 256];

    public ExperimentData Data => data;

    public ExperimentSettings Settings => settings;

    /// <summary>The shared options with the given normalization and epochs.</summary>
    public MultilayerPerceptronOptions Options(HiddenNormalization normalization, int epochs) => new()
    {
        HiddenLayers = HiddenLayers,
        Normalization = normalization,
        BatchSize = BatchSize,
        Epochs = epochs,
        LearningRate = LearningRate,
        Momentum = Momentum,
        Seed = settings.Seed,
    };

    /// <summary>Trains one configuration on the training split, evaluating on the test split after every epoch.</summary>
    public TrainedRun Train(string experiment, string configuration, MultilayerPerceptronOptions options)
    {
        var watch = Stopwatch.StartNew();
        string label = $"[{experiment}] {configuration}";
        Console.WriteLine($"  {label,-40} {options.Epochs} epoch(s) of ~{StepsFor(1, options.BatchSize)} steps, batch {options.BatchSize}, lr {options.LearningRate} ...");
        options.EpochCompleted = report => Console.WriteLine(
            $"  {label,-40} epoch {report.Epoch,3}/{options.Epochs}  loss {report.Loss:F4}  train {Format.Percent(report.TrainAccuracy)}  " +
            $"test {Format.Percent(report.ValidationAccuracy ?? double.NaN)}  {watch.Elapsed.TotalSeconds,6:F1} s");
        var model = MultilayerPerceptronTraining.Train(data.Train, options, data.Test);
        return new TrainedRun(configuration, model.Epochs.Select(e => e.ValidationAccuracy ?? double.NaN).ToList(), model.StepLosses.ToList(), watch.Elapsed);
    }

    /// <summary>The steps of <paramref name="epochs"/> epochs of batches of <paramref name="batchSize"/> (a last batch of one row is skipped).</summary>
    public long StepsFor(int epochs, int batchSize)
    {
        int rows = data.Train.Rows;
        long perEpoch = rows / batchSize + (rows % batchSize >= 2 ? 1 : 0);
        return epochs * perEpoch;
    }
}

/// <summary>How numbers are written in the console and in results.md.</summary>
internal static class Format
{
    public static string Percent(double fraction) => double.IsNaN(fraction) ? "–" : $"{100 * fraction:F1} %";

    public static string Loss(double value) => value.ToString("F4");
}
