using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Reads a float vector features column and a key label column into one <see cref="LabeledData"/> for the MLP
/// trainer. The rows are counted first (the data view's own count when it knows it, else a pass of a cursor that
/// reads no column), then read once into arrays of exactly that size: the features take their own bytes and no more,
/// with no growing buffer and no final copy. Every row is checked as it is read, and an error names the column, the
/// row, what was expected and what was found.
/// </summary>
internal static class LabeledDataReader
{
    /// <summary>
    /// The features column's length and the label's number of classes, or a schema-mismatch error naming the column:
    /// the features a known-size float vector of at most <see cref="ModelLimits.MaxParameterLength"/> values, the label
    /// a key of 2 to <see cref="ModelLimits.MaxParameterLength"/> values.
    /// </summary>
    public static (int Features, int Classes) CheckColumns(IExceptionContext ectx, DataViewSchema schema, string featureColumnName, string labelColumnName)
    {
        var feature = schema.GetColumnOrNull(featureColumnName) ?? throw ectx.ExceptSchemaMismatch(nameof(schema), "feature", featureColumnName);
        if (feature.Type is not VectorDataViewType { IsKnownSize: true } vector || vector.ItemType != NumberDataViewType.Single)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "feature", featureColumnName, "known-size vector of Single", feature.Type.ToString());
        if (vector.Size > ModelLimits.MaxParameterLength)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "feature", featureColumnName,
                $"a vector of at most {ModelLimits.MaxParameterLength} values (ModelLimits.MaxParameterLength)", feature.Type.ToString());

        var label = schema.GetColumnOrNull(labelColumnName) ?? throw ectx.ExceptSchemaMismatch(nameof(schema), "label", labelColumnName);
        if (label.Type is not KeyDataViewType key || key.RawType != typeof(uint))
            throw ectx.ExceptSchemaMismatch(nameof(schema), "label", labelColumnName, "key type of UInt32", label.Type.ToString());
        if (key.Count < 2)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "label", labelColumnName,
                "a key of at least 2 classes: a classifier needs 2", $"{label.Type}, a key of {key.Count} class{(key.Count == 1 ? "" : "es")}");
        if (key.Count > ModelLimits.MaxParameterLength)
            throw ectx.ExceptSchemaMismatch(nameof(schema), "label", labelColumnName,
                $"a key of at most {ModelLimits.MaxParameterLength} classes (ModelLimits.MaxParameterLength)", $"{label.Type}, a key of {key.Count} classes");
        return (vector.Size, (int)key.Count);
    }

    /// <summary>
    /// Reads every row of the columns that <see cref="CheckColumns"/> accepted. <paramref name="role"/> ("training" or
    /// "validation") is named in every error.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// A row has another length than the column's, a non-finite feature, a missing label, or the data view gives
    /// another number of rows than it counted.
    /// </exception>
    public static LabeledData Read(IExceptionContext ectx, IDataView data, string featureColumnName, string labelColumnName, string role)
    {
        var (featureCount, classes) = CheckColumns(ectx, data.Schema, featureColumnName, labelColumnName);
        var featureColumn = data.Schema[featureColumnName];
        var labelColumn = data.Schema[labelColumnName];

        long rows = data.GetRowCount() ?? CountRows(data);
        long values = rows * featureCount;
        if (rows > Array.MaxLength || values > Array.MaxLength)
            throw new InvalidOperationException(
                $"The {role} data has {rows} rows of {featureCount} features in column '{featureColumnName}': {values} values, more than one array holds ({Array.MaxLength}).");
        if (rows == 0)
            throw new InvalidOperationException($"The {role} data has no rows.");
        var features = new float[values];
        var labels = new int[rows];

        using var cursor = data.GetRowCursor([featureColumn, labelColumn]);
        var getFeatures = cursor.GetGetter<VBuffer<float>>(featureColumn);
        var getLabel = cursor.GetGetter<uint>(labelColumn);
        var buffer = default(VBuffer<float>);
        uint label = 0;
        int n = 0;
        while (cursor.MoveNext())
        {
            if (n == rows)
                throw new InvalidOperationException($"The {role} data gives more rows than the {rows} it counted.");
            getLabel(ref label);
            if (label == 0)
                throw new InvalidOperationException($"The {role} data's label column '{labelColumnName}' is missing at row {cursor.Position}.");
            if (label > classes)
                throw new InvalidOperationException($"The {role} data's label column '{labelColumnName}' has key {label} at row {cursor.Position}, expected 1 to {classes}.");
            getFeatures(ref buffer);
            if (buffer.Length != featureCount)
                throw new InvalidOperationException(
                    $"Column '{featureColumnName}': {role} row {cursor.Position} has {buffer.Length} values, expected {featureCount} (the column is {featureColumn.Type}).");
            var row = features.AsSpan(n * featureCount, featureCount);
            buffer.CopyTo(row);
            int slot = NonFinite.IndexOf(row);
            if (slot >= 0)
                throw new InvalidOperationException($"Column '{featureColumnName}': {role} row {cursor.Position} has the non-finite feature {row[slot]} at slot {slot}.");
            labels[n++] = (int)label - 1;
        }
        if (n != rows)
            throw new InvalidOperationException($"The {role} data gives {n} rows, but counted {rows}.");
        return new LabeledData(features, labels, featureCount, classes);
    }

    // A cursor over no column: most data views then compute nothing but the row count.
    private static long CountRows(IDataView data)
    {
        using var cursor = data.GetRowCursor([]);
        long rows = 0;
        while (cursor.MoveNext())
            rows++;
        return rows;
    }
}
