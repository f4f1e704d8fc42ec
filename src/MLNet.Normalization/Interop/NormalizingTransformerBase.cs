using System.ComponentModel;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Base of every transformer in the library: one float vector column in, one of the same type and shape out,
/// computed lazily row by row by a span kernel. It is a regular ML.NET <see cref="OneToOneTransformerBase"/>,
/// so it saves with <c>mlContext.Model.Save</c>, loads in a fresh process and serves a <c>PredictionEngine</c>.
/// The output column keeps the input's slot names and is marked <c>IsNormalized</c>.
/// </summary>
/// <remarks>
/// Subclasses hold parameters only: they say how many channels they expect, which layout, how to build the kernel
/// for a resolved geometry, and how to write their parameters.
/// </remarks>
public abstract class NormalizingTransformerBase : OneToOneTransformerBase
{
    private readonly ModelFormat _format;

    private protected NormalizingTransformerBase(IHostEnvironment env, ModelFormat format, string outputColumnName, string? inputColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(format.LoaderSignature),
            [(VectorColumn.CheckName(outputColumnName, nameof(outputColumnName)), VectorColumn.CheckName(inputColumnName ?? outputColumnName, nameof(inputColumnName)))])
    {
        _format = format;
    }

    /// <summary>The name of the column this transformer writes.</summary>
    public string OutputColumnName => ColumnPairs[0].outputColumnName;

    /// <summary>The name of the column this transformer reads.</summary>
    public string InputColumnName => ColumnPairs[0].inputColumnName;

    /// <summary>The channel count the parameters are for (1 for channel-independent maps).</summary>
    private protected abstract int ParameterChannels { get; }

    /// <summary>Where the channel dimension is expected.</summary>
    private protected abstract ChannelLayout ParameterLayout { get; }

    /// <summary>
    /// How a column of these dimensions and length splits for this transformer, or null with the reason in
    /// <paramref name="error"/>. The default resolves <see cref="ParameterChannels"/> channels in
    /// <see cref="ParameterLayout"/> (see <see cref="ChannelGeometry.TryResolve"/>).
    /// </summary>
    private protected virtual ChannelGeometry? TryResolveGeometry(ReadOnlySpan<int> dimensions, int length, out string error)
        => ChannelGeometry.TryResolve(dimensions, length, ParameterChannels, ParameterLayout, out error);

    /// <summary>What the transformer expects of its input column, for schema-mismatch errors.</summary>
    private protected virtual string ExpectedShape => ParameterChannels > 1 ? $"with {ParameterChannels} channels" : "";

    /// <summary>Builds the row kernel for a column of the given geometry.</summary>
    private protected abstract IRowKernel CreateKernel(ChannelGeometry geometry);

    /// <summary>Writes the parameters after the column names, as documented by each subclass.</summary>
    private protected abstract void SaveParameters(BinaryWriter writer);

    private ChannelGeometry ResolveGeometry(DataViewSchema inputSchema)
        => VectorColumn.ResolveGeometry(Host, inputSchema, InputColumnName, ExpectedShape, TryResolveGeometry);

    /// <summary>ML.NET plumbing; not for direct use.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public sealed override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol)
        => ResolveGeometry(inputSchema);

    /// <summary>ML.NET plumbing; not for direct use.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public sealed override void SaveModel(ModelSaveContext ctx)
    {
        Host.CheckValue(ctx, nameof(ctx));
        ctx.CheckAtModel();
        ctx.SetVersionInfo(_format.VersionInfo);

        // *** Binary format ***
        // int: number of column pairs (always 1)
        // int: id of output column name
        // int: id of input column name
        // then the subclass's parameters (SaveParameters), framed with their checksum (CheckedPayload)
        SaveColumns(ctx);
        CheckedPayload.Write(ctx.Writer, SaveParameters);
    }

    /// <summary>ML.NET plumbing; not for direct use.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public sealed override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, schema);

    private sealed class Mapper : OneToOneMapperBase
    {
        private readonly NormalizingTransformerBase _transformer;
        private readonly IRowKernel _kernel;

        public Mapper(NormalizingTransformerBase parent, DataViewSchema inputSchema)
            : base(parent.Host.Register(nameof(Mapper)), parent, inputSchema)
        {
            _transformer = parent;
            _kernel = parent.CreateKernel(parent.ResolveGeometry(inputSchema));
        }

        public override DataViewSchema.DetachedColumn[] GetOutputColumnsCore()
        {
            var input = InputSchema[ColMapNewToOld[0]];
            var annotations = new DataViewSchema.Annotations.Builder();
            annotations.Add(input.Annotations, name => name == AnnotationUtils.Kinds.SlotNames);
            ValueGetter<bool> isNormalized = (ref bool value) => value = true;
            annotations.Add(AnnotationUtils.Kinds.IsNormalized, BooleanDataViewType.Instance, isNormalized);
            return [new DataViewSchema.DetachedColumn(_transformer.OutputColumnName, input.Type, annotations.ToAnnotations())];
        }

        public override Delegate MakeGetter(DataViewRow input, int iinfo, Func<int, bool> activeOutput, out Action disposer)
        {
            disposer = null!;
            var column = input.Schema[ColMapNewToOld[iinfo]];
            var sourceGetter = input.GetGetter<VBuffer<float>>(column);
            var source = default(VBuffer<float>);
            float[] scratch = [];
            var kernel = _kernel;
            var host = Host;
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> destination) =>
            {
                sourceGetter(ref source);
                // A row whose length differs from the column's declared size (a PredictionEngine fed the wrong array).
                if (source.Length != kernel.Length)
                    throw VectorColumn.RowLengthMismatch(host, column, kernel.Length, source.Length, input.Position);
                var values = VectorColumn.Densify(source, ref scratch);
                var editor = VBufferEditor.Create(ref destination, kernel.Length);
                kernel.Apply(values, editor.Values);
                destination = editor.Commit();
            };
            return getter;
        }
    }
}
