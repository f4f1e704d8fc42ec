using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>Every bad input gets a clear error that names the column, what was expected and what was found.</summary>
public class BadInputTests
{
    private readonly MLContext _ml = new(seed: 1);

    private static float[] Ramp(int length) => Enumerable.Range(0, length).Select(i => (float)(i % 256)).ToArray();

    private IDataView Image(params int[] dimensions) => TestData.Vectors(_ml, [Ramp(dimensions.Aggregate(1, (a, b) => a * b))], dimensions);

    private sealed class ScalarRow
    {
        public float Pixels { get; set; }
    }

    private sealed class DoubleRow
    {
        [VectorType(3, 2, 2)]
        public double[] Pixels { get; set; } = new double[12];
    }

    [Fact]
    public void MissingInputColumn()
    {
        var data = Image(3, 2, 2);
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.NormalizeChannels("Out", "Image", ChannelStatistics.ImageNet).Fit(data));
        Assert.Contains("Could not find input column 'Image'", error.Message);

        var model = _ml.Transforms.ScalePixels("Out", TestData.Column).Fit(data);
        var renamed = _ml.Transforms.CopyColumns("Other", TestData.Column).Append(_ml.Transforms.DropColumns(TestData.Column)).Fit(data).Transform(data);
        var error2 = Assert.ThrowsAny<ArgumentException>(() => model.Transform(renamed));
        Assert.Contains("Could not find input column 'Pixels'", error2.Message);
    }

    [Fact]
    public void ScalarColumnIsNotAFloatVector()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new ScalarRow { Pixels = 3 } });
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.ScalePixels("Out", TestData.Column).Fit(data));
        Assert.Contains("Schema mismatch for input column 'Pixels': expected known-size vector of Single, got Single", error.Message);
    }

    [Fact]
    public void DoubleVectorIsNotAFloatVector()
    {
        var data = _ml.Data.LoadFromEnumerable(new[] { new DoubleRow() });
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet).Fit(data));
        Assert.Contains("Schema mismatch for input column 'Pixels': expected known-size vector of Single, got Vector<Double, 3, 2, 2>", error.Message);
    }

    [Fact]
    public void UnknownSizeVector()
    {
        var data = TestData.Vectors(_ml, [Ramp(12)]);
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.PreprocessImageNet("Out", TestData.Column).Fit(data));
        Assert.Contains("Schema mismatch for input column 'Pixels': expected known-size vector of Single, got Vector<Single>", error.Message);
    }

    [Fact]
    public void SizeNotDivisibleByTheChannelCount()
    {
        var data = TestData.Vectors(_ml, [Ramp(10)], 10);
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, layout: ChannelLayout.ChannelsFirst).Fit(data));
        Assert.Contains("input column 'Pixels'", error.Message);
        Assert.Contains("its size 10 is not divisible by 3 channels", error.Message);
    }

    [Fact]
    public void StatisticsForAnotherChannelCount()
    {
        var data = Image(3, 2, 2);
        var rgba = new ChannelStatistics([0.5f, 0.5f, 0.5f, 0.5f], [0.2f, 0.2f, 0.2f, 0.2f]);
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column, rgba).Fit(data));
        Assert.Contains("Schema mismatch for input column 'Pixels': expected known-size vector of Single with 4 channels, got Vector<Single, 3, 2, 2>", error.Message);
    }

    [Fact]
    public void MeanAndStdOfDifferentLengths()
    {
        var error = Assert.Throws<ArgumentException>(() => new ChannelStatistics([0.5f, 0.5f, 0.5f], [0.2f, 0.2f]));
        Assert.Contains("std has 2 values but mean has 3", error.Message);
        Assert.Throws<ArgumentException>(() => new ChannelStatistics([], []));
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-0.1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void StdMustBePositiveAndFinite(float std)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ChannelStatistics([0.5f, 0.5f], [0.2f, std]));
        Assert.Contains("std[1] must be positive and finite", error.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.NegativeInfinity)]
    public void MeanMustBeFinite(float mean)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new ChannelStatistics([mean], [0.2f]));
        Assert.Contains("mean[0] must be finite", error.Message);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-255f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void MaxPixelValueMustBePositiveAndFinite(float max)
    {
        Assert.Contains("maxPixelValue", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.ScalePixels("Out", TestData.Column, maxPixelValue: max)).Message);
        Assert.Contains("maxPixelValue", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column, maxPixelValue: max)).Message);
        Assert.Contains("maxPixelValue", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.DenormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, max)).Message);
    }

    [Fact]
    public void FittingOnEmptyData()
    {
        var data = TestData.Vectors(_ml, [], 3, 2, 2);
        var error = Assert.Throws<InvalidOperationException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(data));
        Assert.Equal("Cannot fit channel statistics: input column 'Pixels' has no rows.", error.Message);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFinitePixelWhileFitting(float bad)
    {
        var rows = Enumerable.Range(0, 5).Select(_ => Ramp(12)).ToArray();
        rows[3][7] = bad;
        var data = TestData.Vectors(_ml, rows, 3, 2, 2);
        var error = Assert.Throws<InvalidOperationException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(data));
        Assert.Equal($"Cannot fit channel statistics: input column 'Pixels' has the non-finite value {bad} at row 3, slot 7.", error.Message);
    }

    [Fact]
    public void ConstantChannelWhileFitting()
    {
        var rows = Enumerable.Range(0, 4).Select(r => Ramp(12).Select((v, i) => i >= 4 && i < 8 ? 9f : v + r).ToArray()).ToArray();
        var data = TestData.Vectors(_ml, rows, 3, 2, 2);
        var error = Assert.Throws<InvalidOperationException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(data));
        Assert.Contains("channel 1 of input column 'Pixels' is constant", error.Message);
    }

    [Fact]
    public void FlatVectorWithoutShapeAsksForALayout()
    {
        var data = TestData.Vectors(_ml, [Ramp(12)], 12);
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet).Fit(data));
        Assert.Contains("input column 'Pixels'", error.Message);
        Assert.Contains("pass layout ChannelsFirst", error.Message);

        // The explicit layout fixes it.
        _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, layout: ChannelLayout.ChannelsLast).Fit(data);
    }

    [Fact]
    public void AmbiguousShapeAsksForALayout()
    {
        var data = Image(3, 5, 3);
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe).Fit(data));
        Assert.Contains("both the first and the last dimension of shape (3, 5, 3) equal the 3 channels; pass layout ChannelsFirst or ChannelsLast", error.Message);
        _ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe, ChannelLayout.ChannelsLast).Fit(data);
    }

    [Fact]
    public void FittingCannotTellTheChannelDimension()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(Image(4, 5, 3)));
        Assert.Contains("cannot tell the channel dimension of shape (4, 5, 3); pass layout", error.Message);

        var flat = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(TestData.Vectors(_ml, [Ramp(12)], 12)));
        Assert.Contains("cannot infer the channel count", flat.Message);
    }

    [Fact]
    public void ExplicitLayoutThatContradictsTheShape()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, layout: ChannelLayout.ChannelsLast).Fit(Image(3, 4, 5)));
        Assert.Contains("layout ChannelsLast needs a last dimension of 3 channels, but the shape is (3, 4, 5)", error.Message);
    }

    [Fact]
    public void CaffeNeedsThreeChannels()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe).Fit(Image(4, 5, 6)));
        Assert.Contains("with 3 channels, got Vector<Single, 4, 5, 6>", error.Message);
    }
}
