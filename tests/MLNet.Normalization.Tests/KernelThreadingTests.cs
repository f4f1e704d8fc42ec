using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.PerSampleNormalization;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Tests;

/// <summary>
/// The kernels share their units of work among threads for large batches; the result must not depend on how many
/// threads ran (bit for bit), and the one-pass statistics must keep double precision far from zero.
/// </summary>
public class KernelThreadingTests
{
    public static TheoryData<int, int, int> Shapes => new()
    {
        { 5, 3, 1000 },  // fewer channels than units: rows split into blocks
        { 6, 16, 50 },   // one unit per channel
        { 70, 300, 1 },  // feature vectors: channels are single values
        { 4, 10_000, 2 }, // layer norm rows of 20 000 values: its γ and β gradients go by three column chunks
    };

    private static float[] Values(int length, int seed, double offset)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = (float)(offset + 4 * random.NextDouble() - 2);
        return values;
    }

    /// <summary>
    /// Every output of BN forward + backward, GN forward + backward (with and without γ, β) and LN forward + backward,
    /// with the given thread cap; with
    /// <paramref name="smallBatchPaths"/> small batches take their single-threaded paths (feature vectors by rows).
    /// </summary>
    private static List<double[]> RunAll(NcsShape shape, int threads, bool smallBatchPaths = false)
    {
        int previousThreads = ParallelUnits.MaxDegreeOfParallelism;
        long previousMinimum = ParallelUnits.MinimumParallelElements;
        ParallelUnits.MaxDegreeOfParallelism = threads;
        ParallelUnits.MinimumParallelElements = smallBatchPaths ? int.MaxValue : 1;
        try
        {
            int channels = shape.Channels, groups = channels % 3 == 0 ? 3 : 2;
            var x = Values(shape.Length, 1, offset: 5);
            var dy = Values(shape.Length, 2, offset: 0);
            var gamma = Values(channels, 3, offset: 1);
            var beta = Values(channels, 4, offset: 0);
            var y = new float[shape.Length];
            var dx = new float[shape.Length];
            double[] mean = new double[channels], variance = new double[channels], istd = new double[channels];
            float[] dGamma = new float[channels], dBeta = new float[channels];
            BatchNormKernel.ForwardTraining(x, y, shape, gamma, beta, 1e-5, mean, variance, istd, new float[channels], new float[channels]);
            BatchNormKernel.Backward(dy, x, dx, shape, gamma, mean, istd, dGamma, dBeta, new float[3 * channels]);

            var groupY = new float[shape.Length];
            var groupDx = new float[shape.Length];
            double[] groupMean = new double[shape.Rows * groups], groupIstd = new double[shape.Rows * groups];
            float[] groupDGamma = new float[channels], groupDBeta = new float[channels];
            GroupNormKernel.Forward(x, groupY, shape, groups, gamma, beta, 1e-5, groupMean, groupIstd);
            GroupNormKernel.Backward(dy, x, groupDx, shape, groups, gamma, groupMean, groupIstd, groupDGamma, groupDBeta);

            var layerShape = new NcsShape(shape.Rows, shape.RowLength, 1);
            var layerY = new float[shape.Length];
            double[] layerMean = new double[shape.Rows], layerIstd = new double[shape.Rows];
            var layerGamma = Values(shape.RowLength, 5, 1);
            GroupNormKernel.Forward(x, layerY, layerShape, 1, layerGamma, Values(shape.RowLength, 6, 0), 1e-5, layerMean, layerIstd);
            var layerDx = new float[shape.Length];
            // Gradients accumulate: start them non-zero, as a second step would.
            float[] layerDGamma = Values(shape.RowLength, 12, 0), layerDBeta = Values(shape.RowLength, 13, 0);
            GroupNormKernel.Backward(dy, x, layerDx, layerShape, 1, layerGamma, layerMean, layerIstd, layerDGamma, layerDBeta);

            var plainY = new float[shape.Length];
            var plainDx = new float[shape.Length];
            GroupNormKernel.Forward(x, plainY, shape, groups, [], [], 1e-5, groupMean, groupIstd);
            GroupNormKernel.Backward(dy, x, plainDx, shape, groups, [], groupMean, groupIstd, [], []);

            return [y.Select(v => (double)v).ToArray(), dx.Select(v => (double)v).ToArray(), mean, variance, istd,
                dGamma.Select(v => (double)v).ToArray(), dBeta.Select(v => (double)v).ToArray(),
                groupY.Select(v => (double)v).ToArray(), groupDx.Select(v => (double)v).ToArray(), groupMean, groupIstd,
                layerY.Select(v => (double)v).ToArray(), layerMean, layerIstd,
                layerDx.Select(v => (double)v).ToArray(), layerDGamma.Select(v => (double)v).ToArray(), layerDBeta.Select(v => (double)v).ToArray(),
                plainY.Select(v => (double)v).ToArray(), plainDx.Select(v => (double)v).ToArray()];
        }
        finally
        {
            ParallelUnits.MaxDegreeOfParallelism = previousThreads;
            ParallelUnits.MinimumParallelElements = previousMinimum;
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ResultsAreBitIdenticalForAnyThreadCount(int rows, int channels, int spatial)
    {
        var shape = new NcsShape(rows, channels, spatial);
        var single = RunAll(shape, threads: 1, smallBatchPaths: true);
        foreach (int threads in new[] { 1, 2, 3, 8 })
        {
            var several = RunAll(shape, threads);
            for (int output = 0; output < single.Count; output++)
                Assert.True(single[output].AsSpan().SequenceEqual(several[output]), $"Output {output} differs between the single-threaded paths and {threads} thread(s).");
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void BatchStatisticsFarFromZeroKeepDoublePrecision(int rows, int channels, int spatial)
    {
        // Values 10⁴ ± 2: a one-pass Σx² − (Σx)²/n in double would lose about 9 of its 16 digits here.
        var shape = new NcsShape(rows, channels, spatial);
        var x = Values(shape.Length, 7, offset: 1e4);
        double[] mean = new double[channels], variance = new double[channels];
        BatchNormKernel.Moments(x, shape, mean, variance);

        for (int c = 0; c < channels; c++)
        {
            var values = new List<double>();
            for (int n = 0; n < rows; n++)
                foreach (float v in shape.Plane((ReadOnlySpan<float>)x, n, c))
                    values.Add(v);
            double referenceMean = values.Sum() / values.Count;
            double referenceVariance = values.Sum(v => (v - referenceMean) * (v - referenceMean)) / values.Count;
            Assert.Equal(referenceMean, mean[c], referenceMean * 1e-13);
            Assert.Equal(referenceVariance, variance[c], referenceVariance * 1e-10);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void ElementwiseAffineOverRowsLongerThanAChunkMatchesTheFormula(int groups)
    {
        // 3 rows of 20 000 single-value channels: the affine runs over three column chunks, cut across groups.
        var shape = new NcsShape(3, 20_000, 1);
        var x = Values(shape.Length, 8, offset: 2);
        var gamma = Values(shape.Channels, 9, offset: 1);
        var beta = Values(shape.Channels, 10, offset: 0);
        var y = new float[shape.Length];
        GroupNormKernel.Forward(x, y, shape, groups, gamma, beta, 1e-5, new double[3 * groups], new double[3 * groups]);

        int groupLength = shape.Channels / groups;
        for (int unit = 0; unit < 3 * groups; unit++)
        {
            var values = x.AsSpan(unit * groupLength, groupLength).ToArray().Select(v => (double)v).ToArray();
            double mean = values.Average(), variance = values.Sum(v => (v - mean) * (v - mean)) / values.Length;
            for (int i = 0; i < groupLength; i++)
            {
                int channel = unit % groups * groupLength + i;
                double expected = (values[i] - mean) / Math.Sqrt(variance + 1e-5) * gamma[channel] + beta[channel];
                Assert.Equal(expected, y[unit * groupLength + i], 1e-5 * (1 + Math.Abs(expected)));
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(15)]
    [InlineData(33)]
    [InlineData(1000)]
    [InlineData(4099)]
    public void ShiftedSumsAgreeWithDoubleOnEveryVectorPath(int length)
    {
        var values = Values(length, length, offset: 50);
        double shift = values[0], sum = 0, squares = 0;
        foreach (float v in values)
        {
            sum += v - shift;
            squares += (v - shift) * (v - shift);
        }
        var paths = new List<(double Sum, double SumOfSquares)> { DoubleSums.ShiftedSumsVector(values, shift) };
        if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && length >= 16)
            paths.Add(DoubleSums.ShiftedSums512(values, shift));
        foreach (var (pathSum, pathSquares) in paths)
        {
            Assert.Equal(sum, pathSum, 1e-9 * (1 + Math.Abs(sum)));
            Assert.Equal(squares, pathSquares, 1e-12 * squares);
        }
    }

    [Fact]
    public void MomentsOfOneValueAndOfAConstantAreExact()
    {
        Assert.Equal(new Moments(1, 3.25, 0), Moments.Of([3.25f]));
        Assert.Equal(new Moments(40, -7.5, 0), Moments.Of(Enumerable.Repeat(-7.5f, 40).ToArray()));
    }
}
