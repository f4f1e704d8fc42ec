using System.Text.Json;
using Microsoft.ML;

namespace MLNet.Normalization.Tests;

/// <summary>The BatchNorm, LayerNorm, InstanceNorm and GroupNorm transforms against PyTorch (tools/golden/make_batch_norm.py).</summary>
public class BatchNormTransformTests
{
    private static readonly JsonElement File = Golden.Load("batch_norm.json");

    private static TheoryData<string> Names(string section) => Golden.Names(File, section);

    public static TheoryData<string> RunningStatsCases() => Names("running_stats");

    /// <summary>The running-statistics cases with a spatial dimension, the only ones whose channels-last layout differs.</summary>
    public static TheoryData<string> SpatialRunningStatsCases() => Golden.Names(File, "running_stats", c => c.GetProperty("spatial").GetInt32() > 1);
    public static TheoryData<string> ExactCases() => Names("exact_stats");
    public static TheoryData<string> EvalCases() => Names("eval");
    public static TheoryData<string> ForwardCases() => Names("forward_backward");

    /// <summary>
    /// The layer, instance and group norm cases: per-sample statistics, which the transforms compute at inference.
    /// The batch-norm cases use batch statistics, which are training-only (the transform applies running statistics).
    /// </summary>
    public static TheoryData<string> PerSampleCases() => Golden.Names(File, "forward_backward", c => c.GetProperty("op").GetString() != "batch");

    private static JsonElement Case(string section, string name) => Golden.Case(File, section, name);

    /// <summary>The case's rows as a column of dimensions (C) or (C, S), planar or transposed to channels-last (S, C).</summary>
    internal static IDataView Rows(MLContext ml, JsonElement c, bool channelsLast = false, string field = "input")
    {
        int rows = c.GetProperty("rows").GetInt32(), channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32();
        var data = c.GetProperty(field).Floats();
        var list = Enumerable.Range(0, rows).Select(n => data.AsSpan(n * channels * spatial, channels * spatial).ToArray()).ToArray();
        if (channelsLast)
            list = list.Select(r => Transpose(r, channels, spatial)).ToArray();
        int[] dims = spatial == 1 ? [channels] : channelsLast ? [spatial, channels] : [channels, spatial];
        return TestData.Vectors(ml, list, dims);
    }

    /// <summary>(rows, columns) row-major into (columns, rows).</summary>
    internal static float[] Transpose(float[] values, int rows, int columns)
    {
        var result = new float[values.Length];
        for (int r = 0; r < rows; r++)
            for (int col = 0; col < columns; col++)
                result[col * rows + r] = values[r * columns + col];
        return result;
    }

    /// <summary>The case's batch size and momentum; a null momentum is PyTorch's cumulative average.</summary>
    private static BatchNormOptions TrainingModeOptions(JsonElement c, bool channelsLast)
    {
        var momentum = c.GetProperty("momentum");
        return new BatchNormOptions
        {
            BatchSize = c.GetProperty("batch_size").GetInt32(),
            FitMode = momentum.ValueKind == JsonValueKind.Null ? BatchNormFitMode.Cumulative : BatchNormFitMode.MovingAverage,
            Momentum = momentum.ValueKind == JsonValueKind.Null ? 0.1 : momentum.GetDouble(),
            Layout = channelsLast ? ChannelLayout.ChannelsLast : ChannelLayout.Auto,
        };
    }

    [Theory]
    [MemberData(nameof(RunningStatsCases))]
    public void MovingAverageAndCumulativeFitsMatchPyTorchTrainingMode(string name)
    {
        var c = Case("running_stats", name);
        var ml = new MLContext(seed: 1);

        var parameters = ml.Transforms.BatchNorm("Out", TestData.Column, TrainingModeOptions(c, channelsLast: false)).Fit(Rows(ml, c)).Parameters;

        TestData.AssertClose(c.GetProperty("running_mean").Doubles(), parameters.RunningMean.ToArray(), 1e-6, 1e-5, name + " mean");
        TestData.AssertClose(c.GetProperty("running_var").Doubles(), parameters.RunningVariance.ToArray(), 1e-6, 1e-5, name + " var");
    }

    [Theory]
    [MemberData(nameof(SpatialRunningStatsCases))]
    public void ChannelsLastFitsTheSameStatistics(string name)
    {
        var c = Case("running_stats", name);
        var ml = new MLContext(seed: 1);

        var parameters = ml.Transforms.BatchNorm("Out", TestData.Column, TrainingModeOptions(c, channelsLast: true)).Fit(Rows(ml, c, channelsLast: true)).Parameters;

        TestData.AssertClose(c.GetProperty("running_mean").Doubles(), parameters.RunningMean.ToArray(), 1e-6, 1e-5, name + " mean");
        TestData.AssertClose(c.GetProperty("running_var").Doubles(), parameters.RunningVariance.ToArray(), 1e-6, 1e-5, name + " var");
    }

    [Theory]
    [MemberData(nameof(ExactCases))]
    public void ExactFitMatchesFloat64Reference(string name)
    {
        var c = Case("exact_stats", name);
        var ml = new MLContext(seed: 1);

        var parameters = ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(Rows(ml, c)).Parameters;

        TestData.AssertClose(c.GetProperty("mean").Doubles(), parameters.RunningMean.ToArray(), 0, 1e-6, name + " mean");
        TestData.AssertClose(c.GetProperty("variance").Doubles(), parameters.RunningVariance.ToArray(), 0, 1e-5, name + " var");
    }

    [Theory]
    [MemberData(nameof(EvalCases))]
    public void GivenParametersMatchPyTorchEvalMode(string name)
    {
        var c = Case("eval", name);
        var ml = new MLContext(seed: 1);
        var data = Rows(ml, c);
        var parameters = new BatchNormParameters(c.GetProperty("running_mean").Floats(), c.GetProperty("running_var").Floats(),
            c.GetProperty("gamma").Floats(), c.GetProperty("beta").Floats(), c.GetProperty("eps").GetSingle());

        var output = TestData.Read(ml.Transforms.BatchNorm("Out", TestData.Column, parameters).Fit(data).Transform(data), "Out");

        TestData.AssertClose(c.GetProperty("output_float64").Doubles(), output.SelectMany(r => r).ToArray(), 1e-5, 1e-5, name);
    }

    [Theory]
    [MemberData(nameof(EvalCases))]
    public void GivenParametersOnChannelsLastColumns(string name)
    {
        var c = Case("eval", name);
        int channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32();
        var ml = new MLContext(seed: 1);
        var data = Rows(ml, c, channelsLast: true);
        var parameters = BatchNormParameters.FromKeras(c.GetProperty("running_mean").Floats(), c.GetProperty("running_var").Floats(),
            c.GetProperty("gamma").Floats(), c.GetProperty("beta").Floats(), c.GetProperty("eps").GetSingle());

        var output = TestData.Read(ml.Transforms.BatchNorm("Out", TestData.Column, parameters, ChannelLayout.ChannelsLast).Fit(data).Transform(data), "Out");

        AssertChannelsLastClose(c.GetProperty("output_float64").Doubles(), output, channels, spatial, name);
    }

    /// <summary>Compares channels-last rows with planar (C, S) expected rows.</summary>
    private static void AssertChannelsLastClose(double[] expectedPlanar, float[][] output, int channels, int spatial, string name)
    {
        int row = channels * spatial;
        for (int n = 0; n < output.Length; n++)
        {
            var planar = expectedPlanar.AsSpan(n * row, row).ToArray().Select(v => (float)v).ToArray();
            TestData.AssertClose(Transpose(planar, channels, spatial).Select(v => (double)v).ToArray(), output[n], 1e-5, 1e-5, $"{name} row {n}");
        }
    }

    [Theory]
    [MemberData(nameof(PerSampleCases))]
    public void PerSampleTransformsMatchPyTorch(string name)
    {
        var c = Case("forward_backward", name);
        var op = c.GetProperty("op").GetString();
        var ml = new MLContext(seed: 1);
        var data = Rows(ml, c);
        var gamma = c.GetProperty("gamma").Floats();
        var beta = c.GetProperty("beta").Floats();
        float eps = c.GetProperty("eps").GetSingle();
        IEstimator<ITransformer> estimator = op switch
        {
            "layer" => ml.Transforms.LayerNorm("Out", TestData.Column, eps, gamma, beta),
            "instance" => ml.Transforms.InstanceNorm("Out", TestData.Column, eps, gamma, beta),
            "group" => ml.Transforms.GroupNorm("Out", TestData.Column, c.GetProperty("groups").GetInt32(), eps, gamma, beta),
            _ => throw new InvalidOperationException($"{name}: no per-sample transform for op {op}."),
        };

        var output = TestData.Read(estimator.Fit(data).Transform(data), "Out");

        TestData.AssertClose(c.GetProperty("output").Doubles(), output.SelectMany(r => r).ToArray(), 1e-5, 1e-5, name);
    }

    [Theory]
    [InlineData("group_4d_n4_c6_h3_w5_g3")]
    [InlineData("instance_4d_n4_c6_h3_w5")]
    public void GroupAndInstanceNormOnChannelsLastColumns(string name)
    {
        var c = Case("forward_backward", name);
        int channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32();
        var ml = new MLContext(seed: 1);
        var data = Rows(ml, c, channelsLast: true);
        var gamma = c.GetProperty("gamma").Floats();
        var beta = c.GetProperty("beta").Floats();
        var estimator = c.GetProperty("op").GetString() == "instance"
            ? ml.Transforms.InstanceNorm("Out", TestData.Column, 1e-5f, gamma, beta, ChannelLayout.ChannelsLast)
            : ml.Transforms.GroupNorm("Out", TestData.Column, c.GetProperty("groups").GetInt32(), 1e-5f, gamma, beta, ChannelLayout.ChannelsLast);

        var output = TestData.Read(estimator.Fit(data).Transform(data), "Out");

        AssertChannelsLastClose(c.GetProperty("output").Doubles(), output, channels, spatial, name);
    }

    [Fact]
    public void LayerNormOverTheLastDimensionsNormalizesEachSegment()
    {
        // The 4-D golden rows (C = 6, S = 15) read as shape (6, 3, 5): LayerNorm over the last two dimensions is
        // instance norm per channel without affine; compare with the instance case's formula applied here in double.
        var c = Case("forward_backward", "instance_4d_n4_c6_h3_w5");
        var ml = new MLContext(seed: 1);
        var input = c.GetProperty("input").Floats();
        var rows = Enumerable.Range(0, 4).Select(n => input.AsSpan(n * 90, 90).ToArray()).ToArray();
        var data = TestData.Vectors(ml, rows, 6, 3, 5);

        var output = TestData.Read(ml.Transforms.LayerNorm("Out", TestData.Column, normalizedDimensions: 2).Fit(data).Transform(data), "Out");

        for (int n = 0; n < 4; n++)
            for (int channel = 0; channel < 6; channel++)
            {
                var segment = rows[n].AsSpan(channel * 15, 15).ToArray();
                double mean = segment.Average(v => (double)v);
                double variance = segment.Sum(v => (v - mean) * (v - mean)) / 15;
                var expected = segment.Select(v => (v - mean) / Math.Sqrt(variance + 1e-5)).ToArray();
                TestData.AssertClose(expected, output[n].AsSpan(channel * 15, 15), 1e-5, 1e-5, $"row {n} segment {channel}");
            }
    }
}
