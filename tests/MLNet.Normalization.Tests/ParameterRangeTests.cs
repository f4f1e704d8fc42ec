using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>
/// Parameters a model can hold: what saves also loads (one set of limits, tested at the limit), and parameters whose
/// float coefficients would overflow are refused, naming them, instead of turning outputs into NaN.
/// </summary>
public class ParameterRangeTests
{
    private readonly MLContext _ml = new(seed: 1);
    private const int Max = ModelLimits.MaxParameterLength;

    private static float[] Filled(int length, float value) => Enumerable.Repeat(value, length).ToArray();

    private ITransformer SaveAndLoad(ITransformer model, IDataView data)
    {
        using var stream = new MemoryStream();
        _ml.Model.Save(model, data.Schema, stream);
        stream.Position = 0;
        return new MLContext(seed: 2).Model.Load(stream, out _);
    }

    [Fact]
    public void BatchNormAtTheChannelLimitSavesAndLoads()
    {
        var parameters = new BatchNormParameters(Filled(Max, 1f), Filled(Max, 4f));
        var row = Enumerable.Range(0, Max).Select(i => (float)(i % 7)).ToArray();
        var data = TestData.Vectors(_ml, [row], Max);
        var loaded = SaveAndLoad(_ml.Transforms.BatchNorm("Out", TestData.Column, parameters).Fit(data), data);
        var output = TestData.Read(loaded.Transform(data), "Out")[0];
        Assert.Equal((row[5] - 1) / MathF.Sqrt(4 + 1e-5f), output[5], 1e-6f);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormParameters(Filled(Max + 1, 0f), Filled(Max + 1, 1f)));
        Assert.Contains($"runningMean has {Max + 1} values; a model holds at most {Max}", error.Message);
    }

    [Fact]
    public void ChannelStatisticsAndPerSampleAffinesStopAtTheirLimits()
    {
        Assert.Equal(Max, new ChannelStatistics(Filled(Max, 0.5f), Filled(Max, 0.2f)).Channels);
        Assert.Contains("mean has", Assert.Throws<ArgumentOutOfRangeException>(() => new ChannelStatistics(Filled(Max + 1, 0.5f), Filled(Max + 1, 0.2f))).Message);
        const int affine = ModelLimits.MaxAffineLength;
        Assert.Contains($"gamma has {affine + 1} values", Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.LayerNorm("Out", TestData.Column, gamma: Filled(affine + 1, 1f), beta: Filled(affine + 1, 0f))).Message);
        Assert.Contains($"beta has {affine + 1} values", Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.GroupNorm("Out", TestData.Column, groups: 1, beta: Filled(affine + 1, 0f))).Message);
    }

    [Fact]
    public void LayerNormWithGammaAtTheLimitSavesAndLoads()
    {
        // Format 1 read γ of up to 2^24 values: the limit stays there, so its files keep loading.
        const int affine = ModelLimits.MaxAffineLength;
        var row = Enumerable.Range(0, affine).Select(i => (float)(i % 5)).ToArray();
        var data = TestData.Vectors(_ml, [row], affine);
        var model = _ml.Transforms.LayerNorm("Out", TestData.Column, gamma: Filled(affine, 2f), beta: Filled(affine, 1f)).Fit(data);
        var expected = TestData.Read(model.Transform(data), "Out")[0];
        Assert.Equal(expected, TestData.Read(SaveAndLoad(model, data).Transform(data), "Out")[0]);
    }

    [Fact]
    public void ANetworkOfMoreLearnedValuesThanASavedModelHoldsIsRefusedBeforeTraining()
    {
        // Two 16384 × 16384 Linear layers are each within MaxLinearWeights, together past MaxNetworkParameters.
        var rows = Enumerable.Range(0, 4).Select(n => new WideRow { Features = new float[16384], Label = n % 2 == 0 ? "a" : "b" }).ToArray();
        var data = _ml.Data.LoadFromEnumerable(rows);
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label").Append(_ml.MulticlassClassification.Trainers.MultilayerPerceptron(
            new MultilayerPerceptronTrainer.Options { HiddenLayers = [16384, 16384], Normalization = MLNet.Normalization.Training.HiddenNormalization.None, BatchSize = 2, Epochs = 1 }));
        var error = Assert.ThrowsAny<ArgumentOutOfRangeException>(() => pipeline.Fit(data));
        Assert.Equal("HiddenLayers", error.ParamName);
        Assert.Contains("ModelLimits.MaxNetworkParameters", error.Message);
    }

    private sealed class WideRow
    {
        [VectorType(16384)]
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    [Fact]
    public void FittingMoreChannelsThanAModelHoldsNamesTheColumn()
    {
        var row = new float[Max + 1];
        row[0] = 1;
        var data = TestData.Vectors(_ml, [row, row], Max + 1);
        var error = Assert.Throws<InvalidOperationException>(() =>
            _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(data));
        Assert.Contains($"input column 'Pixels' has {Max + 1} channels, more than the {Max} a model holds", error.Message);
    }

    [Theory]
    [InlineData(1e-40f, PixelRange.ZeroToOne)]
    [InlineData(1e-40f, PixelRange.MinusOneToOne)]
    [InlineData(2e-39f, PixelRange.ZeroToOne)]
    public void APixelScaleBeyondFloatIsRefusedNamingMaxPixelValue(float maxPixelValue, PixelRange range)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ScalePixels("Out", TestData.Column, range, maxPixelValue));
        Assert.Equal("maxPixelValue", error.ParamName);
        Assert.Contains("beyond float's range", error.Message);
        // Just inside float's range, the scale is kept: 1 / 3e-39 = 3.3e38.
        _ml.Transforms.ScalePixels("Out", TestData.Column, PixelRange.ZeroToOne, 3e-39f);
    }

    [Fact]
    public void TinyStatisticsAreRefusedNamingStd()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.NormalizeChannels("Out", TestData.Column, new ChannelStatistics([0.5f, 0.5f, 0.5f], [0.2f, 1e-40f, 0.2f]), maxPixelValue: 1));
        Assert.Equal("std", error.ParamName);
        Assert.Contains("std[1]", error.Message);
        Assert.Contains("beyond float's range", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.DenormalizeChannels("Out", TestData.Column, new ChannelStatistics([1e30f], [1e-30f]), maxPixelValue: 1));
    }

    [Fact]
    public void AScaleThatRoundsToZeroInFloatIsRefused()
    {
        // 1 / (1e30 · 1e30) = 1e-60: float holds no such value, so every output would be 0 where the formula gives x · 1e-60.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.NormalizeChannels("Out", TestData.Column, new ChannelStatistics([0f], [1e30f]), maxPixelValue: 1e30f));
        Assert.Equal("std", error.ParamName);
        Assert.Contains("rounds to 0 in float", error.Message);
    }

    [Fact]
    public void ParametersAreNamedForWhatMadeTheCoefficientOverflow()
    {
        Assert.Equal("maxPixelValue", Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, maxPixelValue: 1e-40f)).ParamName);
        // Undoing std 10 at maxPixelValue 3e38 needs a scale of 3e39.
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.DenormalizeChannels("Out", TestData.Column, new ChannelStatistics([0f], [10f]), maxPixelValue: 3e38f));
        Assert.Equal("maxPixelValue", error.ParamName);
        Assert.Contains("maxPixelValue · std[0]", error.Message);
    }

    [Fact]
    public void AZeroGammaGivesBetaAsInPyTorch()
    {
        var parameters = new BatchNormParameters([1f, 2f], [4f, 9f], [0f, 2f], [0.5f, -1f]);
        var data = TestData.Vectors(_ml, [[3f, 5f], [-7f, 11f]], 2);
        var output = TestData.Read(_ml.Transforms.BatchNorm("Out", TestData.Column, parameters).Fit(data).Transform(data), "Out");
        foreach (var (x, y) in TestData.Read(data, TestData.Column).Zip(output))
        {
            Assert.Equal(0.5f, y[0]);
            Assert.Equal(2 * (x[1] - 2) / Math.Sqrt(9 + 1e-5) - 1, y[1], 1e-5);
        }
    }

    [Fact]
    public void AHugeGammaOverZeroVarianceIsRefusedNamingGamma()
    {
        // γ / √(0 + 1e-5) = 3.2e40: beyond float.
        var parameters = new BatchNormParameters([0f, 0f], [1f, 0f], [1f, 1e38f]);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, parameters));
        Assert.Equal("gamma", error.ParamName);
        Assert.Contains("gamma[1]", error.Message);
        Assert.Contains("runningVariance[1]", error.Message);
    }

    [Fact]
    public void FittedStatisticsBeyondFloatNameMaxPixelValueAndTheColumn()
    {
        var data = TestData.Vectors(_ml, [[1f, 200f, 3f], [100f, 2f, 30f]], 3);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.NormalizeChannels("Out", TestData.Column, maxPixelValue: 1e-40f, layout: ChannelLayout.ChannelsFirst).Fit(data));
        Assert.Equal("maxPixelValue", error.ParamName);
        Assert.Contains("input column 'Pixels'", error.Message);
    }

    [Fact]
    public void AVarianceThatOverflowsFloatNamesTheColumn()
    {
        // Finite values 3e38 apart: their variance (2.25e76) is far beyond float.
        var data = TestData.Vectors(_ml, [[3e38f, 1f], [-3e38f, 2f], [0f, 3f]], 2);
        var error = Assert.Throws<InvalidOperationException>(() =>
            _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(data));
        Assert.Contains("input column 'Pixels'", error.Message);
        Assert.Contains("channel 0's variance overflows float", error.Message);
    }

    [Fact]
    public void ABatchOfOneOnAnUnshapedColumnNamesTheColumn()
    {
        var data = TestData.Vectors(_ml, [[1f, 2f], [3f, 4f]], 2);
        var error = Assert.Throws<InvalidOperationException>(() =>
            _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { BatchSize = 1 }).Fit(data));
        Assert.Contains("input column 'Pixels'", error.Message);
        Assert.Contains("Expected more than 1 value per channel", error.Message);
    }

    [Fact]
    public void ARowOfTheWrongLengthNamesTheColumnAndTheRow()
    {
        var model = _ml.Transforms.ScalePixels("Out", TestData.Column).Fit(TestData.Vectors(_ml, [new float[4]], 4));
        // A row that does not match the declared size: through a PredictionEngine, as a service would feed it.
        var engine = _ml.Model.CreatePredictionEngine<PixelRow, ScaledRow>(model, inputSchemaDefinition: FourPixels());
        var error = Assert.ThrowsAny<Exception>(() => engine.Predict(new PixelRow { Pixels = [1f, 2f, 3f] }));
        Assert.Contains("Schema mismatch for input column 'Pixels'", error.Message);
        Assert.Contains("4 values per row", error.Message);
        Assert.Contains("got a row of 3 values", error.Message);
    }

    [Fact]
    public void ARowOfTheWrongLengthWhileFittingNamesTheColumnAndTheRow()
    {
        var data = TestData.Vectors(_ml, [new float[15], new float[14], new float[15]], 3, 5);
        foreach (var estimator in new IEstimator<ITransformer>[]
        {
            _ml.Transforms.NormalizeChannels("Out", TestData.Column),
            _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { Layout = ChannelLayout.ChannelsFirst }),
        })
        {
            var error = Assert.ThrowsAny<Exception>(() => estimator.Fit(data));
            Assert.Contains("Schema mismatch for input column 'Pixels'", error.Message);
            Assert.Contains("(15 values per row)", error.Message);
            Assert.Contains("got a row of 14 values at row 1", error.Message);
        }
    }

    [Fact]
    public void OptionsChangedAfterTheEstimatorIsMadeDoNotReachItsFit()
    {
        var rows = Enumerable.Range(0, 64).Select(i => new float[] { i % 4, i % 3 }).ToArray();
        var data = TestData.Vectors(_ml, rows, 2);
        var options = new BatchNormOptions { FitMode = BatchNormFitMode.Exact };
        var estimator = _ml.Transforms.BatchNorm("Out", TestData.Column, options);
        options.FitMode = (BatchNormFitMode)99;
        options.Momentum = 2;
        var fitted = estimator.Fit(data).Parameters;
        // Exact mean and unbiased variance of 0..3 and 0..2 repeated over 64 rows, in double.
        for (int c = 0; c < 2; c++)
        {
            var values = rows.Select(r => (double)r[c]).ToArray();
            double mean = values.Average();
            Assert.Equal(mean, fitted.RunningMean[c], 1e-6);
            Assert.Equal(values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1), fitted.RunningVariance[c], 1e-5);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void EmptyColumnNamesGetTheLibrarysMessage(string? name)
    {
        foreach (var call in new Action[]
        {
            () => _ml.Transforms.ScalePixels(name!, TestData.Column),
            () => _ml.Transforms.NormalizeChannels(name!, TestData.Column),
            () => _ml.Transforms.BatchNorm(name!, TestData.Column),
            () => _ml.Transforms.LayerNorm(name!, TestData.Column),
            () => _ml.Transforms.GroupNorm(name!, TestData.Column, groups: 1),
        })
        {
            var error = Assert.ThrowsAny<ArgumentException>(call);
            Assert.Equal("outputColumnName", error.ParamName);
            Assert.StartsWith("outputColumnName must name a column", error.Message);
        }
        Assert.StartsWith("inputColumnName must name a column", Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.ScalePixels("Out", "")).Message);
        var trainer = Assert.ThrowsAny<ArgumentException>(() =>
            _ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options { LabelColumnName = name! }));
        Assert.Equal("LabelColumnName", trainer.ParamName);
        Assert.StartsWith("LabelColumnName must name a column", trainer.Message);
    }

    private static SchemaDefinition FourPixels()
    {
        var definition = SchemaDefinition.Create(typeof(PixelRow));
        definition[0].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 4);
        return definition;
    }

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }

    private sealed class ScaledRow
    {
        public float[] Out { get; set; } = [];
    }
}
