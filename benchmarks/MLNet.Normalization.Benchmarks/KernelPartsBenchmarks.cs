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

    private KernelBatch _b = null!;

    [GlobalSetup]
    public void Setup()
    {
        _b = new KernelBatch(Shape);
        // The parts after the statistics read the batch's mean and 1/σ.
        BatchNormKernel.ForwardTraining(_b.X, _b.Y, _b.Shape, _b.Gamma, _b.Beta, 1e-5, _b.Mean, _b.Variance, _b.InverseStd, _b.Scale, _b.Shift);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _b = null!;
        GC.Collect();
    }

    [Benchmark(Baseline = true)]
    public void StreamingMultiplyAdd() => KernelBatch.StreamingMultiplyAdd(_b.X, _b.Y, 0.0173f, -2.04f);

    /// <summary>The streaming reference split over two threads (half the batch each): the two-core bandwidth ceiling.</summary>
    [Benchmark]
    public void StreamingMultiplyAddTwoThreads()
    {
        int half = _b.X.Length / 2;
        Parallel.For(0, 2, part =>
        {
            int start = part * half, count = part == 0 ? half : _b.X.Length - half;
            KernelBatch.StreamingMultiplyAdd(_b.X.AsSpan(start, count), _b.Y.AsSpan(start, count), 0.0173f, -2.04f);
        });
    }

    /// <summary>Library: ChannelAffineKernel.Apply (thread-safe, as every IRowKernel) with the rows split over two threads.</summary>
    [Benchmark]
    public void ChannelNormalizeTwoThreads()
    {
        int row = _b.Shape.RowLength, half = _b.Shape.Rows / 2;
        Parallel.For(0, 2, part =>
        {
            for (int n = part * half; n < (part == 0 ? half : _b.Shape.Rows); n++)
                _b.Affine.Apply(_b.X.AsSpan(n * row, row), _b.Y.AsSpan(n * row, row));
        });
    }

    /// <summary>Library: DoubleSums.Sum over the whole batch, one read pass (scalar loop, one double accumulator).</summary>
    [Benchmark]
    public double LibraryDoubleSum() => DoubleSums.Sum(_b.X);

    /// <summary>Variant: the same double-accumulated sum, floats widened to Vector256&lt;double&gt;, four accumulators.</summary>
    [Benchmark]
    public double VectorDoubleSum() => VectorSums.Sum(_b.X);

    /// <summary>Library: BatchNormKernel.Moments, the statistics half of the training forward (two read passes).</summary>
    [Benchmark]
    public void LibraryBatchNormMoments() => BatchNormKernel.Moments(_b.X, _b.Shape, _b.Mean, _b.Variance);

    /// <summary>Variant: the same two passes per channel (sum, then squared deviations) with the vectorized sums.</summary>
    [Benchmark]
    public void VectorBatchNormMoments() => VectorSums.BatchNormMoments(_b.X, _b.Shape, _b.Mean, _b.Variance);

    /// <summary>Library: BatchNormKernel.ApplyChannelAffine, the apply half of the training forward (Multiply, then Add, per plane).</summary>
    [Benchmark]
    public void LibraryBatchNormApply() => BatchNormKernel.ApplyChannelAffine(_b.X, _b.Y, _b.Shape, _b.Scale, _b.Shift);

    /// <summary>Variant: the apply as one fused multiply-add pass per plane.</summary>
    [Benchmark]
    public void FusedBatchNormApply()
    {
        for (int n = 0; n < _b.Shape.Rows; n++)
            for (int c = 0; c < _b.Shape.Channels; c++)
                KernelBatch.StreamingMultiplyAdd(_b.Shape.Plane(_b.X, n, c), _b.Shape.Plane(_b.Y.AsSpan(), n, c), _b.Scale[c], _b.Shift[c]);
    }

    /// <summary>Variant: a whole training forward from the two variants above (vector moments, fused apply).</summary>
    [Benchmark]
    public void VariantBatchNormTrainForward()
    {
        VectorSums.BatchNormMoments(_b.X, _b.Shape, _b.Mean, _b.Variance);
        for (int c = 0; c < _b.Shape.Channels; c++)
        {
            _b.InverseStd[c] = 1 / Math.Sqrt(_b.Variance[c] + 1e-5);
            double s = _b.Gamma[c] * _b.InverseStd[c];
            _b.Scale[c] = (float)s;
            _b.Shift[c] = (float)(_b.Beta[c] - _b.Mean[c] * s);
        }
        FusedBatchNormApply();
    }

    /// <summary>Library: BatchNormKernel.Backward alone (Σdy and Σdy·x per plane in scalar double, then dx in three passes).</summary>
    [Benchmark]
    public void LibraryBatchNormBackward()
        => BatchNormKernel.Backward(_b.Dy, _b.X, _b.Dx, _b.Shape, _b.Gamma, _b.Mean, _b.InverseStd, _b.GammaGradient, _b.BetaGradient, _b.Workspace);

    /// <summary>
    /// Variant: the backward with Σdy and Σdy·x per plane in one vectorized double pass, then dx = k·dy + p·x + q
    /// in one fused pass per plane (the library makes two scalar reduction passes and three vector passes for dx).
    /// </summary>
    [Benchmark]
    public void VariantBatchNormBackward()
    {
        double count = _b.Shape.ValuesPerChannel;
        for (int c = 0; c < _b.Shape.Channels; c++)
        {
            double sumDy = 0, sumDyX = 0;
            for (int n = 0; n < _b.Shape.Rows; n++)
            {
                var (dySum, dyxSum) = VectorSums.SumAndDot(_b.Shape.Plane(_b.Dy, n, c), _b.Shape.Plane(_b.X, n, c));
                sumDy += dySum;
                sumDyX += dyxSum;
            }
            double istd = _b.InverseStd[c];
            double sumDyXhat = istd * (sumDyX - _b.Mean[c] * sumDy);
            _b.BetaGradient[c] += (float)sumDy;
            _b.GammaGradient[c] += (float)sumDyXhat;
            double k = _b.Gamma[c] * istd;
            float p = (float)(-k * istd * sumDyXhat / count);
            float q = (float)(-k * (sumDy - _b.Mean[c] * istd * sumDyXhat) / count);
            for (int n = 0; n < _b.Shape.Rows; n++)
                VectorSums.LinearCombination(_b.Shape.Plane(_b.Dy, n, c), (float)k, _b.Shape.Plane(_b.X, n, c), p, q, _b.Shape.Plane(_b.Dx.AsSpan(), n, c));
        }
    }

    /// <summary>Variant: GroupNorm/InstanceNorm forward with vectorized moments and one fused y = x·s[c] + t[c] pass per plane.</summary>
    [Benchmark]
    public void VariantGroupNormForward()
    {
        int groupChannels = _b.Shape.Channels / _b.Groups, groupLength = groupChannels * _b.Shape.Spatial;
        for (int n = 0; n < _b.Shape.Rows; n++)
            for (int g = 0; g < _b.Groups; g++)
            {
                int start = n * _b.Shape.RowLength + g * groupLength;
                var group = _b.X.AsSpan(start, groupLength);
                double mean = VectorSums.Sum(group) / groupLength;
                double istd = 1 / Math.Sqrt(VectorSums.SquaredDeviations(group, mean) / groupLength + 1e-5);
                for (int c = 0; c < groupChannels; c++)
                {
                    int channel = g * groupChannels + c;
                    double s = istd * _b.Gamma[channel];
                    int plane = start + c * _b.Shape.Spatial;
                    KernelBatch.StreamingMultiplyAdd(_b.X.AsSpan(plane, _b.Shape.Spatial), _b.Y.AsSpan(plane, _b.Shape.Spatial), (float)s, (float)(_b.Beta[channel] - mean * s));
                }
            }
    }

    /// <summary>Variant: LayerNorm forward with vectorized moments and one fused y = (x·s + t)·γ[i] + β[i] pass per row.</summary>
    [Benchmark]
    public void VariantLayerNormForward()
    {
        int row = _b.Shape.RowLength;
        for (int n = 0; n < _b.Shape.Rows; n++)
        {
            var x = _b.X.AsSpan(n * row, row);
            double mean = VectorSums.Sum(x) / row;
            double istd = 1 / Math.Sqrt(VectorSums.SquaredDeviations(x, mean) / row + 1e-5);
            VectorSums.AffineThenElementwise(x, (float)istd, (float)(-mean * istd), _b.GammaElements, _b.BetaElements, _b.Y.AsSpan(n * row, row));
        }
    }

    /// <summary>Library: the fitting's finiteness check (NonFinite.IndexOf) over every row of the batch.</summary>
    [Benchmark]
    public int LibraryNonFiniteCheck()
    {
        int row = _b.Shape.RowLength, found = 0;
        for (int n = 0; n < _b.Shape.Rows; n++)
            found += NonFinite.IndexOf(_b.X.AsSpan(n * row, row));
        return found;
    }

    /// <summary>Library: the fitting's per-channel accumulator (ChannelMomentsAccumulator.Add) over every row of the batch.</summary>
    [Benchmark]
    public double LibraryChannelMomentsAccumulator()
    {
        var accumulator = new ChannelMomentsAccumulator(new ChannelGeometry(_b.Shape.Channels, _b.Shape.Spatial, ChannelLayout.ChannelsFirst));
        int row = _b.Shape.RowLength;
        for (int n = 0; n < _b.Shape.Rows; n++)
            accumulator.Add(_b.X.AsSpan(n * row, row));
        return accumulator[0].M2;
    }

    /// <summary>Library: the statistics half of GroupNormKernel.Forward, Moments.Of per (row, group).</summary>
    [Benchmark]
    public double LibraryGroupNormMoments()
    {
        int groupLength = _b.Shape.RowLength / _b.Groups;
        double check = 0;
        for (int i = 0; i < _b.Shape.Rows * _b.Groups; i++)
            check += Moments.Of(_b.X.AsSpan(i * groupLength, groupLength)).M2;
        return check;
    }

    /// <summary>Variant: the same per-(row, group) moments with the vectorized two-pass sums.</summary>
    [Benchmark]
    public double VectorGroupNormMoments()
    {
        int groupLength = _b.Shape.RowLength / _b.Groups;
        double check = 0;
        for (int i = 0; i < _b.Shape.Rows * _b.Groups; i++)
        {
            var group = _b.X.AsSpan(i * groupLength, groupLength);
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
