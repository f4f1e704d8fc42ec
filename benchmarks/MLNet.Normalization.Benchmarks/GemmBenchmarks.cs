using BenchmarkDotNet.Attributes;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// The training component's matrix product, C = A · B with A, B, C of 1024 × 1024 floats, on 1 and 2 threads;
/// benchmarks/torch_reference.py --gemm times torch.mm (OpenBLAS) on the same size and thread counts.
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

/// <summary>
/// The three products of a Linear layer at the MLP's shapes, batch × inputs × outputs (M × K × N), as
/// <c>LinearLayer</c> calls them: forward Y = X·Wᵀ, weight gradient dW += dYᵀ·X, input gradient dX = dY·W; on 1 and
/// 2 threads. benchmarks/torch_reference.py --gemm times the same products with torch.mm and addmm_.
/// </summary>
public class MlpGemmBenchmarks
{
    [Params("64x784x256", "64x256x256", "64x256x10")]
    public string Shape { get; set; } = "64x784x256";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private int _batch, _inputs, _outputs;
    private float[] _x = [], _w = [], _y = [], _dy = [], _dw = [], _dx = [];

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        (_batch, _inputs, _outputs) = (dims[0], dims[1], dims[2]);
        var random = new Random(20240604);
        _x = KernelBatch.Filled(random, _batch * _inputs, 0, 1);
        _w = KernelBatch.Filled(random, _outputs * _inputs, -0.05f, 0.05f);
        _dy = KernelBatch.Filled(random, _batch * _outputs, -0.01f, 0.01f);
        _y = new float[_batch * _outputs];
        _dw = new float[_outputs * _inputs];
        _dx = new float[_batch * _inputs];
    }

    [Benchmark]
    public void Forward()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        Gemm.Multiply(_x, _w, _y, _batch, _outputs, _inputs, transposeB: true);
    }

    [Benchmark]
    public void WeightGradient()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        Gemm.Multiply(_dy, _x, _dw, _outputs, _inputs, _batch, transposeA: true, beta: 1);
    }

    [Benchmark]
    public void InputGradient()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        Gemm.Multiply(_dy, _w, _dx, _batch, _inputs, _outputs);
    }
}
