using System.Diagnostics;
using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// Experiment "landscape" (Santurkar et al. 2018, the loss landscape): at regular steps while training without
/// normalization and with batch norm, take the step's gradient g and measure the loss on the same batch at
/// w − η g for several step sizes η; the range of those losses is how much the loss varies along the gradient.
/// </summary>
internal static class LandscapeExperiment
{
    public const string RangeFigure = "landscape-range.png";
    public const string BandFigure = "landscape-loss.png";

    /// <summary>η = lr × these.</summary>
    internal static readonly double[] StepMultipliers = [0.5, 1, 2, 4];

    /// <summary>About this many probes per run.</summary>
    private const int ProbesPerRun = 60;

    private static readonly HiddenNormalization[] Normalizations = [HiddenNormalization.None, HiddenNormalization.BatchNorm];

    /// <summary>One probe: the step, the lowest and highest loss along −g, ‖g‖ and the effective β-smoothness.</summary>
    internal sealed record Probe(int Step, double Min, double Max, double GradientNorm, double Smoothness)
    {
        public double Range => Max - Min;
    }

    internal sealed record LandscapeRun(string Configuration, IReadOnlyList<Probe> Probes, IReadOnlyList<double> TestAccuracy, int Steps)
    {
        public double MeanRange => Probes.Average(p => p.Range);
        public double MaxRange => Probes.Max(p => p.Range);
        public double MeanGradientNorm => Probes.Average(p => p.GradientNorm);
        public double MeanSmoothness => Probes.Average(p => p.Smoothness);

        /// <summary>The mean range over the first (<paramref name="second"/> false) or second half of the probes.</summary>
        public double MeanRangeOfHalf(bool second)
        {
            int half = Probes.Count / 2;
            var probes = second ? Probes.Skip(half) : Probes.Take(Math.Max(1, half));
            return probes.Average(p => p.Range);
        }
    }

    public static ExperimentResult Run(Trainer trainer)
    {
        int epochs = trainer.Settings.Epochs;
        long totalSteps = trainer.StepsFor(epochs, Trainer.BatchSize);
        int every = (int)Math.Max(1, totalSteps / ProbesPerRun);
        string stepSizes = string.Join(", ", StepMultipliers.Select(m => $"{m}"));
        Console.WriteLine($"Experiment landscape: None vs BatchNorm, batch {Trainer.BatchSize}, {epochs} epoch(s) of ~{totalSteps / epochs} steps; " +
            $"every {every} step(s), the loss along −g at η = lr × {{{stepSizes}}}");
        var runs = Normalizations.Select(n => Train(trainer, n, epochs, every)).ToList();
        var (none, batchNorm) = (runs[0], runs[1]);

        var claim = new Claim("BatchNorm's loss varies less along −g than None's (mean range over probes)",
            "Santurkar et al. 2018: batch norm makes the loss landscape smoother",
            $"{Format.Loss(batchNorm.MeanRange)} vs {Format.Loss(none.MeanRange)}",
            batchNorm.MeanRange < none.MeanRange);
        string setting = $"batch {Trainer.BatchSize}, {epochs} epoch{(epochs == 1 ? "" : "s")}, probe every {(every == 1 ? "step" : $"{every} steps")}";
        var rows = runs.Select(run => new ResultRow(
            ExperimentSettings.Landscape, run.Configuration, setting, run.Steps, run.TestAccuracy[0], run.TestAccuracy[^1],
            Reference: "–", LossRange: $"{Format.Loss(run.MeanRange)} (max {Format.Loss(run.MaxRange)})",
            Direction: run == none ? "baseline" : claim.Cell)).ToList();

        var output = trainer.Settings.OutputFolder;
        Figures.Lines(Path.Combine(output, RangeFigure), "Loss range along the gradient: max − min of L(w − η g), η = lr × {" + stepSizes + "}",
            "step", "loss range (log scale)", runs.Select(r => new Series(r.Configuration, r.Probes.Select(p => (double)p.Step).ToArray(),
                r.Probes.Select(p => p.Range).ToArray())).ToList(), markers: true, logY: true);
        Figures.Bands(Path.Combine(output, BandFigure), "Loss landscape: lowest to highest loss along −g at each probe", "step", "training loss (probed batch)",
            runs.Select(r => new Band(r.Configuration, r.Probes.Select(p => (double)p.Step).ToArray(),
                r.Probes.Select(p => p.Min).ToArray(), r.Probes.Select(p => p.Max).ToArray())).ToList());

        string details = Details(runs);
        Console.Write(details);
        return new ExperimentResult("landscape", rows, [claim],
            [new Figure(RangeFigure, "Loss range along the gradient over training"), new Figure(BandFigure, "Lowest to highest loss along the gradient")],
            [
                $"Every {(every == 1 ? "step" : $"{every} steps")}, after the backward pass and before the SGD update, the weights are moved to w − η g for η = lr × {{{stepSizes}}} " +
                "(g: that batch's gradient) and the loss of the same batch is measured in training mode; the weights and BN's running statistics are restored after each probe, so the training run is the same as without probes.",
                "The probes run in MultilayerPerceptronTraining.Train's BeforeUpdate hook, so the batches and the training run are those of the normalizers experiment.",
                "To first order the range is (4 − 0.5) · lr · ‖g‖², so it grows with the gradient's size as well as with the landscape's curvature; " +
                "the table below gives the mean gradient norm and the effective β-smoothness max over η of ‖∇L(w − η g) − g‖ / ‖η g‖ (Santurkar et al.'s scale-free measure) beside the ranges.",
            ], details);
    }

    private static string Details(IReadOnlyList<LandscapeRun> runs)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("| Configuration | Probes | Loss range, mean | first half of training | second half | Mean ‖g‖ | Mean effective β-smoothness |");
        text.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var run in runs)
            text.AppendLine($"| {run.Configuration} | {run.Probes.Count} | {Format.Loss(run.MeanRange)} | {Format.Loss(run.MeanRangeOfHalf(second: false))} | " +
                $"{Format.Loss(run.MeanRangeOfHalf(second: true))} | {run.MeanGradientNorm:F3} | {run.MeanSmoothness:F2} |");
        return text.ToString();
    }

    private static LandscapeRun Train(Trainer trainer, HiddenNormalization normalization, int epochs, int every)
    {
        var watch = Stopwatch.StartNew();
        var (train, test) = (trainer.Data.Train, trainer.Data.Test);
        var options = trainer.Options(normalization, epochs);
        var probes = new List<Probe>();
        var accuracy = new List<double>();
        LandscapeProber? probe = null;
        string label = $"[{ExperimentSettings.Landscape}] {normalization}";
        options.BeforeUpdate = step =>
        {
            probe ??= new LandscapeProber(step.Network, train.Classes, options.BatchSize);
            if ((step.Step - 1) % every == 0)
                probes.Add(probe.Measure(step.Step, step.Features, step.Labels, StepMultipliers.Select(m => m * options.LearningRate)));
        };
        options.EpochCompleted = report =>
        {
            accuracy.Add(report.ValidationAccuracy ?? double.NaN);
            Console.WriteLine($"  {label,-40} epoch {report.Epoch,3}/{epochs}  loss {report.Loss:F4}  test {Format.Percent(accuracy[^1])}  " +
                $"probes {probes.Count}  {watch.Elapsed.TotalSeconds,6:F1} s");
        };
        var model = MultilayerPerceptronTraining.Train(train, options, test);
        return new LandscapeRun(normalization.ToString(), probes, accuracy, model.StepLosses.Count);
    }
}

/// <summary>
/// Measures the loss of one batch at w − η g and the gradient there, then puts everything back: the weights, the
/// gradient g (for the optimizer) and, for batch norm, the running statistics each training-mode forward updates.
/// </summary>
internal sealed class LandscapeProber
{
    private readonly Sequential _network;
    private readonly int _classes;
    private readonly float[][] _savedValues;
    private readonly float[][] _savedGradients;
    private readonly BatchNormLayer[] _batchNorms;
    private readonly float[][] _savedRunning;
    private readonly float[] _logitsGradient;

    public LandscapeProber(Sequential network, int classes, int maximumRows)
    {
        if (network.Layers.Any(l => l is NormalizationLayer and not BatchNormLayer || l is NoisyBatchNormLayer))
            throw new ArgumentException("The landscape probe restores batch norm's running statistics only; other normalization layers keep state it would change.", nameof(network));
        _network = network;
        _classes = classes;
        _savedValues = network.Parameters.Select(p => new float[p.Values.Length]).ToArray();
        _savedGradients = network.Parameters.Select(p => new float[p.Gradient.Length]).ToArray();
        _batchNorms = network.Layers.OfType<BatchNormLayer>().ToArray();
        _savedRunning = _batchNorms.SelectMany(b => new[] { new float[b.RunningMean.Length], new float[b.RunningVariance.Length] }).ToArray();
        _logitsGradient = new float[maximumRows * classes];
    }

    /// <summary>
    /// The lowest and highest loss of the batch at w − η g over <paramref name="stepSizes"/>, g being the current
    /// gradient, and the effective β-smoothness max ‖∇L(w − η g) − g‖ / ‖η g‖.
    /// </summary>
    public LandscapeExperiment.Probe Measure(int step, ReadOnlySpan<float> batch, ReadOnlySpan<int> labels, IEnumerable<double> stepSizes)
    {
        var parameters = _network.Parameters;
        double gradientNormSquared = 0;
        for (int p = 0; p < parameters.Count; p++)
        {
            parameters[p].Values.CopyTo(_savedValues[p], 0);
            parameters[p].Gradient.CopyTo(_savedGradients[p], 0);
            foreach (float g in parameters[p].Gradient)
                gradientNormSquared += (double)g * g;
        }
        for (int b = 0; b < _batchNorms.Length; b++)
        {
            _batchNorms[b].RunningMean.CopyTo(_savedRunning[2 * b], 0);
            _batchNorms[b].RunningVariance.CopyTo(_savedRunning[2 * b + 1], 0);
        }

        double min = double.PositiveInfinity, max = double.NegativeInfinity, smoothness = 0;
        var logitsGradient = _logitsGradient.AsSpan(0, labels.Length * _classes);
        foreach (double eta in stepSizes)
        {
            float size = (float)eta;
            for (int p = 0; p < parameters.Count; p++)
            {
                var (values, gradient, saved) = (parameters[p].Values, _savedGradients[p], _savedValues[p]);
                for (int i = 0; i < values.Length; i++)
                    values[i] = saved[i] - size * gradient[i];
            }
            var logits = _network.Forward(batch, labels.Length, training: true);
            double probed = SoftmaxCrossEntropy.Compute(logits, labels, _classes, logitsGradient, out _);
            (min, max) = (Math.Min(min, probed), Math.Max(max, probed));

            _network.ZeroGradients();
            _network.Backward(logitsGradient);
            double changeSquared = 0;
            for (int p = 0; p < parameters.Count; p++)
            {
                var (moved, original) = (parameters[p].Gradient, _savedGradients[p]);
                for (int i = 0; i < moved.Length; i++)
                    changeSquared += ((double)moved[i] - original[i]) * ((double)moved[i] - original[i]);
            }
            if (gradientNormSquared > 0)
                smoothness = Math.Max(smoothness, Math.Sqrt(changeSquared / gradientNormSquared) / eta);
        }

        for (int p = 0; p < parameters.Count; p++)
        {
            _savedValues[p].CopyTo(parameters[p].Values, 0);
            _savedGradients[p].CopyTo(parameters[p].Gradient, 0);
        }
        for (int b = 0; b < _batchNorms.Length; b++)
        {
            _savedRunning[2 * b].CopyTo(_batchNorms[b].RunningMean, 0);
            _savedRunning[2 * b + 1].CopyTo(_batchNorms[b].RunningVariance, 0);
        }
        return new LandscapeExperiment.Probe(step, min, max, Math.Sqrt(gradientNormSquared), smoothness);
    }
}
