using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>
/// How each transform reads a column's shape: one <see cref="ChannelLayout"/> everywhere, no silent reshaping of a
/// column of unknown shape, and leading size-1 batch dimensions as ONNX models write them.
/// </summary>
public class ShapeAndLayoutTests
{
    private readonly MLContext _ml = new(seed: 1);

    private IDataView Rows(int rows, params int[] dimensions) => Rows(rows, dimensions.Aggregate(1, (a, b) => a * b), dimensions);

    private IDataView Rows(int rows, int length, int[] dimensions)
    {
        var random = new Random(rows + length);
        return TestData.Vectors(_ml, Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 10)).ToArray()).ToArray(), dimensions);
    }

    private static readonly BatchNormParameters ThreeChannels = new([1f, 2f, 3f], [4f, 5f, 6f], [1f, 0.5f, 2f], [0f, 1f, -1f]);

    /// <summary>y = γ (x − μ) / √(σ² + ε) + β in double, channel c of element i given by <paramref name="channelOf"/>.</summary>
    private static double[] BatchNormReference(float[] x, Func<int, int> channelOf, BatchNormParameters p)
        => x.Select((v, i) =>
        {
            int c = channelOf(i);
            return p.Gamma[c] * (v - (double)p.RunningMean[c]) / Math.Sqrt((double)p.RunningVariance[c] + p.Epsilon) + p.Beta[c];
        }).ToArray();

    [Fact]
    public void AnUnshapedColumnIsOneValuePerChannelUnlessTheLayoutIsExplicit()
    {
        // PyTorch's BatchNorm1d(3) refuses (N, 12); so does the default layout.
        var twelve = Rows(4, 12, []);
        var fixedTwelve = TestData.Vectors(_ml, TestData.Read(twelve, TestData.Column), 12);
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, ThreeChannels).Fit(fixedTwelve));
        Assert.Contains("Schema mismatch for input column 'Pixels'", error.Message);
        Assert.Contains("a flat vector of 12 with no image shape", error.Message);
        Assert.Contains("pass layout ChannelsFirst", error.Message);

        var instance = Assert.ThrowsAny<ArgumentException>(() =>
            _ml.Transforms.InstanceNorm("Out", TestData.Column, gamma: [1f, 1f, 1f], beta: [0f, 0f, 0f]).Fit(fixedTwelve));
        Assert.Contains("a flat vector of 12 with no image shape", instance.Message);

        // Explicit ChannelsFirst reads it as (3, 4); a vector of exactly C values is (C) by default.
        var input = TestData.Read(fixedTwelve, TestData.Column);
        var output = TestData.Read(_ml.Transforms.BatchNorm("Out", TestData.Column, ThreeChannels, ChannelLayout.ChannelsFirst).Fit(fixedTwelve).Transform(fixedTwelve), "Out");
        for (int n = 0; n < input.Length; n++)
            TestData.AssertClose(BatchNormReference(input[n], i => i / 4, ThreeChannels), output[n], 1e-5, 1e-6, "ChannelsFirst (3, 4)");

        var three = Rows(4, 3);
        var perChannel = TestData.Read(three, TestData.Column);
        var perChannelOutput = TestData.Read(_ml.Transforms.BatchNorm("Out", TestData.Column, ThreeChannels).Fit(three).Transform(three), "Out");
        for (int n = 0; n < perChannel.Length; n++)
            TestData.AssertClose(BatchNormReference(perChannel[n], i => i, ThreeChannels), perChannelOutput[n], 1e-5, 1e-6, "(C)");
    }

    [Fact]
    public void AFittedBatchNormOnAnUnshapedColumnTakesOneChannelPerValue()
    {
        var data = Rows(6, 5);
        var fitted = _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(data);
        Assert.Equal(5, fitted.Parameters.Channels);
    }

    [Fact]
    public void AFormatOneModelIsNotReshapedOntoAColumnOfAnotherLength()
    {
        // batchnorm-given was saved (format 1, channels first) for (3, 4, 5) columns of 3 channels.
        var model = _ml.Model.Load(Path.Combine(AppContext.BaseDirectory, "Fixtures", "format-1", "batchnorm-given.zip"), out _);
        var twelve = Rows(2, 12);
        var error = Assert.ThrowsAny<ArgumentException>(() => model.Transform(twelve));
        Assert.Contains("Schema mismatch for input column 'Pixels'", error.Message);
        Assert.Contains("a flat vector of 12 with no image shape", error.Message);

        // A shaped (3, 4) column is still channels first, as format 1 read it.
        var shaped = Rows(2, 3, 4);
        var x = TestData.Read(shaped, TestData.Column);
        var y = TestData.Read(model.Transform(shaped), "Out");
        var p = new BatchNormParameters([100f, 120f, 140f], [900f, 1000f, 1100f], [1f, 2f, 3f], [0f, 1f, -1f], 1e-3f);
        for (int n = 0; n < x.Length; n++)
            TestData.AssertClose(BatchNormReference(x[n], i => i / 4, p), y[n], 1e-5, 1e-6, "format-1 (3, 4)");
    }

    [Theory]
    [InlineData(new[] { 1, 3, 4, 5 }, ChannelLayout.Auto)]
    [InlineData(new[] { 1, 1, 3, 4, 5 }, ChannelLayout.ChannelsFirst)]
    [InlineData(new[] { 1, 3, 20 }, ChannelLayout.Auto)]
    [InlineData(new[] { 1, 3 }, ChannelLayout.Auto)]
    public void LeadingBatchDimensionsOfSizeOneAreTheRowsBatch(int[] dimensions, ChannelLayout layout)
    {
        var data = Rows(3, dimensions);
        int spatial = dimensions.Aggregate(1, (a, b) => a * b) / 3;
        var model = _ml.Transforms.BatchNorm("Out", TestData.Column, ThreeChannels, layout).Fit(data);
        var output = model.Transform(data);

        Assert.Equal(data.Schema[TestData.Column].Type, output.Schema["Out"].Type);
        var x = TestData.Read(data, TestData.Column);
        var y = TestData.Read(output, "Out");
        for (int n = 0; n < x.Length; n++)
            TestData.AssertClose(BatchNormReference(x[n], i => i / spatial, ThreeChannels), y[n], 1e-5, 1e-6, $"({string.Join(", ", dimensions)})");
    }

    [Fact]
    public void FittedStatisticsSeeThroughALeadingBatchDimension()
    {
        var values = TestData.Read(Rows(5, 3, 4, 5), TestData.Column);
        var batched = TestData.Vectors(_ml, values, 1, 3, 4, 5);
        var plain = TestData.Vectors(_ml, values, 3, 4, 5);
        var fromBatched = _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(batched).Statistics;
        var fromPlain = _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(plain).Statistics;
        Assert.Equal(3, fromBatched.Channels);
        Assert.Equal(fromPlain.Mean, fromBatched.Mean);
        Assert.Equal(fromPlain.Std, fromBatched.Std);

        var groupNorm = TestData.Read(_ml.Transforms.GroupNorm("Out", TestData.Column, groups: 3, layout: ChannelLayout.ChannelsFirst).Fit(batched).Transform(batched), "Out");
        var reference = TestData.Read(_ml.Transforms.GroupNorm("Out", TestData.Column, groups: 3, layout: ChannelLayout.ChannelsFirst).Fit(plain).Transform(plain), "Out");
        Assert.Equal(reference, groupNorm);
    }

    [Fact]
    public void ALeadingOneIsNotGuessedWhenTheChannelCountIsInferred()
    {
        // (1, 3, 20): an ONNX model's batch of one (3, 20), or one channel of 3 × 20. Batch norm cannot tell.
        var data = Rows(4, 1, 3, 20);
        var error = Assert.ThrowsAny<ArgumentException>(() =>
            _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(data));
        Assert.Contains("cannot tell whether shape (1, 3, 20) is one channel or the batch dimension of a single (3, 20)", error.Message);
        Assert.Contains("cannot tell whether", Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.InstanceNorm("Out", TestData.Column).Fit(data)).Message);

        // Told, it is: ChannelsFirst reads one channel; γ and β give three.
        Assert.Equal(1, _ml.Transforms.BatchNorm("Out", TestData.Column,
            new BatchNormOptions { FitMode = BatchNormFitMode.Exact, Layout = ChannelLayout.ChannelsFirst }).Fit(data).Parameters.Channels);
        Assert.Equal(3, _ml.Transforms.BatchNorm("Out", TestData.Column,
            new BatchNormOptions { FitMode = BatchNormFitMode.Exact, Gamma = [1f, 1f, 1f] }).Fit(data).Parameters.Channels);

        // A gray image as ExtractPixels writes it stays one channel for the input normalizers.
        Assert.Equal(1, _ml.Transforms.NormalizeChannels("Out", TestData.Column).Fit(Rows(4, 1, 28, 28)).Statistics.Channels);
    }

    [Fact]
    public void UndefinedLayoutsAreRefusedWhereTheyAreGiven()
    {
        var bad = (ChannelLayout)99;
        foreach (var call in new Action[]
        {
            () => _ml.Transforms.NormalizeChannels("Out", TestData.Column, layout: bad),
            () => _ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, layout: bad),
            () => _ml.Transforms.PreprocessImageNet("Out", TestData.Column, layout: bad),
            () => _ml.Transforms.DenormalizeImageNet("Out", TestData.Column, layout: bad),
            () => _ml.Transforms.DenormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet, layout: bad),
            () => _ml.Transforms.BatchNorm("Out", TestData.Column, ThreeChannels, bad),
            () => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { Layout = bad }),
            () => _ml.Transforms.InstanceNorm("Out", TestData.Column, layout: bad),
            () => _ml.Transforms.GroupNorm("Out", TestData.Column, groups: 1, layout: bad),
        })
        {
            var error = Assert.ThrowsAny<ArgumentOutOfRangeException>(call);
            Assert.Contains("Unknown channel layout 99", error.Message);
        }
    }

    [Fact]
    public void OtherUndefinedEnumsAreRefusedWhereTheyAreGiven()
    {
        Assert.Contains("Unknown pixel range 99", Assert.ThrowsAny<ArgumentOutOfRangeException>(() => _ml.Transforms.ScalePixels("Out", TestData.Column, (PixelRange)99)).Message);
        Assert.Contains("Unknown ImageNet preprocessing mode 99", Assert.ThrowsAny<ArgumentOutOfRangeException>(() => _ml.Transforms.PreprocessImageNet("Out", TestData.Column, (ImageNetPreprocessing)99)).Message);
        Assert.Contains("Unknown ImageNet preprocessing mode 99", Assert.ThrowsAny<ArgumentOutOfRangeException>(() => _ml.Transforms.DenormalizeImageNet("Out", TestData.Column, (ImageNetPreprocessing)99)).Message);
        Assert.Contains("Unknown fit mode 99", Assert.ThrowsAny<ArgumentOutOfRangeException>(() =>
            _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = (BatchNormFitMode)99 })).Message);
    }
}
