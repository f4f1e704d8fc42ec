using System.Buffers;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Training;

/// <summary>
/// A 2-D convolution, as <c>torch.nn.Conv2d(in, out, kernelSize, stride, padding, bias)</c> on rows that are
/// (C, H, W) images (<see cref="ImageShape"/>, row-major): y[co, oh, ow] = b[co] + Σ over ci, kh, kw of
/// W[co, ci, kh, kw] · x[ci, oh · s − p + kh, ow · s − p + kw], the input zero-padded by p on every side. The
/// output is (out, ⌊(H + 2p − k) / s⌋ + 1, ⌊(W + 2p − k) / s⌋ + 1). Initialized as PyTorch does,
/// W and b ~ U(−1/√fanIn, 1/√fanIn) with fanIn = in · k · k, from a seed.
/// </summary>
/// <remarks>
/// Forward and backward run as im2col plus the library's GEMM over small blocks of images, and the forward of a
/// short depth (in · k² up to 54 at stride 1, a first layer) as a direct vectorized loop (see
/// <c>Training/Compute/Convolution.cs</c> and <c>DirectConvolution.cs</c>); results are bit-identical for any thread count. The scratch comes from
/// <see cref="ArrayPool{T}"/>, so steps allocate nothing once it is warm, and the forward writes nothing in the
/// layer, so threads can share it for inference.
/// </remarks>
public sealed class Conv2dLayer : Layer
{
    private readonly Convolution _convolution;

    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    /// <param name="input">The (C, H, W) of an input row.</param>
    /// <param name="outChannels">Output channels, positive.</param>
    /// <param name="kernelSize">k, the kernel's height and width, positive and at most the padded height and width.</param>
    /// <param name="stride">s, positive; default 1.</param>
    /// <param name="padding">p, zeros added on every side, not negative; default 0.</param>
    /// <param name="bias">Whether the layer adds a learned bias per output channel; default true.</param>
    /// <param name="seed">Seed of the initialization, drawn weights first, then biases; the same seed gives the same values.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the padding is negative, or a size exceeds <see cref="ModelLimits"/>.</exception>
    /// <exception cref="ArgumentException">The kernel is larger than the padded input.</exception>
    public Conv2dLayer(ImageShape input, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true, int seed = 0)
        : this(Create(input, outChannels, kernelSize, stride, padding), bias)
    {
        var random = new Random(seed);
        double bound = 1 / Math.Sqrt(_convolution.Depth);
        foreach (var values in new[] { Weight, Bias })
            for (int i = 0; i < values.Length; i++)
                values[i] = (float)(bound * (2 * random.NextDouble() - 1));
    }

    /// <summary>A layer with the given weights and biases, copied; every value must be finite.</summary>
    /// <param name="input">The (C, H, W) of an input row.</param>
    /// <param name="outChannels">Output channels, positive.</param>
    /// <param name="kernelSize">k, positive and at most the padded height and width.</param>
    /// <param name="stride">s, positive.</param>
    /// <param name="padding">p, not negative.</param>
    /// <param name="weight">W in PyTorch's (out, in, kh, kw) order: out · in · k · k values.</param>
    /// <param name="bias">b, one per output channel, or null for a layer without bias.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, the padding is negative, or a size exceeds <see cref="ModelLimits"/>.</exception>
    /// <exception cref="ArgumentException">The kernel is larger than the padded input, a length does not fit, or a value is NaN or infinite (the message names it).</exception>
    public Conv2dLayer(ImageShape input, int outChannels, int kernelSize, int stride, int padding, float[] weight, float[]? bias)
        : this(Create(input, outChannels, kernelSize, stride, padding), bias is not null)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.Length != Weight.Length)
            throw new ArgumentException(
                $"weight has {weight.Length} values; a {kernelSize} × {kernelSize} convolution from {input.Channels} to {outChannels} channels needs {outChannels} · {input.Channels} · {kernelSize} · {kernelSize} = {Weight.Length}.",
                nameof(weight));
        if (bias is not null && bias.Length != outChannels)
            throw new ArgumentException($"bias has {bias.Length} values, expected one per output channel: {outChannels}.", nameof(bias));
        CheckFinite(weight, nameof(weight));
        weight.CopyTo(Weight, 0);
        if (bias is not null)
        {
            CheckFinite(bias, nameof(bias));
            bias.CopyTo(Bias, 0);
        }
    }

    private Conv2dLayer(Convolution convolution, bool bias)
        : base(convolution.Window.Input.Size, convolution.Output.Size)
    {
        _convolution = convolution;
        Weight = new float[(long)convolution.OutChannels * convolution.Depth];
        WeightGradient = new float[Weight.Length];
        Bias = bias ? new float[convolution.OutChannels] : [];
        BiasGradient = new float[Bias.Length];
        Parameters = bias
            ? [new Parameter("weight", Weight, WeightGradient), new Parameter("bias", Bias, BiasGradient)]
            : [new Parameter("weight", Weight, WeightGradient)];
    }

    /// <summary>Checks every argument (naming it) before the base class sees the sizes.</summary>
    private static Convolution Create(ImageShape input, int outChannels, int kernelSize, int stride, int padding)
    {
        if (outChannels <= 0)
            throw new ArgumentOutOfRangeException(nameof(outChannels), outChannels, $"outChannels must be positive, got {outChannels}.");
        Guard.CheckLayerWidth(outChannels, nameof(outChannels));
        var window = SlidingWindow.Create(input, outChannels, kernelSize, stride, padding);
        long weights = (long)outChannels * input.Channels * kernelSize * kernelSize;
        if (weights > ModelLimits.MaxLinearWeights)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), weights,
                $"A {kernelSize} × {kernelSize} convolution from {input.Channels} to {outChannels} channels has {weights} weights; a layer holds at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
        // One image's column matrix is the least scratch the layer needs; it must fit an array.
        long columns = (long)input.Channels * kernelSize * kernelSize * window.OutputSpatial;
        if (columns > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(kernelSize), columns,
                $"A {kernelSize} × {kernelSize} convolution of the {input} input has {columns} values in one image's column matrix (in · k² × Hout · Wout), more than an array holds.");
        return new Convolution(window, outChannels);
    }

    /// <summary>The (C, H, W) of an input row.</summary>
    public ImageShape Input => _convolution.Window.Input;

    /// <summary>The (out, Hout, Wout) of an output row: Hout = ⌊(H + 2p − k) / s⌋ + 1, Wout likewise.</summary>
    public ImageShape Output => _convolution.Output;

    /// <summary>Output channels.</summary>
    public int OutChannels => _convolution.OutChannels;

    /// <summary>k, the kernel's height and width.</summary>
    public int KernelSize => _convolution.Window.KernelSize;

    /// <summary>s, the step between windows.</summary>
    public int Stride => _convolution.Window.Stride;

    /// <summary>p, zeros added on every side of the input.</summary>
    public int Padding => _convolution.Window.Padding;

    /// <summary>Whether the layer adds a learned bias per output channel.</summary>
    public bool HasBias => Bias.Length > 0;

    /// <summary>W, out · in · k · k values in PyTorch's (out, in, kh, kw) order.</summary>
    public float[] Weight { get; }

    /// <summary>b, one per output channel; empty when <see cref="HasBias"/> is false.</summary>
    public float[] Bias { get; }

    /// <summary>dL/dW, accumulated by <see cref="Layer.Backward"/>.</summary>
    public float[] WeightGradient { get; }

    /// <summary>dL/db, accumulated by <see cref="Layer.Backward"/>; empty when <see cref="HasBias"/> is false.</summary>
    public float[] BiasGradient { get; }

    /// <summary>"weight", then "bias" when <see cref="HasBias"/>.</summary>
    public override IReadOnlyList<Parameter> Parameters { get; }

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
        => _convolution.Forward(Weight, Bias, input, output, rows);

    internal override bool CanSkipInputGradient => true;

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
        => _convolution.Backward(Weight, input, outputGradient, inputGradient, rows, WeightGradient, BiasGradient);
}
