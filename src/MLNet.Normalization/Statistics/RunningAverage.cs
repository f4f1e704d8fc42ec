namespace MLNet.Normalization.Statistics;

/// <summary>
/// PyTorch's running-statistics update: running = (1 − f) · running + f · batch, where f is the momentum, or
/// 1 / (number of batches seen) for a cumulative average (momentum None), so the first batch replaces the initial
/// values. Note the direction: PyTorch's momentum weights the new batch; Keras (0.99) and ONNX (0.9) weight the
/// old value, so their momentum is 1 − PyTorch's.
/// </summary>
internal static class RunningAverage
{
    /// <summary>The weight of the new batch after <paramref name="batchesSeen"/> batches, counting this one.</summary>
    public static double Factor(double? momentum, long batchesSeen)
    {
        if (batchesSeen < 1)
            throw new ArgumentOutOfRangeException(nameof(batchesSeen), batchesSeen, "Count the batch being added.");
        return momentum ?? 1.0 / batchesSeen;
    }

    public static void Update(Span<float> running, ReadOnlySpan<double> batch, double factor)
    {
        for (int i = 0; i < running.Length; i++)
            running[i] = (float)((1 - factor) * running[i] + factor * batch[i]);
    }

    /// <summary>Unbiased variance from the biased one over <paramref name="count"/> values: n / (n − 1).</summary>
    public static double Unbiased(double biasedVariance, long count) => biasedVariance * count / (count - 1);
}
