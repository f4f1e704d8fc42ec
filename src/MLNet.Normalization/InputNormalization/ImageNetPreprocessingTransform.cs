using Microsoft.ML.Runtime;
using MLNet.Normalization.InputNormalization;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Serialization;

namespace MLNet.Normalization;

/// <summary>Keras <c>preprocess_input</c> for ImageNet models; see <see cref="InputNormalizationCatalog.PreprocessImageNet"/>.</summary>
public sealed class ImageNetPreprocessingEstimator : TrivialNormalizingEstimator<ImageNetPreprocessingTransformer>
{
    internal ImageNetPreprocessingEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, ImageNetPreprocessing mode, ChannelLayout layout)
        : base(env, nameof(ImageNetPreprocessingEstimator), new ImageNetPreprocessingTransformer(env, outputColumnName, inputColumnName, mode, layout))
    {
    }
}

/// <summary>
/// The three modes of Keras <c>imagenet_utils.preprocess_input</c> on RGB values in 0..255:
/// <see cref="ImageNetPreprocessing.Caffe"/> (BGR order, ImageNet means subtracted),
/// <see cref="ImageNetPreprocessing.Tf"/> (x / 127.5 − 1) and <see cref="ImageNetPreprocessing.Torch"/>
/// ((x / 255 − mean) / std with ImageNet statistics).
/// </summary>
public sealed class ImageNetPreprocessingTransformer : ChannelAffineTransformerBase, ILoadableTransformer<ImageNetPreprocessingTransformer>
{
    internal const string LoaderSignature = "ImageNetPreprocessing";
    private static readonly ModelFormat Format = new("IMGNETPP", LoaderSignature);
    static ModelFormat ILoadableTransformer<ImageNetPreprocessingTransformer>.Format => Format;

    internal ImageNetPreprocessingTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, ImageNetPreprocessing mode, ChannelLayout layout)
        : base(env, Format, outputColumnName, inputColumnName, InputNormalizationMaps.ForImageNet(mode), layout)
    {
        Mode = mode;
    }

    /// <summary>The Keras mode.</summary>
    public ImageNetPreprocessing Mode { get; }

    // *** Binary format ***
    // int: ImageNetPreprocessing mode
    // int: ChannelLayout
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.WriteEnum(Mode);
        writer.WriteEnum(Layout);
    }

    // versionWritten is reserved: these parameters read the same in every format version so far (0x00010001 and 0x00010002).
    static ImageNetPreprocessingTransformer ILoadableTransformer<ImageNetPreprocessingTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
        => new(env, columns.OutputColumnName, columns.InputColumnName, reader.ReadEnum<ImageNetPreprocessing>(), reader.ReadEnum<ChannelLayout>());
}
