using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// The core's convolutional network: it learns, its options refuse what cannot be built with the option's name, it is
/// deterministic for a seed and any thread count, and folding batch norm into the convolutions keeps its outputs.
/// </summary>
public class ConvolutionalNetworkTrainingTests
{
    private static readonly ImageShape Shape = new(1, 8, 8);

    private static ConvolutionalNetworkOptions Options(HiddenNormalization normalization) => new()
    {
        InputShape = Shape,
        Blocks = [new ConvolutionBlock(4), new MaxPoolBlock(), new ConvolutionBlock(8), new MaxPoolBlock(), new DenseBlock(16)],
        Normalization = normalization,
        GroupNormGroups = 2,
        BatchSize = 16,
        Epochs = 4,
        LearningRate = 0.05,
        RenormSchedule = RenormSchedule.Constant(3, 5),
    };

    [Theory]
    [InlineData(HiddenNormalization.None)]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.BatchRenorm)]
    [InlineData(HiddenNormalization.GroupNorm)]
    [InlineData(HiddenNormalization.LayerNorm)]
    [InlineData(HiddenNormalization.InstanceNorm)]
    [InlineData(HiddenNormalization.NoisyBatchNorm)]
    [InlineData(HiddenNormalization.L1BatchNorm)]
    public void LearnsBarsThatOnlyAConvolutionSees(HiddenNormalization normalization)
    {
        var train = ImageBlobs.Labeled(480, Shape, seed: 1);
        var test = ImageBlobs.Labeled(150, Shape, seed: 2);
        var run = ConvolutionalNetworkTraining.Train(train, Options(normalization), test);
        // Chance is 1/3; every normalization separates the bars within a few epochs.
        Assert.True(run.Epochs[^1].ValidationAccuracy > 0.9, $"{normalization}: validation accuracy {run.Epochs[^1].ValidationAccuracy}");
        Assert.True(run.Epochs[^1].Loss < run.Epochs[0].Loss, $"{normalization}: loss {run.Epochs[0].Loss} → {run.Epochs[^1].Loss}");
    }

    [Fact]
    public void ReluAfterMaxPoolIsTheSameFunctionAndGradient()
    {
        // max(ReLU(x)) = ReLU(max(x)), and the gradient reaches the same input value: the orders give the same bits,
        // here on batch-normalized maps where about half of each window is negative and all-negative windows occur.
        var shape = new ImageShape(2, 6, 6);
        var conv = new Conv2dLayer(shape, 3, 3, padding: 1, seed: 5);
        Sequential Network(bool reluFirst)
        {
            var convolution = new Conv2dLayer(shape, 3, 3, 1, 1, (float[])conv.Weight.Clone(), (float[])conv.Bias.Clone());
            var pool = new MaxPool2dLayer(new ImageShape(3, 6, 6), 2);
            Layer[] tail = reluFirst ? [new ReluLayer(3 * 36), pool] : [pool, new ReluLayer(3 * 9)];
            return new Sequential([convolution, new BatchNormLayer(3, 36), .. tail, new LinearLayer(27, 4, seed: 6)]);
        }
        var (reluFirst, poolFirst) = (Network(reluFirst: true), Network(reluFirst: false));
        var random = new Random(7);
        var x = Enumerable.Range(0, 5 * shape.Size).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var dy = Enumerable.Range(0, 5 * 4).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        var outputs = new[] { reluFirst, poolFirst }.Select(n =>
        {
            var y = n.Forward(x, 5, training: true).ToArray();
            n.ZeroGradients();
            n.Backward(dy);
            return (y, gradients: n.Parameters.SelectMany(p => p.Gradient).ToArray());
        }).ToArray();
        Assert.Equal(outputs[0].y, outputs[1].y);
        Assert.Equal(outputs[0].gradients, outputs[1].gradients);
        Assert.Contains(outputs[0].gradients, g => g != 0);
    }

    [Fact]
    public void BuildsTheLayersOfTheBlocksInOrder()
    {
        var options = Options(HiddenNormalization.GroupNorm);
        options.NormalizeDenseLayers = true;
        var network = ConvolutionalNetworkTraining.Build(Shape, 3, options);
        // A ReLU before max pooling is built after it (the same function, see ReluAfterMaxPoolIsTheSameFunctionAndGradient).
        Assert.Equal(
            ["Conv2dLayer", "GroupNormLayer", "MaxPool2dLayer", "ReluLayer", "Conv2dLayer", "GroupNormLayer", "MaxPool2dLayer", "ReluLayer",
             "LinearLayer", "GroupNormLayer", "ReluLayer", "LinearLayer"],
            network.Layers.Select(l => l.GetType().Name));
        var second = (Conv2dLayer)network.Layers[4];
        Assert.Equal(new ImageShape(4, 4, 4), second.Input);
        Assert.Equal(new ImageShape(8, 4, 4), second.Output);
        Assert.Equal(8 * 2 * 2, network.Layers[8].InputFeatures);
        Assert.Equal(16, ((GroupNormLayer)network.Layers[5]).SpatialSize);
    }

    [Fact]
    public void TheSameSeedGivesTheSameWeightsOnAnyThreadCount()
    {
        var train = ImageBlobs.Labeled(96, Shape, seed: 3);
        float[][] Weights(int threads)
        {
            int saved = ParallelUnits.MaxDegreeOfParallelism;
            long savedThreshold = ParallelUnits.MinimumParallelElements;
            ParallelUnits.MaxDegreeOfParallelism = threads;
            ParallelUnits.MinimumParallelElements = 1;
            Gemm.MinimumParallelFlops = 1;
            try
            {
                var options = Options(HiddenNormalization.BatchNorm);
                options.Epochs = 2;
                return ConvolutionalNetworkTraining.Train(train, options).Network.Parameters.Select(p => (float[])p.Values.Clone()).ToArray();
            }
            finally
            {
                ParallelUnits.MaxDegreeOfParallelism = saved;
                ParallelUnits.MinimumParallelElements = savedThreshold;
                Gemm.MinimumParallelFlops = 0;
            }
        }
        var one = Weights(1);
        Assert.Equal(one, Weights(1));
        Assert.Equal(one, Weights(2));
        Assert.Equal(one, Weights(3));
    }

    [Theory]
    [InlineData(HiddenNormalization.BatchNorm)]
    [InlineData(HiddenNormalization.BatchRenorm)]
    [InlineData(HiddenNormalization.L2BatchNorm)]
    public void FoldingIntoTheConvolutionsKeepsTheOutputs(HiddenNormalization normalization)
    {
        var options = Options(normalization);
        options.NormalizeDenseLayers = true;
        var run = ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(160, Shape, seed: 4), options);
        var folded = run.Network.Fold();
        Assert.DoesNotContain(folded.Layers, l => l is NormalizationLayer);
        Assert.Equal(run.Network.Layers.Count - 3, folded.Layers.Count);

        var test = ImageBlobs.Labeled(40, Shape, seed: 5);
        var expected = run.Network.Forward(test.Features, test.Rows, training: false).ToArray();
        var actual = folded.Forward(test.Features, test.Rows, training: false).ToArray();
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"logit {i}: {expected[i]} unfolded, {actual[i]} folded");
    }

    [Fact]
    public void ABlockThatShrinksTheMapBelowOnePixelIsNamed()
    {
        var options = Options(HiddenNormalization.BatchNorm);
        options.Blocks = [new ConvolutionBlock(4), new MaxPoolBlock(), new MaxPoolBlock(), new MaxPoolBlock(), new MaxPoolBlock()];
        var error = Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(32, Shape, 6), options));
        Assert.Equal("Blocks", error.ParamName);
        Assert.Contains("Blocks[4] (max pool 2×2/2) shrinks the 4 × 1 × 1 map", error.Message);
    }

    [Fact]
    public void GroupsThatDoNotDivideTheChannelsAreNamed()
    {
        var options = Options(HiddenNormalization.GroupNorm);
        options.GroupNormGroups = 3;
        var error = Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(32, Shape, 6), options));
        Assert.Equal("GroupNormGroups", error.ParamName);
        Assert.Contains("does not divide Blocks[0].Channels = 4", error.Message);
    }

    [Fact]
    public void BatchStatisticsRefuseABatchOfOne()
    {
        var options = Options(HiddenNormalization.BatchRenorm);
        options.BatchSize = 1;
        var error = Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(32, Shape, 6), options));
        Assert.Equal("BatchSize", error.ParamName);
        options.Normalization = HiddenNormalization.GroupNorm;
        Assert.Single(ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(8, Shape, 6), With(options, epochs: 1)).Epochs);
    }

    [Fact]
    public void TheInputShapeMustBeGivenAndHoldTheFeatures()
    {
        var options = Options(HiddenNormalization.BatchNorm);
        options.InputShape = null;
        Assert.Contains("InputShape must be set", Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(32, Shape, 6), options)).Message);
        options.InputShape = new ImageShape(1, 8, 7);
        Assert.Contains("InputShape 1 × 8 × 7 holds 56 values per image, but train has 64 features per row",
            Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Train(ImageBlobs.Labeled(32, Shape, 6), options)).Message);
    }

    [Fact]
    public void OnlyDenseBlocksFollowADenseBlock()
    {
        var options = Options(HiddenNormalization.BatchNorm);
        options.Blocks = [new DenseBlock(8), new ConvolutionBlock(4)];
        Assert.Contains("Blocks[1] (conv 3×3/1 pad 1 → 4) follows a dense block",
            Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Build(Shape, 3, options)).Message);
    }

    [Fact]
    public void InstanceNormIsRefusedWhereEachChannelHasOneValue()
    {
        var convolutional = Options(HiddenNormalization.InstanceNorm);
        convolutional.NormalizeDenseLayers = true;
        Assert.Equal("NormalizeDenseLayers", Assert.ThrowsAny<ArgumentException>(() => ConvolutionalNetworkTraining.Build(Shape, 3, convolutional)).ParamName);
        var perceptron = new MultilayerPerceptronOptions { Normalization = HiddenNormalization.InstanceNorm };
        Assert.Equal("Normalization", Assert.ThrowsAny<ArgumentException>(() => MultilayerPerceptronTraining.Build(10, 3, perceptron)).ParamName);
    }

    private static ConvolutionalNetworkOptions With(ConvolutionalNetworkOptions options, int epochs)
    {
        options.Epochs = epochs;
        options.BatchSize = Math.Min(options.BatchSize, 8);
        return options;
    }
}
