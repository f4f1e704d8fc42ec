using BenchmarkDotNet.Attributes;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// Transforms through ML.NET: a cursor over the output column, reading every row's <see cref="VBuffer{T}"/>, on a
/// cached column of 256 rows of (3, 224, 224) pixel values. The baseline is the raw cursor over the input column.
/// Transformers are fitted in setup (NormalizeMeanVariance once per machine, see <see cref="MeanVarianceModel"/>);
/// only the lazy transform is timed. Three diagnostics split the cost: ML.NET's CopyColumns (a transform cursor that
/// computes nothing) and each normalizer run through its row mapper over a plain input cursor, which skips the
/// parallel split and consolidation ML.NET puts behind <see cref="IDataView.GetRowCursor"/> of a transformed view.
/// </summary>
public class CursorBenchmarks
{
    public const int Rows = 256;
    public const int Channels = 3, Height = 224, Width = 224;
    public const int Length = Channels * Height * Width;
    public const int Seed = 20240602;
    public const string Input = "Pixels", Output = "Normalized";

    private sealed class ImageRow
    {
        [VectorType(Channels, Height, Width)]
        public float[] Pixels { get; set; } = [];
    }

    private MLContext _ml = null!;
    private IDataView _cached = null!;
    private IDataView _normalizeChannels = null!;
    private IDataView _batchNorm = null!;
    private IDataView _meanVariance = null!;
    private IDataView _minMax = null!;
    private IDataView _copyColumns = null!;
    private IRowToRowMapper _normalizeChannelsMapper = null!;
    private IRowToRowMapper _meanVarianceMapper = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ml = new MLContext(seed: 1);
        _cached = MakeData(_ml);

        var normalizeChannels = _ml.Transforms.NormalizeChannels(Output, Input, ChannelStatistics.ImageNet).Fit(_cached);
        _normalizeChannels = normalizeChannels.Transform(_cached);
        _normalizeChannelsMapper = ((ITransformer)normalizeChannels).GetRowToRowMapper(_cached.Schema);
        var parameters = new BatchNormParameters([127.1f, 126.8f, 127.4f], [5400f, 5420f, 5390f], [1.1f, 0.9f, 1.0f], [0.1f, -0.2f, 0f]);
        _batchNorm = _ml.Transforms.BatchNorm(Output, Input, parameters).Fit(_cached).Transform(_cached);
        var meanVariance = MeanVarianceModel.LoadOrFit();
        _meanVariance = meanVariance.Transform(_cached);
        _meanVarianceMapper = meanVariance.GetRowToRowMapper(_cached.Schema);
        _minMax = _ml.Transforms.NormalizeMinMax(Output, Input).Fit(_cached).Transform(_cached);
        _copyColumns = _ml.Transforms.CopyColumns(Output, Input).Fit(_cached).Transform(_cached);
    }

    /// <summary>The cached column: <see cref="Rows"/> rows of fixed-seed pixel values in 0..255, the cache filled.</summary>
    internal static IDataView MakeData(MLContext ml)
    {
        var random = new Random(Seed);
        var rows = new ImageRow[Rows];
        for (int r = 0; r < Rows; r++)
            rows[r] = new ImageRow { Pixels = KernelBatch.Filled(random, Length, 0, 255) };
        var cached = ml.Data.Cache(ml.Data.LoadFromEnumerable(rows));
        Scan(cached, Input);
        return cached;
    }

    /// <summary>Reads every row's vector of <paramref name="column"/>; returns a value of each row so nothing is skipped.</summary>
    internal static double Scan(IDataView data, string column)
    {
        var col = data.Schema[column];
        using var cursor = data.GetRowCursor([col]);
        var getter = cursor.GetGetter<VBuffer<float>>(col);
        var buffer = default(VBuffer<float>);
        double check = 0;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            var values = buffer.GetValues();
            check += values[0] + values[^1];
        }
        return check;
    }

    /// <summary>Reads <see cref="Output"/> through a row mapper over a plain cursor of the input: the transform without ML.NET's parallel cursor split.</summary>
    internal static double ScanMapped(IDataView input, IRowToRowMapper mapper)
    {
        using var cursor = input.GetRowCursor([input.Schema[Input]]);
        var output = mapper.OutputSchema[Output];
        var row = mapper.GetRow(cursor, [output]);
        var getter = row.GetGetter<VBuffer<float>>(output);
        var buffer = default(VBuffer<float>);
        double check = 0;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            var values = buffer.GetValues();
            check += values[0] + values[^1];
        }
        return check;
    }

    [Benchmark(Baseline = true)]
    public double RawCursor() => Scan(_cached, Input);

    [Benchmark]
    public double NormalizeChannelsImageNet() => Scan(_normalizeChannels, Output);

    [Benchmark]
    public double BatchNormGivenParameters() => Scan(_batchNorm, Output);

    [Benchmark]
    public double MLNetNormalizeMeanVariance() => Scan(_meanVariance, Output);

    [Benchmark]
    public double MLNetNormalizeMinMax() => Scan(_minMax, Output);

    /// <summary>Diagnostic: a cursor over ML.NET's CopyColumns, the cost of any one-to-one transform's cursor with no computation.</summary>
    [Benchmark]
    public double MLNetCopyColumns() => Scan(_copyColumns, Output);

    /// <summary>Diagnostic: NormalizeChannels(ImageNet) through its row mapper over a plain input cursor (no parallel split).</summary>
    [Benchmark]
    public double NormalizeChannelsRowMapper() => ScanMapped(_cached, _normalizeChannelsMapper);

    /// <summary>Diagnostic: ML.NET's NormalizeMeanVariance through its row mapper over a plain input cursor (no parallel split).</summary>
    [Benchmark]
    public double MLNetNormalizeMeanVarianceRowMapper() => ScanMapped(_cached, _meanVarianceMapper);
}
