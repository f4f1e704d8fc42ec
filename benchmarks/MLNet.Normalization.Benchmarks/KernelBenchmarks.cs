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
/// (the memory-bandwidth reference, the baseline of each shape). Buffers are allocated and filled once per shape
/// with a fixed seed; every kernel writes into preallocated outputs, as a training loop would.
/// </summary>
public class KernelBenchmarks
{
    /// <summary>N×C×H×W.</summary>
    [Params("32x3x224x224", "32x64x56x56")]
    public string Shape { get; set; } = "32x3x224x224";

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

    /// <summary>y[i] = x[i] · a + b over the whole batch, 4 × Vector256 per step: the bandwidth reference.</summary>
    [Benchmark(Baseline = true)]
    public void StreamingMultiplyAdd() => KernelBatch.StreamingMultiplyAdd(_b.X, _b.Y, 0.0173f, -2.04f);

    /// <summary>ChannelAffineKernel.Apply row by row: per-channel input normalization, and BatchNorm inference.</summary>
    [Benchmark]
    public void ChannelNormalize()
    {
        int row = _b.Shape.RowLength;
        for (int n = 0; n < _b.Shape.Rows; n++)
            _b.Affine.Apply(_b.X.AsSpan(n * row, row), _b.Y.AsSpan(n * row, row));
    }

    [Benchmark]
    public void BatchNormTrainForward()
        => BatchNormKernel.ForwardTraining(_b.X, _b.Y, _b.Shape, _b.Gamma, _b.Beta, 1e-5, _b.Mean, _b.Variance, _b.InverseStd, _b.Scale, _b.Shift);

    [Benchmark]
    public void BatchNormTrainForwardBackward()
    {
        BatchNormKernel.ForwardTraining(_b.X, _b.Y, _b.Shape, _b.Gamma, _b.Beta, 1e-5, _b.Mean, _b.Variance, _b.InverseStd, _b.Scale, _b.Shift);
        BatchNormKernel.Backward(_b.Dy, _b.X, _b.Dx, _b.Shape, _b.Gamma, _b.Mean, _b.InverseStd, _b.GammaGradient, _b.BetaGradient, _b.Workspace);
    }

    /// <summary>Over each sample's C·H·W values, γ and β per element: the (N, L, 1) shape with one group.</summary>
    [Benchmark]
    public void LayerNorm()
        => GroupNormKernel.Forward(_b.X, _b.Y, new NcsShape(_b.Shape.Rows, _b.Shape.RowLength, 1), 1, _b.GammaElements, _b.BetaElements, 1e-5, _b.RowMean, _b.RowInverseStd);

    [Benchmark]
    public void GroupNorm()
        => GroupNormKernel.Forward(_b.X, _b.Y, _b.Shape, _b.Groups, _b.Gamma, _b.Beta, 1e-5, _b.RowMean, _b.RowInverseStd);

    [Benchmark]
    public void InstanceNorm()
        => GroupNormKernel.Forward(_b.X, _b.Y, _b.Shape, _b.Shape.Channels, _b.Gamma, _b.Beta, 1e-5, _b.RowMean, _b.RowInverseStd);
}
