using System.Text.Json;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>The training layers against PyTorch golden vectors and finite differences.</summary>
public class NormalizationLayerTests
{
    private static readonly JsonElement File = Golden.Load("batch_norm.json");

    public static TheoryData<string> ForwardCases() => Golden.Names(File, "forward_backward");

    public static TheoryData<string> RunningStatsCases() => Golden.Names(File, "running_stats");

    private static JsonElement Case(string section, string name) => Golden.Case(File, section, name);

    [Theory]
    [MemberData(nameof(ForwardCases))]
    public void TrainingForwardAndBackwardMatchPyTorch(string name)
    {
        var c = Case("forward_backward", name);
        int rows = c.GetProperty("rows").GetInt32(), channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32();
        NormalizationLayer layer = c.GetProperty("op").GetString() switch
        {
            "batch" => new BatchNormLayer(channels, spatial),
            "layer" => new LayerNormLayer(channels, spatial),
            "instance" => new GroupNormLayer(channels, spatial, groups: channels),
            _ => new GroupNormLayer(channels, spatial, c.GetProperty("groups").GetInt32()),
        };
        c.GetProperty("gamma").Floats().CopyTo(layer.Gamma, 0);
        c.GetProperty("beta").Floats().CopyTo(layer.Beta, 0);
        var x = c.GetProperty("input").Floats();
        var y = new float[x.Length];
        var dx = new float[x.Length];

        layer.Forward(x, y, rows, training: true);
        layer.Backward(c.GetProperty("output_gradient").Floats(), dx);

        TestData.AssertClose(c.GetProperty("output").Doubles(), y, 1e-5, 1e-5, name + " y");
        TestData.AssertClose(c.GetProperty("input_gradient").Doubles(), dx, 1e-5, 1e-5, name + " dx");
        TestData.AssertClose(c.GetProperty("gamma_gradient").Doubles(), layer.GammaGradient, 1e-5, 1e-5, name + " dγ");
        TestData.AssertClose(c.GetProperty("beta_gradient").Doubles(), layer.BetaGradient, 1e-5, 1e-5, name + " dβ");
    }

    [Theory]
    [MemberData(nameof(RunningStatsCases))]
    public void BatchNormLayerRunningStatisticsMatchPyTorch(string name)
    {
        var c = Case("running_stats", name);
        int rows = c.GetProperty("rows").GetInt32(), channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32();
        int batch = c.GetProperty("batch_size").GetInt32();
        var momentum = c.GetProperty("momentum");
        var layer = new BatchNormLayer(channels, spatial, momentum.ValueKind == JsonValueKind.Null ? null : momentum.GetDouble());
        var x = c.GetProperty("input").Floats();
        int features = channels * spatial;

        for (int start = 0; start < rows; start += batch)
        {
            int count = Math.Min(batch, rows - start);
            layer.Forward(x.AsSpan(start * features, count * features), new float[count * features], count, training: true);
        }

        Assert.Equal(c.GetProperty("num_batches_tracked").GetInt64(), layer.BatchesTracked);
        TestData.AssertClose(c.GetProperty("running_mean").Doubles(), layer.RunningMean, 1e-6, 1e-5, name + " mean");
        TestData.AssertClose(c.GetProperty("running_var").Doubles(), layer.RunningVariance, 1e-6, 1e-5, name + " var");
    }

    [Fact]
    public void BatchNormLayerInferenceMatchesPyTorchEvalMode()
    {
        var c = File.GetProperty("eval").EnumerateArray().First();
        int channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32(), rows = c.GetProperty("rows").GetInt32();
        var layer = new BatchNormLayer(channels, spatial, epsilon: c.GetProperty("eps").GetSingle());
        c.GetProperty("running_mean").Floats().CopyTo(layer.RunningMean, 0);
        c.GetProperty("running_var").Floats().CopyTo(layer.RunningVariance, 0);
        c.GetProperty("gamma").Floats().CopyTo(layer.Gamma, 0);
        c.GetProperty("beta").Floats().CopyTo(layer.Beta, 0);
        var y = new float[rows * channels * spatial];

        layer.Forward(c.GetProperty("input").Floats(), y, rows, training: false);

        TestData.AssertClose(c.GetProperty("output_float64").Doubles(), y, 1e-5, 1e-5, "eval");
    }

    [Fact]
    public void BatchStatisticsOverOneValuePerChannelAreRefused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new BatchNormLayer(4).Forward(new float[4], new float[4], 1, training: true));
        Assert.Contains("Expected more than 1 value per channel when training", error.Message);
        Assert.Throws<InvalidOperationException>(() => new BatchRenormLayer(4).Forward(new float[4], new float[4], 1, training: true));
        Assert.Throws<InvalidOperationException>(() => new LpBatchNormLayer(4, norm: LpNorm.L1).Forward(new float[4], new float[4], 1, training: true));
        // Inference with one row is fine.
        new BatchNormLayer(4).Forward(new float[4], new float[4], 1, training: false);
    }

    [Fact]
    public void BackwardWithoutATrainingForwardIsAnError()
        => Assert.Throws<InvalidOperationException>(() => new BatchNormLayer(2).Backward(new float[4], new float[4]));

    private static float[] Spread(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(i => (float)((i * 0.37) % 3 - 1.5 + 0.05 * random.NextDouble())).OrderBy(_ => random.Next()).ToArray();
    }

    /// <summary>Central differences of L = Σ y · w in x, γ and β (float forward, h = 2e-3) against Backward.</summary>
    private static void AssertGradientsMatchFiniteDifferences(Func<NormalizationLayer> create, int rows, int features, int seed)
    {
        var layer = create();
        var x = Spread(rows * features, seed);
        var weights = Spread(rows * features, seed + 1);
        var gamma = Spread(layer.Gamma.Length, seed + 2).Select(v => 1 + v / 3).ToArray();
        var beta = Spread(layer.Beta.Length, seed + 3);
        gamma.CopyTo(layer.Gamma, 0);
        beta.CopyTo(layer.Beta, 0);

        double Loss(float[] input)
        {
            var fresh = create();
            layer.Gamma.CopyTo(fresh.Gamma, 0);
            layer.Beta.CopyTo(fresh.Beta, 0);
            var y = new float[input.Length];
            fresh.Forward(input, y, rows, training: true);
            return y.Zip(weights, (a, b) => (double)a * b).Sum();
        }

        var dx = new float[x.Length];
        layer.Forward(x, new float[x.Length], rows, training: true);
        layer.Backward(weights, dx);

        const float h = 2e-3f;
        void Check(float[] values, float[] gradient, string what)
            => FiniteDifferences.Check(values, gradient, () => Loss(x), h, what, absolute: 2e-3, relative: 2e-2);
        Check(x, dx, "dx");
        Check(layer.Gamma, layer.GammaGradient, "dγ");
        Check(layer.Beta, layer.BetaGradient, "dβ");
    }

    [Theory]
    [InlineData(LpNorm.L1)]
    [InlineData(LpNorm.L2)]
    [InlineData(LpNorm.LInf)]
    public void LpBatchNormBackwardMatchesFiniteDifferences(LpNorm norm)
    {
        AssertGradientsMatchFiniteDifferences(() => new LpBatchNormLayer(3, 1, norm), rows: 7, features: 3, seed: 11);
        AssertGradientsMatchFiniteDifferences(() => new LpBatchNormLayer(2, 4, norm), rows: 3, features: 8, seed: 12);
    }

    [Fact]
    public void BatchRenormBackwardMatchesFiniteDifferencesWithRAndDHeldConstant()
    {
        // Backprop treats r and d as constants; they are locally constant, so finite differences apply, where both
        // are clipped: moving statistics far from the batch's (σ small or large, μ far), the same for every evaluation.
        static BatchRenormLayer Create()
        {
            var layer = new BatchRenormLayer(3, 2, RenormSchedule.Constant(1.5, 0.5));
            float[] mean = [5f, -5f, 5f], std = [0.1f, 5f, 0.1f];
            mean.CopyTo(layer.MovingMean, 0);
            std.CopyTo(layer.MovingStd, 0);
            return layer;
        }
        AssertGradientsMatchFiniteDifferences(Create, rows: 5, features: 6, seed: 21);
        var probe = Create();
        probe.Forward(Spread(30, 21), new float[30], 5, training: true);
        Assert.Equal([1.5f, 1 / 1.5f, 1.5f], probe.R);
        Assert.Equal([-0.5f, 0.5f, -0.5f], probe.D);
    }

    [Fact]
    public void LpL2WithZeroEpsilonLimitEqualsBatchNorm()
    {
        var x = Spread(40, 3);
        var bn = new BatchNormLayer(4, 2, epsilon: 1e-7f);
        var lp = new LpBatchNormLayer(4, 2, LpNorm.L2, epsilon: 1e-7f);
        var yBn = new float[40];
        var yLp = new float[40];
        bn.Forward(x, yBn, 5, training: true);
        lp.Forward(x, yLp, 5, training: true);
        TestData.AssertClose(yBn.Select(v => (double)v).ToArray(), yLp, 1e-4, 1e-4, "ℓ2 vs BN");
    }

    [Fact]
    public void NoisyBatchNormIsBatchNormAtInferenceAndSeededInTraining()
    {
        var x = Spread(24, 5);
        var noisyA = new NoisyBatchNormLayer(3, 2, seed: 7);
        var noisyB = new NoisyBatchNormLayer(3, 2, seed: 7);
        var plain = new BatchNormLayer(3, 2);
        float[] a = new float[24], b = new float[24], p = new float[24];
        noisyA.Forward(x, a, 4, training: true);
        noisyB.Forward(x, b, 4, training: true);
        plain.Forward(x, p, 4, training: true);

        Assert.Equal(a, b);
        Assert.NotEqual(p, a);
        Assert.Equal(plain.RunningMean, noisyA.RunningMean);

        noisyA.Forward(x, a, 4, training: false);
        plain.Forward(x, p, 4, training: false);
        Assert.Equal(p, a);
    }

    [Fact]
    public void NoisyBatchNormBackwardWithNoiseOnMatchesFiniteDifferences()
    {
        // Each training forward draws the noise from the layer's Random in an order that does not depend on the input,
        // so a fresh layer with the same seed for every evaluation holds the noise fixed: the loss is then a smooth
        // function of x, γ and β, and the helper creates such a layer for the backward pass and for every evaluation.
        // Large noise (scale factors about 0.4..1.6 with std 0.3), so a backward that ignored it would be far off.
        static NoisyBatchNormLayer Strong() => new(3, 2, shiftRange: 0.5, scaleRange: 0.6, noiseStd: 0.3, seed: 17);
        static NoisyBatchNormLayer Default() => new(4, seed: 5);

        // The premise: the same seed repeats the noise, and the noise is on (the output is not batch norm's).
        var x = Spread(30, 31);
        float[] first = new float[30], again = new float[30], plain = new float[30];
        Strong().Forward(x, first, 5, training: true);
        Strong().Forward(x, again, 5, training: true);
        new BatchNormLayer(3, 2).Forward(x, plain, 5, training: true);
        Assert.Equal(first, again);
        Assert.True(first.Zip(plain, (a, b) => Math.Abs(a - b)).Max() > 0.5, "the noise changes the output by less than 0.5");

        AssertGradientsMatchFiniteDifferences(Strong, rows: 5, features: 6, seed: 31);
        AssertGradientsMatchFiniteDifferences(Default, rows: 6, features: 4, seed: 32);
    }

    [Fact]
    public void NoisyBatchNormWithoutNoiseTrainsExactlyLikeBatchNorm()
    {
        var x = Spread(24, 6);
        var dy = Spread(24, 7);
        var noisy = new NoisyBatchNormLayer(3, 2, shiftRange: 0, scaleRange: 0, noiseStd: 0);
        var plain = new BatchNormLayer(3, 2);
        float[] a = new float[24], p = new float[24], dxA = new float[24], dxP = new float[24];
        noisy.Forward(x, a, 4, training: true);
        plain.Forward(x, p, 4, training: true);
        noisy.Backward(dy, dxA);
        plain.Backward(dy, dxP);
        Assert.Equal(p, a);
        Assert.Equal(dxP, dxA);
        Assert.Equal(plain.GammaGradient, noisy.GammaGradient);
    }
}
