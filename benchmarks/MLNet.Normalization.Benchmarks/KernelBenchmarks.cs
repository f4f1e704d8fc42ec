using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.PerSampleNormalization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// The span kernels on one (N, C, H, W) float batch, against a plain streaming multiply-add over the same buffers
/// (the memory-bandwidth reference, the baseline of each shape and thread count). Buffers are allocated and filled
/// once per shape with a fixed seed; every kernel writes into preallocated outputs, as a training loop would.
/// <see cref="Threads"/> caps the kernels' threads (ParallelUnits) and splits the reference's rows over as many.
/// </summary>
public class KernelBenchmarks
{
    /// <summary>N×C×H×W.</summary>
    [Params("32x3x224x224", "32x64x56x56")]
    public string Shape { get; set; } = "32x3x224x224";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private KernelBatch _b = null!;

    [GlobalSetup]
    public void Setup()
    {
        _b = new KernelBatch(Shape);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _b = null!;
        GC.Collect();
    }

    /// <summary>y[i] = x[i] · a + b over the whole batch, 4 × Vector256 per step, rows split over the threads: the bandwidth reference.</summary>
    [Benchmark(Baseline = true)]
    public void StreamingMultiplyAdd()
        => ForRows(Threads, (first, end) => KernelBatch.StreamingMultiplyAdd(_b.Rows(_b.X, first, end), _b.Rows(_b.Y, first, end), 0.0173f, -2.04f));

    /// <summary>
    /// The reference over x → y and then dy → dx: four batch-sized buffers, the working set of a training
    /// forward + backward, the bandwidth reference for it.
    /// </summary>
    [Benchmark]
    public void StreamingMultiplyAddFourBuffers()
        => ForRows(Threads, (first, end) =>
        {
            KernelBatch.StreamingMultiplyAdd(_b.Rows(_b.X, first, end), _b.Rows(_b.Y, first, end), 0.0173f, -2.04f);
            KernelBatch.StreamingMultiplyAdd(_b.Rows(_b.Dy, first, end), _b.Rows(_b.Dx, first, end), 0.0173f, -2.04f);
        });

    /// <summary>ChannelAffineKernel.Apply row by row (the ML.NET row kernel), rows split over the threads: per-channel input normalization.</summary>
    [Benchmark]
    public void ChannelNormalize() => ApplyByRows(_b.Affine);

    /// <summary><see cref="ChannelNormalize"/> with each row read as (H, W, C) interleaved pixels.</summary>
    [Benchmark]
    public void ChannelNormalizeInterleaved() => ApplyByRows(_b.AffineInterleaved);

    /// <summary><see cref="ChannelNormalizeInterleaved"/> with the first three channels read in reverse: Caffe's RGB to BGR.</summary>
    [Benchmark]
    public void ChannelNormalizeInterleavedBgr() => ApplyByRows(_b.AffineInterleavedBgr);

    private void ApplyByRows(ChannelAffineKernel kernel)
    {
        int row = _b.Shape.RowLength;
        ForRows(Threads, (first, end) =>
        {
            for (int n = first; n < end; n++)
                kernel.Apply(_b.X.AsSpan(n * row, row), _b.Y.AsSpan(n * row, row));
        });
    }

    /// <summary>BatchNormKernel.ApplyChannelAffine over the batch: BatchNorm inference with folded running statistics.</summary>
    [Benchmark]
    public void BatchNormInference()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        BatchNormKernel.ApplyChannelAffine(_b.X, _b.Y, _b.Shape, _b.Scale, _b.Shift);
    }

    [Benchmark]
    public void BatchNormTrainForward()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        BatchNormKernel.ForwardTraining(_b.X, _b.Y, _b.Shape, _b.Gamma, _b.Beta, 1e-5, _b.Mean, _b.Variance, _b.InverseStd, _b.Scale, _b.Shift);
    }

    [Benchmark]
    public void BatchNormTrainForwardBackward()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        BatchNormKernel.ForwardTraining(_b.X, _b.Y, _b.Shape, _b.Gamma, _b.Beta, 1e-5, _b.Mean, _b.Variance, _b.InverseStd, _b.Scale, _b.Shift);
        BatchNormKernel.Backward(_b.Dy, _b.X, _b.Dx, _b.Shape, _b.Gamma, _b.Mean, _b.InverseStd, _b.GammaGradient, _b.BetaGradient, _b.Workspace);
    }

    /// <summary>Over each sample's C·H·W values, γ and β per element: the (N, L, 1) shape with one group.</summary>
    [Benchmark]
    public void LayerNorm()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        GroupNormKernel.Forward(_b.X, _b.Y, new NcsShape(_b.Shape.Rows, _b.Shape.RowLength, 1), 1, _b.GammaElements, _b.BetaElements, 1e-5, _b.RowMean, _b.RowInverseStd);
    }

    [Benchmark]
    public void GroupNorm()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        GroupNormKernel.Forward(_b.X, _b.Y, _b.Shape, _b.Groups, _b.Gamma, _b.Beta, 1e-5, _b.RowMean, _b.RowInverseStd);
    }

    [Benchmark]
    public void InstanceNorm()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        GroupNormKernel.Forward(_b.X, _b.Y, _b.Shape, _b.Shape.Channels, _b.Gamma, _b.Beta, 1e-5, _b.RowMean, _b.RowInverseStd);
    }

    /// <summary>Runs <paramref name="rows"/>(first, end) over the batch's rows in <paramref name="threads"/> equal parts.</summary>
    private void ForRows(int threads, Action<int, int> rows)
    {
        int count = _b.Shape.Rows;
        if (threads == 1)
        {
            rows(0, count);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, part => rows(part * count / threads, (part + 1) * count / threads));
    }
}
