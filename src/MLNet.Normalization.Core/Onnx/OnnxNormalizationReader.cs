using System.Buffers.Binary;
using Google.Protobuf;
using MLNet.Normalization.Onnx.Schema;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// Reads the parameters of an ONNX model's normalization nodes (BatchNormalization, InstanceNormalization,
/// LayerNormalization, GroupNormalization) by node name, so that <c>model.onnx</c> gives the BatchNorm transform its
/// parameters in one call: <c>OnnxNormalizationReader.ReadBatchNorm("model.onnx", "bn1")</c>. Parameters must be
/// initializers of the main graph, stored as raw data or typed fields, in float, float16, bfloat16 or double.
/// </summary>
/// <remarks>
/// PyTorch's default eval-mode export folds every BatchNorm into the convolution before it, so the file has no
/// BatchNormalization node left: export with <c>training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False</c>
/// to keep them.
/// </remarks>
public static class OnnxNormalizationReader
{
    /// <summary>Every normalization node of the model in <paramref name="path"/>, in graph order.</summary>
    /// <exception cref="InvalidDataException">The file is not an ONNX model, or a node's parameters are not initializers.</exception>
    /// <exception cref="NotSupportedException">A parameter's data type is not float, float16, bfloat16 or double, or its data is stored outside the file.</exception>
    public static IReadOnlyList<OnnxNormalizationNode> ReadNodes(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var stream = File.OpenRead(path);
        return ReadNodes(stream, path);
    }

    /// <summary>Every normalization node of the ONNX model in <paramref name="stream"/>, in graph order.</summary>
    /// <exception cref="InvalidDataException">The data are not an ONNX model, or a node's parameters are not initializers.</exception>
    /// <exception cref="NotSupportedException">A parameter's data type is not float, float16, bfloat16 or double, or its data is stored outside the file.</exception>
    public static IReadOnlyList<OnnxNormalizationNode> ReadNodes(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadNodes(stream, "the stream");
    }

    /// <summary>The normalization node named <paramref name="nodeName"/> of the model in <paramref name="path"/>.</summary>
    /// <exception cref="KeyNotFoundException">The model has no normalization node of that name; the message lists those it has.</exception>
    public static OnnxNormalizationNode ReadNode(string path, string nodeName)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeName);
        var nodes = ReadNodes(path);
        return nodes.FirstOrDefault(n => n.Name == nodeName) ?? throw NodeNotFound(path, nodeName, nodes);
    }

    /// <summary>The BatchNormalization node named <paramref name="nodeName"/> of the model in <paramref name="path"/>, for the BatchNorm transform.</summary>
    /// <exception cref="KeyNotFoundException">The model has no normalization node of that name; the message lists those it has.</exception>
    /// <exception cref="InvalidOperationException">The node is another normalization operator.</exception>
    public static BatchNormParameters ReadBatchNorm(string path, string nodeName) => ReadNode(path, nodeName).ToBatchNormParameters();

    private static KeyNotFoundException NodeNotFound(string source, string nodeName, IReadOnlyList<OnnxNormalizationNode> nodes)
        => new(nodes.Count == 0
            ? $"{source} has no normalization node (BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization), so none named '{nodeName}'. "
              + "PyTorch's eval-mode export folds BatchNorm into the convolution before it; export with training=TrainingMode.PRESERVE and do_constant_folding=False to keep the nodes."
            : $"{source} has no normalization node named '{nodeName}'; it has {string.Join(", ", nodes.Take(20).Select(n => $"'{n.Name}'"))}{(nodes.Count > 20 ? $" and {nodes.Count - 20} more" : "")}.");

    private static List<OnnxNormalizationNode> ReadNodes(Stream stream, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(stream);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new InvalidDataException($"{source} is not an ONNX model: {e.Message}", e);
        }
        if (model.IrVersion <= 0 || model.Graph is null)
            throw new InvalidDataException($"{source} is not an ONNX model: it has no IR version or no graph.");

        int opset = model.OpsetImport.Where(o => string.IsNullOrEmpty(o.Domain) || o.Domain == "ai.onnx").Select(o => (int)o.Version).DefaultIfEmpty(0).Max();
        var initializers = new Dictionary<string, TensorProto>();
        foreach (var tensor in model.Graph.Initializer)
            initializers[tensor.Name] = tensor;

        var nodes = new List<OnnxNormalizationNode>();
        foreach (var node in model.Graph.Node)
        {
            if (!string.IsNullOrEmpty(node.Domain) && node.Domain != "ai.onnx")
                continue;
            if (!Enum.TryParse<OnnxNormalizationOperator>(node.OpType, out var op) || op.ToString() != node.OpType)
                continue;
            nodes.Add(Read(node, op, opset, initializers, source));
        }
        return nodes;
    }

    private static OnnxNormalizationNode Read(NodeProto node, OnnxNormalizationOperator op, int opset, Dictionary<string, TensorProto> initializers, string source)
    {
        string name = string.IsNullOrEmpty(node.Name) ? $"{node.OpType} → {string.Join(", ", node.Output)}" : node.Name;
        float[] Input(int index, string parameter)
        {
            if (index >= node.Input.Count || string.IsNullOrEmpty(node.Input[index]))
                throw new InvalidDataException($"{source}: node '{name}' ({node.OpType}) has no {parameter} input.");
            string input = node.Input[index];
            if (!initializers.TryGetValue(input, out var tensor))
                throw new InvalidDataException(
                    $"{source}: the {parameter} of node '{name}' ({node.OpType}) is '{input}', which is not an initializer of the graph (it is computed by a node or fed as an input), so the file does not hold its values.");
            return TensorValues.ToFloats(tensor, $"{source}: the {parameter} of node '{name}' ('{input}')");
        }
        float epsilon = Attribute(node, "epsilon")?.F ?? 1e-5f;
        switch (op)
        {
            case OnnxNormalizationOperator.BatchNormalization:
                return new(name, op, opset, epsilon, Input(1, "scale"), Input(2, "B"), Input(3, "input_mean"), Input(4, "input_var"), null, null);
            case OnnxNormalizationOperator.InstanceNormalization:
                return new(name, op, opset, epsilon, Input(1, "scale"), Input(2, "B"), null, null, null, null);
            case OnnxNormalizationOperator.LayerNormalization:
            {
                var scale = Input(1, "Scale");
                var bias = node.Input.Count > 2 && !string.IsNullOrEmpty(node.Input[2]) ? Input(2, "B") : new float[scale.Length];
                return new(name, op, opset, epsilon, scale, bias, null, null, null, (int)(Attribute(node, "axis")?.I ?? -1));
            }
            default:
            {
                int groups = (int)(Attribute(node, "num_groups")?.I
                    ?? throw new InvalidDataException($"{source}: node '{name}' (GroupNormalization) has no num_groups attribute."));
                return new(name, op, opset, epsilon, Input(1, "scale"), Input(2, "bias"), null, null, groups, null);
            }
        }
    }

    private static AttributeProto? Attribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name);

    /// <summary>Converts an initializer's values to float from any of the data types normalization parameters come in.</summary>
    private static class TensorValues
    {
        public static float[] ToFloats(TensorProto tensor, string what)
        {
            if (tensor.DataLocation == TensorProto.Types.DataLocation.External)
                throw new NotSupportedException($"{what} is stored in an external data file, which the reader does not open; save the model with its data inside.");
            long count = tensor.Dims.Aggregate(1L, (a, d) => a * d);
            if (count > ModelLimits.MaxAffineLength)
                throw new InvalidDataException($"{what} has {count} values, more than a parameter holds ({ModelLimits.MaxAffineLength}).");
            var type = (TensorProto.Types.DataType)tensor.DataType;
            var raw = tensor.RawData.Span;
            float[] values = type switch
            {
                TensorProto.Types.DataType.Float when !raw.IsEmpty => Raw(raw, sizeof(float), count, what, b => BinaryPrimitives.ReadSingleLittleEndian(b)),
                TensorProto.Types.DataType.Float => tensor.FloatData.ToArray(),
                TensorProto.Types.DataType.Double when !raw.IsEmpty => Raw(raw, sizeof(double), count, what, b => (float)BinaryPrimitives.ReadDoubleLittleEndian(b)),
                TensorProto.Types.DataType.Double => tensor.DoubleData.Select(v => (float)v).ToArray(),
                TensorProto.Types.DataType.Float16 when !raw.IsEmpty => Raw(raw, 2, count, what, b => (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(b))),
                // Typed float16 and bfloat16 values are stored as their 16 bits in int32_data.
                TensorProto.Types.DataType.Float16 => tensor.Int32Data.Select(v => (float)BitConverter.UInt16BitsToHalf((ushort)v)).ToArray(),
                TensorProto.Types.DataType.Bfloat16 when !raw.IsEmpty => Raw(raw, 2, count, what, b => BFloat16(BinaryPrimitives.ReadUInt16LittleEndian(b))),
                TensorProto.Types.DataType.Bfloat16 => tensor.Int32Data.Select(v => BFloat16((ushort)v)).ToArray(),
                _ => throw new NotSupportedException($"{what} is of ONNX data type {type}; normalization parameters are read as float, float16, bfloat16 or double."),
            };
            if (values.Length != count)
                throw new InvalidDataException($"{what} holds {values.Length} values, but its dimensions ({string.Join(", ", tensor.Dims)}) make {count}.");
            return values;
        }

        private delegate float Decode(ReadOnlySpan<byte> bytes);

        private static float[] Raw(ReadOnlySpan<byte> raw, int size, long count, string what, Decode decode)
        {
            if (raw.Length != count * size)
                throw new InvalidDataException($"{what} has {raw.Length} bytes of raw data, but {count} values of {size} bytes make {count * size}.");
            var values = new float[count];
            for (int i = 0; i < values.Length; i++)
                values[i] = decode(raw.Slice(i * size, size));
            return values;
        }

        private static float BFloat16(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);
    }
}
