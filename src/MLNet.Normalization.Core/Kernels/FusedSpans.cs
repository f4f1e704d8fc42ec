using System.Numerics;
using System.Runtime.InteropServices;

namespace MLNet.Normalization.Kernels;

/// <summary>
/// Elementwise passes of two or more terms that <c>TensorPrimitives</c> would split into two or three passes: one
/// read of each input and one write per element, so the normalization backward and layer-norm apply stay
/// memory-bound. The single multiply-add y = x · s + t is <see cref="ChannelAffine"/>'s.
/// </summary>
internal static class FusedSpans
{
    /// <summary>destination = a · aScale + b · bScale + shift.</summary>
    public static void LinearCombination(ReadOnlySpan<float> a, float aScale, ReadOnlySpan<float> b, float bScale, float shift, Span<float> destination)
    {
        CheckLengths(a.Length, b.Length, destination.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var target = MemoryMarshal.Cast<float, Vector<float>>(destination);
            var ka = new Vector<float>(aScale);
            var kb = new Vector<float>(bScale);
            var t = new Vector<float>(shift);
            int v = 0;
            for (; v + 1 < va.Length; v += 2)
            {
                target[v] = va[v] * ka + (vb[v] * kb + t);
                target[v + 1] = va[v + 1] * ka + (vb[v + 1] * kb + t);
            }
            for (; v < va.Length; v++)
                target[v] = va[v] * ka + (vb[v] * kb + t);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++)
            destination[i] = a[i] * aScale + (b[i] * bScale + shift);
    }

    /// <summary>destination = (x · scale + shift) · γ + β, γ and β elementwise: a layer norm's normalize and affine in one pass.</summary>
    public static void MultiplyAddThenAffine(ReadOnlySpan<float> x, float scale, float shift, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        Span<float> destination)
    {
        CheckLengths(x.Length, gamma.Length, destination.Length);
        CheckLengths(x.Length, beta.Length, destination.Length);
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var source = MemoryMarshal.Cast<float, Vector<float>>(x);
            var g = MemoryMarshal.Cast<float, Vector<float>>(gamma);
            var b = MemoryMarshal.Cast<float, Vector<float>>(beta);
            var target = MemoryMarshal.Cast<float, Vector<float>>(destination);
            var s = new Vector<float>(scale);
            var t = new Vector<float>(shift);
            for (int v = 0; v < source.Length; v++)
                target[v] = (source[v] * s + t) * g[v] + b[v];
            i = source.Length * Vector<float>.Count;
        }
        for (; i < x.Length; i++)
            destination[i] = (x[i] * scale + shift) * gamma[i] + beta[i];
    }

    private static void CheckLengths(int first, int second, int destination)
    {
        if (first != destination || second != destination)
            throw new ArgumentException($"Spans of {first}, {second} and {destination} values; elementwise passes need equal lengths.");
    }
}
