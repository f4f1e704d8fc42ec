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

    private NcsShape _shape;
    private float[] _x = [], _y = [], _dy = [], _dx = [];
    private float[] _gamma = [], _beta = [], _gammaElements = [], _betaElements = [];
    private double[] _mean = [], _variance = [], _inverseStd = [];
    private float[] _scale = [], _shift = [], _gammaGradient = [], _betaGradient = [], _workspace = [];
    private double[] _rowMean = [], _rowInverseStd = [];
    private ChannelAffineKernel _affine = null!;
    private int _groups;

    /// <summary>Group count of the group-norm case: min(32, C), lowered until it divides C (32 for C = 64, 3 for C = 3).</summary>
    public static int GroupsFor(int channels)
    {
        int groups = Math.Min(32, channels);
        while (channels % groups != 0)
            groups--;
        return groups;
    }

    [GlobalSetup]
    public void Setup()
    {
        var dims = Shape.Split('x').Select(int.Parse).ToArray();
        _shape = new NcsShape(dims[0], dims[1], dims[2] * dims[3]);
        int channels = _shape.Channels;
        var random = new Random(20240601);
        _x = Filled(random, _shape.Length, -2, 3);
        _dy = Filled(random, _shape.Length, -1, 1);
        _y = new float[_shape.Length];
        _dx = new float[_shape.Length];

        _gamma = Filled(random, channels, 0.5f, 1.5f);
        _beta = Filled(random, channels, -0.5f, 0.5f);
        _gammaElements = Filled(random, _shape.RowLength, 0.5f, 1.5f);
        _betaElements = Filled(random, _shape.RowLength, -0.5f, 0.5f);
        _mean = new double[channels];
        _variance = new double[channels];
        _inverseStd = new double[channels];
        _scale = new float[channels];
        _shift = new float[channels];
        _gammaGradient = new float[channels];
        _betaGradient = new float[channels];
        _workspace = new float[3 * channels];
        _rowMean = new double[_shape.Rows * channels];
        _rowInverseStd = new double[_shape.Rows * channels];
        _groups = GroupsFor(channels);

        // An ImageNet-like per-channel map: y = (x / 255 − mean[c]) / std[c].
        var scale = new double[channels];
        var shift = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = 0.4 + 0.1 * random.NextDouble(), s = 0.2 + 0.05 * random.NextDouble();
            scale[c] = 1 / (255 * s);
            shift[c] = -m / s;
        }
        _affine = new ChannelAffineKernel(new ChannelAffineMap(scale, shift), new ChannelGeometry(channels, _shape.Spatial, ChannelLayout.ChannelsFirst));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _x = _y = _dy = _dx = [];
        GC.Collect();
    }

    internal static float[] Filled(Random random, int length, float low, float high)
    {
        var values = new float[length];
        for (int i = 0; i < values.Length; i++)
            values[i] = low + (high - low) * random.NextSingle();
        return values;
    }

    /// <summary>y[i] = x[i] · a + b over the whole batch, 4 × Vector256 per step: the bandwidth reference.</summary>
    [Benchmark(Baseline = true)]
    public void StreamingMultiplyAdd() => StreamingMultiplyAdd(_x, _y, 0.0173f, -2.04f);

    internal static void StreamingMultiplyAdd(ReadOnlySpan<float> x, Span<float> y, float a, float b)
    {
        ref float source = ref MemoryMarshal.GetReference(x);
        ref float destination = ref MemoryMarshal.GetReference(y);
        var va = Vector256.Create(a);
        var vb = Vector256.Create(b);
        int n = x.Length, i = 0, step = Vector256<float>.Count;
        for (; i <= n - 4 * step; i += 4 * step)
        {
            var x0 = Vector256.LoadUnsafe(ref source, (nuint)i);
            var x1 = Vector256.LoadUnsafe(ref source, (nuint)(i + step));
            var x2 = Vector256.LoadUnsafe(ref source, (nuint)(i + 2 * step));
            var x3 = Vector256.LoadUnsafe(ref source, (nuint)(i + 3 * step));
            Vector256.FusedMultiplyAdd(x0, va, vb).StoreUnsafe(ref destination, (nuint)i);
            Vector256.FusedMultiplyAdd(x1, va, vb).StoreUnsafe(ref destination, (nuint)(i + step));
            Vector256.FusedMultiplyAdd(x2, va, vb).StoreUnsafe(ref destination, (nuint)(i + 2 * step));
            Vector256.FusedMultiplyAdd(x3, va, vb).StoreUnsafe(ref destination, (nuint)(i + 3 * step));
        }
        for (; i < n; i++)
            y[i] = MathF.FusedMultiplyAdd(x[i], a, b);
    }

    /// <summary>ChannelAffineKernel.Apply row by row: per-channel input normalization, and BatchNorm inference.</summary>
    [Benchmark]
    public void ChannelNormalize()
    {
        int row = _shape.RowLength;
        for (int n = 0; n < _shape.Rows; n++)
            _affine.Apply(_x.AsSpan(n * row, row), _y.AsSpan(n * row, row));
    }

    [Benchmark]
    public void BatchNormTrainForward()
        => BatchNormKernel.ForwardTraining(_x, _y, _shape, _gamma, _beta, 1e-5, _mean, _variance, _inverseStd, _scale, _shift);

    [Benchmark]
    public void BatchNormTrainForwardBackward()
    {
        BatchNormKernel.ForwardTraining(_x, _y, _shape, _gamma, _beta, 1e-5, _mean, _variance, _inverseStd, _scale, _shift);
        BatchNormKernel.Backward(_dy, _x, _dx, _shape, _gamma, _mean, _inverseStd, _gammaGradient, _betaGradient, _workspace);
    }

    /// <summary>Over each sample's C·H·W values, γ and β per element: the (N, L, 1) shape with one group.</summary>
    [Benchmark]
    public void LayerNorm()
        => GroupNormKernel.Forward(_x, _y, new NcsShape(_shape.Rows, _shape.RowLength, 1), 1, _gammaElements, _betaElements, 1e-5, _rowMean, _rowInverseStd);

    [Benchmark]
    public void GroupNorm()
        => GroupNormKernel.Forward(_x, _y, _shape, _groups, _gamma, _beta, 1e-5, _rowMean, _rowInverseStd);

    [Benchmark]
    public void InstanceNorm()
        => GroupNormKernel.Forward(_x, _y, _shape, _shape.Channels, _gamma, _beta, 1e-5, _rowMean, _rowInverseStd);
}
