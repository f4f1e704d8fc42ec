using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace MLNet.Normalization.Tests.Onnx;

/// <summary>
/// Every transform exports with ML.NET's <c>ConvertToOnnx</c>, and ONNX Runtime running the exported graph on the same
/// rows gives ML.NET's outputs within 1e-5 relative: each layout, mode and parameter variant, chains of several
/// transforms, and the error when a pipeline holds a step ML.NET cannot export.
/// </summary>
public class OnnxExportTests
{
    private const int Rows = 5;

    public static TheoryData<string> Transforms() => new(Cases.Keys);

    private static readonly Dictionary<string, (int[] Dimensions, Func<MLContext, IEstimator<ITransformer>> Pipeline)> Cases = new()
    {
        ["ScalePixels [0, 1]"] = ([3, 4, 5], ml => ml.Transforms.ScalePixels("Out", TestData.Column)),
        ["ScalePixels [-1, 1]"] = ([3, 4, 5], ml => ml.Transforms.ScalePixels("Out", TestData.Column, PixelRange.MinusOneToOne, maxPixelValue: 200)),
        ["NormalizeChannels given, planar"] = ([3, 4, 5], ml => ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet)),
        ["NormalizeChannels given, interleaved"] = ([4, 5, 3], ml => ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, layout: ChannelLayout.ChannelsLast)),
        ["NormalizeChannels fitted"] = ([3, 4, 5], ml => ml.Transforms.NormalizeChannels("Out", TestData.Column)),
        ["NormalizeChannels batch-leading (1, C, H, W)"] = ([1, 3, 4, 5], ml => ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet)),
        ["PreprocessImageNet torch"] = ([3, 4, 5], ml => ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Torch)),
        ["PreprocessImageNet tf"] = ([3, 4, 5], ml => ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Tf)),
        ["PreprocessImageNet caffe, planar"] = ([3, 4, 5], ml => ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe)),
        ["PreprocessImageNet caffe, interleaved"] = ([4, 5, 3], ml => ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe, ChannelLayout.ChannelsLast)),
        ["DenormalizeChannels"] = ([3, 4, 5], ml => ml.Transforms.DenormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet)),
        ["DenormalizeImageNet caffe, interleaved"] = ([4, 5, 3], ml => ml.Transforms.DenormalizeImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe, ChannelLayout.ChannelsLast)),
        ["BatchNorm given, planar"] = ([3, 4, 5], ml => ml.Transforms.BatchNorm("Out", TestData.Column, Parameters(3))),
        ["BatchNorm given, channels last"] = ([4, 5, 3], ml => ml.Transforms.BatchNorm("Out", TestData.Column, Parameters(3), ChannelLayout.ChannelsLast)),
        ["BatchNorm given, (C)"] = ([6], ml => ml.Transforms.BatchNorm("Out", TestData.Column, Parameters(6))),
        ["BatchNorm fitted"] = ([3, 4, 5], ml => ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { BatchSize = 2 })),
        ["LayerNorm whole row"] = ([3, 4, 5], ml => ml.Transforms.LayerNorm("Out", TestData.Column)),
        ["LayerNorm last 2 dimensions, affine"] = ([3, 4, 5], ml => ml.Transforms.LayerNorm("Out", TestData.Column, 2, 1e-3f, Values(20, 1), Values(20, 2))),
        ["InstanceNorm planar"] = ([3, 4, 5], ml => ml.Transforms.InstanceNorm("Out", TestData.Column)),
        ["InstanceNorm channels last, affine"] = ([4, 5, 3], ml => ml.Transforms.InstanceNorm("Out", TestData.Column, 1e-5f, Values(3, 3), Values(3, 4), ChannelLayout.ChannelsLast)),
        ["GroupNorm planar, affine"] = ([6, 2, 5], ml => ml.Transforms.GroupNorm("Out", TestData.Column, 3, 1e-5f, Values(6, 5), Values(6, 6))),
        ["GroupNorm channels last"] = ([2, 5, 6], ml => ml.Transforms.GroupNorm("Out", TestData.Column, 2, layout: ChannelLayout.ChannelsLast)),
        ["GroupNorm on (C)"] = ([8], ml => ml.Transforms.GroupNorm("Out", TestData.Column, 4)),
        ["in place: each step writes the column it reads"] = ([3, 4, 5], ml => ml.Transforms.NormalizeChannels(TestData.Column, TestData.Column, ChannelStatistics.ImageNet)
            .Append(ml.Transforms.BatchNorm(TestData.Column, TestData.Column, Parameters(3)))
            .Append(ml.Transforms.LayerNorm(TestData.Column, TestData.Column))
            .Append(ml.Transforms.CopyColumns("Out", TestData.Column))),
        ["chain: ScalePixels, NormalizeChannels, BatchNorm, GroupNorm"] = ([3, 4, 5], ml => ml.Transforms.ScalePixels("Scaled", TestData.Column, maxPixelValue: 1)
            .Append(ml.Transforms.NormalizeChannels("Normalized", "Scaled", ChannelStatistics.ImageNet, maxPixelValue: 1))
            .Append(ml.Transforms.BatchNorm("Batch", "Normalized", Parameters(3)))
            .Append(ml.Transforms.GroupNorm("Out", "Batch", 3))),
    };

    [Theory]
    [MemberData(nameof(Transforms))]
    public void ONNXRuntimeReproducesTheTransform(string name)
    {
        var (dimensions, pipeline) = Cases[name];
        var ml = new MLContext(seed: 1);
        int length = dimensions.Aggregate(1, (a, b) => a * b);
        var rows = Enumerable.Range(0, Rows).Select(r => Values(length, 10 + r, scale: 255)).ToArray();
        var data = TestData.Vectors(ml, rows, dimensions);
        var model = pipeline(ml).Fit(data);
        var expected = TestData.Read(model.Transform(data), "Out");

        var actual = RunExported(ml, model, data, rows, dimensions, "Out");

        for (int r = 0; r < Rows; r++)
            TestData.AssertClose(expected[r].Select(v => (double)v).ToArray(), actual[r], 1e-5, 1e-5, $"{name}, row {r}");
    }

    [Fact]
    public void APipelineWithAStepMLNetCannotExportFailsWithMLNetsError()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, Rows).Select(r => Values(12, r, 255)).ToArray();
        var data = TestData.Vectors(ml, rows, 3, 4);
        // A custom mapping has no ONNX form.
        var model = ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet)
            .Append(ml.Transforms.CustomMapping<VectorInput, VectorOutput>((input, output) => output.Copy = input.Out, contractName: null))
            .Fit(data);
        using var stream = new MemoryStream();
        var error = Assert.ThrowsAny<Exception>(() => ml.Model.ConvertToOnnx(model, data, stream));
        Assert.Contains("can not be fully converted into a well-defined ONNX model", error.Message);
    }

    [Fact]
    public void AModelLoadedFromAFileExportsTheSameGraph()
    {
        var (dimensions, pipeline) = Cases["chain: ScalePixels, NormalizeChannels, BatchNorm, GroupNorm"];
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, Rows).Select(r => Values(60, 30 + r, 255)).ToArray();
        var data = TestData.Vectors(ml, rows, dimensions);
        var model = pipeline(ml).Fit(data);
        using var file = new MemoryStream();
        ml.Model.Save(model, data.Schema, file);
        file.Position = 0;
        var fresh = new MLContext(seed: 2);
        var loaded = fresh.Model.Load(file, out _);

        var fromFitted = RunExported(ml, model, data, rows, dimensions, "Out");
        var fromLoaded = RunExported(fresh, loaded, data, rows, dimensions, "Out");

        for (int r = 0; r < Rows; r++)
            Assert.Equal(fromFitted[r], fromLoaded[r]);
    }

    [Fact]
    public void AnOpsetOlderThan11IsRefusedNamingTheTransform()
    {
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, Rows).Select(r => Values(60, r, 255)).ToArray();
        var data = TestData.Vectors(ml, rows, 3, 4, 5);
        var model = ml.Transforms.GroupNorm("Out", TestData.Column, 3).Fit(data);
        using var stream = new MemoryStream();

        var error = Assert.ThrowsAny<ArgumentException>(() => ml.Model.ConvertToOnnx(model, data, 10, stream));

        Assert.Contains("Requested OpSet version 10 is lower than", error.Message);
        Assert.Contains("minimum OpSet version requirement: 11", error.Message);
        using var supported = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, 11, supported);
        Assert.True(supported.Length > 0);
    }

    private sealed class VectorInput
    {
        [VectorType(12)]
        public float[] Out { get; set; } = [];
    }

    private sealed class VectorOutput
    {
        [VectorType(12)]
        public float[] Copy { get; set; } = [];
    }

    /// <summary>Exports <paramref name="model"/> and runs it in ONNX Runtime on <paramref name="rows"/> as one (N, dimensions) batch.</summary>
    internal static float[][] RunExported(MLContext ml, ITransformer model, IDataView data, float[][] rows, int[] dimensions, string column)
    {
        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);
        using var session = new InferenceSession(stream.ToArray());
        var input = new DenseTensor<float>(rows.SelectMany(r => r).ToArray(), [rows.Length, .. dimensions]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.Single(), input)]);
        var output = results.Single(r => r.Name == column || r.Name.StartsWith(column + ".", StringComparison.Ordinal)).AsTensor<float>().ToArray();
        int length = output.Length / rows.Length;
        return Enumerable.Range(0, rows.Length).Select(r => output.AsSpan(r * length, length).ToArray()).ToArray();
    }

    private static BatchNormParameters Parameters(int channels)
        => new(Values(channels, 1, 1), Values(channels, 2, 1).Select(v => v + 0.5f).ToArray(), Values(channels, 3), Values(channels, 4), epsilon: 1e-5f);

    /// <summary>Deterministic values in [0, scale) from a seed.</summary>
    private static float[] Values(int length, int seed, float scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)random.NextDouble() * scale).ToArray();
    }
}
