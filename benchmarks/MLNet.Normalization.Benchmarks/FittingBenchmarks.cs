using BenchmarkDotNet.Attributes;
using Microsoft.ML;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// Fitting statistics in one streaming pass over a lazily generated column of (3, 224, 224) rows, at 1× and 4× the
/// data (64 and 256 rows, 38.5 and 154 MB of floats). The baseline scans the same generated column without fitting.
/// The memory diagnoser's allocated bytes per fit must not grow with the data.
/// </summary>
public class FittingBenchmarks
{
    public const int BaseRows = 64;
    private const string Column = "Pixels";

    /// <summary>Data size as a multiple of <see cref="BaseRows"/> rows.</summary>
    [Params(1, 4)]
    public int Scale { get; set; } = 1;

    private MLContext _ml = null!;
    private IDataView _data = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ml = new MLContext(seed: 1);
        _data = GeneratedRows.Images(BaseRows * Scale, seed: 20240603, Column);
    }

    [Benchmark(Baseline = true)]
    public double ScanGenerated() => CursorBenchmarks.Scan(_data, Column);

    [Benchmark]
    public object FitNormalizeChannels() => _ml.Transforms.NormalizeChannels("Normalized", Column).Fit(_data);

    [Benchmark]
    public object FitBatchNormExact()
        => _ml.Transforms.BatchNorm("Normalized", Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(_data);
}
