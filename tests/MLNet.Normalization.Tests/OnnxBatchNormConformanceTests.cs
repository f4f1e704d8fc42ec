using System.Text.Json;
using Microsoft.ML;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests;

/// <summary>
/// BatchNormLayer and the fitted BatchNorm transform against ONNX's own backend test data for BatchNormalization in
/// training mode (opset 15): test_batchnorm_example_training_mode and test_batchnorm_epsilon_training_mode, read by
/// tools/golden/make_onnx_batchnorm.py from Debian's libonnx-testdata. ONNX's momentum weights the old value and its
/// running variance averages the BIASED batch variance, so the library runs with momentum 1 − ONNX's and
/// UnbiasedRunningVariance false; with the defaults (unbiased, as PyTorch) the same step gives PyTorch's values.
/// </summary>
/// <remarks>
/// Tolerances: ONNX's outputs are float32 computed in float32 by numpy; against the float64 formula they are off by at
/// most 2e-7 in Y (|Y| ≤ 3.01) and 7e-8 in the running statistics, and ours are float32 too (half an ulp at 3 is
/// 1.2e-7). So 1e-6 absolute, plus 1e-6 relative, bounds both roundings with margin. The biased and unbiased running
/// variances of these cases differ by at least 2e-3 (0.1 · σ²_B / 39 with 40 values per channel), 2000 times that
/// tolerance, and so do momentum 0.9 and 0.1 in the running mean.
/// </remarks>
public class OnnxBatchNormConformanceTests
{
    private const double Absolute = 1e-6, Relative = 1e-6;

    private static readonly JsonElement File = Golden.Load("onnx_batchnorm_training.json");

    private static IEnumerable<string> CaseNames => File.GetProperty("onnx_cases").EnumerateArray().Select(c => c.GetProperty("name").GetString()!);

    public static TheoryData<string> Cases() => Golden.Names(File, "onnx_cases");

    public static TheoryData<string, BatchNormFitMode> PopulationCases()
    {
        var data = new TheoryData<string, BatchNormFitMode>();
        foreach (var name in CaseNames)
        {
            data.Add(name, BatchNormFitMode.Exact);
            data.Add(name, BatchNormFitMode.Cumulative);
        }
        return data;
    }

    private sealed record OnnxCase(JsonElement Json)
    {
        public int Rows => Json.GetProperty("shape")[0].GetInt32();
        public int Channels => Json.GetProperty("shape")[1].GetInt32();
        public int Spatial => Json.GetProperty("shape")[2].GetInt32() * Json.GetProperty("shape")[3].GetInt32();
        public float Epsilon => Json.GetProperty("epsilon").GetSingle();

        /// <summary>ONNX's momentum is the weight of the old value; the library's (PyTorch's) is the new batch's.</summary>
        public double PyTorchMomentum => 1 - Json.GetProperty("momentum").GetDouble();

        public float[] Get(string field) => Json.GetProperty(field).Floats();
        public double[] Expected(string field) => Json.GetProperty(field).Doubles();

        /// <summary>X (N, C, H, W) as N rows of dimensions (C, H, W).</summary>
        public IDataView Data(MLContext ml)
        {
            var x = Get("x");
            int length = Channels * Spatial;
            var shape = Json.GetProperty("shape").Ints();
            return TestData.Vectors(ml, Enumerable.Range(0, Rows).Select(n => x.AsSpan(n * length, length).ToArray()), shape[1], shape[2], shape[3]);
        }
    }

    private static OnnxCase Onnx(string name) => new(Golden.Case(File, "onnx_cases", name));

    private static JsonElement Fitted(string name) => Golden.Case(File, "fitted_cases", name);

    /// <summary>A layer set up as the ONNX node: γ = scale, β = B, running statistics from input_mean and input_var.</summary>
    private static BatchNormLayer LayerFromOnnxInputs(OnnxCase c, double? momentum, bool unbiased)
    {
        var layer = new BatchNormLayer(c.Channels, c.Spatial, momentum, c.Epsilon, unbiased);
        c.Get("scale").CopyTo(layer.Gamma, 0);
        c.Get("bias").CopyTo(layer.Beta, 0);
        c.Get("input_mean").CopyTo(layer.RunningMean, 0);
        c.Get("input_var").CopyTo(layer.RunningVariance, 0);
        return layer;
    }

    private static float[] TrainingStep(BatchNormLayer layer, OnnxCase c)
    {
        var y = new float[c.Rows * c.Channels * c.Spatial];
        layer.Forward(c.Get("x"), y, c.Rows, training: true);
        return y;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerTrainingStepMatchesOnnxWithBiasedRunningVariance(string name)
    {
        var c = Onnx(name);
        var layer = LayerFromOnnxInputs(c, c.PyTorchMomentum, unbiased: false);

        var y = TrainingStep(layer, c);

        TestData.AssertClose(c.Expected("y"), y, Absolute, Relative, name + " Y");
        TestData.AssertClose(c.Expected("running_mean"), layer.RunningMean, Absolute, Relative, name + " running_mean");
        TestData.AssertClose(c.Expected("running_var"), layer.RunningVariance, Absolute, Relative, name + " running_var");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerDefaultsGivePyTorchsRunningVarianceOnTheSameStep(string name)
    {
        var c = Onnx(name);
        var layer = LayerFromOnnxInputs(c, c.PyTorchMomentum, unbiased: true);

        var y = TrainingStep(layer, c);

        // The forward pass normalizes with the biased batch variance either way: Y is ONNX's.
        TestData.AssertClose(c.Expected("y"), y, Absolute, Relative, name + " Y");
        TestData.AssertClose(c.Expected("pytorch_running_mean"), layer.RunningMean, Absolute, Relative, name + " running_mean");
        TestData.AssertClose(c.Expected("pytorch_running_var"), layer.RunningVariance, Absolute, Relative, name + " running_var");
        Assert.True(new BatchNormLayer(1).UnbiasedRunningVariance, "the layer's default is PyTorch's unbiased running variance");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LayerMomentumZeroFreezesTheStatisticsAsOnnxMomentumOne(string name)
    {
        // ONNX's spec with momentum 1: running_mean = input_mean · 1 + current_mean · 0 = input_mean, and so for the variance.
        var c = Onnx(name);
        var layer = LayerFromOnnxInputs(c, momentum: 0, unbiased: false);

        var y = TrainingStep(layer, c);

        Assert.Equal(c.Get("input_mean"), layer.RunningMean);
        Assert.Equal(c.Get("input_var"), layer.RunningVariance);
        TestData.AssertClose(c.Expected("y"), y, Absolute, Relative, name + " Y (batch statistics)");
        Assert.Equal(1, layer.BatchesTracked);
    }

    /// <summary>
    /// The fitted transform starts from mean 0 and variance 1, not from ONNX's input_mean and input_var, so its
    /// statistics are compared with ONNX's reference implementation of the same update from 0 and 1
    /// (fitted_cases, float64), and its output with ONNX's inference formula on them.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void FittedTransformOneBatchMatchesOnnxReferenceFromZeroAndOne(string name)
    {
        var ml = new MLContext(seed: 1);
        var c = Onnx(name);
        var f = Fitted(name);
        var data = c.Data(ml);

        var transformer = ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions
        {
            FitMode = BatchNormFitMode.MovingAverage,
            BatchSize = c.Rows,
            Momentum = c.PyTorchMomentum,
            UnbiasedRunningVariance = false,
            Epsilon = c.Epsilon,
            Gamma = c.Get("scale"),
            Beta = c.Get("bias"),
        }).Fit(data);

        TestData.AssertClose(f.GetProperty("running_mean").Doubles(), transformer.Parameters.RunningMean.ToArray(), Absolute, Relative, name + " running_mean");
        TestData.AssertClose(f.GetProperty("running_var").Doubles(), transformer.Parameters.RunningVariance.ToArray(), Absolute, Relative, name + " running_var");
        Assert.Equal(c.Epsilon, transformer.Parameters.Epsilon);
        var output = TestData.Read(transformer.Transform(data), "Out").SelectMany(r => r).ToArray();
        TestData.AssertClose(f.GetProperty("output").Doubles(), output, Absolute, Relative, name + " output");
    }

    [Theory]
    [MemberData(nameof(PopulationCases))]
    public void FittedTransformWithBiasedVarianceGivesThePopulationVariance(string name, BatchNormFitMode mode)
    {
        // Exact: over all the data; Cumulative: the one batch's statistics replace the initial values.
        var ml = new MLContext(seed: 1);
        var c = Onnx(name);
        var f = Fitted(name);

        var transformer = ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions
        {
            FitMode = mode,
            BatchSize = c.Rows,
            UnbiasedRunningVariance = false,
            Gamma = c.Get("scale"),
        }).Fit(c.Data(ml));

        TestData.AssertClose(f.GetProperty("population_mean").Doubles(), transformer.Parameters.RunningMean.ToArray(), Absolute, Relative, $"{name} {mode} mean");
        TestData.AssertClose(f.GetProperty("population_var").Doubles(), transformer.Parameters.RunningVariance.ToArray(), Absolute, Relative, $"{name} {mode} variance");
    }

    [Fact]
    public void FittedTransformMomentumZeroKeepsTheInitialStatistics()
    {
        var ml = new MLContext(seed: 1);
        var c = Onnx(CaseNames.First());

        var transformer = ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions
        {
            Momentum = 0,
            BatchSize = c.Rows,
            Gamma = c.Get("scale"),
        }).Fit(c.Data(ml));

        Assert.Equal(new float[c.Channels], transformer.Parameters.RunningMean);
        Assert.Equal(Enumerable.Repeat(1f, c.Channels), transformer.Parameters.RunningVariance);
    }
}
