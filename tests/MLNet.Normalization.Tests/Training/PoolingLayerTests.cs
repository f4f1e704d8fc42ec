using System.Text.Json;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// The pooling and flatten layers against PyTorch's <c>max_pool2d</c> (with its indices), <c>avg_pool2d</c> and
/// <c>adaptive_avg_pool2d</c> (tools/golden/make_conv_layers.py), finite differences, and thread counts.
/// </summary>
public class PoolingLayerTests
{
    private static readonly JsonElement File = Golden.Load("conv_layers.json");

    public static TheoryData<string> Cases() => Golden.Names(File, "pool");

    private static Layer FromCase(JsonElement c)
    {
        var shape = c.GetProperty("input_shape").Ints();
        var input = new ImageShape(shape[0], shape[1], shape[2]);
        if (c.GetProperty("op").GetString() == "global_avg")
            return new GlobalAveragePoolLayer(input);
        int kernel = c.GetProperty("kernel_size").GetInt32(), padding = c.GetProperty("padding").GetInt32();
        var strideElement = c.GetProperty("stride");
        int? stride = strideElement.ValueKind == JsonValueKind.Null ? null : strideElement.GetInt32();
        return c.GetProperty("op").GetString() == "max"
            ? new MaxPool2dLayer(input, kernel, stride, padding)
            : new AvgPool2dLayer(input, kernel, stride, padding);
    }

    /// <summary>The values with NaN put back at the indices the golden lists (JSON has no NaN).</summary>
    private static float[] WithNaN(JsonElement c, string values, string nan)
    {
        var result = c.GetProperty(values).Floats();
        foreach (int i in c.GetProperty(nan).Ints())
            result[i] = float.NaN;
        return result;
    }

    /// <summary>
    /// Max pooling copies values and routes gradients, so it must match exactly, NaN included: the same maximum (the
    /// first of ties, a NaN over anything), so dx is dy at PyTorch's indices. Averages of at most 9 float32 values
    /// (and 20 for the global mean) are within 1e-6 of the float64 goldens.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchPyTorch(string name)
    {
        var c = Golden.Case(File, "pool", name);
        var layer = FromCase(c);
        int rows = c.GetProperty("rows").GetInt32();
        var x = WithNaN(c, "input", "input_nan");
        var y = new float[rows * layer.OutputFeatures];
        var dx = new float[x.Length];
        var outputShape = c.GetProperty("output_shape").Ints();
        Assert.Equal(outputShape.Aggregate(1, (a, b) => a * b), layer.OutputFeatures);

        layer.Forward(x, y, rows, training: true);
        layer.Backward(c.GetProperty("output_gradient").Floats(), dx);

        var expected = WithNaN(c, "output", "output_nan");
        if (c.GetProperty("op").GetString() == "max")
        {
            Assert.Equal(expected, y);
            var inputGradient = c.GetProperty("input_gradient").Doubles();
            // A value chosen by several overlapping windows sums their float32 gradients.
            TestData.AssertClose(inputGradient, dx, 1e-6, 1e-6, name + " dx");
            // The indices PyTorch reports: dy at each index, and nothing elsewhere, is the gradient.
            var indices = c.GetProperty("indices").Ints();
            var dy = c.GetProperty("output_gradient").Doubles();
            int planeIn = layer.InputFeatures / ((MaxPool2dLayer)layer).Input.Channels, planeOut = indices.Length / (rows * ((MaxPool2dLayer)layer).Input.Channels);
            var routed = new double[x.Length];
            for (int j = 0; j < indices.Length; j++)
                routed[j / planeOut * planeIn + indices[j]] += dy[j];
            TestData.AssertClose(routed, dx, 1e-6, 1e-6, name + " dx from PyTorch's indices");
            return;
        }
        TestData.AssertClose(expected.Select(v => (double)v).ToArray(), y, 1e-6, 1e-6, name + " y");
        TestData.AssertClose(c.GetProperty("input_gradient").Doubles(), dx, 1e-6, 1e-6, name + " dx");
    }

    [Fact]
    public void NaNAndTieCasesAreInTheGoldens()
    {
        // The premise of the exact comparisons above: the goldens hold ties and NaN windows.
        var nan = Golden.Case(File, "pool", "max_k2_s1_nan");
        Assert.NotEmpty(nan.GetProperty("input_nan").Ints());
        Assert.NotEmpty(nan.GetProperty("output_nan").Ints());
        var ties = Golden.Case(File, "pool", "max_k2_s2_ties").GetProperty("input").Doubles();
        Assert.True(ties.Length > ties.Distinct().Count() * 10);
        // And rows of at least 4 outputs, the vectorized path, with ties and NaN too.
        foreach (var name in new[] { "max_k2_s2_wide", "max_k2_s2_wide_ties", "max_k2_s2_wide_nan", "max_k2_s2_wide_odd_floor", "avg_k2_s2_wide", "avg_k2_s2_wide_odd_floor" })
            Assert.True(Golden.Case(File, "pool", name).GetProperty("output_shape")[2].GetInt32() >= 4, name);
        Assert.NotEmpty(Golden.Case(File, "pool", "max_k2_s2_wide_nan").GetProperty("output_nan").Ints());
    }

    [Fact]
    public void MaxPoolRoutesTiesToTheFirstAndNaNToTheLastNaN()
    {
        // One 1 × 2 × 4 plane, k = 2 (windows: columns 0-1, 2-3).
        var layer = new MaxPool2dLayer(new ImageShape(1, 2, 4), 2);
        float[] x = [5, 5, 1, float.NaN, 5, 5, float.NaN, 2];
        var y = new float[2];
        var dx = new float[8];
        layer.Forward(x, y, 1, training: true);
        layer.Backward([1, 10], dx);
        Assert.Equal(5, y[0]);
        Assert.True(float.IsNaN(y[1]));
        Assert.Equal([1f, 0, 0, 0, 0, 0, 10, 0], dx);

        // The same windows in rows of 4 outputs (the vectorized path), each lane a different case: ties in lanes 0 and 1,
        // NaN in lanes 1 and 2, and a later, larger value in lane 3.
        var wide = new MaxPool2dLayer(new ImageShape(1, 2, 8), 2);
        float[] row0 = [5, 5, 1, float.NaN, float.NaN, 3, 1, 2], row1 = [5, 5, float.NaN, 2, 7, 7, 3, 9];
        var wideY = new float[4];
        var wideDx = new float[16];
        wide.Forward([.. row0, .. row1], wideY, 1, training: true);
        wide.Backward([1, 10, 100, 1000], wideDx);
        Assert.Equal(5, wideY[0]);
        Assert.True(float.IsNaN(wideY[1]) && float.IsNaN(wideY[2]));
        Assert.Equal(9, wideY[3]);
        // Lane 0: the first 5; lane 1: the NaN of row 1 (the last); lane 2: the NaN of row 0 (the only one); lane 3: 9.
        Assert.Equal([1f, 0, 0, 0, 100, 0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 1000], wideDx);

        // Windows entirely −∞ choose their first position, as PyTorch's loop starts there.
        layer.Forward([float.NegativeInfinity, float.NegativeInfinity, 0, 0, float.NegativeInfinity, float.NegativeInfinity, 0, 0], y, 1, training: true);
        layer.Backward([3, 4], dx);
        Assert.Equal([float.NegativeInfinity, 0f], y);
        Assert.Equal([3f, 0, 4, 0, 0, 0, 0, 0], dx);
    }

    public static TheoryData<string> FiniteDifferenceLayers() => ["max", "max_wide", "max_overlapping_padded", "avg", "avg_wide", "avg_padded", "global", "flatten"];

    private static Layer Create(string kind) => kind switch
    {
        "max" => new MaxPool2dLayer(new ImageShape(2, 5, 6), 2),
        "max_wide" => new MaxPool2dLayer(new ImageShape(2, 5, 18), 2),
        "max_overlapping_padded" => new MaxPool2dLayer(new ImageShape(2, 5, 6), 3, 2, 1),
        "avg" => new AvgPool2dLayer(new ImageShape(2, 5, 6), 2),
        "avg_wide" => new AvgPool2dLayer(new ImageShape(2, 5, 18), 2),
        "avg_padded" => new AvgPool2dLayer(new ImageShape(2, 5, 6), 3, 1, 1),
        "global" => new GlobalAveragePoolLayer(new ImageShape(2, 5, 6)),
        _ => new FlattenLayer(new ImageShape(2, 5, 6)),
    };

    /// <summary>
    /// Central differences of L = Σ y · g in x against Backward. The layers are piecewise linear; the inputs are
    /// distinct multiples of 1/64 apart by at least 1/64, so a step of 1e-3 never changes which value is a maximum.
    /// </summary>
    [Theory]
    [MemberData(nameof(FiniteDifferenceLayers))]
    public void BackwardMatchesFiniteDifferences(string kind)
    {
        const int rows = 2;
        var layer = Create(kind);
        var random = new Random(4);
        var x = Enumerable.Range(0, rows * layer.InputFeatures).Select(i => (i - 60) / 64f).OrderBy(_ => random.Next()).ToArray();
        var g = ConvolutionLayerTests.Values(rows * layer.OutputFeatures, 5);
        var dx = new float[x.Length];
        layer.Forward(x, new float[g.Length], rows, training: true);
        layer.Backward(g, dx);

        var y = new float[g.Length];
        double Loss()
        {
            layer.Forward(x, y, rows, training: false);
            return y.Zip(g, (a, b) => (double)a * b).Sum();
        }
        FiniteDifferences.Check(x, dx, Loss, 1e-3f, "dx", absolute: 1e-3, relative: 1e-2);
    }

    [Fact]
    public void ShapesFollowFloorModeAndTheDefaults()
    {
        var max = new MaxPool2dLayer(new ImageShape(3, 7, 5), 2);
        Assert.Equal((new ImageShape(3, 3, 2), 2, 2, 0), (max.Output, max.KernelSize, max.Stride, max.Padding));
        Assert.Equal(new ImageShape(3, 7, 5), max.Input);
        Assert.Equal(3 * 3 * 2, max.OutputFeatures);
        var avg = new AvgPool2dLayer(new ImageShape(2, 7, 6), 3, 2, 1);
        Assert.Equal((new ImageShape(2, 4, 3), 3, 2, 1), (avg.Output, avg.KernelSize, avg.Stride, avg.Padding));
        var global = new GlobalAveragePoolLayer(new ImageShape(5, 3, 4));
        Assert.Equal((60, 5, new ImageShape(5, 3, 4)), (global.InputFeatures, global.OutputFeatures, global.Input));
        var flatten = new FlattenLayer(new ImageShape(5, 3, 4));
        Assert.Equal((60, 60, new ImageShape(5, 3, 4)), (flatten.InputFeatures, flatten.OutputFeatures, flatten.Input));
        Assert.All(new Layer[] { max, avg, global, flatten }, l => Assert.Empty(l.Parameters));
    }

    [Fact]
    public void BadArgumentsAreRefusedNamingThem()
    {
        var shape = new ImageShape(3, 2, 2);
        void Refused(string parameter, string message, Action create)
        {
            var error = Assert.ThrowsAny<ArgumentException>(create);
            Assert.Equal(parameter, error.ParamName);
            Assert.Contains(message, error.Message);
        }

        foreach (var pool in new Func<ImageShape, int, int?, int, Layer>[] { (s, k, st, p) => new MaxPool2dLayer(s, k, st, p), (s, k, st, p) => new AvgPool2dLayer(s, k, st, p) })
        {
            Refused("kernelSize", "kernelSize 3 shrinks the 3 × 2 × 2 map below 1 × 1", () => pool(shape, 3, null, 0));
            Refused("kernelSize", "kernelSize must be positive, got 0", () => pool(shape, 0, null, 0));
            Refused("stride", "stride must be positive, got 0", () => pool(shape, 2, 0, 0));
            Refused("padding", "padding must not be negative, got -1", () => pool(shape, 2, null, -1));
            Refused("padding", "padding must be at most half of kernelSize 3 (⌊3 / 2⌋ = 1), as PyTorch requires, got 2", () => pool(new ImageShape(1, 9, 9), 3, 1, 2));
            Refused("input", "input must have positive channels, height and width", () => pool(new ImageShape(3, -2, 2), 1, null, 0));
            Refused("input", "a layer is at most 1048576 values wide", () => pool(new ImageShape(2, 1024, 1024), 2, null, 0));
            pool(shape, 3, null, 1);
        }
        Refused("input", "input must have positive channels, height and width", () => new GlobalAveragePoolLayer(new ImageShape(1, 0, 3)));
        Refused("input", "a layer is at most 1048576 values wide", () => new GlobalAveragePoolLayer(new ImageShape(2, 1024, 1024)));
        Refused("input", "input must have positive channels, height and width", () => new FlattenLayer(new ImageShape(1, 3, 0)));
        Refused("input", "a layer is at most 1048576 values wide", () => new FlattenLayer(new ImageShape(2, 1024, 1024)));
    }

    /// <summary>Forward (training and inference) and backward, forced onto the parallel paths, give the same bytes on 1, 2 and 3 threads.</summary>
    [Theory]
    [MemberData(nameof(FiniteDifferenceLayers))]
    public void ResultsAreBitIdenticalOnOneTwoAndThreeThreads(string kind)
    {
        const int rows = 9;
        float[][] Run(int threads)
        {
            using var scope = new ThreadingScope(threads);
            var layer = Create(kind);
            var x = ConvolutionLayerTests.Values(rows * layer.InputFeatures, 1);
            var g = ConvolutionLayerTests.Values(rows * layer.OutputFeatures, 2);
            float[] y = new float[g.Length], inference = new float[g.Length], dx = new float[x.Length];
            layer.Forward(x, y, rows, training: true);
            layer.Backward(g, dx);
            layer.Forward(x, inference, rows, training: false);
            return [y, dx, inference];
        }

        var expected = Run(1);
        Assert.Equal(expected[0], expected[2]);
        foreach (int threads in new[] { 2, 3 })
        {
            var actual = Run(threads);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"output {i} on {threads} threads differs from 1 thread.");
        }
    }
}
