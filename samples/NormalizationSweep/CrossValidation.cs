using System.Diagnostics;
using Microsoft.ML;
using static Microsoft.ML.DataOperationsCatalog;

namespace NormalizationSweep;

/// <summary>One fold: the validation rows' accuracies and how long fitting the whole pipeline took.</summary>
internal sealed record FoldResult(double MicroAccuracy, double MacroAccuracy, TimeSpan FitTime);

/// <summary>One pipeline of the grid, cross-validated on one task.</summary>
internal sealed record PipelineResult(string Task, NormalizerKind Normalizer, TrainerKind Trainer, IReadOnlyList<FoldResult> Folds)
{
    public string Name => $"{PipelineGrid.Name(Normalizer)} + {PipelineGrid.Name(Trainer)}";

    public double MeanMicroAccuracy => Folds.Average(f => f.MicroAccuracy);

    /// <summary>The sample standard deviation (n − 1) of the folds' micro-accuracies.</summary>
    public double MicroAccuracyStd
    {
        get
        {
            double mean = MeanMicroAccuracy;
            return Math.Sqrt(Folds.Sum(f => (f.MicroAccuracy - mean) * (f.MicroAccuracy - mean)) / (Folds.Count - 1));
        }
    }

    public double MeanMacroAccuracy => Folds.Average(f => f.MacroAccuracy);

    public TimeSpan MeanFitTime => TimeSpan.FromTicks((long)Folds.Average(f => f.FitTime.Ticks));
}

/// <summary>
/// K-fold cross-validation run fold by fold (rather than with <c>MulticlassClassification.CrossValidate</c>), so each
/// fold's fit can be timed and reported as it finishes.
/// </summary>
internal sealed class CrossValidation(SweepTask task, IReadOnlyList<TrainTestData> folds, SweepSettings settings, int pipelineCount)
{
    private int _pipelinesDone;

    /// <summary>Splits the task's rows into <see cref="SweepSettings.Folds"/> folds, the same for every pipeline.</summary>
    public static CrossValidation For(SweepTask task, SweepSettings settings, int pipelineCount)
        => new(task, new MLContext(settings.Seed).Data.CrossValidationSplit(task.Train, settings.Folds, seed: settings.Seed), settings, pipelineCount);

    /// <summary>Fits the pipeline on each fold's training rows and evaluates it on the fold's validation rows, one progress line per fold.</summary>
    public PipelineResult Run(NormalizerKind normalizer, TrainerKind trainer)
    {
        _pipelinesDone++;
        var results = new List<FoldResult>();
        var mlp = new MlpSettings(settings.Epochs, task.MlpBatchSize, settings.Seed);
        string label = $"[{task.Name} {_pipelinesDone}/{pipelineCount}] {PipelineGrid.Name(normalizer)} + {PipelineGrid.Name(trainer)}";
        for (int k = 0; k < folds.Count; k++)
        {
            // A fresh context per fit: a pipeline's result does not depend on which pipelines ran before it.
            var ml = new MLContext(settings.Seed);
            var watch = Stopwatch.StartNew();
            var model = PipelineGrid.Build(ml, normalizer, trainer, mlp).Fit(folds[k].TrainSet);
            var fitTime = watch.Elapsed;
            var metrics = ml.MulticlassClassification.Evaluate(model.Transform(folds[k].TestSet),
                PipelineGrid.LabelColumn, PipelineGrid.ScoreColumn, PipelineGrid.PredictedLabelColumn);
            results.Add(new FoldResult(metrics.MicroAccuracy, metrics.MacroAccuracy, fitTime));
            Console.WriteLine($"  {label,-60} fold {k + 1}/{folds.Count}  micro-accuracy {Format.Percent(metrics.MicroAccuracy),7}  fit {Format.Seconds(fitTime),7}");
        }
        var result = new PipelineResult(task.Name, normalizer, trainer, results);
        Console.WriteLine($"  {label,-60} mean {Format.Percent(result.MeanMicroAccuracy)} ± {Format.Percent(result.MicroAccuracyStd)}, " +
            $"{Format.Seconds(result.MeanFitTime)} per fold");
        return result;
    }
}

/// <summary>How numbers are written in the console and in leaderboard.md.</summary>
internal static class Format
{
    public static string Percent(double fraction) => double.IsNaN(fraction) ? "–" : $"{100 * fraction:F1} %";

    public static string Seconds(TimeSpan time) => $"{time.TotalSeconds:F2} s";
}
