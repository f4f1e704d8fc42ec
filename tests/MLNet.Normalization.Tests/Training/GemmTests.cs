using System.Runtime.Intrinsics.X86;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Tests.Training;

/// <summary><see cref="Gemm"/> against a double-precision triple loop, and its bit-for-bit determinism.</summary>
public class GemmTests
{
    private static readonly GemmKernel[] SupportedKernels =
        [.. new[] { GemmKernel.Portable, GemmKernel.Avx2, GemmKernel.Avx512 }.Where(Gemm.IsSupported)];

    /// <summary>(α, β) pairs; NaN fills C before the β = 0 cases, which must overwrite it.</summary>
    private static readonly (float Alpha, float Beta)[] Scalings = [(1, 0), (-0.75f, 0), (0.5f, 1), (2, -1.5f)];

    public static TheoryData<int, int, int> Shapes() => new()
    {
        { 1, 1, 1 },
        { 0, 0, 0 },
        { 0, 5, 3 },
        { 5, 0, 3 },
        { 4, 3, 0 },
        { 1, 40, 1 },
        { 40, 1, 7 },
        { 2, 3, 1 },
        { 17, 31, 13 },
        { 7, 1, 300 },
        { 13, 33, 257 },    // just past one depth block
        { 145, 35, 20 },    // just past one row block
        { 3, 2100, 5 },     // past one column block
        { 130, 257, 70 },
        { 37, 65, 530 },    // three depth blocks with edges both ways
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesDoubleReferenceForEveryTransposeScalingAndKernel(int m, int n, int k)
    {
        foreach (bool transposeA in new[] { false, true })
            foreach (bool transposeB in new[] { false, true })
            {
                var random = new Random(HashCode.Combine(m, n, k, transposeA, transposeB));
                float[] a = RandomValues(random, m * k), b = RandomValues(random, k * n), initialC = RandomValues(random, m * n);
                var (product, magnitude) = Reference(a, b, m, n, k, transposeA, transposeB);
                foreach (var kernel in SupportedKernels)
                    foreach (var (alpha, beta) in Scalings)
                    {
                        float[] c = beta == 0 ? Enumerable.Repeat(float.NaN, m * n).ToArray() : (float[])initialC.Clone();
                        using (new GemmSettings(kernel))
                            Gemm.Multiply(a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
                        for (int i = 0; i < m * n; i++)
                        {
                            double expected = alpha * product[i] + (beta == 0 ? 0 : beta * (double)initialC[i]);
                            double tolerance = 1e-5 * (Math.Abs(alpha) * magnitude[i] + Math.Abs(beta * initialC[i])) + 1e-6;
                            if (!(Math.Abs(c[i] - expected) <= tolerance))
                            {
                                Assert.Fail($"{kernel} {m}×{n}×{k} transposeA={transposeA} transposeB={transposeB} α={alpha} β={beta}: " +
                                    $"C[{i / n}, {i % n}] = {c[i]}, expected {expected} ± {tolerance}.");
                            }
                        }
                    }
            }
    }

    [Fact]
    public void MatchesDoubleReferenceWithMoreDepthThanIsPackedAtOnce()
    {
        const int m = 2, n = 3, k = 250_000;
        var random = new Random(11);
        float[] a = RandomValues(random, m * k), b = RandomValues(random, k * n), initialC = RandomValues(random, m * n);
        foreach (bool transposeA in new[] { false, true })
        {
            var (product, magnitude) = Reference(a, b, m, n, k, transposeA, transposeB: !transposeA);
            float[] c = (float[])initialC.Clone();
            Gemm.Multiply(a, b, c, m, n, k, transposeA, transposeB: !transposeA, alpha: 0.5f, beta: -1);
            for (int i = 0; i < m * n; i++)
            {
                double expected = 0.5 * product[i] - initialC[i];
                Assert.True(Math.Abs(c[i] - expected) <= 1e-5 * (0.5 * magnitude[i] + Math.Abs(initialC[i])) + 1e-6);
            }
        }
    }

    [Fact]
    public void AlphaZeroOrEmptyDepthOnlyScalesCWithoutReadingAOrB()
    {
        float[] a = [float.NaN, float.NaN], b = [float.PositiveInfinity, float.NaN];
        float[] c = [1, -2];
        Gemm.Multiply(a, b, c, 1, 2, 1, alpha: 0, beta: 3);
        Assert.Equal([3f, -6f], c);
        Gemm.Multiply([], [], c, 1, 2, 0, beta: 0.5f);
        Assert.Equal([1.5f, -3f], c);
        c = [float.NaN, float.NaN];
        Gemm.Multiply(a, b, c, 1, 2, 1, alpha: 0);
        Assert.Equal([0f, 0f], c);
    }

    [Fact]
    public void LeavesValuesPastTheMatricesAlone()
    {
        float[] a = [1, 2, 3, 4, -1], b = [5, 6, 7, 8, -1], c = [0, 0, 0, 0, -1];
        Gemm.Multiply(a, b, c, 2, 2, 2);
        Assert.Equal([19f, 22f, 43f, 50f, -1f], c);
    }

    [Fact]
    public void ShortSpansAndNegativeSizesAreRejectedWithTheirNames()
    {
        float[] six = new float[6];
        var shortA = Assert.Throws<ArgumentException>(() => Gemm.Multiply(new float[5], six, six, 2, 3, 3));
        Assert.Equal("a", shortA.ParamName);
        Assert.Contains("A (stored 2 × 3)", shortA.Message);
        var shortB = Assert.Throws<ArgumentException>(() => Gemm.Multiply(six, new float[5], six, 2, 3, 3, transposeB: true));
        Assert.Equal("b", shortB.ParamName);
        Assert.Contains("B (stored 3 × 3, transposed)", shortB.Message);
        var shortC = Assert.Throws<ArgumentException>(() => Gemm.Multiply(six, six, new float[5], 2, 3, 2));
        Assert.Equal("c", shortC.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(six, six, six, -1, 3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Multiply(six, six, six, 1, 3, -3));
    }

    /// <summary>
    /// The MLP's products (Y = X·Wᵀ, dW += dYᵀ·X, dX = dY·W at batch 64 for 784 → 256 → 256 → 10, as LinearLayer
    /// calls them), two row blocks and two depth blocks with edge tiles both ways, and one past a column block.
    /// </summary>
    public static TheoryData<int, int, int, bool, bool, float> DeterminismCases() => new()
    {
        { 64, 256, 784, false, true, 0 },   // forward, 784 → 256
        { 256, 784, 64, true, false, 1 },   // weight gradient, 784 → 256
        { 64, 784, 256, false, false, 0 },  // input gradient, 784 → 256
        { 64, 256, 256, false, true, 0 },   // forward, 256 → 256
        { 256, 256, 64, true, false, 1 },   // weight gradient, 256 → 256
        { 64, 256, 256, false, false, 0 },  // input gradient, 256 → 256
        { 64, 10, 256, false, true, 0 },    // forward, 256 → 10
        { 10, 256, 64, true, false, 1 },    // weight gradient, 256 → 10
        { 64, 256, 10, false, false, 0 },   // input gradient, 256 → 10
        { 150, 70, 300, false, true, 0 },
        { 150, 70, 300, false, false, -1 },
        { 150, 70, 300, true, false, 1 },
        { 9, 2100, 300, false, false, -1 },
    };

    [Theory]
    [MemberData(nameof(DeterminismCases))]
    public void IsBitIdenticalAcrossRunsThreadCountsAndKernelsAndMatchesDoubleReference(int m, int n, int k, bool transposeA, bool transposeB, float beta)
    {
        const float alpha = 0.5f;
        var random = new Random(7);
        float[] a = RandomValues(random, m * k), b = RandomValues(random, k * n), initialC = RandomValues(random, m * n);

        float[] Run(GemmKernel kernel, int threads)
        {
            float[] c = (float[])initialC.Clone();
            using (new GemmSettings(kernel, threads, minimumParallelFlops: 1))
                Gemm.Multiply(a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
            return c;
        }

        var kernels = Fma.IsSupported ? SupportedKernels : [GemmKernel.Automatic];
        float[] expected = Run(kernels[0], threads: 1);
        var (product, magnitude) = Reference(a, b, m, n, k, transposeA, transposeB);
        for (int i = 0; i < m * n; i++)
        {
            double exact = alpha * product[i] + (beta == 0 ? 0 : beta * (double)initialC[i]);
            double tolerance = 1e-5 * (alpha * magnitude[i] + Math.Abs(beta * initialC[i])) + 1e-6;
            Assert.True(Math.Abs(expected[i] - exact) <= tolerance, $"C[{i / n}, {i % n}] = {expected[i]}, expected {exact} ± {tolerance}.");
        }

        foreach (var kernel in kernels)
            foreach (int threads in new[] { 1, 2, 3, 1, 2, 3 })
                Assert.True(expected.AsSpan().SequenceEqual(Run(kernel, threads)), $"{kernel} on {threads} threads differs.");
    }

    [Fact]
    public void SplitsDepthIntoPassesOnSeveralThreadsWithTheSameBits()
    {
        // Past the packing budget k is packed in passes, the sums carried between them in C (β = 0) or a scratch.
        const int m = 40, n = 50, k = 40_000;
        var random = new Random(5);
        float[] a = RandomValues(random, m * k), b = RandomValues(random, k * n), initialC = RandomValues(random, m * n);
        var (product, magnitude) = Reference(a, b, m, n, k, transposeA: false, transposeB: true);
        foreach (float beta in new[] { 0f, -1f })
        {
            float[] Run(int threads)
            {
                float[] c = (float[])initialC.Clone();
                using (new GemmSettings(GemmKernel.Automatic, threads, minimumParallelFlops: 1))
                    Gemm.Multiply(a, b, c, m, n, k, transposeB: true, beta: beta);
                return c;
            }

            float[] expected = Run(threads: 1);
            for (int i = 0; i < m * n; i++)
            {
                double exact = product[i] + beta * (double)initialC[i];
                Assert.True(Math.Abs(expected[i] - exact) <= 1e-5 * (magnitude[i] + Math.Abs(initialC[i])) + 1e-6);
            }
            foreach (int threads in new[] { 2, 3 })
                Assert.True(expected.AsSpan().SequenceEqual(Run(threads)), $"β = {beta} on {threads} threads differs.");
        }
    }

    [Fact]
    public void ConcurrentCallsFromSeveralThreadsAgreeWithOneThread()
    {
        const int m = 90, n = 70, k = 300;
        var random = new Random(3);
        float[] a = RandomValues(random, m * k), b = RandomValues(random, k * n);
        float[] expected = new float[m * n];
        using (new GemmSettings(GemmKernel.Automatic, threads: 1))
            Gemm.Multiply(a, b, expected, m, n, k);

        var results = new float[4][];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = results.Length }, i =>
        {
            results[i] = new float[m * n];
            using (new GemmSettings(GemmKernel.Automatic, threads: 2, minimumParallelFlops: 1))
                for (int repeat = 0; repeat < 5; repeat++)
                    Gemm.Multiply(a, b, results[i], m, n, k);
        });
        foreach (var result in results)
            Assert.True(expected.AsSpan().SequenceEqual(result));
    }

    private static float[] RandomValues(Random random, int count)
    {
        var values = new float[count];
        for (int i = 0; i < count; i++)
            values[i] = (float)(2 * random.NextDouble() - 1);
        return values;
    }

    /// <summary>op(A)·op(B) in double, with Σₖ|op(A)ᵢₖ·op(B)ₖⱼ| to scale the tolerance.</summary>
    private static (double[] Product, double[] Magnitude) Reference(float[] a, float[] b, int m, int n, int k, bool transposeA, bool transposeB)
    {
        var product = new double[m * n];
        var magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = 0, absoluteSum = 0;
                for (int p = 0; p < k; p++)
                {
                    double term = (double)(transposeA ? a[p * m + i] : a[i * k + p]) * (transposeB ? b[j * k + p] : b[p * n + j]);
                    sum += term;
                    absoluteSum += Math.Abs(term);
                }
                product[i * n + j] = sum;
                magnitude[i * n + j] = absoluteSum;
            }
        return (product, magnitude);
    }

    /// <summary>Sets <see cref="Gemm"/>'s per-thread knobs for a scope and restores them.</summary>
    private readonly struct GemmSettings : IDisposable
    {
        private readonly GemmKernel _kernel;
        private readonly int _threads;
        private readonly long _minimumParallelFlops;

        public GemmSettings(GemmKernel kernel, int threads = 0, long minimumParallelFlops = 0)
        {
            (_kernel, _threads, _minimumParallelFlops) = (Gemm.KernelOverride, ParallelUnits.MaxDegreeOfParallelism, Gemm.MinimumParallelFlops);
            Gemm.KernelOverride = kernel;
            ParallelUnits.MaxDegreeOfParallelism = threads;
            if (minimumParallelFlops > 0)
                Gemm.MinimumParallelFlops = minimumParallelFlops;
        }

        public void Dispose()
        {
            Gemm.KernelOverride = _kernel;
            ParallelUnits.MaxDegreeOfParallelism = _threads;
            Gemm.MinimumParallelFlops = _minimumParallelFlops;
        }
    }
}
