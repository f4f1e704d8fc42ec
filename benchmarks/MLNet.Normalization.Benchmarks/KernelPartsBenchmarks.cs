using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// Where the kernels' time goes, on the same shapes as <see cref="KernelBenchmarks"/>: the library's parts (its
/// double-accumulating reductions, the batch-norm statistics, apply and backward passes, the per-sample statistics)
/// next to vectorized variants written here, so the gap each part leaves to the streaming reference is measured.
/// The variants are diagnostics for the kernel owner, not library code.
/// </summary>
public class KernelPartsBenchmarks
{
    [Params("32x3x224x224", "32x64x56x56")]
    public string Shape { get; set; } = "32x3x224x224";

    private NcsShape _shape;
    private float[] _x = [], _y = [], _dy = [], _dx = [];
    private float[] _gamma = [], _beta = [], _scale = [], _shift = [], _gammaGradient = [], _betaGradient = [], _workspace = [];
    private float[] _gammaElements = [], _betaElements = [];
    private double[] _mean = [], _variance = [], _inverseStd = [];
    private int _groups;
    private ChannelAffineKernel _affine = null!;

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        _shape = new NcsShape(dims[0], dims[1], dims[2] * dims[3]);
        int channels = _shape.Channels;
        var random = new Random(20240601);
        _x = KernelBenchmarks.Filled(random, _shape.Length, -2, 3);
        _dy = KernelBenchmarks.Filled(random, _shape.Length, -1, 1);
        _y = new float[_shape.Length];
        _dx = new float[_shape.Length];
        _gamma = KernelBenchmarks.Filled(random, channels, 0.5f, 1.5f);
        _beta = KernelBenchmarks.Filled(random, channels, -0.5f, 0.5f);
        _scale = new float[channels];
        _shift = new float[channels];
        _gammaGradient = new float[channels];
        _betaGradient = new float[channels];
        _workspace = new float[3 * channels];
        _mean = new double[channels];
        _variance = new double[channels];
        _inverseStd = new double[channels];
        _gammaElements = KernelBenchmarks.Filled(random, _shape.RowLength, 0.5f, 1.5f);
        _betaElements = KernelBenchmarks.Filled(random, _shape.RowLength, -0.5f, 0.5f);
        _groups = KernelBenchmarks.GroupsFor(channels);
        var scale = Enumerable.Range(0, channels).Select(c => 1 / (255 * (0.2 + 0.001 * c))).ToArray();
        var shift = Enumerable.Range(0, channels).Select(c => -0.45 / (0.2 + 0.001 * c)).ToArray();
        _affine = new ChannelAffineKernel(new ChannelAffineMap(scale, shift), new ChannelGeometry(channels, _shape.Spatial, ChannelLayout.ChannelsFirst));
        BatchNormKernel.ForwardTraining(_x, _y, _shape, _gamma, _beta, 1e-5, _mean, _variance, _inverseStd, _scale, _shift);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x = _y = _dy = _dx = [];
        GC.Collect();
    }

    [Benchmark(Baseline = true)]
    public void StreamingMultiplyAdd() => KernelBenchmarks.StreamingMultiplyAdd(_x, _y, 0.0173f, -2.04f);

    /// <summary>The streaming reference split over two threads (half the batch each): the two-core bandwidth ceiling.</summary>
    [Benchmark]
    public void StreamingMultiplyAddTwoThreads()
    {
        int half = _x.Length / 2;
        Parallel.For(0, 2, part =>
        {
            int start = part * half, count = part == 0 ? half : _x.Length - half;
            KernelBenchmarks.StreamingMultiplyAdd(_x.AsSpan(start, count), _y.AsSpan(start, count), 0.0173f, -2.04f);
        });
    }

    /// <summary>Library: ChannelAffineKernel.Apply (thread-safe, as every IRowKernel) with the rows split over two threads.</summary>
    [Benchmark]
    public void ChannelNormalizeTwoThreads()
    {
        int row = _shape.RowLength, half = _shape.Rows / 2;
        Parallel.For(0, 2, part =>
        {
            for (int n = part * half; n < (part == 0 ? half : _shape.Rows); n++)
                _affine.Apply(_x.AsSpan(n * row, row), _y.AsSpan(n * row, row));
        });
    }

    /// <summary>Library: DoubleSums.Sum over the whole batch, one read pass (scalar loop, one double accumulator).</summary>
    [Benchmark]
    public double LibraryDoubleSum() => DoubleSums.Sum(_x);

    /// <summary>Variant: the same double-accumulated sum, floats widened to Vector256&lt;double&gt;, four accumulators.</summary>
    [Benchmark]
    public double VectorDoubleSum() => VectorSums.Sum(_x);

    /// <summary>Library: BatchNormKernel.Moments, the statistics half of the training forward (two read passes).</summary>
    [Benchmark]
    public void LibraryBatchNormMoments() => BatchNormKernel.Moments(_x, _shape, _mean, _variance);

    /// <summary>Variant: the same two passes per channel (sum, then squared deviations) with the vectorized sums.</summary>
    [Benchmark]
    public void VectorBatchNormMoments() => VectorSums.BatchNormMoments(_x, _shape, _mean, _variance);

    /// <summary>Library: BatchNormKernel.ApplyChannelAffine, the apply half of the training forward (Multiply, then Add, per plane).</summary>
    [Benchmark]
    public void LibraryBatchNormApply() => BatchNormKernel.ApplyChannelAffine(_x, _y, _shape, _scale, _shift);

    /// <summary>Variant: the apply as one fused multiply-add pass per plane.</summary>
    [Benchmark]
    public void FusedBatchNormApply()
    {
        for (int n = 0; n < _shape.Rows; n++)
            for (int c = 0; c < _shape.Channels; c++)
                KernelBenchmarks.StreamingMultiplyAdd(_shape.Plane(_x, n, c), _shape.Plane(_y.AsSpan(), n, c), _scale[c], _shift[c]);
    }

    /// <summary>Variant: a whole training forward from the two variants above (vector moments, fused apply).</summary>
    [Benchmark]
    public void VariantBatchNormTrainForward()
    {
        VectorSums.BatchNormMoments(_x, _shape, _mean, _variance);
        for (int c = 0; c < _shape.Channels; c++)
        {
            _inverseStd[c] = 1 / Math.Sqrt(_variance[c] + 1e-5);
            double s = _gamma[c] * _inverseStd[c];
            _scale[c] = (float)s;
            _shift[c] = (float)(_beta[c] - _mean[c] * s);
        }
        FusedBatchNormApply();
    }

    /// <summary>Library: BatchNormKernel.Backward alone (Σdy and Σdy·x per plane in scalar double, then dx in three passes).</summary>
    [Benchmark]
    public void LibraryBatchNormBackward()
        => BatchNormKernel.Backward(_dy, _x, _dx, _shape, _gamma, _mean, _inverseStd, _gammaGradient, _betaGradient, _workspace);

    /// <summary>
    /// Variant: the backward with Σdy and Σdy·x per plane in one vectorized double pass, then dx = k·dy + p·x + q
    /// in one fused pass per plane (the library makes two scalar reduction passes and three vector passes for dx).
    /// </summary>
    [Benchmark]
    public void VariantBatchNormBackward()
    {
        double count = _shape.ValuesPerChannel;
        for (int c = 0; c < _shape.Channels; c++)
        {
            double sumDy = 0, sumDyX = 0;
            for (int n = 0; n < _shape.Rows; n++)
            {
                var (dySum, dyxSum) = VectorSums.SumAndDot(_shape.Plane(_dy, n, c), _shape.Plane(_x, n, c));
                sumDy += dySum;
                sumDyX += dyxSum;
            }
            double istd = _inverseStd[c];
            double sumDyXhat = istd * (sumDyX - _mean[c] * sumDy);
            _betaGradient[c] += (float)sumDy;
            _gammaGradient[c] += (float)sumDyXhat;
            double k = _gamma[c] * istd;
            float p = (float)(-k * istd * sumDyXhat / count);
            float q = (float)(-k * (sumDy - _mean[c] * istd * sumDyXhat) / count);
            for (int n = 0; n < _shape.Rows; n++)
                VectorSums.LinearCombination(_shape.Plane(_dy, n, c), (float)k, _shape.Plane(_x, n, c), p, q, _shape.Plane(_dx.AsSpan(), n, c));
        }
    }

    /// <summary>Variant: GroupNorm/InstanceNorm forward with vectorized moments and one fused y = x·s[c] + t[c] pass per plane.</summary>
    [Benchmark]
    public void VariantGroupNormForward()
    {
        int groupChannels = _shape.Channels / _groups, groupLength = groupChannels * _shape.Spatial;
        for (int n = 0; n < _shape.Rows; n++)
            for (int g = 0; g < _groups; g++)
            {
                int start = n * _shape.RowLength + g * groupLength;
                var group = _x.AsSpan(start, groupLength);
                double mean = VectorSums.Sum(group) / groupLength;
                double istd = 1 / Math.Sqrt(VectorSums.SquaredDeviations(group, mean) / groupLength + 1e-5);
                for (int c = 0; c < groupChannels; c++)
                {
                    int channel = g * groupChannels + c;
                    double s = istd * _gamma[channel];
                    int plane = start + c * _shape.Spatial;
                    KernelBenchmarks.StreamingMultiplyAdd(_x.AsSpan(plane, _shape.Spatial), _y.AsSpan(plane, _shape.Spatial), (float)s, (float)(_beta[channel] - mean * s));
                }
            }
    }

    /// <summary>Variant: LayerNorm forward with vectorized moments and one fused y = (x·s + t)·γ[i] + β[i] pass per row.</summary>
    [Benchmark]
    public void VariantLayerNormForward()
    {
        int row = _shape.RowLength;
        for (int n = 0; n < _shape.Rows; n++)
        {
            var x = _x.AsSpan(n * row, row);
            double mean = VectorSums.Sum(x) / row;
            double istd = 1 / Math.Sqrt(VectorSums.SquaredDeviations(x, mean) / row + 1e-5);
            VectorSums.AffineThenElementwise(x, (float)istd, (float)(-mean * istd), _gammaElements, _betaElements, _y.AsSpan(n * row, row));
        }
    }

    /// <summary>Library: the fitting's finiteness check (NonFinite.IndexOf) over every row of the batch.</summary>
    [Benchmark]
    public int LibraryNonFiniteCheck()
    {
        int row = _shape.RowLength, found = 0;
        for (int n = 0; n < _shape.Rows; n++)
            found += NonFinite.IndexOf(_x.AsSpan(n * row, row));
        return found;
    }

    /// <summary>Library: the fitting's per-channel accumulator (ChannelMomentsAccumulator.Add) over every row of the batch.</summary>
    [Benchmark]
    public double LibraryChannelMomentsAccumulator()
    {
        var accumulator = new ChannelMomentsAccumulator(new ChannelGeometry(_shape.Channels, _shape.Spatial, ChannelLayout.ChannelsFirst));
        int row = _shape.RowLength;
        for (int n = 0; n < _shape.Rows; n++)
            accumulator.Add(_x.AsSpan(n * row, row));
        return accumulator[0].M2;
    }

    /// <summary>Library: the statistics half of GroupNormKernel.Forward, Moments.Of per (row, group).</summary>
    [Benchmark]
    public double LibraryGroupNormMoments()
    {
        int groupLength = _shape.RowLength / _groups;
        double check = 0;
        for (int i = 0; i < _shape.Rows * _groups; i++)
            check += Moments.Of(_x.AsSpan(i * groupLength, groupLength)).M2;
        return check;
    }

    /// <summary>Variant: the same per-(row, group) moments with the vectorized two-pass sums.</summary>
    [Benchmark]
    public double VectorGroupNormMoments()
    {
        int groupLength = _shape.RowLength / _groups;
        double check = 0;
        for (int i = 0; i < _shape.Rows * _groups; i++)
        {
            var group = _x.AsSpan(i * groupLength, groupLength);
            double mean = VectorSums.Sum(group) / groupLength;
            check += VectorSums.SquaredDeviations(group, mean);
        }
        return check;
    }
}

/// <summary>Double-accumulating reductions of float spans, vectorized: the diagnostics' stand-in for DoubleSums.</summary>
internal static class VectorSums
{
    public static double Sum(ReadOnlySpan<float> values)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        var a0 = Vector256<double>.Zero;
        var a1 = Vector256<double>.Zero;
        var a2 = Vector256<double>.Zero;
        var a3 = Vector256<double>.Zero;
        int i = 0, n = values.Length;
        for (; i <= n - 16; i += 16)
        {
            var (l0, h0) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)i));
            var (l1, h1) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)(i + 8)));
            a0 += l0;
            a1 += h0;
            a2 += l1;
            a3 += h1;
        }
        double sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++)
            sum += values[i];
        return sum;
    }

    /// <summary>Σ (v − center)².</summary>
    public static double SquaredDeviations(ReadOnlySpan<float> values, double center)
    {
        ref float start = ref MemoryMarshal.GetReference(values);
        var c = Vector256.Create(center);
        var a0 = Vector256<double>.Zero;
        var a1 = Vector256<double>.Zero;
        var a2 = Vector256<double>.Zero;
        var a3 = Vector256<double>.Zero;
        int i = 0, n = values.Length;
        for (; i <= n - 16; i += 16)
        {
            var (l0, h0) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)i));
            var (l1, h1) = Vector256.Widen(Vector256.LoadUnsafe(ref start, (nuint)(i + 8)));
            l0 -= c;
            h0 -= c;
            l1 -= c;
            h1 -= c;
            a0 = Vector256.FusedMultiplyAdd(l0, l0, a0);
            a1 = Vector256.FusedMultiplyAdd(h0, h0, a1);
            a2 = Vector256.FusedMultiplyAdd(l1, l1, a2);
            a3 = Vector256.FusedMultiplyAdd(h1, h1, a3);
        }
        double sum = Vector256.Sum((a0 + a1) + (a2 + a3));
        for (; i < n; i++)
        {
            double d = values[i] - center;
            sum += d * d;
        }
        return sum;
    }

    /// <summary>(Σ a, Σ a·b) in one pass.</summary>
    public static (double Sum, double Dot) SumAndDot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        var s0 = Vector256<double>.Zero;
        var s1 = Vector256<double>.Zero;
        var d0 = Vector256<double>.Zero;
        var d1 = Vector256<double>.Zero;
        int i = 0, n = a.Length;
        for (; i <= n - 8; i += 8)
        {
            var (al, ah) = Vector256.Widen(Vector256.LoadUnsafe(ref ra, (nuint)i));
            var (bl, bh) = Vector256.Widen(Vector256.LoadUnsafe(ref rb, (nuint)i));
            s0 += al;
            s1 += ah;
            d0 = Vector256.FusedMultiplyAdd(al, bl, d0);
            d1 = Vector256.FusedMultiplyAdd(ah, bh, d1);
        }
        double sum = Vector256.Sum(s0 + s1), dot = Vector256.Sum(d0 + d1);
        for (; i < n; i++)
        {
            sum += a[i];
            dot += (double)a[i] * b[i];
        }
        return (sum, dot);
    }

    /// <summary>destination = a·ka + b·kb + k, one pass.</summary>
    public static void LinearCombination(ReadOnlySpan<float> a, float ka, ReadOnlySpan<float> b, float kb, float k, Span<float> destination)
    {
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rd = ref MemoryMarshal.GetReference(destination);
        var vka = Vector256.Create(ka);
        var vkb = Vector256.Create(kb);
        var vk = Vector256.Create(k);
        int i = 0, n = a.Length;
        for (; i <= n - 8; i += 8)
        {
            var t = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref rb, (nuint)i), vkb, vk);
            Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref ra, (nuint)i), vka, t).StoreUnsafe(ref rd, (nuint)i);
        }
        for (; i < n; i++)
            destination[i] = a[i] * ka + b[i] * kb + k;
    }

    /// <summary>destination = (x·s + t)·γ[i] + β[i], one pass.</summary>
    public static void AffineThenElementwise(ReadOnlySpan<float> x, float s, float t, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta, Span<float> destination)
    {
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rg = ref MemoryMarshal.GetReference(gamma);
        ref float rb = ref MemoryMarshal.GetReference(beta);
        ref float rd = ref MemoryMarshal.GetReference(destination);
        var vs = Vector256.Create(s);
        var vt = Vector256.Create(t);
        int i = 0, n = x.Length;
        for (; i <= n - 8; i += 8)
        {
            var normalized = Vector256.FusedMultiplyAdd(Vector256.LoadUnsafe(ref rx, (nuint)i), vs, vt);
            Vector256.FusedMultiplyAdd(normalized, Vector256.LoadUnsafe(ref rg, (nuint)i), Vector256.LoadUnsafe(ref rb, (nuint)i)).StoreUnsafe(ref rd, (nuint)i);
        }
        for (; i < n; i++)
            destination[i] = (x[i] * s + t) * gamma[i] + beta[i];
    }

    public static void BatchNormMoments(ReadOnlySpan<float> x, NcsShape shape, Span<double> mean, Span<double> variance)
    {
        double count = shape.ValuesPerChannel;
        for (int c = 0; c < shape.Channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < shape.Rows; n++)
                sum += Sum(shape.Plane(x, n, c));
            double m = sum / count;
            double squares = 0;
            for (int n = 0; n < shape.Rows; n++)
                squares += SquaredDeviations(shape.Plane(x, n, c), m);
            mean[c] = m;
            variance[c] = squares / count;
        }
    }
}
