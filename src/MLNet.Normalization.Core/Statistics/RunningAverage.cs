namespace MLNet.Normalization.Statistics;

/// <summary>
/// The running-statistics update of batch normalization, written as PyTorch writes it:
/// running = (1 − f) · running + f · batch, where f is the momentum (the weight of the new batch, in [0, 1]; 0 leaves
/// the running value unchanged), or 1 / (number of batches seen) for a cumulative average (momentum None), so the
/// first batch replaces the initial values.
/// </summary>
/// <remarks>
/// Keras (momentum 0.99) and ONNX (momentum 0.9) write the same update with the weight of the OLD value:
/// running = momentum · running + (1 − momentum) · batch, so their momentum is 1 − f. The frameworks also differ in
/// the batch variance they average: PyTorch uses the unbiased one, n / (n − 1) times the biased batch variance
/// (<see cref="Unbiased"/>), where n is the number of values per channel in the batch; Keras and ONNX
/// (<c>BatchNormalization</c> in training mode, opset 14 and 15) use the biased one. The callers choose which.
/// </remarks>
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
