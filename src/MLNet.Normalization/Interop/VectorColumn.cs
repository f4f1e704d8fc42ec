using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Interop;

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
    public static ChannelGeometry ResolveGeometry(IExceptionContext ectx, DataViewSchema schema, string columnName, int channels, ChannelLayout layout)
    {
        var vector = CheckType(ectx, schema, columnName);
        var dimensions = vector.Dimensions.AsSpan();
        return ChannelGeometry.TryResolve(dimensions, vector.Size, channels, layout, out var error)
            ?? throw ectx.ExceptSchemaMismatch(nameof(schema), "input", columnName,
                channels > 0 ? $"{ExpectedType} with {channels} channels" : $"{ExpectedType} with a channel dimension",
                $"{vector} ({error})");
    }

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
        while (cursor.MoveNext())
        {
            getter(ref buffer);
            action(cursor.Position, Densify(buffer, ref dense));
        }
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
