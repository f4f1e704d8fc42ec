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

    private static readonly HiddenNormalization[] Normalizations =
    [
        HiddenNormalization.None, HiddenNormalization.BatchNorm, HiddenNormalization.NoisyBatchNorm,
        HiddenNormalization.L1BatchNorm, HiddenNormalization.L2BatchNorm, HiddenNormalization.LInfBatchNorm,
    ];

    /// <summary>Trains every normalization with the trainer's seed.</summary>
    public static IReadOnlyList<TrainedRun> Measure(Trainer trainer)
    {
        int epochs = trainer.Settings.Epochs;
        Console.WriteLine($"Experiment normalizers, seed {trainer.Seed}: {Normalizations.Length} normalizations, batch {Trainer.BatchSize}, {epochs} epoch(s) each");
        return Normalizations.Select(n => trainer.Train(ExperimentSettings.Normalizers, n.ToString(), trainer.Options(n, epochs))).ToList();
    }

    /// <summary>The table rows, claims and figures of every seed's runs (<paramref name="seeds"/>[seed][normalization]).</summary>
    public static ExperimentResult Report(ExperimentSettings settings, ExperimentData data, IReadOnlyList<IReadOnlyList<TrainedRun>> seeds, TorchReference? torch)
    {
        int epochs = settings.Epochs, testRows = data.Test.Rows;
        var names = Normalizations.Select(n => n.ToString()).ToList();
        IReadOnlyList<TrainedRun> Library(int i) => seeds.Select(s => s[i]).ToList();
        IReadOnlyList<TorchRun>? Torch(int i) => torch?.Runs(TorchReference.NormalizersGroup, names[i]);
        double[] LibraryFirst(int i) => Library(i).Select(r => r.FirstEpochAccuracy).ToArray();
        double[]? TorchFirst(int i) => Torch(i)?.Select(r => r.FirstEpochAccuracy).ToArray();

        var claims = new Dictionary<int, Claim>();
        for (int i = 1; i < names.Count; i++)
        {
            string source = Normalizations[i] switch
            {
                HiddenNormalization.BatchNorm => "Ioffe & Szegedy 2015: batch norm speeds up training",
                HiddenNormalization.NoisyBatchNorm => "Santurkar et al. 2018: BN with noise that shifts the activations' distribution every step still trains well",
                _ => "Santurkar et al. 2018: ℓp normalizations help as batch norm does",
            };
            var (torchHigh, torchLow) = (TorchFirst(i), TorchFirst(0));
            claims[i] = new Claim($"{names[i]} > None, test accuracy after epoch 1", source,
                Comparison.Higher(LibraryFirst(i), LibraryFirst(0), testRows),
                torchHigh is null || torchLow is null ? null : Comparison.Higher(torchHigh, torchLow, testRows));
        }

        string setting = $"batch {Trainer.BatchSize}, {epochs} epoch{(epochs == 1 ? "" : "s")}";
        var rows = names.Select((name, i) => new ResultRow(
            ExperimentSettings.Normalizers, name, setting, ResultRow.StepsText(Library(i).Select(r => r.Steps), Torch(i)?.Select(r => r.Steps)),
            Stat.Of(LibraryFirst(i)), Stat.Of(Library(i).Select(r => r.FinalAccuracy)),
            Torch(i) is { } t ? Stat.Of(t.Select(r => r.FirstEpochAccuracy)) : null, Torch(i) is { } u ? Stat.Of(u.Select(r => r.FinalAccuracy)) : null,
            LossRange: null, TorchLossRange: null,
            Direction: claims.TryGetValue(i, out var claim) ? claim.Cell : "baseline",
            new PerSeed("test accuracy, epoch 1", LibraryFirst(i), TorchFirst(i), IsLoss: false))).ToList();

        string meanOf = seeds.Count > 1 ? $", mean of {seeds.Count} seeds (band: ± std)" : "";
        var output = settings.OutputFolder;
        Figures.Lines(Path.Combine(output, AccuracyFigure), $"Test accuracy after each epoch{meanOf}", "epoch", "test accuracy (%)",
            names.Select((name, i) =>
            {
                var perEpoch = Enumerable.Range(0, epochs).Select(e => Stat.Of(Library(i).Select(r => r.TestAccuracy[e]))).ToArray();
                return new Series(name, Enumerable.Range(1, epochs).Select(e => (double)e).ToArray(), perEpoch.Select(s => 100 * s.Mean).ToArray(),
                    IsLp(Normalizations[i]), seeds.Count > 1 ? perEpoch.Select(s => 100 * s.Std).ToArray() : null);
            }).ToList(), markers: true, integerX: true);
        int steps = seeds.Min(s => s.Min(r => r.Steps));
        int window = SmoothingWindow(steps);
        Figures.Lines(Path.Combine(output, LossFigure),
            (window == 1 ? "Training loss per step" : $"Training loss per step (moving average of {window} steps)") + (seeds.Count > 1 ? $", mean of {seeds.Count} seeds" : ""),
            "step", "training loss",
            names.Select((name, i) =>
            {
                var smoothed = Library(i).Select(r => MovingAverage(r.StepLosses, window)).ToList();
                return new Series(name, Enumerable.Range(1, steps).Select(s => (double)s).ToArray(),
                    Enumerable.Range(0, steps).Select(s => smoothed.Average(m => m[s])).ToArray(), IsLp(Normalizations[i]));
            }).ToList(), markers: false);

        return new ExperimentResult("normalizers", rows, Enumerable.Range(1, names.Count - 1).Select(i => claims[i]).ToList(),
            [new Figure(AccuracyFigure, "Test accuracy per epoch"), new Figure(LossFigure, "Training loss per step, smoothed")],
            [
                "Within a seed every configuration starts from the same initial weights and sees the same batches; the seeds change both.",
                "NoisyBatchNorm adds, after each BN and in training only, per-step random shifts and scales of the activations (non-zero mean, non-unit variance).",
                "L1/L2/LInfBatchNorm (dashed in the figures) divide the centred activations by the batch's mean |x − μ|, root mean square or max |x − μ| " +
                "instead of √(variance + ε); L2BatchNorm differs from BatchNorm only in where ε enters, so their curves overlap.",
            ]);
    }

    private static bool IsLp(HiddenNormalization normalization)
        => normalization is HiddenNormalization.L1BatchNorm or HiddenNormalization.L2BatchNorm or HiddenNormalization.LInfBatchNorm;

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
