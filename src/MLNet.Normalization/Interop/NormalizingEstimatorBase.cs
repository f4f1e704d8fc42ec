using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Base of every estimator in the library: checks the input column, fits (or simply returns) the transformer,
/// and propagates the output schema shape so pipelines are validated before any data flows.
/// </summary>
public abstract class NormalizingEstimatorBase<TTransformer> : IEstimator<TTransformer>
    where TTransformer : NormalizingTransformerBase
{
    private protected NormalizingEstimatorBase(IHostEnvironment env, string name, string outputColumnName, string? inputColumnName)
    {
        Host = Contracts.CheckRef(env, nameof(env)).Register(name);
        OutputColumnName = VectorColumn.CheckName(outputColumnName, nameof(outputColumnName));
        InputColumnName = VectorColumn.CheckName(inputColumnName ?? outputColumnName, nameof(inputColumnName));
    }

    private protected IHost Host { get; }

    /// <summary>The name of the column the transformer writes.</summary>
    public string OutputColumnName { get; }

    /// <summary>The name of the column the transformer reads.</summary>
    public string InputColumnName { get; }

    /// <summary>Builds the transformer; the input column is known to be a known-size float vector.</summary>
    private protected abstract TTransformer FitCore(IDataView input);

    /// <summary>Fits the transformer and checks it against the data's schema.</summary>
    public TTransformer Fit(IDataView input)
    {
        Host.CheckValue(input, nameof(input));
        VectorColumn.CheckType(Host, input.Schema, InputColumnName);
        var transformer = FitCore(input);
        transformer.GetOutputSchema(input.Schema);
        return transformer;
    }

    /// <summary>The input shape plus the output column: same vector type, slot names kept, marked normalized.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        Host.CheckValue(inputSchema, nameof(inputSchema));
        var input = VectorColumn.CheckShape(Host, inputSchema, InputColumnName);

        var annotations = new List<SchemaShape.Column>();
        if (input.Annotations.TryFindColumn(AnnotationUtils.Kinds.SlotNames, out var slotNames))
            annotations.Add(slotNames);
        annotations.Add(new SchemaShape.Column(AnnotationUtils.Kinds.IsNormalized, SchemaShape.Column.VectorKind.Scalar, BooleanDataViewType.Instance, false));

        var columns = inputSchema.ToDictionary(column => column.Name);
        columns[OutputColumnName] = new SchemaShape.Column(OutputColumnName, input.Kind, input.ItemType, input.IsKey, new SchemaShape(annotations));
        return new SchemaShape(columns.Values);
    }
}
