using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
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
    private readonly NetworkScorer _scorer;

    /// <summary>
    /// The model of a folded network of <paramref name="features"/> inputs and <paramref name="classes"/> outputs, whose
    /// parameters must all be finite: a NaN or infinite weight would score NaN for every row.
    /// </summary>
    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    internal MultilayerPerceptronModelParameters(IHostEnvironment env, Sequential network, int features, int classes, string? featureColumnName = null)
    {
        _host = Contracts.CheckRef(env, nameof(env)).Register(LoaderSignature);
        _scorer = new NetworkScorer(_host, "multilayer perceptron", network, features, classes, featureColumnName);
    }

    /// <summary>Values per input row.</summary>
    public int Features => _scorer.Features;

    /// <summary>
    /// The features column the model was trained on, named when a row to score has the wrong length; null for a model
    /// saved in format 0x00010001, which did not record it.
    /// </summary>
    public string? FeatureColumnName => _scorer.FeatureColumnName;

    /// <summary>The number of classes (scores per row).</summary>
    public int Classes => _scorer.Classes;

    /// <summary>The inference network (folded).</summary>
    public IReadOnlyList<Layer> Layers => _scorer.Network.Layers;

    PredictionKind IPredictor.PredictionKind => PredictionKind.MulticlassClassification;

    DataViewType IValueMapper.InputType => _scorer.InputType;
    DataViewType IValueMapper.OutputType => _scorer.OutputType;

    ValueMapper<TIn, TOut> IValueMapper.GetMapper<TIn, TOut>() => _scorer.GetMapper<TIn, TOut>();

    bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx) => true;

    bool ISingleCanSaveOnnx.SaveAsOnnx(OnnxContext ctx, string[] outputNames, string featureColumn)
        => _scorer.SaveAsOnnx(ctx, outputNames, featureColumn, LoaderSignature);

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
            _scorer.WriteNetwork(writer);
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
        var (network, features, classes) = NetworkScorer.ReadNetwork(reader);
        string? featureColumnName = versionWritten >= ModelFormat.ChecksummedVersion ? reader.ReadString() : null;
        return new MultilayerPerceptronModelParameters(env, network, features, classes, featureColumnName);
    }
}
