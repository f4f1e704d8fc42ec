using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// Experiment "renorm": batch norm vs batch renormalization (Ioffe 2017) where batch statistics mislead — batches of
/// only 2 classes (non-i.i.d.) and batches of 4 rows. Batch renorm's rmax/dmax schedule is scaled to the run's length.
/// </summary>
internal static class RenormExperiment
{
    public const string FigureName = "renorm.png";

    private const int NonIidEpochs = 3, ClassesPerBatch = 2;
    private const int SmallBatch = 4, SmallBatchEpochs = 1;
    private const double SmallBatchLearningRate = 0.002;

    /// <summary>Fractions of the run: plain BN for the first 10 %, rmax reaches 3 at 60 %, dmax reaches 5 at 40 %.</summary>
    private const double WarmupFraction = 0.1, RMaxFraction = 0.6, DMaxFraction = 0.4;
    private const double FinalRMax = 3, FinalDMax = 5;

    /// <summary>A setting of the comparison with its PyTorch 1.13 accuracies on the full data.</summary>
    private sealed record Setting(string Name, string Description, MultilayerPerceptronOptions BaseOptions, double ReferenceBatchNorm, double ReferenceBatchRenorm);

    public static ExperimentResult Run(Trainer trainer)
    {
        var nonIid = trainer.Options(HiddenNormalization.BatchNorm, NonIidEpochs);
        nonIid.BatchOrder = BatchOrder.ClassGrouped;
        nonIid.ClassesPerBatch = ClassesPerBatch;
        var smallBatch = trainer.Options(HiddenNormalization.BatchNorm, SmallBatchEpochs);
        smallBatch.BatchSize = SmallBatch;
        smallBatch.LearningRate = SmallBatchLearningRate;
        Setting[] settings =
        [
            new("non-i.i.d.", $"non-i.i.d.: {ClassesPerBatch} classes per batch of {Trainer.BatchSize}, {NonIidEpochs} epochs", nonIid, 0.421, 0.783),
            new("batch 4", $"batch {SmallBatch}, {SmallBatchEpochs} epoch, lr {SmallBatchLearningRate}", smallBatch, 0.820, 0.847),
        ];

        Console.WriteLine("Experiment renorm: BatchNorm vs BatchRenorm with non-i.i.d. batches and with tiny batches");
        var rows = new List<ResultRow>();
        var claims = new List<Claim>();
        var notes = new List<string>
        {
            "Non-i.i.d. batches: each batch of 64 holds 32 images of each of 2 classes drawn at random (BatchOrder.ClassGrouped); the test set is evaluated in inference mode, with the running (BN) or moving (BR) statistics.",
            $"BatchRenorm's schedule is scaled to each run's length, since the paper's (plain BN for 5k steps, rmax → 3 by 40k, dmax → 5 by 25k) assumes far longer training: " +
            $"plain BN for the first {WarmupFraction:P0} of the steps, then rmax 1 → {FinalRMax} by {RMaxFraction:P0} and dmax 0 → {FinalDMax} by {DMaxFraction:P0}; moving-average rate α = 0.01 (the paper's).",
        };
        var groups = new List<BarGroup>();
        foreach (var setting in settings)
        {
            long steps = trainer.StepsFor(setting.BaseOptions.Epochs, setting.BaseOptions.BatchSize);
            var schedule = ScaledSchedule(steps);
            string scheduleText = $"plain BN for {schedule.WarmupSteps} steps, rmax → {FinalRMax} by step {schedule.RMaxSteps}, dmax → {FinalDMax} by step {schedule.DMaxSteps}";
            Console.WriteLine($"  {setting.Description}; BatchRenorm schedule scaled to the ~{steps} steps of this run: {scheduleText}");
            notes.Add($"{setting.Description}: ~{steps} steps, so BatchRenorm's schedule was {scheduleText}.");

            var batchNorm = trainer.Train(ExperimentSettings.Renorm, $"BatchNorm, {setting.Name}", With(setting.BaseOptions, HiddenNormalization.BatchNorm, schedule));
            var batchRenorm = trainer.Train(ExperimentSettings.Renorm, $"BatchRenorm, {setting.Name}", With(setting.BaseOptions, HiddenNormalization.BatchRenorm, schedule));
            var claim = Claim.Higher($"BatchRenorm > BatchNorm, {setting.Description}",
                $"PyTorch: {Format.Percent(setting.ReferenceBatchRenorm)} vs {Format.Percent(setting.ReferenceBatchNorm)}",
                batchRenorm.FinalAccuracy, batchNorm.FinalAccuracy, trainer.Data.Test.Rows);
            claims.Add(claim);
            string epochsText = $" ({setting.BaseOptions.Epochs} epoch{(setting.BaseOptions.Epochs == 1 ? "" : "s")})";
            rows.Add(Row(batchNorm, setting, Format.Percent(setting.ReferenceBatchNorm) + epochsText, "baseline"));
            rows.Add(Row(batchRenorm, setting, Format.Percent(setting.ReferenceBatchRenorm) + epochsText, claim.Cell));
            groups.Add(new BarGroup(setting.Description.Replace(": ", ":\n").Replace(", ", ",\n"),
                [100 * batchNorm.FinalAccuracy, 100 * batchRenorm.FinalAccuracy, 100 * setting.ReferenceBatchNorm, 100 * setting.ReferenceBatchRenorm]));
        }

        Figures.GroupedBars(Path.Combine(trainer.Settings.OutputFolder, FigureName), "Final test accuracy: BatchNorm vs BatchRenorm", "test accuracy (%)",
            ["BatchNorm", "BatchRenorm", "BatchNorm, PyTorch 1.13 (full data)", "BatchRenorm, PyTorch 1.13 (full data)"],
            [Figures.Color(0), Figures.Color(1), Figures.Color(0, lighten: 0.6), Figures.Color(1, lighten: 0.6)],
            groups, yRange: (0, 120));
        return new ExperimentResult("renorm", rows, claims, [new Figure(FigureName, "BatchNorm vs BatchRenorm, final test accuracy")], notes);
    }

    /// <summary>The paper's schedule shape compressed to <paramref name="steps"/> steps.</summary>
    internal static RenormSchedule ScaledSchedule(long steps) => new(
        WarmupSteps: (long)Math.Round(WarmupFraction * steps), FinalRMax: FinalRMax, RMaxSteps: (long)Math.Round(RMaxFraction * steps),
        FinalDMax: FinalDMax, DMaxSteps: (long)Math.Round(DMaxFraction * steps));

    private static MultilayerPerceptronOptions With(MultilayerPerceptronOptions options, HiddenNormalization normalization, RenormSchedule schedule) => new()
    {
        HiddenLayers = options.HiddenLayers,
        Normalization = normalization,
        BatchSize = options.BatchSize,
        Epochs = options.Epochs,
        LearningRate = options.LearningRate,
        Momentum = options.Momentum,
        Seed = options.Seed,
        BatchOrder = options.BatchOrder,
        ClassesPerBatch = options.ClassesPerBatch,
        RenormSchedule = schedule,
    };

    private static ResultRow Row(TrainedRun run, Setting setting, string reference, string direction) => new(
        ExperimentSettings.Renorm, run.Configuration.Split(',')[0], setting.Description, run.Steps, run.FirstEpochAccuracy, run.FinalAccuracy,
        reference, LossRange: "–", direction);
}
