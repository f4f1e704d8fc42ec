using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// Copies op(A) and op(B) into the panels the micro-kernels stream (<see cref="IGemmMicroKernel"/>): an A panel holds
/// the kernel's Rows rows of op(A) and a B panel its Columns columns of op(B), both depth-major, so the kernel reads
/// each k's values contiguously whatever the transposes. Edges are padded with zeros to whole panels.
/// </summary>
/// <remarks>
/// Hand-written SIMD: a panel is a strided gather (or a transpose, when the source's runs lie along k), which no
/// TensorPrimitives operation does; Span.CopyTo of runs this short costs more than the copy, and the register
/// transposes move 8 × 8 blocks where element loops move one value at a time.
/// </remarks>
internal static class GemmPacking
{
    /// <summary>
    /// Depth a transposing pack covers at once: 256 × 32 floats of panel, 32 KB, stay in L1 while each group of 8
    /// runs writes its part of every row (at the forward's depth of 784, packing the whole depth at once made the
    /// product 8 % slower).
    /// </summary>
    private const int TransposeChunk = 256;

    /// <summary>
    /// Packs op(A)[row..row + height, depthStart..depthStart + depth) into <paramref name="panel"/>, depth × rows with
    /// the rows of one k adjacent; rows past <paramref name="height"/> are zero. A is m × k, or k × m when transposed.
    /// </summary>
    public static void PackA(ReadOnlySpan<float> a, int m, int k, bool transposeA, int row, int height, int depthStart, int depth,
        Span<float> panel, int rows)
    {
        panel = panel[..(rows * depth)];
        if (height < rows)
            panel.Clear();
        if (transposeA)
            PackRuns(a[(depthStart * m + row)..], m, height, depth, panel, rows);
        else
            PackTransposed(a[(row * k + depthStart)..], k, height, depth, panel, rows);
    }

    /// <summary>
    /// Packs op(B)[depthStart..depthStart + depth, column..column + width) into <paramref name="panel"/>, depth ×
    /// columns, row by row; columns past <paramref name="width"/> are zero. B is k × n, or n × k when transposed.
    /// </summary>
    public static void PackB(ReadOnlySpan<float> b, int n, int k, bool transposeB, int column, int width, int depthStart, int depth,
        Span<float> panel, int columns)
    {
        panel = panel[..(columns * depth)];
        if (width < columns)
            panel.Clear();
        if (transposeB)
            PackTransposed(b[(column * k + depthStart)..], k, width, depth, panel, columns);
        else
            PackRuns(b[(depthStart * n + column)..], n, width, depth, panel, columns);
    }

    /// <summary>
    /// Copies <paramref name="depth"/> runs of <paramref name="count"/> values, <paramref name="stride"/> apart in
    /// <paramref name="source"/>, to consecutive rows of <paramref name="panelWidth"/> in <paramref name="panel"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRuns(ReadOnlySpan<float> source, int stride, int count, int depth, Span<float> panel, int panelWidth)
    {
        if (!Vector128.IsHardwareAccelerated || count < 4)
        {
            for (int p = 0; p < depth; p++)
                source.Slice(p * stride, count).CopyTo(panel.Slice(p * panelWidth));
            return;
        }

        // Spans' CopyTo costs more than these few values; vector moves, 8 then 4 then one at a time.
        CheckExtent(source.Length, depth, stride, count);
        ref float from = ref MemoryMarshal.GetReference(source);
        ref float to = ref MemoryMarshal.GetReference(panel[..(depth * panelWidth)]);
        int wide = Vector256.IsHardwareAccelerated ? count & ~7 : 0;
        bool half = (count - wide) >= 4;
        int single = wide + (half ? 4 : 0);
        for (int p = 0; p < depth; p++)
        {
            for (int j = 0; j < wide; j += 8)
                Vector256.LoadUnsafe(ref from, (nuint)j).StoreUnsafe(ref to, (nuint)j);
            if (half)
                Vector128.LoadUnsafe(ref from, (nuint)wide).StoreUnsafe(ref to, (nuint)wide);
            for (int j = single; j < count; j++)
                Unsafe.Add(ref to, j) = Unsafe.Add(ref from, j);
            from = ref Unsafe.Add(ref from, stride);
            to = ref Unsafe.Add(ref to, panelWidth);
        }
    }

    /// <summary>
    /// Transposes <paramref name="count"/> runs of <paramref name="depth"/> contiguous values, <paramref name="stride"/>
    /// apart in <paramref name="source"/>, into <paramref name="panel"/>[p · <paramref name="panelWidth"/> + run],
    /// by 8, 4 and 2 × 8 register transposes where AVX allows.
    /// </summary>
    private static void PackTransposed(ReadOnlySpan<float> source, int stride, int count, int depth, Span<float> panel, int panelWidth)
    {
        for (int p = 0; p < depth; p += TransposeChunk)
            PackTransposedChunk(source[p..], stride, count, Math.Min(TransposeChunk, depth - p), panel[(p * panelWidth)..], panelWidth);
    }

    /// <summary><see cref="PackTransposed"/> on at most <see cref="TransposeChunk"/> values of depth.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedChunk(ReadOnlySpan<float> source, int stride, int count, int depth, Span<float> panel, int panelWidth)
    {
        int run = 0;
        if (Avx.IsSupported && depth >= 8 && count >= 2)
        {
            CheckExtent(source.Length, count, stride, depth);
            ref float from = ref MemoryMarshal.GetReference(source);
            ref float to = ref MemoryMarshal.GetReference(panel[..(depth * panelWidth)]);
            int blockedDepth = depth & ~7;
            nint width = panelWidth;
            for (; run + 8 <= count; run += 8)
            {
                for (int p = 0; p < blockedDepth; p += 8)
                {
                    ref float first = ref Unsafe.Add(ref from, run * stride + p);
                    Transpose4x8(ref first, stride, out var low0, out var low1, out var low2, out var low3);
                    Transpose4x8(ref Unsafe.Add(ref first, 4 * stride), stride, out var high0, out var high1, out var high2, out var high3);
                    ref float target = ref Unsafe.Add(ref to, p * width + run);
                    Avx.Permute2x128(low0, high0, 0x20).StoreUnsafe(ref target);
                    Avx.Permute2x128(low1, high1, 0x20).StoreUnsafe(ref Unsafe.Add(ref target, width));
                    Avx.Permute2x128(low2, high2, 0x20).StoreUnsafe(ref Unsafe.Add(ref target, 2 * width));
                    Avx.Permute2x128(low3, high3, 0x20).StoreUnsafe(ref Unsafe.Add(ref target, 3 * width));
                    Avx.Permute2x128(low0, high0, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 4 * width));
                    Avx.Permute2x128(low1, high1, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 5 * width));
                    Avx.Permute2x128(low2, high2, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 6 * width));
                    Avx.Permute2x128(low3, high3, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 7 * width));
                }
            }

            for (; run + 4 <= count; run += 4)
            {
                for (int p = 0; p < blockedDepth; p += 8)
                {
                    // atXY holds the 4 runs' values at k offsets X (low half) and Y (high half).
                    Transpose4x8(ref Unsafe.Add(ref from, run * stride + p), stride, out var at04, out var at15, out var at26, out var at37);
                    ref float target = ref Unsafe.Add(ref to, p * width + run);
                    at04.GetLower().StoreUnsafe(ref target);
                    at15.GetLower().StoreUnsafe(ref Unsafe.Add(ref target, width));
                    at26.GetLower().StoreUnsafe(ref Unsafe.Add(ref target, 2 * width));
                    at37.GetLower().StoreUnsafe(ref Unsafe.Add(ref target, 3 * width));
                    at04.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 4 * width));
                    at15.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 5 * width));
                    at26.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 6 * width));
                    at37.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 7 * width));
                }
            }

            for (; run + 2 <= count; run += 2)
            {
                for (int p = 0; p < blockedDepth; p += 8)
                {
                    // The pair (run, run + 1) at one k is 8 bytes: moved as one double.
                    ref float first = ref Unsafe.Add(ref from, run * stride + p);
                    var run0 = Vector256.LoadUnsafe(ref first);
                    var run1 = Vector256.LoadUnsafe(ref first, (nuint)stride);
                    var pairs0145 = Avx.UnpackLow(run0, run1).AsDouble();
                    var pairs2367 = Avx.UnpackHigh(run0, run1).AsDouble();
                    ref float target = ref Unsafe.Add(ref to, p * width + run);
                    Unsafe.As<float, double>(ref target) = pairs0145.GetElement(0);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, width)) = pairs0145.GetElement(1);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 2 * width)) = pairs2367.GetElement(0);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 3 * width)) = pairs2367.GetElement(1);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 4 * width)) = pairs0145.GetElement(2);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 5 * width)) = pairs0145.GetElement(3);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 6 * width)) = pairs2367.GetElement(2);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 7 * width)) = pairs2367.GetElement(3);
                }
            }

            // The depth past the last whole 8 for the runs done above.
            for (int done = 0; done < run; done++)
                for (int p = blockedDepth; p < depth; p++)
                    panel[p * panelWidth + done] = source[done * stride + p];
        }

        for (; run < count; run++)
        {
            var values = source.Slice(run * stride, depth);
            for (int p = 0; p < depth; p++)
                panel[p * panelWidth + run] = values[p];
        }
    }

    /// <summary>
    /// Transposes 4 runs × 8 values at <paramref name="first"/>: <paramref name="k0"/> holds the 4 runs' values 0 (low
    /// half) and 4 (high half), <paramref name="k1"/> values 1 and 5, and so on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x8(ref float first, int stride, out Vector256<float> k0, out Vector256<float> k1,
        out Vector256<float> k2, out Vector256<float> k3)
    {
        var run0 = Vector256.LoadUnsafe(ref first);
        var run1 = Vector256.LoadUnsafe(ref first, (nuint)stride);
        var run2 = Vector256.LoadUnsafe(ref first, (nuint)(2 * stride));
        var run3 = Vector256.LoadUnsafe(ref first, (nuint)(3 * stride));
        var low01 = Avx.UnpackLow(run0, run1);
        var high01 = Avx.UnpackHigh(run0, run1);
        var low23 = Avx.UnpackLow(run2, run3);
        var high23 = Avx.UnpackHigh(run2, run3);
        k0 = Avx.Shuffle(low01, low23, 0x44);
        k1 = Avx.Shuffle(low01, low23, 0xEE);
        k2 = Avx.Shuffle(high01, high23, 0x44);
        k3 = Avx.Shuffle(high01, high23, 0xEE);
    }

    /// <summary>Guards the unchecked loads of the packers: <paramref name="runs"/> runs of <paramref name="length"/>, <paramref name="stride"/> apart.</summary>
    private static void CheckExtent(int available, int runs, int stride, int length)
    {
        if ((long)(runs - 1) * stride + length > available)
            throw new InvalidOperationException("A GEMM packer would read past its source.");
    }
}
