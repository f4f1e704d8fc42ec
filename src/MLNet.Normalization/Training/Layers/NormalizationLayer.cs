using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Training;

/// <summary>
/// The state every normalization layer shares, as PyTorch's <c>_NormBase</c>: a batch laid out as
/// (rows, channels, spatial), learned γ and β with their gradients, and what the last training forward kept for
/// the backward pass. Buffers grow to the largest batch seen and are reused, so a training loop allocates
/// nothing per step. Subclasses are the statistics: batch, batch renorm, noisy, ℓp, layer and group.
/// </summary>
public abstract class NormalizationLayer
{
    private float[] _input = [];
    private int _trainedRows;

    private protected NormalizationLayer(int channels, int spatialSize, int affineLength)
    {
        if (channels <= 0)
            throw new ArgumentOutOfRangeException(nameof(channels), channels, $"channels must be positive, got {channels}.");
        if (spatialSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(spatialSize), spatialSize, $"spatialSize must be positive, got {spatialSize}.");
        Channels = channels;
        SpatialSize = spatialSize;
        Gamma = Enumerable.Repeat(1f, affineLength).ToArray();
        Beta = new float[affineLength];
        GammaGradient = new float[affineLength];
        BetaGradient = new float[affineLength];
    }

    /// <summary>The number of channels C.</summary>
    public int Channels { get; }

    /// <summary>The number of spatial positions S per channel (1 for a (rows, C) batch).</summary>
    public int SpatialSize { get; }

    /// <summary>Values per row: C · S.</summary>
    public int Features => Channels * SpatialSize;

    /// <summary>The learned scale γ, 1 initially.</summary>
    public float[] Gamma { get; }

    /// <summary>The learned shift β, 0 initially.</summary>
    public float[] Beta { get; }

    /// <summary>dL/dγ, accumulated by <see cref="Backward"/> until <see cref="ZeroGradients"/>.</summary>
    public float[] GammaGradient { get; }

    /// <summary>dL/dβ, accumulated by <see cref="Backward"/> until <see cref="ZeroGradients"/>.</summary>
    public float[] BetaGradient { get; }

    /// <summary>
    /// Normalizes a batch of <paramref name="rows"/> rows of <see cref="Features"/> values. Training uses batch
    /// statistics (and updates the running ones); inference uses the running statistics.
    /// </summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
    {
        if (rows <= 0)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows must be positive, got {rows}.");
        var shape = new NcsShape(rows, Channels, SpatialSize);
        shape.CheckLength(input.Length, nameof(input));
        shape.CheckLength(output.Length, nameof(output));
        if (!training)
        {
            ForwardInference(input, output, shape);
            return;
        }
        if (_input.Length < input.Length)
            _input = new float[input.Length];
        input.CopyTo(_input);
        EnsureCapacity(shape);
        ForwardTraining(input, output, shape);
        _trainedRows = rows;
    }

    /// <summary>
    /// Back-propagates <paramref name="outputGradient"/> through the last training <see cref="Forward"/>: writes
    /// dL/dx into <paramref name="inputGradient"/> and adds dL/dγ, dL/dβ to the gradients.
    /// </summary>
    public void Backward(ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        if (_trainedRows == 0)
            throw new InvalidOperationException("Backward needs a training Forward first.");
        var shape = new NcsShape(_trainedRows, Channels, SpatialSize);
        shape.CheckLength(outputGradient.Length, nameof(outputGradient));
        shape.CheckLength(inputGradient.Length, nameof(inputGradient));
        BackwardCore(outputGradient, _input.AsSpan(0, shape.Length), inputGradient, shape);
    }

    /// <summary>Sets <see cref="GammaGradient"/> and <see cref="BetaGradient"/> to 0.</summary>
    public void ZeroGradients()
    {
        Array.Clear(GammaGradient);
        Array.Clear(BetaGradient);
    }

    /// <summary>Grows per-batch buffers to hold a batch of this shape.</summary>
    private protected virtual void EnsureCapacity(NcsShape shape)
    {
    }

    private protected abstract void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape);

    private protected abstract void ForwardInference(ReadOnlySpan<float> input, Span<float> output, NcsShape shape);

    private protected abstract void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape);

    /// <summary>PyTorch refuses batch statistics over one value per channel; so do the batch-statistics layers.</summary>
    private protected static void CheckMoreThanOneValuePerChannel(NcsShape shape)
    {
        if (shape.ValuesPerChannel < 2)
            throw new InvalidOperationException(
                $"Expected more than 1 value per channel when training, got a batch of {shape.Rows} row(s) × {shape.Spatial} position(s); use a batch size of at least 2.");
    }
}
