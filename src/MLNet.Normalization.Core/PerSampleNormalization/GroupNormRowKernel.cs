using System.Buffers;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.PerSampleNormalization;

/// <summary>
/// Applies <see cref="GroupNormKernel.Forward"/> to one row. The row is <see cref="ChannelGeometry.SpatialSize"/>
/// segments when the geometry is channels-last with γ per element (layer norm over the last dimensions), or one
/// (C, S) sample otherwise; channels-last samples are transposed to planar through pooled buffers.
/// </summary>
internal sealed class GroupNormRowKernel : IRowKernel
{
    private readonly NcsShape _shape;
    private readonly int _groups;
    private readonly float[] _gamma;
    private readonly float[] _beta;
    private readonly double _epsilon;
    private readonly bool _transpose;

    /// <summary>Per-sample normalization of a (C, S) row split into <paramref name="groups"/> channel groups.</summary>
    public static GroupNormRowKernel ForChannels(ChannelGeometry geometry, int groups, float[] gamma, float[] beta, double epsilon)
        => new(new NcsShape(1, geometry.Channels, geometry.SpatialSize), groups, gamma, beta, epsilon, geometry.Layout == ChannelLayout.ChannelsLast);

    /// <summary>Layer normalization of each of the row's <paramref name="segments"/> consecutive segments, γ and β per element of a segment.</summary>
    public static GroupNormRowKernel ForSegments(int segments, int segmentLength, float[] gamma, float[] beta, double epsilon)
        => new(new NcsShape(segments, segmentLength, 1), 1, gamma, beta, epsilon, transpose: false);

    private GroupNormRowKernel(NcsShape shape, int groups, float[] gamma, float[] beta, double epsilon, bool transpose)
    {
        GroupNormKernel.CheckGroups(shape.Channels, groups);
        _shape = shape;
        _groups = groups;
        _gamma = gamma;
        _beta = beta;
        _epsilon = epsilon;
        _transpose = transpose && shape.Spatial > 1;
    }

    public int Length => _shape.Length;

    public void Apply(ReadOnlySpan<float> source, Span<float> destination)
    {
        int statistics = _shape.Rows * _groups;
        var mean = ArrayPool<double>.Shared.Rent(statistics);
        var inverseStd = ArrayPool<double>.Shared.Rent(statistics);
        try
        {
            if (!_transpose)
            {
                GroupNormKernel.Forward(source, destination, _shape, _groups, _gamma, _beta, _epsilon, mean, inverseStd);
                return;
            }
            var planar = ArrayPool<float>.Shared.Rent(Length);
            var normalized = ArrayPool<float>.Shared.Rent(Length);
            try
            {
                Transpose(source, planar.AsSpan(0, Length), _shape.Spatial, _shape.Channels);
                GroupNormKernel.Forward(planar.AsSpan(0, Length), normalized.AsSpan(0, Length), _shape, _groups, _gamma, _beta, _epsilon, mean, inverseStd);
                Transpose(normalized.AsSpan(0, Length), destination, _shape.Channels, _shape.Spatial);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(planar);
                ArrayPool<float>.Shared.Return(normalized);
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(mean);
            ArrayPool<double>.Shared.Return(inverseStd);
        }
    }

    /// <summary>(rows, columns) row-major into (columns, rows).</summary>
    private static void Transpose(ReadOnlySpan<float> source, Span<float> destination, int rows, int columns)
    {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < columns; c++)
                destination[c * rows + r] = source[r * columns + c];
    }
}
