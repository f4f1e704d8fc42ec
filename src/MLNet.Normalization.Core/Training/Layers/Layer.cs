namespace MLNet.Normalization.Training;

/// <summary>A learned tensor and the gradient <see cref="Layer.Backward"/> accumulates for it.</summary>
/// <param name="Name">What it is, e.g. "weight" or "gamma".</param>
/// <param name="Values">The values the optimizer updates in place.</param>
/// <param name="Gradient">dL/dValues, the same length.</param>
public sealed record Parameter(string Name, float[] Values, float[] Gradient);

/// <summary>
/// A layer of a feed-forward network over batches of rows, as <c>torch.nn.Module</c>: <see cref="Forward"/> in training
/// or inference mode, then <see cref="Backward"/> through what the last training forward kept. The input is kept
/// in a buffer that grows to the largest batch and is reused, so training allocates nothing per step; a
/// <see cref="Sequential"/> lends its own activation buffers instead, so nothing is copied.
/// </summary>
public abstract class Layer
{
    private float[] _inputCopy = [];
    private ReadOnlyMemory<float> _keptInput;
    private int _trainedRows;

    private protected Layer(int inputFeatures, int outputFeatures)
    {
        if (inputFeatures <= 0 || outputFeatures <= 0)
            throw new ArgumentOutOfRangeException(nameof(inputFeatures), $"Layer sizes must be positive, got {inputFeatures} → {outputFeatures}.");
        InputFeatures = inputFeatures;
        OutputFeatures = outputFeatures;
    }

    /// <summary>Values per input row.</summary>
    public int InputFeatures { get; }

    /// <summary>Values per output row.</summary>
    public int OutputFeatures { get; }

    /// <summary>The learned tensors with their gradients; empty for layers without any.</summary>
    public virtual IReadOnlyList<Parameter> Parameters => [];

    /// <summary>
    /// Whether <see cref="BackwardCore"/> reads the forward's input. Layers that keep what they need themselves (max
    /// pooling's argmax) or need nothing (average pooling, flatten) say no, and their input is not kept.
    /// </summary>
    private protected virtual bool BackwardReadsInput => true;

    /// <summary>
    /// Whether <see cref="BackwardCore"/> skips dL/dinput when given an empty span: the network's first layer needs
    /// none, and for a convolution or linear layer that is a whole product saved.
    /// </summary>
    internal virtual bool CanSkipInputGradient => false;

    /// <summary>Computes the output of <paramref name="rows"/> rows; training mode keeps what <see cref="Backward"/> needs.</summary>
    public void Forward(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
    {
        CheckForward(input.Length, output.Length, rows);
        if (training && BackwardReadsInput)
        {
            if (_inputCopy.Length < input.Length)
                _inputCopy = new float[input.Length];
            input.CopyTo(_inputCopy);
            _keptInput = _inputCopy.AsMemory(0, input.Length);
        }
        ForwardCore(input, output, rows, training);
        if (training)
            _trainedRows = rows;
    }

    /// <summary>
    /// <see cref="Forward"/> for a caller that leaves <paramref name="input"/> unchanged until the matching
    /// <see cref="Backward"/>: the layer keeps a reference to it rather than a copy.
    /// </summary>
    internal void ForwardKeepingReference(ReadOnlyMemory<float> input, Span<float> output, int rows, bool training)
    {
        CheckForward(input.Length, output.Length, rows);
        if (training)
            _keptInput = BackwardReadsInput ? input : default;
        ForwardCore(input.Span, output, rows, training);
        if (training)
            _trainedRows = rows;
    }

    /// <summary>
    /// Back-propagates through the last training <see cref="Forward"/>: writes dL/dinput into
    /// <paramref name="inputGradient"/> and adds to the parameters' gradients.
    /// </summary>
    public void Backward(ReadOnlySpan<float> outputGradient, Span<float> inputGradient)
    {
        CheckBackward(outputGradient.Length);
        CheckLength(inputGradient.Length, _trainedRows * InputFeatures, nameof(inputGradient), _trainedRows);
        BackwardCore(outputGradient, KeptInput, inputGradient, _trainedRows);
    }

    /// <summary>Adds to the parameters' gradients only; for layers with <see cref="CanSkipInputGradient"/>.</summary>
    internal void BackwardWithoutInputGradient(ReadOnlySpan<float> outputGradient)
    {
        if (!CanSkipInputGradient)
            throw new InvalidOperationException($"{GetType().Name} always computes dL/dinput.");
        CheckBackward(outputGradient.Length);
        BackwardCore(outputGradient, KeptInput, [], _trainedRows);
    }

    private ReadOnlySpan<float> KeptInput => BackwardReadsInput ? _keptInput.Span[..(_trainedRows * InputFeatures)] : [];

    /// <summary>Sets every parameter's gradient to 0.</summary>
    public void ZeroGradients()
    {
        // An index, not foreach: enumerating the IReadOnlyList would allocate on every training step.
        var parameters = Parameters;
        for (int p = 0; p < parameters.Count; p++)
            Array.Clear(parameters[p].Gradient);
    }

    private protected abstract void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training);

    private protected abstract void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows);

    /// <summary>Throws when a value of the parameter <paramref name="name"/> is NaN or infinite, naming its index.</summary>
    private protected static void CheckFinite(ReadOnlySpan<float> values, string name)
    {
        int index = Kernels.NonFinite.IndexOf(values);
        if (index >= 0)
            throw new ArgumentException($"{name}[{index}] must be finite, got {values[index]}.", name);
    }

    private void CheckForward(int inputLength, int outputLength, int rows)
    {
        if (rows <= 0)
            throw new ArgumentOutOfRangeException(nameof(rows), rows, $"rows must be positive, got {rows}.");
        CheckLength(inputLength, rows * InputFeatures, "input", rows);
        CheckLength(outputLength, rows * OutputFeatures, "output", rows);
    }

    private void CheckBackward(int outputGradientLength)
    {
        if (_trainedRows == 0)
            throw new InvalidOperationException("Backward needs a training Forward first.");
        CheckLength(outputGradientLength, _trainedRows * OutputFeatures, "outputGradient", _trainedRows);
    }

    private static void CheckLength(int actual, int expected, string name, int rows)
    {
        if (actual != expected)
            throw new ArgumentException($"{name} has {actual} values; {rows} rows need {expected}.", name);
    }
}
