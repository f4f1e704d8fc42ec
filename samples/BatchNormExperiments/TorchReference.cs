using System.Text.Json;
using System.Text.Json.Serialization;

namespace BatchNormExperiments;

/// <summary>
/// One landscape probe of a PyTorch run, as LandscapeExperiment.Probe; the gradient change's range is null in files
/// written before torch_protocol.py recorded it.
/// </summary>
internal sealed record TorchProbe(int Step, double Min, double Max, double GradientNorm, double Smoothness,
    double? GradientChangeMin = null, double? GradientChangeMax = null);

/// <summary>Batch Renorm's schedule a PyTorch run used.</summary>
internal sealed record TorchSchedule(
    long WarmupSteps, [property: JsonPropertyName("rmax_steps")] long RMaxSteps, [property: JsonPropertyName("dmax_steps")] long DMaxSteps);

/// <summary>One configuration trained by torch_protocol.py with one seed.</summary>
internal sealed record TorchRun(int Seed, string Group, string Configuration, int Steps, double[] TestAccuracy, double Seconds,
    TorchSchedule? RenormSchedule = null, TorchProbe[]? Probes = null)
{
    public double FirstEpochAccuracy => TestAccuracy[0];
    public double FinalAccuracy => TestAccuracy[^1];
}

/// <summary>The data and settings torch_protocol.py ran with.</summary>
internal sealed record TorchData(string Name, int TrainRows, int TestRows);

internal sealed record TorchFile(string Torch, int Threads, TorchData Data, int Epochs, int[] Seeds, double Seconds, TorchRun[] Runs);

/// <summary>
/// The PyTorch 1.13 side of the tables: samples/BatchNormExperiments/torch_protocol.py's JSON, which runs the sample's
/// protocol in PyTorch. Runs are found by group (normalizers, renorm/non-iid, renorm/batch-4, landscape and the
/// convolutional cnn/batch-size, cnn/renorm/non-iid, cnn/renorm/batch-4, cnn/landscape) and configuration.
/// </summary>
internal sealed class TorchReference
{
    public const string NormalizersGroup = "normalizers", NonIidGroup = "renorm/non-iid", SmallBatchGroup = "renorm/batch-4", LandscapeGroup = "landscape";
    public const string ConvolutionalBatchGroup = "cnn/batch-size", ConvolutionalNonIidGroup = "cnn/renorm/non-iid",
        ConvolutionalSmallBatchGroup = "cnn/renorm/batch-4", ConvolutionalLandscapeGroup = "cnn/landscape";

    private static readonly JsonSerializerOptions JsonOptions = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    private readonly TorchFile _file;

    private TorchReference(string path, TorchFile file)
    {
        Path = path;
        _file = file;
    }

    /// <summary>The JSON file read.</summary>
    public string Path { get; }

    public string Version => _file.Torch;

    public int Threads => _file.Threads;

    public IReadOnlyList<int> Seeds => _file.Seeds;

    /// <summary>Seconds the script took for every seed.</summary>
    public double Seconds => _file.Seconds;

    /// <summary>A configuration's runs, one per seed in seed order; null when the file has none (that experiment was not run).</summary>
    public IReadOnlyList<TorchRun>? Runs(string group, string configuration)
    {
        var runs = _file.Runs.Where(r => r.Group == group && r.Configuration == configuration).OrderBy(r => Array.IndexOf(_file.Seeds, r.Seed)).ToList();
        return runs.Count == 0 ? null : runs;
    }

    /// <summary>Reads the file and checks it was run on the same data and epochs as this run, every seed complete.</summary>
    /// <exception cref="InvalidDataException">The file is not torch_protocol.py's, or it ran another protocol.</exception>
    public static TorchReference Load(string path, ExperimentSettings settings, ExperimentData data)
    {
        if (!File.Exists(path))
            throw new InvalidDataException($"--torch {path} does not exist after training; write it with samples/BatchNormExperiments/torch_protocol.py.");
        TorchFile? file;
        try
        {
            file = JsonSerializer.Deserialize<TorchFile>(File.ReadAllText(path), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"--torch {path} is not a torch_protocol.py result: {e.Message}");
        }
        if (file?.Data is null || file.Seeds is not { Length: > 0 } || file.Runs is null
            || file.Runs.Any(r => r?.Group is null || r.Configuration is null || r.TestAccuracy is not { Length: > 0 }))
            throw new InvalidDataException($"--torch {path} is not a torch_protocol.py result: its data, seeds or runs are missing.");
        if (file.Data.Name != settings.DataName || file.Data.TrainRows != data.Train.Rows || file.Data.TestRows != data.Test.Rows)
            throw new InvalidDataException(
                $"--torch {path} was run on {file.Data.Name}, {file.Data.TrainRows} training and {file.Data.TestRows} test images; this run uses " +
                $"{settings.DataName}, {data.Train.Rows} and {data.Test.Rows}. Run torch_protocol.py with the same data options.");
        if (file.Epochs != settings.Epochs)
            throw new InvalidDataException($"--torch {path} was run with --epochs {file.Epochs}, this run with {settings.Epochs}.");
        foreach (var group in file.Runs.GroupBy(r => r.Group))
        {
            var configurations = group.Select(r => r.Configuration).Distinct().ToList();
            foreach (int seed in file.Seeds)
                if (configurations.Any(c => group.Count(r => r.Seed == seed && r.Configuration == c) != 1))
                    throw new InvalidDataException($"--torch {path}: group {group.Key} does not have one run of each of {string.Join(", ", configurations)} for seed {seed}.");
        }
        return new TorchReference(path, file);
    }
}
