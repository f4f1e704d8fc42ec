namespace MLNet.Normalization;

/// <summary>Where the channel dimension sits in an image-like float vector.</summary>
public enum ChannelLayout
{
    /// <summary>
    /// Read the layout from the column's dimensions: (C, H, W) or (C, L) is channels-first, (H, W, C) or (L, C)
    /// is channels-last. A shape that fits both is an error that asks for an explicit layout, and so is a vector of
    /// unknown shape unless it holds one value per channel (C). When the channel count is not known yet (fitting
    /// statistics), the end whose size is an image channel count (1, 3 or 4) while the other's is not is the channel
    /// dimension; batch and group norm read a vector of unknown shape as (C). Leading dimensions of size 1, such as
    /// the batch dimension of an ONNX model's (1, C, H, W) output, are skipped, with every layout.
    /// </summary>
    Auto = 0,

    /// <summary>Planar (C, H, W): each channel is a contiguous plane. ML.NET's <c>ExtractPixels</c> default.</summary>
    ChannelsFirst = 1,

    /// <summary>Interleaved (H, W, C): the channels of one pixel are adjacent. <c>ExtractPixels(interleavePixelColors: true)</c>.</summary>
    ChannelsLast = 2,
}

internal static class ChannelLayouts
{
    /// <summary>Refuses a value that is not a defined <see cref="ChannelLayout"/>, naming the parameter.</summary>
    public static void Check(ChannelLayout layout, string name)
    {
        if (!Enum.IsDefined(layout))
            throw new ArgumentOutOfRangeException(name, layout, $"Unknown channel layout {(int)layout}; use Auto, ChannelsFirst or ChannelsLast.");
    }
}
