using BenchmarkDotNet.Attributes;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// One training step (forward, then backward) of each normalization layer at the feature-map shapes of the
/// Fashion-MNIST CNN (conv–norm–ReLU–pool × 2, batch 64): (64, 32, 28 · 28) after the first convolution and
/// (64, 64, 14 · 14) after the second. The baseline copies x → y and dy → dx, the four batch-sized buffers a
/// forward + backward touches, rows split over the threads: the memory-bandwidth reference. Buffers are allocated
/// and filled once per shape with a fixed seed; the layers write into preallocated outputs, as a training loop
/// would. <see cref="Threads"/> caps the layers' threads (ParallelUnits).
/// </summary>
public class NormalizationLayerNchwBenchmarks
{
    /// <summary>N×C×H×W.</summary>
    [Params("64x32x28x28", "64x64x14x14")]
    public string Shape { get; set; } = "64x32x28x28";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private KernelBatch _b = null!;
    private BatchNormLayer _batchNorm = null!;
    private BatchRenormLayer _batchRenorm = null!;
    private GroupNormLayer _groupNorm = null!;
    private LayerNormLayer _layerNorm = null!;
    private InstanceNormLayer _instanceNorm = null!;

    [GlobalSetup]
    public void Setup()
    {
        _b = new KernelBatch(Shape);
        int channels = _b.Shape.Channels, spatial = _b.Shape.Spatial;
        _batchNorm = new BatchNormLayer(channels, spatial);
        // Clipping that never relaxes, so every step does the same work.
        _batchRenorm = new BatchRenormLayer(channels, spatial, RenormSchedule.Constant(3, 5));
        _groupNorm = new GroupNormLayer(channels, spatial, groups: 8);
        _layerNorm = new LayerNormLayer(channels, spatial);
        _instanceNorm = new InstanceNormLayer(channels, spatial);
        NormalizationLayer[] layers = [_batchNorm, _batchRenorm, _groupNorm, _layerNorm, _instanceNorm];
        foreach (var layer in layers)
        {
            var random = new Random(20261201);
            KernelBatch.Filled(random, layer.Gamma.Length, 0.5f, 1.5f).CopyTo(layer.Gamma, 0);
            KernelBatch.Filled(random, layer.Beta.Length, -0.5f, 0.5f).CopyTo(layer.Beta, 0);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _b = null!;
        GC.Collect();
    }

    /// <summary>x → y and dy → dx copied, rows split over the threads: the bandwidth reference of a forward + backward.</summary>
    [Benchmark(Baseline = true)]
    public void MemoryCopyFourBuffers()
    {
        int count = _b.Shape.Rows, threads = Threads;
        void Copy(int first, int end)
        {
            _b.Rows(_b.X, first, end).CopyTo(_b.Rows(_b.Y, first, end));
            _b.Rows(_b.Dy, first, end).CopyTo(_b.Rows(_b.Dx, first, end));
        }
        if (threads == 1)
        {
            Copy(0, count);
            return;
        }
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, part => Copy(part * count / threads, (part + 1) * count / threads));
    }

    [Benchmark]
    public void BatchNorm() => Step(_batchNorm);

    [Benchmark]
    public void BatchRenorm() => Step(_batchRenorm);

    [Benchmark]
    public void GroupNorm8() => Step(_groupNorm);

    [Benchmark]
    public void LayerNorm() => Step(_layerNorm);

    [Benchmark]
    public void InstanceNorm() => Step(_instanceNorm);

    private void Step(NormalizationLayer layer)
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        layer.Forward(_b.X, _b.Y, _b.Shape.Rows, training: true);
        layer.Backward(_b.Dy, _b.Dx);
    }
}
