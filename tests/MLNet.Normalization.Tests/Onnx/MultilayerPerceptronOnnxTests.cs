using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization.Tests.Training;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Onnx;

/// <summary>
/// A trained multilayer perceptron exports with <c>ConvertToOnnx</c> as one graph (batch statistics folded into Gemm,
/// layer and group norm decomposed) whose Score and PredictedLabel ONNX Runtime reproduces, for every normalization,
/// and a whole pipeline of a transform and the trainer exports as one graph.
/// </summary>
public class MultilayerPerceptronOnnxTests
{
    private const int Features = 12, Classes = 3;

    // Instance norm is for convolutions only: the perceptron refuses it.
    public static TheoryData<HiddenNormalization> Normalizations() => new(Enum.GetValues<HiddenNormalization>().Where(n => n != HiddenNormalization.InstanceNorm));

    [Theory]
    [MemberData(nameof(Normalizations))]
    public void ONNXRuntimeReproducesTheScoresAndLabels(HiddenNormalization normalization)
    {
        var ml = new MLContext(seed: 1);
        var rows = MlpData.Blobs(60, Features, Classes, seed: 3);
        var data = MlpData.View(ml, rows, Classes);
        var trainer = ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            HiddenLayers = [8, 6],
            Normalization = normalization,
            GroupNormGroups = 2,
            BatchSize = 10,
            Epochs = 3,
            Seed = 5,
        });
        var model = trainer.Fit(data);

        AssertExportReproduces(ml, model, data, rows.Select(r => r.Features).ToArray(), [Features], "Features");
    }

    [Fact]
    public void ATransformAndTheTrainerExportAsOneGraph()
    {
        var ml = new MLContext(seed: 1);
        var rows = MlpData.Blobs(60, Features, Classes, seed: 4).Select(r => (r.Features.Select(v => v * 100 + 128).ToArray(), r.Class)).ToArray();
        var data = MlpData.View(ml, rows, Classes, new VectorDataViewType(NumberDataViewType.Single, 3, 2, 2));
        var model = ml.Transforms.NormalizeChannels("Normalized", "Features", ChannelStatistics.ImageNet)
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                FeatureColumnName = "Normalized",
                HiddenLayers = [8],
                BatchSize = 10,
                Epochs = 2,
            }))
            .Fit(data);

        AssertExportReproduces(ml, model, data, rows.Select(r => r.Item1).ToArray(), [3, 2, 2], "Features");
    }

    /// <summary>Exports the model and checks ONNX Runtime's Score and PredictedLabel against ML.NET's on the data.</summary>
    internal static void AssertExportReproduces(MLContext ml, ITransformer model, IDataView data, float[][] features, int[] dimensions, string featuresColumn, int classes = Classes)
    {
        var scored = model.Transform(data);
        var expectedScores = scored.GetColumn<float[]>("Score").ToArray();
        var expectedLabels = scored.GetColumn<uint>("PredictedLabel").ToArray();

        using var stream = new MemoryStream();
        ml.Model.ConvertToOnnx(model, data, stream);
        using var session = new InferenceSession(stream.ToArray());
        int n = features.Length;
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor(featuresColumn, new DenseTensor<float>(features.SelectMany(f => f).ToArray(), [n, .. dimensions])),
        };
        // The label is an input of the graph, though nothing in it reads the label.
        if (session.InputMetadata.ContainsKey("Label"))
            inputs.Add(NamedOnnxValue.CreateFromTensor("Label", new DenseTensor<uint>(new uint[n], [n, 1])));
        using var results = session.Run(inputs);
        var scores = Output(results, "Score").AsTensor<float>().ToArray();
        var labels = Output(results, "PredictedLabel").AsTensor<uint>().ToArray();

        Assert.Equal(n, labels.Length);
        for (int r = 0; r < n; r++)
        {
            TestData.AssertClose(expectedScores[r].Select(v => (double)v).ToArray(), scores.AsSpan(r * classes, classes), 1e-5, 1e-5, $"row {r}");
            Assert.Equal(expectedLabels[r], labels[r]);
        }
    }

    private static DisposableNamedOnnxValue Output(IEnumerable<DisposableNamedOnnxValue> results, string column)
        => results.Single(r => r.Name == column || r.Name.StartsWith(column + ".", StringComparison.Ordinal));
}
