using System.Numerics.Tensors;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Kernels;

/// <summary>
/// Applies a <see cref="ChannelAffineMap"/> to vectors of one geometry with one multiply-add per element.
/// Planar data is processed a channel plane at a time; interleaved data against scale and shift tiles that repeat
/// the channel pattern, so both run as <see cref="TensorPrimitives"/> vector loops.
/// </summary>
internal sealed class ChannelAffineKernel : IRowKernel
{
    private const int TileElements = 1024;

    private readonly ChannelGeometry _geometry;
    private readonly float[] _scale;
    private readonly int[] _sourceChannel;
    private readonly bool _reorders;
    // Planar: Channels tiles of ShiftTileLength elements, each filled with its channel's shift.
    // Interleaved: one tile of whole pixels for the scale and one for the shift.
    private readonly float[] _scaleTile;
    private readonly float[] _shiftTile;
    private readonly int _tileLength;

    public ChannelAffineKernel(ChannelAffineMap map, ChannelGeometry geometry)
    {
        if (map.Channels != geometry.Channels)
            throw new ArgumentException($"The map has {map.Channels} channels but the geometry {geometry.Channels}.");
        _geometry = geometry;
        _scale = ToFloat(map.Scale);
        var shift = ToFloat(map.Shift);
        _sourceChannel = map.SourceChannel.ToArray();
        _reorders = map.ReordersChannels;

        int channels = geometry.Channels;
        if (geometry.Layout == ChannelLayout.ChannelsFirst)
        {
            _tileLength = Math.Min(geometry.SpatialSize, TileElements);
            _scaleTile = [];
            _shiftTile = new float[channels * _tileLength];
            for (int c = 0; c < channels; c++)
                _shiftTile.AsSpan(c * _tileLength, _tileLength).Fill(shift[c]);
        }
        else
        {
            int pixels = Math.Min(geometry.SpatialSize, Math.Max(1, TileElements / channels));
            _tileLength = pixels * channels;
            _scaleTile = new float[_tileLength];
            _shiftTile = new float[_tileLength];
            for (int i = 0; i < _tileLength; i++)
            {
                _scaleTile[i] = _scale[i % channels];
                _shiftTile[i] = shift[i % channels];
            }
        }
    }

    public int Length => _geometry.Length;

    public void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        if (source.Length != Length || destination.Length != Length)
            throw new ArgumentException($"Expected vectors of {Length} elements, got {source.Length} and {destination.Length}.");

        if (_geometry.Layout == ChannelLayout.ChannelsFirst)
            ApplyPlanar(source, destination);
        else if (_reorders)
            ApplyInterleavedReordered(source, destination);
        else
            ApplyInterleaved(source, destination);
    }

    private void ApplyPlanar(ReadOnlySpan<float> source, Span<float> destination)
    {
        int plane = _geometry.SpatialSize;
        for (int c = 0; c < _geometry.Channels; c++)
        {
            var input = source.Slice(_sourceChannel[c] * plane, plane);
            var output = destination.Slice(c * plane, plane);
            var shift = _shiftTile.AsSpan(c * _tileLength, _tileLength);
            for (int start = 0; start < plane; start += _tileLength)
            {
                int count = Math.Min(_tileLength, plane - start);
                TensorPrimitives.MultiplyAdd(input.Slice(start, count), _scale[c], shift[..count], output.Slice(start, count));
            }
        }
    }

    private void ApplyInterleaved(ReadOnlySpan<float> source, Span<float> destination)
    {
        for (int start = 0; start < source.Length; start += _tileLength)
        {
            int count = Math.Min(_tileLength, source.Length - start);
            TensorPrimitives.MultiplyAdd(source.Slice(start, count), _scaleTile.AsSpan(0, count), _shiftTile.AsSpan(0, count), destination.Slice(start, count));
        }
    }

    // Only channel reordering (Keras caffe: RGB to BGR) on interleaved pixels lands here.
    private void ApplyInterleavedReordered(ReadOnlySpan<float> source, Span<float> destination)
    {
        int channels = _geometry.Channels;
        for (int pixel = 0; pixel < source.Length; pixel += channels)
            for (int c = 0; c < channels; c++)
                destination[pixel + c] = source[pixel + _sourceChannel[c]] * _scaleTile[c] + _shiftTile[c];
    }

    private static float[] ToFloat(ReadOnlySpan<double> values)
    {
        var result = new float[values.Length];
        for (int i = 0; i < values.Length; i++)
            result[i] = (float)values[i];
        return result;
    }
}
