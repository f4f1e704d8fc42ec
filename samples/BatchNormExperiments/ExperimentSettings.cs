using Samples.Common;

namespace BatchNormExperiments;

/// <summary>The sample's options, checked.</summary>
/// <param name="Experiments">Which experiments to run, in the order they run.</param>
/// <param name="Epochs">Epochs of the "normalizers" and "landscape" runs.</param>
/// <param name="TrainCount">How many training images to use (the first ones), or null for all.</param>
/// <param name="TestCount">How many test images to use (the first ones), or null for all.</param>
/// <param name="OutputFolder">The absolute folder the figures and results.md are written to.</param>
/// <param name="DataFolder">The absolute Fashion-MNIST folder.</param>
/// <param name="DataName">What the data is, for the output: the embedded subset, the full data set or a folder.</param>
/// <param name="Seed">Seed of every run's initialization, batch order and noise.</param>
internal sealed record ExperimentSettings(
    IReadOnlyList<string> Experiments, int Epochs, int? TrainCount, int? TestCount, string OutputFolder, string DataFolder, string DataName, int Seed)
{
    public const string Normalizers = "normalizers";
    public const string Renorm = "renorm";
    public const string Landscape = "landscape";

    /// <summary>Every experiment, in the order they run.</summary>
    public static IReadOnlyList<string> AllExperiments { get; } = [Normalizers, Renorm, Landscape];

    public const int DefaultEpochs = 5;
    public const int DefaultSeed = 1;

    /// <summary>The fewest rows a split may be cut to: enough for a batch of 64 and for every class to appear.</summary>
    public const int MinimumRows = 100;

    /// <summary>Reads the command line; null when --help was asked for.</summary>
    /// <exception cref="CommandLineException">An option is unknown, repeated, malformed or out of range.</exception>
    public static ExperimentSettings? Parse(IReadOnlyList<string> args)
    {
        var (full, rest) = FashionMnistSource.TakeFullFlag(args);
        var options = CommandLine.Parse(rest, "experiments", "epochs", "train-count", "test-count", "output", "data", "seed");
        if (options.HelpRequested)
            return null;
        var source = FashionMnistSource.Select(full, options.GetString("data"));

        return new ExperimentSettings(
            Experiments: options.GetList("experiments", AllExperiments.Select(e => (e, e)).ToList()),
            Epochs: options.GetInt("epochs", DefaultEpochs, min: 1, max: 1000),
            TrainCount: options.GetOptionalInt("train-count", MinimumRows, 60_000),
            TestCount: options.GetOptionalInt("test-count", MinimumRows, 60_000),
            OutputFolder: Path.GetFullPath(options.GetString("output") ?? "output"),
            DataFolder: source.Folder,
            DataName: source.Name,
            Seed: options.GetInt("seed", DefaultSeed, min: 0, max: int.MaxValue));
    }
}
