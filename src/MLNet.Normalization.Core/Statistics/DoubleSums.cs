using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace MLNet.Normalization.Statistics;

/// <summary>
/// Reductions of float spans accumulated in double, for statistics that must not lose precision. The vector path
/// widens each float vector to two double vectors and keeps four accumulators per sum, so the loop runs at memory
/// speed instead of waiting on one chain of additions; the summation order depends only on the length, so the
/// result is the same on every run of one machine.
/// </summary>
internal static class DoubleSums
{
    /// <summary>
    /// (Σ (v − shift), Σ (v − shift)²) in one pass. With <paramref name="shift"/> one of the values, the variance
    /// (Σd² − (Σd)²/n) / n keeps double precision: Σd² = nσ² + n(μ − shift)² and (μ − shift)² ≤ nσ², so Σd² is at
    /// most (n + 1) · nσ² and the cancellation costs at most log₂(n + 1) of double's 53 bits.
    /// </summary>
    public static (double Sum, double SumOfSquares) ShiftedSums(ReadOnlySpan<float> values, double shift)
    {
        return Vector512.IsHardwareAccelerated && values.Length >= Vector512<float>.Count
            ? ShiftedSums512(values, shift)
            : ShiftedSumsVector(values, shift);
    }

    /// <summary><see cref="ShiftedSums"/> with <see cref="Vector{T}"/> (128 or 256 bits), the path of machines without 512-bit vectors.</summary>
    internal static (double Sum, double SumOfSquares) ShiftedSumsVector(ReadOnlySpan<float> values, double shift)
    {
        int i = 0;
        double sum = 0, squares = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= 2 * Vector<float>.Count)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
            var center = new Vector<double>(shift);
            Vector<double> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector<double> q0 = default, q1 = default, q2 = default, q3 = default;
            int v = 0;
            for (; v + 1 < vectors.Length; v += 2)
            {
                Vector.Widen(vectors[v], out var d0, out var d1);
                Vector.Widen(vectors[v + 1], out var d2, out var d3);
                d0 -= center;
                d1 -= center;
                d2 -= center;
                d3 -= center;
                s0 += d0;
                s1 += d1;
                s2 += d2;
                s3 += d3;
                q0 += d0 * d0;
                q1 += d1 * d1;
                q2 += d2 * d2;
                q3 += d3 * d3;
            }
            if (v < vectors.Length)
            {
                Vector.Widen(vectors[v], out var d0, out var d1);
                d0 -= center;
                d1 -= center;
                s0 += d0;
                s1 += d1;
                q0 += d0 * d0;
                q1 += d1 * d1;
            }
            sum = Vector.Sum((s0 + s1) + (s2 + s3));
            squares = Vector.Sum((q0 + q1) + (q2 + q3));
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++)
        {
            double d = values[i] - shift;
            sum += d;
            squares += d * d;
        }
        return (sum, squares);
    }

    /// <summary>
    /// <see cref="ShiftedSums"/> with 512-bit vectors: widening every float to double makes this pass compute-bound
    /// at 256 bits on one core (KernelPartsBenchmarks), so where the hardware has them, twice the width.
    /// </summary>
    internal static (double Sum, double SumOfSquares) ShiftedSums512(ReadOnlySpan<float> values, double shift)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        var center = Vector512.Create(shift);
        Vector512<double> s0 = default, s1 = default, s2 = default, s3 = default;
        Vector512<double> q0 = default, q1 = default, q2 = default, q3 = default;
        int step = Vector512<float>.Count, i = 0;
        for (; i <= values.Length - 2 * step; i += 2 * step)
        {
            var (d0, d1) = Vector512.Widen(Vector512.LoadUnsafe(ref start, (nuint)i));
            var (d2, d3) = Vector512.Widen(Vector512.LoadUnsafe(ref start, (nuint)(i + step)));
            d0 -= center;
            d1 -= center;
            d2 -= center;
            d3 -= center;
            s0 += d0;
            s1 += d1;
            s2 += d2;
            s3 += d3;
            q0 += d0 * d0;
            q1 += d1 * d1;
            q2 += d2 * d2;
            q3 += d3 * d3;
        }
        if (i <= values.Length - step)
        {
            var (d0, d1) = Vector512.Widen(Vector512.LoadUnsafe(ref start, (nuint)i));
            d0 -= center;
            d1 -= center;
            s0 += d0;
            s1 += d1;
            q0 += d0 * d0;
            q1 += d1 * d1;
            i += step;
        }
        double sum = Vector512.Sum((s0 + s1) + (s2 + s3)), squares = Vector512.Sum((q0 + q1) + (q2 + q3));
        for (; i < values.Length; i++)
        {
            double d = values[i] - shift;
            sum += d;
            squares += d * d;
        }
        return (sum, squares);
    }

    /// <summary>(Σ a, Σ a · b) in one pass.</summary>
    public static (double Sum, double Dot) SumAndDot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Spans of {a.Length} and {b.Length} values.", nameof(b));
        int i = 0;
        double sum = 0, dot = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            Vector<double> s0 = default, s1 = default, d0 = default, d1 = default;
            for (int v = 0; v < va.Length; v++)
            {
                Vector.Widen(va[v], out var aLow, out var aHigh);
                Vector.Widen(vb[v], out var bLow, out var bHigh);
                s0 += aLow;
                s1 += aHigh;
                d0 += aLow * bLow;
                d1 += aHigh * bHigh;
            }
            sum = Vector.Sum(s0 + s1);
            dot = Vector.Sum(d0 + d1);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++)
        {
            sum += a[i];
            dot += (double)a[i] * b[i];
        }
        return (sum, dot);
    }
}
