using Samples.Common;

namespace NormalizationSweep;

/// <summary>The sample's options, checked.</summary>
/// <param name="Tasks">The tasks to sweep, in the order they run.</param>
/// <param name="Trainers">The trainers of the grid, in the order they run.</param>
/// <param name="Folds">Cross-validation folds.</param>
/// <param name="Epochs">Epochs of every MLP fit.</param>
/// <param name="TrainCount">How many Fashion-MNIST training images to use (the first ones), or null for all.</param>
/// <param name="TestCount">How many Fashion-MNIST test images to use (the first ones), or null for all.</param>
/// <param name="OutputFolder">The absolute folder the leaderboard and the best models are written to.</param>
/// <param name="ImageFolder">The absolute Fashion-MNIST folder.</param>
/// <param name="ImageDataName">What the Fashion-MNIST data is, for the output (see FashionMnistSource).</param>
/// <param name="Seed">Seed of the splits, the folds and every trainer.</param>
internal sealed record SweepSettings(
    IReadOnlyList<string> Tasks, IReadOnlyList<TrainerKind> Trainers, int Folds, int Epochs, int? TrainCount, int? TestCount,
    string OutputFolder, string ImageFolder, string ImageDataName, int Seed)
{
    public const int DefaultFolds = 5;
    public const int DefaultEpochs = 5;
    public const int DefaultSeed = 1;

    /// <summary>The fewest images a split may be cut to: enough for two folds to see every class.</summary>
    public const int MinimumImages = 100;

    /// <summary>Reads the command line; null when --help was asked for.</summary>
    /// <exception cref="CommandLineException">An option is unknown, repeated, malformed or out of range.</exception>
    public static SweepSettings? Parse(IReadOnlyList<string> args)
    {
        var (full, rest) = FashionMnistSource.TakeFullFlag(args);
        var options = CommandLine.Parse(rest, "tasks", "trainers", "folds", "epochs", "train-count", "test-count", "output", "data", "seed");
        if (options.HelpRequested)
            return null;
        var images = FashionMnistSource.Select(full, options.GetString("data"));
        return new SweepSettings(
            Tasks: options.GetList("tasks", SweepTask.All.Select(t => (t, t)).ToList()),
            Trainers: options.GetList("trainers", PipelineGrid.TrainerOptions),
            Folds: options.GetInt("folds", DefaultFolds, min: 2, max: 20),
            Epochs: options.GetInt("epochs", DefaultEpochs, min: 1, max: 1000),
            TrainCount: options.GetOptionalInt("train-count", MinimumImages, 60_000),
            TestCount: options.GetOptionalInt("test-count", MinimumImages, 60_000),
            OutputFolder: Path.GetFullPath(options.GetString("output") ?? "output"),
            ImageFolder: images.Folder,
            ImageDataName: images.Name,
            Seed: options.GetInt("seed", DefaultSeed, min: 0, max: int.MaxValue));
    }
}
