using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Training;

[assembly: LoadableClass(typeof(MLNet.Normalization.ConvolutionalNetworkModelParameters), null, typeof(SignatureLoadModel),
    "Convolutional Network", MLNet.Normalization.ConvolutionalNetworkModelParameters.LoaderSignature)]

namespace MLNet.Normalization;

/// <summary>
/// A trained convolutional network for inference (see <see cref="NetworkModelParameters"/>): images of
/// <see cref="InputShape"/> (C, H, W) in as a flat float vector, one score per class out. Batch norm and Batch Renorm
/// are folded into the convolution (or Linear layer) before them; layer, group and instance norm stay as layers.
/// </summary>
public sealed class ConvolutionalNetworkModelParameters : NetworkModelParameters
{
    internal const string LoaderSignature = "ConvolutionalNetworkPred";
    private const string ModelName = "convolutional network";
    private static readonly ModelFormat NetworkFormat = new("CNNNORMP", LoaderSignature);

    /// <exception cref="ArgumentException">The sizes do not match the network, or a parameter is not finite (the message names the layer, parameter and index).</exception>
    internal ConvolutionalNetworkModelParameters(IHostEnvironment env, Sequential network, ImageShape inputShape, int classes, string featureColumnName)
        : base(env, LoaderSignature, ModelName, network, CheckedSize(inputShape), classes, featureColumnName)
    {
        InputShape = inputShape;
    }

    private static int CheckedSize(ImageShape inputShape)
    {
        if (!inputShape.IsValid)
            throw new ArgumentOutOfRangeException(nameof(inputShape), inputShape, $"The input shape must have positive dimensions, got {inputShape}.");
        return inputShape.Size;
    }

    /// <summary>The (C, H, W) of each image.</summary>
    public ImageShape InputShape { get; }

    private protected override ModelFormat Format => NetworkFormat;

    // *** Binary format *** after the network (NetworkModelParameters):
    // int, int, int: the input shape C, H, W
    // string: the features column the model was trained on (BinaryWriter's length-prefixed UTF-8)
    // Versions: 0x00010002, the first.
    private protected override void WriteAfterNetwork(BinaryWriter writer)
    {
        writer.Write(InputShape.Channels);
        writer.Write(InputShape.Height);
        writer.Write(InputShape.Width);
        writer.Write(FeatureColumnName ?? "");
    }

    // For SignatureLoadModel.
    internal static ConvolutionalNetworkModelParameters Create(IHostEnvironment env, ModelLoadContext ctx)
        => Load(env, ctx, NetworkFormat, ModelName, (payload, version) =>
        {
            // 0x00010002 is the first version: there is nothing older to branch on.
            if (version < ModelFormat.ChecksummedVersion)
                throw new InvalidDataException($"Read format version 0x{version:X8}; the convolutional network's first is 0x{ModelFormat.ChecksummedVersion:X8}.");
            return ReadPayload(env, payload);
        });

    private static ConvolutionalNetworkModelParameters ReadPayload(IHostEnvironment env, BinaryReader reader)
    {
        var (network, features, classes) = NetworkScorer.ReadNetwork(reader);
        var inputShape = new ImageShape(reader.ReadCount(ModelLimits.MaxParameterLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength), reader.ReadCount(ModelLimits.MaxFeatureMapLength));
        if ((long)inputShape.Channels * inputShape.Height * inputShape.Width != features)
            throw new InvalidDataException($"The input shape {inputShape} does not hold the {features} features the header says.");
        return new ConvolutionalNetworkModelParameters(env, network, inputShape, classes, reader.ReadString());
    }
}
