using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.InputNormalization;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

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
public sealed class ImageNetPreprocessingTransformer : NormalizingTransformerBase, ILoadableTransformer<ImageNetPreprocessingTransformer>
{
    internal const string LoaderSignature = "ImageNetPreprocessing";
    private static readonly ModelFormat Format = new("IMGNETPP", LoaderSignature, ModelFormat.InitialVersion);
    static ModelFormat ILoadableTransformer<ImageNetPreprocessingTransformer>.Format => Format;

    private readonly ChannelAffineMap _map;

    internal ImageNetPreprocessingTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, ImageNetPreprocessing mode, ChannelLayout layout)
        : base(env, Format, outputColumnName, inputColumnName)
    {
        Mode = mode;
        Layout = layout;
        _map = InputNormalizationMaps.ForImageNet(mode);
    }

    /// <summary>The Keras mode.</summary>
    public ImageNetPreprocessing Mode { get; }

    /// <summary>The channel layout asked for; <see cref="ChannelLayout.Auto"/> reads it from the column's dimensions.</summary>
    public ChannelLayout Layout { get; }

    private protected override int ParameterChannels => _map.Channels;
    private protected override ChannelLayout ParameterLayout => Layout;
    private protected override IRowKernel CreateKernel(ChannelGeometry geometry) => new ChannelAffineKernel(_map, geometry);

    // *** Binary format ***
    // int: ImageNetPreprocessing mode
    // int: ChannelLayout
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.WriteEnum(Mode);
        writer.WriteEnum(Layout);
    }

    static ImageNetPreprocessingTransformer ILoadableTransformer<ImageNetPreprocessingTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
        => new(env, columns.OutputColumnName, columns.InputColumnName, reader.ReadEnum<ImageNetPreprocessing>(), reader.ReadEnum<ChannelLayout>());
}
