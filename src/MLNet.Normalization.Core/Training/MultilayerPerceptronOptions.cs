namespace MLNet.Normalization.Training;

/// <summary>The normalization after each hidden Linear layer (Linear → normalization → ReLU).</summary>
public enum HiddenNormalization
{
    /// <summary>Linear → ReLU.</summary>
    None,
    /// <summary><see cref="BatchNormLayer"/>.</summary>
    BatchNorm,
    /// <summary><see cref="BatchRenormLayer"/> with <see cref="MultilayerPerceptronOptions.RenormSchedule"/>.</summary>
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
    /// <summary><see cref="GroupNormLayer"/> with <see cref="MultilayerPerceptronOptions.GroupNormGroups"/> groups.</summary>
    GroupNorm,
}

/// <summary>How each epoch's rows are split into mini-batches.</summary>
public enum BatchOrder
{
    /// <summary>A fresh random permutation every epoch (i.i.d. batches).</summary>
    Shuffled,

    /// <summary>
    /// Non-i.i.d. batches for experiments: each batch holds ⌊BatchSize / k⌋ rows of each of k distinct classes, k being
    /// <see cref="MultilayerPerceptronOptions.ClassesPerBatch"/> (at most the classes that have rows, and BatchSize):
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
/// Options of <see cref="MultilayerPerceptronTraining.Train"/>. Defaults: 256-256 hidden, SGD lr 0.01, momentum 0.9, batch 64.
/// Training refuses an option out of range with an <see cref="ArgumentException"/> whose parameter and message start
/// with the option's name; the trainer's catalog method checks every option that does not depend on the data already.
/// </summary>
public class MultilayerPerceptronOptions
{
    /// <summary>
    /// Hidden layer sizes; default 256, 256. Each at most <see cref="ModelLimits.MaxParameterLength"/>, the network at most
    /// <see cref="ModelLimits.MaxLayers"/> layers and each Linear layer at most <see cref="ModelLimits.MaxLinearWeights"/> weights.
    /// </summary>
    public int[] HiddenLayers { get; set; } = [256, 256];

    /// <summary>The normalization after each hidden Linear layer; default <see cref="HiddenNormalization.BatchNorm"/>.</summary>
    public HiddenNormalization Normalization { get; set; } = HiddenNormalization.BatchNorm;

    /// <summary>
    /// Rows per mini-batch; default 64. At least 2 with batch-statistics normalization (every kind but None, LayerNorm
    /// and GroupNorm), and at most the training rows. An epoch uses every row once, except that with batch-statistics
    /// normalization a batch of one row is left out of its epoch (see <see cref="BatchOrder"/>).
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

    /// <summary>Groups for <see cref="HiddenNormalization.GroupNorm"/>, dividing every hidden layer size; default 32.</summary>
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
        if (HiddenLayers is null)
            throw new ArgumentNullException(nameof(HiddenLayers), "HiddenLayers must not be null; [] is a network without hidden layers.");
        if (HiddenLayers.Any(h => h <= 0))
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers), $"HiddenLayers must be positive, got [{string.Join(", ", HiddenLayers)}].");
        for (int i = 0; i < HiddenLayers.Length; i++)
            if (HiddenLayers[i] > ModelLimits.MaxParameterLength)
                throw new ArgumentOutOfRangeException(nameof(HiddenLayers),
                    $"HiddenLayers[{i}] is {HiddenLayers[i]} units wide; a layer is at most {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        if (!Enum.IsDefined(Normalization))
            throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization, $"Normalization {(int)Normalization} is not a {nameof(HiddenNormalization)} value.");
        if (!Enum.IsDefined(BatchOrder))
            throw new ArgumentOutOfRangeException(nameof(BatchOrder), BatchOrder, $"BatchOrder {(int)BatchOrder} is not a {nameof(Training.BatchOrder)} value.");
        long layers = LayerCount;
        if (layers > ModelLimits.MaxLayers)
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers),
                $"HiddenLayers has {HiddenLayers.Length} hidden layers, which with Normalization {Normalization} make a network of {layers} layers; a network has at most {ModelLimits.MaxLayers} (ModelLimits.MaxLayers).");
        for (int i = 1; i < HiddenLayers.Length; i++)
            CheckLinearWeights(HiddenLayers[i - 1], HiddenLayers[i], $"HiddenLayers[{i - 1}] → HiddenLayers[{i}] is a Linear layer of");
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
        if (Normalization == HiddenNormalization.GroupNorm)
            for (int i = 0; i < HiddenLayers.Length; i++)
                if (HiddenLayers[i] % GroupNormGroups != 0)
                    throw new ArgumentOutOfRangeException(nameof(GroupNormGroups), GroupNormGroups,
                        $"GroupNormGroups {GroupNormGroups} does not divide HiddenLayers[{i}] = {HiddenLayers[i]}: group norm splits each hidden layer's units into equal groups.");
    }

    /// <summary>
    /// Checks the network these options build for <paramref name="features"/> inputs and <paramref name="classes"/>
    /// outputs against <see cref="ModelLimits"/>, so that every model trained also saves and loads;
    /// <paramref name="featureSource"/> and <paramref name="classSource"/> say where the sizes come from.
    /// </summary>
    internal void ValidateNetwork(int features, int classes, string featureSource, string classSource)
    {
        if (features < 1 || features > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(nameof(features), features,
                $"{featureSource} gives {features} features; a network takes 1 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        if (classes < 2 || classes > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(nameof(classes), classes,
                $"{classSource} gives {classes} classes; a classifier has 2 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        if (HiddenLayers.Length == 0)
        {
            CheckLinearWeights(features, classes, $"HiddenLayers is empty: the {features} features of {featureSource} and the {classes} classes of {classSource} make a Linear layer of");
            return;
        }
        CheckLinearWeights(features, HiddenLayers[0], $"HiddenLayers[0] = {HiddenLayers[0]} and the {features} features of {featureSource} make a Linear layer of");
        CheckLinearWeights(HiddenLayers[^1], classes, $"HiddenLayers[{HiddenLayers.Length - 1}] = {HiddenLayers[^1]} and the {classes} classes of {classSource} make a Linear layer of");

        // Weights and biases of every Linear layer, γ and β of every normalization layer.
        long parameters = 0, inputs = features;
        foreach (long hidden in HiddenLayers)
        {
            parameters += inputs * hidden + hidden + (Normalization == HiddenNormalization.None ? 0 : 2 * hidden);
            inputs = hidden;
        }
        parameters += inputs * classes + classes;
        if (parameters > ModelLimits.MaxNetworkParameters)
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers), parameters,
                $"HiddenLayers [{string.Join(", ", HiddenLayers)}] with the {features} features of {featureSource} and the {classes} classes of {classSource} make a network of {parameters} learned values; a network holds at most {ModelLimits.MaxNetworkParameters} (ModelLimits.MaxNetworkParameters).");
    }

    /// <summary>The layers of the network these options build: Linear, normalization (unless None) and ReLU per hidden layer, then Linear.</summary>
    internal long LayerCount => HiddenLayers.Length * (Normalization == HiddenNormalization.None ? 2L : 3L) + 1;

    private static void CheckLinearWeights(long inputs, long outputs, string what)
    {
        long weights = inputs * outputs;
        if (weights > ModelLimits.MaxLinearWeights)
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers),
                $"{what} {inputs} × {outputs} = {weights} weights; a Linear layer holds at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
    }

    /// <summary>A shallow copy that reports epochs to <paramref name="epochCompleted"/> instead.</summary>
    internal MultilayerPerceptronOptions WithEpochCallback(Action<EpochReport> epochCompleted)
    {
        var copy = (MultilayerPerceptronOptions)MemberwiseClone();
        copy.EpochCompleted = epochCompleted;
        return copy;
    }

    internal bool UsesBatchStatistics => Normalization is not (HiddenNormalization.None or HiddenNormalization.LayerNorm or HiddenNormalization.GroupNorm);
}
