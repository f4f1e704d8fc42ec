using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

/// <summary>
/// The identity a transformer writes into a saved model: an 8-character model signature, the loader signature
/// (at most 24 characters) that the model file names to find the loader, and the format version. A model writes
/// <see cref="Version"/> and reads every version from <see cref="InitialVersion"/> up to it.
/// </summary>
/// <remarks>
/// Versions: 0x00010001, the parameters bare; 0x00010002, the parameters framed by <see cref="CheckedPayload"/>
/// (every model), a channel layout of Auto possible (batch and group norm), and the multilayer perceptron's features
/// column recorded.
/// </remarks>
internal sealed record ModelFormat(string ModelSignature, string LoaderSignature, uint Version = ModelFormat.CurrentVersion)
{
    public const uint InitialVersion = 0x00010001;
    public const uint ChecksummedVersion = 0x00010002;
    public const uint CurrentVersion = ChecksummedVersion;

    public VersionInfo VersionInfo => new(
        modelSignature: ModelSignature,
        verWrittenCur: Version,
        verReadableCur: Version,
        verWeCanReadBack: InitialVersion,
        loaderAssemblyName: typeof(ModelFormat).Assembly.FullName,
        loaderSignature: LoaderSignature,
        loaderSignatureAlt: null);
}

/// <summary>
/// Implemented by every transformer of the library: its persisted identity and the factory that rebuilds it
/// from a model file. <see cref="TransformerLoader{T}"/> turns this into ML.NET's loader signatures.
/// </summary>
internal interface ILoadableTransformer<TSelf>
    where TSelf : NormalizingTransformerBase, ILoadableTransformer<TSelf>
{
    static abstract ModelFormat Format { get; }

    /// <summary>
    /// Reads the parameters written by the transformer's SaveParameters in format <paramref name="versionWritten"/>
    /// (checksum already verified). A loader whose parameters changed across versions branches on it; the others say in a
    /// comment that it is reserved.
    /// </summary>
    static abstract TSelf Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten);
}

/// <summary>The output and input column of a transformer.</summary>
internal readonly record struct TransformerColumns(string OutputColumnName, string InputColumnName);
