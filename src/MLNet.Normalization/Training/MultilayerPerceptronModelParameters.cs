using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Onnx;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Training;

[assembly: LoadableClass(typeof(MLNet.Normalization.MultilayerPerceptronModelParameters), null, typeof(SignatureLoadModel),
    "Multilayer Perceptron", MLNet.Normalization.MultilayerPerceptronModelParameters.LoaderSignature)]

namespace MLNet.Normalization;

/// <summary>
/// A trained multilayer perceptron for inference: features in, one score per class out, the softmax of the
/// network's logits, so scores are class probabilities as with ML.NET's other multiclass trainers (and
/// <c>Evaluate</c>'s log-loss is meaningful). Batch-statistics layers are folded into the Linear layers; layer and
/// group norm stay as layers.
/// </summary>
public sealed class MultilayerPerceptronModelParameters : ICanSaveModel, IPredictorProducing<VBuffer<float>>, IValueMapper, ISingleCanSaveOnnx
{
    internal const string LoaderSignature = "MultilayerPerceptronPred";
    private static readonly ModelFormat Format = new("MLPNORMP", LoaderSignature);

    private readonly IHost _host;
    private readonly Sequential _network;
    private readonly VectorDataViewType _inputType;
    private readonly VectorDataViewType _outputType;

    /// <summary>
    /// The model of a folded network of <paramref name="features"/> inputs and <paramref name="classes"/> outputs, whose
    /// parameters must all be finite: a NaN or infinite weight would score NaN for every row.
    /// </summary>
    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    internal MultilayerPerceptronModelParameters(IHostEnvironment env, Sequential network, int features, int classes, string? featureColumnName = null)
    {
        _host = Contracts.CheckRef(env, nameof(env)).Register(LoaderSignature);
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
        _network = network;
        FeatureColumnName = string.IsNullOrEmpty(featureColumnName) ? null : featureColumnName;
        Features = features;
        Classes = classes;
        _inputType = new VectorDataViewType(NumberDataViewType.Single, features);
        _outputType = new VectorDataViewType(NumberDataViewType.Single, classes);
    }

    /// <summary>Values per input row.</summary>
    public int Features { get; }

    /// <summary>
    /// The features column the model was trained on, named when a row to score has the wrong length; null for a model
    /// saved in format 0x00010001, which did not record it.
    /// </summary>
    public string? FeatureColumnName { get; }

    /// <summary>The number of classes (scores per row).</summary>
    public int Classes { get; }

    /// <summary>The inference network (folded).</summary>
    public IReadOnlyList<Layer> Layers => _network.Layers;

    PredictionKind IPredictor.PredictionKind => PredictionKind.MulticlassClassification;

    DataViewType IValueMapper.InputType => _inputType;
    DataViewType IValueMapper.OutputType => _outputType;

    ValueMapper<TIn, TOut> IValueMapper.GetMapper<TIn, TOut>()
    {
        if (typeof(TIn) != typeof(VBuffer<float>) || typeof(TOut) != typeof(VBuffer<float>))
            throw _host.Except($"The multilayer perceptron maps VBuffer<float> to VBuffer<float>, not {typeof(TIn).Name} to {typeof(TOut).Name}.");
        // A mapper per cursor or prediction engine, each with its own activation buffers over the shared layers,
        // whose inference writes nothing in them: mappers run concurrently without a lock.
        var network = new Sequential(_network.Layers);
        float[] dense = [];
        ValueMapper<VBuffer<float>, VBuffer<float>> map = (in VBuffer<float> source, ref VBuffer<float> destination) =>
        {
            // A row whose length differs from the column's declared size (a PredictionEngine fed the wrong array). The
            // wording is the transforms' (NormalizingTransformerBase); a value mapper knows no row position.
            if (source.Length != Features)
                throw FeatureColumnName is null
                    ? _host.Except($"The multilayer perceptron expects {Features} values per row, got {source.Length}.")
                    : _host.ExceptSchemaMismatch(nameof(source), "input", FeatureColumnName, $"{_inputType} ({Features} values per row)",
                        $"a row of {source.Length} values");
            var editor = VBufferEditor.Create(ref destination, Classes);
            var values = VectorColumn.Densify(source, ref dense);
            SoftmaxCrossEntropy.Probabilities(network.Forward(values, 1, training: false), editor.Values);
            destination = editor.Commit();
        };
        return (ValueMapper<TIn, TOut>)(Delegate)map;
    }

    bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx) => true;

    // ML.NET's multiclass scorer asks for PredictedLabel and Score, in that order, from the features variable.
    bool ISingleCanSaveOnnx.SaveAsOnnx(OnnxContext ctx, string[] outputNames, string featureColumn)
    {
        _host.CheckValue(ctx, nameof(ctx));
        _host.Check(outputNames.Length == 2, "Expected the PredictedLabel and Score outputs.");
        var graph = new OnnxGraph(ctx, LoaderSignature);
        graph.CheckOpSet();
        NetworkOnnx.Write(graph, _network.Layers, featureColumn, predictedLabel: outputNames[0], score: outputNames[1]);
        return true;
    }

    // *** Binary format ***
    // int: size of a float (4), as ML.NET's own model parameters write it
    // then, framed with their checksum (CheckedPayload):
    // int: features
    // int: classes
    // the network, in NetworkFormat (the core's documented format: int number of layers, then each layer)
    // string: the features column the model was trained on, empty when not known (from 0x00010002; BinaryWriter's
    //   length-prefixed UTF-8)
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        _host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Format.VersionInfo);
        ctx.Writer.Write(sizeof(float));
        CheckedPayload.Write(ctx.Writer, writer =>
        {
            writer.Write(Features);
            writer.Write(Classes);
            NetworkFormat.Write(writer, _network);
            writer.Write(FeatureColumnName ?? "");
        });
    }

    // For SignatureLoadModel.
    internal static MultilayerPerceptronModelParameters Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        MlNetVersion.EnsureSupported();
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel(Format.VersionInfo);
        try
        {
            var reader = ctx.Reader;
            int floatSize = reader.ReadInt32();
            if (floatSize != sizeof(float))
                throw new InvalidDataException($"Read a float size of {floatSize}, expected {sizeof(float)}.");
            uint version = ctx.Header.ModelVerWritten;
            return CheckedPayload.Read(reader, version, payload => ReadPayload(env, payload, version));
        }
        catch (Exception e) when (e is ArgumentException or EndOfStreamException or IOException or InvalidDataException)
        {
            throw env.ExceptDecode(e, $"The saved multilayer perceptron is corrupt: {e.Message}");
        }
    }

    // Sizes are read within the ModelLimits every network is built within, so every model that trains also loads,
    // and a corrupt size is refused before anything is allocated for it.
    internal static MultilayerPerceptronModelParameters ReadPayload(IHostEnvironment env, BinaryReader reader, uint versionWritten)
    {
        int features = reader.ReadCount(ModelLimits.MaxParameterLength), classes = reader.ReadCount(ModelLimits.MaxParameterLength);
        var network = NetworkFormat.Read(reader);
        if (network.InputFeatures != features || network.OutputFeatures != classes)
            throw new InvalidDataException($"The network maps {network.InputFeatures} → {network.OutputFeatures}, the header says {features} → {classes}.");
        string? featureColumnName = versionWritten >= ModelFormat.ChecksummedVersion ? reader.ReadString() : null;
        return new MultilayerPerceptronModelParameters(env, network, features, classes, featureColumnName);
    }
}
