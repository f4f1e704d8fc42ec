using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Onnx;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Base of every transformer in the library: one float vector column in, one of the same type and shape out,
/// computed lazily row by row by a span kernel. It is a regular ML.NET <see cref="ITransformer"/>: it saves with
/// <c>mlContext.Model.Save</c>, loads in a fresh process, serves a <c>PredictionEngine</c> and chains with ML.NET's own
/// transformers. The output column keeps the input's slot names and is marked <c>IsNormalized</c>.
/// </summary>
/// <remarks>
/// Subclasses hold parameters only: they say how many channels they expect, which layout, how to build the kernel
/// for a resolved geometry, and how to write their parameters. ML.NET's row-mapping machinery (whose contracts are
/// internal to ML.NET) stays inside the private <see cref="Engine"/>, so no member of this class names an ML.NET-internal type.
/// </remarks>
public abstract class NormalizingTransformerBase : ITransformer
{
    private readonly ModelFormat _format;

    private protected NormalizingTransformerBase(IHostEnvironment env, ModelFormat format, string outputColumnName, string? inputColumnName)
    {
        _format = format;
        OutputColumnName = VectorColumn.CheckName(outputColumnName, nameof(outputColumnName));
        InputColumnName = VectorColumn.CheckName(inputColumnName ?? outputColumnName, nameof(inputColumnName));
        Engine = new RowEngine(Contracts.CheckRef(env, nameof(env)).Register(format.LoaderSignature), this);
    }

    /// <summary>The name of the column this transformer writes.</summary>
    public string OutputColumnName { get; }

    /// <summary>The name of the column this transformer reads.</summary>
    public string InputColumnName { get; }

    /// <summary>Always true: the transformer maps each row on its own.</summary>
    public bool IsRowToRowMapper => true;

    /// <summary>ML.NET's one-to-one transformer that runs this one's kernel (loaders use it for row mappers and data transforms).</summary>
    internal OneToOneTransformerBase Engine { get; }

    private protected IHost Host => Engine.Host;

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

    /// <summary>
    /// Writes the transformer's computation for a column of <paramref name="geometry"/> into an ONNX graph, from
    /// <paramref name="input"/> into <paramref name="output"/> (a tensor of the batch, then <paramref name="outputDimensions"/>).
    /// </summary>
    private protected abstract void SaveAsOnnx(OnnxGraph graph, ChannelGeometry geometry, string input, string output, int[] outputDimensions);

    /// <summary>The input schema plus the output column; a schema-mismatch error names the input column when it does not fit.</summary>
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => Engine.GetOutputSchema(inputSchema);

    /// <summary>Adds the output column to <paramref name="input"/>, computed lazily when a cursor reads it.</summary>
    public IDataView Transform(IDataView input) => Engine.Transform(input);

    /// <summary>The row-to-row mapper a <c>PredictionEngine</c> uses.</summary>
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => ((ITransformer)Engine).GetRowToRowMapper(inputSchema);

    void ICanSaveModel.Save(ModelSaveContext ctx) => ((ICanSaveModel)Engine).Save(ctx);

    private ChannelGeometry ResolveGeometry(DataViewSchema inputSchema)
        => VectorColumn.ResolveGeometry(Host, inputSchema, InputColumnName, ExpectedShape, TryResolveGeometry);

    /// <summary>ML.NET's one-to-one transformer base, with the library's checks, format and kernel.</summary>
    private sealed class RowEngine(IHost host, NormalizingTransformerBase parent)
        : OneToOneTransformerBase(host, [(parent.OutputColumnName, parent.InputColumnName)])
    {
        public override void CheckInputColumn(DataViewSchema inputSchema, int col, int srcCol) => parent.ResolveGeometry(inputSchema);

        public override void SaveModel(ModelSaveContext ctx)
        {
            Host.CheckValue(ctx, nameof(ctx));
            ctx.CheckAtModel();
            ctx.SetVersionInfo(parent._format.VersionInfo);

            // *** Binary format ***
            // int: number of column pairs (always 1)
            // int: id of output column name
            // int: id of input column name
            // then the subclass's parameters (SaveParameters), framed with their checksum (CheckedPayload)
            SaveColumns(ctx);
            CheckedPayload.Write(ctx.Writer, parent.SaveParameters);
        }

        public override IRowMapper MakeRowMapper(DataViewSchema schema) => new Mapper(this, parent, schema);
    }

    /// <summary>Maps rows with the kernel, and exports to ONNX through ML.NET's converter (<c>mlContext.Model.ConvertToOnnx</c>).</summary>
    private sealed class Mapper : OneToOneTransformerBase.OneToOneMapperBase, ISaveAsOnnx
    {
        private readonly NormalizingTransformerBase _transformer;
        private readonly ChannelGeometry _geometry;
        private readonly IRowKernel _kernel;

        public Mapper(RowEngine engine, NormalizingTransformerBase parent, DataViewSchema inputSchema)
            : base(engine.Host.Register(nameof(Mapper)), engine, inputSchema)
        {
            _transformer = parent;
            _geometry = parent.ResolveGeometry(inputSchema);
            _kernel = parent.CreateKernel(_geometry);
        }

        public bool CanSaveOnnx(OnnxContext ctx) => true;

        public void SaveAsOnnx(OnnxContext ctx)
        {
            Host.CheckValue(ctx, nameof(ctx));
            // An input the graph does not hold (dropped or not exportable upstream): the output is left out too, as
            // ML.NET's own transformers do.
            if (!ctx.ContainsColumn(_transformer.InputColumnName))
            {
                ctx.RemoveColumn(_transformer.OutputColumnName, false);
                return;
            }
            var graph = new OnnxGraph(ctx, _transformer._format.LoaderSignature);
            graph.CheckOpSet();
            var type = (VectorDataViewType)InputSchema[ColMapNewToOld[0]].Type;
            // The input's variable first: adding the output rebinds the column name, which may be the input's.
            string input = ctx.GetVariableName(_transformer.InputColumnName);
            string output = ctx.AddIntermediateVariable(type, _transformer.OutputColumnName);
            // ML.NET declares a one-value column as (N, 1) whatever its dimensions.
            int[] outputDimensions = type.Size == 1 ? [1] : type.Dimensions.ToArray();
            _transformer.SaveAsOnnx(graph, _geometry, input, output, outputDimensions);
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
