using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Serialization;

namespace MLNet.Normalization;

/// <summary>Maps normalized values back to pixel values; see <see cref="InputNormalizationCatalog.DenormalizeChannels"/>.</summary>
public sealed class ChannelDenormalizingEstimator : TrivialNormalizingEstimator<ChannelDenormalizingTransformer>
{
    internal ChannelDenormalizingEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, ChannelAffineMap normalization, ChannelLayout layout)
        : base(env, nameof(ChannelDenormalizingEstimator), new ChannelDenormalizingTransformer(env, outputColumnName, inputColumnName, normalization, layout))
    {
    }
}

/// <summary>
/// The inverse of a channel normalization: x[source(c)] = (y[c] − shift[c]) / scale[c] where the normalization was
/// y[c] = x[source(c)] · scale[c] + shift[c]. Undoes <see cref="ChannelNormalizingTransformer"/> and every
/// <see cref="ImageNetPreprocessing"/> mode (Caffe's BGR output comes back in RGB order), so normalized images can
/// be shown to people.
/// </summary>
public sealed class ChannelDenormalizingTransformer : ChannelAffineTransformerBase, ILoadableTransformer<ChannelDenormalizingTransformer>
{
    internal const string LoaderSignature = "ChannelDenormalizer";
    private static readonly ModelFormat Format = new("CHDENORM", LoaderSignature);
    static ModelFormat ILoadableTransformer<ChannelDenormalizingTransformer>.Format => Format;

    private readonly ChannelAffineMap _normalization;

    internal ChannelDenormalizingTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, ChannelAffineMap normalization, ChannelLayout layout)
        : base(env, Format, outputColumnName, inputColumnName, normalization.Inverse(), layout)
    {
        _normalization = normalization;
    }

    // *** Binary format ***
    // The normalization being undone, y[c] = x[source[c]] · scale[c] + shift[c]:
    // int: number of channels C
    // int, double[C]: scale (length-prefixed)
    // int, double[C]: shift (length-prefixed)
    // int, int[C]: source channel of each output channel (length-prefixed)
    // int: ChannelLayout
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.Write(_normalization.Channels);
        writer.WriteArray(_normalization.Scale);
        writer.WriteArray(_normalization.Shift);
        writer.WriteArray(_normalization.SourceChannel);
        writer.WriteEnum(Layout);
    }

    // versionWritten is reserved: these parameters read the same in every format version so far (0x00010001 and 0x00010002).
    static ChannelDenormalizingTransformer ILoadableTransformer<ChannelDenormalizingTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
    {
        int channels = reader.ReadCount();
        var normalization = new ChannelAffineMap(reader.ReadDoubleArray(channels), reader.ReadDoubleArray(channels), reader.ReadInt32Array(channels));
        return new(env, columns.OutputColumnName, columns.InputColumnName, normalization, reader.ReadEnum<ChannelLayout>());
    }
}
