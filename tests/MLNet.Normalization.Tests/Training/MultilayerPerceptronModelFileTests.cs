using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// The MLP model: scoring rows of the wrong length, and model files whose parameters are not finite.
/// </summary>
public class MultilayerPerceptronModelFileTests
{
    private static string Messages(Exception? e)
    {
        var messages = new List<string>();
        for (; e is not null; e = e.InnerException)
            messages.Add(e.Message);
        return string.Join(" | ", messages);
    }

    private static MulticlassPredictionTransformer<MultilayerPerceptronModelParameters> Train(MLContext ml, HiddenNormalization normalization, string featureColumn = "Features")
    {
        var data = MlpData.View(ml, MlpData.Blobs(24, 6, 2, seed: 1), 2);
        if (featureColumn != "Features")
            data = ml.Transforms.CopyColumns(featureColumn, "Features").Fit(data).Transform(data);
        return ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            HiddenLayers = [4], Normalization = normalization, GroupNormGroups = 2, BatchSize = 8, Epochs = 1, FeatureColumnName = featureColumn,
        }).Fit(data);
    }

    private static ITransformer SaveAndLoad(MLContext ml, ITransformer model, DataViewSchema schema)
    {
        using var stream = new MemoryStream();
        ml.Model.Save(model, schema, stream);
        stream.Position = 0;
        return new MLContext(seed: 3).Model.Load(stream, out _);
    }

    // *** Scoring a row of the wrong length ***

    [Fact]
    public void ScoringARowOfTheWrongLengthNamesTheFeaturesColumnAndBothLengths()
    {
        var ml = new MLContext(seed: 1);
        var model = Train(ml, HiddenNormalization.BatchNorm, featureColumn: "Pixels");
        var rows = MlpData.Blobs(4, 6, 2, seed: 2);
        rows[2] = (rows[2].Features[..5], rows[2].Class);
        var data = MlpData.View(ml, rows, 2, new VectorDataViewType(NumberDataViewType.Single, 6));
        data = ml.Transforms.CopyColumns("Pixels", "Features").Fit(data).Transform(data);

        foreach (var scorer in new[] { model, SaveAndLoad(ml, model, data.Schema) })
        {
            var message = Messages(Assert.ThrowsAny<Exception>(() => scorer.Transform(data).GetColumn<float[]>("Score").ToArray()));
            Assert.Contains("Schema mismatch for input column 'Pixels': expected Vector<Single, 6> (6 values per row), got a row of 5 values", message);
        }
    }

    [Fact]
    public void AFormat1ModelScoringARowOfTheWrongLengthSaysWhatItExpectedAndGot()
    {
        // Format-1 files do not record the features column; the error still gives both lengths.
        var ml = new MLContext(seed: 1);
        var model = ml.Model.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "format-1", "mlp-none.zip"), out var schema);
        int length = ((VectorDataViewType)schema["Features"].Type).Size;
        var rows = MlpData.Blobs(2, length, 2, seed: 2);
        rows[1] = (rows[1].Features[..(length - 1)], rows[1].Class);
        var data = MlpData.View(ml, rows, 2, (VectorDataViewType)schema["Features"].Type);
        var scorer = ((TransformerChain<ITransformer>)model).OfType<MulticlassPredictionTransformer<MultilayerPerceptronModelParameters>>().Single();

        var message = Messages(Assert.ThrowsAny<Exception>(() => scorer.Transform(data).GetColumn<float[]>("Score").ToArray()));
        Assert.Contains($"The multilayer perceptron expects {length} values per row, got {length - 1}", message);
    }

    // *** Sizes a model file may hold ***

    /// <summary>
    /// Reads a payload of the current format: features, classes, the number of layers, what <paramref name="layers"/>
    /// writes, and an empty features column name.
    /// </summary>
    private static MultilayerPerceptronModelParameters ReadPayload(int features, int classes, int count, Action<BinaryWriter> layers)
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(features);
            writer.Write(classes);
            writer.Write(count);
            layers(writer);
            writer.Write("");
        }
        stream.Position = 0;
        using var reader = new BinaryReader(stream);
        return MultilayerPerceptronModelParameters.ReadPayload(new MLContext(), reader, Interop.ModelFormat.CurrentVersion);
    }

    private static void WriteLinear(BinaryWriter writer, int inputs, int outputs, int weights, int biases)
    {
        writer.Write(1);
        writer.Write(inputs);
        writer.Write(outputs);
        writer.Write(weights);
        for (int i = 0; i < weights; i++)
            writer.Write(0.5f);
        writer.Write(biases);
        for (int i = 0; i < biases; i++)
            writer.Write(0.25f);
    }

    private static void WriteRelus(BinaryWriter writer, int count)
    {
        for (int i = 0; i < count; i++)
        {
            writer.Write(2);
            writer.Write(1);
        }
    }

    [Fact]
    public void AModelFileOfMaxLayersLoadsAndOneMoreIsRefused()
    {
        // Linear 1 → 1, ReLUs, Linear 1 → 2.
        var model = ReadPayload(1, 2, ModelLimits.MaxLayers, w => { WriteLinear(w, 1, 1, 1, 1); WriteRelus(w, ModelLimits.MaxLayers - 2); WriteLinear(w, 1, 2, 2, 2); });
        Assert.Equal(ModelLimits.MaxLayers, model.Layers.Count);

        var error = Assert.Throws<InvalidDataException>(() =>
            ReadPayload(1, 2, ModelLimits.MaxLayers + 1, w => { WriteLinear(w, 1, 1, 1, 1); WriteRelus(w, ModelLimits.MaxLayers - 1); WriteLinear(w, 1, 2, 2, 2); }));
        Assert.Equal($"Read a count of {ModelLimits.MaxLayers + 1}, expected 1 to {ModelLimits.MaxLayers}.", error.Message);
    }

    [Theory]
    [InlineData(65536, 65536)]
    [InlineData(16384, 16385)]
    public void ALinearLayerPastMaxLinearWeightsIsRefusedBeforeItsWeightsAreRead(int inputs, int outputs)
    {
        // 65536 × 65536 is 0 in int arithmetic: a file with no weights used to load as such a layer.
        var error = Assert.Throws<InvalidDataException>(() => ReadPayload(inputs, outputs, 1, w => WriteLinear(w, inputs, outputs, 0, outputs)));
        Assert.Equal($"Layer 0 (Linear): Read a Linear layer of {inputs} inputs and {outputs} outputs: {(long)inputs * outputs} weights, expected at most 268435456 (ModelLimits.MaxLinearWeights).", error.Message);
    }

    // *** Non-finite parameters ***

    public static TheoryData<HiddenNormalization, int, string, int, float> NonFiniteParameters() => new()
    {
        // The network, the layer, its parameter, the index and the value written there.
        { HiddenNormalization.LayerNorm, 0, "weight", 3, float.NaN },
        { HiddenNormalization.LayerNorm, 0, "bias", 1, float.PositiveInfinity },
        { HiddenNormalization.LayerNorm, 1, "gamma", 2, float.NegativeInfinity },
        { HiddenNormalization.GroupNorm, 1, "beta", 0, float.NaN },
        { HiddenNormalization.None, 2, "weight", 5, float.NaN },
        { HiddenNormalization.BatchNorm, 2, "bias", 1, float.NegativeInfinity },
    };

    [Theory]
    [MemberData(nameof(NonFiniteParameters))]
    public void AModelFileWithANonFiniteParameterIsRefusedNamingTheLayerParameterAndIndex(HiddenNormalization normalization, int layer, string parameter, int index, float value)
    {
        var ml = new MLContext(seed: 1);
        var model = Train(ml, normalization);
        var data = MlpData.View(ml, MlpData.Blobs(4, 6, 2, seed: 2), 2);
        // The layers' arrays are the model's own: the file saved next holds the value, framed with a valid checksum.
        model.Model.Layers[layer].Parameters.Single(p => p.Name == parameter).Values[index] = value;
        string kind = model.Model.Layers[layer] switch
        {
            LinearLayer => "Linear",
            LayerNormLayer => "LayerNorm",
            GroupNormLayer => "GroupNorm",
            _ => "?",
        };

        var message = Messages(Assert.ThrowsAny<Exception>(() => SaveAndLoad(ml, model, data.Schema)));
        Assert.Contains("The saved multilayer perceptron is corrupt", message);
        Assert.Contains($"Layer {layer} ({kind}): {parameter}[{index}] must be finite, got {value}", message);
    }

    [Fact]
    public void TheConstructorsUsedByLoadingRefuseNonFiniteParameters()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new LinearLayer(2, 2, [1, float.NaN, 0, 0], [0, 0]));
        Assert.Contains("weight[1] must be finite, got NaN", error.Message);
        error = Assert.ThrowsAny<ArgumentException>(() => new LinearLayer(2, 2, [1, 2, 0, 0], [0, float.PositiveInfinity]));
        Assert.Contains($"bias[1] must be finite, got {float.PositiveInfinity}", error.Message);

        var layerNorm = new LayerNormLayer(3);
        layerNorm.Gamma[2] = float.NegativeInfinity;
        var network = new Sequential([new LinearLayer(2, 3, seed: 1), layerNorm, new ReluLayer(3), new LinearLayer(3, 2, seed: 2)]);
        error = Assert.ThrowsAny<ArgumentException>(() => new MultilayerPerceptronModelParameters(new MLContext(), network, 2, 2));
        Assert.Contains($"Layer 1 (LayerNorm): gamma[2] must be finite, got {float.NegativeInfinity}", error.Message);
    }
}
