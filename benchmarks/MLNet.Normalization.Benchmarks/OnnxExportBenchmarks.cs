using BenchmarkDotNet.Attributes;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// NormalizeChannels (ImageNet) then BatchNorm on the (3, 224, 224) rows of <see cref="CursorBenchmarks"/>: through ML.NET
/// (a cursor over the output column, the baseline) against the same pipeline exported with <c>ConvertToOnnx</c> and run
/// in ONNX Runtime 1.31.1 on the same rows, as one batch and row by row (as a service scores), on this process's
/// threads. The export and the sessions are made in setup; only scoring is timed.
/// </summary>
public class OnnxExportBenchmarks
{
    private MLContext _ml = null!;
    private IDataView _cached = null!;
    private IDataView _transformed = null!;
    private InferenceSession _session = null!;
    private NamedOnnxValue[] _batch = null!;
    private NamedOnnxValue[][] _rows = null!;
    private string _output = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ml = new MLContext(seed: 1);
        _cached = CursorBenchmarks.MakeData(_ml);
        var parameters = new BatchNormParameters([0.1f, -0.2f, 0.05f], [1.2f, 0.9f, 1.1f], [1.1f, 0.9f, 1.0f], [0.1f, -0.2f, 0f]);
        var model = _ml.Transforms.NormalizeChannels("Normalized", CursorBenchmarks.Input, ChannelStatistics.ImageNet)
            .Append(_ml.Transforms.BatchNorm(CursorBenchmarks.Output, "Normalized", parameters))
            .Fit(_cached);
        _transformed = model.Transform(_cached);

        using var stream = new MemoryStream();
        _ml.Model.ConvertToOnnx(model, _cached, stream);
        _session = new InferenceSession(stream.ToArray());
        _output = _session.OutputMetadata.Keys.Single(name => name.StartsWith(CursorBenchmarks.Output + ".", StringComparison.Ordinal));
        var pixels = _cached.GetColumn<float[]>(CursorBenchmarks.Input).ToArray();
        int[] image = [CursorBenchmarks.Channels, CursorBenchmarks.Height, CursorBenchmarks.Width];
        _batch = [NamedOnnxValue.CreateFromTensor(CursorBenchmarks.Input, new DenseTensor<float>(pixels.SelectMany(p => p).ToArray(), Shape(pixels.Length, image)))];
        _rows = pixels.Select(p => new[] { NamedOnnxValue.CreateFromTensor(CursorBenchmarks.Input, new DenseTensor<float>(p, Shape(1, image))) }).ToArray();
    }

    private static int[] Shape(int rows, int[] image) => [rows, .. image];

    [GlobalCleanup]
    public void Cleanup() => _session.Dispose();

    [Benchmark(Baseline = true, Description = "ML.NET cursor")]
    public double MLNetCursor() => CursorBenchmarks.Scan(_transformed, CursorBenchmarks.Output);

    [Benchmark(Description = "ONNX Runtime, one batch")]
    public float OnnxRuntimeBatch()
    {
        using var results = _session.Run(_batch, [_output]);
        return results[0].AsTensor<float>().GetValue(0);
    }

    [Benchmark(Description = "ONNX Runtime, row by row")]
    public float OnnxRuntimeRows()
    {
        float check = 0;
        foreach (var row in _rows)
        {
            using var results = _session.Run(row, [_output]);
            check += results[0].AsTensor<float>().GetValue(0);
        }
        return check;
    }
}
