using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// Experiment "cnn-batch" (Wu & He 2018, Fig. 1 in small): the convolutional network "late-small" with batch norm and
/// group norm at batches of 32, 16, 8, 4 and 2, and with layer norm and instance norm at 32, the learning rate scaled
/// linearly with the batch (lr = 0.02 · B / 32): test accuracy against batch size.
/// </summary>
internal static class BatchSizeExperiment
{
    public const string FigureName = "cnn-batch.png";

    /// <summary>Largest batch first, as Wu & He's figure.</summary>
    internal static readonly int[] BatchSizes = [32, 16, 8, 4, 2];

    /// <summary>lr = <see cref="BaseLearningRate"/> · B / <see cref="BaseBatch"/> (Goyal et al.'s linear scaling rule, as Wu & He).</summary>
    private const double BaseLearningRate = 0.02;
    private const int BaseBatch = 32;

    /// <summary>The largest tolerated gap, in accuracy, between group norm at batch 2 and at batch 32.</summary>
    private const double GroupNormTolerance = 0.01;

    private static readonly HiddenNormalization[] AcrossBatches = [HiddenNormalization.BatchNorm, HiddenNormalization.GroupNorm];
    private static readonly HiddenNormalization[] AtBaseBatch = [HiddenNormalization.LayerNorm, HiddenNormalization.InstanceNorm];

    /// <summary>Wu & He's ImageNet top-1 error (%) of ResNet-50 at 32 images per GPU, for the notes.</summary>
    private static readonly (HiddenNormalization Normalization, double Error)[] PaperErrors =
        [(HiddenNormalization.BatchNorm, 23.6), (HiddenNormalization.GroupNorm, 24.1), (HiddenNormalization.LayerNorm, 25.3), (HiddenNormalization.InstanceNorm, 28.4)];

    /// <summary>A configuration: its normalization and batch, named as torch_protocol.py names it, "BatchNorm, batch 32".</summary>
    internal sealed record Configuration(HiddenNormalization Normalization, int BatchSize)
    {
        public string Name => $"{Normalization}, batch {BatchSize}";

        public double LearningRate => LearningRateFor(BatchSize);
    }

    /// <summary>Batch norm and group norm at every batch size, then layer norm and instance norm at 32.</summary>
    internal static IReadOnlyList<Configuration> Configurations { get; } =
        [.. AcrossBatches.SelectMany(n => BatchSizes.Select(b => new Configuration(n, b))), .. AtBaseBatch.Select(n => new Configuration(n, BaseBatch))];

    internal static double LearningRateFor(int batchSize) => BaseLearningRate * batchSize / BaseBatch;

    /// <summary>Trains every configuration with the trainer's seed, in <see cref="Configurations"/>' order.</summary>
    public static IReadOnlyList<TrainedRun> Measure(Trainer trainer)
    {
        int epochs = trainer.Settings.Epochs;
        Console.WriteLine($"Experiment {ExperimentSettings.ConvolutionalBatch}, seed {trainer.Seed}: late-small CNN, {Configurations.Count} configurations, " +
            $"{epochs} epoch(s) each, lr = {BaseLearningRate} · batch / {BaseBatch}");
        return Configurations.Select(c => trainer.Train(ExperimentSettings.ConvolutionalBatch, c.Name,
            trainer.ConvolutionalOptions(ConvolutionalNetworks.LateSmall, c.Normalization, epochs, c.BatchSize, c.LearningRate))).ToList();
    }

    /// <summary>The table rows, claims and figure of every seed's runs (<paramref name="seeds"/>[seed][configuration]).</summary>
    public static ExperimentResult Report(ExperimentSettings settings, ExperimentData data, IReadOnlyList<IReadOnlyList<TrainedRun>> seeds, TorchReference? torch)
    {
        int epochs = settings.Epochs, testRows = data.Test.Rows;
        int Index(HiddenNormalization normalization, int batch) => Configurations.ToList().FindIndex(c => c.Normalization == normalization && c.BatchSize == batch);
        IReadOnlyList<TrainedRun> Library(int i) => seeds.Select(s => s[i]).ToList();
        IReadOnlyList<TorchRun>? Torch(int i) => torch?.Runs(TorchReference.ConvolutionalBatchGroup, Configurations[i].Name);
        double[] LibraryFinal(int i) => Library(i).Select(r => r.FinalAccuracy).ToArray();
        double[]? TorchFinal(int i) => Torch(i)?.Select(r => r.FinalAccuracy).ToArray();
        int smallest = BatchSizes[^1];
        var (bn, gn) = (HiddenNormalization.BatchNorm, HiddenNormalization.GroupNorm);

        const string WuHe = "Wu & He 2018";
        Claim Higher(HiddenNormalization high, HiddenNormalization low)
        {
            var (h, l) = (Index(high, BaseBatch), Index(low, BaseBatch));
            var (torchHigh, torchLow) = (TorchFinal(h), TorchFinal(l));
            return new Claim($"{high} > {low}, final test accuracy at batch {BaseBatch}",
                $"{WuHe}: at 32 images per GPU the error is {PaperError(high, low)}",
                Comparison.Higher(LibraryFinal(h), LibraryFinal(l), testRows),
                torchHigh is null || torchLow is null ? null : Comparison.Higher(torchHigh, torchLow, testRows));
        }
        var claims = new Dictionary<int, Claim>
        {
            [Index(bn, BaseBatch)] = Higher(bn, gn),
            [Index(HiddenNormalization.LayerNorm, BaseBatch)] = Higher(gn, HiddenNormalization.LayerNorm),
            [Index(HiddenNormalization.InstanceNorm, BaseBatch)] = Higher(gn, HiddenNormalization.InstanceNorm),
        };
        var (gnBase, gnSmall, bnBase, bnSmall) = (Index(gn, BaseBatch), Index(gn, smallest), Index(bn, BaseBatch), Index(bn, smallest));
        var (torchGnBase, torchGnSmall, torchBnBase, torchBnSmall) = (TorchFinal(gnBase), TorchFinal(gnSmall), TorchFinal(bnBase), TorchFinal(bnSmall));
        claims[gnSmall] = new Claim($"GroupNorm at batch {smallest} within {100 * GroupNormTolerance:F0} point of GroupNorm at batch {BaseBatch}, final test accuracy",
            $"{WuHe}: group norm's error is independent of the batch (24.1 % at 32 and at 2 images per GPU)",
            Comparison.Close(LibraryFinal(gnSmall), LibraryFinal(gnBase), GroupNormTolerance),
            torchGnSmall is null || torchGnBase is null ? null : Comparison.Close(torchGnSmall, torchGnBase, GroupNormTolerance));
        claims[bnSmall] = new Claim($"BatchNorm loses more final test accuracy than GroupNorm from batch {BaseBatch} to batch {smallest}",
            $"{WuHe}: batch norm's error grows from 23.6 % to 34.7 % at 2 images per GPU, group norm's stays at 24.1 %",
            Comparison.LargerDrop(LibraryFinal(bnBase), LibraryFinal(bnSmall), LibraryFinal(gnBase), LibraryFinal(gnSmall), testRows),
            torchBnBase is null || torchBnSmall is null || torchGnBase is null || torchGnSmall is null ? null
                : Comparison.LargerDrop(torchBnBase, torchBnSmall, torchGnBase, torchGnSmall, testRows));

        var rows = Configurations.Select((c, i) => new ResultRow(
            ExperimentSettings.ConvolutionalBatch, c.Normalization.ToString(), $"batch {c.BatchSize}, lr {c.LearningRate}, {epochs} epoch{(epochs == 1 ? "" : "s")}",
            ResultRow.StepsText(Library(i).Select(r => r.Steps), Torch(i)?.Select(r => r.Steps)),
            Stat.Of(Library(i).Select(r => r.FirstEpochAccuracy)), Stat.Of(LibraryFinal(i)),
            Torch(i) is { } t ? Stat.Of(t.Select(r => r.FirstEpochAccuracy)) : null, Torch(i) is { } u ? Stat.Of(u.Select(r => r.FinalAccuracy)) : null,
            LossRange: null, TorchLossRange: null,
            Direction: claims.TryGetValue(i, out var claim) ? claim.Cell : i == gnBase ? "baseline" : "–",
            new PerSeed("test accuracy, final", LibraryFinal(i), TorchFinal(i), IsLoss: false))).ToList();

        // Wu & He's axis: batch size on a log2 scale, largest on the left.
        static double Position(int batch) => Math.Log2((double)BaseBatch / batch);
        var series = new List<Series>();
        var normalizations = AcrossBatches.Concat(AtBaseBatch).ToList();
        for (int side = 0; side < (torch is null ? 1 : 2); side++)
            for (int k = 0; k < normalizations.Count; k++)
            {
                var points = Configurations.Select((c, i) => (c, i)).Where(p => p.c.Normalization == normalizations[k]).ToList();
                var stats = points.Select(p => side == 0 ? Stat.Of(LibraryFinal(p.i)) : TorchFinal(p.i) is { } v ? Stat.Of(v) : (Stat?)null).ToList();
                if (stats.Any(s => s is null))
                    continue;
                series.Add(new Series(side == 0 ? normalizations[k].ToString() : $"{normalizations[k]}, PyTorch 1.13",
                    points.Select(p => Position(p.c.BatchSize)).ToArray(), stats.Select(s => 100 * s!.Value.Mean).ToArray(), Dashed: side == 1,
                    Spread: side == 0 && seeds.Count > 1 && points.Count > 1 ? stats.Select(s => 100 * s!.Value.Std).ToArray() : null,
                    Color: Figures.Color(k, lighten: side == 1 ? 0.45 : 0)));
            }
        string meanOf = seeds.Count > 1 ? $", mean of {seeds.Count} seeds (band: ± std)" : "";
        Figures.Lines(Path.Combine(settings.OutputFolder, FigureName), $"Late-small CNN: final test accuracy against batch B, lr = {BaseLearningRate} · B / {BaseBatch}",
            "batch size (log2 scale)", $"test accuracy (%){meanOf}", series, markers: true, xTicks: BatchSizes.Select(b => (Position(b), $"{b}")).ToList());

        var maps = ConvolutionalNetworks.ConvolutionMaps(ConvolutionalNetworks.LateSmall);
        var (first, beforeLast, last) = (maps[0], maps[^2], maps[^1]);
        return new ExperimentResult(ExperimentSettings.ConvolutionalBatch, rows, Configurations.Select((_, i) => i).Where(claims.ContainsKey).Select(i => claims[i]).ToList(),
            [new Figure(FigureName, "Final test accuracy against batch size")],
            [
                $"Network: late-small, {ConvolutionalNetworks.Describe(ConvolutionalNetworks.LateSmall)}, each conv 3×3 pad 1 → normalization → ReLU; " +
                $"GroupNorm with {ConvolutionalNetworks.GroupNormGroups} groups. {epochs} epoch{(epochs == 1 ? "" : "s")} of shuffled batches at every batch size, " +
                $"lr = {BaseLearningRate} · B / {BaseBatch} (the linear scaling rule Wu & He follow), so smaller batches take more, smaller steps over the same epochs.",
                $"Values per statistic: BatchNorm averages batch × H × W values per channel, so on the first convolution's {first.Height}×{first.Width} map " +
                $"even batch {smallest} gives {smallest * first.Spatial:N0} values, while the late maps give batch × {beforeLast.Spatial} ({beforeLast.Height}×{beforeLast.Width}, " +
                $"{smallest * beforeLast.Spatial} at batch {smallest}) and batch × {last.Spatial} ({last.Height}×{last.Width}, {smallest * last.Spatial} at batch {smallest}): " +
                "batch norm's statistics are noisiest in the late layers, as in Wu & He's ResNet-50, whose last stage has 7×7 maps on ImageNet (98 values at 2 images per GPU). " +
                "GroupNorm, LayerNorm and InstanceNorm compute each image's statistics from its own values, whatever the batch. The table below counts the values per layer.",
                $"Wu & He (ResNet-50, ImageNet, 32 images per GPU): {string.Join(", ", PaperErrors.Select(p => $"{p.Normalization} {p.Error} %"))} top-1 error; " +
                "at 2 images per GPU BN 34.7 %, GN 24.1 %. This small network on Fashion-MNIST checks the directions, not the sizes; the claims state what the measurements show.",
                "Within a seed every configuration starts from the same initial weights and sees the same shuffling seed; the test set is evaluated in inference mode " +
                "(BatchNorm with its running statistics) after every epoch.",
            ], ValuesPerStatistic(maps));
    }

    /// <summary>"23.6 % vs GN 24.1 %": the paper's errors of the two normalizations compared.</summary>
    private static string PaperError(HiddenNormalization high, HiddenNormalization low)
    {
        static string Short(HiddenNormalization n) => n switch
        {
            HiddenNormalization.BatchNorm => "BN",
            HiddenNormalization.GroupNorm => "GN",
            HiddenNormalization.LayerNorm => "LN",
            _ => "IN",
        };
        double Error(HiddenNormalization n) => PaperErrors.Single(p => p.Normalization == n).Error;
        return $"{Short(high)} {Error(high)} % vs {Short(low)} {Error(low)} %";
    }

    /// <summary>The values each normalization averages per statistic at every convolution of late-small.</summary>
    private static string ValuesPerStatistic(IReadOnlyList<MLNet.Normalization.ImageShape> maps)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine($"| Convolution | Map C × H × W | BatchNorm: batch × H × W, at batch {string.Join(" / ", BatchSizes)} | " +
            $"GroupNorm ({ConvolutionalNetworks.GroupNormGroups} groups): C / {ConvolutionalNetworks.GroupNormGroups} × H × W | LayerNorm: C × H × W | InstanceNorm: H × W |");
        text.AppendLine("|---:|---|---:|---:|---:|---:|");
        for (int i = 0; i < maps.Count; i++)
        {
            var m = maps[i];
            text.AppendLine($"| {i + 1} | {m.Channels} × {m.Height} × {m.Width} | {string.Join(" / ", BatchSizes.Select(b => $"{b * m.Spatial:N0}"))} | " +
                $"{m.Channels / ConvolutionalNetworks.GroupNormGroups * m.Spatial:N0} | {m.Size:N0} | {m.Spatial:N0} |");
        }
        return text.ToString();
    }
}
