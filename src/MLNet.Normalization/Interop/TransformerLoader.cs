using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

/// <summary>
/// The factory methods ML.NET's component catalog calls when a model file names one of the library's loader
/// signatures (see <c>LoadableClasses.cs</c>). Each closed type serves one transformer.
/// </summary>
internal static class TransformerLoader<T>
    where T : NormalizingTransformerBase, ILoadableTransformer<T>
{
    // For SignatureLoadModel.
    public static T Create(IHostEnvironment env, ModelLoadContext ctx)
    {
        MlNetVersion.EnsureSupported();
        Contracts.CheckValue(env, nameof(env));
        env.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel(T.Format.VersionInfo);

        // *** Binary format ***
        // int: number of column pairs (always 1)
        // int: id of output column name
        // int: id of input column name
        // then the transformer's own parameters (see its SaveParameters), framed with their checksum (CheckedPayload)
        try
        {
            int pairs = ctx.Reader.ReadInt32();
            env.CheckDecode(pairs == 1, $"expected one column pair, found {pairs}");
            var columns = new TransformerColumns(ctx.LoadNonEmptyString(), ctx.LoadNonEmptyString());
            uint version = ctx.Header.ModelVerWritten;
            return CheckedPayload.Read(ctx.Reader, version, reader => T.Load(env, columns, reader, version));
        }
        catch (Exception e) when (e is ArgumentException or EndOfStreamException or IOException or InvalidDataException)
        {
            throw env.ExceptDecode(e, $"The saved {typeof(T).Name} is corrupt: {e.Message}");
        }
    }

    // For SignatureLoadRowMapper.
    public static IRowMapper Create(IHostEnvironment env, ModelLoadContext ctx, DataViewSchema inputSchema)
        => Create(env, ctx).Engine.MakeRowMapper(inputSchema);

    // For SignatureLoadDataTransform.
    public static IDataTransform Create(IHostEnvironment env, ModelLoadContext ctx, IDataView input)
        => Create(env, ctx).Engine.MakeDataTransform(input);
}
