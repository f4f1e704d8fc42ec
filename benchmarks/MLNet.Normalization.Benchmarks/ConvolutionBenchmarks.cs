using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// <see cref="Conv2dLayer"/> at the two convolutions of the Fashion-MNIST CNN, batch 64, on 1 and 2 threads: a
/// training forward (y = conv(x, W) + b) and the backward (dW += …, db += …, dx). 3 × 3 kernels, padding 1:
/// "1x28x28to32" is 2 · 32 · 9 · 784 · 64 = 28.9 MFLOP forward, "32x14x14to64" 2 · 64 · 288 · 196 · 64 = 462.4 MFLOP;
/// the backward is twice its forward (the weight and the input gradient). The GFLOP/s column divides them by the median.
/// </summary>
[Config(typeof(GflopsConfig))]
public class ConvolutionBenchmarks
{
    public const int Batch = 64;

    [Params("1x28x28to32", "32x14x14to64")]
    public string Shape { get; set; } = "1x28x28to32";

    [Params(1, 2)]
    public int Threads { get; set; } = 1;

    private Conv2dLayer _layer = null!;
    private float[] _x = [], _y = [], _dy = [], _dx = [];

    private static (ImageShape Input, int OutChannels) Parse(string shape)
    {
        var parts = shape.Split("to");
        var dims = parts[0].Split('x').Select(int.Parse).ToArray();
        return (new ImageShape(dims[0], dims[1], dims[2]), int.Parse(parts[1]));
    }

    /// <summary>2 · Cout · Cin · 9 · H · W · batch: the forward's multiply-adds at 3 × 3, padding 1 (the output is H × W).</summary>
    public static double ForwardFlops(string shape)
    {
        var (input, outChannels) = Parse(shape);
        return 2.0 * outChannels * input.Channels * 9 * input.Spatial * Batch;
    }

    [GlobalSetup]
    public void Setup()
    {
        var (input, outChannels) = Parse(Shape);
        _layer = new Conv2dLayer(input, outChannels, 3, padding: 1, seed: 1);
        var random = new Random(20261201);
        _x = KernelBatch.Filled(random, Batch * _layer.InputFeatures, -1, 1);
        _dy = KernelBatch.Filled(random, Batch * _layer.OutputFeatures, -0.01f, 0.01f);
        _y = new float[_dy.Length];
        _dx = new float[_x.Length];
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        _layer.Forward(_x, _y, Batch, training: true);
    }

    [Benchmark]
    public void Forward()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        _layer.Forward(_x, _y, Batch, training: true);
    }

    /// <summary>The backward of the setup's training forward; the weight gradient keeps accumulating, as it would without zeroing.</summary>
    [Benchmark]
    public void Backward()
    {
        ParallelUnits.MaxDegreeOfParallelism = Threads;
        _layer.Backward(_dy, _dx);
    }

    private sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new GflopsColumn());
    }

    /// <summary>The benchmark's floating-point operations over its median time.</summary>
    private sealed class GflopsColumn : IColumn
    {
        public string Id => nameof(GflopsColumn);
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "Floating-point operations (forward 2 · Cout · Cin · 9 · H · W · 64, backward twice that) per second, from the median";

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

        public bool IsAvailable(Summary summary) => true;

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var statistics = summary[benchmarkCase]?.ResultStatistics;
            if (statistics is null || benchmarkCase.Descriptor.WorkloadMethod.DeclaringType != typeof(ConvolutionBenchmarks))
                return "-";
            double flops = ForwardFlops((string)benchmarkCase.Parameters["Shape"]) * (benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(Backward) ? 2 : 1);
            return (flops / statistics.Median).ToString("F1", System.Globalization.CultureInfo.InvariantCulture);
        }
    }
}
