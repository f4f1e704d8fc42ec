using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.PerSampleNormalization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Tests;

/// <summary>
/// Invariants of the normalization kernels on random shapes and data: without affine, every normalization group
/// has mean 0 and variance σ² / (σ² + ε); backward agrees with central finite differences of a random linear loss.
/// </summary>
public class NormalizationKernelPropertyTests
{
    private static float[] Random(int length, int seed, double offset)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(offset + 3 * (random.NextDouble() - 0.5))).ToArray();
    }

    /// <summary>
    /// Values i · 0.37 (mod 3) + noise in a random order: no two values of a small group are close, so the
    /// normalization is well conditioned and central differences in float are accurate.
    /// </summary>
    private static float[] Spread(int length, int seed, double offset)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(i => (float)(offset + (i * 0.37) % 3 - 1.5 + 0.05 * random.NextDouble()))
            .OrderBy(_ => random.Next()).ToArray();
    }

    private static (NcsShape Shape, int Groups) Shape(PositiveInt a, PositiveInt b, PositiveInt c, PositiveInt g)
    {
        int groups = g.Get % 3 + 1;
        var shape = new NcsShape(a.Get % 4 + 2, groups * (b.Get % 3 + 1), c.Get % 5 + 1);
        return (shape, groups);
    }

    [Property(MaxTest = 60, Replay = "(20261124,1013904223)")]
    public Property GroupNormGroupsHaveZeroMeanAndNearUnitVariance(PositiveInt a, PositiveInt b, PositiveInt c, PositiveInt g, int seed)
    {
        var (shape, groups) = Shape(a, b, c, g);
        var x = Random(shape.Length, seed, offset: 7);
        var y = new float[x.Length];
        double[] mean = new double[shape.Rows * groups], istd = new double[shape.Rows * groups];
        GroupNormKernel.Forward(x, y, shape, groups, [], [], 1e-5, mean, istd);

        int groupLength = shape.RowLength / groups;
        bool ok = true;
        for (int i = 0; i < shape.Rows * groups; i++)
        {
            var group = y.AsSpan(i * groupLength, groupLength).ToArray();
            var source = x.AsSpan(i * groupLength, groupLength).ToArray();
            double m = group.Average(v => (double)v);
            double variance = group.Sum(v => (v - m) * (v - m)) / groupLength;
            double sm = source.Average(v => (double)v);
            double sourceVariance = source.Sum(v => (v - sm) * (v - sm)) / groupLength;
            // Float rounding of x − μ is relative to |x|, so it grows with the mean-to-spread ratio of the group.
            double tolerance = 1e-5 * (1 + Math.Abs(sm) / Math.Sqrt(sourceVariance + 1e-5));
            ok &= Math.Abs(m) < tolerance && Math.Abs(variance - sourceVariance / (sourceVariance + 1e-5)) < 2 * tolerance;
        }
        return ok.ToProperty();
    }

    [Property(MaxTest = 60, Replay = "(20261124,1013904223)")]
    public Property BatchNormChannelsHaveZeroMeanAndNearUnitVariance(PositiveInt a, PositiveInt b, PositiveInt c, int seed)
    {
        var shape = new NcsShape(a.Get % 5 + 2, b.Get % 4 + 1, c.Get % 5 + 1);
        var x = Random(shape.Length, seed, offset: -4);
        var y = new float[x.Length];
        int channels = shape.Channels;
        float[] ones = Enumerable.Repeat(1f, channels).ToArray(), zeros = new float[channels];
        BatchNormKernel.ForwardTraining(x, y, shape, ones, zeros, 1e-5, new double[channels], new double[channels], new double[channels], new float[channels], new float[channels]);

        bool ok = true;
        for (int ch = 0; ch < channels; ch++)
        {
            var values = Enumerable.Range(0, shape.Rows).SelectMany(n => shape.Plane((ReadOnlySpan<float>)y, n, ch).ToArray()).ToList();
            var source = Enumerable.Range(0, shape.Rows).SelectMany(n => shape.Plane((ReadOnlySpan<float>)x, n, ch).ToArray()).ToList();
            double m = values.Average(v => (double)v);
            double variance = values.Sum(v => (v - m) * (v - m)) / values.Count;
            double sm = source.Average(v => (double)v);
            double sourceVariance = source.Sum(v => (v - sm) * (v - sm)) / source.Count;
            double tolerance = 1e-5 * (1 + Math.Abs(sm) / Math.Sqrt(sourceVariance + 1e-5));
            ok &= Math.Abs(m) < tolerance && Math.Abs(variance - sourceVariance / (sourceVariance + 1e-5)) < 2 * tolerance;
        }
        return ok.ToProperty();
    }

    /// <summary>Loss L = Σ y · w; checks dx, dγ and dβ against central differences in the inputs, computed in float.</summary>
    private static bool GradientsMatchFiniteDifferences(NcsShape shape, int parameterCount, float[] x, float[] gamma, float[] beta, float[] weights,
        Func<float[], float[], float[], float[]> forward, Action<float[], float[], float[], float[]> backward)
    {
        double Loss(float[] xs, float[] gs, float[] bs) => forward(xs, gs, bs).Zip(weights, (y, w) => (double)y * w).Sum();
        var dx = new float[x.Length];
        var dGamma = new float[parameterCount];
        var dBeta = new float[parameterCount];
        backward(dx, dGamma, dBeta, weights);

        const float h = 2e-3f;
        bool Check(float[] values, float[] gradient)
        {
            for (int i = 0; i < values.Length; i++)
            {
                float saved = values[i];
                values[i] = saved + h;
                double plus = Loss(x, gamma, beta);
                values[i] = saved - h;
                double minus = Loss(x, gamma, beta);
                values[i] = saved;
                double numeric = (plus - minus) / (2 * h);
                if (Math.Abs(numeric - gradient[i]) > 2e-3 + 2e-2 * Math.Abs(numeric))
                    return false;
            }
            return true;
        }
        return Check(x, dx) && Check(gamma, dGamma) && Check(beta, dBeta);
    }

    [Property(MaxTest = 25, Replay = "(20261124,1013904223)")]
    public Property BatchNormBackwardMatchesFiniteDifferences(PositiveInt a, PositiveInt b, PositiveInt c, int seed)
    {
        var shape = new NcsShape(a.Get % 4 + 2, b.Get % 3 + 1, c.Get % 4 + 1);
        int channels = shape.Channels;
        var x = Spread(shape.Length, seed, 1);
        var gamma = Random(channels, seed + 1, 1);
        var beta = Random(channels, seed + 2, 0);
        var weights = Random(shape.Length, seed + 3, 0);
        double[] mean = new double[channels], variance = new double[channels], istd = new double[channels];
        float[] Forward(float[] xs, float[] gs, float[] bs)
        {
            var y = new float[xs.Length];
            BatchNormKernel.ForwardTraining(xs, y, shape, gs, bs, 1e-3, mean, variance, istd, new float[channels], new float[channels]);
            return y;
        }
        void Backward(float[] dx, float[] dGamma, float[] dBeta, float[] dy)
        {
            Forward(x, gamma, beta);
            BatchNormKernel.Backward(dy, x, dx, shape, gamma, mean, istd, dGamma, dBeta, new float[3 * channels]);
        }
        return GradientsMatchFiniteDifferences(shape, channels, x, gamma, beta, weights, Forward, Backward).ToProperty();
    }

    [Property(MaxTest = 25, Replay = "(20261124,1013904223)")]
    public Property GroupNormBackwardMatchesFiniteDifferences(PositiveInt a, PositiveInt b, PositiveInt c, PositiveInt g, int seed)
    {
        var (shape, groups) = Shape(a, b, c, g);
        if (shape.RowLength / groups < 2)
            return true.ToProperty();
        int channels = shape.Channels;
        var x = Spread(shape.Length, seed, 1);
        var gamma = Random(channels, seed + 1, 1);
        var beta = Random(channels, seed + 2, 0);
        var weights = Random(shape.Length, seed + 3, 0);
        double[] mean = new double[shape.Rows * groups], istd = new double[shape.Rows * groups];
        float[] Forward(float[] xs, float[] gs, float[] bs)
        {
            var y = new float[xs.Length];
            GroupNormKernel.Forward(xs, y, shape, groups, gs, bs, 1e-3, mean, istd);
            return y;
        }
        void Backward(float[] dx, float[] dGamma, float[] dBeta, float[] dy)
        {
            Forward(x, gamma, beta);
            GroupNormKernel.Backward(dy, x, dx, shape, groups, gamma, mean, istd, dGamma, dBeta);
        }
        return GradientsMatchFiniteDifferences(shape, channels, x, gamma, beta, weights, Forward, Backward).ToProperty();
    }
}
