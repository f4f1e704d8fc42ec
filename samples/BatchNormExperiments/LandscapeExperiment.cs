using System.Diagnostics;
using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// Experiments "landscape" and "cnn-landscape" (Santurkar et al. 2018, the loss landscape): at regular steps while
/// training without normalization and with batch norm, take the step's gradient g and measure, on the same batch, the
/// loss and its gradient at w − η g for several step sizes η. The range of those losses is how much the loss varies
/// along the gradient; the range of ‖∇L(w − η g) − g‖ is how well g predicts the gradient a step away (Santurkar et
/// al.'s gradient predictiveness). In the multilayer perceptron (<see cref="Mlp"/>) and the convolutional network "vgg"
/// (<see cref="Convolutional"/>).
/// </summary>
/// <param name="name">The experiment's name, e.g. "landscape".</param>
/// <param name="torchGroup">Its runs' group in torch_protocol.py's file.</param>
/// <param name="network">The network, for the notes.</param>
/// <param name="learningRate">The SGD step size of both runs.</param>
/// <param name="probesPerRun">About this many probes per run.</param>
/// <param name="claimScope">What ends each claim's statement, to tell the experiments' claims apart: "" or e.g. ", vgg CNN".</param>
/// <param name="options">The options of a run of a seed's trainer with a normalization and epochs.</param>
internal sealed class LandscapeExperiment(
    string name, string torchGroup, string network, double learningRate, int probesPerRun, string claimScope, Func<Trainer, HiddenNormalization, int, NetworkTrainingOptions> options)
{
    /// <summary>η = lr × these.</summary>
    internal static readonly double[] StepMultipliers = [0.5, 1, 2, 4];

    private static readonly HiddenNormalization[] Normalizations = [HiddenNormalization.None, HiddenNormalization.BatchNorm];

    /// <summary>The convolutional network's learning rate, with and without batch norm.</summary>
    private const double ConvolutionalLearningRate = 0.02;

    /// <summary>The multilayer perceptron's landscape, experiment "landscape": lr 0.01, about 60 probes per run.</summary>
    public static LandscapeExperiment Mlp { get; } = new(ExperimentSettings.Landscape, TorchReference.LandscapeGroup,
        $"MLP 784-{string.Join("-", Trainer.HiddenLayers)}-10, Linear → normalization → ReLU per hidden layer", Trainer.LearningRate, probesPerRun: 60, claimScope: "",
        (trainer, normalization, epochs) => trainer.Options(normalization, epochs));

    /// <summary>The convolutional network "vgg"'s landscape, experiment "cnn-landscape": lr 0.02, about 40 probes per run.</summary>
    public static LandscapeExperiment Convolutional { get; } = new(ExperimentSettings.ConvolutionalLandscape, TorchReference.ConvolutionalLandscapeGroup,
        $"the convolutional network vgg, {ConvolutionalNetworks.Describe(ConvolutionalNetworks.Vgg)}, each conv 3×3 pad 1 → normalization → ReLU, dense 128 → ReLU",
        ConvolutionalLearningRate, probesPerRun: 40, claimScope: ", vgg CNN",
        (trainer, normalization, epochs) => trainer.ConvolutionalOptions(ConvolutionalNetworks.Vgg, normalization, epochs, Trainer.BatchSize, ConvolutionalLearningRate));

    /// <summary>
    /// One probe: the step, the lowest and highest loss along −g, ‖g‖, the effective β-smoothness and the lowest and
    /// highest gradient change ‖∇L(w − η g) − g‖ (NaN when a PyTorch file did not record it).
    /// </summary>
    internal sealed record Probe(int Step, double Min, double Max, double GradientNorm, double Smoothness, double GradientChangeMin, double GradientChangeMax)
    {
        public double Range => Max - Min;
    }

    internal sealed record LandscapeRun(string Configuration, IReadOnlyList<Probe> Probes, IReadOnlyList<double> TestAccuracy, int Steps)
    {
        public double MeanRange => Probes.Average(p => p.Range);
        public double MeanGradientNorm => Probes.Average(p => p.GradientNorm);
        public double MeanSmoothness => Probes.Average(p => p.Smoothness);
        public double MeanGradientChangeMin => Probes.Average(p => p.GradientChangeMin);
        public double MeanGradientChangeMax => Probes.Average(p => p.GradientChangeMax);

        /// <summary>The mean range over the first (<paramref name="second"/> false) or second half of the probes.</summary>
        public double MeanRangeOfHalf(bool second)
        {
            int half = Probes.Count / 2;
            var probes = second ? Probes.Skip(half) : Probes.Take(Math.Max(1, half));
            return probes.Average(p => p.Range);
        }
    }

    public string Name => name;

    private string RangeFigure => $"{name}-range.png";
    private string BandFigure => $"{name}-loss.png";
    private string GradientFigure => $"{name}-gradient.png";

    /// <summary>Every how many steps a run of <paramref name="epochs"/> epochs is probed, about <c>probesPerRun</c> times in all.</summary>
    private int ProbeInterval(Trainer trainer, int epochs) => (int)Math.Max(1, trainer.StepsFor(options(trainer, HiddenNormalization.None, epochs)) / probesPerRun);

    /// <summary>Trains None and BatchNorm with the trainer's seed, probing the landscape.</summary>
    public IReadOnlyList<LandscapeRun> Measure(Trainer trainer)
    {
        int epochs = trainer.Settings.Epochs;
        long totalSteps = trainer.StepsFor(options(trainer, HiddenNormalization.None, epochs));
        int every = ProbeInterval(trainer, epochs);
        string stepSizes = string.Join(", ", StepMultipliers.Select(m => $"{m}"));
        Console.WriteLine($"Experiment {name}, seed {trainer.Seed}: None vs BatchNorm, batch {Trainer.BatchSize}, lr {learningRate}, {epochs} epoch(s) of ~{totalSteps / epochs} steps; " +
            $"every {every} step(s), the loss and gradient along −g at η = lr × {{{stepSizes}}}");
        var runs = Normalizations.Select(n => Train(trainer, n, epochs, every)).ToList();
        Console.Write(Details(runs.Select(r => ("this library", Seeds: (IReadOnlyList<LandscapeRun>)[r])).ToList()));
        return runs;
    }

    /// <summary>The table rows, claims and figures of every seed's runs (<paramref name="seeds"/>[seed][normalization]).</summary>
    public ExperimentResult Report(ExperimentSettings settings, ExperimentData data, IReadOnlyList<IReadOnlyList<LandscapeRun>> seeds, TorchReference? torch)
    {
        int epochs = settings.Epochs;
        int every = ProbeInterval(new Trainer(data, settings, settings.Seeds[0]), epochs);
        string stepSizes = string.Join(", ", StepMultipliers.Select(m => $"{m}"));
        var library = Enumerable.Range(0, Normalizations.Length).Select(i => (IReadOnlyList<LandscapeRun>)seeds.Select(s => s[i]).ToList()).ToList();
        var torchRuns = Normalizations.Select(n => torch?.Runs(torchGroup, n.ToString())?.Select(FromTorch).ToList()).ToList();
        if (torchRuns.Any(r => r is null))
            torchRuns = [.. torchRuns.Select(_ => (List<LandscapeRun>?)null)];

        static double[] Ranges(IReadOnlyList<LandscapeRun> runs) => runs.Select(r => r.MeanRange).ToArray();
        static double[] GradientChanges(IReadOnlyList<LandscapeRun> runs) => runs.Select(r => r.MeanGradientChangeMax).ToArray();
        var (torchNone, torchBatchNorm) = (torchRuns[0], torchRuns[1]);
        var claim = new Claim($"BatchNorm's loss varies less along −g than None's (mean range over probes){claimScope}",
            "Santurkar et al. 2018: batch norm makes the loss landscape smoother",
            Comparison.Lower(Ranges(library[1]), Ranges(library[0])),
            torchNone is not null && torchBatchNorm is not null ? Comparison.Lower(Ranges(torchBatchNorm), Ranges(torchNone)) : null);
        var gradientClaim = new Claim($"BatchNorm's gradient changes less along −g than None's (mean over probes of max ‖∇L(w − η g) − g‖){claimScope}",
            "Santurkar et al. 2018: batch norm makes the gradients more predictive",
            Comparison.Lower(GradientChanges(library[1]), GradientChanges(library[0])),
            torchNone is not null && torchBatchNorm is not null && GradientChanges(torchNone).Concat(GradientChanges(torchBatchNorm)).All(double.IsFinite)
                ? Comparison.Lower(GradientChanges(torchBatchNorm), GradientChanges(torchNone)) : null);
        string setting = $"batch {Trainer.BatchSize}, lr {learningRate}, {epochs} epoch{(epochs == 1 ? "" : "s")}, probe every {(every == 1 ? "step" : $"{every} steps")}";
        var rows = Normalizations.Select((n, i) => new ResultRow(
            name, n.ToString(), setting, ResultRow.StepsText(library[i].Select(r => r.Steps), torchRuns[i]?.Select(r => r.Steps)),
            Stat.Of(library[i].Select(r => r.TestAccuracy[0])), Stat.Of(library[i].Select(r => r.TestAccuracy[^1])),
            torchRuns[i] is { } t ? Stat.Of(t.Select(r => r.TestAccuracy[0])) : null, torchRuns[i] is { } u ? Stat.Of(u.Select(r => r.TestAccuracy[^1])) : null,
            Stat.Of(Ranges(library[i])), torchRuns[i] is { } v ? Stat.Of(Ranges(v)) : null,
            Direction: i == 0 ? "baseline" : $"{claim.Cell}; gradient change: {gradientClaim.Cell}",
            new PerSeed("loss range along −g, mean", Ranges(library[i]), torchRuns[i] is { } w ? Ranges(w) : null, IsLoss: true))).ToList();

        // The probes fall on the same steps in every seed, so each probe's values are averaged over seeds.
        static double[] MeanOf(IReadOnlyList<LandscapeRun> runs, Func<Probe, double> value)
            => Enumerable.Range(0, runs.Min(r => r.Probes.Count)).Select(p => runs.Average(r => value(r.Probes[p]))).ToArray();
        string meanOf = seeds.Count > 1 ? $", mean of {seeds.Count} seeds" : "";
        var output = settings.OutputFolder;
        var rangeSeries = new List<Series>();
        var gradientBands = new List<Band>();
        for (int side = 0; side < 2; side++)
            for (int i = 0; i < Normalizations.Length; i++)
                if ((side == 0 ? library[i] : torchRuns[i]) is { } runs)
                {
                    string label = side == 0 ? runs[0].Configuration : $"{runs[0].Configuration}, PyTorch 1.13";
                    var color = Figures.Color(i, lighten: side == 1 ? 0.45 : 0);
                    rangeSeries.Add(new Series(label, MeanOf(runs, p => p.Step), MeanOf(runs, p => p.Range), Dashed: side == 1, Color: color));
                    if (runs.All(r => r.Probes.All(p => double.IsFinite(p.GradientChangeMax))))
                        gradientBands.Add(new Band(label, MeanOf(runs, p => p.Step), MeanOf(runs, p => p.GradientChangeMin), MeanOf(runs, p => p.GradientChangeMax),
                            color, Dashed: side == 1));
                }
        Figures.Lines(Path.Combine(output, RangeFigure), $"Loss range along the gradient: max − min of L(w − η g), η = lr × {{{stepSizes}}}",
            "step", $"loss range (log scale){meanOf}", rangeSeries, markers: true, logY: true);
        Figures.Bands(Path.Combine(output, BandFigure), $"Loss landscape: lowest to highest loss along −g at each probe{meanOf}", "step", "training loss (probed batch)",
            library.Select(runs => new Band(runs[0].Configuration, MeanOf(runs, p => p.Step), MeanOf(runs, p => p.Min), MeanOf(runs, p => p.Max))).ToList());
        Figures.Bands(Path.Combine(output, GradientFigure), $"Gradient predictiveness: ‖∇L(w − η g) − g‖ over η = lr × {{{stepSizes}}}",
            "step", $"lowest to highest gradient change (log scale){meanOf}", gradientBands, logY: true);

        var notes = new List<string>
        {
            $"Network: {network}; batch {Trainer.BatchSize}, lr {learningRate} with and without batch norm.",
            $"Every {(every == 1 ? "step" : $"{every} steps")}, after the backward pass and before the SGD update, the weights are moved to w − η g for η = lr × {{{stepSizes}}} " +
            "(g: that batch's gradient) and the loss of the same batch and its gradient are computed in training mode; the weights, the gradient and BN's running statistics " +
            "are restored after each probe, so the training run is the same as without probes.",
            "The probes run in the trainer's BeforeUpdate hook, so the batches and the training run are those of a run without probes; " +
            "torch_protocol.py probes the same way between backward() and the optimizer's step.",
            "To first order the loss range is (4 − 0.5) · lr · ‖g‖², so it grows with the gradient's size as well as with the landscape's curvature; " +
            "the table below gives the mean gradient norm, the gradient change's range (Santurkar et al.'s gradient predictiveness: lowest and highest " +
            "‖∇L(w − η g) − g‖ over η, the lower the more predictive) and the effective β-smoothness max over η of ‖∇L(w − η g) − g‖ / ‖η g‖ " +
            "(their scale-free measure) beside the ranges" +
            (seeds.Count > 1 ? ", each the mean ± std over seeds of a run's mean over its probes." : "."),
        };
        // A run still at chance has not left the initial plateau: its landscape is flat because it has not started learning.
        double chance = 1.0 / data.Train.Classes;
        var stalled = Normalizations.Where((_, i) => library[i].Average(r => r.TestAccuracy[^1]) < 2 * chance).ToList();
        if (stalled.Count > 0)
            notes.Add($"{string.Join(" and ", stalled)} ended near chance ({string.Join(", ", stalled.Select(n => Stat.Of(library[Array.IndexOf(Normalizations, n)].Select(r => r.TestAccuracy[^1])).Percent()))} " +
                $"final test accuracy against {chance:P0} by guessing): still on the plateau where training starts, whose loss barely changes along any direction, so its small " +
                "ranges and gradient changes describe a run that has not begun to learn rather than a smoother landscape.");

        var sides = library.Select(runs => ("this library", runs)).ToList();
        if (torchRuns.All(r => r is not null))
            sides.AddRange(torchRuns.Select(runs => ("PyTorch 1.13", (IReadOnlyList<LandscapeRun>)runs!)));
        return new ExperimentResult(name, rows, [claim, gradientClaim],
            [
                new Figure(RangeFigure, "Loss range along the gradient over training"), new Figure(BandFigure, "Lowest to highest loss along the gradient"),
                new Figure(GradientFigure, "Gradient predictiveness: lowest to highest gradient change along the gradient over training"),
            ],
            notes, Details(sides));
    }

    private static LandscapeRun FromTorch(TorchRun run)
    {
        if (run.Probes is not { Length: > 0 } probes)
            throw new InvalidDataException($"PyTorch's landscape run of {run.Configuration}, seed {run.Seed}, has no probes.");
        return new LandscapeRun(run.Configuration, probes.Select(p => new Probe(p.Step, p.Min, p.Max, p.GradientNorm, p.Smoothness,
            p.GradientChangeMin ?? double.NaN, p.GradientChangeMax ?? double.NaN)).ToList(), run.TestAccuracy, run.Steps);
    }

    private static string Details(IReadOnlyList<(string Side, IReadOnlyList<LandscapeRun> Seeds)> sides)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine("| Side | Configuration | Probes | Loss range, mean | first half of training | second half | Mean ‖g‖ | " +
            "Gradient change ‖∇L(w − η g) − g‖, mean lowest | mean highest | Mean effective β-smoothness |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (side, runs) in sides)
        {
            string Cell(Func<LandscapeRun, double> value, string format) => !runs.All(r => double.IsFinite(value(r))) ? "–" : runs.Count > 1
                ? $"{Stat.Of(runs.Select(value)).Mean.ToString(format)} ± {Stat.Of(runs.Select(value)).Std.ToString(format)}" : value(runs[0]).ToString(format);
            text.AppendLine($"| {side} | {runs[0].Configuration} | {runs[0].Probes.Count} | {Cell(r => r.MeanRange, "F4")} | {Cell(r => r.MeanRangeOfHalf(second: false), "F4")} | " +
                $"{Cell(r => r.MeanRangeOfHalf(second: true), "F4")} | {Cell(r => r.MeanGradientNorm, "F3")} | {Cell(r => r.MeanGradientChangeMin, "F3")} | " +
                $"{Cell(r => r.MeanGradientChangeMax, "F3")} | {Cell(r => r.MeanSmoothness, "F2")} |");
        }
        return text.ToString();
    }

    private LandscapeRun Train(Trainer trainer, HiddenNormalization normalization, int epochs, int every)
    {
        var watch = Stopwatch.StartNew();
        var run = options(trainer, normalization, epochs);
        var probes = new List<Probe>();
        var accuracy = new List<double>();
        LandscapeProber? probe = null;
        string label = $"[{name}] {normalization}, seed {trainer.Seed}";
        run.BeforeUpdate = step =>
        {
            probe ??= new LandscapeProber(step.Network, trainer.Data.Train.Classes, run.BatchSize);
            if ((step.Step - 1) % every == 0)
                probes.Add(probe.Measure(step.Step, step.Features, step.Labels, StepMultipliers.Select(m => m * run.LearningRate)));
        };
        run.EpochCompleted = report =>
        {
            accuracy.Add(report.ValidationAccuracy ?? double.NaN);
            Console.WriteLine($"  {label,-48} epoch {report.Epoch,3}/{epochs}  loss {report.Loss:F4}  test {Format.Percent(accuracy[^1])}  " +
                $"probes {probes.Count}  {watch.Elapsed.TotalSeconds,6:F1} s");
        };
        var model = trainer.Fit(run);
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
    /// gradient, the lowest and highest gradient change ‖∇L(w − η g) − g‖ and the effective β-smoothness
    /// max ‖∇L(w − η g) − g‖ / ‖η g‖.
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
        double changeMin = double.PositiveInfinity, changeMax = double.NegativeInfinity;
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
            double change = Math.Sqrt(changeSquared);
            (changeMin, changeMax) = (Math.Min(changeMin, change), Math.Max(changeMax, change));
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
        return new LandscapeExperiment.Probe(step, min, max, Math.Sqrt(gradientNormSquared), smoothness, changeMin, changeMax);
    }
}
