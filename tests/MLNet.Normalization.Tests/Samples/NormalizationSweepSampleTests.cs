using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests.Samples;

/// <summary>Runs samples/NormalizationSweep as its own process with small settings and checks what it writes.</summary>
public class NormalizationSweepSampleTests : IDisposable
{
    private const int Folds = 2;

    /// <summary>Each task's classes and normalizers; every task runs every trainer.</summary>
    private static readonly (string Task, int Classes, string[] Normalizers)[] Tasks =
    [
        ("image", 10, ["None", "NormalizeMeanVariance", "NormalizeChannels"]),
        ("tabular", 3, ["None", "NormalizeMeanVariance", "LayerNorm"]),
    ];

    private static readonly string[] Trainers = ["SdcaMaximumEntropy", "LightGbm", "MLP", "MLP + BatchNorm"];

    /// <summary>
    /// Rows that must beat chance: inputs standardized per feature or per channel suit every trainer, and trees do not
    /// care about scale. Raw or per-row-normalized inputs may leave SDCA's budget of passes or the SGD-trained MLP at
    /// chance (raw pixels of 0..255, wine proline in the thousands): that is what the sweep is there to show.
    /// </summary>
    private static bool MustBeatChance(string normalizer, string trainer)
        => normalizer is "NormalizeMeanVariance" or "NormalizeChannels" || trainer == "LightGbm";

    private readonly DirectoryInfo _output = Directory.CreateTempSubdirectory("mlnet-normalization-sweep-");

    public void Dispose() => _output.Delete(recursive: true);

    [Fact]
    public void SmallSweepRanksEveryPipelineAndSavesLoadableBestModels()
    {
        var (exitCode, stdout, stderr) = RunSample(
            "--train-count", "600", "--test-count", "200", "--folds", $"{Folds}", "--output", _output.FullName);
        Assert.True(exitCode == 0, $"the sample exited {exitCode}:\n{stdout}\n{stderr}");
        Assert.Equal(Tasks.Length, Regex.Count(stdout, "the reloaded model's predicted classes and scores equal the fitted model's on all"));

        var leaderboardPath = Path.Combine(_output.FullName, "leaderboard.md");
        Assert.True(File.Exists(leaderboardPath), $"{leaderboardPath} was not written");
        var leaderboard = File.ReadAllText(leaderboardPath);
        var tables = LeaderboardTables(File.ReadAllLines(leaderboardPath));
        Assert.Equal(Tasks.Select(t => t.Task), tables.Keys);

        foreach (var (task, classes, normalizers) in Tasks)
        {
            var rows = tables[task];
            var expected = normalizers.SelectMany(n => Trainers.Select(t => (n, t))).ToList();
            Assert.True(rows.Count == expected.Count, $"{task} has {rows.Count} rows, expected {expected.Count}:\n{leaderboard}");
            foreach (var (normalizer, trainer) in expected)
                Assert.True(rows.Count(r => r.Normalizer == normalizer && r.Trainer == trainer) == 1,
                    $"{task} has no single row for {normalizer} + {trainer}:\n{leaderboard}");

            Assert.Equal(Enumerable.Range(1, rows.Count), rows.Select(r => r.Rank));
            for (int i = 1; i < rows.Count; i++)
                Assert.True(rows[i].MicroAccuracy <= rows[i - 1].MicroAccuracy, $"{task} is not sorted by micro-accuracy:\n{leaderboard}");

            double chance = 100.0 / classes, margin = 10;
            foreach (var row in rows)
            {
                Assert.InRange(row.MicroAccuracy, 0, 100);
                Assert.InRange(row.MacroAccuracy, 0, 100);
                Assert.InRange(row.Std, 0, 100);
                Assert.True(row.FitSeconds >= 0, $"negative train time in {row}");
                if (MustBeatChance(row.Normalizer, row.Trainer))
                    Assert.True(row.MicroAccuracy > chance + margin, $"{task}: {row} is not above chance ({chance:F1} %)");
            }
            Assert.True(rows[0].MicroAccuracy > chance + margin, $"{task}: the best pipeline {rows[0]} is not above chance");

            AssertBestModelLoadsAndPredicts(task, classes);
        }

        var csvLines = File.ReadAllLines(Path.Combine(_output.FullName, "leaderboard.csv"));
        Assert.StartsWith("task,rank,normalizer,trainer,folds,micro_accuracy_mean,", csvLines[0]);
        Assert.Equal(Tasks.Sum(t => t.Normalizers.Length * Trainers.Length), csvLines.Length - 1);
        foreach (var fields in csvLines.Skip(1).Select(line => line.Split(',')))
        {
            Assert.Equal($"{Folds}", fields[4]);
            Assert.InRange(double.Parse(fields[5], CultureInfo.InvariantCulture), 0, 1);
            Assert.Equal(Folds, fields[9].Split(';').Length);
        }
    }

    [Fact]
    public void SampleRejectsAnUnknownTrainerWithAMessageAndExitCodeTwo()
    {
        var (exitCode, _, stderr) = RunSample("--trainers", "sdca,svm", "--output", _output.FullName);

        Assert.Equal(2, exitCode);
        Assert.Contains("--trainers", stderr);
    }

    [Fact]
    public void HelpPrintsTheOptionsAndRunsNothing()
    {
        var (exitCode, stdout, _) = RunSample("--help", "--output", _output.FullName);

        Assert.Equal(0, exitCode);
        Assert.Contains("--folds", stdout);
        Assert.Empty(_output.EnumerateFileSystemInfos());
    }

    /// <summary>Loads <c>task-best.zip</c> in a fresh MLContext and scores a few made-up rows of the saved input schema.</summary>
    private void AssertBestModelLoadsAndPredicts(string task, int classes)
    {
        var path = Path.Combine(_output.FullName, $"{task}-best.zip");
        Assert.True(File.Exists(path), $"{path} was not written");
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(path, out var inputSchema);

        var featuresType = Assert.IsType<VectorDataViewType>(inputSchema["Features"].Type);
        var schema = SchemaDefinition.Create(typeof(ProbeRow));
        schema[nameof(ProbeRow.Features)].ColumnType = featuresType;
        var rows = Enumerable.Range(0, 3)
            .Select(r => new ProbeRow { Features = Enumerable.Range(0, featuresType.Size).Select(i => (float)((i + r) % 7)).ToArray(), Class = (uint)r })
            .ToList();
        var predictions = model.Transform(ml.Data.LoadFromEnumerable(rows, schema));

        foreach (var scores in predictions.GetColumn<float[]>("Score"))
        {
            Assert.Equal(classes, scores.Length);
            Assert.All(scores, s => Assert.True(float.IsFinite(s), $"{task}: a non-finite score {s}"));
        }
        Assert.All(predictions.GetColumn<uint>("PredictedClass"), c => Assert.InRange(c, 0u, (uint)classes - 1));
    }

    /// <summary>The rows of each "## task" section's table, in the file's order.</summary>
    private static Dictionary<string, List<LeaderboardRow>> LeaderboardTables(string[] lines)
    {
        var tables = new Dictionary<string, List<LeaderboardRow>>();
        List<LeaderboardRow>? current = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
                tables[line[3..].Trim()] = current = [];
            else if (current is not null && line.Length > 2 && line[0] == '|' && char.IsAsciiDigit(line.TrimStart('|', ' ')[0]))
                current.Add(LeaderboardRow.Parse(line));
        }
        return tables;
    }

    /// <summary>A table row: | rank | normalizer | trainer | micro-accuracy % | std % | macro-accuracy % | time s |.</summary>
    private sealed record LeaderboardRow(int Rank, string Normalizer, string Trainer, double MicroAccuracy, double Std, double MacroAccuracy, double FitSeconds)
    {
        public static LeaderboardRow Parse(string line)
        {
            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            Assert.True(cells.Length == 7, $"not a leaderboard row: {line}");
            return new LeaderboardRow(int.Parse(cells[0], CultureInfo.InvariantCulture), cells[1], cells[2],
                Number(cells[3], " %"), Number(cells[4], " %"), Number(cells[5], " %"), Number(cells[6], " s"));
        }

        private static double Number(string cell, string unit)
        {
            Assert.EndsWith(unit, cell);
            return double.Parse(cell[..^unit.Length], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>An input row of the saved models: the features and the class column the pipelines map to a key.</summary>
    private sealed class ProbeRow
    {
        public float[] Features { get; set; } = [];

        public uint Class { get; set; }
    }

    private (int ExitCode, string Stdout, string Stderr) RunSample(params string[] arguments)
        => ChildProcess.Run("NormalizationSweepSample", _output.FullName, arguments);
}
