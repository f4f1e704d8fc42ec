using Microsoft.ML;
using MLNet.Normalization.Interop;

namespace MLNet.Normalization;

/// <summary>
/// Normalizations whose statistics come from each row alone (the Group Norm paper's figure): layer, instance and
/// group normalization. They need no fitting; biased variance, ε inside the square root, as PyTorch.
/// </summary>
public static class PerSampleNormCatalog
{
    /// <summary>Layer normalization over the whole vector: y = (x − μ) / √(σ² + ε) · γ + β, γ and β per element.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    /// <param name="gamma">Scale per element; null for 1.</param>
    /// <param name="beta">Shift per element; null for 0.</param>
    public static LayerNormEstimator LayerNorm(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        float epsilon = 1e-5f, float[]? gamma = null, float[]? beta = null)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, 0, epsilon, gamma, beta);

    /// <summary>
    /// Layer normalization over the last <paramref name="normalizedDimensions"/> dimensions of the column, as PyTorch's
    /// <c>LayerNorm(normalized_shape)</c>: each segment they span is normalized on its own; γ and β per element of a segment.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; null for <paramref name="outputColumnName"/>.</param>
    /// <param name="normalizedDimensions">How many trailing dimensions to normalize over; 0 for the whole vector.</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    /// <param name="gamma">Scale per element of a segment; null for 1.</param>
    /// <param name="beta">Shift per element of a segment; null for 0.</param>
    public static LayerNormEstimator LayerNorm(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName, int normalizedDimensions,
        float epsilon = 1e-5f, float[]? gamma = null, float[]? beta = null)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, normalizedDimensions, epsilon, gamma, beta);

    /// <summary>
    /// Instance normalization: each row's channels normalized on their own over their spatial values,
    /// y = (x − μ) / √(σ² + ε) · γ[c] + β[c], on (C, L) or (C, H, W) columns (or channels-last; see <paramref name="layout"/>).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    /// <param name="gamma">Per-channel scale; null for 1.</param>
    /// <param name="beta">Per-channel shift; null for 0.</param>
    /// <param name="layout">Where the channel dimension is; default <see cref="ChannelLayout.Auto"/> (see <see cref="GroupNorm"/>).</param>
    public static GroupNormEstimator InstanceNorm(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        float epsilon = 1e-5f, float[]? gamma = null, float[]? beta = null, ChannelLayout layout = ChannelLayout.Auto)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, GroupNormTransformer.OneGroupPerChannel, epsilon, gamma, beta, layout);

    /// <summary>
    /// Group normalization: each row's C channels split into <paramref name="groups"/> groups normalized on their own over
    /// (C / G) · S values, y = (x − μ) / √(σ² + ε) · γ[c] + β[c]. The groups must divide C.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="groups">The number of groups, positive and dividing C; default 32 (the paper's).</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    /// <param name="gamma">Per-channel scale; null for 1.</param>
    /// <param name="beta">Per-channel shift; null for 0.</param>
    /// <param name="layout">
    /// Where the channel dimension is; default <see cref="ChannelLayout.Auto"/>: the end of the column's dimensions whose size is the
    /// channel count (γ's length; without γ, the end whose size is 1, 3 or 4 while the other's is not), and a column of unknown shape
    /// is (C). Pass <see cref="ChannelLayout.ChannelsFirst"/> for a (C, H, W) feature map whose channel count Auto cannot tell.
    /// </param>
    public static GroupNormEstimator GroupNorm(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null, int groups = 32,
        float epsilon = 1e-5f, float[]? gamma = null, float[]? beta = null, ChannelLayout layout = ChannelLayout.Auto)
    {
        if (groups <= 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"groups must be positive, got {groups}.");
        return new(catalog.GetEnvironment(), outputColumnName, inputColumnName, groups, epsilon, gamma, beta, layout);
    }
}
