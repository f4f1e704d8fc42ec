using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// A data view of generated rows, never materialized: row n is template n mod T, copied into the caller's buffer as
/// cursors move, in a float vector column and, when asked, a key label column whose value is the template's index.
/// Memory is constant in the row count, so allocations measured while fitting over it are the fitter's own.
/// </summary>
internal sealed class GeneratedRows : IDataView
{
    public const string Label = "Label";

    private readonly long _rows;
    private readonly bool _countKnown;
    private readonly bool _labelled;
    private readonly float[][] _templates;

    /// <param name="rows">The number of rows.</param>
    /// <param name="column">The vector column's name.</param>
    /// <param name="type">The vector column's type; every template has its size.</param>
    /// <param name="templates">The rows that repeat.</param>
    /// <param name="labelled">Whether to add <see cref="Label"/>, a key of one class per template.</param>
    /// <param name="countKnown">Whether the view reports its row count (a loader of a known file does; a filter does not).</param>
    public GeneratedRows(long rows, string column, VectorDataViewType type, float[][] templates, bool labelled = false, bool countKnown = true)
    {
        _rows = rows;
        _countKnown = countKnown;
        _labelled = labelled;
        _templates = templates;
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(column, type);
        if (labelled)
            builder.AddColumn(Label, new KeyDataViewType(typeof(uint), templates.Length));
        Schema = builder.ToSchema();
    }

    /// <summary>Rows of (3, 224, 224) pixels, one of seven fixed-seed templates, in column <paramref name="column"/>.</summary>
    public static GeneratedRows Images(long rows, int seed, string column)
    {
        var random = new Random(seed);
        var templates = Enumerable.Range(0, 7).Select(_ => KernelBatch.Filled(random, CursorBenchmarks.Length, 0, 255)).ToArray();
        return new GeneratedRows(rows, column, new VectorDataViewType(NumberDataViewType.Single, CursorBenchmarks.Channels, CursorBenchmarks.Height, CursorBenchmarks.Width), templates);
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _countKnown ? _rows : null;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    private sealed class Cursor(GeneratedRows parent) : DataViewRowCursor
    {
        private long _position = -1;

        public override DataViewSchema Schema => parent.Schema;
        public override long Position => _position;
        public override long Batch => 0;

        public override bool MoveNext()
        {
            if (_position + 1 >= parent._rows)
            {
                _position = parent._rows;
                return false;
            }
            _position++;
            return true;
        }

        public override bool IsColumnActive(DataViewSchema.Column column) => true;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index == 0 && typeof(TValue) == typeof(VBuffer<float>))
            {
                ValueGetter<VBuffer<float>> vector = (ref VBuffer<float> value) =>
                {
                    var template = parent._templates[_position % parent._templates.Length];
                    var editor = VBufferEditor.Create(ref value, template.Length);
                    template.AsSpan().CopyTo(editor.Values);
                    value = editor.Commit();
                };
                return (ValueGetter<TValue>)(Delegate)vector;
            }
            if (column.Index == 1 && parent._labelled && typeof(TValue) == typeof(uint))
            {
                ValueGetter<uint> label = (ref uint value) => value = (uint)(_position % parent._templates.Length) + 1;
                return (ValueGetter<TValue>)(Delegate)label;
            }
            throw new InvalidOperationException($"Column {column.Name} cannot be read as {typeof(TValue).Name}.");
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId value) => value = new DataViewRowId((ulong)_position, 0);
    }
}
