using MLNet.Normalization.Serialization;

namespace MLNet.Normalization.Training;

/// <summary>
/// The binary format of an inference network: the layers of a folded <see cref="Sequential"/> (Linear, ReLU,
/// LayerNorm, and GroupNorm over unshaped features), as the multilayer perceptron's saved models hold it. Batch-statistics
/// layers are not saved: fold them into the Linear layers first (<see cref="Sequential.Fold"/>).
/// </summary>
/// <remarks>
/// *** Binary format *** (little-endian, <see cref="BinaryWriter"/>'s encoding)
/// int: number of layers
/// per layer: int kind, then
///   1 Linear:    int inputs, int outputs, float[] weight (length-prefixed, outputs × inputs, row-major), float[] bias (length-prefixed)
///   2 Relu:      int features
///   3 LayerNorm: int features, float epsilon, float[] gamma, float[] beta (length-prefixed)
///   4 GroupNorm: int channels, int groups, float epsilon, float[] gamma, float[] beta (length-prefixed)
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
                case GroupNormLayer groupNorm:
                    writer.Write(groupNorm.Channels);
                    writer.Write(groupNorm.Groups);
                    writer.Write(groupNorm.Epsilon);
                    writer.WriteArray(groupNorm.Gamma);
                    writer.WriteArray(groupNorm.Beta);
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
                    LayerKind.Relu => new ReluLayer(reader.ReadCount(ModelLimits.MaxParameterLength)),
                    LayerKind.LayerNorm => WithAffine(new LayerNormLayer(reader.ReadCount(ModelLimits.MaxParameterLength), epsilon: reader.ReadSingle()), reader),
                    _ => ReadGroupNorm(reader),
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
        GroupNormLayer { SpatialSize: 1 } => LayerKind.GroupNorm,
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

    private static GroupNormLayer ReadGroupNorm(BinaryReader reader)
    {
        int channels = reader.ReadCount(ModelLimits.MaxParameterLength), groups = reader.ReadCount(ModelLimits.MaxParameterLength);
        return WithAffine(new GroupNormLayer(channels, 1, groups, reader.ReadSingle()), reader);
    }

    private static T WithAffine<T>(T layer, BinaryReader reader) where T : NormalizationLayer
    {
        var gamma = reader.ReadSingleArray(layer.Gamma.Length);
        layer.SetAffine(gamma, reader.ReadSingleArray(layer.Beta.Length));
        return layer;
    }
}
