using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>
/// End to end: an ONNX model's output with a leading batch dimension, (1, C, H, W), straight into BatchNorm, through
/// ML.NET's ApplyOnnxModel (ONNX Runtime). The models and the expected Conv → BatchNorm values come from
/// tools/golden/make_onnx_conv.py (onnx.helper; numpy float64, checked against PyTorch).
/// </summary>
/// <remarks>
/// Tolerance: ONNX Runtime computes the convolution in float32: 18 products and a bias per output, |terms| summing to
/// under 10, so its worst-case rounding is 19 · 2⁻²⁴ · 10 ≈ 1.1e-5 (measured with ONNX Runtime 1.31.1: at most 2.1e-7
/// on the Conv output, 2.7e-7 after BatchNorm). BatchNorm then scales by |γ| / √(var + ε) ≤ 1.4 and rounds to float32
/// (half an ulp at |y| ≤ 3 is 1.2e-7). 2e-5 absolute plus 1e-5 relative covers the worst case; the channels' parameters
/// read in reverse order move outputs by 3e-2, and ε of 1e-5 (the transform's default) instead of the given 1e-3 by
/// 1.7e-4.
/// </remarks>
public class OnnxConvBatchNormTests
{
    private const double Absolute = 2e-5, Relative = 1e-5;

    private static readonly JsonElement File = Golden.Load("tiny_conv.json");

    private sealed class Image
    {
        [ColumnName("input"), VectorType(1, 2, 5, 5)]
        public float[] Input { get; set; } = [];
    }

    private sealed class Prediction
    {
        [ColumnName("Normalized")]
        public float[] Normalized { get; set; } = [];
    }

    private static JsonElement Model(string name) => Golden.Case(File, "models", name);

    private static string ModelPath(string name) => Path.Combine(AppContext.BaseDirectory, "Golden", Model(name).GetProperty("file").GetString()!);

    private static Image[] Images() => File.GetProperty("inputs").EnumerateArray().Select(e => new Image { Input = e.Floats() }).ToArray();

    private static BatchNormParameters Parameters() => BatchNormParameters.FromOnnx(
        File.GetProperty("gamma").Floats(), File.GetProperty("beta").Floats(),
        File.GetProperty("running_mean").Floats(), File.GetProperty("running_var").Floats(),
        File.GetProperty("epsilon").GetSingle());

    private static IEstimator<ITransformer> Pipeline(MLContext ml, string model, ChannelLayout? layout)
    {
        var onnx = ml.Transforms.ApplyOnnxModel("output", "input", ModelPath(model));
        // The default layout is the call users write; an explicit one only where Auto cannot tell.
        return layout is { } explicitLayout
            ? onnx.Append(ml.Transforms.BatchNorm("Normalized", "output", Parameters(), explicitLayout))
            : onnx.Append(ml.Transforms.BatchNorm("Normalized", "output", Parameters()));
    }

    public static TheoryData<string, ChannelLayout?> EndToEndCases() => new()
    {
        // (1, 3, 5, 5): channels first under the batch dimension, read by the default layout.
        { "tiny_conv_same", null },
        // (1, 3, 3, 3): C = H = W, so the layout must be given (see AutoLayoutRefusesAnOutputWhoseSpatialSizesEqualTheChannelCount).
        { "tiny_conv", ChannelLayout.ChannelsFirst },
    };

    [Theory]
    [MemberData(nameof(EndToEndCases))]
    public void ConvThenBatchNormMatchesTheReferenceAndSurvivesSaveAndLoad(string model, ChannelLayout? layout)
    {
        var ml = new MLContext(seed: 1);
        var images = Images();
        var data = ml.Data.LoadFromEnumerable(images);
        var json = Model(model);
        var shape = json.GetProperty("output_shape").Ints();

        var transformer = Pipeline(ml, model, layout).Fit(data);
        var scored = transformer.Transform(data);

        // ApplyOnnxModel keeps the ONNX output's dimensions, batch dimension included, and BatchNorm keeps them too.
        var outputType = Assert.IsType<VectorDataViewType>(scored.Schema["output"].Type);
        Assert.Equal(shape, outputType.Dimensions.ToArray());
        var normalizedType = Assert.IsType<VectorDataViewType>(scored.Schema["Normalized"].Type);
        Assert.Equal(shape, normalizedType.Dimensions.ToArray());
        Assert.Equal(NumberDataViewType.Single, normalizedType.ItemType);

        var conv = TestData.Read(scored, "output");
        var normalized = TestData.Read(scored, "Normalized");
        var expectedConv = json.GetProperty("conv_output").EnumerateArray().ToArray();
        var expected = json.GetProperty("expected").EnumerateArray().ToArray();
        Assert.Equal(images.Length, normalized.Length);
        for (int i = 0; i < images.Length; i++)
        {
            TestData.AssertClose(expectedConv[i].Doubles(), conv[i], Absolute, Relative, $"{model} image {i} conv");
            TestData.AssertClose(expected[i].Doubles(), normalized[i], Absolute, Relative, $"{model} image {i} Conv → BatchNorm");
        }

        string path = Path.Combine(Path.GetTempPath(), $"onnx-conv-bn-{Guid.NewGuid():N}.zip");
        try
        {
            ml.Model.Save(transformer, data.Schema, path);
            var fresh = new MLContext(seed: 2);
            var loaded = fresh.Model.Load(path, out var inputSchema);
            Assert.Equal(data.Schema["input"].Type, inputSchema["input"].Type);

            var reloaded = loaded.Transform(fresh.Data.LoadFromEnumerable(Images()));
            Assert.Equal(shape, Assert.IsType<VectorDataViewType>(reloaded.Schema["Normalized"].Type).Dimensions.ToArray());
            Assert.Equal(normalized, TestData.Read(reloaded, "Normalized"));

            using var engine = fresh.Model.CreatePredictionEngine<Image, Prediction>(loaded);
            for (int i = 0; i < images.Length; i++)
                Assert.Equal(normalized[i], engine.Predict(images[i]).Normalized);
        }
        finally
        {
            System.IO.File.Delete(path);
        }
    }

    [Fact]
    public void AutoLayoutRefusesAnOutputWhoseSpatialSizesEqualTheChannelCount()
    {
        // (1, 3, 3, 3) could be (1, C, H, W) or (1, H, W, C): Auto asks for the layout rather than guess.
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Images());

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Pipeline(ml, "tiny_conv", layout: null).Fit(data));

        Assert.Contains("got Vector<Single, 1, 3, 3, 3> (both the first and the last dimension of shape (3, 3, 3) equal the 3 channels; pass layout ChannelsFirst or ChannelsLast)", error.Message);
    }
}
