using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Training;

[assembly: LoadableClass(typeof(MLNet.Normalization.ConvolutionalNetworkModelParameters), null, typeof(SignatureLoadModel),
    "Convolutional Network", MLNet.Normalization.ConvolutionalNetworkModelParameters.LoaderSignature)]

namespace MLNet.Normalization;

/// <summary>
/// A trained convolutional network for inference: images of <see cref="InputShape"/> (C, H, W) in as a flat float
/// vector, one score per class out, the softmax of the network's logits (class probabilities, as ML.NET's other
/// multiclass trainers give). Batch norm and Batch Renorm are folded into the convolution (or Linear layer) before
/// them; layer, group and instance norm stay as layers.
/// </summary>
public sealed class ConvolutionalNetworkModelParameters : ICanSaveModel, IPredictorProducing<VBuffer<float>>, IValueMapper, ISingleCanSaveOnnx
{
    internal const string LoaderSignature = "ConvolutionalNetworkPred";
    private static readonly ModelFormat Format = new("CNNNORMP", LoaderSignature);

    private readonly IHost _host;
    private readonly NetworkScorer _scorer;

    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    internal ConvolutionalNetworkModelParameters(IHostEnvironment env, Sequential network, ImageShape inputShape, int classes, string featureColumnName)
    {
        _host = Contracts.CheckRef(env, nameof(env)).Register(LoaderSignature);
        if (!inputShape.IsValid)
            throw new ArgumentOutOfRangeException(nameof(inputShape), inputShape, $"The input shape must have positive dimensions, got {inputShape}.");
        _scorer = new NetworkScorer(_host, "convolutional network", network, inputShape.Size, classes, featureColumnName);
        InputShape = inputShape;
    }

    /// <summary>The (C, H, W) of each image.</summary>
    public ImageShape InputShape { get; }

    /// <summary>The features column the model was trained on, named when a row to score has the wrong length.</summary>
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
    // int: features (C · H · W)
    // int: classes
    // the network, in NetworkFormat (the core's documented format: int number of layers, then each layer)
    // int, int, int: the input shape C, H, W
    // string: the features column the model was trained on (BinaryWriter's length-prefixed UTF-8)
    // Versions: 0x00010002, the first.
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        _host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Format.VersionInfo);
        ctx.Writer.Write(sizeof(float));
        CheckedPayload.Write(ctx.Writer, writer =>
        {
            _scorer.WriteNetwork(writer);
            writer.Write(InputShape.Channels);
            writer.Write(InputShape.Height);
            writer.Write(InputShape.Width);
            writer.Write(FeatureColumnName ?? "");
        });
    }

    // For SignatureLoadModel.
    internal static ConvolutionalNetworkModelParameters Create(IHostEnvironment env, ModelLoadContext ctx)
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
            if (version < ModelFormat.ChecksummedVersion)
                throw new InvalidDataException($"Read format version 0x{version:X8}; the convolutional network's first is 0x{ModelFormat.ChecksummedVersion:X8}.");
            return CheckedPayload.Read(reader, version, payload => ReadPayload(env, payload));
        }
        catch (Exception e) when (e is ArgumentException or EndOfStreamException or IOException or InvalidDataException)
        {
            throw env.ExceptDecode(e, $"The saved convolutional network is corrupt: {e.Message}");
        }
    }

    // The version is the first (0x00010002) for every file that reaches here: there is nothing to branch on yet.
    private static ConvolutionalNetworkModelParameters ReadPayload(IHostEnvironment env, BinaryReader reader)
    {
        var (network, features, classes) = NetworkScorer.ReadNetwork(reader);
        var inputShape = new ImageShape(reader.ReadCount(ModelLimits.MaxParameterLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength));
        if ((long)inputShape.Channels * inputShape.Height * inputShape.Width != features)
            throw new InvalidDataException($"The input shape {inputShape} does not hold the {features} features the header says.");
        return new ConvolutionalNetworkModelParameters(env, network, inputShape, classes, reader.ReadString());
    }
}
