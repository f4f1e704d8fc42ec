using System.Numerics.Tensors;
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// Max and average pooling over the planes of NCHW batches, as PyTorch's CPU kernels compute them (floor mode,
/// dilation 1), and their backward. Each (image, channel) plane is one unit shared among threads; a unit reads and
/// writes only its own plane, in a fixed order, so results are bit-identical for any thread count.
/// </summary>
internal static class Pooling
{
    /// <summary>The window of a pooling layer: <see cref="SlidingWindow.Create"/>'s checks plus PyTorch's p ≤ k / 2.</summary>
    public static SlidingWindow Window(ImageShape input, int kernelSize, int? stride, int padding)
    {
        var window = SlidingWindow.Create(input, input.Channels, kernelSize, stride ?? kernelSize, padding);
        if (padding > kernelSize / 2)
            throw new ArgumentOutOfRangeException(nameof(padding), padding,
                $"padding must be at most half of kernelSize {kernelSize} (⌊{kernelSize} / 2⌋ = {kernelSize / 2}), as PyTorch requires, got {padding}.");
        return window;
    }

    /// <summary>
    /// y = the maximum of each window, the padding counting as −∞. <paramref name="argmax"/>, empty or one per output,
    /// receives the index in its plane of the value chosen: the first maximum in row-major scan order, or the last NaN
    /// when the window holds one (y is then NaN), as PyTorch's <c>max_pool2d</c> with <c>return_indices</c>.
    /// </summary>
    public static unsafe void MaxForward(SlidingWindow window, ReadOnlySpan<float> input, Span<float> output, Span<int> argmax, int rows)
    {
        int planes = rows * window.Input.Channels;
        fixed (float* pInput = input, pOutput = output)
        fixed (int* pArgmax = argmax)
        {
            var unit = new MaxUnit(window, new(pInput, input.Length), new(pOutput, output.Length), new(pArgmax, argmax.Length));
            ParallelUnits.For(unit, planes, input.Length);
        }
    }

    /// <summary>dx = 0, then dx[argmax] += dy for every output in order: the gradient goes to the value each window chose.</summary>
    public static unsafe void MaxBackward(SlidingWindow window, ReadOnlySpan<float> outputGradient, ReadOnlySpan<int> argmax, Span<float> inputGradient, int rows)
    {
        int planes = rows * window.Input.Channels;
        fixed (float* pOutputGradient = outputGradient, pInputGradient = inputGradient)
        fixed (int* pArgmax = argmax)
        {
            var unit = new MaxBackwardUnit(window, new(pOutputGradient, outputGradient.Length), new(pArgmax, argmax.Length), new(pInputGradient, inputGradient.Length));
            ParallelUnits.For(unit, planes, inputGradient.Length);
        }
    }

    /// <summary>
    /// y = the sum of each window's values inside the input divided by the window's size counting the padding
    /// (PyTorch's <c>count_include_pad=True</c>): k² in floor mode with p ≤ k / 2.
    /// </summary>
    public static unsafe void AverageForward(SlidingWindow window, ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        int planes = rows * window.Input.Channels;
        fixed (float* pInput = input, pOutput = output)
        {
            var unit = new AverageUnit(window, new(pInput, input.Length), new(pOutput, output.Length), Backward: false);
            ParallelUnits.For(unit, planes, input.Length);
        }
    }

    /// <summary>dx = 0, then every input value of a window receives dy / the window's size, window after window.</summary>
    public static unsafe void AverageBackward(SlidingWindow window, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int rows)
    {
        int planes = rows * window.Input.Channels;
        fixed (float* pOutputGradient = outputGradient, pInputGradient = inputGradient)
        {
            // The same unit with the roles of the buffers swapped: it reads dy where the forward writes y.
            var unit = new AverageUnit(window, new(pInputGradient, inputGradient.Length), new(pOutputGradient, outputGradient.Length), Backward: true);
            ParallelUnits.For(unit, planes, inputGradient.Length);
        }
    }

    /// <summary>y[plane] = the mean of the plane (PyTorch's <c>adaptive_avg_pool2d(x, 1)</c>).</summary>
    public static unsafe void GlobalAverageForward(ImageShape shape, ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        fixed (float* pInput = input, pOutput = output)
        {
            var unit = new GlobalAverageUnit(shape.Spatial, new(pInput, input.Length), new(pOutput, output.Length), Backward: false);
            ParallelUnits.For(unit, rows * shape.Channels, input.Length);
        }
    }

    /// <summary>dx[plane] = dy[plane] / (H · W) at every position.</summary>
    public static unsafe void GlobalAverageBackward(ImageShape shape, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int rows)
    {
        fixed (float* pOutputGradient = outputGradient, pInputGradient = inputGradient)
        {
            var unit = new GlobalAverageUnit(shape.Spatial, new(pInputGradient, inputGradient.Length), new(pOutputGradient, outputGradient.Length), Backward: true);
            ParallelUnits.For(unit, rows * shape.Channels, inputGradient.Length);
        }
    }

    private readonly record struct MaxUnit(SlidingWindow Window, PinnedSpan<float> Input, PinnedSpan<float> Output, PinnedSpan<int> Argmax) : IKernelUnit
    {
        public void Run(int plane)
        {
            var w = Window;
            int height = w.Input.Height, width = w.Input.Width, k = w.KernelSize, s = w.Stride, p = w.Padding;
            int outputWidth = w.OutputWidth, outputSpatial = w.OutputSpatial;
            ReadOnlySpan<float> x = Input.Span.Slice(plane * height * width, height * width);
            Span<float> y = Output.Span.Slice(plane * outputSpatial, outputSpatial);
            Span<int> argmax = Argmax.IsEmpty ? [] : Argmax.Span.Slice(plane * outputSpatial, outputSpatial);
            bool keepIndices = !argmax.IsEmpty;
            for (int oh = 0; oh < w.OutputHeight; oh++)
            {
                // PyTorch's window: rows [oh · s − p, oh · s − p + k) clipped to the input, the same for columns.
                int firstRow = oh * s - p, endRow = Math.Min(firstRow + k, height);
                firstRow = Math.Max(firstRow, 0);
                for (int ow = 0; ow < outputWidth; ow++)
                {
                    int firstColumn = ow * s - p, endColumn = Math.Min(firstColumn + k, width);
                    firstColumn = Math.Max(firstColumn, 0);
                    int maxIndex = firstRow * width + firstColumn;
                    float max = float.NegativeInfinity;
                    for (int ih = firstRow; ih < endRow; ih++)
                        for (int index = ih * width + firstColumn, end = ih * width + endColumn; index < end; index++)
                        {
                            float value = x[index];
                            // Strictly greater keeps the first of equal maxima; a NaN always takes over, so the last NaN wins.
                            if (value > max || float.IsNaN(value))
                            {
                                max = value;
                                maxIndex = index;
                            }
                        }
                    int output = oh * outputWidth + ow;
                    y[output] = max;
                    if (keepIndices)
                        argmax[output] = maxIndex;
                }
            }
        }
    }

    private readonly record struct MaxBackwardUnit(SlidingWindow Window, PinnedSpan<float> OutputGradient, PinnedSpan<int> Argmax, PinnedSpan<float> InputGradient) : IKernelUnit
    {
        public void Run(int plane)
        {
            int inputSpatial = Window.Input.Spatial, outputSpatial = Window.OutputSpatial;
            ReadOnlySpan<float> dy = OutputGradient.Span.Slice(plane * outputSpatial, outputSpatial);
            ReadOnlySpan<int> argmax = Argmax.Span.Slice(plane * outputSpatial, outputSpatial);
            Span<float> dx = InputGradient.Span.Slice(plane * inputSpatial, inputSpatial);
            dx.Clear();
            for (int j = 0; j < dy.Length; j++)
                dx[argmax[j]] += dy[j];
        }
    }

    /// <summary>Average pooling's forward (x → y) or backward (dy → dx: <c>Pooled</c> is then dy and <c>Planes</c> dx).</summary>
    private readonly record struct AverageUnit(SlidingWindow Window, PinnedSpan<float> Planes, PinnedSpan<float> Pooled, bool Backward) : IKernelUnit
    {
        public void Run(int plane)
        {
            var w = Window;
            int height = w.Input.Height, width = w.Input.Width, k = w.KernelSize, s = w.Stride, p = w.Padding;
            int outputWidth = w.OutputWidth, outputSpatial = w.OutputSpatial;
            Span<float> planes = Planes.Span.Slice(plane * height * width, height * width);
            Span<float> pooled = Pooled.Span.Slice(plane * outputSpatial, outputSpatial);
            if (Backward)
                planes.Clear();
            for (int oh = 0; oh < w.OutputHeight; oh++)
            {
                // PyTorch's divisor counts the padding: the window clipped to the padded input, before clipping to the input.
                int firstRow = oh * s - p, endRow = Math.Min(firstRow + k, height + p);
                int windowHeight = endRow - firstRow;
                firstRow = Math.Max(firstRow, 0);
                endRow = Math.Min(endRow, height);
                for (int ow = 0; ow < outputWidth; ow++)
                {
                    int firstColumn = ow * s - p, endColumn = Math.Min(firstColumn + k, width + p);
                    int divisor = windowHeight * (endColumn - firstColumn);
                    firstColumn = Math.Max(firstColumn, 0);
                    endColumn = Math.Min(endColumn, width);
                    int output = oh * outputWidth + ow;
                    if (Backward)
                    {
                        float share = pooled[output] / divisor;
                        for (int ih = firstRow; ih < endRow; ih++)
                            for (int index = ih * width + firstColumn, end = ih * width + endColumn; index < end; index++)
                                planes[index] += share;
                        continue;
                    }
                    float sum = 0;
                    for (int ih = firstRow; ih < endRow; ih++)
                        for (int index = ih * width + firstColumn, end = ih * width + endColumn; index < end; index++)
                            sum += planes[index];
                    pooled[output] = sum / divisor;
                }
            }
        }
    }

    /// <summary>Global average pooling's forward (plane → its mean) or backward (dy spread evenly over the plane).</summary>
    private readonly record struct GlobalAverageUnit(int Spatial, PinnedSpan<float> Planes, PinnedSpan<float> Means, bool Backward) : IKernelUnit
    {
        public void Run(int plane)
        {
            var values = Planes.Span.Slice(plane * Spatial, Spatial);
            if (Backward)
                values.Fill(Means.Span[plane] / Spatial);
            else
                Means.Span[plane] = TensorPrimitives.Sum(values) / Spatial;
        }
    }
}
