using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.InputNormalization;

/// <summary>The formulas of the input normalizers, each written as a per-channel affine map.</summary>
internal static class InputNormalizationMaps
{
    /// <summary>Keras caffe means, in the output's BGR order.</summary>
    public static readonly double[] CaffeMeansBgr = [103.939, 116.779, 123.68];

    /// <summary>ZeroToOne: x / max. MinusOneToOne: x / (max / 2) − 1.</summary>
    public static ChannelAffineMap ForRange(PixelRange range, float maxPixelValue)
    {
        CheckMaxPixelValue(maxPixelValue);
        double scale = range switch
        {
            PixelRange.ZeroToOne => 1.0 / maxPixelValue,
            PixelRange.MinusOneToOne => 2.0 / maxPixelValue,
            _ => throw new ArgumentOutOfRangeException(nameof(range), range, $"Unknown pixel range {(int)range}; use ZeroToOne or MinusOneToOne."),
        };
        ChannelAffineMap.CheckRepresentable(scale, nameof(maxPixelValue), $"The scale {(range == PixelRange.ZeroToOne ? 1 : 2)} / maxPixelValue for maxPixelValue {maxPixelValue:G4}");
        return ChannelAffineMap.Uniform(scale, range == PixelRange.ZeroToOne ? 0 : -1);
    }

    /// <summary>(x / max − mean[c]) / std[c] = x · 1 / (max · std[c]) − mean[c] / std[c].</summary>
    public static ChannelAffineMap ForStatistics(ChannelStatistics statistics, float maxPixelValue)
    {
        ArgumentNullException.ThrowIfNull(statistics);
        CheckMaxPixelValue(maxPixelValue);
        var scale = new double[statistics.Channels];
        var shift = new double[statistics.Channels];
        for (int c = 0; c < scale.Length; c++)
        {
            scale[c] = 1.0 / ((double)maxPixelValue * statistics.Std[c]);
            shift[c] = -(double)statistics.Mean[c] / statistics.Std[c];
            ChannelAffineMap.CheckRepresentable(scale[c], float.IsFinite(1f / maxPixelValue) ? "std" : nameof(maxPixelValue),
                $"The scale 1 / (maxPixelValue · std[{c}]) for maxPixelValue {maxPixelValue:G4} and std[{c}] {statistics.Std[c]:G4}");
            ChannelAffineMap.CheckRepresentable(shift[c], "std", $"The shift −mean[{c}] / std[{c}] for mean[{c}] {statistics.Mean[c]:G4} and std[{c}] {statistics.Std[c]:G4}");
        }
        return new ChannelAffineMap(scale, shift);
    }

    /// <summary>
    /// The map that the <c>DenormalizeChannels</c> transform undoes, refused when undoing it needs a
    /// coefficient beyond float: x = y · maxPixelValue · std[c] + maxPixelValue · mean[c].
    /// </summary>
    public static ChannelAffineMap ForInvertibleStatistics(ChannelStatistics statistics, float maxPixelValue)
    {
        var map = ForStatistics(statistics, maxPixelValue);
        for (int c = 0; c < statistics.Channels; c++)
        {
            ChannelAffineMap.CheckRepresentable((double)maxPixelValue * statistics.Std[c], nameof(maxPixelValue),
                $"The scale maxPixelValue · std[{c}] for maxPixelValue {maxPixelValue:G4} and std[{c}] {statistics.Std[c]:G4}");
            ChannelAffineMap.CheckRepresentable((double)maxPixelValue * statistics.Mean[c], nameof(maxPixelValue),
                $"The shift maxPixelValue · mean[{c}] for maxPixelValue {maxPixelValue:G4} and mean[{c}] {statistics.Mean[c]:G4}");
        }
        return map;
    }

    /// <summary>The Keras <c>preprocess_input</c> modes on RGB values in 0..255.</summary>
    public static ChannelAffineMap ForImageNet(ImageNetPreprocessing mode) => mode switch
    {
        ImageNetPreprocessing.Caffe => new ChannelAffineMap([1, 1, 1], CaffeMeansBgr.Select(m => -m).ToArray(), sourceChannel: [2, 1, 0]),
        ImageNetPreprocessing.Tf => ForRange(PixelRange.MinusOneToOne, 255),
        ImageNetPreprocessing.Torch => ForStatistics(ChannelStatistics.ImageNet, 255),
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, $"Unknown ImageNet preprocessing mode {(int)mode}; use Caffe, Tf or Torch."),
    };

    public static void CheckMaxPixelValue(float maxPixelValue)
    {
        if (!float.IsFinite(maxPixelValue) || maxPixelValue <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxPixelValue), maxPixelValue, $"maxPixelValue must be positive and finite, got {maxPixelValue}.");
    }
}
