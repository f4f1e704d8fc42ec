using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// The network format's convolutional layer kinds: every one written and read back gives the same layer and
/// bit-identical outputs, and a corrupt size is refused naming the layer before anything is allocated for it.
/// </summary>
public class NetworkFormatConvolutionTests
{
    private static Sequential EveryKind()
    {
        var input = new ImageShape(2, 9, 7);
        var first = new Conv2dLayer(input, 4, 3, stride: 1, padding: 1, bias: true, seed: 3);
        var instance = new InstanceNormLayer(4, first.Output.Spatial);
        var maxPool = new MaxPool2dLayer(first.Output, 2, 2, padding: 1);
        var second = new Conv2dLayer(maxPool.Output, 6, 3, stride: 2, padding: 0, bias: false, seed: 4);
        var group = new GroupNormLayer(6, second.Output.Spatial, groups: 3);
        var averagePool = new AvgPool2dLayer(second.Output, 2, 1, padding: 1);
        var global = new GlobalAveragePoolLayer(averagePool.Output);
        var flatten = new FlattenLayer(new ImageShape(6, 1, 1));
        var linear = new LinearLayer(6, 3, seed: 5);
        var random = new Random(6);
        foreach (var normalization in new NormalizationLayer[] { instance, group })
            normalization.SetAffine(
                Enumerable.Range(0, normalization.Gamma.Length).Select(_ => (float)(0.5 + random.NextDouble())).ToArray(),
                Enumerable.Range(0, normalization.Beta.Length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray());
        return new Sequential([first, instance, new ReluLayer(first.Output.Size), maxPool, second, group, averagePool, global, flatten, linear]);
    }

    [Fact]
    public void EveryConvolutionalKindReadsBackAsTheLayerItWasWithTheSameOutputs()
    {
        var network = EveryKind();
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
            NetworkFormat.Write(writer, network);
        stream.Position = 0;
        var read = NetworkFormat.Read(new BinaryReader(stream));

        Assert.Equal(network.Layers.Select(l => l.GetType()), read.Layers.Select(l => l.GetType()));
        Assert.Equal(
            ["Conv2d", "InstanceNorm", "Relu", "MaxPool2d", "Conv2d", "SpatialGroupNorm", "AvgPool2d", "GlobalAveragePool", "Flatten", "Linear"],
            read.Layers.Select(NetworkFormat.KindName));
        var second = (Conv2dLayer)read.Layers[4];
        Assert.False(second.HasBias);
        Assert.Equal((2, 0), (second.Stride, second.Padding));
        Assert.Equal(1, ((AvgPool2dLayer)read.Layers[6]).Padding);

        var random = new Random(7);
        var x = Enumerable.Range(0, 5 * network.InputFeatures).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        Assert.Equal(network.Forward(x, 5, training: false).ToArray(), read.Forward(x, 5, training: false).ToArray());
    }

    [Fact]
    public void AConvolutionTooLargeToHoldIsRefusedNamingTheLayer()
    {
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(1);                  // one layer
            writer.Write(5);                  // Conv2d
            writer.Write(1024);               // C
            writer.Write(64);                 // H
            writer.Write(64);                 // W
            writer.Write(1 << 20);            // output channels
            writer.Write(3);                  // kernel
            writer.Write(1);                  // stride
            writer.Write(1);                  // padding
        }
        stream.Position = 0;
        var error = Assert.Throws<InvalidDataException>(() => NetworkFormat.Read(new BinaryReader(stream)));
        Assert.StartsWith("Layer 0 (Conv2d): Read a Conv2d layer of 1024 → 1048576 channels and a 3 × 3 kernel", error.Message);
    }

    [Fact]
    public void BatchStatisticsAfterAConvolutionAreNotWrittenButFolded()
    {
        var convolution = new Conv2dLayer(new ImageShape(1, 5, 5), 3, 3, padding: 1, seed: 1);
        var network = new Sequential([convolution, new BatchNormLayer(3, 25)]);
        Assert.Throws<ArgumentException>(() => NetworkFormat.Write(new BinaryWriter(new MemoryStream()), network));
        var folded = network.Fold();
        Assert.IsType<Conv2dLayer>(Assert.Single(folded.Layers));
    }
}
