using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
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
    public void SmallRunOfEveryExperimentWritesTheFiguresAndAResultsRowPerConfiguration()
    {
        var (exitCode, stdout, stderr) = RunSample(
            "--train-count", "600", "--test-count", "200", "--epochs", "2", "--output", _output.FullName);
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
        var rows = File.ReadAllLines(resultsPath)
            .Where(line => Configurations.Any(c => line.StartsWith($"| {c.Experiment} |", StringComparison.Ordinal)))
            .Select(line => line.Split('|').Select(cell => cell.Trim()).ToArray())
            .ToList();
        foreach (var (experiment, configuration, setting) in Configurations)
            Assert.True(rows.Count(r => r[1] == experiment && r[2] == configuration && r[3].StartsWith(setting, StringComparison.Ordinal)) == 1,
                $"results.md has no single row for {experiment} / {configuration} / {setting}:\n{File.ReadAllText(resultsPath)}");
        Assert.Equal(Configurations.Length, rows.Count);

        // Columns: experiment, configuration, setting, steps, test accuracy after epoch 1, final test accuracy, ...
        foreach (var row in rows)
        {
            Assert.True(int.Parse(row[4], CultureInfo.InvariantCulture) > 0, $"no steps in {string.Join(" | ", row)}");
            foreach (var cell in new[] { row[5], row[6] })
            {
                Assert.EndsWith(" %", cell);
                double accuracy = double.Parse(cell[..^2], CultureInfo.InvariantCulture);
                Assert.True(accuracy is > 10 and <= 100, $"accuracy {cell} is not above chance in {string.Join(" | ", row)}");
            }
        }
    }

    [Fact]
    public void SampleRejectsAnUnknownExperimentWithAMessageAndExitCodeTwo()
    {
        var (exitCode, _, stderr) = RunSample("--experiments", "normalizers,dropout", "--output", _output.FullName);

        Assert.Equal(2, exitCode);
        Assert.Contains("--experiments", stderr);
    }

    private (int ExitCode, string Stdout, string Stderr) RunSample(params string[] arguments)
        => ChildProcess.Run("BatchNormExperimentsSample", _output.FullName, arguments);
}
