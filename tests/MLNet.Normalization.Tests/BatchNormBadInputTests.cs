using Microsoft.ML;

namespace MLNet.Normalization.Tests;

/// <summary>Bad inputs of the batch-norm and per-sample transforms: each gets a clear error naming what is wrong.</summary>
public class BatchNormBadInputTests
{
    private readonly MLContext _ml = new(seed: 1);

    private IDataView Rows(int rows, params int[] dimensions)
    {
        int length = dimensions.Aggregate(1, (a, b) => a * b);
        var random = new Random(rows);
        return TestData.Vectors(_ml, Enumerable.Range(0, rows).Select(_ => Enumerable.Range(0, length).Select(_ => (float)random.NextDouble()).ToArray()).ToArray(), dimensions);
    }

    [Fact]
    public void SingleValuePerChannelInABatchIsRefusedAsPyTorchDoes()
    {
        // 5 rows of (C) in batches of 2: the last batch has one row, one value per channel.
        var error = Assert.Throws<InvalidOperationException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { BatchSize = 2 }).Fit(Rows(5, 4)));
        Assert.Contains("input column 'Pixels'", error.Message);
        Assert.Contains("Expected more than 1 value per channel", error.Message);
        Assert.Contains("batch 3 (1 row) has 1", error.Message);

        // One row of (C, S) with S > 1 is fine, as in PyTorch.
        _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { BatchSize = 2, Layout = ChannelLayout.ChannelsFirst }).Fit(Rows(5, 4, 3));
        Assert.Throws<InvalidOperationException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(Rows(1, 4)));
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void MomentumOutsideZeroToOne(double momentum)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { Momentum = momentum }));
        Assert.Contains("Momentum must be in [0, 1]", error.Message);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-1e-5f)]
    [InlineData(float.NaN)]
    public void EpsilonMustBePositive(float epsilon)
    {
        Assert.Contains("epsilon must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { Epsilon = epsilon })).Message);
        Assert.Contains("epsilon must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormParameters([0f], [1f], epsilon: epsilon)).Message);
        Assert.Contains("epsilon must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.LayerNorm("Out", TestData.Column, epsilon)).Message);
        Assert.Contains("epsilon must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.GroupNorm("Out", TestData.Column, 2, epsilon)).Message);
    }

    [Fact]
    public void BatchSizeMustBePositive()
        => Assert.Contains("BatchSize must be at least 1", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { BatchSize = 0 })).Message);

    [Fact]
    public void ParametersOfTheWrongLength()
    {
        Assert.Contains("runningVariance has 2 values, expected one per channel: 3", Assert.Throws<ArgumentException>(() => new BatchNormParameters([0f, 0f, 0f], [1f, 1f])).Message);
        Assert.Contains("gamma has 4 values, expected one per channel: 3", Assert.Throws<ArgumentException>(() => new BatchNormParameters([0f, 0f, 0f], [1f, 1f, 1f], gamma: [1f, 1f, 1f, 1f])).Message);
        Assert.Contains("beta has 1 values, expected one per channel: 3", Assert.Throws<ArgumentException>(() => new BatchNormParameters([0f, 0f, 0f], [1f, 1f, 1f], beta: [1f])).Message);

        // Parameters for 3 channels on a column of 4 channels: a schema mismatch naming the column.
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormParameters([0f, 0f, 0f], [1f, 1f, 1f])).Fit(Rows(3, 4, 5)));
        Assert.Contains("Schema mismatch for input column 'Pixels': expected known-size vector of Single with 3 channels, got Vector<Single, 4, 5>", error.Message);

        // Fitted statistics with a γ for another channel count.
        var fitted = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { Gamma = [1f, 1f] }).Fit(Rows(3, 4, 5)));
        Assert.Contains("with 2 channels, got Vector<Single, 4, 5>", fitted.Message);

        var layer = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.LayerNorm("Out", TestData.Column, gamma: [1f, 1f], beta: [0f, 0f]).Fit(Rows(3, 4, 5)));
        Assert.Contains("gamma and beta have 2 values but a normalized segment has 20", layer.Message);
        Assert.Contains("gamma has 2 values but beta has 3", Assert.Throws<ArgumentException>(() => _ml.Transforms.InstanceNorm("Out", TestData.Column, gamma: [1f, 1f], beta: [0f, 0f, 0f])).Message);
    }

    [Theory]
    [InlineData(-1f)]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void NegativeOrNonFiniteRunningVariance(float variance)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new BatchNormParameters([0f, 0f], [1f, variance]));
        Assert.Contains("runningVariance[1] must", error.Message);
    }

    [Fact]
    public void NonFiniteValueWhileFittingNamesColumnAndRow()
    {
        var rows = Enumerable.Range(0, 6).Select(r => Enumerable.Range(0, 8).Select(i => (float)(r + i)).ToArray()).ToArray();
        rows[4][5] = float.NaN;
        var data = TestData.Vectors(_ml, rows, 4, 2);
        foreach (var mode in Enum.GetValues<BatchNormFitMode>())
        {
            var error = Assert.Throws<InvalidOperationException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = mode }).Fit(data));
            Assert.Equal("Cannot fit batch-norm running statistics: input column 'Pixels' has the non-finite value NaN at row 4, slot 5.", error.Message);
        }
    }

    [Fact]
    public void FittingOnEmptyData()
        => Assert.Equal("Cannot fit batch-norm running statistics: input column 'Pixels' has no rows.",
            Assert.Throws<InvalidOperationException>(() => _ml.Transforms.BatchNorm("Out", TestData.Column).Fit(TestData.Vectors(_ml, [], 4))).Message);

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    public void GroupsMustBePositive(int groups)
        => Assert.Contains("groups must be positive", Assert.Throws<ArgumentOutOfRangeException>(() => _ml.Transforms.GroupNorm("Out", TestData.Column, groups)).Message);

    [Fact]
    public void GroupsMustDivideTheChannels()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.GroupNorm("Out", TestData.Column, groups: 4, layout: ChannelLayout.ChannelsFirst).Fit(Rows(2, 6, 5)));
        Assert.Contains("Schema mismatch for input column 'Pixels'", error.Message);
        Assert.Contains("4 groups do not divide its 6 channels", error.Message);
    }

    [Fact]
    public void InstanceNormNeedsMoreThanOneValuePerChannel()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.InstanceNorm("Out", TestData.Column).Fit(Rows(2, 6)));
        Assert.Contains("instance normalization needs more than one spatial value per channel", error.Message);
    }

    [Fact]
    public void LayerNormOverMoreDimensionsThanTheColumnHas()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => _ml.Transforms.LayerNorm("Out", TestData.Column, normalizedDimensions: 3).Fit(Rows(2, 4, 5)));
        Assert.Contains("it has 2 dimensions, fewer than the 3 to normalize over", error.Message);
    }
}
