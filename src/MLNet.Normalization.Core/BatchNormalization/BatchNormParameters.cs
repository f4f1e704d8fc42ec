namespace MLNet.Normalization;

/// <summary>
/// Inference parameters of batch normalization: y = γ[c] (x − runningMean[c]) / √(runningVariance[c] + ε) + β[c].
/// </summary>
/// <remarks>
/// <para>
/// Bringing parameters from elsewhere (all per channel):
/// PyTorch <c>BatchNorm*d</c>: <c>new(bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps)</c> (ε 1e-5 by default);
/// Keras <c>BatchNormalization</c>: <see cref="FromKeras"/> (moving_mean, moving_variance, gamma, beta, epsilon 1e-3 by default);
/// ONNX <c>BatchNormalization</c>: <see cref="FromOnnx"/> (scale, B, input_mean, input_var, epsilon 1e-5 by default).
/// All three apply the same inference formula above, so their stored values are used as they are; pass the
/// framework's ε, since the defaults differ.
/// </para>
/// <para>
/// The frameworks differ in how training fills the running statistics, in two ways. Momentum direction: PyTorch's
/// momentum (0.1) weights the new batch, running = (1 − m) · running + m · batch; Keras' (0.99) and ONNX's (0.9) weight
/// the old value, running = m · running + (1 − m) · batch. Running variance: PyTorch averages the unbiased batch
/// variance (n / (n − 1) times the biased one, n values per channel in the batch); Keras and ONNX (training mode,
/// opset 14 and 15) average the biased one. So the same data give slightly different running variances, larger in
/// PyTorch by up to n / (n − 1). The BatchNorm transform's <c>BatchNormOptions</c> and <see cref="Training.BatchNormLayer"/> follow PyTorch by
/// default; their <c>UnbiasedRunningVariance</c> false and momentum 1 − m reproduce Keras and ONNX.
/// </para>
/// </remarks>
public sealed class BatchNormParameters
{
    private readonly float[] _runningMean;
    private readonly float[] _runningVariance;
    private readonly float[] _gamma;
    private readonly float[] _beta;

    /// <summary>Creates parameters for <c>runningMean.Length</c> channels.</summary>
    /// <param name="runningMean">Per-channel mean, finite.</param>
    /// <param name="runningVariance">Per-channel variance, finite and not negative.</param>
    /// <param name="gamma">Per-channel scale γ; null for 1.</param>
    /// <param name="beta">Per-channel shift β; null for 0.</param>
    /// <param name="epsilon">ε added to the variance, positive; default 1e-5 (PyTorch, ONNX).</param>
    public BatchNormParameters(float[] runningMean, float[] runningVariance, float[]? gamma = null, float[]? beta = null, float epsilon = 1e-5f)
    {
        ArgumentNullException.ThrowIfNull(runningMean);
        ArgumentNullException.ThrowIfNull(runningVariance);
        if (runningMean.Length == 0)
            throw new ArgumentException("Batch-norm parameters need at least one channel; runningMean is empty.", nameof(runningMean));
        int channels = runningMean.Length;
        Guard.CheckParameterLength(channels, nameof(runningMean));
        Guard.CheckLength(runningVariance, channels, nameof(runningVariance));
        Guard.CheckLength(gamma, channels, nameof(gamma));
        Guard.CheckLength(beta, channels, nameof(beta));
        Guard.CheckFinite(runningMean, nameof(runningMean));
        Guard.CheckFinite(runningVariance, nameof(runningVariance));
        Guard.CheckFinite(gamma, nameof(gamma));
        Guard.CheckFinite(beta, nameof(beta));
        for (int c = 0; c < channels; c++)
            if (runningVariance[c] < 0)
                throw new ArgumentOutOfRangeException(nameof(runningVariance), $"runningVariance[{c}] must not be negative, got {runningVariance[c]}.");
        Guard.CheckEpsilon(epsilon);

        _runningMean = (float[])runningMean.Clone();
        _runningVariance = (float[])runningVariance.Clone();
        _gamma = gamma is null ? Enumerable.Repeat(1f, channels).ToArray() : (float[])gamma.Clone();
        _beta = beta is null ? new float[channels] : (float[])beta.Clone();
        Epsilon = epsilon;
    }

    /// <summary>From a Keras <c>BatchNormalization</c> layer's weights; Keras' default epsilon is 1e-3.</summary>
    public static BatchNormParameters FromKeras(float[] movingMean, float[] movingVariance, float[]? gamma = null, float[]? beta = null, float epsilon = 1e-3f)
        => new(movingMean, movingVariance, gamma, beta, epsilon);

    /// <summary>From an ONNX <c>BatchNormalization</c> node's inputs (scale, B, input_mean, input_var) and its epsilon attribute (default 1e-5).</summary>
    public static BatchNormParameters FromOnnx(float[] scale, float[] bias, float[] inputMean, float[] inputVariance, float epsilon = 1e-5f)
        => new(inputMean, inputVariance, scale, bias, epsilon);

    /// <summary>The number of channels.</summary>
    public int Channels => _runningMean.Length;

    /// <summary>Per-channel running mean.</summary>
    public IReadOnlyList<float> RunningMean => _runningMean;

    /// <summary>Per-channel running variance.</summary>
    public IReadOnlyList<float> RunningVariance => _runningVariance;

    /// <summary>Per-channel scale γ.</summary>
    public IReadOnlyList<float> Gamma => _gamma;

    /// <summary>Per-channel shift β.</summary>
    public IReadOnlyList<float> Beta => _beta;

    /// <summary>ε added to the variance inside the square root.</summary>
    public float Epsilon { get; }
}
