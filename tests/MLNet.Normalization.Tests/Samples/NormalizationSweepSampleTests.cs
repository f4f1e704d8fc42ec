using System.Globalization;
using System.IO.Compression;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests.Samples;

/// <summary>Runs samples/NormalizationSweep as its own process with small settings and checks what it writes.</summary>
public class NormalizationSweepSampleTests : IDisposable
{
    private const int Folds = 2, TrainCount = 600, TestCount = 200;

    /// <summary>Each task's classes, normalizers in the order the grid runs them, and MLP batch size; every task runs every trainer.</summary>
    private static readonly (string Task, int Classes, string[] Normalizers, int MlpBatch)[] Tasks =
    [
        ("image", 10, ["None", "NormalizeMeanVariance", "NormalizeChannels"], 64),
        ("tabular", 3, ["None", "NormalizeMeanVariance", "LayerNorm"], 16),
    ];

    private static readonly string[] Trainers = ["SdcaMaximumEntropy", "LightGbm", "MLP", "MLP + BatchNorm"];

    /// <summary>
    /// Rows that must beat chance: inputs standardized per feature or per channel suit every trainer, and trees do not
    /// care about scale. Raw or per-row-normalized inputs may leave SDCA's budget of passes or the SGD-trained MLP at
    /// chance (raw pixels of 0..255, wine proline in the thousands): that is what the sweep is there to show.
    /// </summary>
    private static bool MustBeatChance(string normalizer, string trainer)
        => normalizer is "NormalizeMeanVariance" or "NormalizeChannels" || trainer == "LightGbm";

    /// <summary>Percentage points above chance (100 / classes) that the rows of <see cref="MustBeatChance"/> and the best pipeline must reach.</summary>
    private const double ChanceMargin = 10;

    private readonly DirectoryInfo _output = Directory.CreateTempSubdirectory("mlnet-normalization-sweep-");

    public void Dispose() => _output.Delete(recursive: true);

    /// <summary>The folder of the sample's build output, which holds the data it reads (data/fashion-mnist-subset, data/wine).</summary>
    private static string SampleFolder => Path.GetDirectoryName(ChildProcess.ProgramPath("NormalizationSweepSample"))!;

    [Fact]
    public void SmallSweepRanksEveryPipelineAndSavesLoadableBestModels()
    {
        var (exitCode, stdout, stderr) = RunSample(
            "--train-count", $"{TrainCount}", "--test-count", $"{TestCount}", "--folds", $"{Folds}", "--output", _output.FullName);
        Assert.True(exitCode == 0, $"the sample exited {exitCode}:\n{stdout}\n{stderr}");

        int pipelines = Tasks.Sum(t => t.Normalizers.Length * Trainers.Length);
        Assert.Contains($"Grid: {Folds}-fold cross-validation of {pipelines} pipelines, MLP 5 epoch(s), seed 1", stdout);
        Assert.Equal(Tasks.Length, Regex.Count(stdout, "the reloaded model's predicted classes and scores equal the fitted model's on all"));
        var progress = Regex.Matches(stdout, @"^\s+\[(?<task>\w+) (?<pipeline>\d+)/(?<pipelines>\d+)\] (?<name>.+?)\s+fold (?<fold>\d+)/(?<folds>\d+)\s", RegexOptions.Multiline);

        var markdownLines = File.ReadAllLines(Path.Combine(_output.FullName, "leaderboard.md"));
        var sections = MarkdownSections(markdownLines);
        Assert.Equal(Tasks.Select(t => t.Task), sections.Keys);
        var csvLines = File.ReadAllLines(Path.Combine(_output.FullName, "leaderboard.csv"));
        Assert.Equal("task,rank,normalizer,trainer,folds,micro_accuracy_mean,micro_accuracy_std,macro_accuracy_mean,fit_seconds_mean,micro_accuracy_per_fold", csvLines[0]);
        var csv = csvLines.Skip(1).Select(CsvRow.Parse).ToList();
        Assert.Equal(pipelines, csv.Count);
        Assert.Equal(Tasks.Select(t => t.Task), csv.Select(r => r.Task).Distinct());

        foreach (var (task, classes, normalizers, mlpBatch) in Tasks)
        {
            var (heldOut, allRows) = task == "image" ? (ImageHeldOut(), TrainCount + TestCount) : WineHeldOut();
            int crossValidated = allRows - heldOut.Rows;
            var grid = normalizers.SelectMany(n => Trainers.Select(t => $"{n} + {t}")).ToList();
            string what = $"{task}:\n{string.Join('\n', markdownLines)}";

            // The console: every pipeline of the grid, in order, on every fold.
            Assert.Equal(
                grid.SelectMany((name, p) => Enumerable.Range(1, Folds).Select(f => $"{p + 1}/{grid.Count} {name} {f}/{Folds}")),
                progress.Where(m => m.Groups["task"].Value == task).Select(m =>
                    $"{m.Groups["pipeline"].Value}/{m.Groups["pipelines"].Value} {m.Groups["name"].Value} {m.Groups["fold"].Value}/{m.Groups["folds"].Value}"));

            // The CSV: each pipeline once, ranked 1..n by mean micro-accuracy (then std, then time); the mean and the
            // sample std recomputed from the per-fold accuracies; those are fractions of two folds that partition the
            // cross-validated rows.
            var rows = csv.Where(r => r.Task == task).ToList();
            Assert.Equal(grid.Order(), rows.Select(r => r.Name).Order());
            Assert.Equal(Enumerable.Range(1, grid.Count), rows.Select(r => r.Rank));
            foreach (var row in rows)
            {
                Assert.Equal(Folds, row.Folds);
                Assert.Equal(Folds, row.PerFold.Length);
                double mean = row.PerFold.Average();
                double std = Math.Sqrt(row.PerFold.Sum(a => (a - mean) * (a - mean)) / (Folds - 1));
                Assert.True(Math.Abs(row.MicroMean - mean) <= 2e-6, $"{task} {row.Name}: mean {row.MicroMean}, of the folds {mean}");
                Assert.True(Math.Abs(row.MicroStd - std) <= 2e-6, $"{task} {row.Name}: std {row.MicroStd}, of the folds {std}");
                if (MustBeatChance(row.Normalizer, row.Trainer))
                    Assert.True(100 * row.MicroMean > 100.0 / classes + ChanceMargin, $"{task}: {row} is not above chance ({100.0 / classes:F1} %)");
            }
            for (int i = 1; i < rows.Count; i++)
                Assert.True(RanksBefore(rows[i - 1], rows[i]), $"{rows[i - 1]} is ranked before {rows[i]}");
            var foldSizes = Enumerable.Range(1, crossValidated - 1)
                .Where(m => rows.All(r => IsFractionOf(r.PerFold[0], m) && IsFractionOf(r.PerFold[1], crossValidated - m))).ToList();
            Assert.True(foldSizes.Count > 0, $"{task}: no split of the {crossValidated} rows into two folds gives every per-fold accuracy as a fraction of its fold");

            // The Markdown: the task's sizes, the same ranking as the CSV, and the best pipeline, whose held-out
            // accuracies are recounted from the saved model's predictions on the held-out rows.
            var section = sections[task];
            Assert.Contains(section, l => l.EndsWith($"; {classes} classes; {crossValidated} rows cross-validated, {heldOut.Rows} held out; MLP batch {mlpBatch}.", StringComparison.Ordinal));
            var table = section.Where(l => Regex.IsMatch(l, @"^\| \d+ \|")).Select(MarkdownRow.Parse).ToList();
            Assert.Equal(rows.Select(r => (r.Rank, r.Normalizer, r.Trainer)), table.Select(r => (r.Rank, r.Normalizer, r.Trainer)));
            foreach (var (row, shown) in rows.Zip(table))
            {
                AssertShown(100 * row.MicroMean, shown.MicroAccuracy, 0.05, $"{task} {row.Name} micro-accuracy");
                AssertShown(100 * row.MicroStd, shown.Std, 0.05, $"{task} {row.Name} std");
                AssertShown(100 * row.MacroMean, shown.MacroAccuracy, 0.05, $"{task} {row.Name} macro-accuracy");
                AssertShown(row.FitSeconds, shown.FitSeconds, 0.005, $"{task} {row.Name} time");
            }

            var best = section.Select(l => Regex.Match(l,
                @"^Best: \*\*(?<name>.+)\*\*, refitted on all (?<rows>\d+) rows in [\d.]+ s: held-out micro-accuracy (?<micro>[\d.]+) %, macro-accuracy (?<macro>[\d.]+) %\. " +
                @"Saved as `(?<file>.+)`; reloaded, it predicts all (?<heldOut>\d+) held-out rows exactly as the fitted model does\.$")).SingleOrDefault(m => m.Success);
            Assert.True(best is not null, $"no Best line for {what}");
            Assert.Equal(rows[0].Name, best.Groups["name"].Value);
            Assert.Equal($"{crossValidated}", best.Groups["rows"].Value);
            Assert.Equal($"{heldOut.Rows}", best.Groups["heldOut"].Value);
            Assert.Equal($"{task}-best.zip", best.Groups["file"].Value);

            var (micro, macro) = ScoreHeldOut(task, classes, heldOut);
            AssertShown(100 * micro, double.Parse(best.Groups["micro"].Value, CultureInfo.InvariantCulture), 0.05, $"{task} held-out micro-accuracy");
            AssertShown(100 * macro, double.Parse(best.Groups["macro"].Value, CultureInfo.InvariantCulture), 0.05, $"{task} held-out macro-accuracy");
            Assert.True(100 * micro > 100.0 / classes + ChanceMargin, $"{task}: the best pipeline's held-out accuracy {micro:P1} is not above chance");
        }
    }

    /// <summary>The leaderboard's order: higher mean micro-accuracy first; on a tie the smaller std, then the shorter time.</summary>
    private static bool RanksBefore(CsvRow a, CsvRow b)
        => a.MicroMean != b.MicroMean ? a.MicroMean > b.MicroMean
            : a.MicroStd != b.MicroStd ? a.MicroStd < b.MicroStd
            : a.FitSeconds <= b.FitSeconds;

    /// <summary>Whether <paramref name="accuracy"/>, written with 6 decimals, is k / <paramref name="rows"/> for an integer k.</summary>
    private static bool IsFractionOf(double accuracy, int rows)
        => Math.Abs(accuracy * rows - Math.Round(accuracy * rows)) <= 1e-6 * rows;

    private static void AssertShown(double value, double shown, double rounding, string what)
        => Assert.True(Math.Abs(value - shown) <= rounding + 1e-9, $"{what}: shown {shown}, the value is {value}");

    /// <summary>The rows the sample holds out of the image task: the first <see cref="TestCount"/> images of the t10k split it reads.</summary>
    private static HeldOutRows ImageHeldOut()
    {
        var folder = Path.Combine(SampleFolder, "data", "fashion-mnist-subset");
        var pixels = ReadIdx(Path.Combine(folder, "t10k-images-idx3-ubyte.gz"), [TestCount, 28, 28]);
        var labels = ReadIdx(Path.Combine(folder, "t10k-labels-idx1-ubyte.gz"), [TestCount]);
        var ml = new MLContext(seed: 1);
        var schema = SchemaDefinition.Create(typeof(ImageHeldOutRow));
        schema[nameof(ImageHeldOutRow.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, 28, 28);
        var rows = Enumerable.Range(0, TestCount).Select(i => new ImageHeldOutRow
        {
            Features = pixels.AsSpan(i * 784, 784).ToArray().Select(p => (float)p).ToArray(),
            Class = labels[i],
        }).ToList();
        return new HeldOutRows(ml, ml.Data.LoadFromEnumerable(rows, schema), TestCount);
    }

    /// <summary>The first <c>count</c> items of a gz-compressed unsigned-byte IDX file whose item shape is checked against the header.</summary>
    private static byte[] ReadIdx(string path, int[] shape)
    {
        using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gzip.CopyTo(buffer);
        var content = buffer.ToArray();
        Assert.Equal(0x0800 + shape.Length, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(content));
        for (int d = 1; d < shape.Length; d++)
            Assert.Equal(shape[d], System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(content.AsSpan(4 + 4 * d)));
        Assert.True(System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(content.AsSpan(4)) >= shape[0], $"{path} holds fewer than {shape[0]} items");
        int header = 4 + 4 * shape.Length;
        return content.AsSpan(header, shape.Aggregate(1, (a, b) => a * b)).ToArray();
    }

    /// <summary>
    /// The wine rows the sample holds out (ML.NET's TrainTestSplit of the CSV with a test fraction of 0.2 and the
    /// sample's seed, 1), and the number of wines in the CSV.
    /// </summary>
    private static (HeldOutRows HeldOut, int AllRows) WineHeldOut()
    {
        var path = Path.Combine(SampleFolder, "data", "wine", "wine.csv");
        int wines = File.ReadAllLines(path).Skip(1).Count(l => l.Length > 0);
        var ml = new MLContext(seed: 1);
        var split = ml.Data.TrainTestSplit(ml.Data.LoadFromTextFile<WineHeldOutRow>(path, separatorChar: ',', hasHeader: true), testFraction: 0.2, seed: 1);
        int rows = split.TestSet.GetColumn<uint>(nameof(WineHeldOutRow.Class)).Count();
        return (new HeldOutRows(ml, split.TestSet, rows), wines);
    }

    /// <summary>
    /// Loads <c>task-best.zip</c> in a fresh MLContext, predicts the held-out rows and recounts the micro-accuracy (the
    /// fraction of rows predicted right) and the macro-accuracy (the mean over the classes of the fraction of the
    /// class's rows predicted right). Every row has one finite score per class, and the predicted class is the one
    /// with the highest score.
    /// </summary>
    private (double Micro, double Macro) ScoreHeldOut(string task, int classes, HeldOutRows heldOut)
    {
        var model = heldOut.Context.Model.Load(Path.Combine(_output.FullName, $"{task}-best.zip"), out _);
        var predictions = model.Transform(heldOut.Data);
        var actual = predictions.GetColumn<uint>("Class").ToArray();
        var predicted = predictions.GetColumn<uint>("PredictedClass").ToArray();
        var scores = predictions.GetColumn<float[]>("Score").ToArray();
        Assert.Equal(heldOut.Rows, actual.Length);
        for (int i = 0; i < scores.Length; i++)
        {
            Assert.Equal(classes, scores[i].Length);
            Assert.All(scores[i], s => Assert.True(float.IsFinite(s), $"{task} row {i}: a non-finite score {s}"));
            Assert.True(predicted[i] < classes && scores[i][predicted[i]] == scores[i].Max(),
                $"{task} row {i}: predicted class {predicted[i]}, scores {string.Join(' ', scores[i])}");
        }
        double micro = actual.Zip(predicted).Count(p => p.First == p.Second) / (double)actual.Length;
        double macro = actual.Distinct().Average(c =>
            actual.Zip(predicted).Count(p => p.First == c && p.Second == c) / (double)actual.Count(a => a == c));
        return (micro, macro);
    }

    /// <summary>The lines of each "## task" section, in the file's order.</summary>
    private static Dictionary<string, List<string>> MarkdownSections(string[] lines)
    {
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("## ", StringComparison.Ordinal))
                sections[line[3..].Trim()] = current = [];
            else
                current?.Add(line);
        }
        return sections;
    }

    /// <summary>A line of leaderboard.csv.</summary>
    private sealed record CsvRow(string Task, int Rank, string Normalizer, string Trainer, int Folds, double MicroMean, double MicroStd, double MacroMean,
        double FitSeconds, double[] PerFold)
    {
        public string Name => $"{Normalizer} + {Trainer}";

        public static CsvRow Parse(string line)
        {
            var f = line.Split(',');
            Assert.True(f.Length == 10, $"not a leaderboard.csv line: {line}");
            static double D(string s) => double.Parse(s, CultureInfo.InvariantCulture);
            return new CsvRow(f[0], int.Parse(f[1], CultureInfo.InvariantCulture), f[2], f[3], int.Parse(f[4], CultureInfo.InvariantCulture),
                D(f[5]), D(f[6]), D(f[7]), D(f[8]), f[9].Split(';').Select(D).ToArray());
        }

        public override string ToString() => $"{Task} #{Rank} {Name}: micro {MicroMean} ± {MicroStd}, {FitSeconds} s";
    }

    /// <summary>A table row: | rank | normalizer | trainer | micro-accuracy % | std % | macro-accuracy % | time s |.</summary>
    private sealed record MarkdownRow(int Rank, string Normalizer, string Trainer, double MicroAccuracy, double Std, double MacroAccuracy, double FitSeconds)
    {
        public static MarkdownRow Parse(string line)
        {
            var cells = line.Trim('|').Split('|').Select(c => c.Trim()).ToArray();
            Assert.True(cells.Length == 7, $"not a leaderboard row: {line}");
            return new MarkdownRow(int.Parse(cells[0], CultureInfo.InvariantCulture), cells[1], cells[2],
                Number(cells[3], " %"), Number(cells[4], " %"), Number(cells[5], " %"), Number(cells[6], " s"));
        }

        private static double Number(string cell, string unit)
        {
            Assert.EndsWith(unit, cell);
            return double.Parse(cell[..^unit.Length], CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Held-out rows of a task in the saved models' input schema (Features, Class), with the context that made them.</summary>
    private sealed record HeldOutRows(MLContext Context, IDataView Data, int Rows);

    private sealed class ImageHeldOutRow
    {
        public float[] Features { get; set; } = [];

        public uint Class { get; set; }
    }

    /// <summary>A line of wine.csv: 13 measurements, then the cultivar.</summary>
    private sealed class WineHeldOutRow
    {
        [LoadColumn(0, 12), VectorType(13)]
        public float[] Features { get; set; } = [];

        [LoadColumn(13)]
        public uint Class { get; set; }
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

    private (int ExitCode, string Stdout, string Stderr) RunSample(params string[] arguments)
        => ChildProcess.Run("NormalizationSweepSample", _output.FullName, arguments);
}
