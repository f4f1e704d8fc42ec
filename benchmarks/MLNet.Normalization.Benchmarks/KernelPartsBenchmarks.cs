using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// Where the kernels' time goes, on the same shapes as <see cref="KernelBenchmarks"/>, all on one thread: the
/// library's double-accumulating reductions, the batch-norm statistics, apply and backward passes, and the
/// per-sample and fitting statistics, each next to the streaming reference (one read and one write of the batch).
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

    /// <summary>
    /// The reference with non-temporal stores: it saves the read-for-ownership of y, but leaves y out of the
    /// caches for whatever reads it next (compare the two "ThenSum" rows).
    /// </summary>
    [Benchmark]
    public void StreamingMultiplyAddNonTemporal() => KernelBatch.StreamingMultiplyAddNonTemporal(_b.X, _b.Y, 0.0173f, -2.04f);

    /// <summary>The reference, then the next consumer's read of y (a sum).</summary>
    [Benchmark]
    public float StreamingMultiplyAddThenSum()
    {
        KernelBatch.StreamingMultiplyAdd(_b.X, _b.Y, 0.0173f, -2.04f);
        return TensorPrimitives.Sum<float>(_b.Y);
    }

    /// <summary>The non-temporal reference, then the same read of y.</summary>
    [Benchmark]
    public float StreamingMultiplyAddNonTemporalThenSum()
    {
        KernelBatch.StreamingMultiplyAddNonTemporal(_b.X, _b.Y, 0.0173f, -2.04f);
        return TensorPrimitives.Sum<float>(_b.Y);
    }

    /// <summary>DoubleSums.ShiftedSums over the whole batch: Σd and Σd² in double, one read.</summary>
    [Benchmark]
    public double ShiftedSums() => DoubleSums.ShiftedSums(_b.X, 0).SumOfSquares;

    /// <summary>DoubleSums.SumAndDot over the whole batch: Σdy and Σdy·x in double, two reads.</summary>
    [Benchmark]
    public double SumAndDot() => DoubleSums.SumAndDot(_b.Dy, _b.X).Dot;

    /// <summary>BatchNormKernel.Moments: the statistics half of the training forward.</summary>
    [Benchmark]
    public void BatchNormMoments()
    {
        ParallelUnits.MaxDegreeOfParallelism = 1;
        BatchNormKernel.Moments(_b.X, _b.Shape, _b.Mean, _b.Variance);
    }

    /// <summary>BatchNormKernel.ApplyChannelAffine: the apply half of the training forward.</summary>
    [Benchmark]
    public void BatchNormApply()
    {
        ParallelUnits.MaxDegreeOfParallelism = 1;
        BatchNormKernel.ApplyChannelAffine(_b.X, _b.Y, _b.Shape, _b.Scale, _b.Shift);
    }

    /// <summary>BatchNormKernel.Backward alone: Σdy and Σdy·x per channel, then dx = k·dy + p·(x − μ) + q.</summary>
    [Benchmark]
    public void BatchNormBackward()
    {
        ParallelUnits.MaxDegreeOfParallelism = 1;
        BatchNormKernel.Backward(_b.Dy, _b.X, _b.Dx, _b.Shape, _b.Gamma, _b.Mean, _b.InverseStd, _b.GammaGradient, _b.BetaGradient, _b.Workspace);
    }

    /// <summary>The fitting's finiteness check (NonFinite.IndexOf) over every row of the batch.</summary>
    [Benchmark]
    public int NonFiniteCheck()
    {
        int row = _b.Shape.RowLength, found = 0;
        for (int n = 0; n < _b.Shape.Rows; n++)
            found += NonFinite.IndexOf(_b.X.AsSpan(n * row, row));
        return found;
    }

    /// <summary>The fitting's per-channel accumulator (ChannelMomentsAccumulator.Add) over every row of the batch.</summary>
    [Benchmark]
    public double ChannelMomentsAccumulator()
    {
        var accumulator = new ChannelMomentsAccumulator(new ChannelGeometry(_b.Shape.Channels, _b.Shape.Spatial, ChannelLayout.ChannelsFirst));
        int row = _b.Shape.RowLength;
        for (int n = 0; n < _b.Shape.Rows; n++)
            accumulator.Add(_b.X.AsSpan(n * row, row));
        return accumulator[0].M2;
    }

    /// <summary>The statistics half of GroupNormKernel.Forward: Moments.Of per (row, group).</summary>
    [Benchmark]
    public double GroupNormMoments()
    {
        int groupLength = _b.Shape.RowLength / _b.Groups;
        double check = 0;
        for (int i = 0; i < _b.Shape.Rows * _b.Groups; i++)
            check += Moments.Of(_b.X.AsSpan(i * groupLength, groupLength)).M2;
        return check;
    }
}
