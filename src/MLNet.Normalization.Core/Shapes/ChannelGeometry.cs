namespace MLNet.Normalization.Shapes;

/// <summary>
/// How a flat vector splits into <see cref="Channels"/> channels of <see cref="SpatialSize"/> elements each.
/// <see cref="Layout"/> is never <see cref="ChannelLayout.Auto"/>.
/// </summary>
internal readonly record struct ChannelGeometry(int Channels, int SpatialSize, ChannelLayout Layout)
{
    public int Length => Channels * SpatialSize;

    /// <summary>Image channel counts (gray, RGB, RGBA): the sizes taken for a channel dimension when the count must be inferred.</summary>
    internal static bool IsImageChannelCount(int size) => size is 1 or 3 or 4;

    /// <summary>
    /// Resolves the geometry of a vector of <paramref name="length"/> elements with dimensions
    /// <paramref name="dimensions"/> (empty when unknown). <paramref name="channels"/> is the expected channel
    /// count, or 0 to infer it from the dimensions; <paramref name="flatVectorIsChannels"/> infers a vector of
    /// unknown shape as (C), one value per channel (PyTorch's (N, C) input of the normalization layers). Leading
    /// dimensions of size 1 are the single row's batch dimension, as in an ONNX model's (1, C, H, W) output: they
    /// are dropped while more than three dimensions remain (or two, when <paramref name="flatVectorIsChannels"/>), and,
    /// when the channel count is known and is not 1, a leading 1 that cannot be the channel dimension ((1, C, L)).
    /// With the count inferred, a three-dimensional shape with a leading 1 is (1, H, W), one channel, for the input
    /// normalizers, and ambiguous for the normalization layers. Returns null and a reason in <paramref name="error"/>
    /// when the shape does not fit; the reason says how to fix it.
    /// </summary>
    public static ChannelGeometry? TryResolve(ReadOnlySpan<int> dimensions, int length, int channels, ChannelLayout layout, out string error,
        bool flatVectorIsChannels = false)
    {
        ChannelLayouts.Check(layout, nameof(layout));
        while ((dimensions.Length > 3 || (flatVectorIsChannels && dimensions.Length == 2)) && dimensions[0] == 1)
            dimensions = dimensions[1..];
        var geometry = TryResolveCore(dimensions, length, channels, layout, flatVectorIsChannels, out error);
        while (geometry is null && dimensions.Length >= 2 && dimensions[0] == 1 && channels > 1)
        {
            dimensions = dimensions[1..];
            geometry = TryResolveCore(dimensions, length, channels, layout, flatVectorIsChannels, out _);
        }
        return geometry;
    }

    private static ChannelGeometry? TryResolveCore(ReadOnlySpan<int> dimensions, int length, int channels, ChannelLayout layout, bool flatVectorIsChannels, out string error)
    {
        error = "";
        if (length <= 0)
        {
            error = "the vector is empty";
            return null;
        }

        bool shaped = dimensions.Length >= 2;
        int first = shaped ? dimensions[0] : 0;
        int last = shaped ? dimensions[^1] : 0;
        string shape = shaped ? $"({string.Join(", ", dimensions.ToArray())})" : $"a flat vector of {length}";

        if (channels == 0 && layout == ChannelLayout.Auto && shaped && flatVectorIsChannels && first == 1)
        {
            // (1, C, L) from an ONNX model or (1, H, W), one channel: nothing in the shape tells them apart.
            error = $"cannot tell whether shape {shape} is one channel or the batch dimension of a single ({string.Join(", ", dimensions[1..].ToArray())}); pass layout ChannelsFirst for one channel, or γ and β to give the channel count";
            return null;
        }
        if (channels == 0)
        {
            channels = layout switch
            {
                ChannelLayout.ChannelsFirst when shaped => first,
                ChannelLayout.ChannelsLast when shaped => last,
                // A flat vector with an explicit layout is (C): one value per channel.
                ChannelLayout.ChannelsFirst or ChannelLayout.ChannelsLast => length,
                ChannelLayout.Auto when shaped && IsImageChannelCount(first) != IsImageChannelCount(last) =>
                    IsImageChannelCount(first) ? first : last,
                ChannelLayout.Auto when !shaped && flatVectorIsChannels => length,
                _ => 0,
            };
            if (channels == 0)
            {
                error = shaped
                    ? $"cannot tell the channel dimension of shape {shape}; pass layout ChannelsFirst (C, H, W) or ChannelsLast (H, W, C)"
                    : $"cannot infer the channel count from {shape} with no image shape; give the statistics, or a column with dimensions such as ExtractPixels writes";
                return null;
            }
        }

        // One channel fits any vector in either layout.
        if (channels == 1)
            return new ChannelGeometry(1, length, ChannelLayout.ChannelsFirst);

        if (length % channels != 0)
        {
            error = $"its size {length} is not divisible by {channels} channels";
            return null;
        }

        int spatial = length / channels;
        if (spatial == 1)
            return new ChannelGeometry(channels, 1, ChannelLayout.ChannelsFirst);

        switch (layout)
        {
            case ChannelLayout.ChannelsFirst when shaped && first != channels:
                error = $"layout ChannelsFirst needs a first dimension of {channels} channels, but the shape is {shape}";
                return null;
            case ChannelLayout.ChannelsLast when shaped && last != channels:
                error = $"layout ChannelsLast needs a last dimension of {channels} channels, but the shape is {shape}";
                return null;
            case ChannelLayout.ChannelsFirst:
            case ChannelLayout.ChannelsLast:
                return new ChannelGeometry(channels, spatial, layout);
        }

        if (!shaped)
        {
            error = $"it is {shape} with no image shape, so the channel layout is unknown; pass layout ChannelsFirst (C, H, W planar, the ExtractPixels default) or ChannelsLast (H, W, C, ExtractPixels with interleavePixelColors: true)";
            return null;
        }
        if (first == channels && last == channels)
        {
            error = $"both the first and the last dimension of shape {shape} equal the {channels} channels; pass layout ChannelsFirst or ChannelsLast";
            return null;
        }
        if (first == channels)
            return new ChannelGeometry(channels, spatial, ChannelLayout.ChannelsFirst);
        if (last == channels)
            return new ChannelGeometry(channels, spatial, ChannelLayout.ChannelsLast);

        error = $"neither the first nor the last dimension of shape {shape} is {channels} channels";
        return null;
    }
}
