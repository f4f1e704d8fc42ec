using MLNet.Normalization.Serialization;

namespace MLNet.Normalization.Training;

/// <summary>
/// The binary format of an inference network: the layers of a folded <see cref="Sequential"/> (Linear, ReLU,
/// LayerNorm, GroupNorm and InstanceNorm, Conv2d and the pooling layers), as the multilayer perceptron's and the
/// convolutional network's saved models hold it. Batch-statistics layers are not saved: fold them into the Linear or
/// Conv2d layer before them first (<see cref="Sequential.Fold"/>).
/// </summary>
/// <remarks>
/// *** Binary format *** (little-endian, <see cref="BinaryWriter"/>'s encoding)
/// int: number of layers
/// per layer: int kind, then
///   1 Linear:    int inputs, int outputs, float[] weight (length-prefixed, outputs × inputs, row-major), float[] bias (length-prefixed)
///   2 Relu:      int features
///   3 LayerNorm: int features, float epsilon, float[] gamma, float[] beta (length-prefixed)
///   4 GroupNorm: int channels, int groups, float epsilon, float[] gamma, float[] beta (length-prefixed)
///   5 Conv2d:    image input (int C, int H, int W), int output channels, int kernel size, int stride, int padding,
///                float[] weight (length-prefixed, out × in × k × k), bool has bias, float[] bias (length-prefixed, empty without)
///   6 MaxPool2d: image input, int kernel size, int stride, int padding
///   7 AvgPool2d: image input, int kernel size, int stride, int padding (PyTorch's count_include_pad)
///   8 GlobalAveragePool: image input
///   9 SpatialGroupNorm: int channels, int spatial size, int groups, float epsilon, float[] gamma, float[] beta
///  10 InstanceNorm: int channels, int spatial size, float epsilon, float[] gamma, float[] beta
///  11 Flatten:   image input
/// Kinds 5 to 11 came with the convolutional network; a multilayer perceptron writes only kinds 1 to 4, so its files
/// read in every version of the library.
/// Reading checks every size against <see cref="ModelLimits"/> before allocating, and refuses a non-finite parameter.
/// </remarks>
public static class NetworkFormat
{
    private enum LayerKind
    {
        Linear = 1,
        Relu = 2,
        LayerNorm = 3,
        GroupNorm = 4,
        Conv2d = 5,
        MaxPool2d = 6,
        AvgPool2d = 7,
        GlobalAveragePool = 8,
        SpatialGroupNorm = 9,
        InstanceNorm = 10,
        Flatten = 11,
    }

    /// <summary>Whether <see cref="Write"/> can save <paramref name="layer"/>.</summary>
    public static bool CanWrite(Layer layer) => Kind(layer) is not null;

    /// <summary>The name of a layer's kind in the format (Linear, Relu, LayerNorm, GroupNorm), or its type name.</summary>
    public static string KindName(Layer layer) => Kind(layer)?.ToString() ?? layer.GetType().Name;

    /// <summary>Writes the layers of <paramref name="network"/>.</summary>
    /// <exception cref="ArgumentException">A layer the format does not hold (a batch-statistics layer: fold the network first).</exception>
    public static void Write(BinaryWriter writer, Sequential network)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(network);
        foreach (var layer in network.Layers)
        {
            if (!CanWrite(layer))
                throw new ArgumentException($"Cannot save a {layer.GetType().Name} layer; fold the network first.", nameof(network));
        }
        writer.Write(network.Layers.Count);
        foreach (var layer in network.Layers)
        {
            writer.WriteEnum(Kind(layer)!.Value);
            switch (layer)
            {
                case LinearLayer linear:
                    writer.Write(linear.InputFeatures);
                    writer.Write(linear.OutputFeatures);
                    writer.WriteArray(linear.Weight);
                    writer.WriteArray(linear.Bias);
                    break;
                case ReluLayer relu:
                    writer.Write(relu.InputFeatures);
                    break;
                case LayerNormLayer layerNorm:
                    writer.Write(layerNorm.Features);
                    writer.Write(layerNorm.Epsilon);
                    writer.WriteArray(layerNorm.Gamma);
                    writer.WriteArray(layerNorm.Beta);
                    break;
                case InstanceNormLayer instanceNorm:
                    writer.Write(instanceNorm.Channels);
                    writer.Write(instanceNorm.SpatialSize);
                    writer.Write(instanceNorm.Epsilon);
                    writer.WriteArray(instanceNorm.Gamma);
                    writer.WriteArray(instanceNorm.Beta);
                    break;
                case GroupNormLayer groupNorm:
                    writer.Write(groupNorm.Channels);
                    if (groupNorm.SpatialSize != 1)
                        writer.Write(groupNorm.SpatialSize);
                    writer.Write(groupNorm.Groups);
                    writer.Write(groupNorm.Epsilon);
                    writer.WriteArray(groupNorm.Gamma);
                    writer.WriteArray(groupNorm.Beta);
                    break;
                case Conv2dLayer convolution:
                    WriteImage(writer, convolution.Input);
                    writer.Write(convolution.OutChannels);
                    writer.Write(convolution.KernelSize);
                    writer.Write(convolution.Stride);
                    writer.Write(convolution.Padding);
                    writer.WriteArray(convolution.Weight);
                    writer.Write(convolution.HasBias);
                    writer.WriteArray(convolution.Bias);
                    break;
                case MaxPool2dLayer maxPool:
                    WriteImage(writer, maxPool.Input);
                    writer.Write(maxPool.KernelSize);
                    writer.Write(maxPool.Stride);
                    writer.Write(maxPool.Padding);
                    break;
                case AvgPool2dLayer averagePool:
                    WriteImage(writer, averagePool.Input);
                    writer.Write(averagePool.KernelSize);
                    writer.Write(averagePool.Stride);
                    writer.Write(averagePool.Padding);
                    break;
                case GlobalAveragePoolLayer globalPool:
                    WriteImage(writer, globalPool.Input);
                    break;
                case FlattenLayer flatten:
                    WriteImage(writer, flatten.Input);
                    break;
            }
        }
    }

    /// <summary>Reads a network written by <see cref="Write"/>.</summary>
    /// <exception cref="InvalidDataException">A size beyond <see cref="ModelLimits"/>, an unknown layer kind, a non-finite parameter, or layers whose sizes do not chain; the message names the layer.</exception>
    /// <exception cref="EndOfStreamException">The data end early.</exception>
    public static Sequential Read(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        int count = reader.ReadCount(ModelLimits.MaxLayers);
        var layers = new List<Layer>(count);
        for (int i = 0; i < count; i++)
        {
            var kind = reader.ReadEnum<LayerKind>();
            try
            {
                layers.Add(kind switch
                {
                    LayerKind.Linear => ReadLinear(reader),
                    LayerKind.Relu => new ReluLayer(reader.ReadCount(ModelLimits.MaxFeatureMapLength)),
                    LayerKind.LayerNorm => WithAffine(new LayerNormLayer(reader.ReadCount(ModelLimits.MaxParameterLength), epsilon: reader.ReadSingle()), reader),
                    LayerKind.GroupNorm => ReadGroupNorm(reader, spatial: false),
                    LayerKind.SpatialGroupNorm => ReadGroupNorm(reader, spatial: true),
                    LayerKind.InstanceNorm => WithAffine(new InstanceNormLayer(reader.ReadCount(), reader.ReadCount(ModelLimits.MaxFeatureMapLength), reader.ReadSingle()), reader),
                    LayerKind.Conv2d => ReadConv2d(reader),
                    LayerKind.MaxPool2d => new MaxPool2dLayer(ReadImage(reader), reader.ReadCount(ModelLimits.MaxFeatureMapLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength), ReadPadding(reader)),
                    LayerKind.AvgPool2d => new AvgPool2dLayer(ReadImage(reader), reader.ReadCount(ModelLimits.MaxFeatureMapLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength), ReadPadding(reader)),
                    LayerKind.GlobalAveragePool => new GlobalAveragePoolLayer(ReadImage(reader)),
                    _ => new FlattenLayer(ReadImage(reader)),
                });
            }
            catch (Exception e) when (e is ArgumentException or InvalidDataException)
            {
                // A non-finite parameter, a bad size or ε: the layers' constructors name the value, this names the layer.
                throw new InvalidDataException($"Layer {i} ({kind}): {e.Message}", e);
            }
        }
        try
        {
            return new Sequential(layers);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static LayerKind? Kind(Layer layer) => layer switch
    {
        LinearLayer => LayerKind.Linear,
        ReluLayer => LayerKind.Relu,
        LayerNormLayer => LayerKind.LayerNorm,
        InstanceNormLayer => LayerKind.InstanceNorm,
        GroupNormLayer { SpatialSize: 1 } => LayerKind.GroupNorm,
        GroupNormLayer => LayerKind.SpatialGroupNorm,
        Conv2dLayer => LayerKind.Conv2d,
        MaxPool2dLayer => LayerKind.MaxPool2d,
        AvgPool2dLayer => LayerKind.AvgPool2d,
        GlobalAveragePoolLayer => LayerKind.GlobalAveragePool,
        FlattenLayer => LayerKind.Flatten,
        _ => null,
    };

    private static LinearLayer ReadLinear(BinaryReader reader)
    {
        int inputs = reader.ReadCount(ModelLimits.MaxParameterLength), outputs = reader.ReadCount(ModelLimits.MaxParameterLength);
        long weights = (long)inputs * outputs;
        if (weights > ModelLimits.MaxLinearWeights)
            throw new InvalidDataException(
                $"Read a Linear layer of {inputs} inputs and {outputs} outputs: {weights} weights, expected at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
        return new LinearLayer(inputs, outputs, reader.ReadSingleArray((int)weights), reader.ReadSingleArray(outputs));
    }

    private static GroupNormLayer ReadGroupNorm(BinaryReader reader, bool spatial)
    {
        int channels = reader.ReadCount(ModelLimits.MaxParameterLength);
        int spatialSize = spatial ? reader.ReadCount(ModelLimits.MaxFeatureMapLength) : 1;
        int groups = reader.ReadCount(ModelLimits.MaxParameterLength);
        return WithAffine(new GroupNormLayer(channels, spatialSize, groups, reader.ReadSingle()), reader);
    }

    private static void WriteImage(BinaryWriter writer, ImageShape shape)
    {
        writer.Write(shape.Channels);
        writer.Write(shape.Height);
        writer.Write(shape.Width);
    }

    private static ImageShape ReadImage(BinaryReader reader)
    {
        var shape = new ImageShape(reader.ReadCount(ModelLimits.MaxParameterLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength));
        if ((long)shape.Channels * shape.Height * shape.Width > ModelLimits.MaxFeatureMapLength)
            throw new InvalidDataException($"Read an image of {shape}; a map holds at most {ModelLimits.MaxFeatureMapLength} values (ModelLimits.MaxFeatureMapLength).");
        return shape;
    }

    private static int ReadPadding(BinaryReader reader)
    {
        int padding = reader.ReadInt32();
        if (padding < 0 || padding > ModelLimits.MaxFeatureMapLength)
            throw new InvalidDataException($"Read a padding of {padding}, expected 0 to {ModelLimits.MaxFeatureMapLength}.");
        return padding;
    }

    private static Conv2dLayer ReadConv2d(BinaryReader reader)
    {
        var input = ReadImage(reader);
        int outputs = reader.ReadCount(ModelLimits.MaxParameterLength), kernel = reader.ReadCount(ModelLimits.MaxFeatureMapLength);
        int stride = reader.ReadCount(ModelLimits.MaxFeatureMapLength), padding = ReadPadding(reader);
        long weights = (long)outputs * input.Channels * kernel * kernel;
        if (weights > ModelLimits.MaxLinearWeights)
            throw new InvalidDataException(
                $"Read a Conv2d layer of {input.Channels} → {outputs} channels and a {kernel} × {kernel} kernel: {weights} weights, expected at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
        var weight = reader.ReadSingleArray((int)weights);
        bool hasBias = reader.ReadBoolean();
        var bias = reader.ReadSingleArray(hasBias ? outputs : 0);
        return new Conv2dLayer(input, outputs, kernel, stride, padding, weight, hasBias ? bias : null);
    }

    private static T WithAffine<T>(T layer, BinaryReader reader) where T : NormalizationLayer
    {
        var gamma = reader.ReadSingleArray(layer.Gamma.Length);
        layer.SetAffine(gamma, reader.ReadSingleArray(layer.Beta.Length));
        return layer;
    }
}
