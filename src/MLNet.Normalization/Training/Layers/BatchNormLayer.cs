using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Training;

/// <summary>
/// Batch normalization, as PyTorch's <c>BatchNorm1d</c>/<c>BatchNorm2d</c>. Training: y = γ (x − μ_B) / √(σ²_B + ε) + β
/// with the batch mean and biased variance per channel, and running = (1 − momentum) · running + momentum · batch
/// statistic with the unbiased batch variance. Inference: the running statistics in place of the batch's.
/// </summary>
public class BatchNormLayer : NormalizationLayer
{
    private readonly double[] _batchMean;
    private readonly double[] _batchVariance;
    private readonly double[] _inverseStd;
    private readonly float[] _scale;
    private readonly float[] _shift;
    private readonly float[] _backwardWorkspace;

    /// <summary>Creates the layer.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S, 1 for (rows, C) batches.</param>
    /// <param name="momentum">Weight of each new batch in the running statistics, in (0, 1]; null for a cumulative average. Default 0.1.</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    public BatchNormLayer(int channels, int spatialSize = 1, double? momentum = 0.1, float epsilon = 1e-5f)
        : base(channels, spatialSize, channels)
    {
        if (momentum is { } m && !(m > 0 && m <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in (0, 1] or null, got {m}.");
        BatchNormParameters.CheckEpsilon(epsilon);
        Momentum = momentum;
        Epsilon = epsilon;
        RunningMean = new float[channels];
        RunningVariance = Enumerable.Repeat(1f, channels).ToArray();
        _batchMean = new double[channels];
        _batchVariance = new double[channels];
        _inverseStd = new double[channels];
        _scale = new float[channels];
        _shift = new float[channels];
        _backwardWorkspace = new float[3 * channels];
    }

    /// <summary>Per-channel running mean, 0 initially.</summary>
    public float[] RunningMean { get; }

    /// <summary>Per-channel running (unbiased) variance, 1 initially.</summary>
    public float[] RunningVariance { get; }

    /// <summary>The weight of each new batch (PyTorch convention); null for a cumulative average.</summary>
    public double? Momentum { get; }

    /// <summary>ε inside the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Training batches seen.</summary>
    public long BatchesTracked { get; private set; }

    /// <summary>The inference parameters: running statistics, γ, β and ε.</summary>
    public BatchNormParameters ToParameters() => new(RunningMean, RunningVariance, Gamma, Beta, Epsilon);

    private protected override void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        CheckMoreThanOneValuePerChannel(shape);
        BatchNormKernel.ForwardTraining(input, output, shape, Gamma, Beta, Epsilon, _batchMean, _batchVariance, _inverseStd, _scale, _shift);
        BatchesTracked++;
        double factor = RunningAverage.Factor(Momentum, BatchesTracked);
        RunningAverage.Update(RunningMean, _batchMean, factor);
        for (int c = 0; c < Channels; c++)
            _batchVariance[c] = RunningAverage.Unbiased(_batchVariance[c], shape.ValuesPerChannel);
        RunningAverage.Update(RunningVariance, _batchVariance, factor);
    }

    /// <summary>scale = γ / √(running var + ε), shift = β − running mean · scale.</summary>
    internal override bool TryGetInferenceAffine(Span<float> scale, Span<float> shift)
    {
        for (int c = 0; c < Channels; c++)
        {
            double s = Gamma[c] / Math.Sqrt((double)RunningVariance[c] + Epsilon);
            scale[c] = (float)s;
            shift[c] = (float)(Beta[c] - RunningMean[c] * s);
        }
        return true;
    }

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape)
        => BatchNormKernel.Backward(outputGradient, input, inputGradient, shape, Gamma, _batchMean, _inverseStd, GammaGradient, BetaGradient, _backwardWorkspace);
}
