namespace MLNet.Normalization;

/// <summary>How the BatchNorm estimator fits its running statistics.</summary>
/// <remarks>
/// Every mode reads the rows once in data order. A channel's statistics are over all its values (rows × spatial
/// positions) in a mini-batch, or in the whole data for <see cref="BatchNormFitMode.Exact"/>: the mean, and the variance, which is
/// unbiased (n / (n − 1) times the biased one, for n values) when <c>BatchNormOptions.UnbiasedRunningVariance</c>
/// is true (the default, as PyTorch) and biased otherwise (as Keras and ONNX).
/// </remarks>
public enum BatchNormFitMode
{
    /// <summary>
    /// The training-mode update over mini-batches of <c>BatchNormOptions.BatchSize</c> rows in data order (the
    /// last partial batch included), starting from mean 0 and variance 1:
    /// running = (1 − momentum) · running + momentum · batch statistic, with PyTorch's
    /// <c>BatchNormOptions.Momentum</c> (the weight of the new batch).
    /// </summary>
    MovingAverage = 0,

    /// <summary>
    /// PyTorch's momentum = None: the running statistics are the plain average of the batch statistics
    /// (each batch weighs the same; the first batch replaces the initial values). <c>BatchNormOptions.Momentum</c> is not used.
    /// </summary>
    Cumulative = 1,

    /// <summary>
    /// The exact mean and variance over all rows and positions, in one streaming pass: the unbiased variance
    /// (n − 1 denominator) by default, the population variance (n) with <c>BatchNormOptions.UnbiasedRunningVariance</c> false.
    /// </summary>
    Exact = 2,
}
