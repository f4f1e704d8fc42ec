using Microsoft.ML;
using MLNet.Normalization.Interop;

namespace MLNet.Normalization;

/// <summary>
/// Inference-mode batch normalization for float vector columns of shape (C), (C, L) or (C, H, W) (or channels-last):
/// y = γ[c] (x − runningMean[c]) / √(runningVariance[c] + ε) + β[c].
/// </summary>
public static class BatchNormCatalog
{
    /// <summary>
    /// Fits the running statistics from the data (PyTorch's moving average over mini-batches by default; see
    /// <see cref="BatchNormFitMode"/>), then applies them. The fitted values are <see cref="BatchNormTransformer.Parameters"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="options">Fit mode, batch size 32, momentum 0.1, unbiased running variance (PyTorch), ε 1e-5, γ/β, layout Auto; null for the defaults.</param>
    public static BatchNormEstimator BatchNorm(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null, BatchNormOptions? options = null)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, options ?? new BatchNormOptions());

    /// <summary>
    /// Applies given parameters (brought from PyTorch, Keras or ONNX; see <see cref="BatchNormParameters"/>) with no fitting.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; null for <paramref name="outputColumnName"/>.</param>
    /// <param name="parameters">Running mean and variance, γ, β and ε, one value per channel.</param>
    /// <param name="layout">
    /// Where the channel dimension is; default <see cref="ChannelLayout.Auto"/>: the end of the column's dimensions whose size is the
    /// channel count, and a column of unknown shape only when its length is the channel count (PyTorch's <c>BatchNorm1d(C)</c> on (N, C)).
    /// </param>
    public static BatchNormEstimator BatchNorm(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName, BatchNormParameters parameters,
        ChannelLayout layout = ChannelLayout.Auto)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return new(catalog.GetEnvironment(), outputColumnName, inputColumnName, parameters, layout);
    }
}
