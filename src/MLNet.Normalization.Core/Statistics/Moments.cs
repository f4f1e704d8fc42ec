namespace MLNet.Normalization.Statistics;

/// <summary>
/// Count, mean and sum of squared deviations (M2) of a set of values, in double. Two sets merge exactly with
/// Chan et al.'s parallel formula, so partitions can be accumulated separately and combined.
/// </summary>
internal readonly record struct Moments(long Count, double Mean, double M2)
{
    public static readonly Moments Empty = new(0, 0, 0);

    /// <summary>Population variance M2 / n (the normalizers' convention).</summary>
    public double PopulationVariance => Count > 0 ? M2 / Count : double.NaN;

    /// <summary>Unbiased sample variance M2 / (n − 1) (the running-variance convention of PyTorch).</summary>
    public double SampleVariance => Count > 1 ? M2 / (Count - 1) : double.NaN;

    /// <summary>Moments of a span in one pass, sums in double shifted by the first value (see <see cref="DoubleSums.ShiftedSums"/>).</summary>
    public static Moments Of(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
            return Empty;
        return FromShiftedSums(values.Length, values[0], DoubleSums.ShiftedSums(values, values[0]));
    }

    /// <summary>Moments from <paramref name="count"/> values' Σ (v − shift) and Σ (v − shift)².</summary>
    public static Moments FromShiftedSums(long count, double shift, (double Sum, double SumOfSquares) sums)
    {
        double offset = sums.Sum / count;
        return new Moments(count, shift + offset, Math.Max(0, sums.SumOfSquares - sums.Sum * offset));
    }

    /// <summary>The moments of the union of both sets (Chan, Golub and LeVeque's pairwise update).</summary>
    public Moments Merge(Moments other)
    {
        if (other.Count == 0)
            return this;
        if (Count == 0)
            return other;
        long count = Count + other.Count;
        double delta = other.Mean - Mean;
        double mean = Mean + delta * other.Count / count;
        double m2 = M2 + other.M2 + delta * delta * ((double)Count * other.Count / count);
        return new Moments(count, mean, m2);
    }
}
