using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Kernels;

/// <summary>
/// Applies a <see cref="ChannelAffineMap"/> y[c] = x[source(c)] · scale[c] + shift[c] to vectors of one geometry
/// with <see cref="ChannelAffine"/>: planar data a channel plane at a time, interleaved data against coefficient
/// patterns built once here (and the reading order of reordered channels).
/// </summary>
internal sealed class ChannelAffineKernel : IRowKernel
{
    private readonly ChannelGeometry _geometry;
    private readonly float[] _scale;
    private readonly float[] _shift;
    private readonly int[] _sourceChannel;
    // Interleaved: the coefficients repeated over ChannelAffine.PatternLength values; the reading order when reordered.
    private readonly float[] _scalePattern = [];
    private readonly float[] _shiftPattern = [];
    private readonly InterleavedReorder? _reorder;

    public ChannelAffineKernel(ChannelAffineMap map, ChannelGeometry geometry)
    {
        if (map.Channels != geometry.Channels)
            throw new ArgumentException($"The map has {map.Channels} channels but the geometry {geometry.Channels}.");
        _geometry = geometry;
        _scale = ToFloat(map.Scale);
        _shift = ToFloat(map.Shift);
        _sourceChannel = map.SourceChannel.ToArray();
        if (geometry.Layout == ChannelLayout.ChannelsLast)
        {
            int patternLength = ChannelAffine.PatternLength(geometry.Channels);
            _scalePattern = new float[patternLength];
            _shiftPattern = new float[patternLength];
            ChannelAffine.FillPattern(_scale, _scalePattern);
            ChannelAffine.FillPattern(_shift, _shiftPattern);
            if (map.ReordersChannels)
                _reorder = new InterleavedReorder(_sourceChannel);
        }
    }

    public int Length => _geometry.Length;

    public void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (source.Length != Length || destination.Length != Length)
            throw new ArgumentException($"Expected vectors of {Length} elements, got {source.Length} and {destination.Length}.");

        if (_geometry.Layout == ChannelLayout.ChannelsFirst)
        {
            int plane = _geometry.SpatialSize;
            for (int c = 0; c < _geometry.Channels; c++)
                ChannelAffine.Apply(source.Slice(_sourceChannel[c] * plane, plane), _scale[c], _shift[c], destination.Slice(c * plane, plane));
        }
        else if (_reorder is null)
        {
            ChannelAffine.ApplyInterleaved(source, _scalePattern, _shiftPattern, destination);
        }
        else
        {
            ChannelAffine.ApplyInterleavedReordered(source, _reorder, _scalePattern, _shiftPattern, destination);
        }
    }

    private static float[] ToFloat(ReadOnlySpan<double> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = (float)values[i];
        return result;
    }
}
