namespace MLNet.Normalization;

/// <summary>Options of the fitted BatchNorm transform. Defaults follow PyTorch's <c>BatchNorm*d</c>.</summary>
public sealed class BatchNormOptions
{
    /// <summary>How the running statistics are fitted; default <see cref="BatchNormFitMode.MovingAverage"/>.</summary>
    public BatchNormFitMode FitMode { get; set; } = BatchNormFitMode.MovingAverage;

    /// <summary>Rows per mini-batch for <see cref="BatchNormFitMode.MovingAverage"/> and <see cref="BatchNormFitMode.Cumulative"/>; default 32.</summary>
    public int BatchSize { get; set; } = 32;

    /// <summary>
    /// PyTorch's momentum, in [0, 1]: the weight of each new batch in
    /// running = (1 − momentum) · running + momentum · batch statistic; default 0.1. Keras and ONNX write the weight of
    /// the old value instead: their momentum is 1 − this one (Keras' 0.99 is 0.01 here, ONNX's 0.9 is 0.1). 0 freezes the
    /// statistics at their initial mean 0 and variance 1 (ONNX's momentum 1). Used by <see cref="BatchNormFitMode.MovingAverage"/> only.
    /// </summary>
    public double Momentum { get; set; } = 0.1;

    /// <summary>
    /// Whether the batch variance averaged into the running variance is unbiased, σ²_B · n / (n − 1) with n values per
    /// channel in the batch (true, the default: PyTorch's <c>BatchNorm*d</c>), or biased, σ²_B (false: Keras'
    /// <c>BatchNormalization</c> and ONNX's <c>BatchNormalization</c> in training mode). With
    /// <see cref="BatchNormFitMode.Exact"/>, false gives the population variance of the data.
    /// </summary>
    public bool UnbiasedRunningVariance { get; set; } = true;

    /// <summary>ε added to the variance inside the square root; default 1e-5 (PyTorch's and ONNX's default; Keras' is 1e-3).</summary>
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

    /// <summary>A copy that later changes to this instance (or its arrays) do not reach.</summary>
    internal BatchNormOptions Clone()
    {
        var copy = (BatchNormOptions)MemberwiseClone();
        copy.Gamma = (float[]?)Gamma?.Clone();
        copy.Beta = (float[]?)Beta?.Clone();
        return copy;
    }

    internal void Validate()
    {
        if (!Enum.IsDefined(FitMode))
            throw new ArgumentOutOfRangeException(nameof(FitMode), FitMode, $"Unknown fit mode {(int)FitMode}.");
        if (!Enum.IsDefined(Layout))
            throw new ArgumentOutOfRangeException(nameof(Layout), Layout, $"Unknown channel layout {(int)Layout}.");
        if (BatchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"BatchSize must be at least 1, got {BatchSize}.");
        if (!(Momentum >= 0 && Momentum <= 1))
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, $"Momentum must be in [0, 1], got {Momentum}; PyTorch's momentum weights the new batch (Keras' 0.99 is 0.01 here, ONNX's 0.9 is 0.1).");
        Guard.CheckEpsilon(Epsilon);
        if (Gamma is not null && Beta is not null && Gamma.Length != Beta.Length)
            throw new ArgumentException($"Gamma has {Gamma.Length} values but Beta has {Beta.Length}.", nameof(Beta));
        Guard.CheckFinite(Gamma, nameof(Gamma));
        Guard.CheckFinite(Beta, nameof(Beta));
    }
}
