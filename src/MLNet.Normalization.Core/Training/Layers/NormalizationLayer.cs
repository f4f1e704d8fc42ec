using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Training;

/// <summary>
/// The state every normalization layer shares, as PyTorch's <c>_NormBase</c>: a batch laid out as
/// (rows, channels, spatial), learned γ and β with their gradients, and what the last training forward kept for
/// the backward pass. Subclasses are the statistics: batch, batch renorm, noisy, ℓp, layer and group.
/// </summary>
public abstract class NormalizationLayer : Layer
{
    private readonly float[] _inferenceScale;
    private readonly float[] _inferenceShift;

    private protected NormalizationLayer(int channels, int spatialSize, int affineLength)
        : base(CheckedFeatures(channels, spatialSize), channels * spatialSize)
    {
        Guard.CheckParameterLength(affineLength, nameof(Gamma));
        _inferenceScale = new float[channels];
        _inferenceShift = new float[channels];
        Channels = channels;
        SpatialSize = spatialSize;
        Gamma = Enumerable.Repeat(1f, affineLength).ToArray();
        Beta = new float[affineLength];
        GammaGradient = new float[affineLength];
        BetaGradient = new float[affineLength];
        Parameters = [new Parameter("gamma", Gamma, GammaGradient), new Parameter("beta", Beta, BetaGradient)];
    }

    private static int CheckedFeatures(int channels, int spatialSize)
    {
        if (channels <= 0)
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"channels must be positive, got {channels}.");
        if (spatialSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(spatialSize), spatialSize, $"spatialSize must be positive, got {spatialSize}.");
        return checked(channels * spatialSize);
    }

    /// <summary>The number of channels C.</summary>
    public int Channels { get; }

    /// <summary>The number of spatial positions S per channel (1 for a (rows, C) batch).</summary>
    public int SpatialSize { get; }

    /// <summary>Values per row: C · S.</summary>
    public int Features => InputFeatures;

    /// <summary>The learned scale γ, 1 initially.</summary>
    public float[] Gamma { get; }

    /// <summary>The learned shift β, 0 initially.</summary>
    public float[] Beta { get; }

    /// <summary>dL/dγ, accumulated by <see cref="Layer.Backward"/> until <see cref="Layer.ZeroGradients"/>.</summary>
    public float[] GammaGradient { get; }

    /// <summary>dL/dβ, accumulated by <see cref="Layer.Backward"/> until <see cref="Layer.ZeroGradients"/>.</summary>
    public float[] BetaGradient { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Sets γ and β, as long as the layer's and finite, or throws naming the first value that is not.</summary>
    internal void SetAffine(ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta)
    {
        if (gamma.Length != Gamma.Length || beta.Length != Beta.Length)
            throw new ArgumentException($"The layer has {Gamma.Length} values of gamma and beta, got {gamma.Length} and {beta.Length}.", nameof(gamma));
        CheckFinite(gamma, "gamma");
        CheckFinite(beta, "beta");
        gamma.CopyTo(Gamma);
        beta.CopyTo(Beta);
    }

    private protected sealed override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
    {
        var shape = new NcsShape(rows, Channels, SpatialSize);
        if (!training)
        {
            if (TryGetInferenceAffine(_inferenceScale, _inferenceShift))
                BatchNormKernel.ApplyChannelAffine(input, output, shape, _inferenceScale, _inferenceShift);
            else
                ForwardInference(input, output, shape);
            return;
        }
        EnsureCapacity(shape);
        ForwardTraining(input, output, shape);
    }

    private protected sealed override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
        => BackwardCore(outputGradient, input, inputGradient, new NcsShape(rows, Channels, SpatialSize));

    /// <summary>Grows per-batch buffers to hold a batch of this shape.</summary>
    private protected virtual void EnsureCapacity(NcsShape shape)
    {
    }

    private protected abstract void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape);

    /// <summary>
    /// Writes the per-channel y = x · scale + shift that inference computes, for the layers whose inference is such a
    /// map (the batch-statistics layers; it lets a network fold them into the preceding Linear layer). False for
    /// per-sample layers, whose inference is <see cref="ForwardInference"/>.
    /// </summary>
    internal virtual bool TryGetInferenceAffine(Span<float> scale, Span<float> shift) => false;

    /// <summary>Inference of the layers that are not a per-channel affine map at inference.</summary>
    private protected virtual void ForwardInference(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
        => throw new InvalidOperationException($"{GetType().Name} has no inference forward.");

    private protected abstract void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape);

    /// <summary>PyTorch refuses batch statistics over one value per channel; so do the batch-statistics layers.</summary>
    private protected static void CheckMoreThanOneValuePerChannel(NcsShape shape)
    {
        if (shape.ValuesPerChannel < 2)
            throw new InvalidOperationException(
                $"Expected more than 1 value per channel when training, got a batch of {shape.Rows} row(s) × {shape.Spatial} position(s); use a batch size of at least 2.");
    }
}
