using BenchmarkDotNet.Attributes;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// The training component's matrix product, C = A · B with A, B, C of 1024 × 1024 floats, on 1 and 2 threads;
/// benchmarks/torch_reference.py times torch.mm (OpenBLAS) on the same size and thread counts.
/// </summary>
public class GemmBenchmarks
{
    public const int Size = 1024;

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private float[] _a = [], _b = [], _c = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(20240603);
        _a = KernelBatch.Filled(random, Size * Size, -1, 1);
        _b = KernelBatch.Filled(random, Size * Size, -1, 1);
        _c = new float[Size * Size];
    }

    [Benchmark]
    public void Multiply1024()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        Gemm.Multiply(_a, _b, _c, Size, Size, Size);
    }
}
