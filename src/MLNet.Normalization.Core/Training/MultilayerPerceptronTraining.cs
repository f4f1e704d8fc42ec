namespace MLNet.Normalization.Training;

/// <summary>Rows of features with a class label each, row-major.</summary>
/// <param name="Features">Rows × FeatureCount values.</param>
/// <param name="Labels">One class in 0..Classes−1 per row.</param>
/// <param name="FeatureCount">Values per row.</param>
/// <param name="Classes">The number of classes.</param>
public sealed record LabeledData(float[] Features, int[] Labels, int FeatureCount, int Classes)
{
    /// <summary>The number of rows.</summary>
    public int Rows => Labels.Length;

    internal void Validate(string name)
    {
        if (FeatureCount <= 0 || FeatureCount > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, FeatureCount,
                $"{name}.FeatureCount must be 1 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength), got {FeatureCount}.");
        if (Classes < 2 || Classes > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, Classes,
                $"{name}.Classes must be 2 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength): a classifier needs at least 2 classes, got {Classes}.");
        if (Features.Length != (long)Rows * FeatureCount)
            throw new ArgumentException($"{name} has {Features.Length} feature values for {Rows} rows of {FeatureCount}.", name);
        for (int n = 0; n < Rows; n++)
        {
            if ((uint)Labels[n] >= (uint)Classes)
                throw new ArgumentException($"{name} row {n} has label {Labels[n]}, not a class in 0..{Classes - 1}.", name);
            var row = Features.AsSpan(n * FeatureCount, FeatureCount);
            int slot = Kernels.NonFinite.IndexOf(row);
            if (slot >= 0)
                throw new ArgumentException($"{name} row {n} has the non-finite feature {row[slot]} at slot {slot}.", name);
        }
    }
}

/// <summary>
/// A multilayer perceptron classifier trained with SGD: Linear → normalization → ReLU per hidden layer, then Linear,
/// softmax cross-entropy loss. Deterministic: the same options and data give bit-identical weights on one machine.
/// </summary>
public sealed class MultilayerPerceptronTraining
{
    private readonly List<float> _stepLosses = [];
    private readonly List<EpochReport> _epochs = [];

    private MultilayerPerceptronTraining(Sequential network, int classes)
    {
        Network = network;
        Classes = classes;
    }

    /// <summary>The layers, normalization included.</summary>
    public Sequential Network { get; }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The training loss of every step, in order.</summary>
    public IReadOnlyList<float> StepLosses => _stepLosses;

    /// <summary>One report per epoch.</summary>
    public IReadOnlyList<EpochReport> Epochs => _epochs;

    /// <summary>Builds the network of <paramref name="options"/> for the given sizes, initialized from its seed.</summary>
    /// <exception cref="ArgumentException">An option is out of range, or the network would exceed <see cref="ModelLimits"/>.</exception>
    public static Sequential Build(int features, int classes, MultilayerPerceptronOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options.ValidateNetwork(features, classes, "the features argument", "the classes argument");
        var layers = new List<Layer>();
        int inputs = features, seed = options.Seed;
        foreach (int hidden in options.HiddenLayers)
        {
            layers.Add(new LinearLayer(inputs, hidden, seed++));
            if (CreateNormalization(hidden, options, seed++) is { } normalization)
                layers.Add(normalization);
            layers.Add(new ReluLayer(hidden));
            inputs = hidden;
        }
        layers.Add(new LinearLayer(inputs, classes, seed));
        return new Sequential(layers);
    }

    private static NormalizationLayer? CreateNormalization(int features, MultilayerPerceptronOptions options, int seed) => options.Normalization switch
    {
        HiddenNormalization.None => null,
        HiddenNormalization.BatchNorm => new BatchNormLayer(features),
        HiddenNormalization.BatchRenorm => new BatchRenormLayer(features, schedule: options.RenormSchedule, alpha: options.RenormAlpha),
        HiddenNormalization.NoisyBatchNorm => new NoisyBatchNormLayer(features, seed: seed),
        HiddenNormalization.L1BatchNorm => new LpBatchNormLayer(features, norm: LpNorm.L1),
        HiddenNormalization.L2BatchNorm => new LpBatchNormLayer(features, norm: LpNorm.L2),
        HiddenNormalization.LInfBatchNorm => new LpBatchNormLayer(features, norm: LpNorm.LInf),
        HiddenNormalization.LayerNorm => new LayerNormLayer(features),
        HiddenNormalization.GroupNorm => new GroupNormLayer(features, groups: options.GroupNormGroups),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Normalization, "Unknown normalization."),
    };

    /// <summary>Trains a network on <paramref name="train"/>, reporting validation accuracy after each epoch when given.</summary>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite; the message names the epoch and step.</exception>
    public static MultilayerPerceptronTraining Train(LabeledData train, MultilayerPerceptronOptions options, LabeledData? validation = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        train.Validate(nameof(train));
        validation?.Validate(nameof(validation));
        if (validation is not null && (validation.FeatureCount != train.FeatureCount || validation.Classes != train.Classes))
            throw new ArgumentException($"validation has {validation.FeatureCount} features and {validation.Classes} classes, training {train.FeatureCount} and {train.Classes}.", nameof(validation));
        options.ValidateNetwork(train.FeatureCount, train.Classes, "train.FeatureCount", "train.Classes");
        if (options.BatchSize > train.Rows)
            throw new ArgumentOutOfRangeException(nameof(options.BatchSize), options.BatchSize, $"BatchSize {options.BatchSize} is larger than the {train.Rows} training rows.");
        if (validation is not null)
        {
            var trained = train.Labels.ToHashSet();
            int missing = validation.Labels.FirstOrDefault(label => !trained.Contains(label), -1);
            if (missing >= 0)
                throw new ArgumentException($"validation has class {missing}, which no training row has.", nameof(validation));
        }

        var model = new MultilayerPerceptronTraining(Build(train.FeatureCount, train.Classes, options), train.Classes);
        var optimizer = new SgdOptimizer(model.Network.Parameters, options.LearningRate, options.Momentum, options.WeightDecay);
        // Batch statistics need two values per channel: only then is a batch of one row left out.
        var batches = new BatchSampler(train.Labels, train.Classes, options.BatchSize, options.BatchOrder, options.ClassesPerBatch, options.Seed,
            dropSingleRowBatches: options.UsesBatchStatistics);
        // BatchSize is at least 2 and at most the rows here, so only one class per batch can leave every batch out.
        if (!batches.EpochsHaveSteps)
            throw new ArgumentOutOfRangeException(nameof(options.ClassesPerBatch), options.ClassesPerBatch,
                $"ClassesPerBatch {options.ClassesPerBatch} with BatchOrder {options.BatchOrder} draws every batch from one class, and no class has 2 training rows: "
                + $"with Normalization {options.Normalization}, whose batch statistics need 2 rows, every batch would be left out and an epoch would make no step. "
                + "Use ClassesPerBatch 2 or more, or BatchOrder Shuffled.");
        var batchFeatures = new float[options.BatchSize * train.FeatureCount];
        var batchLabels = new int[options.BatchSize];
        var logitsGradient = new float[options.BatchSize * train.Classes];

        for (int epoch = 1; epoch <= options.Epochs; epoch++)
        {
            double lossSum = 0;
            long correct = 0, seen = 0;
            int step = 0;
            foreach (var batch in batches.NextEpoch())
            {
                step++;
                var rows = batch.Span;
                int count = rows.Length;
                for (int i = 0; i < count; i++)
                {
                    train.Features.AsSpan(rows[i] * train.FeatureCount, train.FeatureCount).CopyTo(batchFeatures.AsSpan(i * train.FeatureCount));
                    batchLabels[i] = train.Labels[rows[i]];
                }
                var logits = model.Network.Forward(batchFeatures.AsSpan(0, count * train.FeatureCount), count, training: true);
                var gradient = logitsGradient.AsSpan(0, count * train.Classes);
                double loss = SoftmaxCrossEntropy.Compute(logits, batchLabels.AsSpan(0, count), train.Classes, gradient, out int right);
                if (!double.IsFinite(loss))
                    throw new InvalidOperationException($"Training diverged at epoch {epoch}, step {step}: the loss is {loss}. Lower the learning rate or add normalization.");
                model._stepLosses.Add((float)loss);
                lossSum += loss;
                correct += right;
                seen += count;
                model.Network.ZeroGradients();
                model.Network.Backward(gradient);
                options.BeforeUpdate?.Invoke(new TrainingStep(epoch, model._stepLosses.Count, model.Network,
                    batchFeatures.AsSpan(0, count * train.FeatureCount), batchLabels.AsSpan(0, count), loss));
                optimizer.Step();
            }
            if (step == 0)
                throw new InvalidOperationException($"Epoch {epoch} made no training step: every batch was left out.");
            var report = new EpochReport(epoch, lossSum / step, (double)correct / seen, validation is null ? null : model.Accuracy(validation));
            model._epochs.Add(report);
            options.EpochCompleted?.Invoke(report);
        }
        return model;
    }

    /// <summary>Class scores (logits) of <paramref name="rows"/> rows in inference mode, written into <paramref name="scores"/>.</summary>
    public void Score(ReadOnlySpan<float> features, int rows, Span<float> scores)
        => Network.Forward(features, rows, training: false).CopyTo(scores);

    /// <summary>The fraction of rows whose highest score is their label, in inference mode.</summary>
    public double Accuracy(LabeledData data)
    {
        const int chunk = 256;
        long correct = 0;
        for (int start = 0; start < data.Rows; start += chunk)
        {
            int count = Math.Min(chunk, data.Rows - start);
            var scores = Network.Forward(data.Features.AsSpan(start * data.FeatureCount, count * data.FeatureCount), count, training: false);
            for (int i = 0; i < count; i++)
            {
                var row = scores.Slice(i * Classes, Classes);
                int best = 0;
                for (int k = 1; k < Classes; k++)
                    if (row[k] > row[best])
                        best = k;
                if (best == data.Labels[start + i])
                    correct++;
            }
        }
        return (double)correct / data.Rows;
    }
}
