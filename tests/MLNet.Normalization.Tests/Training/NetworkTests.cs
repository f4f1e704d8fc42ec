using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>Linear, ReLU, the loss, the network and its training: finite differences, folding, determinism, bad input.</summary>
public class NetworkTests
{
    /// <summary>Two Gaussian blobs per class in 6 dimensions: learnable, not linearly trivial.</summary>
    private static LabeledData Blobs(int rows, int seed, int classes = 3)
    {
        var random = new Random(seed);
        const int features = 6;
        var x = new float[rows * features];
        var labels = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            int label = n % classes;
            labels[n] = label;
            for (int f = 0; f < features; f++)
            {
                double center = (f % classes == label ? 2.0 : 0.0) + (f == label + 3 ? 1.5 : 0) + 4;
                x[n * features + f] = (float)(center + random.NextDouble() - 0.5);
            }
        }
        return new LabeledData(x, labels, features, classes);
    }

    [Fact]
    public void BackwardAfterAnInferenceForwardUsesTheTrainingForward()
    {
        // Layers keep references to the network's training activations, not copies; an inference forward in
        // between (validation) must write elsewhere, or the gradients would be those of the other batch.
        Sequential Network() => new([new LinearLayer(6, 5, seed: 1), new BatchNormLayer(5), new ReluLayer(5), new LinearLayer(5, 3, seed: 2)]);
        var (plain, interrupted) = (Network(), Network());
        var data = Blobs(8, seed: 3);
        var other = Blobs(8, seed: 4);
        var dy = Enumerable.Range(0, 8 * 3).Select(i => (float)Math.Sin(i)).ToArray();
        plain.Forward(data.Features, 8, training: true);
        interrupted.Forward(data.Features, 8, training: true);
        interrupted.Forward(other.Features, 8, training: false);
        foreach (var network in new[] { plain, interrupted })
        {
            network.ZeroGradients();
            network.Backward(dy);
        }
        Assert.Equal(plain.Parameters.SelectMany(p => p.Gradient), interrupted.Parameters.SelectMany(p => p.Gradient));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.01)]
    public void SgdStepsAreTorchsFormulaInFloat(double weightDecay)
    {
        // torch.optim.SGD: g = grad + decay · w, v = μ · v + g (v = g at the first step, the same from v = 0), w = w − lr · v.
        var random = new Random(5);
        float[] Draw(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var parameter = new Parameter("w", Draw(37), new float[37]);
        var (values, velocity) = ((float[])parameter.Values.Clone(), new float[37]);
        var optimizer = new SgdOptimizer([parameter], 0.05, 0.9, weightDecay);
        for (int step = 0; step < 3; step++)
        {
            Draw(37).CopyTo(parameter.Gradient, 0);
            optimizer.Step();
            for (int i = 0; i < 37; i++)
            {
                float g = parameter.Gradient[i] + (float)weightDecay * values[i];
                velocity[i] = 0.9f * velocity[i] + g;
                values[i] -= 0.05f * velocity[i];
            }
            Assert.Equal(values, parameter.Values);
        }
    }

    [Fact]
    public void SoftmaxCrossEntropyMatchesItsFormula()
    {
        float[] logits = [1, 2, 3, -1, 0.5f, 4];
        var gradient = new float[6];
        double loss = SoftmaxCrossEntropy.Compute(logits, [2, 0], 3, gradient, out int correct);

        double Row(double[] z, int label) => Math.Log(z.Sum(Math.Exp)) - z[label];
        Assert.Equal((Row([1, 2, 3], 2) + Row([-1, 0.5, 4], 0)) / 2, loss, 1e-6);
        Assert.Equal(1, correct);
        double sum = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.Equal((Math.Exp(3) / sum - 1) / 2, gradient[2], 1e-6);
        Assert.Equal(Math.Exp(1) / sum / 2, gradient[0], 1e-6);
    }

    [Fact]
    public void SoftmaxProbabilitiesMatchTheFormulaAndDoNotOverflow()
    {
        var probabilities = new float[3];
        SoftmaxCrossEntropy.Probabilities([1, 2, 3], probabilities);
        double sum = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        TestData.AssertClose([Math.Exp(1) / sum, Math.Exp(2) / sum, Math.Exp(3) / sum], probabilities, 1e-7, 1e-6, "softmax([1, 2, 3])");

        // exp(1000) overflows double; softmax is shift-invariant, so these equal softmax([0, 1, −1]).
        SoftmaxCrossEntropy.Probabilities([1000, 1001, 999], probabilities);
        double shifted = 1 + Math.E + 1 / Math.E;
        TestData.AssertClose([1 / shifted, Math.E / shifted, 1 / Math.E / shifted], probabilities, 1e-7, 1e-6, "softmax([1000, 1001, 999])");
    }

    /// <summary>Central differences of the network's loss against Backward, for every parameter of a small network.</summary>
    [Theory]
    [InlineData(HiddenNormalization.None)]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.LayerNorm)]
    [InlineData(HiddenNormalization.L1BatchNorm)]
    public void NetworkGradientsMatchFiniteDifferences(HiddenNormalization normalization)
    {
        var data = Blobs(8, 3);
        var options = new MultilayerPerceptronOptions { HiddenLayers = [5], Normalization = normalization, Seed = 4 };
        var network = MultilayerPerceptronTraining.Build(data.FeatureCount, data.Classes, options);
        var gradient = new float[8 * data.Classes];

        double Loss()
        {
            var logits = network.Forward(data.Features, 8, training: true);
            return SoftmaxCrossEntropy.Compute(logits, data.Labels, data.Classes, new float[gradient.Length], out _);
        }

        var logits = network.Forward(data.Features, 8, training: true);
        SoftmaxCrossEntropy.Compute(logits, data.Labels, data.Classes, gradient, out _);
        network.ZeroGradients();
        network.Backward(gradient);
        var analytic = network.Parameters.Select(p => (float[])p.Gradient.Clone()).ToArray();

        const float h = 1e-3f;
        for (int p = 0; p < network.Parameters.Count; p++)
            FiniteDifferences.Check(network.Parameters[p].Values, analytic[p], Loss, h, $"{network.Parameters[p].Name} of parameter {p}", absolute: 5e-4, relative: 1e-2);
    }

    [Theory]
    [InlineData(HiddenNormalization.None)]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.BatchRenorm)]
    [InlineData(HiddenNormalization.NoisyBatchNorm)]
    [InlineData(HiddenNormalization.LInfBatchNorm)]
    [InlineData(HiddenNormalization.GroupNorm)]
    public void TrainsWellAboveChanceAndTheSameSeedGivesTheSameWeights(HiddenNormalization normalization)
    {
        var train = Blobs(300, 1);
        var test = Blobs(150, 2);
        var options = new MultilayerPerceptronOptions { HiddenLayers = [16, 16], Normalization = normalization, BatchSize = 16, Epochs = 4, GroupNormGroups = 4, Seed = 9, RenormAlpha = 0.1 };

        var first = MultilayerPerceptronTraining.Train(train, options, test);
        var second = MultilayerPerceptronTraining.Train(train, options, test);

        // The accuracy recounted from the trained parameters' inference logits, computed in double (NetworkReference).
        var (correct, ambiguous) = NetworkReference.Argmax(NetworkReference.Inference(first.Network, test.Features, test.Rows), test.Labels, test.Classes);
        double reference = (double)correct / test.Rows;
        Assert.True(reference > 0.8, $"accuracy {reference}, chance 1/3");
        Assert.Equal(4, first.Epochs.Count);
        Assert.True(Math.Abs(first.Accuracy(test) - reference) * test.Rows <= ambiguous, $"Accuracy {first.Accuracy(test)}, recounted {reference} ({ambiguous} near ties)");
        Assert.True(Math.Abs(first.Epochs[^1].ValidationAccuracy!.Value - reference) * test.Rows <= ambiguous,
            $"last epoch's validation accuracy {first.Epochs[^1].ValidationAccuracy}, recounted {reference} ({ambiguous} near ties)");
        Assert.Equal(4 * (300 / 16 + 1), first.StepLosses.Count);
        for (int p = 0; p < first.Network.Parameters.Count; p++)
            Assert.Equal(first.Network.Parameters[p].Values, second.Network.Parameters[p].Values);
    }

    [Theory]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.BatchRenorm)]
    [InlineData(HiddenNormalization.NoisyBatchNorm)]
    [InlineData(HiddenNormalization.L2BatchNorm)]
    public void FoldingBatchStatisticsIntoLinearLayersKeepsTheOutputs(HiddenNormalization normalization)
    {
        var train = Blobs(200, 5);
        var options = new MultilayerPerceptronOptions
        {
            HiddenLayers = [12, 8], Normalization = normalization, BatchSize = 20, Epochs = 3,
            RenormSchedule = RenormSchedule.Constant(2, 1),
        };
        var model = MultilayerPerceptronTraining.Train(train, options);

        // The unfolded network's inference from its parameters, in double; the folded network must compute it.
        var expected = NetworkReference.Inference(model.Network, train.Features, train.Rows);
        var folded = model.Network.Fold();
        var actual = folded.Forward(train.Features, train.Rows, training: false).ToArray();

        Assert.DoesNotContain(folded.Layers, l => l is NormalizationLayer);
        Assert.Equal(model.Network.Layers.Count - 2, folded.Layers.Count);
        TestData.AssertClose(expected, actual, 1e-5, 1e-5, "folded");
        TestData.AssertClose(expected, model.Network.Forward(train.Features, train.Rows, training: false), 1e-5, 1e-5, "unfolded");
    }

    [Fact]
    public void ExportedBatchNormParametersGiveTheInferenceTransform()
    {
        var model = MultilayerPerceptronTraining.Train(Blobs(120, 6), new MultilayerPerceptronOptions { HiddenLayers = [6], BatchSize = 12, Epochs = 2 });
        var layer = model.Network.Layers.OfType<BatchNormLayer>().Single();
        var x = Blobs(10, 7).Features.Take(60).ToArray();
        // Batch norm at inference, γ (x − μ) / √(σ² + ε) + β with the layer's running statistics, in double.
        var expected = x.Select((v, i) =>
        {
            int c = i % 6;
            return layer.Gamma[c] * (v - (double)layer.RunningMean[c]) / Math.Sqrt((double)layer.RunningVariance[c] + layer.Epsilon) + layer.Beta[c];
        }).ToArray();

        var ml = new Microsoft.ML.MLContext(seed: 1);
        var data = TestData.Vectors(ml, Enumerable.Range(0, 10).Select(n => x.AsSpan(n * 6, 6).ToArray()), 6);
        var output = TestData.Read(ml.Transforms.BatchNorm("Out", TestData.Column, layer.ToParameters()).Fit(data).Transform(data), "Out");

        TestData.AssertClose(expected, output.SelectMany(r => r).ToArray(), 1e-5, 1e-6, "exported");
    }

    [Fact]
    public void BadOptionsAndDataAreRefusedWithClearMessages()
    {
        var data = Blobs(30, 8);
        string Message(Action action) => Assert.ThrowsAny<ArgumentException>(action).Message;

        Assert.Contains("BatchSize must be at least 2 with Normalization BatchNorm", Message(() => MultilayerPerceptronTraining.Train(data, new() { BatchSize = 1 })));
        MultilayerPerceptronTraining.Train(data, new() { BatchSize = 1, Normalization = HiddenNormalization.None, Epochs = 1, HiddenLayers = [4] });
        Assert.Contains("BatchSize 31 is larger than the 30 training rows", Message(() => MultilayerPerceptronTraining.Train(data, new() { BatchSize = 31 })));
        Assert.Contains("HiddenLayers must be positive", Message(() => MultilayerPerceptronTraining.Train(data, new() { HiddenLayers = [8, 0], BatchSize = 10 })));
        Assert.Contains("LearningRate must be positive", Message(() => MultilayerPerceptronTraining.Train(data, new() { LearningRate = 0, BatchSize = 10 })));
        Assert.Contains("LearningRate must be positive", Message(() => MultilayerPerceptronTraining.Train(data, new() { LearningRate = double.NaN, BatchSize = 10 })));

        var nan = data with { Features = (float[])data.Features.Clone() };
        nan.Features[5 * 6 + 2] = float.NaN;
        Assert.Contains("train row 5 has the non-finite feature NaN at slot 2", Message(() => MultilayerPerceptronTraining.Train(nan, new() { BatchSize = 10 })));

        var twoClasses = data with { Labels = data.Labels.Select(l => l % 2).ToArray() };
        Assert.Contains("validation has class 2, which no training row has", Message(() => MultilayerPerceptronTraining.Train(twoClasses, new() { BatchSize = 10 }, data)));
    }

    [Fact]
    public void BeforeUpdateSeesEveryStepWithItsBatchAndGradientWithoutChangingTheRun()
    {
        var data = Blobs(100, 10);
        var steps = new List<(int Epoch, int Step, int Rows, double Loss, double ReferenceLoss, int ReferenceCorrect, int Ambiguous, double BiasGradientError)>();
        var options = new MultilayerPerceptronOptions
        {
            HiddenLayers = [8], BatchSize = 16, Epochs = 2,
            BeforeUpdate = step =>
            {
                // The step's batch through the network's parameters before the update, in double, training mode (batch
                // statistics): the loss the step reports, and the gradient of the last Linear layer's bias it holds.
                var logits = NetworkReference.TrainingForward(step.Network, step.Features, step.Labels.Length);
                var (correct, ambiguous) = NetworkReference.Argmax(logits, step.Labels, data.Classes);
                var biasGradient = NetworkReference.CrossEntropyGradientSum(logits, step.Labels, data.Classes);
                var last = (LinearLayer)step.Network.Layers[^1];
                steps.Add((step.Epoch, step.Step, step.Labels.Length, step.Loss, NetworkReference.CrossEntropy(logits, step.Labels, data.Classes),
                    correct, ambiguous, biasGradient.Select((g, k) => Math.Abs(g - last.BiasGradient[k])).Max()));
            },
        };

        var observed = MultilayerPerceptronTraining.Train(data, options);
        options.BeforeUpdate = null;
        var plain = MultilayerPerceptronTraining.Train(data, options);

        Assert.Equal(Enumerable.Range(1, 14), steps.Select(s => s.Step));
        Assert.Equal(7, steps.Count(s => s.Epoch == 2));
        Assert.Equal(100, steps.Where(s => s.Epoch == 1).Sum(s => s.Rows));
        Assert.Equal(14, observed.StepLosses.Count);
        for (int i = 0; i < steps.Count; i++)
        {
            Assert.True(Math.Abs(steps[i].Loss - steps[i].ReferenceLoss) <= 1e-6 * (1 + steps[i].ReferenceLoss), $"step {i + 1}: loss {steps[i].Loss}, reference {steps[i].ReferenceLoss}");
            Assert.True(Math.Abs(observed.StepLosses[i] - steps[i].ReferenceLoss) <= 1e-6 * (1 + steps[i].ReferenceLoss), $"step {i + 1}: StepLosses {observed.StepLosses[i]}, reference {steps[i].ReferenceLoss}");
            Assert.True(steps[i].BiasGradientError <= 1e-6, $"step {i + 1}: the last bias gradient is {steps[i].BiasGradientError} off the reference");
        }
        foreach (var epoch in observed.Epochs)
        {
            var ofEpoch = steps.Where(s => s.Epoch == epoch.Epoch).ToList();
            Assert.Equal(ofEpoch.Average(s => s.ReferenceLoss), epoch.Loss, 1e-6);
            Assert.True(Math.Abs(epoch.TrainAccuracy * 100 - ofEpoch.Sum(s => s.ReferenceCorrect)) <= ofEpoch.Sum(s => s.Ambiguous),
                $"epoch {epoch.Epoch}: train accuracy {epoch.TrainAccuracy}, recounted {ofEpoch.Sum(s => s.ReferenceCorrect)} / 100");
        }
        // Observing leaves the run unchanged: the same weights as the run without the hook.
        for (int p = 0; p < plain.Network.Parameters.Count; p++)
            Assert.Equal(plain.Network.Parameters[p].Values, observed.Network.Parameters[p].Values);
    }

    [Fact]
    public void DivergenceStopsWithTheEpochAndStep()
    {
        var data = Blobs(60, 9);
        var error = Assert.Throws<InvalidOperationException>(() => MultilayerPerceptronTraining.Train(data,
            new() { Normalization = HiddenNormalization.None, LearningRate = 1e30, HiddenLayers = [32], BatchSize = 10, Epochs = 3 }));
        Assert.Matches(@"^Training diverged at epoch \d+, step \d+: the loss is (NaN|∞|Infinity)", error.Message);
    }

    [Fact]
    public void ClassGroupedBatchesDrawFromFewClasses()
    {
        var labels = Enumerable.Range(0, 120).Select(n => n % 6).ToArray();
        var sampler = new BatchSampler(labels, 6, 10, BatchOrder.ClassGrouped, 2, seed: 3, dropSingleRowBatches: true);
        var batches = sampler.NextEpoch().Select(b => b.ToArray()).ToList();

        Assert.Equal(Enumerable.Range(0, 120), batches.SelectMany(b => b).Order());
        Assert.All(batches, b => Assert.True(b.Select(n => labels[n]).Distinct().Count() <= 2));
    }
}
