using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// Data for the MLP trainer with any features column type, row lengths and label key count: a Features vector column
/// and a key Label column, without MapValueToKey, so a test sets the number of classes itself.
/// </summary>
internal static class MlpData
{
    private sealed class Row
    {
        public float[] Features { get; set; } = [];
        public uint Label { get; set; }
    }

    /// <summary>Rows of <paramref name="features"/> values, row n of class n mod <paramref name="classes"/>, each class a blob.</summary>
    public static (float[] Features, int Class)[] Blobs(int rows, int features, int classes, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows).Select(n =>
        {
            int c = n % classes;
            var x = new float[features];
            for (int f = 0; f < features; f++)
                x[f] = (float)((f % classes == c ? 2.0 : 0.0) + random.NextDouble() - 0.5);
            return (x, c);
        }).ToArray();
    }

    /// <summary>
    /// A data view of the rows: Features of <paramref name="featuresType"/> (by default a known-size vector as long as
    /// the first row) and Label a key of <paramref name="classes"/> values (class c is key c + 1: LoadFromEnumerable
    /// reads a key field as the 0-based index).
    /// </summary>
    public static IDataView View(MLContext ml, IEnumerable<(float[] Features, int Class)> rows, int classes, VectorDataViewType? featuresType = null)
    {
        var list = rows.Select(r => new Row { Features = r.Features, Label = (uint)r.Class }).ToArray();
        var definition = SchemaDefinition.Create(typeof(Row));
        definition["Features"].ColumnType = featuresType ?? new VectorDataViewType(NumberDataViewType.Single, list[0].Features.Length);
        definition["Label"].ColumnType = new KeyDataViewType(typeof(uint), classes);
        return ml.Data.LoadFromEnumerable(list, definition);
    }

    /// <summary>The rows as <see cref="LabeledData"/> for <see cref="MultilayerPerceptronTraining.Train"/>.</summary>
    public static LabeledData Labeled((float[] Features, int Class)[] rows, int classes)
        => new(rows.SelectMany(r => r.Features).ToArray(), rows.Select(r => r.Class).ToArray(), rows[0].Features.Length, classes);
}
