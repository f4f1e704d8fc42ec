using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// Max and average pooling over the planes of NCHW batches, as PyTorch's CPU kernels compute them (floor mode,
/// dilation 1), and their backward. Each (image, channel) plane is one unit shared among threads; a unit reads and
/// writes only its own plane, in a fixed order, so results are bit-identical for any thread count.
/// </summary>
/// <remarks>
/// Kernel 2, stride 2, no padding (the usual CNN pooling) runs 4 outputs at a time with the same operations as the
/// general loops. Measured on batches of 64 × 32 × 28 × 28 and 64 × 64 × 14 × 14, one thread, the layers' forward
/// (which includes the layer's copy of its input): max pooling 1.0 and 0.53 ms, where the first, branching scalar loop
/// took 11.1 and 5.7 ms (on random activations "greater than the maximum so far" is a coin toss the branch predictor
/// loses); average pooling forward 0.8 and 0.4 ms, backward 0.44 and 0.19 ms, against 2.5 and 1.5, 3.0 and 1.5 ms.
/// </remarks>
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

    /// <summary>Whether windows of kernel 2, stride 2, no padding take the 128-bit paths: rows of at least 4 outputs, and the two-source shuffles.</summary>
    private static bool IsTwoByTwo(in SlidingWindow w)
        => w is { KernelSize: 2, Stride: 2, Padding: 0 } && w.OutputWidth >= Vector128<float>.Count && (Sse.IsSupported || AdvSimd.Arm64.IsSupported);

    /// <summary>The even and the odd elements of the 8 values <paramref name="low"/>, <paramref name="high"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Even, Vector128<float> Odd) Separate(Vector128<float> low, Vector128<float> high)
    {
        // One two-source shuffle each; joining halves through Vector64 instead, which x64 does not accelerate, took
        // three times as long as the whole scalar loop.
        if (AdvSimd.Arm64.IsSupported)
            return (AdvSimd.Arm64.UnzipEven(low, high), AdvSimd.Arm64.UnzipOdd(low, high));
        return (Sse.Shuffle(low, high, 0b10_00_10_00), Sse.Shuffle(low, high, 0b11_01_11_01));
    }

    /// <summary>Each value of <paramref name="values"/> twice: the first 4 of the 8 results, then the last 4.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<float> Low, Vector128<float> High) Double(Vector128<float> values)
    {
        if (AdvSimd.Arm64.IsSupported)
            return (AdvSimd.Arm64.ZipLow(values, values), AdvSimd.Arm64.ZipHigh(values, values));
        return (Sse.UnpackLow(values, values), Sse.UnpackHigh(values, values));
    }

    private readonly record struct MaxUnit(SlidingWindow Window, PinnedSpan<float> Input, PinnedSpan<float> Output, PinnedSpan<int> Argmax) : IKernelUnit
    {
        public void Run(int plane)
        {
            var w = Window;
            int height = w.Input.Height, width = w.Input.Width, outputSpatial = w.OutputSpatial;
            ReadOnlySpan<float> x = Input.Span.Slice(plane * height * width, height * width);
            Span<float> y = Output.Span.Slice(plane * outputSpatial, outputSpatial);
            Span<int> argmax = Argmax.IsEmpty ? [] : Argmax.Span.Slice(plane * outputSpatial, outputSpatial);
            if (IsTwoByTwo(w))
                MaxTwoByTwo(w, x, y, argmax);
            else
                MaxAnyWindow(w, x, y, argmax);
        }

        /// <summary>
        /// PyTorch's scan: each window's values in row-major order, a value taking over when it is greater than the
        /// maximum so far or NaN; so the first of equal maxima wins, and the last NaN. Selects, not branches: on
        /// real activations "greater" is a coin toss, and mispredicted branches took most of the time.
        /// </summary>
        private static void MaxAnyWindow(in SlidingWindow w, ReadOnlySpan<float> x, Span<float> y, Span<int> argmax)
        {
            int height = w.Input.Height, width = w.Input.Width, k = w.KernelSize, s = w.Stride, p = w.Padding, outputWidth = w.OutputWidth;
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
                            // Both tests evaluated (| rather than ||), so the JIT can turn the selects into conditional moves.
                            bool takes = (value > max) | float.IsNaN(value);
                            max = takes ? value : max;
                            maxIndex = takes ? index : maxIndex;
                        }
                    int output = oh * outputWidth + ow;
                    y[output] = max;
                    if (!argmax.IsEmpty)
                        argmax[output] = maxIndex;
                }
            }
        }

        /// <summary>
        /// Kernel 2, stride 2, no padding (the usual CNN pooling), 4 outputs at a time: each window's four values in
        /// PyTorch's scan order, (row 0, even column), (row 0, odd), (row 1, even), (row 1, odd), the even and odd columns
        /// separated by two-source shuffles (SSE or Arm64), then the same take-over rule as <see cref="MaxAnyWindow"/> with vector selects. The
        /// last vector of a row starts at Wout − 4, overlapping the one before with the same results. 128-bit vectors, so
        /// that rows of 7 outputs (14 × 14 maps) take this path too.
        /// </summary>
        private static void MaxTwoByTwo(in SlidingWindow w, ReadOnlySpan<float> x, Span<float> y, Span<int> argmax)
        {
            int width = w.Input.Width, outputWidth = w.OutputWidth, lanes = Vector128<float>.Count;
            // Column of each lane's even input, relative to the vector's first output: 2 · lane.
            var evenColumns = Vector128.Create(0, 2, 4, 6);
            ref float input = ref MemoryMarshal.GetReference(x);
            ref float output = ref MemoryMarshal.GetReference(y);
            for (int oh = 0; oh < w.OutputHeight; oh++)
            {
                ref float row0 = ref Unsafe.Add(ref input, 2 * oh * width);
                ref float row1 = ref Unsafe.Add(ref row0, width);
                for (int ow = 0; ow < outputWidth; ow += lanes)
                {
                    int first = Math.Min(ow, outputWidth - lanes);
                    var (even0, odd0) = Separate(Vector128.LoadUnsafe(ref row0, (nuint)(2 * first)), Vector128.LoadUnsafe(ref row0, (nuint)(2 * first + lanes)));
                    var (even1, odd1) = Separate(Vector128.LoadUnsafe(ref row1, (nuint)(2 * first)), Vector128.LoadUnsafe(ref row1, (nuint)(2 * first + lanes)));
                    var max = even0;
                    var candidate = Vector128<int>.Zero;
                    TakeOver(odd0, 1, ref max, ref candidate);
                    TakeOver(even1, 2, ref max, ref candidate);
                    TakeOver(odd1, 3, ref max, ref candidate);
                    max.StoreUnsafe(ref output, (nuint)(oh * outputWidth + first));
                    if (argmax.IsEmpty)
                        continue;
                    // Candidate c is at row 2 · oh + c / 2, column 2 · (first + lane) + c % 2.
                    var index = Vector128.Create(2 * oh * width + 2 * first) + evenColumns
                        + Vector128.ShiftRightLogical(candidate, 1) * Vector128.Create(width) + (candidate & Vector128.Create(1));
                    index.StoreUnsafe(ref MemoryMarshal.GetReference(argmax), (nuint)(oh * outputWidth + first));
                }
            }
        }

        /// <summary>Where <paramref name="value"/> is greater than <paramref name="max"/> or NaN, it takes over, recording <paramref name="number"/>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void TakeOver(Vector128<float> value, int number, ref Vector128<float> max, ref Vector128<int> candidate)
        {
            var takes = Vector128.GreaterThan(value, max) | ~Vector128.Equals(value, value);
            max = Vector128.ConditionalSelect(takes, value, max);
            candidate = Vector128.ConditionalSelect(takes.AsInt32(), Vector128.Create(number), candidate);
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
            int inputSpatial = w.Input.Spatial, outputSpatial = w.OutputSpatial;
            Span<float> planes = Planes.Span.Slice(plane * inputSpatial, inputSpatial);
            Span<float> pooled = Pooled.Span.Slice(plane * outputSpatial, outputSpatial);
            if (Backward)
                planes.Clear();
            if (IsTwoByTwo(w))
                TwoByTwo(w, planes, pooled, Backward);
            else
                AnyWindow(w, planes, pooled, Backward);
        }

        private static void AnyWindow(in SlidingWindow w, Span<float> planes, Span<float> pooled, bool backward)
        {
            int height = w.Input.Height, width = w.Input.Width, k = w.KernelSize, s = w.Stride, p = w.Padding, outputWidth = w.OutputWidth;
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
                    if (backward)
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

        /// <summary>
        /// Kernel 2, stride 2, no padding, 4 outputs at a time with the same operations as <see cref="AnyWindow"/>: the
        /// four values added in scan order, then divided by 4; backward, dy / 4 stored at both columns of both rows
        /// (windows do not overlap). The last vector of a row starts at Wout − 4, overlapping with the same results.
        /// </summary>
        private static void TwoByTwo(in SlidingWindow w, Span<float> planes, Span<float> pooled, bool backward)
        {
            int width = w.Input.Width, outputWidth = w.OutputWidth, lanes = Vector128<float>.Count;
            var four = Vector128.Create(4f);
            ref float input = ref MemoryMarshal.GetReference(planes);
            ref float output = ref MemoryMarshal.GetReference(pooled);
            for (int oh = 0; oh < w.OutputHeight; oh++)
            {
                ref float row0 = ref Unsafe.Add(ref input, 2 * oh * width);
                ref float row1 = ref Unsafe.Add(ref row0, width);
                for (int ow = 0; ow < outputWidth; ow += lanes)
                {
                    int first = Math.Min(ow, outputWidth - lanes);
                    nuint column = (nuint)(2 * first);
                    if (backward)
                    {
                        var (low, high) = Double(Vector128.LoadUnsafe(ref output, (nuint)(oh * outputWidth + first)) / four);
                        low.StoreUnsafe(ref row0, column);
                        high.StoreUnsafe(ref row0, column + (nuint)lanes);
                        low.StoreUnsafe(ref row1, column);
                        high.StoreUnsafe(ref row1, column + (nuint)lanes);
                        continue;
                    }
                    var (even0, odd0) = Separate(Vector128.LoadUnsafe(ref row0, column), Vector128.LoadUnsafe(ref row0, column + (nuint)lanes));
                    var (even1, odd1) = Separate(Vector128.LoadUnsafe(ref row1, column), Vector128.LoadUnsafe(ref row1, column + (nuint)lanes));
                    ((((even0 + odd0) + even1) + odd1) / four).StoreUnsafe(ref output, (nuint)(oh * outputWidth + first));
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
