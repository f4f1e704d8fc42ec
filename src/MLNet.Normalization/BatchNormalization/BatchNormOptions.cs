namespace MLNet.Normalization;

/// <summary>How <see cref="BatchNormCatalog.BatchNorm(Microsoft.ML.TransformsCatalog, string, string?, BatchNormOptions?)"/> fits its running statistics.</summary>
public enum BatchNormFitMode
{
    /// <summary>
    /// PyTorch's training-mode update over mini-batches of <see cref="BatchNormOptions.BatchSize"/> rows in data
    /// order (the last partial batch included): running = (1 − momentum) · running + momentum · batch statistic,
    /// with the unbiased batch variance n / (n − 1), starting from mean 0 and variance 1.
    /// </summary>
    MovingAverage = 0,

    /// <summary>
    /// PyTorch's momentum = None: the running statistics are the plain average of the batch statistics
    /// (each batch weighs the same; the first batch replaces the initial values).
    /// </summary>
    Cumulative = 1,

    /// <summary>The exact mean and unbiased variance over all rows and positions, in one streaming pass.</summary>
    Exact = 2,
}

/// <summary>Options of the fitted BatchNorm transform. Defaults follow PyTorch's <c>BatchNorm*d</c>.</summary>
public sealed class BatchNormOptions
{
    /// <summary>How the running statistics are fitted; default <see cref="BatchNormFitMode.MovingAverage"/>.</summary>
    public BatchNormFitMode FitMode { get; set; } = BatchNormFitMode.MovingAverage;

    /// <summary>Rows per mini-batch for <see cref="BatchNormFitMode.MovingAverage"/> and <see cref="BatchNormFitMode.Cumulative"/>; default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>PyTorch's momentum in (0, 1]: the weight of each new batch; default 0.1 (Keras' 0.99 is 1 − 0.01).</summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>ε added to the variance inside the square root; default 1e-5.</summary>
    public float Epsilon { get; set; } = 1e-5f;

    /// <summary>Per-channel scale γ; null for 1.</summary>
    public float[]? Gamma { get; set; }

    /// <summary>Per-channel shift β; null for 0.</summary>
    public float[]? Beta { get; set; }

    /// <summary>
    /// Where the channel dimension is; default <see cref="ChannelLayout.Auto"/>: read from the column's dimensions,
    /// and a column of unknown shape is (C), one value per channel (PyTorch's <c>BatchNorm1d</c> on (N, C)).
    /// </summary>
    public ChannelLayout Layout { get; set; } = ChannelLayout.Auto;

    internal void Validate()
    {
        if (!Enum.IsDefined(FitMode))
            throw new ArgumentOutOfRangeException(nameof(FitMode), FitMode, $"Unknown fit mode {(int)FitMode}.");
        if (!Enum.IsDefined(Layout))
            throw new ArgumentOutOfRangeException(nameof(Layout), Layout, $"Unknown channel layout {(int)Layout}.");
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"BatchSize must be at least 1, got {BatchSize}.");
        if (!(Momentum > 0 && Momentum <= 1))
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, $"Momentum must be in (0, 1], got {Momentum}; PyTorch's momentum weights the new batch (Keras' 0.99 is 0.01 here).");
        BatchNormParameters.CheckEpsilon(Epsilon);
        if (Gamma is not null && Beta is not null && Gamma.Length != Beta.Length)
            throw new ArgumentException($"Gamma has {Gamma.Length} values but Beta has {Beta.Length}.", nameof(Beta));
        BatchNormParameters.CheckFinite(Gamma, nameof(Gamma));
        BatchNormParameters.CheckFinite(Beta, nameof(Beta));
    }
}
