using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Tests.Onnx;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// The ML.NET convolutional network trainer: the image shape from the column or the options, fit, save, load in a
/// fresh process, prediction engines on several threads, ONNX export, and bad input named.
/// </summary>
public class ConvolutionalNetworkTrainerTests
{
    private static readonly ImageShape Shape = new(1, 8, 8);

    private sealed class ImageRow
    {
        [VectorType(1, 8, 8)]
        public float[] Features { get; set; } = [];
        public uint Label { get; set; }
    }

    private sealed class Prediction
    {
        public uint PredictedLabel { get; set; }
        public float[] Score { get; set; } = [];
    }

    private static ConvolutionalNetworkTrainer.Options Options(HiddenNormalization normalization = HiddenNormalization.BatchNorm) => new()
    {
        Blocks = [new ConvolutionBlock(4), new MaxPoolBlock(), new ConvolutionBlock(8), new MaxPoolBlock(), new DenseBlock(16)],
        Normalization = normalization,
        GroupNormGroups = 2,
        BatchSize = 16,
        Epochs = 3,
        LearningRate = 0.05,
    };

    /// <summary>Images with (1, 8, 8) dimensions, as ExtractPixels declares them, and a key label of 3 classes.</summary>
    private static IDataView Images(MLContext ml, int rows, int seed)
        => MlpData.View(ml, ImageBlobs.Make(rows, Shape, seed), ImageBlobs.Classes, new VectorDataViewType(NumberDataViewType.Single, 1, 8, 8));

    [Fact]
    public void TakesTheImageShapeFromTheColumnAndClassifies()
    {
        var ml = new MLContext(seed: 1);
        var reports = new List<EpochReport>();
        var options = Options();
        options.EpochCompleted = reports.Add;
        var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(Images(ml, 480, 1));
        Assert.Equal(Shape, model.Model.InputShape);
        Assert.Null(options.InputShape);
        Assert.Equal(3, reports.Count);
        var metrics = ml.MulticlassClassification.Evaluate(model.Transform(Images(ml, 150, 2)));
        Assert.True(metrics.MacroAccuracy > 0.9, $"macro accuracy {metrics.MacroAccuracy}");
        // Batch norm is folded into the convolutions: no normalization layer is left.
        Assert.DoesNotContain(model.Model.Layers, l => l is NormalizationLayer);
    }

    [Fact]
    public void TakesTheImageShapeFromTheOptionsForAFlatColumn()
    {
        var ml = new MLContext(seed: 1);
        var flat = MlpData.View(ml, ImageBlobs.Make(240, Shape, 3), ImageBlobs.Classes);
        var options = Options(HiddenNormalization.GroupNorm);
        options.InputShape = Shape;
        var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(flat);
        Assert.Equal(Shape, model.Model.InputShape);
        Assert.Contains(model.Model.Layers, l => l is GroupNormLayer);
    }

    [Fact]
    public void AColumnOfUnknownImageShapeIsNamed()
    {
        var ml = new MLContext(seed: 1);
        var flat = MlpData.View(ml, ImageBlobs.Make(40, Shape, 3), ImageBlobs.Classes);
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(Options()).Fit(flat));
        Assert.Contains("Schema mismatch for feature column 'Features'", error.Message);
        Assert.Contains("whose image shape is unknown", error.Message);

        var options = Options();
        options.InputShape = new ImageShape(1, 4, 16);
        error = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(Images(ml, 40, 3)));
        Assert.Contains("images of the InputShape 1 × 4 × 16", error.Message);
        Assert.Contains("images of 1 × 8 × 8", error.Message);
    }

    [Theory]
    [InlineData(8, 8, 1, "which reads as interleaved (H, W, C) pixels: 1 channels of 8 × 8")]
    [InlineData(4, 4, 4, "which could be (C, H, W) or interleaved (H, W, C) pixels")]
    public void DimensionsThatMayBeInterleavedAreRefusedUntilConfirmed(int first, int second, int third, string reading)
    {
        // ExtractPixels(interleavePixelColors: true) declares (H, W, C); read as (C, H, W) it would train on scrambled images.
        var ml = new MLContext(seed: 1);
        var column = new VectorDataViewType(NumberDataViewType.Single, first, second, third);
        var data = MlpData.View(ml, ImageBlobs.Make(60, Shape, 3), ImageBlobs.Classes, column);
        var options = Options();
        options.Epochs = 1;
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(data));
        Assert.Contains("Schema mismatch for feature column 'Features': expected planar (C, H, W) images", error.Message);
        Assert.Contains(reading, error.Message);
        Assert.Contains($"set Options.InputShape = new ImageShape({first}, {second}, {third}) to confirm them", error.Message);

        options.InputShape = new ImageShape(first, second, third);
        options.Blocks = [new ConvolutionBlock(4), new GlobalAveragePoolBlock()];
        var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(data);
        Assert.Equal(new ImageShape(first, second, third), model.Model.InputShape);
    }

    [Fact]
    public void AnArchitectureTooDeepForTheImagesIsNamedBeforeReadingThem()
    {
        var ml = new MLContext(seed: 1);
        var options = Options();
        options.Blocks = [new ConvolutionBlock(4, KernelSize: 5, Stride: 2), new MaxPoolBlock(), new MaxPoolBlock(), new MaxPoolBlock()];
        var error = Assert.ThrowsAny<ArgumentException>(() => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(Images(ml, 40, 3)));
        Assert.Contains("Blocks[3] (max pool 2×2/2) shrinks the 4 × 1 × 1 map of feature column 'Features' (1 × 8 × 8) below 1 × 1", error.Message);
    }

    [Fact]
    public void NonFinitePixelNamesColumnRowAndSlot()
    {
        var ml = new MLContext(seed: 1);
        var rows = ImageBlobs.Make(40, Shape, 4);
        rows[23].Features[37] = float.NaN;
        var data = MlpData.View(ml, rows, ImageBlobs.Classes, new VectorDataViewType(NumberDataViewType.Single, 1, 8, 8));
        var error = Assert.Throws<InvalidOperationException>(() => ml.MulticlassClassification.Trainers.ConvolutionalNetwork(Options()).Fit(data));
        Assert.Contains("Column 'Features': training row 23 has the non-finite feature NaN at slot 37", error.Message);
    }

    [Theory]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.InstanceNorm)]
    [InlineData(HiddenNormalization.LayerNorm)]
    public async Task SavesLoadsAndServesPredictionEnginesOnSeveralThreads(HiddenNormalization normalization)
    {
        var ml = new MLContext(seed: 1);
        var train = Images(ml, 240, 5);
        var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(Options(normalization)).Fit(train);
        var rows = ImageBlobs.Make(200, Shape, 6).Select(r => new ImageRow { Features = r.Features, Label = (uint)r.Class + 1 }).ToArray();
        var expected = model.Transform(ml.Data.LoadFromEnumerable(rows)).GetColumn<float[]>("Score").ToArray();

        using var stream = new MemoryStream();
        ml.Model.Save(model, train.Schema, stream);
        stream.Position = 0;
        var fresh = new MLContext(seed: 7);
        var loaded = fresh.Model.Load(stream, out _);

        var scores = await ModelLoadProbe.ScoresOnThreads<ImageRow, Prediction>(fresh, loaded, rows, p => p.Score);
        for (int i = 0; i < rows.Length; i++)
            Assert.Equal(expected[i], scores[i]);
    }

    [Fact]
    public void ModelLoadsInAFreshProcess()
    {
        var ml = new MLContext(seed: 1);
        var train = Images(ml, 240, 8);
        var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(Options(HiddenNormalization.BatchRenorm)).Fit(train);
        var data = Images(ml, 12, 9);
        var expected = model.Transform(data).GetColumn<float[]>("Score").ToArray();
        Assert.Equal(expected, ModelLoadProbe.Scores(ml, model, train.Schema, data));
    }

    [Theory]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.GroupNorm)]
    [InlineData(HiddenNormalization.InstanceNorm)]
    [InlineData(HiddenNormalization.LayerNorm)]
    public void ONNXRuntimeReproducesTheScoresAndLabels(HiddenNormalization normalization)
    {
        var ml = new MLContext(seed: 1);
        var rows = ImageBlobs.Make(60, Shape, 10);
        var data = MlpData.View(ml, rows, ImageBlobs.Classes, new VectorDataViewType(NumberDataViewType.Single, 1, 8, 8));
        var options = Options(normalization);
        options.Blocks = [new ConvolutionBlock(4, Stride: 2), new AveragePoolBlock(), new ConvolutionBlock(4, KernelSize: 1, Padding: 0), new GlobalAveragePoolBlock(), new DenseBlock(6)];
        options.Epochs = 2;
        var model = ml.MulticlassClassification.Trainers.ConvolutionalNetwork(options).Fit(data);
        MultilayerPerceptronOnnxTests.AssertExportReproduces(ml, model, data, rows.Select(r => r.Features).ToArray(), [1, 8, 8], "Features", ImageBlobs.Classes);
    }
}
