using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Statistics;

/// <summary>
/// Streams vectors of one geometry and keeps per-channel <see cref="Moments"/> over every row and spatial
/// position, in constant memory. Accumulators of the same geometry merge, so data can be split across workers.
/// </summary>
internal sealed class ChannelMomentsAccumulator
{
    private readonly Moments[] _channels;
    private readonly float[] _gather;

    public ChannelMomentsAccumulator(ChannelGeometry geometry)
    {
        Geometry = geometry;
        _channels = new Moments[geometry.Channels];
        _gather = geometry.Layout == ChannelLayout.ChannelsLast ? new float[geometry.SpatialSize] : [];
    }

    public ChannelGeometry Geometry { get; }

    /// <summary>Rows added so far.</summary>
    public long Rows { get; private set; }

    public Moments this[int channel] => _channels[channel];

    public void Add(ReadOnlySpan<float> row)
    {
        if (row.Length != Geometry.Length)
            throw new ArgumentException($"Expected a row of {Geometry.Length} values, got {row.Length}.", nameof(row));
        int plane = Geometry.SpatialSize;
        for (int c = 0; c < Geometry.Channels; c++)
        {
            ReadOnlySpan<float> values;
            if (Geometry.Layout == ChannelLayout.ChannelsFirst)
            {
                values = row.Slice(c * plane, plane);
            }
            else
            {
                for (int s = 0; s < plane; s++)
                    _gather[s] = row[s * Geometry.Channels + c];
                values = _gather;
            }
            _channels[c] = _channels[c].Merge(Moments.Of(values));
        }
        Rows++;
    }

    /// <summary>Forgets every row, keeping the geometry (one accumulator serves a stream of mini-batches).</summary>
    public void Reset()
    {
        Array.Fill(_channels, Moments.Empty);
        Rows = 0;
    }

    public void Merge(ChannelMomentsAccumulator other)
    {
        if (other.Geometry != Geometry)
            throw new ArgumentException($"Cannot merge moments of geometry {other.Geometry} into {Geometry}.", nameof(other));
        for (int c = 0; c < _channels.Length; c++)
            _channels[c] = _channels[c].Merge(other._channels[c]);
        Rows += other.Rows;
    }
}
