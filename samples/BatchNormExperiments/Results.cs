using System.Text;

namespace BatchNormExperiments;

/// <summary>The measurement a claim rests on, per seed, for the per-seed table.</summary>
/// <param name="Measure">What was measured, e.g. "test accuracy, epoch 1".</param>
/// <param name="Library">This library's value for each of the run's seeds.</param>
/// <param name="Torch">PyTorch's value for each of its seeds, or null without PyTorch runs.</param>
/// <param name="IsLoss">Whether the values are losses (else accuracies).</param>
internal sealed record PerSeed(string Measure, IReadOnlyList<double> Library, IReadOnlyList<double>? Torch, bool IsLoss)
{
    public string Format(IReadOnlyList<double>? values)
        => values is null ? "–" : string.Join(" / ", values.Select(v => IsLoss ? BatchNormExperiments.Format.Loss(v) : $"{100 * v:F1}"));
}

/// <summary>One configuration's line of the results table, every number a mean ± standard deviation over seeds.</summary>
/// <param name="Experiment">normalizers, renorm or landscape.</param>
/// <param name="Configuration">The hidden-layer normalization.</param>
/// <param name="Setting">Batches, epochs and anything else that differs from the base setup.</param>
/// <param name="Steps">SGD steps taken, with PyTorch's where they differ.</param>
/// <param name="FirstEpochAccuracy">Test accuracy after the first epoch.</param>
/// <param name="FinalAccuracy">Test accuracy after the last epoch.</param>
/// <param name="TorchFirstEpochAccuracy">PyTorch's, or null.</param>
/// <param name="TorchFinalAccuracy">PyTorch's, or null.</param>
/// <param name="LossRange">The landscape experiment's mean loss range along −g, or null.</param>
/// <param name="TorchLossRange">PyTorch's, or null.</param>
/// <param name="Direction">The claim's verdicts on both sides, or "baseline".</param>
/// <param name="Seeds">The claim's measurement per seed.</param>
internal sealed record ResultRow(
    string Experiment, string Configuration, string Setting, string Steps, Stat FirstEpochAccuracy, Stat FinalAccuracy,
    Stat? TorchFirstEpochAccuracy, Stat? TorchFinalAccuracy, Stat? LossRange, Stat? TorchLossRange, string Direction, PerSeed Seeds)
{
    /// <summary>"4690", or "min–max" when seeds differ, and PyTorch's steps when they differ from these.</summary>
    public static string StepsText(IEnumerable<int> library, IEnumerable<int>? torch)
    {
        static string Range(IEnumerable<int> steps) => steps.Min() == steps.Max() ? $"{steps.Min()}" : $"{steps.Min()}–{steps.Max()}";
        string text = Range(library);
        return torch is null || Range(torch) == text ? text : $"{text} (PyTorch {Range(torch)})";
    }
}

/// <summary>
/// One side's check of a claim over seeds: the two measurements (means ± std), in how many seeds the claim held (the
/// configurations of a seed share initial weights and batches, so each seed is a paired comparison) and the verdict,
/// judged on the means.
/// </summary>
/// <param name="Observed">The two measurements, e.g. "84.5 ± 0.2 % vs 81.5 ± 0.3 %".</param>
/// <param name="Holds">Seeds in which the claim held.</param>
/// <param name="Seeds">Seeds compared.</param>
/// <param name="Matches">Whether the means point the claimed way.</param>
/// <param name="WithinNoise">Whether the means differ by less than the test set can resolve (two standard errors).</param>
internal sealed record Comparison(string Observed, int Holds, int Seeds, bool Matches, bool WithinNoise = false)
{
    /// <summary>"yes (3/3 seeds)", "NO (1/3 seeds, within test noise)".</summary>
    public string Verdict => $"{(Matches ? "yes" : "NO")} ({Holds}/{Seeds} seed{(Seeds == 1 ? "" : "s")}{(WithinNoise ? ", within test noise" : "")})";

    /// <summary>
    /// The claim that accuracy <paramref name="expectedHigher"/> exceeds <paramref name="expectedLower"/> (paired by seed), both
    /// measured on the same <paramref name="testRows"/> test images; within noise when the means' gap is under two standard
    /// errors of a difference of two accuracies, 2 √(p₁(1 − p₁)/n + p₂(1 − p₂)/n): more seeds do not shrink the test set's
    /// sampling error.
    /// </summary>
    public static Comparison Higher(IReadOnlyList<double> expectedHigher, IReadOnlyList<double> expectedLower, int testRows)
    {
        var (high, low) = (Stat.Of(expectedHigher), Stat.Of(expectedLower));
        double standardError = Math.Sqrt((high.Mean * (1 - high.Mean) + low.Mean * (1 - low.Mean)) / testRows);
        return new Comparison($"{high.Percent()} vs {low.Percent()}", expectedHigher.Zip(expectedLower).Count(p => p.First > p.Second),
            expectedHigher.Count, high.Mean > low.Mean, Math.Abs(high.Mean - low.Mean) < 2 * standardError);
    }

    /// <summary>
    /// The claim that accuracy <paramref name="accuracy"/> is within <paramref name="tolerance"/> (a fraction, e.g. 0.01 for
    /// 1 point) of <paramref name="reference"/>: held in a seed when that seed's gap is, matched when the means' gap is.
    /// </summary>
    public static Comparison Close(IReadOnlyList<double> accuracy, IReadOnlyList<double> reference, double tolerance)
    {
        var (value, target) = (Stat.Of(accuracy), Stat.Of(reference));
        return new Comparison($"{value.Percent()} vs {target.Percent()}", accuracy.Zip(reference).Count(p => Math.Abs(p.First - p.Second) <= tolerance),
            accuracy.Count, Math.Abs(value.Mean - target.Mean) <= tolerance);
    }

    /// <summary>
    /// The claim that accuracy falls more from <paramref name="fromA"/> to <paramref name="toA"/> than from
    /// <paramref name="fromB"/> to <paramref name="toB"/> (paired by seed), all four on the same <paramref name="testRows"/>
    /// test images; within noise when the drops' gap is under two standard errors of a difference of two differences.
    /// </summary>
    public static Comparison LargerDrop(IReadOnlyList<double> fromA, IReadOnlyList<double> toA, IReadOnlyList<double> fromB, IReadOnlyList<double> toB, int testRows)
    {
        double[] dropA = fromA.Zip(toA, (f, t) => f - t).ToArray(), dropB = fromB.Zip(toB, (f, t) => f - t).ToArray();
        var (a, b) = (Stat.Of(dropA), Stat.Of(dropB));
        double variance = new[] { fromA, toA, fromB, toB }.Sum(v => Stat.Of(v).Mean * (1 - Stat.Of(v).Mean)) / testRows;
        return new Comparison($"{a.Points()} vs {b.Points()}", dropA.Zip(dropB).Count(p => p.First > p.Second), dropA.Length, a.Mean > b.Mean,
            Math.Abs(a.Mean - b.Mean) < 2 * Math.Sqrt(variance));
    }

    /// <summary>The claim that loss measure <paramref name="expectedLower"/> is below <paramref name="expectedHigher"/>, paired by seed.</summary>
    public static Comparison Lower(IReadOnlyList<double> expectedLower, IReadOnlyList<double> expectedHigher)
    {
        var (low, high) = (Stat.Of(expectedLower), Stat.Of(expectedHigher));
        return new Comparison($"{low.Loss()} vs {high.Loss()}", expectedLower.Zip(expectedHigher).Count(p => p.First < p.Second),
            expectedLower.Count, low.Mean < high.Mean);
    }
}

/// <summary>A claim of the survey checked by this library and, when given, by PyTorch running the same protocol.</summary>
/// <param name="Statement">What is claimed, e.g. "BatchNorm > None, test accuracy after epoch 1".</param>
/// <param name="Source">Where the claim comes from.</param>
/// <param name="Library">This library's check.</param>
/// <param name="Torch">PyTorch's check, or null.</param>
internal sealed record Claim(string Statement, string Source, Comparison Library, Comparison? Torch)
{
    /// <summary>The results table's cell of the configuration the claim is about.</summary>
    public string Cell => $"library {Library.Verdict}; PyTorch {Torch?.Verdict ?? "–"}";
}

/// <summary>What one experiment found: table rows, claims, the figures it wrote (file names), notes on its setup and further Markdown.</summary>
internal sealed record ExperimentResult(
    string Title, IReadOnlyList<ResultRow> Rows, IReadOnlyList<Claim> Claims, IReadOnlyList<Figure> Figures, IReadOnlyList<string> Notes, string Details = "");

/// <summary>A PNG the sample wrote, by file name in the output folder, with what it shows.</summary>
internal sealed record Figure(string FileName, string Caption);

/// <summary>results.md: the setup, one table row per configuration, the claims, the per-seed values, the notes and the figures.</summary>
internal static class ResultsReport
{
    public const string FileName = "results.md";

    /// <summary>The main table, as printed to the console and written into results.md.</summary>
    public static string Table(IEnumerable<ExperimentResult> results)
    {
        static string Cell(Stat? stat, bool loss = false) => stat is { } s ? (loss ? s.Loss() : s.Percent()) : "–";
        var text = new StringBuilder();
        text.AppendLine("| Experiment | Configuration | Setting | Steps | Test accuracy, epoch 1 | PyTorch 1.13, epoch 1 | Test accuracy, final | PyTorch 1.13, final | " +
            "Loss range along −g (mean) | PyTorch 1.13, loss range | Direction matches |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var row in results.SelectMany(r => r.Rows))
            text.AppendLine($"| {row.Experiment} | {row.Configuration} | {row.Setting} | {row.Steps} | {row.FirstEpochAccuracy.Percent()} | " +
                $"{Cell(row.TorchFirstEpochAccuracy)} | {row.FinalAccuracy.Percent()} | {Cell(row.TorchFinalAccuracy)} | " +
                $"{Cell(row.LossRange, loss: true)} | {Cell(row.TorchLossRange, loss: true)} | {row.Direction} |");
        return text.ToString();
    }

    /// <summary>The claims, one line each.</summary>
    public static string ClaimsTable(IEnumerable<ExperimentResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| Claim | Source | PyTorch 1.13 | Direction, PyTorch | This library | Direction, library |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var claim in results.SelectMany(r => r.Claims))
            text.AppendLine($"| {claim.Statement} | {claim.Source} | {claim.Torch?.Observed ?? "–"} | {claim.Torch?.Verdict ?? "–"} | " +
                $"{claim.Library.Observed} | {claim.Library.Verdict} |");
        return text.ToString();
    }

    /// <summary>Each row's claim measurement, seed by seed.</summary>
    public static string PerSeedTable(ExperimentSettings settings, TorchReference? torch, IEnumerable<ExperimentResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine($"| Experiment | Configuration | Setting | Measure | This library, seeds {string.Join(" / ", settings.Seeds)} | " +
            $"PyTorch 1.13, seeds {(torch is null ? "–" : string.Join(" / ", torch.Seeds))} |");
        text.AppendLine("|---|---|---|---|---:|---:|");
        foreach (var row in results.SelectMany(r => r.Rows))
            text.AppendLine($"| {row.Experiment} | {row.Configuration} | {row.Setting} | {row.Seeds.Measure} | {row.Seeds.Format(row.Seeds.Library)} | {row.Seeds.Format(row.Seeds.Torch)} |");
        return text.ToString();
    }

    public static string Markdown(ExperimentSettings settings, ExperimentData data, TorchReference? torch, IReadOnlyList<ExperimentResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# Batch normalization experiments");
        text.AppendLine();
        var mlp = settings.Experiments.Where(e => !ExperimentSettings.ConvolutionalExperiments.Contains(e)).ToList();
        var cnn = settings.Experiments.Where(ExperimentSettings.ConvolutionalExperiments.Contains).ToList();
        text.AppendLine($"Data: {settings.DataName}, {data.Train.Rows} training and {data.Test.Rows} test images (pixels / 255" +
            $"{(cnn.Count > 0 ? "; 1 × 28 × 28 planar images for the convolutional networks" : "")}). " +
            (mlp.Count == 0 ? "" : $"Network{(cnn.Count > 0 ? $" of {string.Join(", ", mlp)}" : "")}: MLP 784-{string.Join("-", Trainer.HiddenLayers)}-10 " +
                $"(Linear → normalization → ReLU), SGD lr {Trainer.LearningRate}, batch {Trainer.BatchSize} unless the setting says otherwise. ") +
            (cnn.Count == 0 ? "" : $"Networks of {string.Join(", ", cnn)}: convolutional, each convolution 3×3 pad 1 with a bias → normalization → ReLU " +
                "(normalization after convolutions only, not after dense layers), initialized as PyTorch's Conv2d and Linear, " +
                $"GroupNorm with {ConvolutionalNetworks.GroupNormGroups} groups; \"late-small\" {ConvolutionalNetworks.Describe(ConvolutionalNetworks.LateSmall)} " +
                $"(cnn-batch, cnn-renorm), \"vgg\" {ConvolutionalNetworks.Describe(ConvolutionalNetworks.Vgg)} (cnn-landscape); the learning rate of each setting " +
                "is in its section (cnn-batch: 0.02 · batch / 32). ") +
            $"All: softmax cross-entropy, SGD momentum {Trainer.Momentum}, no weight decay. Every configuration was trained with {Format.Seeds(settings.Seeds)}; " +
            (settings.Seeds.Count > 1 ? "every number is the mean ± sample standard deviation over the seeds." : "one seed, so no spread is given."));
        text.AppendLine();
        text.AppendLine(torch is null
            ? "No PyTorch columns: run samples/BatchNormExperiments/torch_protocol.py with the same data options and pass its JSON with --torch."
            : $"PyTorch 1.13 columns: the same protocol run by samples/BatchNormExperiments/torch_protocol.py (torch {torch.Version}, {torch.Threads} thread{(torch.Threads == 1 ? "" : "s")}, " +
              $"{Format.Seeds(torch.Seeds)}), read from {Path.GetFileName(torch.Path)}: the same data, network, initialization distribution (U(±1/√fan_in)), " +
              "optimizer, epochs, batch sizes, learning rates, batch policy, layer formulas and evaluation; only the random draws differ " +
              "(torch's generator for weights and noise, numpy's for the batches).");
        double noise = 2 * Math.Sqrt(2 * 0.8 * 0.2 / data.Test.Rows);
        text.AppendLine();
        text.AppendLine("A claim's direction is judged on the means; \"k/n seeds\" counts the seeds in which it held (within a seed every configuration " +
            "starts from the same weights and sees the same batches, so each seed is a paired comparison). " +
            $"\"Within test noise\" marks a difference of mean accuracies under two standard errors of a difference on these {data.Test.Rows} test images " +
            $"(about {100 * noise:F1} points at 80 % accuracy): the direction is then not resolved by this test set, whatever the seeds say.");
        text.AppendLine();
        text.AppendLine("## Results");
        text.AppendLine();
        text.Append(Table(results));
        text.AppendLine();
        text.AppendLine("## Claims");
        text.AppendLine();
        text.Append(ClaimsTable(results));
        text.AppendLine();
        text.AppendLine("## Per seed");
        text.AppendLine();
        text.Append(PerSeedTable(settings, torch, results));
        foreach (var result in results)
        {
            text.AppendLine();
            text.AppendLine($"## {result.Title}");
            text.AppendLine();
            foreach (var note in result.Notes)
                text.AppendLine($"- {note}");
            if (result.Details.Length > 0)
            {
                text.AppendLine();
                text.Append(result.Details);
            }
            foreach (var figure in result.Figures)
            {
                text.AppendLine();
                text.AppendLine($"![{figure.Caption}]({figure.FileName})");
            }
        }
        return text.ToString();
    }
}
