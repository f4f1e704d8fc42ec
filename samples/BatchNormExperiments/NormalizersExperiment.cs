using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// Experiment "normalizers": the same MLP with no normalization, batch norm, noisy batch norm (Santurkar et al.'s
/// distributional noise after every BN) and ℓ1/ℓ2/ℓ∞ batch norm, batch 64: test accuracy per epoch, loss per step.
/// </summary>
internal static class NormalizersExperiment
{
    public const string AccuracyFigure = "normalizers-accuracy.png";
    public const string LossFigure = "normalizers-loss.png";

    /// <summary>PyTorch 1.13, full data, test accuracy after epoch 1.</summary>
    private const double ReferenceNone = 0.820, ReferenceBatchNorm = 0.846;

    private static readonly HiddenNormalization[] Normalizations =
    [
        HiddenNormalization.None, HiddenNormalization.BatchNorm, HiddenNormalization.NoisyBatchNorm,
        HiddenNormalization.L1BatchNorm, HiddenNormalization.L2BatchNorm, HiddenNormalization.LInfBatchNorm,
    ];

    public static ExperimentResult Run(Trainer trainer)
    {
        int epochs = trainer.Settings.Epochs;
        Console.WriteLine($"Experiment normalizers: {Normalizations.Length} normalizations, batch {Trainer.BatchSize}, {epochs} epoch(s) each");
        var runs = Normalizations.Select(n => trainer.Train(ExperimentSettings.Normalizers, n.ToString(), trainer.Options(n, epochs))).ToList();
        var none = runs[0];
        int testRows = trainer.Data.Test.Rows;

        var claims = new Dictionary<string, Claim>
        {
            [nameof(HiddenNormalization.BatchNorm)] = Beats(runs[1], none,
                $"PyTorch: {Format.Percent(ReferenceBatchNorm)} vs {Format.Percent(ReferenceNone)}", testRows),
            [nameof(HiddenNormalization.NoisyBatchNorm)] = Beats(runs[2], none,
                "Santurkar et al. 2018: BN with noise that shifts the activations' distribution every step still trains well", testRows),
        };
        foreach (var run in runs.Skip(3))
            claims[run.Configuration] = Beats(run, none, "Santurkar et al. 2018: ℓp normalizations help as batch norm does", testRows);

        string setting = $"batch {Trainer.BatchSize}, {epochs} epoch{(epochs == 1 ? "" : "s")}";
        var rows = runs.Select(run => new ResultRow(
            ExperimentSettings.Normalizers, run.Configuration, setting, run.Steps, run.FirstEpochAccuracy, run.FinalAccuracy,
            Reference: run == none ? $"{Format.Percent(ReferenceNone)} (epoch 1)"
                : run.Configuration == nameof(HiddenNormalization.BatchNorm) ? $"{Format.Percent(ReferenceBatchNorm)} (epoch 1)" : "–",
            LossRange: "–",
            Direction: claims.TryGetValue(run.Configuration, out var claim) ? claim.Cell : "baseline")).ToList();

        var output = trainer.Settings.OutputFolder;
        Figures.Lines(Path.Combine(output, AccuracyFigure), "Test accuracy after each epoch", "epoch", "test accuracy (%)",
            runs.Select(r => new Series(r.Configuration, Enumerable.Range(1, r.TestAccuracy.Count).Select(e => (double)e).ToArray(),
                r.TestAccuracy.Select(a => 100 * a).ToArray(), IsLp(r))).ToList(), markers: true, integerX: true);
        int window = SmoothingWindow(none.Steps);
        Figures.Lines(Path.Combine(output, LossFigure), window == 1 ? "Training loss per step" : $"Training loss per step (moving average of {window} steps)",
            "step", "training loss",
            runs.Select(r => new Series(r.Configuration, Enumerable.Range(1, r.Steps).Select(s => (double)s).ToArray(),
                MovingAverage(r.StepLosses, window), IsLp(r))).ToList(), markers: false);

        return new ExperimentResult("normalizers", rows, runs.Skip(1).Select(r => claims[r.Configuration]).ToList(),
            [new Figure(AccuracyFigure, "Test accuracy per epoch"), new Figure(LossFigure, "Training loss per step, smoothed")],
            [
                "Every configuration starts from the same seed: the same initial weights and the same batches.",
                "NoisyBatchNorm adds, after each BN and in training only, per-step random shifts and scales of the activations (non-zero mean, non-unit variance).",
                "L1/L2/LInfBatchNorm (dashed in the figures) divide the centred activations by the batch's mean |x − μ|, root mean square or max |x − μ| " +
                "instead of √(variance + ε); L2BatchNorm differs from BatchNorm only in where ε enters, so their curves overlap.",
            ]);
    }

    private static bool IsLp(TrainedRun run) => run.Configuration is nameof(HiddenNormalization.L1BatchNorm) or nameof(HiddenNormalization.L2BatchNorm)
        or nameof(HiddenNormalization.LInfBatchNorm);

    private static Claim Beats(TrainedRun run, TrainedRun none, string reference, int testRows)
        => Claim.Higher($"{run.Configuration} > None, test accuracy after epoch 1", reference, run.FirstEpochAccuracy, none.FirstEpochAccuracy, testRows);

    /// <summary>About 25 points of smoothing per run, at least 1 and at most 100 steps.</summary>
    internal static int SmoothingWindow(int steps) => Math.Clamp(steps / 25, 1, 100);

    /// <summary>The mean of the last <paramref name="window"/> values at each step (fewer at the start).</summary>
    internal static double[] MovingAverage(IReadOnlyList<float> values, int window)
    {
        var result = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window)
                sum -= values[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
