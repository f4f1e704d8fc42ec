using System.Numerics;
using System.Runtime.InteropServices;

namespace MLNet.Normalization.Statistics;

/// <summary>
/// Reductions of float spans accumulated in double, for statistics that must not lose precision. The vector path
/// widens each float vector to two double vectors and keeps two accumulators of each, so the loop runs at memory
/// speed instead of waiting on one chain of additions; the result is the same on every run of one machine.
/// </summary>
internal static class DoubleSums
{
    public static double Sum(ReadOnlySpan<float> values)
    {
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= 2 * Vector<float>.Count)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
            Vector<double> a0 = default, a1 = default, b0 = default, b1 = default;
            int v = 0;
            for (; v + 1 < vectors.Length; v += 2)
            {
                Vector.Widen(vectors[v], out var low0, out var high0);
                Vector.Widen(vectors[v + 1], out var low1, out var high1);
                a0 += low0;
                a1 += high0;
                b0 += low1;
                b1 += high1;
            }
            for (; v < vectors.Length; v++)
            {
                Vector.Widen(vectors[v], out var low, out var high);
                a0 += low;
                a1 += high;
            }
            sum = Vector.Sum(a0 + b0) + Vector.Sum(a1 + b1);
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++)
            sum += values[i];
        return sum;
    }

    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
            throw new ArgumentException($"Spans of {a.Length} and {b.Length} values.", nameof(b));
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            Vector<double> low = default, high = default;
            for (int v = 0; v < va.Length; v++)
            {
                Vector.Widen(va[v], out var aLow, out var aHigh);
                Vector.Widen(vb[v], out var bLow, out var bHigh);
                low += aLow * bLow;
                high += aHigh * bHigh;
            }
            sum = Vector.Sum(low) + Vector.Sum(high);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++)
            sum += (double)a[i] * b[i];
        return sum;
    }

    /// <summary>Σ (v − center)².</summary>
    public static double SquaredDeviations(ReadOnlySpan<float> values, double center)
    {
        int i = 0;
        double sum = 0;
        if (Vector.IsHardwareAccelerated && values.Length >= Vector<float>.Count)
        {
            var vectors = MemoryMarshal.Cast<float, Vector<float>>(values);
            var c = new Vector<double>(center);
            Vector<double> low = default, high = default;
            foreach (var vector in vectors)
            {
                Vector.Widen(vector, out var l, out var h);
                l -= c;
                h -= c;
                low += l * l;
                high += h * h;
            }
            sum = Vector.Sum(low) + Vector.Sum(high);
            i = vectors.Length * Vector<float>.Count;
        }
        for (; i < values.Length; i++)
        {
            double d = values[i] - center;
            sum += d * d;
        }
        return sum;
    }
}
