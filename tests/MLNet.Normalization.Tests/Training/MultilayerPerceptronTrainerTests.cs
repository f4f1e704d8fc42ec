using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>The ML.NET trainer: fit in a pipeline, evaluate, save, load in a fresh process, PredictionEngine, bad input.</summary>
public class MultilayerPerceptronTrainerTests
{
    private sealed class Row
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    private static readonly string[] Names = ["shirt", "shoe", "bag"];

    /// <summary>Three Gaussian blobs in 6 dimensions, labelled by name.</summary>
    private static Row[] Blobs(int rows, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows).Select(n =>
        {
            int label = n % 3;
            var x = Enumerable.Range(0, 6).Select(f => (float)((f % 3 == label ? 2.0 : 0.0) + 4 + random.NextDouble() - 0.5)).ToArray();
            return new Row { Features = x, Label = Names[label] };
        }).ToArray();
    }

    private static MultilayerPerceptronTrainer.Options Options(List<EpochReport>? reports = null) => new()
    {
        HiddenLayers = [16],
        BatchSize = 16,
        Epochs = 3,
        Normalization = HiddenNormalization.BatchNorm,
        EpochCompleted = reports is null ? null : reports.Add,
    };

    private static IEstimator<ITransformer> Pipeline(MLContext ml, MultilayerPerceptronTrainer.Options options)
        => ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(options))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));

    [Fact]
    public void TrainsInAPipelineAndEvaluatesLikeAnyMulticlassTrainer()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<EpochReport>();
        var train = ml.Data.LoadFromEnumerable(Blobs(300, 1));
        var test = ml.Data.LoadFromEnumerable(Blobs(150, 2));

        var model = Pipeline(ml, Options(reports)).Fit(train);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(test));

        Assert.True(metrics.MacroAccuracy > 0.9, $"accuracy {metrics.MacroAccuracy}");
        Assert.Equal([1, 2, 3], reports.Select(r => r.Epoch));
    }

    [Fact]
    public void ScoresAreClassProbabilitiesAndEvaluateLogLossAgreesWithThem()
    {
        var ml = new MLContext(seed: 1);
        var model = Pipeline(ml, Options()).Fit(ml.Data.LoadFromEnumerable(Blobs(300, 1)));
        var test = model.Transform(ml.Data.LoadFromEnumerable(Blobs(90, 3)));
        var scores = test.GetColumn<float[]>("Score").ToArray();
        var labels = test.GetColumn<uint>("Label").ToArray();

        foreach (var score in scores)
        {
            Assert.All(score, p => Assert.InRange(p, 0f, 1f));
            Assert.Equal(1.0, score.Sum(p => (double)p), 1e-5);
        }
        // ML.NET's log-loss reads Score as probabilities: −mean ln p[label] (key values are 1-based).
        double expectedLogLoss = labels.Select((label, i) => -Math.Log(Math.Max(scores[i][label - 1], 1e-15))).Average();
        Assert.Equal(expectedLogLoss, ml.MulticlassClassification.Evaluate(test).LogLoss, 1e-4);
    }

    [Fact]
    public void SavedModelPredictsTheSameAfterLoadingAndInAPredictionEngine()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Blobs(300, 3));
        var model = Pipeline(ml, Options()).Fit(train);
        var rows = Blobs(20, 4);
        var expected = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").ToArray();

        using var stream = new MemoryStream();
        ml.Model.Save(model, train.Schema, stream);
        stream.Position = 0;
        var fresh = new MLContext(seed: 5);
        var loaded = fresh.Model.Load(stream, out _);
        var engine = fresh.Model.CreatePredictionEngine<Row, Prediction>(loaded);

        for (int i = 0; i < rows.Length; i++)
        {
            var prediction = engine.Predict(rows[i]);
            Assert.Equal(expected[i], prediction.Score);
            Assert.Equal(Names[Array.IndexOf(expected[i], expected[i].Max())], prediction.PredictedLabel);
        }
        Assert.Equal(rows.Count(r => r.Label == engine.Predict(r).PredictedLabel), rows.Length);
    }

    [Theory]
    [InlineData(HiddenNormalization.LayerNorm)]
    [InlineData(HiddenNormalization.GroupNorm)]
    [InlineData(HiddenNormalization.BatchNorm)]
    public async Task PredictionEnginesOnSeveralThreadsAtOnceScoreAsOneEngineDoes(HiddenNormalization normalization)
    {
        var ml = new MLContext(seed: 1);
        var options = Options();
        options.Normalization = normalization;
        options.HiddenLayers = [64, 64];
        var model = Pipeline(ml, options).Fit(ml.Data.LoadFromEnumerable(Blobs(300, 2)));
        var rows = Blobs(600, 3);
        var expected = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").ToArray();

        var scores = await ModelLoadProbe.ScoresOnThreads<Row, Prediction>(ml, model, rows, p => p.Score);
        for (int i = 0; i < rows.Length; i++)
            Assert.Equal(expected[i], scores[i]);
    }

    [Fact]
    public void ModelLoadsInAFreshProcess()
    {
        var ml = new MLContext(seed: 1);
        var train = ml.Data.LoadFromEnumerable(Blobs(300, 6));
        var model = Pipeline(ml, Options()).Fit(train);
        var data = ml.Data.LoadFromEnumerable(Blobs(12, 7));
        var expected = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(expected, ModelLoadProbe.Scores(ml, model, train.Schema, data));
    }

    private sealed class FloatLabelRow
    {
        [VectorType(6)]
        public float[] Features { get; set; } = [];
        public float Label { get; set; }
    }

    [Fact]
    public void LabelMustBeAKey()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(Blobs(30, 8).Select((r, i) => new FloatLabelRow { Features = r.Features, Label = i % 3 }));
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(Options()).Fit(data));
        Assert.Contains("Schema mismatch for label column 'Label'", error.Message);
    }

    [Fact]
    public void MissingLabelOrFeatureColumn()
    {
        var ml = new MLContext(seed: 1);
        var data = ml.Transforms.Conversion.MapValueToKey("Label").Fit(ml.Data.LoadFromEnumerable(Blobs(30, 9))).Transform(ml.Data.LoadFromEnumerable(Blobs(30, 9)));
        var options = Options();
        options.FeatureColumnName = "Pixels";
        Assert.Contains("'Pixels'", Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(options).Fit(data)).Message);
        var labels = Options();
        labels.LabelColumnName = "Class";
        Assert.Contains("'Class'", Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.MultilayerPerceptron(labels).Fit(data)).Message);
    }

    [Fact]
    public void NonFiniteFeatureNamesTheRow()
    {
        var ml = new MLContext(seed: 1);
        var rows = Blobs(30, 10);
        rows[17].Features[4] = float.PositiveInfinity;
        var error = Assert.Throws<InvalidOperationException>(() => Pipeline(ml, Options()).Fit(ml.Data.LoadFromEnumerable(rows)));
        Assert.Contains("Column 'Features': training row 17 has the non-finite feature", error.Message);
    }
}
