namespace MLNet.Normalization.Training;

/// <summary>
/// A classifier network trained with SGD on softmax cross-entropy, and what its training recorded: the loop every
/// network trainer of the library shares. Deterministic: the same options and data give bit-identical weights on one
/// machine, for any thread count.
/// </summary>
public abstract class NetworkTraining
{
    private readonly List<float> _stepLosses = [];
    private readonly List<EpochReport> _epochs = [];

    private protected NetworkTraining(Sequential network, int classes)
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

    /// <summary>Class scores (logits) of <paramref name="rows"/> rows in inference mode, written into <paramref name="scores"/>.</summary>
    public void Score(ReadOnlySpan<float> features, int rows, Span<float> scores)
        => Network.Forward(features, rows, training: false).CopyTo(scores);

    /// <summary>The fraction of rows whose highest score is their label, in inference mode.</summary>
    public double Accuracy(LabeledData data)
    {
        ArgumentNullException.ThrowIfNull(data);
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

    /// <summary>Checks the training and validation data against each other and the options, before a network is built.</summary>
    private protected static void CheckData(LabeledData train, NetworkTrainingOptions options, LabeledData? validation)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        train.Validate(nameof(train));
        validation?.Validate(nameof(validation));
        if (validation is not null && (validation.FeatureCount != train.FeatureCount || validation.Classes != train.Classes))
            throw new ArgumentException($"validation has {validation.FeatureCount} features and {validation.Classes} classes, training {train.FeatureCount} and {train.Classes}.", nameof(validation));
        if (options.BatchSize > train.Rows)
            throw new ArgumentOutOfRangeException(nameof(options.BatchSize), options.BatchSize, $"BatchSize {options.BatchSize} is larger than the {train.Rows} training rows.");
        if (validation is not null)
        {
            var trained = train.Labels.ToHashSet();
            int missing = validation.Labels.FirstOrDefault(label => !trained.Contains(label), -1);
            if (missing >= 0)
                throw new ArgumentException($"validation has class {missing}, which no training row has.", nameof(validation));
        }
    }

    /// <summary>Runs the epochs of <paramref name="options"/> over <paramref name="train"/> on this run's network.</summary>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite; the message names the epoch and step.</exception>
    private protected void Run(LabeledData train, NetworkTrainingOptions options, LabeledData? validation)
    {
        var optimizer = new SgdOptimizer(Network.Parameters, options.LearningRate, options.Momentum, options.WeightDecay);
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
                var logits = Network.Forward(batchFeatures.AsSpan(0, count * train.FeatureCount), count, training: true);
                var gradient = logitsGradient.AsSpan(0, count * train.Classes);
                double loss = SoftmaxCrossEntropy.Compute(logits, batchLabels.AsSpan(0, count), train.Classes, gradient, out int right);
                if (!double.IsFinite(loss))
                    throw new InvalidOperationException($"Training diverged at epoch {epoch}, step {step}: the loss is {loss}. Lower the learning rate or add normalization.");
                _stepLosses.Add((float)loss);
                lossSum += loss;
                correct += right;
                seen += count;
                Network.ZeroGradients();
                Network.Backward(gradient);
                options.BeforeUpdate?.Invoke(new TrainingStep(epoch, _stepLosses.Count, Network,
                    batchFeatures.AsSpan(0, count * train.FeatureCount), batchLabels.AsSpan(0, count), loss));
                optimizer.Step();
            }
            if (step == 0)
                throw new InvalidOperationException($"Epoch {epoch} made no training step: every batch was left out.");
            var report = new EpochReport(epoch, lossSum / step, (double)correct / seen, validation is null ? null : Accuracy(validation));
            _epochs.Add(report);
            options.EpochCompleted?.Invoke(report);
        }
    }
}
