using Microsoft.ML.Runtime;
using MLNet.Normalization.InputNormalization;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Serialization;

namespace MLNet.Normalization;

/// <summary>Scales pixel values onto [0, 1] or [−1, 1]; see <see cref="InputNormalizationCatalog.ScalePixels"/>.</summary>
public sealed class PixelScalingEstimator : TrivialNormalizingEstimator<PixelScalingTransformer>
{
    internal PixelScalingEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, PixelRange range, float maxPixelValue)
        : base(env, nameof(PixelScalingEstimator), new PixelScalingTransformer(env, outputColumnName, inputColumnName, range, maxPixelValue))
    {
    }
}

/// <summary>
/// y = x / max (<see cref="PixelRange.ZeroToOne"/>) or y = x / (max / 2) − 1 (<see cref="PixelRange.MinusOneToOne"/>)
/// on every element of a float vector, whatever its shape.
/// </summary>
public sealed class PixelScalingTransformer : ChannelAffineTransformerBase, ILoadableTransformer<PixelScalingTransformer>
{
    internal const string LoaderSignature = "PixelScalingTransformer";
    private static readonly ModelFormat Format = new("PIXSCALE", LoaderSignature);
    static ModelFormat ILoadableTransformer<PixelScalingTransformer>.Format => Format;

    internal PixelScalingTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, PixelRange range, float maxPixelValue)
        : base(env, Format, outputColumnName, inputColumnName, InputNormalizationMaps.ForRange(range, maxPixelValue), ChannelLayout.ChannelsFirst)
    {
        Range = range;
        MaxPixelValue = maxPixelValue;
    }

    /// <summary>The target range.</summary>
    public PixelRange Range { get; }

    /// <summary>The largest pixel value, 255 for 8-bit images.</summary>
    public float MaxPixelValue { get; }

    // *** Binary format ***
    // int: PixelRange
    // float: maxPixelValue
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.WriteEnum(Range);
        writer.Write(MaxPixelValue);
    }

    // versionWritten is reserved: these parameters read the same in every format version so far (0x00010001 and 0x00010002).
    static PixelScalingTransformer ILoadableTransformer<PixelScalingTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
        => new(env, columns.OutputColumnName, columns.InputColumnName, reader.ReadEnum<PixelRange>(), reader.ReadSingle());
}
