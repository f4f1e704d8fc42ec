using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// Experiments "renorm" and "cnn-renorm": batch norm vs batch renormalization (Ioffe 2017) where batch statistics
/// mislead — batches of only 2 classes (non-i.i.d.) and batches of 4 rows — in the multilayer perceptron
/// (<see cref="Mlp"/>) and in the convolutional network "late-small" (<see cref="Convolutional"/>). Batch renorm's
/// rmax/dmax schedule is scaled to the run's length.
/// </summary>
/// <param name="name">The experiment's name, e.g. "renorm".</param>
/// <param name="network">The network, for the notes.</param>
/// <param name="claimScope">What starts each claim's setting, to tell the experiments' claims apart: "" or e.g. "late-small CNN, ".</param>
/// <param name="compared">The settings compared, built for a seed's trainer.</param>
internal sealed class RenormExperiment(string name, string network, string claimScope, Func<Trainer, RenormExperiment.Setting[]> compared)
{
    private const int NonIidEpochs = 3, ClassesPerBatch = 2;
    private const int SmallBatch = 4;

    /// <summary>The MLP's: batches of 4 for 1 epoch at lr 0.002.</summary>
    private const int MlpSmallBatchEpochs = 1;
    private const double MlpSmallBatchLearningRate = 0.002;

    /// <summary>The convolutional network's learning rates: 0.04 with non-i.i.d. batches of 64, 0.0025 with batches of 4 (0.02 · 4 / 32).</summary>
    private const double ConvolutionalNonIidLearningRate = 0.04, ConvolutionalSmallBatchLearningRate = 0.0025;

    /// <summary>Fractions of the run: plain BN for the first 10 %, rmax reaches 3 at 60 %, dmax reaches 5 at 40 %.</summary>
    private const double WarmupFraction = 0.1, RMaxFraction = 0.6, DMaxFraction = 0.4;
    private const double FinalRMax = 3, FinalDMax = 5;

    /// <summary>The multilayer perceptron's comparison, experiment "renorm".</summary>
    public static RenormExperiment Mlp { get; } = new(ExperimentSettings.Renorm,
        $"MLP 784-{string.Join("-", Trainer.HiddenLayers)}-10, Linear → normalization → ReLU per hidden layer", "", trainer =>
    [
        new("non-i.i.d.", TorchReference.NonIidGroup, $"non-i.i.d.: {ClassesPerBatch} classes per batch of {Trainer.BatchSize}, {NonIidEpochs} epochs",
            n => NonIid(trainer.Options(n, NonIidEpochs))),
        new("batch 4", TorchReference.SmallBatchGroup, $"batch {SmallBatch}, {MlpSmallBatchEpochs} epoch, lr {MlpSmallBatchLearningRate}",
            n => SmallBatches(trainer.Options(n, MlpSmallBatchEpochs), MlpSmallBatchLearningRate)),
    ]);

    /// <summary>The convolutional network "late-small"'s comparison, experiment "cnn-renorm".</summary>
    public static RenormExperiment Convolutional { get; } = new(ExperimentSettings.ConvolutionalRenorm,
        $"the convolutional network late-small, {ConvolutionalNetworks.Describe(ConvolutionalNetworks.LateSmall)}, each conv 3×3 pad 1 → normalization → ReLU",
        "late-small CNN, ", trainer =>
    {
        int epochs = trainer.Settings.Epochs;
        return
        [
            new("non-i.i.d.", TorchReference.ConvolutionalNonIidGroup,
                $"non-i.i.d.: {ClassesPerBatch} classes per batch of {Trainer.BatchSize}, {NonIidEpochs} epochs, lr {ConvolutionalNonIidLearningRate}",
                n => NonIid(trainer.ConvolutionalOptions(ConvolutionalNetworks.LateSmall, n, NonIidEpochs, Trainer.BatchSize, ConvolutionalNonIidLearningRate))),
            new("batch 4", TorchReference.ConvolutionalSmallBatchGroup,
                $"batch {SmallBatch}, {epochs} epoch{(epochs == 1 ? "" : "s")}, lr {ConvolutionalSmallBatchLearningRate}",
                n => trainer.ConvolutionalOptions(ConvolutionalNetworks.LateSmall, n, epochs, SmallBatch, ConvolutionalSmallBatchLearningRate)),
        ];
    });

    /// <summary>A setting of the comparison: its short name, its torch_protocol.py group, its description and its options for a normalization.</summary>
    internal sealed record Setting(string Name, string Group, string Description, Func<HiddenNormalization, NetworkTrainingOptions> Options);

    /// <summary>One seed's pair of runs in one setting, with the schedule Batch Renorm used.</summary>
    internal sealed record Pair(TrainedRun BatchNorm, TrainedRun BatchRenorm, long EstimatedSteps, RenormSchedule Schedule);

    public string Name => name;

    private string FigureName => $"{name}.png";

    private static NetworkTrainingOptions NonIid(NetworkTrainingOptions options)
    {
        options.BatchOrder = BatchOrder.ClassGrouped;
        options.ClassesPerBatch = ClassesPerBatch;
        return options;
    }

    private static NetworkTrainingOptions SmallBatches(NetworkTrainingOptions options, double learningRate)
    {
        options.BatchSize = SmallBatch;
        options.LearningRate = learningRate;
        return options;
    }

    /// <summary>Trains BatchNorm and BatchRenorm in each setting with the trainer's seed.</summary>
    public IReadOnlyList<Pair> Measure(Trainer trainer)
    {
        Console.WriteLine($"Experiment {name}, seed {trainer.Seed}: BatchNorm vs BatchRenorm with non-i.i.d. batches and with tiny batches, {network}");
        var pairs = new List<Pair>();
        foreach (var setting in compared(trainer))
        {
            long steps = trainer.StepsFor(setting.Options(HiddenNormalization.BatchNorm));
            var schedule = ScaledSchedule(steps);
            Console.WriteLine($"  {setting.Description}; BatchRenorm schedule scaled to the ~{steps} steps of this run: {ScheduleText(schedule)}");
            pairs.Add(new Pair(
                trainer.Train(name, $"BatchNorm, {setting.Name}", With(setting, HiddenNormalization.BatchNorm, schedule)),
                trainer.Train(name, $"BatchRenorm, {setting.Name}", With(setting, HiddenNormalization.BatchRenorm, schedule)),
                steps, schedule));
        }
        return pairs;
    }

    /// <summary>The table rows, claims and figure of every seed's pairs (<paramref name="seeds"/>[seed][setting]).</summary>
    /// <exception cref="InvalidDataException">PyTorch's Batch Renorm schedule differs from this run's: the two did not run the same protocol.</exception>
    public ExperimentResult Report(ExperimentSettings settings, ExperimentData data, IReadOnlyList<IReadOnlyList<Pair>> seeds, TorchReference? torch)
    {
        var rows = new List<ResultRow>();
        var claims = new List<Claim>();
        var notes = new List<string>
        {
            $"Network: {network}.",
            "Non-i.i.d. batches (BatchOrder.ClassGrouped): each batch of 64 holds 32 rows of each of 2 distinct classes. Every epoch each class's rows are " +
            "shuffled and cut into chunks of 32, the chunks are spread evenly over the epoch and joined two classes to a batch, so every class is consumed " +
            "at the same rate through the epoch. The test set is evaluated in inference mode, with the running (BN) or moving (BR) statistics.",
            $"BatchRenorm's schedule is scaled to each run's length, since the paper's (plain BN for 5k steps, rmax → 3 by 40k, dmax → 5 by 25k) assumes far longer training: " +
            $"plain BN for the first {WarmupFraction:P0} of the steps, then rmax 1 → {FinalRMax} by {RMaxFraction:P0} and dmax 0 → {FinalDMax} by {DMaxFraction:P0}; moving-average rate α = 0.01 (the paper's).",
        };
        var groups = new List<BarGroup>();
        var descriptions = compared(new Trainer(data, settings, settings.Seeds[0]));
        for (int k = 0; k < descriptions.Length; k++)
        {
            var setting = descriptions[k];
            var pairs = seeds.Select(s => s[k]).ToList();
            var (schedule, steps) = (pairs[0].Schedule, pairs[0].EstimatedSteps);
            notes.Add($"{setting.Description}: {steps} steps per run, so BatchRenorm's schedule was {ScheduleText(schedule)}.");
            var torchBatchNorm = torch?.Runs(setting.Group, "BatchNorm");
            var torchBatchRenorm = torch?.Runs(setting.Group, "BatchRenorm");
            if (torchBatchRenorm?.FirstOrDefault(r => r.RenormSchedule is not { } s
                    || (s.WarmupSteps, s.RMaxSteps, s.DMaxSteps) != (schedule.WarmupSteps, schedule.RMaxSteps, schedule.DMaxSteps)) is { } odd)
                throw new InvalidDataException($"--torch {torch!.Path}: PyTorch's {setting.Group} BatchRenorm run of seed {odd.Seed} used the schedule " +
                    $"{odd.RenormSchedule}, this run {ScheduleText(schedule)}: the two sides did not run the same protocol.");

            double[] libraryBn = pairs.Select(p => p.BatchNorm.FinalAccuracy).ToArray(), libraryBr = pairs.Select(p => p.BatchRenorm.FinalAccuracy).ToArray();
            double[]? torchBn = torchBatchNorm?.Select(r => r.FinalAccuracy).ToArray(), torchBr = torchBatchRenorm?.Select(r => r.FinalAccuracy).ToArray();
            var claim = new Claim($"BatchRenorm > BatchNorm, {claimScope}{setting.Description}", "Ioffe 2017: batch renormalization helps with non-i.i.d. and small batches",
                Comparison.Higher(libraryBr, libraryBn, data.Test.Rows), torchBn is null || torchBr is null ? null : Comparison.Higher(torchBr, torchBn, data.Test.Rows));
            claims.Add(claim);
            rows.Add(Row(pairs.Select(p => p.BatchNorm).ToList(), torchBatchNorm, "BatchNorm", setting, "baseline"));
            rows.Add(Row(pairs.Select(p => p.BatchRenorm).ToList(), torchBatchRenorm, "BatchRenorm", setting, claim.Cell));
            var stats = new List<Stat> { Stat.Of(libraryBn), Stat.Of(libraryBr) };
            if (torch is not null)
                stats.AddRange(torchBn is null || torchBr is null ? [new Stat(double.NaN, 0, 0), new Stat(double.NaN, 0, 0)] : [Stat.Of(torchBn), Stat.Of(torchBr)]);
            groups.Add(new BarGroup(setting.Description.Replace(": ", ":\n").Replace(", ", ",\n"),
                stats.Select(s => 100 * s.Mean).ToArray(), stats.Select(s => 100 * s.Std).ToArray()));
        }

        string meanOf = seeds.Count > 1 ? $", mean ± std of {seeds.Count} seeds" : "";
        Figures.GroupedBars(Path.Combine(settings.OutputFolder, FigureName), $"Final test accuracy: BatchNorm vs BatchRenorm{meanOf}", "test accuracy (%)",
            torch is null ? ["BatchNorm", "BatchRenorm"] : ["BatchNorm", "BatchRenorm", "BatchNorm, PyTorch 1.13 (same protocol)", "BatchRenorm, PyTorch 1.13 (same protocol)"],
            [Figures.Color(0), Figures.Color(1), Figures.Color(0, lighten: 0.6), Figures.Color(1, lighten: 0.6)],
            groups, yRange: (0, 120));
        return new ExperimentResult(name, rows, claims, [new Figure(FigureName, "BatchNorm vs BatchRenorm, final test accuracy")], notes);
    }

    /// <summary>The paper's schedule shape compressed to <paramref name="steps"/> steps.</summary>
    internal static RenormSchedule ScaledSchedule(long steps) => new(
        WarmupSteps: (long)Math.Round(WarmupFraction * steps), FinalRMax: FinalRMax, RMaxSteps: (long)Math.Round(RMaxFraction * steps),
        FinalDMax: FinalDMax, DMaxSteps: (long)Math.Round(DMaxFraction * steps));

    private static string ScheduleText(RenormSchedule schedule)
        => $"plain BN for {schedule.WarmupSteps} steps, rmax → {FinalRMax} by step {schedule.RMaxSteps}, dmax → {FinalDMax} by step {schedule.DMaxSteps}";

    private static NetworkTrainingOptions With(Setting setting, HiddenNormalization normalization, RenormSchedule schedule)
    {
        var options = setting.Options(normalization);
        options.RenormSchedule = schedule;
        return options;
    }

    private ResultRow Row(IReadOnlyList<TrainedRun> runs, IReadOnlyList<TorchRun>? torch, string configuration, Setting setting, string direction)
    {
        double[] final = runs.Select(r => r.FinalAccuracy).ToArray();
        return new ResultRow(name, configuration, setting.Description,
            ResultRow.StepsText(runs.Select(r => r.Steps), torch?.Select(r => r.Steps)),
            Stat.Of(runs.Select(r => r.FirstEpochAccuracy)), Stat.Of(final),
            torch is null ? null : Stat.Of(torch.Select(r => r.FirstEpochAccuracy)), torch is null ? null : Stat.Of(torch.Select(r => r.FinalAccuracy)),
            LossRange: null, TorchLossRange: null, direction,
            new PerSeed("test accuracy, final", final, torch?.Select(r => r.FinalAccuracy).ToArray(), IsLoss: false));
    }
}
