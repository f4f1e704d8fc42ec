namespace MLNet.Normalization.Training;

/// <summary>
/// The normalization after each hidden layer: Linear → normalization → ReLU in a multilayer perceptron, convolution →
/// normalization → ReLU in a convolutional network (and its dense layers when they are normalized).
/// </summary>
public enum HiddenNormalization
{
    /// <summary>Linear → ReLU.</summary>
    None,
    /// <summary><see cref="BatchNormLayer"/>.</summary>
    BatchNorm,
    /// <summary><see cref="BatchRenormLayer"/> with <see cref="NetworkTrainingOptions.RenormSchedule"/>.</summary>
    BatchRenorm,
    /// <summary><see cref="NoisyBatchNormLayer"/>.</summary>
    NoisyBatchNorm,
    /// <summary><see cref="LpBatchNormLayer"/> with <see cref="LpNorm.L1"/>.</summary>
    L1BatchNorm,
    /// <summary><see cref="LpBatchNormLayer"/> with <see cref="LpNorm.L2"/>.</summary>
    L2BatchNorm,
    /// <summary><see cref="LpBatchNormLayer"/> with <see cref="LpNorm.LInf"/>.</summary>
    LInfBatchNorm,
    /// <summary><see cref="LayerNormLayer"/>.</summary>
    LayerNorm,
    /// <summary><see cref="GroupNormLayer"/> with <see cref="NetworkTrainingOptions.GroupNormGroups"/> groups.</summary>
    GroupNorm,
    /// <summary>
    /// <see cref="InstanceNormLayer"/>: each channel of each image normalized over its own H × W values. Convolution
    /// layers only: on a dense layer's units (one value per channel) it would output β.
    /// </summary>
    InstanceNorm,
}

/// <summary>How each epoch's rows are split into mini-batches.</summary>
public enum BatchOrder
{
    /// <summary>A fresh random permutation every epoch (i.i.d. batches).</summary>
    Shuffled,

    /// <summary>
    /// Non-i.i.d. batches for experiments: each batch holds ⌊BatchSize / k⌋ rows of each of k distinct classes, k being
    /// <see cref="NetworkTrainingOptions.ClassesPerBatch"/> (at most the classes that have rows, and BatchSize):
    /// with the defaults, 32 rows of each of 2 classes per batch of 64. Every class is consumed at the same rate
    /// throughout the epoch, so that any stretch of it, its last batches included, covers every class in proportion to
    /// its rows: each epoch, each class's rows are shuffled and cut into chunks of ⌊BatchSize / k⌋ rows (the last holds
    /// the rest), one chunk placed at random within each of as many equal spans of the epoch as the class has chunks,
    /// and each batch joins the earliest chunks left of k distinct classes, so the classes that meet vary from batch to
    /// batch. With Fashion-MNIST's 10 classes of 6000 rows, every class holds 9.3 to 10.6 % of every 100 consecutive
    /// batches. A batch holds fewer rows when it has a class's last, short chunk, and fewer classes only where the chunks
    /// near its place lack k distinct classes: when a class has more than a k-th of the rows (it then also meets
    /// itself), and in the epoch's last batch.
    /// </summary>
    ClassGrouped,
}

/// <summary>One epoch's progress.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="Loss">Mean training loss over the epoch's steps.</param>
/// <param name="TrainAccuracy">Fraction of training rows classified right during the epoch (training mode).</param>
/// <param name="ValidationAccuracy">Accuracy on the validation data in inference mode, when given.</param>
public sealed record EpochReport(int Epoch, double Loss, double TrainAccuracy, double? ValidationAccuracy);

/// <summary>One training step, after its backward pass and before the SGD update.</summary>
/// <param name="Epoch">1-based epoch.</param>
/// <param name="Step">1-based step, counted over the whole run.</param>
/// <param name="Network">The network, its gradients for this batch filled in.</param>
/// <param name="Features">The batch's rows.</param>
/// <param name="Labels">The batch's labels.</param>
/// <param name="Loss">The batch's mean loss.</param>
public readonly ref struct TrainingStep(int Epoch, int Step, Sequential Network, ReadOnlySpan<float> Features, ReadOnlySpan<int> Labels, double Loss)
{
    /// <summary>1-based epoch.</summary>
    public int Epoch { get; } = Epoch;

    /// <summary>1-based step, counted over the whole run.</summary>
    public int Step { get; } = Step;

    /// <summary>The network, its gradients for this batch filled in.</summary>
    public Sequential Network { get; } = Network;

    /// <summary>The batch's rows.</summary>
    public ReadOnlySpan<float> Features { get; } = Features;

    /// <summary>The batch's labels.</summary>
    public ReadOnlySpan<int> Labels { get; } = Labels;

    /// <summary>The batch's mean loss.</summary>
    public double Loss { get; } = Loss;
}

/// <summary>Receives each <see cref="TrainingStep"/> before the update; it may read or probe the network but must leave it as it found it.</summary>
public delegate void TrainingStepHook(TrainingStep step);


/// <summary>
/// What every network trainer of the library shares: the normalization, SGD, batches, seed and progress. Defaults: batch
/// norm, batch 64, 5 epochs, SGD lr 0.01, momentum 0.9, no weight decay, seed 1, shuffled batches. Training refuses an
/// option out of range with an <see cref="ArgumentException"/> whose parameter and message start with the option's name.
/// </summary>
public abstract class NetworkTrainingOptions
{
    private protected NetworkTrainingOptions()
    {
    }

    /// <summary>The normalization after each hidden layer; default <see cref="HiddenNormalization.BatchNorm"/>.</summary>
    public HiddenNormalization Normalization { get; set; } = HiddenNormalization.BatchNorm;

    /// <summary>
    /// Rows per mini-batch; default 64. At least 2 with batch-statistics normalization (every kind but None, LayerNorm,
    /// GroupNorm and InstanceNorm), and at most the training rows. An epoch uses every row once, except that with
    /// batch-statistics normalization a batch of one row is left out of its epoch (see <see cref="BatchOrder"/>).
    /// </summary>
    public int BatchSize { get; set; } = 64;

    /// <summary>Passes over the training data; default 5.</summary>
    public int Epochs { get; set; } = 5;

    /// <summary>SGD step size; default 0.01.</summary>
    public double LearningRate { get; set; } = 0.01;

    /// <summary>SGD momentum, finite and not negative; default 0.9.</summary>
    public double Momentum { get; set; } = 0.9;

    /// <summary>L2 weight decay λ, finite and not negative; default 0.</summary>
    public double WeightDecay { get; set; }

    /// <summary>Seed of initialization, batch order and noise; the same seed gives bit-identical weights. Default 1.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>
    /// How batches are drawn; default <see cref="BatchOrder.Shuffled"/>. With batch-statistics normalization, which
    /// needs two values per channel, a batch of one row is left out of its epoch: in shuffled order the last batch when
    /// the rows leave one over; in class-grouped order a batch that holds a single row (with one class per batch, a
    /// class's chunk of one row; else at most the epoch's last batch). No other row is ever left out.
    /// </summary>
    public BatchOrder BatchOrder { get; set; } = BatchOrder.Shuffled;

    /// <summary>
    /// Classes per batch for <see cref="BatchOrder.ClassGrouped"/>; default 2. Each batch holds ⌊BatchSize / k⌋ rows
    /// of each of k distinct classes, k being this capped by the classes that have rows and by BatchSize, and every class
    /// is consumed at the same rate throughout the epoch (see <see cref="BatchOrder.ClassGrouped"/>). With 1 and
    /// batch-statistics normalization, at least one class needs 2 training rows, else every batch would be left out and
    /// training is refused.
    /// </summary>
    public int ClassesPerBatch { get; set; } = 2;

    /// <summary>The rmax/dmax relaxation for <see cref="HiddenNormalization.BatchRenorm"/>; default the paper's.</summary>
    public RenormSchedule RenormSchedule { get; set; } = new();

    /// <summary>The moving-average rate α in (0, 1] of <see cref="HiddenNormalization.BatchRenorm"/>; default 0.01 (the paper's).</summary>
    public double RenormAlpha { get; set; } = 0.01;

    /// <summary>Groups for <see cref="HiddenNormalization.GroupNorm"/>, dividing the channels of every normalized layer; default 32.</summary>
    public int GroupNormGroups { get; set; } = 32;

    /// <summary>Called after each step's backward pass, before the SGD update (e.g. to probe the loss landscape); null for none.</summary>
    public TrainingStepHook? BeforeUpdate { get; set; }

    /// <summary>Called after every epoch; null for none.</summary>
    public Action<EpochReport>? EpochCompleted { get; set; }

    /// <summary>
    /// Checks every option that does not depend on the data: the catalog method calls it when it creates the trainer,
    /// and training calls it again. Each error is an <see cref="ArgumentException"/> whose parameter and message start
    /// with the option's name.
    /// </summary>
    internal void Validate()
    {
        if (!Enum.IsDefined(Normalization))
            throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization, $"Normalization {(int)Normalization} is not a {nameof(HiddenNormalization)} value.");
        if (!Enum.IsDefined(BatchOrder))
            throw new ArgumentOutOfRangeException(nameof(BatchOrder), BatchOrder, $"BatchOrder {(int)BatchOrder} is not a {nameof(Training.BatchOrder)} value.");
        ValidateArchitecture();
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"BatchSize must be positive, got {BatchSize}.");
        if (BatchSize < 2 && UsesBatchStatistics)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize,
                $"BatchSize must be at least 2 with Normalization {Normalization}, got {BatchSize}: batch statistics over one value per channel are undefined.");
        if (Epochs < 1)
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be positive, got {Epochs}.");
        if (!(LearningRate > 0) || double.IsInfinity(LearningRate))
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, $"LearningRate must be positive and finite, got {LearningRate}.");
        if (!(Momentum >= 0) || double.IsInfinity(Momentum))
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, $"Momentum must be finite and not negative, got {Momentum}.");
        if (!(WeightDecay >= 0) || double.IsInfinity(WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, $"WeightDecay must be finite and not negative, got {WeightDecay}.");
        if (ClassesPerBatch < 1)
            throw new ArgumentOutOfRangeException(nameof(ClassesPerBatch), ClassesPerBatch, $"ClassesPerBatch must be positive, got {ClassesPerBatch}.");
        if (RenormSchedule is null)
            throw new ArgumentNullException(nameof(RenormSchedule), "RenormSchedule must not be null.");
        RenormSchedule.Validate(nameof(RenormSchedule));
        if (!(RenormAlpha > 0 && RenormAlpha <= 1))
            throw new ArgumentOutOfRangeException(nameof(RenormAlpha), RenormAlpha, $"RenormAlpha must be in (0, 1], got {RenormAlpha}.");
        if (GroupNormGroups < 1)
            throw new ArgumentOutOfRangeException(nameof(GroupNormGroups), GroupNormGroups, $"GroupNormGroups must be positive, got {GroupNormGroups}.");
        ValidateNormalizedWidths();
    }

    /// <summary>The architecture's own options (layer sizes, blocks), checked before the shared ones.</summary>
    private protected abstract void ValidateArchitecture();

    /// <summary>The channel counts of the normalized layers, with the option that sets each, as far as known without data.</summary>
    private protected abstract IEnumerable<(int Channels, string Option)> NormalizedWidths();

    /// <summary>Throws when <see cref="GroupNormGroups"/> does not divide a normalized layer's channels.</summary>
    private void ValidateNormalizedWidths()
    {
        if (Normalization != HiddenNormalization.GroupNorm)
            return;
        foreach (var (channels, option) in NormalizedWidths())
            if (channels % GroupNormGroups != 0)
                throw new ArgumentOutOfRangeException(nameof(GroupNormGroups), GroupNormGroups,
                    $"GroupNormGroups {GroupNormGroups} does not divide {option} = {channels}: group norm splits each normalized layer's channels into equal groups.");
    }

    /// <summary>
    /// The normalization layer after a hidden layer of <paramref name="channels"/> channels of
    /// <paramref name="spatialSize"/> values each; null for <see cref="HiddenNormalization.None"/>.
    /// </summary>
    internal NormalizationLayer? CreateNormalization(int channels, int spatialSize, int seed) => Normalization switch
    {
        HiddenNormalization.None => null,
        HiddenNormalization.BatchNorm => new BatchNormLayer(channels, spatialSize),
        HiddenNormalization.BatchRenorm => new BatchRenormLayer(channels, spatialSize, RenormSchedule, RenormAlpha),
        HiddenNormalization.NoisyBatchNorm => new NoisyBatchNormLayer(channels, spatialSize, seed: seed),
        HiddenNormalization.L1BatchNorm => new LpBatchNormLayer(channels, spatialSize, LpNorm.L1),
        HiddenNormalization.L2BatchNorm => new LpBatchNormLayer(channels, spatialSize, LpNorm.L2),
        HiddenNormalization.LInfBatchNorm => new LpBatchNormLayer(channels, spatialSize, LpNorm.LInf),
        HiddenNormalization.LayerNorm => new LayerNormLayer(channels, spatialSize),
        HiddenNormalization.GroupNorm => new GroupNormLayer(channels, spatialSize, GroupNormGroups),
        HiddenNormalization.InstanceNorm => new InstanceNormLayer(channels, spatialSize),
        _ => throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization, "Unknown normalization."),
    };

    /// <summary>A shallow copy that reports epochs to <paramref name="epochCompleted"/> instead.</summary>
    internal NetworkTrainingOptions WithEpochCallback(Action<EpochReport> epochCompleted)
    {
        var copy = (NetworkTrainingOptions)MemberwiseClone();
        copy.EpochCompleted = epochCompleted;
        return copy;
    }

    /// <summary>Whether the normalization computes statistics over the batch, which then needs 2 values per channel.</summary>
    internal bool UsesBatchStatistics => Normalization is not (HiddenNormalization.None or HiddenNormalization.LayerNorm
        or HiddenNormalization.GroupNorm or HiddenNormalization.InstanceNorm);
}
