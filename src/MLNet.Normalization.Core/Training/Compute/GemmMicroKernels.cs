using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
#if NET9_0_OR_GREATER
using System.Runtime.Intrinsics.Arm;
#endif
using System.Runtime.Intrinsics.X86;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// A register-tile kernel: Rows × Columns sums over one packed depth block, started from zero or from
/// <c>accumulator</c>, then written to <c>output</c> as they are or finished as α·s (+ β·output when β ≠ 0).
/// </summary>
/// <remarks>
/// Hand-written SIMD: TensorPrimitives has no matrix product, and its dot products would reload both operands for
/// every output; a register tile loads each packed A and B value once per Rows × Columns multiply-adds, which is
/// what takes the product to the FMA units' peak. Every kernel runs each output's sum as one chain of fused
/// multiply-adds in increasing k, so all give the same bits where the hardware has FMA.
/// </remarks>
internal interface IGemmMicroKernel
{
    static abstract int Rows { get; }

    static abstract int Columns { get; }

    /// <summary>Depth of a packed block: one B panel (depth × <see cref="Columns"/>) and one A panel stay in L1.</summary>
    static abstract int DepthBlock { get; }

    static abstract void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride,
        bool loadAccumulator, ref float output, nint outputStride, bool finalize, float alpha, float beta);
}

/// <summary>4 × (2 vectors) register tile in <see cref="Vector{T}"/>, fused where the hardware can.</summary>
internal readonly struct PortableMicroKernel : IGemmMicroKernel
{
    public static int Rows => 4;

    public static int Columns => 2 * Vector<float>.Count;

    public static int DepthBlock => 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride,
        bool loadAccumulator, ref float output, nint outputStride, bool finalize, float alpha, float beta)
    {
        nuint width = (nuint)Vector<float>.Count;
        Vector<float> c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b;
        if (loadAccumulator)
        {
            ref float row = ref accumulator;
            c0a = Vector.LoadUnsafe(ref row);
            c0b = Vector.LoadUnsafe(ref row, width);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c1a = Vector.LoadUnsafe(ref row);
            c1b = Vector.LoadUnsafe(ref row, width);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c2a = Vector.LoadUnsafe(ref row);
            c2b = Vector.LoadUnsafe(ref row, width);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c3a = Vector.LoadUnsafe(ref row);
            c3b = Vector.LoadUnsafe(ref row, width);
        }
        else
        {
            c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = Vector<float>.Zero;
        }

        for (int p = 0; p < depth; p++)
        {
            var b0 = Vector.LoadUnsafe(ref packedB);
            var b1 = Vector.LoadUnsafe(ref packedB, width);
            var a = new Vector<float>(packedA);
            c0a = MultiplyAdd(a, b0, c0a);
            c0b = MultiplyAdd(a, b1, c0b);
            a = new Vector<float>(Unsafe.Add(ref packedA, 1));
            c1a = MultiplyAdd(a, b0, c1a);
            c1b = MultiplyAdd(a, b1, c1b);
            a = new Vector<float>(Unsafe.Add(ref packedA, 2));
            c2a = MultiplyAdd(a, b0, c2a);
            c2b = MultiplyAdd(a, b1, c2b);
            a = new Vector<float>(Unsafe.Add(ref packedA, 3));
            c3a = MultiplyAdd(a, b0, c3a);
            c3b = MultiplyAdd(a, b1, c3b);
            packedA = ref Unsafe.Add(ref packedA, 4);
            packedB = ref Unsafe.Add(ref packedB, 2 * width);
        }

        ref float target = ref output;
        Store(ref target, c0a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, width), c0b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c1a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, width), c1b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c2a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, width), c2b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c3a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, width), c3b, finalize, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> MultiplyAdd(Vector<float> left, Vector<float> right, Vector<float> addend)
        // Fused where the hardware is, so results match the other kernels bit for bit; emulating FMA would be far
        // too slow. Not Vector.MultiplyAddEstimate, whose rounding may differ between JIT tiers of one method.
#if NET9_0_OR_GREATER
        => Fma.IsSupported || AdvSimd.IsSupported ? Vector.FusedMultiplyAdd(left, right, addend) : left * right + addend;
#else
        // .NET 8 has no Vector.FusedMultiplyAdd: the portable kernel rounds twice there, still the same on every run.
        => left * right + addend;
#endif

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float target, Vector<float> sum, bool finalize, float alpha, float beta)
    {
        if (finalize)
        {
            sum *= alpha;
            if (beta != 0)
                sum += Vector.LoadUnsafe(ref target) * beta;
        }
        sum.StoreUnsafe(ref target);
    }
}

/// <summary>
/// 12 × 32 register tile: 24 zmm accumulators (cRa and cRb are row R's two vectors), two B vectors and one
/// broadcast A value of the 32 registers; per k, 24 FMAs for 14 loads.
/// </summary>
internal readonly struct Avx512MicroKernel : IGemmMicroKernel
{
    public static int Rows => 12;
    public static int Columns => 32;

    public static int DepthBlock => 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride, bool loadAccumulator,
        ref float output, nint outputStride, bool finalize, float alpha, float beta)
    {
        Vector512<float> c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b, c6a, c6b, c7a, c7b, c8a, c8b, c9a, c9b, c10a, c10b, c11a, c11b;
        if (loadAccumulator)
        {
            ref float row = ref accumulator;
            c0a = Vector512.LoadUnsafe(ref row);
            c0b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c1a = Vector512.LoadUnsafe(ref row);
            c1b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c2a = Vector512.LoadUnsafe(ref row);
            c2b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c3a = Vector512.LoadUnsafe(ref row);
            c3b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c4a = Vector512.LoadUnsafe(ref row);
            c4b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c5a = Vector512.LoadUnsafe(ref row);
            c5b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c6a = Vector512.LoadUnsafe(ref row);
            c6b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c7a = Vector512.LoadUnsafe(ref row);
            c7b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c8a = Vector512.LoadUnsafe(ref row);
            c8b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c9a = Vector512.LoadUnsafe(ref row);
            c9b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c10a = Vector512.LoadUnsafe(ref row);
            c10b = Vector512.LoadUnsafe(ref row, 16);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c11a = Vector512.LoadUnsafe(ref row);
            c11b = Vector512.LoadUnsafe(ref row, 16);
        }
        else
        {
            c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = c4a = c4b = c5a = c5b = c6a = c6b = c7a = c7b = c8a = c8b = c9a = c9b = c10a = c10b = c11a = c11b = Vector512<float>.Zero;
        }

        for (int p = 0; p < depth; p++)
        {
            Vector512<float> b0 = Vector512.LoadUnsafe(ref packedB);
            Vector512<float> b1 = Vector512.LoadUnsafe(ref packedB, 16);
            Vector512<float> a = Vector512.Create(packedA);
            c0a = Avx512F.FusedMultiplyAdd(a, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(a, b1, c0b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 1));
            c1a = Avx512F.FusedMultiplyAdd(a, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(a, b1, c1b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 2));
            c2a = Avx512F.FusedMultiplyAdd(a, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(a, b1, c2b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 3));
            c3a = Avx512F.FusedMultiplyAdd(a, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(a, b1, c3b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 4));
            c4a = Avx512F.FusedMultiplyAdd(a, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(a, b1, c4b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 5));
            c5a = Avx512F.FusedMultiplyAdd(a, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(a, b1, c5b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 6));
            c6a = Avx512F.FusedMultiplyAdd(a, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(a, b1, c6b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 7));
            c7a = Avx512F.FusedMultiplyAdd(a, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(a, b1, c7b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 8));
            c8a = Avx512F.FusedMultiplyAdd(a, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(a, b1, c8b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 9));
            c9a = Avx512F.FusedMultiplyAdd(a, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(a, b1, c9b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 10));
            c10a = Avx512F.FusedMultiplyAdd(a, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(a, b1, c10b);
            a = Vector512.Create(Unsafe.Add(ref packedA, 11));
            c11a = Avx512F.FusedMultiplyAdd(a, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(a, b1, c11b);
            packedA = ref Unsafe.Add(ref packedA, 12);
            packedB = ref Unsafe.Add(ref packedB, 32);
        }

        ref float target = ref output;
        Store(ref target, c0a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c0b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c1a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c1b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c2a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c2b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c3a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c3b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c4a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c4b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c5a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c5b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c6a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c6b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c7a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c7b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c8a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c8b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c9a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c9b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c10a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c10b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c11a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 16), c11b, finalize, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float target, Vector512<float> sum, bool finalize, float alpha, float beta)
    {
        if (finalize)
        {
            sum *= alpha;
            if (beta != 0)
                sum += Vector512.LoadUnsafe(ref target) * beta;
        }
        sum.StoreUnsafe(ref target);
    }
}

/// <summary>
/// 6 × 16 register tile: 12 ymm accumulators (cRa and cRb are row R's two vectors), two B vectors and one
/// broadcast A value of the 16 registers; per k, 12 FMAs for 8 loads.
/// </summary>
internal readonly struct Avx2MicroKernel : IGemmMicroKernel
{
    public static int Rows => 6;
    public static int Columns => 16;

    public static int DepthBlock => 256;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride, bool loadAccumulator,
        ref float output, nint outputStride, bool finalize, float alpha, float beta)
    {
        Vector256<float> c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b;
        if (loadAccumulator)
        {
            ref float row = ref accumulator;
            c0a = Vector256.LoadUnsafe(ref row);
            c0b = Vector256.LoadUnsafe(ref row, 8);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c1a = Vector256.LoadUnsafe(ref row);
            c1b = Vector256.LoadUnsafe(ref row, 8);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c2a = Vector256.LoadUnsafe(ref row);
            c2b = Vector256.LoadUnsafe(ref row, 8);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c3a = Vector256.LoadUnsafe(ref row);
            c3b = Vector256.LoadUnsafe(ref row, 8);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c4a = Vector256.LoadUnsafe(ref row);
            c4b = Vector256.LoadUnsafe(ref row, 8);
            row = ref Unsafe.Add(ref row, accumulatorStride);
            c5a = Vector256.LoadUnsafe(ref row);
            c5b = Vector256.LoadUnsafe(ref row, 8);
        }
        else
        {
            c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = c4a = c4b = c5a = c5b = Vector256<float>.Zero;
        }

        for (int p = 0; p < depth; p++)
        {
            Vector256<float> b0 = Vector256.LoadUnsafe(ref packedB);
            Vector256<float> b1 = Vector256.LoadUnsafe(ref packedB, 8);
            Vector256<float> a = Vector256.Create(packedA);
            c0a = Fma.MultiplyAdd(a, b0, c0a); c0b = Fma.MultiplyAdd(a, b1, c0b);
            a = Vector256.Create(Unsafe.Add(ref packedA, 1));
            c1a = Fma.MultiplyAdd(a, b0, c1a); c1b = Fma.MultiplyAdd(a, b1, c1b);
            a = Vector256.Create(Unsafe.Add(ref packedA, 2));
            c2a = Fma.MultiplyAdd(a, b0, c2a); c2b = Fma.MultiplyAdd(a, b1, c2b);
            a = Vector256.Create(Unsafe.Add(ref packedA, 3));
            c3a = Fma.MultiplyAdd(a, b0, c3a); c3b = Fma.MultiplyAdd(a, b1, c3b);
            a = Vector256.Create(Unsafe.Add(ref packedA, 4));
            c4a = Fma.MultiplyAdd(a, b0, c4a); c4b = Fma.MultiplyAdd(a, b1, c4b);
            a = Vector256.Create(Unsafe.Add(ref packedA, 5));
            c5a = Fma.MultiplyAdd(a, b0, c5a); c5b = Fma.MultiplyAdd(a, b1, c5b);
            packedA = ref Unsafe.Add(ref packedA, 6);
            packedB = ref Unsafe.Add(ref packedB, 16);
        }

        ref float target = ref output;
        Store(ref target, c0a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 8), c0b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c1a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 8), c1b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c2a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 8), c2b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c3a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 8), c3b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c4a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 8), c4b, finalize, alpha, beta);
        target = ref Unsafe.Add(ref target, outputStride);
        Store(ref target, c5a, finalize, alpha, beta);
        Store(ref Unsafe.Add(ref target, 8), c5b, finalize, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(ref float target, Vector256<float> sum, bool finalize, float alpha, float beta)
    {
        if (finalize)
        {
            sum *= alpha;
            if (beta != 0)
                sum += Vector256.LoadUnsafe(ref target) * beta;
        }
        sum.StoreUnsafe(ref target);
    }
}
