namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// A square window sliding over the planes of an (C, H, W) input, as PyTorch's convolution and pooling place it:
/// output position (oh, ow) covers input rows oh · s − p … oh · s − p + k − 1 and the same columns, positions
/// outside the input being padding. Floor mode: Hout = ⌊(H + 2p − k) / s⌋ + 1, and the same for W.
/// </summary>
/// <param name="Input">The input's (C, H, W).</param>
/// <param name="KernelSize">k, the window's height and width.</param>
/// <param name="Stride">s, the step between windows.</param>
/// <param name="Padding">p, the rows and columns of padding on each side.</param>
/// <param name="OutputHeight">Hout.</param>
/// <param name="OutputWidth">Wout.</param>
internal readonly record struct SlidingWindow(ImageShape Input, int KernelSize, int Stride, int Padding, int OutputHeight, int OutputWidth)
{
    /// <summary>Hout · Wout, the values of one output plane.</summary>
    public int OutputSpatial => OutputHeight * OutputWidth;

    /// <summary>
    /// Checks the arguments of a layer that slides a window over <paramref name="input"/>, with messages naming them, and
    /// gives the window. <paramref name="outputChannels"/> is the output's C (the input's for pooling), checked against
    /// <see cref="ModelLimits.MaxParameterLength"/> with the output's and the input's widths.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the padding is negative, or a width exceeds the limit.</exception>
    /// <exception cref="ArgumentException">The window is larger than the padded input.</exception>
    public static SlidingWindow Create(ImageShape input, int outputChannels, int kernelSize, int stride, int padding)
    {
        input.Validate(nameof(input));
        Guard.CheckLayerWidth(input.Size, nameof(input));
        if (kernelSize <= 0)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), kernelSize, $"kernelSize must be positive, got {kernelSize}.");
        if (stride <= 0)
            throw new ArgumentOutOfRangeException(nameof(stride), stride, $"stride must be positive, got {stride}.");
        if (padding < 0)
            throw new ArgumentOutOfRangeException(nameof(padding), padding, $"padding must not be negative, got {padding}.");
        long paddedHeight = input.Height + 2L * padding, paddedWidth = input.Width + 2L * padding;
        if (kernelSize > paddedHeight || kernelSize > paddedWidth)
            throw new ArgumentException(
                $"kernelSize {kernelSize} shrinks the {input} map below 1 × 1: with padding {padding} its planes are {paddedHeight} × {paddedWidth}, smaller than the {kernelSize} × {kernelSize} window.",
                nameof(kernelSize));
        long outputHeight = (paddedHeight - kernelSize) / stride + 1, outputWidth = (paddedWidth - kernelSize) / stride + 1;
        long outputSize = outputChannels * outputHeight * outputWidth;
        if (outputSize > ModelLimits.MaxParameterLength)
        {
            string cause = outputChannels > input.Channels ? "outChannels" : nameof(padding);
            throw new ArgumentOutOfRangeException(cause, outputSize,
                $"The {outputChannels} × {outputHeight} × {outputWidth} output of the {input} input has {outputSize} values; a layer is at most {ModelLimits.MaxParameterLength} values wide (ModelLimits.MaxParameterLength).");
        }
        return new SlidingWindow(input, kernelSize, stride, padding, (int)outputHeight, (int)outputWidth);
    }

    /// <summary>
    /// The output columns whose window's column <paramref name="offset"/> (0 … k − 1) falls inside the input:
    /// ow · s − p + offset ∈ [0, W) for ow in [<c>Start</c>, <c>End</c>), an empty range when none does.
    /// </summary>
    public (int Start, int End) InsideColumns(int offset) => Inside(offset, Input.Width, OutputWidth);

    /// <summary>The output rows whose window's row <paramref name="offset"/> falls inside the input, as <see cref="InsideColumns"/>.</summary>
    public (int Start, int End) InsideRows(int offset) => Inside(offset, Input.Height, OutputHeight);

    private (int Start, int End) Inside(int offset, int inputLength, int outputLength)
    {
        // o · s − p + offset ≥ 0  ⇔  o ≥ ⌈(p − offset) / s⌉;  o · s − p + offset ≤ L − 1  ⇔  o ≤ ⌊(L − 1 + p − offset) / s⌋.
        int first = Padding - offset;
        int start = first <= 0 ? 0 : Math.Min(outputLength, (first + Stride - 1) / Stride);
        int last = inputLength - 1 + Padding - offset;
        int end = last < 0 ? 0 : Math.Min(outputLength, last / Stride + 1);
        return (start, Math.Max(start, end));
    }
}
