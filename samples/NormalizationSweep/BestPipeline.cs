using System.Diagnostics;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace NormalizationSweep;

/// <summary>The best pipeline of a task refitted on all its cross-validation rows, tested on the held-out rows, saved and reloaded.</summary>
/// <param name="CrossValidated">Its cross-validation result.</param>
/// <param name="FitTime">How long the refit took.</param>
/// <param name="TestMicroAccuracy">Micro-accuracy on the held-out rows.</param>
/// <param name="TestMacroAccuracy">Macro-accuracy on the held-out rows.</param>
/// <param name="ModelPath">Where the fitted pipeline was saved.</param>
/// <param name="RowsCompared">How many held-out rows the fitted and the reloaded model predicted.</param>
/// <param name="ReloadedMatches">Whether the reloaded model's predicted classes and scores equal the fitted model's on those rows.</param>
internal sealed record BestPipelineResult(
    PipelineResult CrossValidated, TimeSpan FitTime, double TestMicroAccuracy, double TestMacroAccuracy, string ModelPath,
    int RowsCompared, bool ReloadedMatches);

internal static class BestPipeline
{
    private const int RowsShown = 5;

    public static BestPipelineResult RefitTestAndSave(SweepTask task, PipelineResult best, SweepSettings settings)
    {
        Console.WriteLine($"Best {task.Name} pipeline: {best.Name} (cross-validated micro-accuracy {Format.Percent(best.MeanMicroAccuracy)} " +
            $"± {Format.Percent(best.MicroAccuracyStd)})");
        var ml = new MLContext(settings.Seed);
        var watch = Stopwatch.StartNew();
        var model = PipelineGrid.Build(ml, best.Normalizer, best.Trainer, new MlpSettings(settings.Epochs, task.MlpBatchSize, settings.Seed))
            .Fit(task.Train);
        var fitTime = watch.Elapsed;
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(task.Test),
            PipelineGrid.LabelColumn, PipelineGrid.ScoreColumn, PipelineGrid.PredictedLabelColumn);
        Console.WriteLine($"  refitted on all {task.TrainRows} cross-validation rows in {Format.Seconds(fitTime)}; " +
            $"held-out test ({task.TestRows} rows): micro-accuracy {Format.Percent(metrics.MicroAccuracy)}, macro-accuracy {Format.Percent(metrics.MacroAccuracy)}");

        var path = Path.Combine(settings.OutputFolder, $"{task.Name}-best.zip");
        ml.Model.Save(model, task.Train.Schema, path);
        bool matches = CompareWithReloaded(model, path, task);
        return new BestPipelineResult(best, fitTime, metrics.MicroAccuracy, metrics.MacroAccuracy, path, task.TestRows, matches);
    }

    /// <summary>
    /// Loads the saved model in a new MLContext and checks it predicts every held-out row as the fitted model does;
    /// prints a few rows spread over the held-out set, so several classes show.
    /// </summary>
    private static bool CompareWithReloaded(ITransformer model, string path, SweepTask task)
    {
        var freshContext = new MLContext(seed: 0);
        var reloaded = freshContext.Model.Load(path, out _);
        var fitted = Predictions(model.Transform(task.Test));
        var loaded = Predictions(reloaded.Transform(task.Test));
        var mismatches = Enumerable.Range(0, fitted.Count)
            .Where(i => fitted[i].Predicted != loaded[i].Predicted || !fitted[i].Scores.AsSpan().SequenceEqual(loaded[i].Scores))
            .ToHashSet();

        Console.WriteLine($"  saved to {path}; reloaded it in a new MLContext and predicted the {fitted.Count} held-out rows, e.g.:");
        foreach (int i in Enumerable.Range(0, RowsShown).Select(k => k * fitted.Count / RowsShown).Distinct())
            Console.WriteLine($"    row {i + 1,4}: class {task.ClassNames[(int)fitted[i].Actual],-12} fitted model {task.ClassNames[(int)fitted[i].Predicted],-12} " +
                $"reloaded model {task.ClassNames[(int)loaded[i].Predicted],-12} {(mismatches.Contains(i) ? "MISMATCH" : "scores equal")}");
        Console.WriteLine(mismatches.Count == 0
            ? $"  the reloaded model's predicted classes and scores equal the fitted model's on all {fitted.Count} rows"
            : $"  MISMATCH: the reloaded model predicts {mismatches.Count} of the {fitted.Count} rows differently from the fitted model");
        return mismatches.Count == 0;
    }

    private static List<(uint Actual, uint Predicted, float[] Scores)> Predictions(IDataView predictions)
    {
        var actual = predictions.GetColumn<uint>(PipelineGrid.ClassColumn);
        var predicted = predictions.GetColumn<uint>(PipelineGrid.PredictedClassColumn);
        var scores = predictions.GetColumn<float[]>(PipelineGrid.ScoreColumn);
        return actual.Zip(predicted, scores).ToList();
    }
}
