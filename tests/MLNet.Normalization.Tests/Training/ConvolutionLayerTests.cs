using System.Text.Json;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// <see cref="Conv2dLayer"/> against PyTorch's <c>F.conv2d</c> and its autograd (tools/golden/make_conv_layers.py),
/// a direct double-precision loop, finite differences, and for bit-identical results on 1, 2 and 3 threads.
/// </summary>
public class ConvolutionLayerTests
{
    private static readonly JsonElement File = Golden.Load("conv_layers.json");

    public static TheoryData<string> Cases() => Golden.Names(File, "conv");

    private static Conv2dLayer FromCase(JsonElement c)
    {
        var shape = c.GetProperty("input_shape").Ints();
        bool bias = c.GetProperty("bias").GetBoolean();
        return new Conv2dLayer(new ImageShape(shape[0], shape[1], shape[2]), c.GetProperty("out_channels").GetInt32(), c.GetProperty("kernel_size").GetInt32(),
            c.GetProperty("stride").GetInt32(), c.GetProperty("padding").GetInt32(), c.GetProperty("weight").Floats(), bias ? c.GetProperty("bias_values").Floats() : null);
    }

    /// <summary>
    /// The goldens are float64 on float32 inputs; the layer computes in float32 with sums of at most 2 · 5 · 5 = 50
    /// products (150 for dW) of values below 2, so 1e-5 absolute plus 1e-5 relative bounds the rounding with margin.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackwardMatchPyTorch(string name)
    {
        var c = Golden.Case(File, "conv", name);
        var layer = FromCase(c);
        int rows = c.GetProperty("rows").GetInt32();
        var outputShape = c.GetProperty("output_shape").Ints();
        Assert.Equal(new ImageShape(outputShape[0], outputShape[1], outputShape[2]), layer.Output);
        var x = c.GetProperty("input").Floats();
        var y = new float[rows * layer.OutputFeatures];
        var dx = new float[x.Length];

        layer.Forward(x, y, rows, training: true);
        layer.Backward(c.GetProperty("output_gradient").Floats(), dx);

        TestData.AssertClose(c.GetProperty("output").Doubles(), y, 1e-5, 1e-5, name + " y");
        TestData.AssertClose(c.GetProperty("input_gradient").Doubles(), dx, 1e-5, 1e-5, name + " dx");
        TestData.AssertClose(c.GetProperty("weight_gradient").Doubles(), layer.WeightGradient, 1e-5, 1e-5, name + " dW");
        TestData.AssertClose(c.GetProperty("bias_gradient").Doubles(), layer.BiasGradient, 1e-5, 1e-5, name + " db");

        // Inference computes the same output (with scratch from the pool, not the layer's buffers).
        var inference = new float[y.Length];
        layer.Forward(x, inference, rows, training: false);
        Assert.Equal(y, inference);
    }

    [Fact]
    public void DefaultInitializationIsPyTorchsUniformBoundFromTheSeed()
    {
        var input = new ImageShape(3, 8, 8);
        var layer = new Conv2dLayer(input, 5, 3, seed: 4);
        double bound = 1 / Math.Sqrt(3 * 3 * 3);
        Assert.Equal(5 * 3 * 3 * 3, layer.Weight.Length);
        Assert.Equal(5, layer.Bias.Length);
        Assert.All(layer.Weight.Concat(layer.Bias), v => Assert.InRange(v, -bound, bound));
        // Spread over the whole range, not a constant.
        Assert.True(layer.Weight.Max() - layer.Weight.Min() > bound);

        // The same draws as LinearLayer's rule: weights first, then biases, from new Random(seed).
        var random = new Random(4);
        var expected = Enumerable.Range(0, 135 + 5).Select(_ => (float)(bound * (2 * random.NextDouble() - 1))).ToArray();
        Assert.Equal(expected, layer.Weight.Concat(layer.Bias).ToArray());
        Assert.Equal(layer.Weight, new Conv2dLayer(input, 5, 3, seed: 4).Weight);
        Assert.NotEqual(layer.Weight, new Conv2dLayer(input, 5, 3, seed: 5).Weight);

        Assert.Equal(["weight", "bias"], layer.Parameters.Select(p => p.Name));
        Assert.Same(layer.Weight, layer.Parameters[0].Values);
        Assert.Same(layer.BiasGradient, layer.Parameters[1].Gradient);
        Assert.True(layer.HasBias);

        var plain = new Conv2dLayer(input, 5, 3, stride: 2, padding: 1, bias: false);
        Assert.False(plain.HasBias);
        Assert.Empty(plain.Bias);
        Assert.Empty(plain.BiasGradient);
        Assert.Equal(["weight"], plain.Parameters.Select(p => p.Name));
        Assert.Equal((new ImageShape(5, 4, 4), 5, 3, 2, 1), (plain.Output, plain.OutChannels, plain.KernelSize, plain.Stride, plain.Padding));
        Assert.Equal(input, plain.Input);
        Assert.Equal(input.Size, plain.InputFeatures);
        Assert.Equal(5 * 4 * 4, plain.OutputFeatures);
    }

    [Fact]
    public void GivenWeightsAreCopied()
    {
        float[] weight = Enumerable.Range(0, 2 * 1 * 4).Select(i => i * 0.5f).ToArray(), bias = [1, -1];
        var layer = new Conv2dLayer(new ImageShape(1, 3, 3), 2, 2, 1, 0, weight, bias);
        weight[0] = 100;
        bias[0] = 100;
        Assert.Equal(0, layer.Weight[0]);
        Assert.Equal(1, layer.Bias[0]);
    }

    /// <summary>Central differences of L = Σ y · g (the float forward, summed in double) in x, W and b, against Backward.</summary>
    [Theory]
    [InlineData(1, 6, 5, 3, 3, 1, 1, true)]
    [InlineData(2, 5, 7, 2, 3, 2, 1, true)]
    [InlineData(3, 4, 4, 2, 1, 1, 0, false)]
    [InlineData(2, 6, 6, 2, 5, 2, 2, true)]
    public void BackwardMatchesFiniteDifferences(int channels, int height, int width, int outChannels, int kernel, int stride, int padding, bool bias)
    {
        const int rows = 2;
        var layer = new Conv2dLayer(new ImageShape(channels, height, width), outChannels, kernel, stride, padding, bias, seed: 3);
        var x = Values(rows * layer.InputFeatures, 5);
        var g = Values(rows * layer.OutputFeatures, 6);
        var dx = new float[x.Length];
        layer.Forward(x, new float[g.Length], rows, training: true);
        layer.Backward(g, dx);

        var y = new float[g.Length];
        double Loss()
        {
            layer.Forward(x, y, rows, training: false);
            return y.Zip(g, (a, b) => (double)a * b).Sum();
        }
        // The loss is linear in each value, so the central difference is exact up to the forward's rounding.
        FiniteDifferences.Check(x, dx, Loss, 1e-2f, "dx");
        FiniteDifferences.Check(layer.Weight, layer.WeightGradient, Loss, 1e-2f, "dW");
        FiniteDifferences.Check(layer.Bias, layer.BiasGradient, Loss, 1e-2f, "db");
    }

    /// <summary>
    /// A batch of more blocks of images than the weight gradient has groups (300 blocks of one 1 × 28 × 28 image in
    /// 16 groups of 18 or 19), against a direct double loop: the groups' partial sums and their total.
    /// </summary>
    [Fact]
    public void BatchesOfMoreBlocksThanGroupsMatchADirectDoubleLoop()
    {
        const int rows = 300;
        var input = new ImageShape(1, 28, 28);
        var layer = new Conv2dLayer(input, 2, 3, stride: 1, padding: 1, seed: 8);
        Assert.Equal(1, new Convolution(SlidingWindow.Create(input, 2, 3, 1, 1), 2).BlockImages);
        var x = Values(rows * input.Size, 9);
        var g = Values(rows * layer.OutputFeatures, 10);
        var y = new float[g.Length];
        var dx = new float[x.Length];
        layer.Forward(x, y, rows, training: true);
        layer.Backward(g, dx);

        var reference = new ReferenceConvolution(input, 2, 3, 1, 1, layer.Weight, layer.Bias);
        TestData.AssertClose(reference.Forward(x, rows), y, 1e-5, 1e-5, "y");
        var (expectedDx, expectedDw, expectedDb) = reference.Backward(x, g, rows);
        TestData.AssertClose(expectedDx, dx, 1e-5, 1e-5, "dx");
        // dW and db sum 300 · 784 products each: float32 sums over 235,200 terms of mixed sign.
        TestData.AssertClose(expectedDw, layer.WeightGradient, 1e-3, 1e-4, "dW");
        TestData.AssertClose(expectedDb, layer.BiasGradient, 1e-3, 1e-4, "db");
    }

    /// <summary>
    /// Shapes whose forward runs the direct kernel (stride 1, Cin · k² ≤ 54, output rows at least a vector wide), with
    /// widths that are not whole vectors and channel counts that are not whole blocks of 4, on the Vector512 and the
    /// portable kernel, against a direct double loop (the backward, on the GEMM path, too).
    /// </summary>
    [Theory]
    [InlineData(3, 1, 20, 17, 6, 3, 1, true)]
    [InlineData(2, 3, 18, 33, 5, 3, 0, false)]
    [InlineData(2, 1, 21, 16, 3, 5, 2, true)]
    [InlineData(2, 1, 19, 19, 7, 5, 4, true)]
    [InlineData(3, 2, 17, 24, 1, 1, 0, true)]
    [InlineData(2, 3, 16, 16, 2, 3, 2, false)]
    [InlineData(2, 6, 16, 18, 9, 3, 3, true)]
    public void DirectKernelShapesMatchADirectDoubleLoop(int rows, int channels, int height, int width, int outChannels, int kernel, int padding, bool bias)
    {
        var input = new ImageShape(channels, height, width);
        var convolution = new Convolution(SlidingWindow.Create(input, outChannels, kernel, 1, padding), outChannels);
        foreach (bool portable in new[] { false, true })
        {
            DirectConvolution.PortableOnly = portable;
            try
            {
                Assert.True(DirectConvolution.Applies(convolution), $"the direct kernel does not take this shape (portable {portable})");
                var layer = new Conv2dLayer(input, outChannels, kernel, 1, padding, bias, seed: 14);
                var x = Values(rows * input.Size, 15);
                var g = Values(rows * layer.OutputFeatures, 16);
                var y = new float[g.Length];
                var dx = new float[x.Length];
                layer.Forward(x, y, rows, training: true);
                layer.Backward(g, dx);

                var reference = new ReferenceConvolution(input, outChannels, kernel, 1, padding, layer.Weight, layer.Bias);
                string what = portable ? "portable" : "widest";
                TestData.AssertClose(reference.Forward(x, rows), y, 1e-5, 1e-5, what + " y");
                var (expectedDx, expectedDw, expectedDb) = reference.Backward(x, g, rows);
                TestData.AssertClose(expectedDx, dx, 1e-5, 1e-5, what + " dx");
                TestData.AssertClose(expectedDw, layer.WeightGradient, 1e-4, 1e-5, what + " dW");
                TestData.AssertClose(expectedDb, layer.BiasGradient, 1e-4, 1e-5, what + " db");
            }
            finally
            {
                DirectConvolution.PortableOnly = false;
            }
        }
    }

    [Fact]
    public void BackwardTwiceAccumulatesTwiceAndInferenceBetweenLeavesTheTrainingBatch()
    {
        var layer = new Conv2dLayer(new ImageShape(2, 6, 6), 3, 3, padding: 1, seed: 1);
        var x = Values(4 * layer.InputFeatures, 1);
        var other = Values(7 * layer.InputFeatures, 2);
        var g = Values(4 * layer.OutputFeatures, 3);
        float[] first = new float[x.Length], second = new float[x.Length];

        layer.Forward(x, new float[g.Length], 4, training: true);
        layer.Forward(other, new float[7 * layer.OutputFeatures], 7, training: false);
        layer.Backward(g, first);
        var once = (float[])layer.WeightGradient.Clone();
        var onceBias = (float[])layer.BiasGradient.Clone();
        layer.Backward(g, second);

        Assert.Equal(first, second);
        Assert.Equal(once.Select(v => 2 * v), layer.WeightGradient);
        Assert.Equal(onceBias.Select(v => 2 * v), layer.BiasGradient);
        var reference = new ReferenceConvolution(layer.Input, 3, 3, 1, 1, layer.Weight, layer.Bias).Backward(x, g, 4);
        TestData.AssertClose(reference.Dx, first, 1e-5, 1e-5, "dx");
        TestData.AssertClose(reference.Dw, once, 1e-5, 1e-5, "dW");
    }

    public static TheoryData<int, int, int, int, int, int, int, int> DeterminismCases() => new()
    {
        { 64, 1, 28, 28, 32, 3, 1, 1 },   // the Fashion-MNIST network's first convolution
        { 64, 32, 14, 14, 64, 3, 1, 1 },  // and its second
        { 5, 3, 9, 7, 4, 3, 2, 1 },
        { 1, 4, 6, 6, 3, 5, 1, 2 },       // one image: the product is the row
        { 100, 1, 28, 28, 2, 3, 1, 1 },   // more blocks than groups
    };

    /// <summary>Every output, forced onto the parallel paths (thresholds 1), is the same bytes on 1, 2 and 3 threads.</summary>
    [Theory]
    [MemberData(nameof(DeterminismCases))]
    public void ResultsAreBitIdenticalOnOneTwoAndThreeThreads(int rows, int channels, int height, int width, int outChannels, int kernel, int stride, int padding)
    {
        var input = new ImageShape(channels, height, width);
        var x = Values(rows * input.Size, 11);
        float[][] Run(int threads)
        {
            using var scope = new ThreadingScope(threads);
            var layer = new Conv2dLayer(input, outChannels, kernel, stride, padding, seed: 12);
            var g = Values(rows * layer.OutputFeatures, 13);
            var y = new float[g.Length];
            var inference = new float[g.Length];
            var dx = new float[x.Length];
            layer.Forward(x, y, rows, training: true);
            layer.Backward(g, dx);
            layer.Forward(x, inference, rows, training: false);
            return [y, dx, layer.WeightGradient, layer.BiasGradient, inference];
        }

        var expected = Run(1);
        foreach (int threads in new[] { 2, 3, 1, 2 })
        {
            var actual = Run(threads);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"output {i} on {threads} threads differs from 1 thread.");
        }
    }

    [Fact]
    public void ConcurrentInferenceOnOneLayerAgreesWithOneThread()
    {
        var layer = new Conv2dLayer(new ImageShape(3, 12, 12), 8, 3, padding: 1, seed: 2);
        const int rows = 6;
        var inputs = Enumerable.Range(0, 4).Select(i => Values(rows * layer.InputFeatures, 20 + i)).ToArray();
        var expected = inputs.Select(x =>
        {
            var y = new float[rows * layer.OutputFeatures];
            layer.Forward(x, y, rows, training: false);
            return y;
        }).ToArray();

        var failures = 0;
        Parallel.For(0, 4 * 25, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            var y = new float[rows * layer.OutputFeatures];
            layer.Forward(inputs[i % 4], y, rows, training: false);
            if (!y.AsSpan().SequenceEqual(expected[i % 4]))
                Interlocked.Increment(ref failures);
        });
        Assert.Equal(0, failures);
    }

    [Fact]
    public void BadArgumentsAreRefusedNamingThem()
    {
        var shape = new ImageShape(3, 2, 2);
        void Refused<T>(string parameter, string message, Action create) where T : ArgumentException
        {
            var error = Assert.ThrowsAny<T>(create);
            Assert.Equal(parameter, error.ParamName);
            Assert.Contains(message, error.Message);
        }

        Refused<ArgumentException>("kernelSize", "kernelSize 3 shrinks the 3 × 2 × 2 map below 1 × 1", () => new Conv2dLayer(shape, 4, 3));
        Refused<ArgumentException>("kernelSize", "with padding 0 its planes are 2 × 2", () => new Conv2dLayer(shape, 4, 3));
        Refused<ArgumentException>("kernelSize", "kernelSize 5 shrinks the 1 × 8 × 2 map", () => new Conv2dLayer(new ImageShape(1, 8, 2), 4, 5, padding: 1));
        new Conv2dLayer(shape, 4, 3, padding: 1);
        Refused<ArgumentOutOfRangeException>("kernelSize", "kernelSize must be positive, got 0", () => new Conv2dLayer(shape, 4, 0));
        Refused<ArgumentOutOfRangeException>("stride", "stride must be positive, got -1", () => new Conv2dLayer(shape, 4, 1, stride: -1));
        Refused<ArgumentOutOfRangeException>("padding", "padding must not be negative, got -2", () => new Conv2dLayer(shape, 4, 1, padding: -2));
        Refused<ArgumentOutOfRangeException>("outChannels", "outChannels must be positive, got 0", () => new Conv2dLayer(shape, 0, 1));
        Refused<ArgumentOutOfRangeException>("input", "input must have positive channels, height and width", () => new Conv2dLayer(new ImageShape(0, 2, 2), 4, 1));
        Refused<ArgumentOutOfRangeException>("input", "a layer is at most 1048576 values wide", () => new Conv2dLayer(new ImageShape(3, 1024, 1024), 4, 1));
        Refused<ArgumentOutOfRangeException>("outChannels", "has 1310720 values; a layer is at most 1048576", () => new Conv2dLayer(new ImageShape(1, 32, 32), 1280, 1));
        Refused<ArgumentOutOfRangeException>("kernelSize", "has 419430400 weights; a layer holds at most 268435456",
            () => new Conv2dLayer(new ImageShape(1024, 10, 10), 1024, 20, padding: 5));
        Refused<ArgumentOutOfRangeException>("kernelSize", "has 2304000000 values in one image's column matrix",
            () => new Conv2dLayer(new ImageShape(256, 2, 2), 1, 1000, padding: 500));

        Refused<ArgumentException>("weight", "weight has 35 values; a 3 × 3 convolution from 3 to 4 channels needs 4 · 3 · 3 · 3 = 108",
            () => new Conv2dLayer(shape, 4, 3, 1, 1, new float[35], null));
        Refused<ArgumentException>("bias", "bias has 3 values, expected one per output channel: 4", () => new Conv2dLayer(shape, 4, 3, 1, 1, new float[108], new float[3]));
        var nan = new float[108];
        nan[17] = float.NaN;
        Refused<ArgumentException>("weight", "weight[17] must be finite, got NaN", () => new Conv2dLayer(shape, 4, 3, 1, 1, nan, null));
        Refused<ArgumentException>("bias", "bias[1] must be finite", () => new Conv2dLayer(shape, 4, 3, 1, 1, new float[108], [0, float.NegativeInfinity, 0, 0]));
        Assert.Throws<ArgumentNullException>(() => new Conv2dLayer(shape, 4, 3, 1, 1, null!, null));
    }

    /// <summary>Values spread over about [−1.5, 1.5], distinct, from a seed.</summary>
    internal static float[] Values(int length, int seed)
    {
        var random = new Random(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++)
            values[i] = (float)(3 * random.NextDouble() - 1.5);
        return values;
    }
}

/// <summary>Runs the kernels and the GEMM on at most <c>threads</c> threads with every parallel threshold at 1, for a scope.</summary>
internal readonly struct ThreadingScope : IDisposable
{
    private readonly int _threads;
    private readonly long _minimumElements;
    private readonly long _minimumFlops;

    public ThreadingScope(int threads)
    {
        (_threads, _minimumElements, _minimumFlops) = (ParallelUnits.MaxDegreeOfParallelism, ParallelUnits.MinimumParallelElements, Gemm.MinimumParallelFlops);
        ParallelUnits.MaxDegreeOfParallelism = threads;
        ParallelUnits.MinimumParallelElements = 1;
        Gemm.MinimumParallelFlops = 1;
    }

    public void Dispose()
    {
        ParallelUnits.MaxDegreeOfParallelism = _threads;
        ParallelUnits.MinimumParallelElements = _minimumElements;
        Gemm.MinimumParallelFlops = _minimumFlops;
    }
}

/// <summary>The convolution by its definition, in double: the independent reference for shapes the goldens do not hold.</summary>
internal sealed class ReferenceConvolution(ImageShape input, int outChannels, int kernel, int stride, int padding, float[] weight, float[] bias)
{
    private readonly int _outputHeight = (input.Height + 2 * padding - kernel) / stride + 1;
    private readonly int _outputWidth = (input.Width + 2 * padding - kernel) / stride + 1;

    private int OutputSize => outChannels * _outputHeight * _outputWidth;

    /// <summary>Calls <paramref name="visit"/>(input index, weight index, output index) for every product of the convolution.</summary>
    private void ForEachProduct(int rows, Action<int, int, int> visit)
    {
        for (int n = 0; n < rows; n++)
            for (int co = 0; co < outChannels; co++)
                for (int oh = 0; oh < _outputHeight; oh++)
                    for (int ow = 0; ow < _outputWidth; ow++)
                    {
                        int output = ((n * outChannels + co) * _outputHeight + oh) * _outputWidth + ow;
                        for (int ci = 0; ci < input.Channels; ci++)
                            for (int kh = 0; kh < kernel; kh++)
                            {
                                int ih = oh * stride - padding + kh;
                                if (ih < 0 || ih >= input.Height)
                                    continue;
                                for (int kw = 0; kw < kernel; kw++)
                                {
                                    int iw = ow * stride - padding + kw;
                                    if (iw < 0 || iw >= input.Width)
                                        continue;
                                    visit(((n * input.Channels + ci) * input.Height + ih) * input.Width + iw, ((co * input.Channels + ci) * kernel + kh) * kernel + kw, output);
                                }
                            }
                    }
    }

    public double[] Forward(float[] x, int rows)
    {
        var y = new double[rows * OutputSize];
        for (int i = 0; i < y.Length; i++)
            y[i] = bias.Length == 0 ? 0 : bias[i / (_outputHeight * _outputWidth) % outChannels];
        ForEachProduct(rows, (xi, wi, yi) => y[yi] += (double)weight[wi] * x[xi]);
        return y;
    }

    public (double[] Dx, double[] Dw, double[] Db) Backward(float[] x, float[] dy, int rows)
    {
        var dx = new double[x.Length];
        var dw = new double[weight.Length];
        var db = new double[bias.Length];
        ForEachProduct(rows, (xi, wi, yi) =>
        {
            dx[xi] += (double)weight[wi] * dy[yi];
            dw[wi] += (double)x[xi] * dy[yi];
        });
        if (db.Length > 0)
            for (int i = 0; i < dy.Length; i++)
                db[i / (_outputHeight * _outputWidth) % outChannels] += dy[i];
        return (dx, dw, db);
    }
}
