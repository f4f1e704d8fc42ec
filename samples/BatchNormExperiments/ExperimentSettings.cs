using System.Globalization;
using Samples.Common;

namespace BatchNormExperiments;

/// <summary>The sample's options, checked.</summary>
/// <param name="Experiments">Which experiments to run, in the order they run.</param>
/// <param name="Epochs">Epochs of the runs whose epochs are not fixed (all but renorm's non-i.i.d. settings and the MLP's batches of 4).</param>
/// <param name="TrainCount">How many training images to use (the first ones), or null for all.</param>
/// <param name="TestCount">How many test images to use (the first ones), or null for all.</param>
/// <param name="OutputFolder">The absolute folder the figures and results.md are written to.</param>
/// <param name="DataFolder">The absolute Fashion-MNIST folder.</param>
/// <param name="DataName">What the data is, for the output: the embedded subset, the full data set or a folder.</param>
/// <param name="Seeds">The seeds every configuration is trained with (initialization, batch order and noise), distinct.</param>
/// <param name="TorchFile">torch_protocol.py's JSON of the same protocol in PyTorch, absolute, or null for no PyTorch columns.</param>
internal sealed record ExperimentSettings(
    IReadOnlyList<string> Experiments, int Epochs, int? TrainCount, int? TestCount, string OutputFolder, string DataFolder, string DataName,
    IReadOnlyList<int> Seeds, string? TorchFile)
{
    public const string Normalizers = "normalizers";
    public const string Renorm = "renorm";
    public const string Landscape = "landscape";
    public const string ConvolutionalBatch = "cnn-batch";
    public const string ConvolutionalRenorm = "cnn-renorm";
    public const string ConvolutionalLandscape = "cnn-landscape";

    /// <summary>--experiments' shorthand for the three convolutional experiments.</summary>
    public const string Convolutional = "cnn";

    /// <summary>Every experiment, in the order they run.</summary>
    public static IReadOnlyList<string> AllExperiments { get; } =
        [Normalizers, Renorm, Landscape, ConvolutionalBatch, ConvolutionalRenorm, ConvolutionalLandscape];

    /// <summary>The experiments run without --experiments: the multilayer perceptron's, about a minute on the embedded subset.</summary>
    public static IReadOnlyList<string> DefaultExperiments { get; } = [Normalizers, Renorm, Landscape];

    /// <summary>The convolutional experiments, which --experiments cnn names.</summary>
    public static IReadOnlyList<string> ConvolutionalExperiments { get; } = [ConvolutionalBatch, ConvolutionalRenorm, ConvolutionalLandscape];

    public const int DefaultEpochs = 5;

    /// <summary>Three seeds: enough for a mean and a spread, and the default run on the embedded subset stays under a minute.</summary>
    public static IReadOnlyList<int> DefaultSeeds { get; } = [1, 2, 3];

    public const int MaximumSeeds = 20;

    /// <summary>The fewest rows a split may be cut to: enough for a batch of 64 and for every class to appear.</summary>
    public const int MinimumRows = 100;

    /// <summary>Reads the command line; null when --help was asked for.</summary>
    /// <exception cref="CommandLineException">An option is unknown, repeated, malformed or out of range, or neither the --torch file nor its folder exists.</exception>
    public static ExperimentSettings? Parse(IReadOnlyList<string> args)
    {
        var (full, rest) = FashionMnistSource.TakeFullFlag(args);
        var options = CommandLine.Parse(rest, "experiments", "epochs", "train-count", "test-count", "output", "data", "seeds", "torch");
        if (options.HelpRequested)
            return null;
        var source = FashionMnistSource.Select(full, options.GetString("data"));

        return new ExperimentSettings(
            Experiments: ParseExperiments(options),
            Epochs: options.GetInt("epochs", DefaultEpochs, min: 1, max: 1000),
            TrainCount: options.GetOptionalInt("train-count", MinimumRows, 60_000),
            TestCount: options.GetOptionalInt("test-count", MinimumRows, 60_000),
            OutputFolder: Path.GetFullPath(options.GetString("output") ?? "output"),
            DataFolder: source.Folder,
            DataName: source.Name,
            Seeds: ParseSeeds(options.GetString("seeds")),
            TorchFile: ResolveTorchFile(options.GetString("torch")));
    }

    /// <summary>The experiments named, in <see cref="AllExperiments"/>' order; "cnn" stands for the three convolutional ones.</summary>
    private static IReadOnlyList<string> ParseExperiments(CommandLine options)
    {
        if (options.GetString("experiments") is null)
            return DefaultExperiments;
        var choices = AllExperiments.Select(e => (e, (IReadOnlyList<string>)[e])).Append((Convolutional, ConvolutionalExperiments)).ToList();
        var named = options.GetList("experiments", choices).SelectMany(e => e).ToHashSet();
        return AllExperiments.Where(named.Contains).ToList();
    }

    private static IReadOnlyList<int> ParseSeeds(string? text)
    {
        if (text is null)
            return DefaultSeeds;
        var seeds = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int seed))
                throw new CommandLineException($"--seeds takes a comma-separated list of integers from 0 to {int.MaxValue}, e.g. 1,2,3; got '{text}'.");
            if (seeds.Contains(seed))
                throw new CommandLineException($"--seeds lists {seed} twice; each seed is one run of every configuration.");
            seeds.Add(seed);
        }
        if (seeds.Count > MaximumSeeds)
            throw new CommandLineException($"--seeds takes at most {MaximumSeeds} seeds, got {seeds.Count}.");
        return seeds;
    }

    private static string? ResolveTorchFile(string? path)
    {
        if (path is null)
            return null;
        string full = Path.GetFullPath(path);
        // Read after training, so it may still be being written; its folder must exist.
        if (!File.Exists(full) && !Directory.Exists(Path.GetDirectoryName(full)))
            throw new CommandLineException($"--torch: neither {full} nor its folder exists; write it with samples/BatchNormExperiments/torch_protocol.py.");
        return full;
    }
}
