using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Training;

[assembly: LoadableClass(typeof(MLNet.Normalization.MultilayerPerceptronModelParameters), null, typeof(SignatureLoadModel),
    "Multilayer Perceptron", MLNet.Normalization.MultilayerPerceptronModelParameters.LoaderSignature)]

namespace MLNet.Normalization;

/// <summary>
/// A trained multilayer perceptron for inference (see <see cref="NetworkModelParameters"/>): features in, one score
/// per class out. Batch-statistics layers are folded into the Linear layers; layer and group norm stay as layers.
/// </summary>
public sealed class MultilayerPerceptronModelParameters : NetworkModelParameters
{
    internal const string LoaderSignature = "MultilayerPerceptronPred";
    private const string ModelName = "multilayer perceptron";
    private static readonly ModelFormat PerceptronFormat = new("MLPNORMP", LoaderSignature);

    /// <summary>
    /// The model of a folded network of <paramref name="features"/> inputs and <paramref name="classes"/> outputs, whose
    /// parameters must all be finite: a NaN or infinite weight would score NaN for every row.
    /// </summary>
    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    internal MultilayerPerceptronModelParameters(IHostEnvironment env, Sequential network, int features, int classes, string? featureColumnName = null)
        : base(env, LoaderSignature, ModelName, network, features, classes, featureColumnName)
    {
    }

    /// <summary>Values per input row.</summary>
    public int Features => Scorer.Features;

    private protected override ModelFormat Format => PerceptronFormat;

    // *** Binary format *** after the network (NetworkModelParameters):
    // string: the features column the model was trained on, empty when not known (from 0x00010002; BinaryWriter's
    //   length-prefixed UTF-8)
    private protected override void WriteAfterNetwork(BinaryWriter writer) => writer.Write(FeatureColumnName ?? "");

    // For SignatureLoadModel.
    internal static MultilayerPerceptronModelParameters Create(IHostEnvironment env, ModelLoadContext ctx)
        => Load(env, ctx, PerceptronFormat, ModelName, (payload, version) => ReadPayload(env, payload, version));

    // Sizes are read within the ModelLimits every network is built within, so every model that trains also loads,
    // and a corrupt size is refused before anything is allocated for it.
    internal static MultilayerPerceptronModelParameters ReadPayload(IHostEnvironment env, BinaryReader reader, uint versionWritten)
    {
        var (network, features, classes) = NetworkScorer.ReadNetwork(reader);
        string? featureColumnName = versionWritten >= ModelFormat.ChecksummedVersion ? reader.ReadString() : null;
        return new MultilayerPerceptronModelParameters(env, network, features, classes, featureColumnName);
    }
}
