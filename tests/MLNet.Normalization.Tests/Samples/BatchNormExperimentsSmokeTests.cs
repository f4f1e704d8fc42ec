using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests.Samples;

/// <summary>Runs samples/BatchNormExperiments as its own process with small settings and checks what it writes.</summary>
public class BatchNormExperimentsSmokeTests : IDisposable
{
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static readonly string[] Figures =
        ["normalizers-accuracy.png", "normalizers-loss.png", "renorm.png", "landscape-range.png", "landscape-loss.png"];

    /// <summary>Every configuration's row: experiment, configuration, and how its setting starts.</summary>
    private static readonly (string Experiment, string Configuration, string Setting)[] Configurations =
    [
        ("normalizers", "None", "batch 64"),
        ("normalizers", "BatchNorm", "batch 64"),
        ("normalizers", "NoisyBatchNorm", "batch 64"),
        ("normalizers", "L1BatchNorm", "batch 64"),
        ("normalizers", "L2BatchNorm", "batch 64"),
        ("normalizers", "LInfBatchNorm", "batch 64"),
        ("renorm", "BatchNorm", "non-i.i.d."),
        ("renorm", "BatchRenorm", "non-i.i.d."),
        ("renorm", "BatchNorm", "batch 4"),
        ("renorm", "BatchRenorm", "batch 4"),
        ("landscape", "None", "batch 64"),
        ("landscape", "BatchNorm", "batch 64"),
    ];

    private readonly DirectoryInfo _output = Directory.CreateTempSubdirectory("mlnet-normalization-batchnorm-experiments-");

    public void Dispose() => _output.Delete(recursive: true);

    [Fact]
    public void SmallRunOfEveryExperimentOverTwoSeedsWritesTheFiguresAndAResultsRowPerConfiguration()
    {
        var (exitCode, stdout, stderr) = RunSample(
            "--train-count", "600", "--test-count", "200", "--epochs", "2", "--seeds", "1,2", "--output", _output.FullName);
        Assert.True(exitCode == 0, $"the sample exited {exitCode}:\n{stdout}\n{stderr}");
        Assert.Contains("directions match", stdout);

        foreach (var name in Figures)
        {
            var path = Path.Combine(_output.FullName, name);
            Assert.True(File.Exists(path), $"{path} was not written");
            var bytes = File.ReadAllBytes(path);
            Assert.Equal(PngSignature, bytes.Take(PngSignature.Length));
            // The first chunk is IHDR: length, "IHDR", width, height (big-endian).
            Assert.Equal("IHDR"u8.ToArray(), bytes.Skip(12).Take(4));
            Assert.True(BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)) > 0 && BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)) > 0, $"{name} has an empty size");
            using var image = MLImage.CreateFromFile(path);
            Assert.InRange(image.Width, 200, 4096);
            Assert.InRange(image.Height, 200, 4096);
        }

        var resultsPath = Path.Combine(_output.FullName, "results.md");
        Assert.True(File.Exists(resultsPath), $"{resultsPath} was not written");
        var results = File.ReadAllText(resultsPath);
        var rows = ResultRows(results);
        foreach (var (experiment, configuration, setting) in Configurations)
            Assert.True(rows.Count(r => r[1] == experiment && r[2] == configuration && r[3].StartsWith(setting, StringComparison.Ordinal)) == 1,
                $"results.md has no single row for {experiment} / {configuration} / {setting}:\n{results}");
        Assert.Equal(Configurations.Length, rows.Count);

        // Columns: experiment, configuration, setting, steps, test accuracy after epoch 1, PyTorch's, final test accuracy, PyTorch's, ...
        foreach (var row in rows)
        {
            Assert.True(int.Parse(row[4], CultureInfo.InvariantCulture) > 0, $"no steps in {string.Join(" | ", row)}");
            foreach (var cell in new[] { row[5], row[7] })
            {
                var (mean, std) = MeanAndStd(cell);
                Assert.True(mean is > 10 and <= 100, $"accuracy {cell} is not above chance in {string.Join(" | ", row)}");
                Assert.InRange(std, 0, 50);
            }
            Assert.Equal("–", row[6]);
            Assert.Equal("–", row[8]);
        }
        Assert.Contains("seeds 1, 2;", results);
        Assert.Contains("No PyTorch columns", results);
    }

    [Fact]
    public void TorchFileOfTheSameProtocolFillsThePyTorchColumns()
    {
        // A result of torch_protocol.py for the normalizers on the same 600 / 200 images, 1 epoch, two seeds.
        string[] configurations = ["None", "BatchNorm", "NoisyBatchNorm", "L1BatchNorm", "L2BatchNorm", "LInfBatchNorm"];
        var runs = new[] { 1, 2 }.SelectMany(seed => configurations.Select((c, i) => new Dictionary<string, object>
        {
            ["seed"] = seed, ["group"] = "normalizers", ["configuration"] = c, ["steps"] = 10, ["seconds"] = 1.0,
            ["test_accuracy"] = new[] { c == "None" ? 0.5 + 0.01 * seed : 0.7 + 0.01 * i },
        })).ToArray();
        var torchPath = Path.Combine(_output.FullName, "torch.json");
        File.WriteAllText(torchPath, JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["torch"] = "1.13.0", ["threads"] = 2, ["epochs"] = 1, ["seeds"] = new[] { 1, 2 }, ["seconds"] = 10.0,
            ["data"] = new Dictionary<string, object> { ["name"] = "the embedded Fashion-MNIST subset", ["train_rows"] = 600, ["test_rows"] = 200 },
            ["runs"] = runs,
        }));

        var (exitCode, stdout, stderr) = RunSample("--experiments", "normalizers", "--train-count", "600", "--test-count", "200", "--epochs", "1",
            "--seeds", "1", "--torch", torchPath, "--output", _output.FullName);
        Assert.True(exitCode == 0, $"the sample exited {exitCode}:\n{stdout}\n{stderr}");
        var rows = ResultRows(File.ReadAllText(Path.Combine(_output.FullName, "results.md")));
        var none = rows.Single(r => r[2] == "None");
        Assert.Equal("51.5 ± 0.7 %", none[6]);
        Assert.Equal("10", none[4]);
        var batchNorm = rows.Single(r => r[2] == "BatchNorm");
        Assert.Equal("71.0 ± 0.0 %", batchNorm[6]);
        Assert.Contains("PyTorch yes (2/2 seeds)", batchNorm[11]);
        Assert.Contains("PyTorch: 5 of 5", stdout);
    }

    [Fact]
    public void SampleRejectsATorchFileOfOtherDataWithAMessageAndExitCodeOne()
    {
        var torchPath = Path.Combine(_output.FullName, "torch.json");
        File.WriteAllText(torchPath, """
            {"torch": "1.13.0", "threads": 2, "epochs": 5, "seeds": [1], "seconds": 1,
             "data": {"name": "full Fashion-MNIST", "train_rows": 60000, "test_rows": 10000}, "runs": []}
            """);

        var (exitCode, _, stderr) = RunSample("--train-count", "600", "--torch", torchPath, "--output", _output.FullName);

        Assert.Equal(1, exitCode);
        Assert.Contains("60000 training and 10000 test images", stderr);
    }

    [Theory]
    [InlineData("1,1", "twice")]
    [InlineData("1,x", "--seeds")]
    [InlineData("", "--seeds")]
    public void SampleRejectsABadSeedListWithAMessageAndExitCodeTwo(string seeds, string message)
    {
        var (exitCode, _, stderr) = RunSample("--seeds", seeds, "--output", _output.FullName);

        Assert.Equal(2, exitCode);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public void SampleRejectsAnUnknownExperimentWithAMessageAndExitCodeTwo()
    {
        var (exitCode, _, stderr) = RunSample("--experiments", "normalizers,dropout", "--output", _output.FullName);

        Assert.Equal(2, exitCode);
        Assert.Contains("--experiments", stderr);
    }

    /// <summary>The results table's rows, split into trimmed cells (cell 0 is empty: the row starts with '|').</summary>
    private static List<string[]> ResultRows(string results) => results.Split('\n')
        .TakeWhile(line => !line.StartsWith("## Claims", StringComparison.Ordinal))
        .Where(line => Configurations.Any(c => line.StartsWith($"| {c.Experiment} |", StringComparison.Ordinal)))
        .Select(line => line.Split('|').Select(cell => cell.Trim()).ToArray())
        .ToList();

    /// <summary>"78.6 ± 1.2 %" or "78.6 %" as (78.6, 1.2) or (78.6, 0).</summary>
    private static (double Mean, double Std) MeanAndStd(string cell)
    {
        Assert.EndsWith(" %", cell);
        var parts = cell[..^2].Split(" ± ");
        return (double.Parse(parts[0], CultureInfo.InvariantCulture), parts.Length > 1 ? double.Parse(parts[1], CultureInfo.InvariantCulture) : 0);
    }

    private (int ExitCode, string Stdout, string Stderr) RunSample(params string[] arguments)
        => ChildProcess.Run("BatchNormExperimentsSample", _output.FullName, arguments);
}
