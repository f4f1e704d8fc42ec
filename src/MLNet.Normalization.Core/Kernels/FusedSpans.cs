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
    /// <summary>
    /// destination = a · aScale + ((b − centre) · bScale + shift): a normalization backward's dx = k · dy + p · (x − μ) + q.
    /// Centring x before scaling keeps every term as small as dx, where the uncentred p · x + q cancels terms of size
    /// |p · μ| and costs float rounding in proportion to |μ| / σ. Vector and scalar lanes round alike (no contraction
    /// to FMA), so results do not depend on where a span's vector part ends.
    /// </summary>
    public static void CenteredLinearCombination(ReadOnlySpan<float> a, float aScale, ReadOnlySpan<float> b, float centre, float bScale, float shift,
        Span<float> destination)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var target = MemoryMarshal.Cast<float, Vector<float>>(destination);
            Vector<float> vaScale = new(aScale), vCentre = new(centre), vbScale = new(bScale), vShift = new(shift);
            int v = 0;
            for (; v + 1 < va.Length; v += 2)
            {
                target[v] = va[v] * vaScale + ((vb[v] - vCentre) * vbScale + vShift);
                target[v + 1] = va[v + 1] * vaScale + ((vb[v + 1] - vCentre) * vbScale + vShift);
            }
            for (; v < va.Length; v++)
                target[v] = va[v] * vaScale + ((vb[v] - vCentre) * vbScale + vShift);
            i = va.Length * Vector<float>.Count;
        }
        for (; i < a.Length; i++)
            destination[i] = a[i] * aScale + ((b[i] - centre) * bScale + shift);
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
