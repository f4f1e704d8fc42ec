using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Onnx;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>
/// What the network models share: a folded inference network of <see cref="Features"/> inputs and
/// <see cref="Classes"/> outputs checked finite, ML.NET's value mapper over it (softmax scores), and its ONNX graph.
/// The model parameters types hold one and add their own saved format.
/// </summary>
internal sealed class NetworkScorer
{
    private readonly IHost _host;
    private readonly string _modelName;
    private readonly VectorDataViewType _inputType;
    private readonly VectorDataViewType _outputType;

    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    public NetworkScorer(IHost host, string modelName, Sequential network, int features, int classes, string? featureColumnName)
    {
        _host = host;
        _host.CheckValue(network, nameof(network));
        if (network.InputFeatures != features || network.OutputFeatures != classes)
            throw new ArgumentException($"The network maps {network.InputFeatures} → {network.OutputFeatures} values, not {features} → {classes}.", nameof(network));
        for (int i = 0; i < network.Layers.Count; i++)
        {
            foreach (var parameter in network.Layers[i].Parameters)
            {
                int index = Kernels.NonFinite.IndexOf(parameter.Values);
                if (index >= 0)
                    throw new ArgumentException(
                        $"Layer {i} ({NetworkFormat.KindName(network.Layers[i])}): {parameter.Name}[{index}] must be finite, got {parameter.Values[index]}.", nameof(network));
            }
        }
        _modelName = modelName;
        Network = network;
        FeatureColumnName = string.IsNullOrEmpty(featureColumnName) ? null : featureColumnName;
        Features = features;
        Classes = classes;
        _inputType = new VectorDataViewType(NumberDataViewType.Single, features);
        _outputType = new VectorDataViewType(NumberDataViewType.Single, classes);
    }

    public Sequential Network { get; }

    public int Features { get; }

    public int Classes { get; }

    public string? FeatureColumnName { get; }

    public DataViewType InputType => _inputType;

    public DataViewType OutputType => _outputType;

    public ValueMapper<TIn, TOut> GetMapper<TIn, TOut>()
    {
        if (typeof(TIn) != typeof(VBuffer<float>) || typeof(TOut) != typeof(VBuffer<float>))
            throw _host.Except($"The {_modelName} maps VBuffer<float> to VBuffer<float>, not {typeof(TIn).Name} to {typeof(TOut).Name}.");
        // A mapper per cursor or prediction engine, each with its own activation buffers over the shared layers,
        // whose inference writes nothing in them: mappers run concurrently without a lock.
        var network = new Sequential(Network.Layers);
        float[] dense = [];
        ValueMapper<VBuffer<float>, VBuffer<float>> map = (in VBuffer<float> source, ref VBuffer<float> destination) =>
        {
            // A row whose length differs from the column's declared size (a PredictionEngine fed the wrong array). The
            // wording is the transforms' (NormalizingTransformerBase); a value mapper knows no row position.
            if (source.Length != Features)
                throw FeatureColumnName is null
                    ? _host.Except($"The {_modelName} expects {Features} values per row, got {source.Length}.")
                    : _host.ExceptSchemaMismatch(nameof(source), "input", FeatureColumnName, $"{_inputType} ({Features} values per row)",
                        $"a row of {source.Length} values");
            var editor = VBufferEditor.Create(ref destination, Classes);
            var values = VectorColumn.Densify(source, ref dense);
            SoftmaxCrossEntropy.Probabilities(network.Forward(values, 1, training: false), editor.Values);
            destination = editor.Commit();
        };
        return (ValueMapper<TIn, TOut>)(Delegate)map;
    }

    // ML.NET's multiclass scorer asks for PredictedLabel and Score, in that order, from the features variable.
    public bool SaveAsOnnx(OnnxContext ctx, string[] outputNames, string featureColumn, string owner)
    {
        _host.CheckValue(ctx, nameof(ctx));
        _host.Check(outputNames.Length == 2, "Expected the PredictedLabel and Score outputs.");
        var graph = new OnnxGraph(ctx, owner);
        graph.CheckOpSet();
        NetworkOnnx.Write(graph, Network.Layers, featureColumn, predictedLabel: outputNames[0], score: outputNames[1]);
        return true;
    }

    /// <summary>int features, int classes, then the network in <see cref="NetworkFormat"/>.</summary>
    public void WriteNetwork(BinaryWriter writer)
    {
        writer.Write(Features);
        writer.Write(Classes);
        NetworkFormat.Write(writer, Network);
    }

    /// <summary>Reads what <see cref="WriteNetwork"/> wrote, within the <see cref="ModelLimits"/> every network is built within.</summary>
    public static (Sequential Network, int Features, int Classes) ReadNetwork(BinaryReader reader)
    {
        int features = reader.ReadCount(ModelLimits.MaxParameterLength), classes = reader.ReadCount(ModelLimits.MaxParameterLength);
        var network = NetworkFormat.Read(reader);
        if (network.InputFeatures != features || network.OutputFeatures != classes)
            throw new InvalidDataException($"The network maps {network.InputFeatures} → {network.OutputFeatures}, the header says {features} → {classes}.");
        return (network, features, classes);
    }
}
