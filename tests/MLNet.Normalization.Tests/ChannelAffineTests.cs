using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Tests;

/// <summary>
/// The per-channel affine primitive (ChannelAffine) through its callers, ChannelAffineKernel and
/// BatchNormKernel.ApplyChannelAffine, against a scalar reference computed here in double from the float
/// coefficients and rounded once: every channel count of the vector patterns (1 to 16, and counts whose pattern is
/// one pixel), both layouts, tails of odd lengths, reordered channels, and 1 or 2 threads bit for bit.
/// </summary>
public class ChannelAffineTests
{
    public static TheoryData<int, int, ChannelLayout> Geometries()
    {
        var data = new TheoryData<int, int, ChannelLayout>();
        foreach (int channels in new[] { 1, 2, 3, 4, 5, 7, 16, 129 })
            foreach (int spatial in new[] { 1, 3, 5, 9, 33, 67, 1001 })
                foreach (var layout in new[] { ChannelLayout.ChannelsFirst, ChannelLayout.ChannelsLast })
                    data.Add(channels, spatial, layout);
        return data;
    }

    /// <summary>Reading orders: none, reversed (Caffe's RGB to BGR for three channels) and rotated by one.</summary>
    private static IEnumerable<int[]?> Orders(int channels) =>
    [
        null,
        Enumerable.Range(0, channels).Reverse().ToArray(),
        Enumerable.Range(0, channels).Select(c => (c + 1) % channels).ToArray(),
    ];

    private static float[] Values(int length, int seed, double low, double high)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(low + (high - low) * random.NextDouble())).ToArray();
    }

    private static ChannelAffineMap Map(int channels, int seed, int[]? sourceChannel)
    {
        var random = new Random(seed);
        var scale = Enumerable.Range(0, channels).Select(_ => 0.01 + 3 * random.NextDouble()).ToArray();
        var shift = Enumerable.Range(0, channels).Select(_ => 200 * random.NextDouble() - 100).ToArray();
        return new ChannelAffineMap(scale, shift, sourceChannel);
    }

    /// <summary>y[c] = x[source(c)] · s[c] + t[c] in double, s and t the coefficients rounded to float as the kernels hold them.</summary>
    private static double[] Reference(ReadOnlySpan<float> x, ChannelAffineMap map, ChannelGeometry geometry)
    {
        int channels = geometry.Channels, spatial = geometry.SpatialSize;
        var y = new double[x.Length];
        for (int p = 0; p < spatial; p++)
            for (int c = 0; c < channels; c++)
            {
                int source = map.SourceChannel[c];
                int output = geometry.Layout == ChannelLayout.ChannelsFirst ? c * spatial + p : p * channels + c;
                int input = geometry.Layout == ChannelLayout.ChannelsFirst ? source * spatial + p : p * channels + source;
                y[output] = x[input] * (double)(float)map.Scale[c] + (float)map.Shift[c];
            }
        return y;
    }

    /// <summary>
    /// The kernel rounds x · s and then the sum: within an ulp of |x · s| and one of |y| of the value rounded once,
    /// which NaN fails.
    /// </summary>
    private static void AssertMatchesReference(ReadOnlySpan<float> x, ChannelAffineMap map, ChannelGeometry geometry, ReadOnlySpan<float> actual, string what)
    {
        var expected = Reference(x, map, geometry);
        for (int i = 0; i < expected.Length; i++)
        {
            int c = geometry.Layout == ChannelLayout.ChannelsFirst ? i / geometry.SpatialSize : i % geometry.Channels;
            double product = Math.Abs(expected[i] - (float)map.Shift[c]);
            double rounded = (float)expected[i];
            double tolerance = (product + Math.Abs(rounded)) * Math.Pow(2, -23) + float.Epsilon;
            if (!(Math.Abs(actual[i] - rounded) <= tolerance))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {rounded:R}.");
        }
    }

    [Theory]
    [MemberData(nameof(Geometries))]
    public void KernelMatchesTheScalarReferenceInEveryLayoutAndOrder(int channels, int spatial, ChannelLayout layout)
    {
        var geometry = new ChannelGeometry(channels, spatial, layout);
        // NaN on both sides of the input and output: a load outside the spans would show in the output, a store in
        // the guards. The output starts at each float of a vector's alignment in turn.
        const int guard = 40;
        foreach (var order in Orders(channels))
            for (int misalignment = 0; misalignment < System.Numerics.Vector<float>.Count; misalignment++)
            {
                var buffer = new float[geometry.Length + 2 * guard];
                var output = new float[geometry.Length + 2 * guard];
                Array.Fill(buffer, float.NaN);
                Array.Fill(output, float.NaN);
                Values(geometry.Length, channels * 1000 + spatial, -300, 300).CopyTo(buffer, guard);
                var x = buffer.AsSpan(guard, geometry.Length);
                var y = output.AsSpan(guard - misalignment, geometry.Length);
                var map = Map(channels, spatial, order);
                new ChannelAffineKernel(map, geometry).Apply(x, y);
                AssertMatchesReference(x, map, geometry, y, $"C = {channels}, S = {spatial}, {layout}, order {(order is null ? "identity" : string.Join(",", order))}");
                Assert.All(output[..(guard - misalignment)].Concat(output[(guard - misalignment + geometry.Length)..]),
                    v => Assert.True(float.IsNaN(v), "The kernel wrote outside its output."));
            }
    }

    [Property(MaxTest = 100, Replay = "(20261125,1013904223)")]
    public Property KernelMatchesTheScalarReferenceOnRandomGeometries(PositiveInt channelCount, PositiveInt spatialSize, bool interleaved, int seed)
    {
        int channels = channelCount.Get % 40 + 1, spatial = spatialSize.Get % 300 + 1;
        var geometry = new ChannelGeometry(channels, spatial, interleaved ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst);
        var random = new Random(seed);
        var order = Enumerable.Range(0, channels).OrderBy(_ => random.Next()).ToArray();
        var map = Map(channels, seed, order);
        var x = Values(geometry.Length, seed, -1000, 1000);
        var y = new float[x.Length];
        new ChannelAffineKernel(map, geometry).Apply(x, y);
        AssertMatchesReference(x, map, geometry, y, $"C = {channels}, S = {spatial}, {geometry.Layout}");
        return true.ToProperty();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(129)]
    public void BatchNormApplyMatchesTheReferenceAndTheRowKernelOnAnyThreadCount(int channels)
    {
        foreach (var (rows, spatial) in new[] { (37, 1), (5, 1), (3, 17), (9, 1001) })
        {
            var shape = new NcsShape(rows, channels, spatial);
            var map = Map(channels, rows + spatial, null);
            float[] scale = map.Scale.ToArray().Select(v => (float)v).ToArray(), shift = map.Shift.ToArray().Select(v => (float)v).ToArray();
            var x = Values(shape.Length, rows * spatial, -300, 300);

            var outputs = new[] { 1, 2 }.Select(threads => ApplyChannelAffine(x, shape, scale, shift, threads)).ToArray();
            Assert.True(outputs[0].AsSpan().SequenceEqual(outputs[1]), $"({rows}, {channels}, {spatial}): 1 and 2 threads differ.");

            // One value per channel is one interleaved pixel per row; planes are a channels-first row.
            var geometry = new ChannelGeometry(channels, spatial == 1 ? rows : spatial, spatial == 1 ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst);
            var kernel = new ChannelAffineKernel(map, new ChannelGeometry(channels, spatial, spatial == 1 ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst));
            var rowByRow = new float[shape.Length];
            for (int n = 0; n < rows; n++)
                kernel.Apply(x.AsSpan(n * shape.RowLength, shape.RowLength), rowByRow.AsSpan(n * shape.RowLength, shape.RowLength));
            Assert.True(outputs[0].AsSpan().SequenceEqual(rowByRow), $"({rows}, {channels}, {spatial}): the layer's apply and the row kernel differ.");
            if (spatial == 1)
                AssertMatchesReference(x, map, geometry, outputs[0], $"({rows}, {channels}, 1)");
            else
                for (int n = 0; n < rows; n++)
                    AssertMatchesReference(x.AsSpan(n * shape.RowLength, shape.RowLength), map, geometry, outputs[0].AsSpan(n * shape.RowLength, shape.RowLength),
                        $"({rows}, {channels}, {spatial}), row {n}");
        }
    }

    private static float[] ApplyChannelAffine(float[] x, NcsShape shape, float[] scale, float[] shift, int threads)
    {
        int previousThreads = ParallelUnits.MaxDegreeOfParallelism;
        long previousMinimum = ParallelUnits.MinimumParallelElements;
        ParallelUnits.MaxDegreeOfParallelism = threads;
        ParallelUnits.MinimumParallelElements = 1;
        try
        {
            var y = new float[x.Length];
            BatchNormKernel.ApplyChannelAffine(x, y, shape, scale, shift);
            return y;
        }
        finally
        {
            ParallelUnits.MaxDegreeOfParallelism = previousThreads;
            ParallelUnits.MinimumParallelElements = previousMinimum;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(129)]
    public void PatternHoldsAVectorAtEveryChannelPhase(int channels)
    {
        var pattern = new float[ChannelAffine.PatternLength(channels)];
        ChannelAffine.FillPattern<float>(Enumerable.Range(0, channels).Select(c => (float)c).ToArray(), pattern);
        for (int phase = 0; phase < channels; phase++)
            for (int lane = 0; lane < System.Numerics.Vector<float>.Count; lane++)
                Assert.Equal((phase + lane) % channels, pattern[phase + lane]);
    }
}
