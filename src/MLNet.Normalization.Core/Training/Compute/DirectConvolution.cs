using System.Buffers;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
#if NET9_0_OR_GREATER
using System.Runtime.Intrinsics.Arm;
#endif
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// The forward convolution of stride 1 computed directly, without a column matrix, for few input values per output
/// (<see cref="Convolution.Depth"/> = Cin · k² up to <see cref="MaxDepth"/>), where the GEMM's depth is too short to
/// repay packing and storing its tiles: the first layer of an image network, Cin = 1 or 3.
/// </summary>
/// <remarks>
/// <para>
/// Each image's planes are copied once into zero-padded scratch planes, so the kernel reads whole vectors with no edge
/// tests: a vector of adjacent outputs takes, for each weight, one load of the input shifted by (kh, kw) and one fused
/// multiply-add. It keeps 4 output channels × 2 column vectors in registers, 8 independent sums sharing each input
/// vector. A vector that would run past a row's end starts earlier instead, overlapping the one before, and a block
/// past the last channel repeats it: those outputs are computed twice the same way and stored twice with the same
/// bits. Each output's sum runs in a fixed order (the bias, then the weights in PyTorch's order) and images are the
/// units shared among threads, so results are bit-identical for any thread count.
/// </para>
/// <para>
/// Measured against im2col plus GEMM (one image per block) on the 2-core AVX-512 VM, one thread, batch 64, 3 × 3
/// kernels with padding 1 on 28 × 28, best of 40 calls, while other processes loaded the machine: 1 → 32 channels
/// (depth 9) 0.43 ms against 1.07–1.12 ms; depth 18, 27, 36 and 54 (2, 3, 4, 6 → 32 channels) 0.66–0.67 against
/// 1.39–1.40, 0.92–0.93 against 1.73, 1.18–1.21 against 2.01–2.07 and 1.73 against 2.73–2.75 ms; 3 → 64 channels 1.85–1.89
/// against 2.44–2.60 ms; but depth 72 (8 → 64) 6.1–7.7 against 5.5–8.1 ms, no gain, hence <see cref="MaxDepth"/>. The
/// backward was written the same way (dW from dy and the shifted input, dx as the correlation of the padded dy with
/// the flipped kernel) and measured 1.88–1.93 ms against the GEMM path's 2.07–2.17 at depth 9 and slower from depth
/// 18 (3.3 against 2.7 ms): streaming dy in and the loads of two operands per multiply-add bound it, so the
/// backward stays on <see cref="Convolution"/>'s GEMM path.
/// </para>
/// </remarks>
internal static class DirectConvolution
{
    /// <summary>The most Cin · k² the direct kernel takes: it measured faster than the GEMM path up to 54 and no faster at 72.</summary>
    public const int MaxDepth = 54;

    [ThreadStatic] private static bool t_portableOnly;

    /// <summary>
    /// Whether calls on this thread use the <see cref="Vector{T}"/> kernel even where Vector512 is accelerated; for
    /// tests, so that both widths run on one machine.
    /// </summary>
    internal static bool PortableOnly
    {
        get => t_portableOnly;
        set => t_portableOnly = value;
    }

    private static bool UseVector512 => !t_portableOnly && Avx512F.IsSupported && Vector512.IsHardwareAccelerated;

    /// <summary>Floats per vector of the kernels on this machine.</summary>
    private static int Lanes => UseVector512 ? Vector512<float>.Count : Vector<float>.Count;

    /// <summary>Whether the direct kernel computes this convolution's forward: stride 1, a short depth, output rows at least a vector wide.</summary>
    public static bool Applies(in Convolution convolution)
    {
        var w = convolution.Window;
        return w.Stride == 1 && convolution.Depth <= MaxDepth && w.OutputWidth >= Lanes && Vector.IsHardwareAccelerated;
    }

    /// <summary>y = conv(x, W) + b for <paramref name="rows"/> images, images shared among threads.</summary>
    public static void Forward(in Convolution convolution, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        if (UseVector512)
            Kernels<Vector512<float>, Vector512Operations>.Forward(convolution, weight, bias, input, output, rows);
        else
            Kernels<Vector<float>, PortableOperations>.Forward(convolution, weight, bias, input, output, rows);
    }

    /// <summary>The vector operations the kernels need, so one generic body serves every vector width.</summary>
    private interface IVectorOperations<TVector> where TVector : struct
    {
        static abstract int Count { get; }

        static abstract TVector Zero { get; }

        static abstract TVector Broadcast(float value);

        static abstract TVector Load(ref float source, nint offset);

        static abstract void Store(TVector value, ref float destination, nint offset);

        static abstract TVector MultiplyAdd(TVector left, TVector right, TVector addend);
    }

    private readonly struct Vector512Operations : IVectorOperations<Vector512<float>>
    {
        public static int Count => Vector512<float>.Count;

        public static Vector512<float> Zero => Vector512<float>.Zero;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Broadcast(float value) => Vector512.Create(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(ref float source, nint offset) => Vector512.LoadUnsafe(ref source, (nuint)offset);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector512<float> value, ref float destination, nint offset) => value.StoreUnsafe(ref destination, (nuint)offset);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> MultiplyAdd(Vector512<float> left, Vector512<float> right, Vector512<float> addend) => Avx512F.FusedMultiplyAdd(left, right, addend);
    }

    private readonly struct PortableOperations : IVectorOperations<Vector<float>>
    {
        public static int Count => Vector<float>.Count;

        public static Vector<float> Zero => Vector<float>.Zero;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Broadcast(float value) => new(value);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> Load(ref float source, nint offset) => Vector.LoadUnsafe(ref source, (nuint)offset);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Store(Vector<float> value, ref float destination, nint offset) => value.StoreUnsafe(ref destination, (nuint)offset);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector<float> MultiplyAdd(Vector<float> left, Vector<float> right, Vector<float> addend)
            // Fused where the hardware is, as the GEMM's portable kernel; .NET 8 has no Vector.FusedMultiplyAdd.
#if NET9_0_OR_GREATER
            => Fma.IsSupported || AdvSimd.IsSupported ? Vector.FusedMultiplyAdd(left, right, addend) : left * right + addend;
#else
            => left * right + addend;
#endif
    }

    /// <summary>An image's planes padded by p on every side, the scratch the kernel reads.</summary>
    private readonly record struct Layout(Convolution Convolution)
    {
        public SlidingWindow Window => Convolution.Window;

        public int PaddedHeight => Window.Input.Height + 2 * Window.Padding;

        public int PaddedWidth => Window.Input.Width + 2 * Window.Padding;

        public int PaddedPlane => PaddedHeight * PaddedWidth;
    }

    private static class Kernels<TVector, TOperations>
        where TVector : struct
        where TOperations : struct, IVectorOperations<TVector>
    {
        /// <summary>Copies an image's planes into zeroed scratch planes of <paramref name="paddedWidth"/>, p rows and columns in.</summary>
        private static void CopyPadded(ReadOnlySpan<float> image, int channels, int height, int width, Span<float> padded, int paddedHeight, int paddedWidth, int padding)
        {
            padded[..(channels * paddedHeight * paddedWidth)].Clear();
            for (int c = 0; c < channels; c++)
                for (int h = 0; h < height; h++)
                    image.Slice((c * height + h) * width, width).CopyTo(padded.Slice((c * paddedHeight + h + padding) * paddedWidth + padding, width));
        }

        public static unsafe void Forward(in Convolution convolution, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> input, Span<float> output, int rows)
        {
            fixed (float* pWeight = weight, pBias = bias, pInput = input, pOutput = output)
            {
                var unit = new ForwardImage(new Layout(convolution), new(pWeight, weight.Length), new(pBias, bias.Length),
                    new(pInput, input.Length), new(pOutput, output.Length));
                ParallelUnits.For(unit, rows, 2L * convolution.OutChannels * convolution.Depth * convolution.Window.OutputSpatial * rows, Gemm.MinimumParallelFlops);
            }
        }

        /// <summary>One image's output: 4 channels × 2 column vectors of a row at a time, over every weight.</summary>
        private readonly record struct ForwardImage(Layout Layout, PinnedSpan<float> Weight, PinnedSpan<float> Bias, PinnedSpan<float> Input, PinnedSpan<float> Output)
            : IKernelUnit
        {
            public void Run(int image)
            {
                var window = Layout.Window;
                var convolution = Layout.Convolution;
                int channels = window.Input.Channels, k = window.KernelSize, depth = convolution.Depth, outChannels = convolution.OutChannels;
                int outputHeight = window.OutputHeight, outputWidth = window.OutputWidth, spatial = window.OutputSpatial;
                int paddedHeight = Layout.PaddedHeight, paddedWidth = Layout.PaddedWidth, lanes = TOperations.Count, chunks = (outputWidth + lanes - 1) / lanes;
                float[] padded = ArrayPool<float>.Shared.Rent(channels * Layout.PaddedPlane);
                try
                {
                    CopyPadded(Input.Span.Slice(image * window.Input.Size, window.Input.Size), channels, window.Input.Height, window.Input.Width,
                        padded, paddedHeight, paddedWidth, window.Padding);
                    ref float x = ref MemoryMarshal.GetArrayDataReference(padded);
                    ref float w = ref MemoryMarshal.GetReference(Weight.Span);
                    ReadOnlySpan<float> bias = Bias.Span;
                    ref float y = ref MemoryMarshal.GetReference(Output.Span.Slice(image * convolution.Output.Size, convolution.Output.Size));
                    for (int co = 0; co < outChannels; co += 4)
                    {
                        // Past the last channel the block repeats it: the same sums, stored again.
                        int co1 = Math.Min(co + 1, outChannels - 1), co2 = Math.Min(co + 2, outChannels - 1), co3 = Math.Min(co + 3, outChannels - 1);
                        TVector bias0 = bias.IsEmpty ? TOperations.Zero : TOperations.Broadcast(bias[co]);
                        TVector bias1 = bias.IsEmpty ? TOperations.Zero : TOperations.Broadcast(bias[co1]);
                        TVector bias2 = bias.IsEmpty ? TOperations.Zero : TOperations.Broadcast(bias[co2]);
                        TVector bias3 = bias.IsEmpty ? TOperations.Zero : TOperations.Broadcast(bias[co3]);
                        ref float w0 = ref Unsafe.Add(ref w, co * depth);
                        ref float w1 = ref Unsafe.Add(ref w, co1 * depth);
                        ref float w2 = ref Unsafe.Add(ref w, co2 * depth);
                        ref float w3 = ref Unsafe.Add(ref w, co3 * depth);
                        for (int oh = 0; oh < outputHeight; oh++)
                            for (int chunk = 0; chunk < chunks; chunk += 2)
                            {
                                // The last vector of a row starts at Wout − lanes, overlapping the one before.
                                nint s0 = Math.Min(chunk * lanes, outputWidth - lanes), s1 = Math.Min((chunk + 1) * lanes, outputWidth - lanes);
                                TVector a00 = bias0, a01 = bias0, a10 = bias1, a11 = bias1, a20 = bias2, a21 = bias2, a30 = bias3, a31 = bias3;
                                int r = 0;
                                for (int ci = 0; ci < channels; ci++)
                                    for (int kh = 0; kh < k; kh++)
                                    {
                                        ref float row = ref Unsafe.Add(ref x, (ci * paddedHeight + oh + kh) * paddedWidth);
                                        for (int kw = 0; kw < k; kw++, r++)
                                        {
                                            TVector x0 = TOperations.Load(ref row, s0 + kw), x1 = TOperations.Load(ref row, s1 + kw);
                                            TVector weight0 = TOperations.Broadcast(Unsafe.Add(ref w0, r));
                                            a00 = TOperations.MultiplyAdd(weight0, x0, a00);
                                            a01 = TOperations.MultiplyAdd(weight0, x1, a01);
                                            TVector weight1 = TOperations.Broadcast(Unsafe.Add(ref w1, r));
                                            a10 = TOperations.MultiplyAdd(weight1, x0, a10);
                                            a11 = TOperations.MultiplyAdd(weight1, x1, a11);
                                            TVector weight2 = TOperations.Broadcast(Unsafe.Add(ref w2, r));
                                            a20 = TOperations.MultiplyAdd(weight2, x0, a20);
                                            a21 = TOperations.MultiplyAdd(weight2, x1, a21);
                                            TVector weight3 = TOperations.Broadcast(Unsafe.Add(ref w3, r));
                                            a30 = TOperations.MultiplyAdd(weight3, x0, a30);
                                            a31 = TOperations.MultiplyAdd(weight3, x1, a31);
                                        }
                                    }
                                nint rowStart = oh * outputWidth;
                                TOperations.Store(a00, ref y, co * spatial + rowStart + s0);
                                TOperations.Store(a01, ref y, co * spatial + rowStart + s1);
                                TOperations.Store(a10, ref y, co1 * spatial + rowStart + s0);
                                TOperations.Store(a11, ref y, co1 * spatial + rowStart + s1);
                                TOperations.Store(a20, ref y, co2 * spatial + rowStart + s0);
                                TOperations.Store(a21, ref y, co2 * spatial + rowStart + s1);
                                TOperations.Store(a30, ref y, co3 * spatial + rowStart + s0);
                                TOperations.Store(a31, ref y, co3 * spatial + rowStart + s1);
                            }
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(padded);
                }
            }
        }
    }
}
