using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Training;

/// <summary>
/// Batch normalization, as PyTorch's <c>BatchNorm1d</c>/<c>BatchNorm2d</c>. Training: y = γ (x − μ_B) / √(σ²_B + ε) + β
/// with the batch mean μ_B and biased variance σ²_B per channel (over rows × spatial positions, n values), then
/// running = (1 − momentum) · running + momentum · batch statistic, where the batch variance is the unbiased
/// σ²_B · n / (n − 1) (PyTorch) or, with <see cref="UnbiasedRunningVariance"/> false, σ²_B itself (Keras, ONNX).
/// Inference: y = γ (x − running mean) / √(running variance + ε) + β.
/// </summary>
public class BatchNormLayer : NormalizationLayer
{
    private readonly double[] _batchMean;
    private readonly double[] _batchVariance;
    private readonly double[] _inverseStd;
    private readonly float[] _scale;
    private readonly float[] _shift;
    private readonly float[] _backwardWorkspace;

    /// <summary>Creates the layer, with running mean 0 and running variance 1.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S, 1 for (rows, C) batches.</param>
    /// <param name="momentum">
    /// PyTorch's momentum: the weight of each new batch in the running statistics, in [0, 1]; 0 freezes them (ONNX's
    /// momentum 1); null for a cumulative average (PyTorch's None). Default 0.1. Keras' and ONNX's momentum weight the
    /// old value: pass 1 − theirs (Keras' 0.99 is 0.01, ONNX's 0.9 is 0.1).
    /// </param>
    /// <param name="epsilon">ε, positive; default 1e-5 (PyTorch, ONNX; Keras' default is 1e-3).</param>
    /// <param name="unbiasedRunningVariance">
    /// Whether the running variance averages the unbiased batch variance (true, the default: PyTorch) or the biased one
    /// (false: Keras, ONNX's <c>BatchNormalization</c> in training mode); see <see cref="UnbiasedRunningVariance"/>.
    /// </param>
    public BatchNormLayer(int channels, int spatialSize = 1, double? momentum = 0.1, float epsilon = 1e-5f, bool unbiasedRunningVariance = true)
        : base(channels, spatialSize, channels)
    {
        if (momentum is { } m && !(m >= 0 && m <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in [0, 1] or null, got {m}.");
        Guard.CheckEpsilon(epsilon);
        Momentum = momentum;
        Epsilon = epsilon;
        UnbiasedRunningVariance = unbiasedRunningVariance;
        RunningMean = new float[channels];
        RunningVariance = Enumerable.Repeat(1f, channels).ToArray();
        _batchMean = new double[channels];
        _batchVariance = new double[channels];
        _inverseStd = new double[channels];
        _scale = new float[channels];
        _shift = new float[channels];
        _backwardWorkspace = new float[3 * channels];
    }

    /// <summary>
    /// Per-channel running mean, 0 initially. The array is the layer's state: copy values into it to start from given
    /// statistics (e.g. ONNX's input_mean, a PyTorch running_mean).
    /// </summary>
    public float[] RunningMean { get; }

    /// <summary>
    /// Per-channel running variance, 1 initially; the average of unbiased or biased batch variances as
    /// <see cref="UnbiasedRunningVariance"/> says. The array is the layer's state: copy values into it to start from
    /// given statistics (e.g. ONNX's input_var, a PyTorch running_var).
    /// </summary>
    public float[] RunningVariance { get; }

    /// <summary>The weight of each new batch (PyTorch convention, 0 for frozen statistics); null for a cumulative average.</summary>
    public double? Momentum { get; }

    /// <summary>
    /// True when a training step averages the unbiased batch variance σ²_B · n / (n − 1) into <see cref="RunningVariance"/>
    /// (PyTorch), false when it averages the biased σ²_B (Keras, ONNX). The forward pass normalizes with the biased
    /// σ²_B either way.
    /// </summary>
    public bool UnbiasedRunningVariance { get; }

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
        if (UnbiasedRunningVariance)
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
