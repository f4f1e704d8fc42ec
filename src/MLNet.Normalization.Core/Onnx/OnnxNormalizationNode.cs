namespace MLNet.Normalization.Onnx;

/// <summary>The ONNX operators whose parameters <see cref="OnnxNormalizationReader"/> reads.</summary>
public enum OnnxNormalizationOperator
{
    /// <summary><c>BatchNormalization</c>: y = scale · (x − input_mean) / √(input_var + ε) + B per channel.</summary>
    BatchNormalization = 0,

    /// <summary><c>InstanceNormalization</c>: per sample and channel over the spatial axes, then scale and B per channel.</summary>
    InstanceNormalization = 1,

    /// <summary><c>LayerNormalization</c> (opset 17): over the axes from <c>axis</c> on, then Scale and B per element of them.</summary>
    LayerNormalization = 2,

    /// <summary><c>GroupNormalization</c> (opset 18): per sample over each of <c>num_groups</c> channel groups, then scale and bias.</summary>
    GroupNormalization = 3,
}

/// <summary>
/// The parameters of one normalization node of an ONNX model, read from the model's initializers and converted to
/// float (float16, bfloat16 and double included).
/// </summary>
public sealed class OnnxNormalizationNode
{
    internal OnnxNormalizationNode(string name, OnnxNormalizationOperator op, int opset, float epsilon, float[] scale, float[] bias,
        float[]? mean, float[]? variance, int? groups, int? axis)
    {
        Name = name;
        Operator = op;
        Opset = opset;
        Epsilon = epsilon;
        Scale = scale;
        Bias = bias;
        Mean = mean;
        Variance = variance;
        Groups = groups;
        Axis = axis;
    }

    /// <summary>The node's name in the graph.</summary>
    public string Name { get; }

    /// <summary>Which normalization operator the node is.</summary>
    public OnnxNormalizationOperator Operator { get; }

    /// <summary>The model's opset of the default ONNX domain (GroupNormalization's scale is per group at opset 18 to 20, per channel from 21).</summary>
    public int Opset { get; }

    /// <summary>The <c>epsilon</c> attribute, or the operator's default 1e-5.</summary>
    public float Epsilon { get; }

    /// <summary>γ: the scale input (per channel; per element of the normalized axes for LayerNormalization).</summary>
    public IReadOnlyList<float> Scale { get; }

    /// <summary>β: the B or bias input, the same length as <see cref="Scale"/> (zeros when LayerNormalization has no B).</summary>
    public IReadOnlyList<float> Bias { get; }

    /// <summary>BatchNormalization's running mean (<c>input_mean</c>); null for the other operators.</summary>
    public IReadOnlyList<float>? Mean { get; }

    /// <summary>BatchNormalization's running variance (<c>input_var</c>); null for the other operators.</summary>
    public IReadOnlyList<float>? Variance { get; }

    /// <summary>GroupNormalization's <c>num_groups</c>; null for the other operators.</summary>
    public int? Groups { get; }

    /// <summary>LayerNormalization's <c>axis</c> (default −1); null for the other operators.</summary>
    public int? Axis { get; }

    /// <summary>The number of values of <see cref="Scale"/>: the channels of batch and instance normalization.</summary>
    public int Channels => Scale.Count;

    /// <summary>A BatchNormalization node's parameters, for the BatchNorm transform.</summary>
    /// <exception cref="InvalidOperationException">The node is not a BatchNormalization node.</exception>
    public BatchNormParameters ToBatchNormParameters()
    {
        if (Operator != OnnxNormalizationOperator.BatchNormalization)
            throw new InvalidOperationException($"Node '{Name}' is a {Operator} node, not BatchNormalization.");
        return BatchNormParameters.FromOnnx(Scale.ToArray(), Bias.ToArray(), Mean!.ToArray(), Variance!.ToArray(), Epsilon);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Operator}, {Channels} values, epsilon {Epsilon})";
}
