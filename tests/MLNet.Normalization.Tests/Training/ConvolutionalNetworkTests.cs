using System.Text.Json;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// A small CNN built from the core's layers trains as the same network does in PyTorch: conv3×3(1→4, pad 1) –
/// BatchNorm2d(4) – ReLU – MaxPool2d(2) – conv3×3(4→6) – GroupNorm(2, 6) – ReLU – AvgPool2d(2) – Flatten –
/// Linear(6→3), 3 steps of SGD (lr 0.1, momentum 0.9) on cross-entropy (tools/golden/make_conv_layers.py, float64).
/// </summary>
public class ConvolutionalNetworkTests
{
    private static readonly JsonElement Cnn = Golden.Load("conv_layers.json").GetProperty("cnn");

    private static float[] Parameter(JsonElement list, int index) => list[index].GetProperty("values").Floats();

    private static Sequential Build()
    {
        var initial = Cnn.GetProperty("initial_parameters");
        var batchNorm = new BatchNormLayer(4, spatialSize: 10 * 10);
        var groupNorm = new GroupNormLayer(6, spatialSize: 3 * 3, groups: 2);
        Parameter(initial, 2).CopyTo(batchNorm.Gamma, 0);
        Parameter(initial, 3).CopyTo(batchNorm.Beta, 0);
        Parameter(initial, 6).CopyTo(groupNorm.Gamma, 0);
        Parameter(initial, 7).CopyTo(groupNorm.Beta, 0);
        return new Sequential(
        [
            new Conv2dLayer(new ImageShape(1, 10, 10), 4, 3, 1, 1, Parameter(initial, 0), Parameter(initial, 1)),
            batchNorm,
            new ReluLayer(4 * 10 * 10),
            new MaxPool2dLayer(new ImageShape(4, 10, 10), 2),
            new Conv2dLayer(new ImageShape(4, 5, 5), 6, 3, 1, 0, Parameter(initial, 4), Parameter(initial, 5)),
            groupNorm,
            new ReluLayer(6 * 3 * 3),
            new AvgPool2dLayer(new ImageShape(6, 3, 3), 2),
            new FlattenLayer(new ImageShape(6, 1, 1)),
            new LinearLayer(6, 3, Parameter(initial, 8), Parameter(initial, 9)),
        ]);
    }

    /// <summary>
    /// The network in float32 against PyTorch in float64 from the same float32 parameters: the per-step losses,
    /// step 1's gradients, the parameters after 3 steps and BatchNorm's running statistics. Float32 rounding of
    /// sums of at most 100 terms, amplified by the normalizations' 1/σ and the momentum over 3 steps, stays far
    /// within 1e-4 relative plus 1e-5 absolute.
    /// </summary>
    [Fact]
    public void ThreeSgdStepsMatchPyTorch()
    {
        var network = Build();
        Assert.Equal(Cnn.GetProperty("parameter_names").GetArrayLength(), network.Parameters.Count);
        for (int p = 0; p < network.Parameters.Count; p++)
            Assert.Equal(Cnn.GetProperty("initial_parameters")[p].GetProperty("values").GetArrayLength(), network.Parameters[p].Values.Length);

        int rows = Cnn.GetProperty("rows").GetInt32(), classes = Cnn.GetProperty("classes").GetInt32();
        var x = Cnn.GetProperty("input").Floats();
        var labels = Cnn.GetProperty("labels").Ints();
        var optimizer = new SgdOptimizer(network.Parameters, Cnn.GetProperty("learning_rate").GetDouble(), Cnn.GetProperty("momentum").GetDouble());
        var gradient = new float[rows * classes];
        var losses = new List<double>();
        float[][]? firstGradients = null;
        for (int step = 0; step < Cnn.GetProperty("steps").GetInt32(); step++)
        {
            network.ZeroGradients();
            var logits = network.Forward(x, rows, training: true);
            losses.Add(SoftmaxCrossEntropy.Compute(logits, labels, classes, gradient, out _));
            network.Backward(gradient);
            firstGradients ??= network.Parameters.Select(p => (float[])p.Gradient.Clone()).ToArray();
            optimizer.Step();
        }

        var expectedLosses = Cnn.GetProperty("losses").Doubles();
        for (int step = 0; step < losses.Count; step++)
            Assert.True(Math.Abs(losses[step] - expectedLosses[step]) <= 1e-5 * expectedLosses[step], $"step {step + 1}: loss {losses[step]}, PyTorch {expectedLosses[step]}");
        // The steps changed the loss: the network trained, so the comparison covers the updates.
        Assert.True(Math.Abs(expectedLosses[^1] - expectedLosses[0]) > 1e-2);

        var names = Cnn.GetProperty("parameter_names").EnumerateArray().Select(e => e.GetString()).ToArray();
        for (int p = 0; p < network.Parameters.Count; p++)
        {
            TestData.AssertClose(Cnn.GetProperty("step1_gradients")[p].GetProperty("values").Doubles(), firstGradients![p], 1e-5, 1e-4, $"step 1 gradient of {names[p]}");
            TestData.AssertClose(Cnn.GetProperty("final_parameters")[p].GetProperty("values").Doubles(), network.Parameters[p].Values, 1e-5, 1e-4, $"final {names[p]}");
        }
        var batchNorm = (BatchNormLayer)network.Layers[1];
        TestData.AssertClose(Cnn.GetProperty("batch_norm_running_mean").Doubles(), batchNorm.RunningMean, 1e-5, 1e-4, "running mean");
        TestData.AssertClose(Cnn.GetProperty("batch_norm_running_var").Doubles(), batchNorm.RunningVariance, 1e-5, 1e-4, "running variance");
    }

    /// <summary>
    /// Once the buffers and the pooled scratch are warm, a training step and an inference of a CNN with every new layer
    /// allocate nothing on one thread (several threads allocate Parallel.For's bookkeeping, as the GEMM does).
    /// </summary>
    [Fact]
    public void TrainingStepsAllocateNothingOnceWarm()
    {
        int previous = Kernels.ParallelUnits.MaxDegreeOfParallelism;
        Kernels.ParallelUnits.MaxDegreeOfParallelism = 1;
        try
        {
            const int rows = 8, classes = 3;
            var network = new Sequential(
            [
                new Conv2dLayer(new ImageShape(1, 16, 16), 4, 3, padding: 1, seed: 1),   // the direct forward
                new BatchNormLayer(4, 16 * 16),
                new ReluLayer(4 * 16 * 16),
                new MaxPool2dLayer(new ImageShape(4, 16, 16), 2),
                new Conv2dLayer(new ImageShape(4, 8, 8), 6, 3, stride: 1, padding: 1, seed: 2),  // im2col + GEMM
                new AvgPool2dLayer(new ImageShape(6, 8, 8), 2),
                new Conv2dLayer(new ImageShape(6, 4, 4), 5, 3, stride: 2, padding: 1, bias: false, seed: 3),
                new GlobalAveragePoolLayer(new ImageShape(5, 2, 2)),
                new FlattenLayer(new ImageShape(5, 1, 1)),
                new LinearLayer(5, classes, seed: 4),
            ]);
            var x = ConvolutionLayerTests.Values(rows * network.InputFeatures, 5);
            int[] labels = [0, 1, 2, 0, 1, 2, 0, 1];
            var optimizer = new SgdOptimizer(network.Parameters, 0.01, 0.9);
            var gradient = new float[rows * classes];
            void Step()
            {
                // Not network.ZeroGradients(): Layer.ZeroGradients enumerates Parameters through IReadOnlyList, which
                // allocates an enumerator (32 bytes) per layer with parameters; that is the base class's, not these layers'.
                for (int p = 0; p < network.Parameters.Count; p++)
                    Array.Clear(network.Parameters[p].Gradient);
                var logits = network.Forward(x, rows, training: true);
                SoftmaxCrossEntropy.Compute(logits, labels, classes, gradient, out _);
                network.Backward(gradient);
                optimizer.Step();
                network.Forward(x, rows, training: false);
            }

            // Enough steps for the pools and the JIT's tiers to settle (the first tiers' code and stubs allocate).
            for (int i = 0; i < 30; i++)
                Step();
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++)
                Step();
            Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        }
        finally
        {
            Kernels.ParallelUnits.MaxDegreeOfParallelism = previous;
        }
    }
}
