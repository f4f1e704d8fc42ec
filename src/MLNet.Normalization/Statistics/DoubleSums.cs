namespace MLNet.Normalization.Statistics;

/// <summary>Reductions of float spans accumulated in double, for statistics that must not lose precision.</summary>
internal static class DoubleSums
{
    public static double Sum(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (var v in values)
            sum += v;
        return sum;
    }

    public static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double sum = 0;
        for (int i = 0; i < a.Length; i++)
            sum += (double)a[i] * b[i];
        return sum;
    }

    /// <summary>Σ (v − center)².</summary>
    public static double SquaredDeviations(ReadOnlySpan<float> values, double center)
    {
        double sum = 0;
        foreach (var v in values)
        {
            double d = v - center;
            sum += d * d;
        }
        return sum;
    }
}
