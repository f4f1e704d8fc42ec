using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Training;

/// <summary>
/// Max pooling, as <c>torch.nn.MaxPool2d(kernelSize, stride, padding)</c> on rows that are (C, H, W) images: each
/// output is the maximum of a k × k window of its channel, windows s apart, the input padded by p with −∞. Floor mode:
/// the output is (C, ⌊(H + 2p − k) / s⌋ + 1, ⌊(W + 2p − k) / s⌋ + 1). The backward sends each output's gradient to the
/// value its window chose: the first maximum in row-major order; a NaN in a window is its maximum, as in PyTorch.
/// </summary>
public sealed class MaxPool2dLayer : Layer
{
    private readonly SlidingWindow _window;
    private int[] _argmax = [];

    /// <summary>Creates the layer.</summary>
    /// <param name="input">The (C, H, W) of an input row.</param>
    /// <param name="kernelSize">k, the window's height and width, positive and at most the padded height and width.</param>
    /// <param name="stride">s, positive; default (null) <paramref name="kernelSize"/>, as PyTorch.</param>
    /// <param name="padding">p, from 0 to k / 2 (PyTorch's limit); default 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the padding is negative or above k / 2, or a size exceeds <see cref="ModelLimits"/>.</exception>
    /// <exception cref="ArgumentException">The window is larger than the padded input.</exception>
    public MaxPool2dLayer(ImageShape input, int kernelSize, int? stride = null, int padding = 0)
        : this(Pooling.Window(input, kernelSize, stride, padding))
    {
    }

    private MaxPool2dLayer(SlidingWindow window)
        : base(window.Input.Size, window.Input.Channels * window.OutputSpatial)
    {
        _window = window;
    }

    /// <summary>The (C, H, W) of an input row.</summary>
    public ImageShape Input => _window.Input;

    /// <summary>The (C, Hout, Wout) of an output row.</summary>
    public ImageShape Output => new(_window.Input.Channels, _window.OutputHeight, _window.OutputWidth);

    /// <summary>k, the window's height and width.</summary>
    public int KernelSize => _window.KernelSize;

    /// <summary>s, the step between windows.</summary>
    public int Stride => _window.Stride;

    /// <summary>p, the −∞ padding on every side.</summary>
    public int Padding => _window.Padding;

    private protected override bool BackwardReadsInput => false;

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
    {
        // Training keeps where each maximum came from; inference writes nothing in the layer, so threads can share it.
        if (training && _argmax.Length < output.Length)
            _argmax = new int[output.Length];
        Pooling.MaxForward(_window, input, output, training ? _argmax.AsSpan(0, output.Length) : [], rows);
    }

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
        => Pooling.MaxBackward(_window, outputGradient, _argmax.AsSpan(0, outputGradient.Length), inputGradient, rows);
}

/// <summary>
/// Average pooling, as <c>torch.nn.AvgPool2d(kernelSize, stride, padding)</c> with its defaults (floor mode,
/// <c>count_include_pad=True</c>) on rows that are (C, H, W) images: each output is the sum of a k × k window of its
/// channel divided by k², padding counting as zeros. The output is (C, ⌊(H + 2p − k) / s⌋ + 1, ⌊(W + 2p − k) / s⌋ + 1);
/// the backward spreads each output's gradient / k² over its window.
/// </summary>
public sealed class AvgPool2dLayer : Layer
{
    private readonly SlidingWindow _window;

    /// <summary>Creates the layer.</summary>
    /// <param name="input">The (C, H, W) of an input row.</param>
    /// <param name="kernelSize">k, the window's height and width, positive and at most the padded height and width.</param>
    /// <param name="stride">s, positive; default (null) <paramref name="kernelSize"/>, as PyTorch.</param>
    /// <param name="padding">p, from 0 to k / 2 (PyTorch's limit); default 0.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the padding is negative or above k / 2, or a size exceeds <see cref="ModelLimits"/>.</exception>
    /// <exception cref="ArgumentException">The window is larger than the padded input.</exception>
    public AvgPool2dLayer(ImageShape input, int kernelSize, int? stride = null, int padding = 0)
        : this(Pooling.Window(input, kernelSize, stride, padding))
    {
    }

    private AvgPool2dLayer(SlidingWindow window)
        : base(window.Input.Size, window.Input.Channels * window.OutputSpatial)
    {
        _window = window;
    }

    /// <summary>The (C, H, W) of an input row.</summary>
    public ImageShape Input => _window.Input;

    /// <summary>The (C, Hout, Wout) of an output row.</summary>
    public ImageShape Output => new(_window.Input.Channels, _window.OutputHeight, _window.OutputWidth);

    /// <summary>k, the window's height and width.</summary>
    public int KernelSize => _window.KernelSize;

    /// <summary>s, the step between windows.</summary>
    public int Stride => _window.Stride;

    /// <summary>p, the zero padding on every side, counted in the divisor.</summary>
    public int Padding => _window.Padding;

    private protected override bool BackwardReadsInput => false;

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
        => Pooling.AverageForward(_window, input, output, rows);

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
        => Pooling.AverageBackward(_window, outputGradient, inputGradient, rows);
}

/// <summary>
/// Global average pooling: each channel of a (C, H, W) row becomes its mean, giving C values, as
/// <c>torch.nn.AdaptiveAvgPool2d(1)</c> followed by <c>torch.nn.Flatten()</c>. The backward spreads each channel's
/// gradient / (H · W) over the channel.
/// </summary>
public sealed class GlobalAveragePoolLayer : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="input">The (C, H, W) of an input row.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive, or the row exceeds <see cref="ModelLimits.MaxParameterLength"/>.</exception>
    public GlobalAveragePoolLayer(ImageShape input)
        : base(Checked(input).Size, input.Channels)
    {
        Input = input;
    }

    private static ImageShape Checked(ImageShape input)
    {
        input.Validate(nameof(input));
        Guard.CheckLayerWidth(input.Size, nameof(input));
        return input;
    }

    /// <summary>The (C, H, W) of an input row.</summary>
    public ImageShape Input { get; }

    private protected override bool BackwardReadsInput => false;

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
        => Pooling.GlobalAverageForward(Input, input, output, rows);

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
        => Pooling.GlobalAverageBackward(Input, outputGradient, inputGradient, rows);
}
