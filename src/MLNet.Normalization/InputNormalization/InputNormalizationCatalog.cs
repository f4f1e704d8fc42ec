using Microsoft.ML;
using MLNet.Normalization.InputNormalization;
using MLNet.Normalization.Interop;

namespace MLNet.Normalization;

/// <summary>
/// Input normalizers for image-like float vectors, as <c>ExtractPixels</c> writes them: (C, H, W) planar by default
/// or (H, W, C) interleaved. Each output column has the input's type, dimensions and slot names and is marked
/// <c>IsNormalized</c>.
/// </summary>
public static class InputNormalizationCatalog
{
    /// <summary>
    /// Scales every value: <see cref="PixelRange.ZeroToOne"/> gives y = x / max (torchvision <c>ToTensor</c>),
    /// <see cref="PixelRange.MinusOneToOne"/> gives y = x / (max / 2) − 1 (Keras "tf" mode).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="range">The target range; default [0, 1].</param>
    /// <param name="maxPixelValue">The largest pixel value, positive; default 255.</param>
    public static PixelScalingEstimator ScalePixels(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        PixelRange range = PixelRange.ZeroToOne, float maxPixelValue = 255)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, range, maxPixelValue);

    /// <summary>
    /// Standardizes each channel: y = (x / max − mean[c]) / std[c], torchvision's <c>Normalize</c> after <c>ToTensor</c>.
    /// With <paramref name="statistics"/> null, fits the per-channel mean and population standard deviation of
    /// x / max from the data in one streaming pass (double accumulation, constant memory); the fitted values are
    /// <see cref="ChannelNormalizingTransformer.Statistics"/>.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="statistics">Per-channel statistics on the [0, 1] scale, e.g. <see cref="ChannelStatistics.ImageNet"/>; null to fit them.</param>
    /// <param name="maxPixelValue">The largest pixel value, positive; default 255.</param>
    /// <param name="layout">Where the channel dimension is; default <see cref="ChannelLayout.Auto"/> reads it from the column's dimensions.</param>
    public static ChannelNormalizingEstimator NormalizeChannels(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        ChannelStatistics? statistics = null, float maxPixelValue = 255, ChannelLayout layout = ChannelLayout.Auto)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, statistics, maxPixelValue, layout);

    /// <summary>
    /// Keras <c>imagenet_utils.preprocess_input</c> on RGB values in 0..255: <see cref="ImageNetPreprocessing.Caffe"/>
    /// (RGB to BGR, minus 103.939, 116.779, 123.68), <see cref="ImageNetPreprocessing.Tf"/> (x / 127.5 − 1) or
    /// <see cref="ImageNetPreprocessing.Torch"/> (x / 255, then ImageNet mean and std).
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The known-size float vector column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="mode">The Keras mode; default <see cref="ImageNetPreprocessing.Torch"/>.</param>
    /// <param name="layout">Where the channel dimension is; default <see cref="ChannelLayout.Auto"/>.</param>
    public static ImageNetPreprocessingEstimator PreprocessImageNet(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        ImageNetPreprocessing mode = ImageNetPreprocessing.Torch, ChannelLayout layout = ChannelLayout.Auto)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, mode, layout);

    /// <summary>
    /// Undoes <see cref="NormalizeChannels"/>: x = (y · std[c] + mean[c]) · max, back to pixel values.
    /// Pass a fitted transformer's <see cref="ChannelNormalizingTransformer.Statistics"/> to undo fitted statistics.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The normalized column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="statistics">The statistics the data was normalized with.</param>
    /// <param name="maxPixelValue">The largest pixel value, positive; default 255.</param>
    /// <param name="layout">Where the channel dimension is; default <see cref="ChannelLayout.Auto"/>.</param>
    public static ChannelDenormalizingEstimator DenormalizeChannels(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName,
        ChannelStatistics statistics, float maxPixelValue = 255, ChannelLayout layout = ChannelLayout.Auto)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        InputNormalizationMaps.CheckMaxPixelValue(maxPixelValue);
        return new(catalog.GetEnvironment(), outputColumnName, inputColumnName, InputNormalizationMaps.ForInvertibleStatistics(statistics, maxPixelValue), layout);
    }

    /// <summary>
    /// Undoes <see cref="PreprocessImageNet"/> back to RGB values in 0..255; for <see cref="ImageNetPreprocessing.Caffe"/>
    /// the BGR input comes back in RGB order.
    /// </summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="outputColumnName">The column to write.</param>
    /// <param name="inputColumnName">The preprocessed column to read; defaults to <paramref name="outputColumnName"/>.</param>
    /// <param name="mode">The mode the data was preprocessed with; default <see cref="ImageNetPreprocessing.Torch"/>.</param>
    /// <param name="layout">Where the channel dimension is; default <see cref="ChannelLayout.Auto"/>.</param>
    public static ChannelDenormalizingEstimator DenormalizeImageNet(this TransformsCatalog catalog, string outputColumnName, string? inputColumnName = null,
        ImageNetPreprocessing mode = ImageNetPreprocessing.Torch, ChannelLayout layout = ChannelLayout.Auto)
        => new(catalog.GetEnvironment(), outputColumnName, inputColumnName, InputNormalizationMaps.ForImageNet(mode), layout);
}
