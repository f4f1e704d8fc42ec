using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Interop;

/// <summary>Splits a vector of the given dimensions and length, or returns null with the reason.</summary>
internal delegate ChannelGeometry? GeometryResolver(ReadOnlySpan<int> dimensions, int length, out string error);

/// <summary>Receives one row of a float vector column while the data is streamed.</summary>
internal delegate void RowAction(long row, ReadOnlySpan<float> values);

/// <summary>
/// Schema checks and streaming for the float vector columns every transform of the library reads. Errors use
/// ML.NET's schema-mismatch wording: "Schema mismatch for input column 'X': expected …, got …".
/// </summary>
internal static class VectorColumn
{
    public const string ExpectedType = "known-size vector of Single";

    /// <summary>The column's vector type, or a schema-mismatch error naming the column.</summary>
    public static VectorDataViewType CheckType(IExceptionContext ectx, DataViewSchema schema, string columnName)
    {
        var column = schema.GetColumnOrNull(columnName)
            ?? throw ectx.ExceptSchemaMismatch(nameof(schema), "input", columnName);
        if (column.Type is not VectorDataViewType { IsKnownSize: true } vector || vector.ItemType != NumberDataViewType.Single)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "input", columnName, ExpectedType, column.Type.ToString());
        return vector;
    }

    /// <summary>
    /// How the column splits into channels (see <see cref="ChannelGeometry.TryResolve"/>), or a schema-mismatch
    /// error that names the column, what was expected and what the column is.
    /// </summary>
    public static ChannelGeometry ResolveGeometry(IExceptionContext ectx, DataViewSchema schema, string columnName, int channels, ChannelLayout layout,
        bool flatVectorIsChannels = false)
        => ResolveGeometry(ectx, schema, columnName, channels > 1 ? $"with {channels} channels" : channels == 0 ? "with a channel dimension" : "",
            (ReadOnlySpan<int> dimensions, int length, out string error) => ChannelGeometry.TryResolve(dimensions, length, channels, layout, out error, flatVectorIsChannels));

    /// <summary>The geometry <paramref name="resolve"/> finds for the column, or a schema-mismatch error with its reason.</summary>
    public static ChannelGeometry ResolveGeometry(IExceptionContext ectx, DataViewSchema schema, string columnName, string expectedShape, GeometryResolver resolve)
    {
        var vector = CheckType(ectx, schema, columnName);
        return resolve(vector.Dimensions.AsSpan(), vector.Size, out var error)
            ?? throw ectx.ExceptSchemaMismatch(nameof(schema), "input", columnName,
                string.IsNullOrEmpty(expectedShape) ? ExpectedType : $"{ExpectedType} {expectedShape}", $"{vector} ({error})");
    }

    /// <summary>
    /// The error for a row whose length differs from its column's declared size (a data view or a PredictionEngine
    /// fed the wrong array), in ML.NET's schema-mismatch wording, naming the column, the row and both lengths.
    /// </summary>
    public static Exception RowLengthMismatch(IExceptionContext? ectx, DataViewSchema.Column column, int expected, int actual, long row)
    {
        string got = $"a row of {actual} values{(row >= 0 ? $" at row {row}" : "")}";
        string wanted = $"{column.Type} ({expected} values per row)";
        return ectx is null
            ? Contracts.ExceptSchemaMismatch("data", "input", column.Name, wanted, got)
            : ectx.ExceptSchemaMismatch("data", "input", column.Name, wanted, got);
    }

    /// <summary>Refuses a column with more channels than a model can hold (<see cref="ModelLimits.MaxParameterLength"/>), naming it.</summary>
    public static void CheckChannelCount(ChannelGeometry geometry, string columnName, string what)
    {
        if (geometry.Channels > ModelLimits.MaxParameterLength)
            throw new InvalidOperationException(
                $"Cannot fit {what}: input column '{columnName}' has {geometry.Channels} channels, more than the {ModelLimits.MaxParameterLength} a model holds (ModelLimits.MaxParameterLength).");
    }

    /// <summary>
    /// The library's check of a column name given to a catalog method, before ML.NET's: not null, not empty.
    /// </summary>
    public static string CheckName(string? name, string parameterName)
        => string.IsNullOrEmpty(name)
            ? throw new ArgumentException($"{parameterName} must name a column, got {(name is null ? "null" : "an empty string")}.", parameterName)
            : name;

    /// <summary>The estimator-time check: the column exists and is a known-size float vector.</summary>
    public static SchemaShape.Column CheckShape(IExceptionContext ectx, SchemaShape inputSchema, string columnName)
    {
        if (!inputSchema.TryFindColumn(columnName, out var column))
            throw ectx.ExceptSchemaMismatch(nameof(inputSchema), "input", columnName);
        if (column.Kind != SchemaShape.Column.VectorKind.Vector || column.ItemType != NumberDataViewType.Single)
            throw ectx.ExceptSchemaMismatch(nameof(inputSchema), "input", columnName, ExpectedType, column.GetTypeString());
        return column;
    }

    /// <summary>Streams the column once in data order, densifying sparse rows into one reused buffer.</summary>
    public static void ForEachRow(IDataView data, string columnName, RowAction action)
    {
        var column = data.Schema[columnName];
        using var cursor = data.GetRowCursor([column]);
        var getter = cursor.GetGetter<VBuffer<float>>(column);
        var buffer = default(VBuffer<float>);
        float[] dense = [];
        int size = column.Type is VectorDataViewType { IsKnownSize: true } vector ? vector.Size : -1;
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            if (size >= 0 && buffer.Length != size)
                throw RowLengthMismatch(null, column, size, buffer.Length, cursor.Position);
            action(cursor.Position, Densify(buffer, ref dense));
        }
    }

    /// <summary>
    /// Streams the column for fitting: every value must be finite and there must be at least one row. Errors read
    /// "Cannot fit {what}: input column 'X' has the non-finite value NaN at row 3, slot 7."
    /// </summary>
    public static void ForEachFiniteRow(IDataView data, string columnName, string what, RowAction action)
    {
        long rows = 0;
        ForEachRow(data, columnName, (row, values) =>
        {
            int slot = NonFinite.IndexOf(values);
            if (slot >= 0)
                throw new InvalidOperationException($"Cannot fit {what}: input column '{columnName}' has the non-finite value {values[slot]} at row {row}, slot {slot}.");
            action(row, values);
            rows++;
        });
        if (rows == 0)
            throw new InvalidOperationException($"Cannot fit {what}: input column '{columnName}' has no rows.");
    }

    /// <summary>The values of <paramref name="buffer"/> as a dense span, using <paramref name="scratch"/> for sparse buffers.</summary>
    public static ReadOnlySpan<float> Densify(in VBuffer<float> buffer, ref float[] scratch)
    {
        if (buffer.IsDense)
            return buffer.GetValues();
        if (scratch.Length != buffer.Length)
            scratch = new float[buffer.Length];
        buffer.CopyTo(scratch);
        return scratch;
    }
}
