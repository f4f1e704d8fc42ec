using System.Text.Json;
using Microsoft.ML;
using MLNet.Normalization.Onnx;

namespace MLNet.Normalization.Tests.Onnx;

/// <summary>
/// Normalization parameters read from ONNX files written by PyTorch 1.13 (a torchvision ResNet-18 exported with its
/// BatchNormalization nodes kept; InstanceNorm2d and LayerNorm at opset 17) and by onnx.helper (GroupNormalization,
/// every storage of float16, bfloat16, float and double), against the values the files were made from
/// (tools/golden/make_onnx_import.py); and the errors for files that are not ONNX, nodes that are not there,
/// parameters that are not initializers and data types that are not floating point.
/// </summary>
public class OnnxImportTests
{
    private static readonly string Folder = Path.Combine(AppContext.BaseDirectory, "Golden", "onnx_import");
    private static readonly JsonElement Expected = Golden.Load(Path.Combine("onnx_import", "onnx_import.json")).GetProperty("files");

    public static TheoryData<string> Files() => new(Expected.EnumerateObject().Select(f => f.Name));

    [Theory]
    [MemberData(nameof(Files))]
    public void EveryNormalizationNodeIsReadWithItsParameters(string file)
    {
        var expected = Expected.GetProperty(file);
        var nodes = OnnxNormalizationReader.ReadNodes(Path.Combine(Folder, file));

        var cases = expected.GetProperty("nodes").EnumerateArray().ToList();
        Assert.Equal(cases.Select(c => c.GetProperty("node").GetString()).Order(), nodes.Select(n => n.Name).Order());
        foreach (var c in cases)
        {
            var node = nodes.Single(n => n.Name == c.GetProperty("node").GetString());
            Assert.Equal(c.GetProperty("operator").GetString(), node.Operator.ToString());
            Assert.Equal(expected.GetProperty("opset").GetInt32(), node.Opset);
            Assert.Equal(c.GetProperty("epsilon").GetSingle(), node.Epsilon);
            Assert.Equal(Floats(c, "scale"), node.Scale);
            Assert.Equal(Floats(c, "bias"), node.Bias);
            Assert.Equal(c.TryGetProperty("mean", out _) ? Floats(c, "mean") : null, node.Mean);
            Assert.Equal(c.TryGetProperty("variance", out _) ? Floats(c, "variance") : null, node.Variance);
            Assert.Equal(c.TryGetProperty("groups", out var groups) ? groups.GetInt32() : null, node.Groups);
            Assert.Equal(c.TryGetProperty("axis", out var axis) ? axis.GetInt32() : node.Operator == OnnxNormalizationOperator.LayerNormalization ? -1 : null, node.Axis);
        }
    }

    [Fact]
    public void AResNetBatchNormGoesToTheBatchNormTransformInOneCall()
    {
        var c = Expected.GetProperty("resnet18_bn.onnx").GetProperty("nodes").EnumerateArray().First(n => n.GetProperty("module").GetString() == "layer1.0.bn1");
        var parameters = OnnxNormalizationReader.ReadBatchNorm(Path.Combine(Folder, "resnet18_bn.onnx"), c.GetProperty("node").GetString()!);

        Assert.Equal(Floats(c, "mean"), parameters.RunningMean);
        Assert.Equal(Floats(c, "variance"), parameters.RunningVariance);
        Assert.Equal(Floats(c, "scale"), parameters.Gamma);
        Assert.Equal(Floats(c, "bias"), parameters.Beta);
        Assert.Equal(c.GetProperty("epsilon").GetSingle(), parameters.Epsilon);

        // The transform applies them: y = γ (x − μ) / √(σ² + ε) + β, evaluated here in double.
        var ml = new MLContext(seed: 1);
        int channels = parameters.Channels;
        var row = Enumerable.Range(0, channels * 4).Select(i => (float)Math.Sin(i)).ToArray();
        var output = TestData.Read(ml.Transforms.BatchNorm("Out", TestData.Column, parameters).Fit(TestData.Vectors(ml, [row], channels, 2, 2))
            .Transform(TestData.Vectors(ml, [row], channels, 2, 2)), "Out")[0];
        var expected = row.Select((x, i) =>
        {
            int ch = i / 4;
            return (double)parameters.Gamma[ch] * (x - parameters.RunningMean[ch]) / Math.Sqrt(parameters.RunningVariance[ch] + (double)parameters.Epsilon) + parameters.Beta[ch];
        }).ToArray();
        TestData.AssertClose(expected, output, 1e-6, 1e-5, "BatchNorm with the imported parameters");
    }

    [Fact]
    public void AFileWithEveryBatchNormFoldedSaysHowToKeepThem()
    {
        string path = Path.Combine(Folder, "resnet18_folded.onnx");
        Assert.Empty(OnnxNormalizationReader.ReadNodes(path));
        var error = Assert.Throws<KeyNotFoundException>(() => OnnxNormalizationReader.ReadBatchNorm(path, "/bn1/BatchNormalization"));
        Assert.Contains("has no normalization node", error.Message);
        Assert.Contains("training=TrainingMode.PRESERVE and do_constant_folding=False", error.Message);
    }

    [Fact]
    public void ANodeThatIsNotThereIsAnErrorListingTheNodes()
    {
        var error = Assert.Throws<KeyNotFoundException>(() => OnnxNormalizationReader.ReadNode(Path.Combine(Folder, "instance_layer.onnx"), "bn9"));
        Assert.Contains("has no normalization node named 'bn9'", error.Message);
        Assert.Contains("InstanceNormalization", error.Message);
    }

    [Fact]
    public void ANodeOfAnotherOperatorIsNotBatchNorm()
    {
        var error = Assert.Throws<InvalidOperationException>(() => OnnxNormalizationReader.ReadBatchNorm(Path.Combine(Folder, "group_norm.onnx"), "gn"));
        Assert.Contains("Node 'gn' is a GroupNormalization node, not BatchNormalization", error.Message);
    }

    [Fact]
    public void AFileThatIsNotONNXIsAnError()
    {
        var error = Assert.Throws<InvalidDataException>(() => OnnxNormalizationReader.ReadNodes(Path.Combine(Folder, "not_onnx.onnx")));
        Assert.Contains("is not an ONNX model", error.Message);
        Assert.Throws<InvalidDataException>(() => OnnxNormalizationReader.ReadNodes(new MemoryStream([])));
    }

    [Fact]
    public void AParameterThatIsNotAnInitializerIsAnError()
    {
        var error = Assert.Throws<InvalidDataException>(() => OnnxNormalizationReader.ReadNodes(Path.Combine(Folder, "bad_input.onnx")));
        Assert.Contains("the scale of node 'bn' (BatchNormalization) is 's', which is not an initializer of the graph", error.Message);
    }

    [Fact]
    public void AParameterOfAnIntegerTypeIsAnError()
    {
        var error = Assert.Throws<NotSupportedException>(() => OnnxNormalizationReader.ReadNodes(Path.Combine(Folder, "bad_type.onnx")));
        Assert.Contains("the scale of node 'bn' ('s') is of ONNX data type Int32", error.Message);
    }

    private static float[] Floats(JsonElement c, string name) => c.GetProperty(name).EnumerateArray().Select(v => v.GetSingle()).ToArray();
}
