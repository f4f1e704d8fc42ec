using System.Numerics.Tensors;

namespace MLNet.Normalization.Kernels;

internal static class NonFinite
{
    /// <summary>The index of the first NaN or infinity in <paramref name="values"/>, or −1 when all are finite.</summary>
    public static int IndexOf(ReadOnlySpan<float> values)
    {
        // A vectorized sum is finite whenever every value is; only a non-finite sum needs the scan
        // (it can also come from overflow of large finite values, which the scan then clears).
        if (float.IsFinite(TensorPrimitives.Sum(values)))
            return -1;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                return i;
        return -1;
    }
}
