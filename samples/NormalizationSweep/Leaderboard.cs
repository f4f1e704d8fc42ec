using System.Globalization;
using System.Text;
using MLNet.Normalization.Training;

namespace NormalizationSweep;

/// <summary>The leaderboard: a table per task, best pipeline first, as Markdown (console and leaderboard.md) and CSV.</summary>
internal static class Leaderboard
{
    public const string MarkdownFileName = "leaderboard.md";
    public const string CsvFileName = "leaderboard.csv";

    /// <summary>
    /// The task's pipelines, best first: highest mean micro-accuracy; on a tie the steadier (smaller std over
    /// folds), then the faster.
    /// </summary>
    public static IReadOnlyList<PipelineResult> Ranked(IEnumerable<PipelineResult> results)
        => results.OrderByDescending(r => r.MeanMicroAccuracy).ThenBy(r => r.MicroAccuracyStd).ThenBy(r => r.MeanFitTime).ToList();

    /// <summary>The Markdown table of one task's ranked pipelines.</summary>
    public static string Table(IReadOnlyList<PipelineResult> ranked)
    {
        var text = new StringBuilder();
        text.AppendLine("| Rank | Normalizer | Trainer | Micro-accuracy | Std over folds | Macro-accuracy | Train time per fold |");
        text.AppendLine("|---:|---|---|---:|---:|---:|---:|");
        for (int i = 0; i < ranked.Count; i++)
        {
            var r = ranked[i];
            text.AppendLine($"| {i + 1} | {PipelineGrid.Name(r.Normalizer)} | {PipelineGrid.Name(r.Trainer)} | {Format.Percent(r.MeanMicroAccuracy)} | " +
                $"{Format.Percent(r.MicroAccuracyStd)} | {Format.Percent(r.MeanMacroAccuracy)} | {Format.Seconds(r.MeanFitTime)} |");
        }
        return text.ToString();
    }

    public static string Markdown(SweepSettings settings, IReadOnlyList<SweepTask> tasks, IReadOnlyList<PipelineResult> results,
        IReadOnlyList<BestPipelineResult> best)
    {
        var mlpDefaults = new MultilayerPerceptronOptions();
        var text = new StringBuilder();
        text.AppendLine("# Normalization sweep");
        text.AppendLine();
        text.AppendLine($"Every pipeline is `MapValueToKey` → normalizer → `AppendCacheCheckpoint` → trainer → `MapKeyToValue`, " +
            $"cross-validated with {settings.Folds} folds (seed {settings.Seed}); all pipelines of a task see the same folds. " +
            "Micro-accuracy is the fraction of validation rows classified right, macro-accuracy the mean of the per-class accuracies, " +
            "both averaged over the folds; the std is the sample standard deviation of the folds' micro-accuracies; the train time " +
            "is the mean time to fit the whole pipeline on one fold's training rows.");
        text.AppendLine();
        text.AppendLine("Normalizers: None (the features as loaded); NormalizeMeanVariance (ML.NET, `fixZero: false`: each feature " +
            "standardized with its fitted mean and std); NormalizeChannels (this library, fitted statistics: one mean and std " +
            "per image channel); LayerNorm (this library: each row standardized over its own values). " +
            $"Trainers: SdcaMaximumEntropy (at most {PipelineGrid.SdcaMaximumIterations} passes over the data) and LightGbm " +
            $"({PipelineGrid.LightGbmIterations} boosting rounds, {PipelineGrid.LightGbmBinsPerFeature} bins per feature), otherwise ML.NET's defaults; " +
            "this library's MultilayerPerceptron " +
            $"(its defaults: hidden {string.Join("-", mlpDefaults.HiddenLayers)}, SGD lr {mlpDefaults.LearningRate}, momentum {mlpDefaults.Momentum}; " +
            $"{settings.Epochs} epoch{(settings.Epochs == 1 ? "" : "s")}) " +
            "with plain hidden layers (MLP) or BatchNorm after each hidden Linear layer (MLP + BatchNorm).");
        foreach (var task in tasks)
        {
            text.AppendLine();
            text.AppendLine($"## {task.Name}");
            text.AppendLine();
            text.AppendLine($"{task.Description}; {task.ClassNames.Count} classes; {task.TrainRows} rows cross-validated, " +
                $"{task.TestRows} held out; MLP batch {task.MlpBatchSize}.");
            text.AppendLine();
            text.Append(Table(Ranked(results.Where(r => r.Task == task.Name))));
            if (best.SingleOrDefault(b => b.CrossValidated.Task == task.Name) is { } winner)
            {
                text.AppendLine();
                text.AppendLine($"Best: **{winner.CrossValidated.Name}**, refitted on all {task.TrainRows} rows in {Format.Seconds(winner.FitTime)}: " +
                    $"held-out micro-accuracy {Format.Percent(winner.TestMicroAccuracy)}, macro-accuracy {Format.Percent(winner.TestMacroAccuracy)}. " +
                    $"Saved as `{Path.GetFileName(winner.ModelPath)}`; reloaded, it predicts all {winner.RowsCompared} held-out rows " +
                    (winner.ReloadedMatches ? "exactly as the fitted model does." : "DIFFERENTLY from the fitted model."));
            }
        }
        return text.ToString();
    }

    /// <summary>One line per pipeline, fractions and seconds as plain invariant numbers, ranked within each task.</summary>
    public static string Csv(IReadOnlyList<SweepTask> tasks, IReadOnlyList<PipelineResult> results)
    {
        var text = new StringBuilder();
        text.AppendLine("task,rank,normalizer,trainer,folds,micro_accuracy_mean,micro_accuracy_std,macro_accuracy_mean,fit_seconds_mean,micro_accuracy_per_fold");
        foreach (var task in tasks)
        {
            var ranked = Ranked(results.Where(r => r.Task == task.Name));
            for (int i = 0; i < ranked.Count; i++)
            {
                var r = ranked[i];
                text.AppendLine(string.Join(",", task.Name, (i + 1).ToString(CultureInfo.InvariantCulture), PipelineGrid.Name(r.Normalizer),
                    PipelineGrid.Name(r.Trainer), r.Folds.Count.ToString(CultureInfo.InvariantCulture), Number(r.MeanMicroAccuracy),
                    Number(r.MicroAccuracyStd), Number(r.MeanMacroAccuracy), Number(r.MeanFitTime.TotalSeconds),
                    string.Join(";", r.Folds.Select(f => Number(f.MicroAccuracy)))));
            }
        }
        return text.ToString();
    }

    private static string Number(double value) => value.ToString("0.######", CultureInfo.InvariantCulture);
}
