using System.Text.Json;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// Every normalization layer on convolutional feature maps: (N, C, H, W) batches seen as (N, C, S = H · W), in
/// training (forward, backward, running statistics) and inference, against PyTorch 1.13 float64
/// (tools/golden/make_norm_layers_nchw.py), against finite differences, and for bit-identical results on any
/// thread count at CNN-sized shapes.
/// </summary>
/// <remarks>
/// Tolerances. The golden values are float64; the layers take their statistics in double but compute and store in
/// float32. Outputs and gradients are at most about 10 in size, where a float's ulp is 9.5e-7; the forward is
/// y = x · s + t with s and t rounded to float, the backward a similar float combination, so the error is a few ulp.
/// Measured: every output, dx, dγ and dβ here is within 2.5e-6 + 2.5e-6 · |expected| of PyTorch, including the
/// dx of batch-statistics channels with two close values, where x̂ is ±1 to within ε / σ² and dx is a small residue
/// (batch norm's backward centres x on μ before scaling, as PyTorch's does, so no term is larger than dx). The bound
/// <see cref="Absolute"/> + <see cref="Relative"/> · |expected| = 1e-5 + 1e-5 · |expected| leaves 4× that, and is
/// far below the effect of a formula error such as a term left out of dx or a biased running variance (1e-3 and more). Running statistics,
/// r and d are floats updated from double batch statistics: 1e-6 + 1e-5 · |expected|.
/// </remarks>
public class NormalizationLayerNchwTests
{
    private const double Absolute = 1e-5, Relative = 1e-5;
    private const double StatisticsAbsolute = 1e-6, StatisticsRelative = 1e-5;

    private static readonly JsonElement File = Golden.Load("norm_layers_nchw.json");

    public static TheoryData<string> BatchNormCases() => Golden.Names(File, "batch_norm");

    public static TheoryData<string> BatchRenormCases() => Golden.Names(File, "batch_renorm");

    public static TheoryData<string> LpCases() => Golden.Names(File, "lp_batch_norm");

    public static TheoryData<string> PerSampleCases() => Golden.Names(File, "per_sample");

    public static TheoryData<string> InstanceRefusalCases() => Golden.Names(File, "instance_norm_refusals");

    private static (int Rows, int Channels, int Spatial) Shape(JsonElement c)
    {
        var shape = c.GetProperty("shape").Ints();
        Assert.Equal(shape[2] * shape[3], c.GetProperty("spatial").GetInt32());
        return (shape[0], shape[1], shape[2] * shape[3]);
    }

    private static void SetAffine(NormalizationLayer layer, JsonElement c)
    {
        var gamma = c.GetProperty("gamma").Floats();
        var beta = c.GetProperty("beta").Floats();
        Assert.Equal(layer.Gamma.Length, gamma.Length);
        layer.SetAffine(gamma, beta);
    }

    /// <summary>One training step: forward, backward of the step's output gradient alone, compared with the golden step.</summary>
    private static (float[] Output, float[] InputGradient) TrainingStep(NormalizationLayer layer, JsonElement step, int rows)
    {
        var x = step.GetProperty("input").Floats();
        var y = new float[x.Length];
        var dx = new float[x.Length];
        layer.ZeroGradients();
        layer.Forward(x, y, rows, training: true);
        layer.Backward(step.GetProperty("output_gradient").Floats(), dx);
        return (y, dx);
    }

    /// <summary>y, dx, dγ and dβ against the golden step.</summary>
    private static void AssertStep(NormalizationLayer layer, JsonElement step, float[] y, float[] dx, string what)
    {
        TestData.AssertClose(step.GetProperty("output").Doubles(), y, Absolute, Relative, what + " y");
        AssertInputGradient(step.GetProperty("input_gradient").Doubles(), dx, what);
        TestData.AssertClose(step.GetProperty("gamma_gradient").Doubles(), layer.GammaGradient, Absolute, Relative, what + " dγ");
        TestData.AssertClose(step.GetProperty("beta_gradient").Doubles(), layer.BetaGradient, Absolute, Relative, what + " dβ");
    }

    private static void AssertInputGradient(double[] expected, float[] dx, string what)
    {
        Assert.Equal(expected.Length, dx.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - dx[i]), bound = Absolute + Relative * Math.Abs(expected[i]);
            if (!(error <= bound))
                Assert.Fail($"{what} dx: element {i} is {dx[i]:R}, expected {expected[i]:R} (error {error:E2}, bound {bound:E2}).");
        }
    }

    private static void AssertInference(NormalizationLayer layer, JsonElement c, int rows, string name)
    {
        var x = c.GetProperty("eval_input").Floats();
        var y = new float[x.Length];
        layer.Forward(x, y, rows, training: false);
        TestData.AssertClose(c.GetProperty("eval_output").Doubles(), y, Absolute, Relative, name + " inference");
    }

    // ------------------------------------------------------------------ BatchNorm2d

    /// <summary>Two training steps of <c>BatchNorm2d</c> (momentum 0.1, unbiased running variance), then eval mode.</summary>
    private static void AssertBatchNormCase(BatchNormLayer layer, JsonElement c, string name)
    {
        var (rows, channels, spatial) = Shape(c);
        Assert.Equal(c.GetProperty("eps").GetSingle(), layer.Epsilon);
        Assert.Equal<double?>(c.GetProperty("momentum").GetDouble(), layer.Momentum);
        SetAffine(layer, c);
        int index = 0;
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            string what = $"{name} step {index++}";
            var (y, dx) = TrainingStep(layer, step, rows);
            AssertStep(layer, step, y, dx, what);
            TestData.AssertClose(step.GetProperty("running_mean_after").Doubles(), layer.RunningMean, StatisticsAbsolute, StatisticsRelative, what + " running mean");
            TestData.AssertClose(step.GetProperty("running_var_after").Doubles(), layer.RunningVariance, StatisticsAbsolute, StatisticsRelative, what + " running var");
        }
        Assert.Equal(2, layer.BatchesTracked);
        AssertInference(layer, c, rows, name);
    }

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void BatchNormLayerMatchesBatchNorm2d(string name)
    {
        var c = Golden.Case(File, "batch_norm", name);
        var (_, channels, spatial) = Shape(c);
        AssertBatchNormCase(new BatchNormLayer(channels, spatial), c, name);
    }

    // ------------------------------------------------------------------ NoisyBatchNorm

    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void NoisyBatchNormWithoutNoiseMatchesBatchNorm2d(string name)
    {
        var c = Golden.Case(File, "batch_norm", name);
        var (_, channels, spatial) = Shape(c);
        AssertBatchNormCase(new NoisyBatchNormLayer(channels, spatial, shiftRange: 0, scaleRange: 0, noiseStd: 0, seed: 3), c, name);
    }

    /// <summary>
    /// With the per-activation noise off (noiseStd 0) the layer's noise is, per channel and step, one scale s_c and one
    /// shift m_c: y' = s_c · y + m_c with y batch norm's output. The test recovers s_c and m_c from the layer's output
    /// by least squares against PyTorch's y, checks that the fit is exact and that they lie in the documented ranges,
    /// then checks the backward: batch norm's backward is linear in dy per channel, so dx, dγ and dβ must be PyTorch's
    /// for dy scaled by s_c, i.e. s_c times the golden gradients. A backward that ignored the noise would be off by
    /// |s_c − 1| (up to 0.6 here). Running statistics and inference are batch norm's.
    /// </summary>
    [Theory]
    [MemberData(nameof(BatchNormCases))]
    public void NoisyBatchNormWithPerChannelNoiseScalesBatchNorm2d(string name)
    {
        const double shiftRange = 0.5, scaleRange = 0.6;
        var c = Golden.Case(File, "batch_norm", name);
        var (rows, channels, spatial) = Shape(c);
        var layer = new NoisyBatchNormLayer(channels, spatial, shiftRange, scaleRange, noiseStd: 0, seed: 11);
        SetAffine(layer, c);
        double largestScaleChange = 0;
        int index = 0;
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            string what = $"{name} step {index++}";
            var (y, dx) = TrainingStep(layer, step, rows);
            var expectedY = step.GetProperty("output").Doubles();
            var scales = new double[channels];
            for (int ch = 0; ch < channels; ch++)
            {
                var plain = ChannelValues(expectedY, rows, channels, spatial, ch);
                var noisy = ChannelValues(y.Select(v => (double)v).ToArray(), rows, channels, spatial, ch);
                var (s, m) = LeastSquares(plain, noisy);
                Assert.InRange(s, 1 - scaleRange, 1 + scaleRange);
                Assert.InRange(m, -shiftRange, shiftRange);
                for (int i = 0; i < plain.Length; i++)
                    Assert.True(Math.Abs(s * plain[i] + m - noisy[i]) <= Absolute + Relative * Math.Abs(noisy[i]),
                        $"{what} channel {ch}: y' is not s · y + m at {i} (s {s}, m {m}: {s * plain[i] + m} against {noisy[i]})");
                scales[ch] = s;
                largestScaleChange = Math.Max(largestScaleChange, Math.Abs(s - 1));
            }

            var expectedDx = step.GetProperty("input_gradient").Doubles();
            for (int i = 0; i < expectedDx.Length; i++)
                expectedDx[i] *= scales[i / spatial % channels];
            AssertInputGradient(expectedDx, dx, what);
            TestData.AssertClose(step.GetProperty("gamma_gradient").Doubles().Select((g, ch) => g * scales[ch]).ToArray(), layer.GammaGradient, Absolute, Relative, what + " dγ");
            TestData.AssertClose(step.GetProperty("beta_gradient").Doubles().Select((g, ch) => g * scales[ch]).ToArray(), layer.BetaGradient, Absolute, Relative, what + " dβ");
            TestData.AssertClose(step.GetProperty("running_mean_after").Doubles(), layer.RunningMean, StatisticsAbsolute, StatisticsRelative, what + " running mean");
            TestData.AssertClose(step.GetProperty("running_var_after").Doubles(), layer.RunningVariance, StatisticsAbsolute, StatisticsRelative, what + " running var");
        }
        Assert.True(largestScaleChange > 0.1, $"the noise scales stay within {largestScaleChange} of 1: the test would not see a backward that ignores them");
        AssertInference(layer, c, rows, name);
    }

    private static double[] ChannelValues(double[] values, int rows, int channels, int spatial, int channel)
        => Enumerable.Range(0, rows).SelectMany(n => values.Skip((n * channels + channel) * spatial).Take(spatial)).ToArray();

    /// <summary>(s, m) minimizing Σ (s · x + m − y)².</summary>
    private static (double Scale, double Shift) LeastSquares(double[] x, double[] y)
    {
        double meanX = x.Average(), meanY = y.Average();
        double covariance = x.Zip(y, (a, b) => (a - meanX) * (b - meanY)).Sum();
        double variance = x.Sum(a => (a - meanX) * (a - meanX));
        double scale = covariance / variance;
        return (scale, meanY - scale * meanX);
    }

    // ------------------------------------------------------------------ Batch Renormalization

    [Theory]
    [MemberData(nameof(BatchRenormCases))]
    public void BatchRenormLayerMatchesAlgorithm1(string name)
    {
        var c = Golden.Case(File, "batch_renorm", name);
        var (rows, channels, spatial) = Shape(c);
        double rMax = c.GetProperty("rmax").GetDouble(), dMax = c.GetProperty("dmax").GetDouble(), alpha = c.GetProperty("alpha").GetDouble();
        var layer = c.GetProperty("schedule").GetString() == "default"
            ? new BatchRenormLayer(channels, spatial)
            : new BatchRenormLayer(channels, spatial, RenormSchedule.Constant(rMax, dMax), alpha);
        // The golden run starts from the layer's initial moving statistics, with its ε and α.
        Assert.Equal(c.GetProperty("moving_mean_initial").Floats(), layer.MovingMean);
        Assert.Equal(c.GetProperty("moving_std_initial").Floats(), layer.MovingStd);
        Assert.Equal(c.GetProperty("eps").GetSingle(), layer.Epsilon);
        Assert.Equal(alpha, layer.Alpha);
        SetAffine(layer, c);
        int index = 0;
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            string what = $"{name} step {index++}";
            Assert.Equal((rMax, dMax), (layer.RMax, layer.DMax));
            var (y, dx) = TrainingStep(layer, step, rows);
            TestData.AssertClose(step.GetProperty("r").Doubles(), layer.R, StatisticsAbsolute, StatisticsRelative, what + " r");
            TestData.AssertClose(step.GetProperty("d").Doubles(), layer.D, StatisticsAbsolute, StatisticsRelative, what + " d");
            AssertStep(layer, step, y, dx, what);
            TestData.AssertClose(step.GetProperty("moving_mean_after").Doubles(), layer.MovingMean, StatisticsAbsolute, StatisticsRelative, what + " μ");
            TestData.AssertClose(step.GetProperty("moving_std_after").Doubles(), layer.MovingStd, StatisticsAbsolute, StatisticsRelative, what + " σ");
        }
        Assert.Equal(2, layer.Step);
        AssertInference(layer, c, rows, name);
    }

    // ------------------------------------------------------------------ ℓp batch norm

    [Theory]
    [MemberData(nameof(LpCases))]
    public void LpBatchNormLayerMatchesItsFormulaWithAutograd(string name)
    {
        var c = Golden.Case(File, "lp_batch_norm", name);
        var (rows, channels, spatial) = Shape(c);
        var norm = Enum.Parse<LpNorm>(c.GetProperty("norm").GetString()!);
        var layer = new LpBatchNormLayer(channels, spatial, norm);
        Assert.Equal(c.GetProperty("eps").GetSingle(), layer.Epsilon);
        Assert.Equal<double?>(c.GetProperty("momentum").GetDouble(), layer.Momentum);
        SetAffine(layer, c);
        int index = 0;
        foreach (var step in c.GetProperty("steps").EnumerateArray())
        {
            string what = $"{name} step {index++}";
            var (y, dx) = TrainingStep(layer, step, rows);
            AssertStep(layer, step, y, dx, what);
            TestData.AssertClose(step.GetProperty("running_mean_after").Doubles(), layer.RunningMean, StatisticsAbsolute, StatisticsRelative, what + " running mean");
            TestData.AssertClose(step.GetProperty("running_scale_after").Doubles(), layer.RunningScale, StatisticsAbsolute, StatisticsRelative, what + " running scale");
        }
        AssertInference(layer, c, rows, name);
    }

    // ------------------------------------------------------------------ group, instance and layer norm

    private static NormalizationLayer PerSampleLayer(JsonElement c)
    {
        var (_, channels, spatial) = Shape(c);
        return c.GetProperty("op").GetString() switch
        {
            "group" => new GroupNormLayer(channels, spatial, c.GetProperty("groups").GetInt32()),
            "instance" => new InstanceNormLayer(channels, spatial),
            "layer" => new LayerNormLayer(channels, spatial),
            var op => throw new InvalidDataException($"Unknown op {op}."),
        };
    }

    [Theory]
    [MemberData(nameof(PerSampleCases))]
    public void PerSampleLayerMatchesPyTorchModule(string name)
    {
        var c = Golden.Case(File, "per_sample", name);
        var (rows, _, _) = Shape(c);
        var layer = PerSampleLayer(c);
        Assert.Equal(c.GetProperty("eps").GetSingle(), ((GroupNormLayer)layer).Epsilon);
        Assert.Equal(c.GetProperty("groups").GetInt32(), ((GroupNormLayer)layer).Groups);
        SetAffine(layer, c);

        var x = c.GetProperty("input").Floats();
        var y = new float[x.Length];
        var dx = new float[x.Length];
        layer.Forward(x, y, rows, training: true);
        layer.Backward(c.GetProperty("output_gradient").Floats(), dx);
        AssertStep(layer, c, y, dx, name);

        var inference = new float[x.Length];
        layer.Forward(x, inference, rows, training: false);
        TestData.AssertClose(c.GetProperty("eval_output").Doubles(), inference, Absolute, Relative, name + " inference");
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public void GroupNormBackwardFarFromZeroKeepsFloatPrecision(int groups)
    {
        // x = 1000 ± 2: uncentred, dx = k · dy + b · x + d cancels terms 10³ times larger than dx, about 5e-5 of it in
        // float rounding. The reference is the formula in double: dx = istd · (g − mean g − x̂ · mean(g · x̂)), g = γ · dy.
        const int rows = 2, channels = 4, spatial = 9;
        var random = new Random(11);
        float[] Draw(int length, double offset, double range) => Enumerable.Range(0, length).Select(_ => (float)(offset + range * (2 * random.NextDouble() - 1))).ToArray();
        var (x, dy, gamma) = (Draw(rows * channels * spatial, 1000, 2), Draw(rows * channels * spatial, 0, 1), Draw(channels, 1, 0.5));
        var layer = new GroupNormLayer(channels, spatial, groups);
        gamma.CopyTo(layer.Gamma, 0);
        layer.Forward(x, new float[x.Length], rows, training: true);
        var dx = new float[x.Length];
        layer.Backward(dy, dx);

        int length = channels / groups * spatial;
        double largest = 0, worst = 0;
        for (int start = 0; start < x.Length; start += length)
        {
            var values = x.AsSpan(start, length).ToArray().Select(v => (double)v).ToArray();
            double mean = values.Average(), istd = 1 / Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / length + 1e-5);
            var xhat = values.Select(v => (v - mean) * istd).ToArray();
            var g = Enumerable.Range(0, length).Select(i => (double)dy[start + i] * gamma[(start + i) / spatial % channels]).ToArray();
            double meanG = g.Average(), meanGXhat = g.Zip(xhat, (a, b) => a * b).Average();
            for (int i = 0; i < length; i++)
            {
                double expected = istd * (g[i] - meanG - xhat[i] * meanGXhat);
                largest = Math.Max(largest, Math.Abs(expected));
                worst = Math.Max(worst, Math.Abs(dx[start + i] - expected));
            }
        }
        Assert.True(worst <= 2e-6 * largest, $"largest |dx| {largest:E3}, worst error {worst:E3} ({worst / largest:E2} of it)");
    }

    [Fact]
    public void InstanceNormLayerIsGroupNormWithAGroupPerChannel()
    {
        var layer = new InstanceNormLayer(6, 35);
        Assert.IsAssignableFrom<GroupNormLayer>(layer);
        Assert.Equal(6, layer.Groups);
        Assert.Equal(1e-5f, layer.Epsilon);
        Assert.Equal(Enumerable.Repeat(1f, 6), layer.Gamma);
        Assert.Equal(new float[6], layer.Beta);
        Assert.Equal(0.5f, new InstanceNormLayer(2, 4, epsilon: 0.5f).Epsilon);
    }

    [Theory]
    [MemberData(nameof(InstanceRefusalCases))]
    public void InstanceNormOverOneSpatialElementIsRefusedAsPyTorchDoes(string name)
    {
        var c = Golden.Case(File, "instance_norm_refusals", name);
        var (rows, channels, spatial) = Shape(c);
        Assert.Equal(1, spatial);
        // PyTorch's message starts with this sentence, in train and in eval mode (no running statistics to fall back on).
        const string sentence = "Expected more than 1 spatial element when training";
        Assert.StartsWith(sentence, c.GetProperty("train_error").GetString());
        Assert.StartsWith(sentence, c.GetProperty("eval_error").GetString());

        var layer = new InstanceNormLayer(channels, spatial);
        var x = new float[rows * channels];
        foreach (bool training in new[] { true, false })
        {
            var error = Assert.Throws<InvalidOperationException>(() => layer.Forward(x, new float[x.Length], rows, training));
            Assert.StartsWith(sentence, error.Message);
            Assert.Contains($"({rows}, {channels}, 1)", error.Message);
        }
    }

    // ------------------------------------------------------------------ finite differences

    private static readonly Dictionary<string, Func<NormalizationLayer>> FiniteDifferenceLayers = new()
    {
        // 2 rows of 4 channels of 2 × 3 maps.
        ["batch"] = () => new BatchNormLayer(4, 6),
        ["renorm_clipped"] = () =>
        {
            // r and d are constants in backprop; clipped in every channel they are locally constant, so finite
            // differences apply: moving statistics far from the batch's (σ small or large, μ far).
            var layer = new BatchRenormLayer(4, 6, RenormSchedule.Constant(1.5, 0.5));
            float[] mean = [5f, -5f, 5f, -5f], std = [0.1f, 5f, 0.1f, 5f];
            mean.CopyTo(layer.MovingMean, 0);
            std.CopyTo(layer.MovingStd, 0);
            return layer;
        },
        // A fresh layer with the same seed draws the same noise (the draws do not depend on the input).
        ["noisy"] = () => new NoisyBatchNormLayer(4, 6, shiftRange: 0.5, scaleRange: 0.6, noiseStd: 0.3, seed: 23),
        ["lp_l1"] = () => new LpBatchNormLayer(4, 6, LpNorm.L1),
        ["lp_l2"] = () => new LpBatchNormLayer(4, 6, LpNorm.L2),
        ["lp_linf"] = () => new LpBatchNormLayer(4, 6, LpNorm.LInf),
        ["group1"] = () => new GroupNormLayer(4, 6, groups: 1),
        ["group2"] = () => new GroupNormLayer(4, 6, groups: 2),
        ["group4"] = () => new GroupNormLayer(4, 6, groups: 4),
        ["instance"] = () => new InstanceNormLayer(4, 6),
        ["layer"] = () => new LayerNormLayer(4, 6),
    };

    public static TheoryData<string> FiniteDifferenceCases() => new(FiniteDifferenceLayers.Keys);

    private static float[] Uniform(int length, int seed, double low, double high)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(low + (high - low) * random.NextDouble())).ToArray();
    }

    /// <summary>
    /// Central differences of L = Σ y · w (float forward of a fresh layer, h = 2e-3) in every x, γ and β against
    /// Backward, on a 2 × 4 × 2 × 3 batch. The loss sums at most 48 float outputs of size ≤ 3, each rounded by
    /// ≤ 1.2e-7, so a difference quotient carries ≤ 48 · 2.4e-7 · 1.5 / 4e-3 ≈ 4e-3 of rounding in the worst case
    /// (about 5e-4 typically); h² times the third derivative is below 1e-4. Bound: 5e-3 + 2e-2 · |numeric|.
    /// </summary>
    [Theory]
    [MemberData(nameof(FiniteDifferenceCases))]
    public void BackwardMatchesFiniteDifferences(string name)
    {
        const int rows = 2;
        const float h = 2e-3f;
        var create = FiniteDifferenceLayers[name];
        var layer = create();
        var x = Uniform(rows * layer.Features, 41, -2, 2);
        var weights = Uniform(rows * layer.Features, 42, -1.5, 1.5);
        Uniform(layer.Gamma.Length, 43, 0.5, 1.5).CopyTo(layer.Gamma, 0);
        Uniform(layer.Beta.Length, 44, -0.5, 0.5).CopyTo(layer.Beta, 0);
        if (layer is LpBatchNormLayer lp)
            AssertPiecewiseSmoothAtX(x, rows, lp, h);

        double Loss()
        {
            var fresh = create();
            layer.Gamma.CopyTo(fresh.Gamma, 0);
            layer.Beta.CopyTo(fresh.Beta, 0);
            var y = new float[x.Length];
            fresh.Forward(x, y, rows, training: true);
            return y.Zip(weights, (a, b) => (double)a * b).Sum();
        }

        var dx = new float[x.Length];
        var output = new float[x.Length];
        layer.Forward(x, output, rows, training: true);
        layer.Backward(weights, dx);
        if (layer is BatchRenormLayer renorm)
        {
            Assert.Equal([1.5f, 1 / 1.5f, 1.5f, 1 / 1.5f], renorm.R);
            Assert.Equal([-0.5f, 0.5f, -0.5f, 0.5f], renorm.D);
        }

        FiniteDifferences.Check(x, dx, Loss, h, $"{name} dx", absolute: 5e-3, relative: 2e-2);
        FiniteDifferences.Check(layer.Gamma, layer.GammaGradient, Loss, h, $"{name} dγ", absolute: 5e-3, relative: 2e-2);
        FiniteDifferences.Check(layer.Beta, layer.BetaGradient, Loss, h, $"{name} dβ", absolute: 5e-3, relative: 2e-2);
        Assert.Contains(dx, v => Math.Abs(v) > 0.05);
    }

    /// <summary>
    /// The ℓ1 and ℓ∞ magnitudes have kinks (|x − μ| at 0, the arg-max of |x − μ|); a difference quotient across one
    /// means nothing. A step of h moves x − μ by at most h, so the data keeps every |x − μ| ≥ 4h (ℓ1) and each
    /// channel's two largest |x − μ| 4h apart (ℓ∞).
    /// </summary>
    private static void AssertPiecewiseSmoothAtX(float[] x, int rows, LpBatchNormLayer layer, float h)
    {
        for (int c = 0; c < layer.Channels; c++)
        {
            var values = ChannelValues(x.Select(v => (double)v).ToArray(), rows, layer.Channels, layer.SpatialSize, c);
            double mean = values.Average();
            var deviations = values.Select(v => Math.Abs(v - mean)).OrderDescending().ToArray();
            if (layer.Norm == LpNorm.L1)
                Assert.True(deviations[^1] >= 4 * h, $"channel {c}: |x − μ| = {deviations[^1]} is within 4h of the kink");
            if (layer.Norm == LpNorm.LInf)
                Assert.True(deviations[0] - deviations[1] >= 4 * h, $"channel {c}: the two largest |x − μ| are within 4h");
        }
    }

    // ------------------------------------------------------------------ thread counts

    public static TheoryData<int, int, int> CnnShapes => new()
    {
        { 64, 32, 28 * 28 },  // after the first convolution of the Fashion-MNIST network
        { 64, 64, 14 * 14 },  // after the second
    };

    private static readonly string[] ThreadedLayers = ["batch", "group8", "layer", "instance", "renorm"];

    private static NormalizationLayer ThreadedLayer(string kind, int channels, int spatial) => kind switch
    {
        "batch" => new BatchNormLayer(channels, spatial),
        "group8" => new GroupNormLayer(channels, spatial, groups: 8),
        "layer" => new LayerNormLayer(channels, spatial),
        "instance" => new InstanceNormLayer(channels, spatial),
        _ => new BatchRenormLayer(channels, spatial, RenormSchedule.Constant(2, 1)),
    };

    /// <summary>
    /// Two training steps (forward, backward) and an inference forward, with the given thread cap; every output and
    /// state. <paramref name="batches"/> holds x and dy of both steps, then the inference input.
    /// </summary>
    private static List<float[]> Run(string kind, int rows, int channels, int spatial, float[][] batches, int threads, bool singleThreadedPaths)
    {
        int previousThreads = ParallelUnits.MaxDegreeOfParallelism;
        long previousMinimum = ParallelUnits.MinimumParallelElements;
        ParallelUnits.MaxDegreeOfParallelism = threads;
        ParallelUnits.MinimumParallelElements = singleThreadedPaths ? long.MaxValue : 0;
        try
        {
            var layer = ThreadedLayer(kind, channels, spatial);
            int length = rows * channels * spatial;
            Uniform(layer.Gamma.Length, 5, 0.5, 1.5).CopyTo(layer.Gamma, 0);
            Uniform(layer.Beta.Length, 6, -0.5, 0.5).CopyTo(layer.Beta, 0);
            var results = new List<float[]>();
            for (int step = 0; step < 2; step++)
            {
                float[] x = batches[2 * step], dy = batches[2 * step + 1];
                var y = new float[length];
                var dx = new float[length];
                layer.Forward(x, y, rows, training: true);
                layer.Backward(dy, dx);
                results.AddRange([y, dx, layer.GammaGradient.ToArray(), layer.BetaGradient.ToArray()]);
                switch (layer)
                {
                    case BatchNormLayer bn:
                        results.AddRange([bn.RunningMean.ToArray(), bn.RunningVariance.ToArray()]);
                        break;
                    case BatchRenormLayer renorm:
                        results.AddRange([renorm.MovingMean.ToArray(), renorm.MovingStd.ToArray(), renorm.R.ToArray(), renorm.D.ToArray()]);
                        break;
                }
            }
            var inference = new float[length];
            layer.Forward(batches[4], inference, rows, training: false);
            results.Add(inference);
            return results;
        }
        finally
        {
            ParallelUnits.MaxDegreeOfParallelism = previousThreads;
            ParallelUnits.MinimumParallelElements = previousMinimum;
        }
    }

    /// <summary>
    /// At the network's shapes (1.6 M and 0.8 M values, far above the 2¹⁷ from which the kernels share work among
    /// threads), forward and backward give the same bits on the single-threaded paths and on 1, 2 or 3 threads.
    /// </summary>
    [Theory]
    [MemberData(nameof(CnnShapes))]
    public void CnnShapedBatchesAreBitIdenticalForAnyThreadCount(int rows, int channels, int spatial)
    {
        int length = rows * channels * spatial;
        Assert.True(length > 1 << 17);
        // Inputs far from zero (mean 3): the shifted one-pass sums and their order matter. Gradients around zero.
        float[][] batches = [Uniform(length, 10, 1, 5), Uniform(length, 20, -1, 1), Uniform(length, 11, 1, 5), Uniform(length, 21, -1, 1), Uniform(length, 30, 1, 5)];
        foreach (var kind in ThreadedLayers)
        {
            var single = Run(kind, rows, channels, spatial, batches, threads: 1, singleThreadedPaths: true);
            foreach (int threads in new[] { 1, 2, 3 })
            {
                var several = Run(kind, rows, channels, spatial, batches, threads, singleThreadedPaths: false);
                Assert.Equal(single.Count, several.Count);
                for (int output = 0; output < single.Count; output++)
                    Assert.True(single[output].AsSpan().SequenceEqual(several[output]),
                        $"{kind}: output {output} differs between the single-threaded paths and {threads} thread(s).");
            }
        }
    }
}
