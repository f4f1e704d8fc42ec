using System.Text;

namespace BatchNormExperiments;

/// <summary>One configuration's line of the results table.</summary>
/// <param name="Experiment">normalizers, renorm or landscape.</param>
/// <param name="Configuration">The hidden-layer normalization.</param>
/// <param name="Setting">Batches, epochs and anything else that differs from the base setup.</param>
/// <param name="Steps">SGD steps taken.</param>
/// <param name="FirstEpochAccuracy">Test accuracy after the first epoch.</param>
/// <param name="FinalAccuracy">Test accuracy after the last epoch.</param>
/// <param name="Reference">The PyTorch 1.13 result on the full data, or "–".</param>
/// <param name="LossRange">The landscape experiment's mean loss range along −g, or "–".</param>
/// <param name="Direction">Whether this result lies on the same side of its baseline as the reference, or "baseline".</param>
internal sealed record ResultRow(
    string Experiment, string Configuration, string Setting, int Steps, double FirstEpochAccuracy, double FinalAccuracy,
    string Reference, string LossRange, string Direction);

/// <summary>A claim of the survey checked on this run.</summary>
/// <param name="Statement">What is claimed, e.g. "BatchNorm > None, test accuracy after epoch 1".</param>
/// <param name="Reference">The reference's numbers, or where the claim comes from.</param>
/// <param name="Observed">This run's numbers.</param>
/// <param name="Matches">Whether this run points the same way.</param>
/// <param name="WithinNoise">Whether the difference is smaller than the test set can resolve (two standard errors).</param>
internal sealed record Claim(string Statement, string Reference, string Observed, bool Matches, bool WithinNoise = false)
{
    /// <summary>"yes" or "NO", with a remark when the difference is within the test set's noise.</summary>
    public string Verdict => (Matches ? "yes" : "NO") + (WithinNoise ? " (within test noise)" : "");

    /// <summary>The table cell of the configuration the claim is about: the verdict, then the claim.</summary>
    public string Cell => $"{Verdict}: {Statement}";

    /// <summary>
    /// The claim that accuracy <paramref name="expectedHigher"/> exceeds <paramref name="expectedLower"/>, both measured on
    /// the same <paramref name="testRows"/> test images; within noise when the gap is under two standard errors of a
    /// difference of two accuracies, 2 √(p₁(1 − p₁)/n + p₂(1 − p₂)/n).
    /// </summary>
    public static Claim Higher(string statement, string reference, double expectedHigher, double expectedLower, int testRows)
    {
        double standardError = Math.Sqrt((expectedHigher * (1 - expectedHigher) + expectedLower * (1 - expectedLower)) / testRows);
        return new Claim(statement, reference, $"{Format.Percent(expectedHigher)} vs {Format.Percent(expectedLower)}",
            expectedHigher > expectedLower, Math.Abs(expectedHigher - expectedLower) < 2 * standardError);
    }
}

/// <summary>What one experiment found: table rows, claims, the figures it wrote (file names), notes on its setup and further Markdown.</summary>
internal sealed record ExperimentResult(
    string Title, IReadOnlyList<ResultRow> Rows, IReadOnlyList<Claim> Claims, IReadOnlyList<Figure> Figures, IReadOnlyList<string> Notes, string Details = "");

/// <summary>A PNG the sample wrote, by file name in the output folder, with what it shows.</summary>
internal sealed record Figure(string FileName, string Caption);

/// <summary>results.md: the setup, one table row per configuration, the claims, the notes and the figures.</summary>
internal static class ResultsReport
{
    public const string FileName = "results.md";

    /// <summary>The main table, as printed to the console and written into results.md.</summary>
    public static string Table(IEnumerable<ExperimentResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| Experiment | Configuration | Setting | Steps | Test accuracy, epoch 1 | Test accuracy, final | PyTorch 1.13, full data | Loss range along −g (mean) | Direction matches |");
        text.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var row in results.SelectMany(r => r.Rows))
            text.AppendLine($"| {row.Experiment} | {row.Configuration} | {row.Setting} | {row.Steps} | {Format.Percent(row.FirstEpochAccuracy)} | " +
                $"{Format.Percent(row.FinalAccuracy)} | {row.Reference} | {row.LossRange} | {row.Direction} |");
        return text.ToString();
    }

    /// <summary>The claims, one line each.</summary>
    public static string ClaimsTable(IEnumerable<ExperimentResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("| Claim | Reference | This run | Direction matches |");
        text.AppendLine("|---|---|---|---|");
        foreach (var claim in results.SelectMany(r => r.Claims))
            text.AppendLine($"| {claim.Statement} | {claim.Reference} | {claim.Observed} | {claim.Verdict} |");
        return text.ToString();
    }

    public static string Markdown(ExperimentSettings settings, ExperimentData data, IReadOnlyList<ExperimentResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("# Batch normalization experiments");
        text.AppendLine();
        text.AppendLine($"Data: {settings.DataName}, {data.Train.Rows} training and {data.Test.Rows} test images (pixels / 255). " +
            $"Network: MLP 784-{string.Join("-", Trainer.HiddenLayers)}-10 (Linear → normalization → ReLU), softmax cross-entropy, " +
            $"SGD lr {Trainer.LearningRate}, momentum {Trainer.Momentum}, batch {Trainer.BatchSize} unless the setting says otherwise, seed {settings.Seed}. " +
            "Reference numbers, where given: the same setups in PyTorch 1.13 on the full data set (60000 / 10000 images).");
        double noise = 2 * Math.Sqrt(2 * 0.8 * 0.2 / data.Test.Rows);
        text.AppendLine();
        text.AppendLine($"\"Within test noise\" marks an accuracy difference under two standard errors of the difference on these {data.Test.Rows} test images " +
            $"(about {100 * noise:F1} points at 80 % accuracy): the direction is then not resolved by this test set.");
        text.AppendLine();
        text.AppendLine("## Results");
        text.AppendLine();
        text.Append(Table(results));
        text.AppendLine();
        text.AppendLine("## Claims");
        text.AppendLine();
        text.Append(ClaimsTable(results));
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
