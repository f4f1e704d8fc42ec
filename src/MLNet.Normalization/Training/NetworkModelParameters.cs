using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>
/// A trained network for inference, as the library's network trainers make it: features in, one score per class out,
/// the softmax of the network's logits (class probabilities, as ML.NET's other multiclass trainers give, so
/// <c>Evaluate</c>'s log-loss is meaningful). Batch-statistics layers are folded into the layer before them. It
/// implements ML.NET's predictor interfaces (saving, scoring, ONNX export); each subclass adds its saved format.
/// </summary>
public abstract class NetworkModelParameters : ICanSaveModel, IPredictorProducing<VBuffer<float>>, IValueMapper, ISingleCanSaveOnnx
{
    private readonly NetworkScorer _scorer;

    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    private protected NetworkModelParameters(IHostEnvironment env, string loaderSignature, string modelName, Sequential network, int features, int classes, string? featureColumnName)
    {
        Host = Contracts.CheckRef(env, nameof(env)).Register(loaderSignature);
        _scorer = new NetworkScorer(Host, modelName, network, features, classes, featureColumnName);
    }

    /// <summary>
    /// The features column the model was trained on, named when a row to score has the wrong length; null for a
    /// perceptron saved in format 0x00010001, which did not record it.
    /// </summary>
    public string? FeatureColumnName => _scorer.FeatureColumnName;

    /// <summary>The number of classes (scores per row).</summary>
    public int Classes => _scorer.Classes;

    /// <summary>The inference network (folded).</summary>
    public IReadOnlyList<Layer> Layers => _scorer.Network.Layers;

    private protected IHost Host { get; }

    private protected NetworkScorer Scorer => _scorer;

    /// <summary>The model's identity and version in a saved file.</summary>
    private protected abstract ModelFormat Format { get; }

    /// <summary>Writes what the subclass's format holds after the network.</summary>
    private protected abstract void WriteAfterNetwork(BinaryWriter writer);

    PredictionKind IPredictor.PredictionKind => PredictionKind.MulticlassClassification;

    DataViewType IValueMapper.InputType => _scorer.InputType;
    DataViewType IValueMapper.OutputType => _scorer.OutputType;

    ValueMapper<TIn, TOut> IValueMapper.GetMapper<TIn, TOut>() => _scorer.GetMapper<TIn, TOut>();

    bool ICanSaveOnnx.CanSaveOnnx(OnnxContext ctx) => true;

    bool ISingleCanSaveOnnx.SaveAsOnnx(OnnxContext ctx, string[] outputNames, string featureColumn)
        => _scorer.SaveAsOnnx(ctx, outputNames, featureColumn, Format.LoaderSignature);

    // *** Binary format *** (the start every network model shares)
    // int: size of a float (4), as ML.NET's own model parameters write it
    // then, framed with their checksum (CheckedPayload):
    // int: features
    // int: classes
    // the network, in NetworkFormat (the core's documented format: int number of layers, then each layer)
    // what the subclass writes after it (WriteAfterNetwork)
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(Format.VersionInfo);
        ctx.Writer.Write(sizeof(float));
        CheckedPayload.Write(ctx.Writer, writer =>
        {
            _scorer.WriteNetwork(writer);
            WriteAfterNetwork(writer);
        });
    }

    /// <summary>
    /// Reads a model saved in <paramref name="format"/>: the float size, then the checksummed payload through
    /// <paramref name="readPayload"/> (given the version written); a corrupt file is ML.NET's decode error naming
    /// <paramref name="modelName"/>.
    /// </summary>
    private protected static T Load<T>(IHostEnvironment env, ModelLoadContext ctx, ModelFormat format, string modelName, Func<BinaryReader, uint, T> readPayload)
    {
        MlNetVersion.EnsureSupported();
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel(format.VersionInfo);
        try
        {
            var reader = ctx.Reader;
            int floatSize = reader.ReadInt32();
            if (floatSize != sizeof(float))
                throw new InvalidDataException($"Read a float size of {floatSize}, expected {sizeof(float)}.");
            uint version = ctx.Header.ModelVerWritten;
            return CheckedPayload.Read(reader, version, payload => readPayload(payload, version));
        }
        catch (Exception e) when (e is ArgumentException or EndOfStreamException or IOException or InvalidDataException)
        {
            throw env.ExceptDecode(e, $"The saved {modelName} is corrupt: {e.Message}");
        }
    }
}
