using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// A data view of <c>rows</c> (3, 224, 224) pixel vectors generated row by row as cursors move, never
/// materialized: each row is one of a few fixed-seed template rows, copied into the caller's buffer. Memory is
/// constant in the row count, so allocations measured while fitting over it are the fitter's own.
/// </summary>
internal sealed class GeneratedImages : IDataView
{
    public const string Column = "Pixels";
    private const int Templates = 7;

    private readonly long _rows;
    private readonly float[][] _templates;

    public GeneratedImages(long rows, int seed)
    {
        _rows = rows;
        var random = new Random(seed);
        _templates = new float[Templates][];
        for (int t = 0; t < Templates; t++)
            _templates[t] = KernelBatch.Filled(random, CursorBenchmarks.Length, 0, 255);
        var builder = new DataViewSchema.Builder();
        builder.AddColumn(Column, new VectorDataViewType(NumberDataViewType.Single, CursorBenchmarks.Channels, CursorBenchmarks.Height, CursorBenchmarks.Width));
        Schema = builder.ToSchema();
    }

    public bool CanShuffle => false;

    public DataViewSchema Schema { get; }

    public long? GetRowCount() => _rows;

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) => new Cursor(this);

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [new Cursor(this)];

    private sealed class Cursor(GeneratedImages parent) : DataViewRowCursor
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

        public override bool IsColumnActive(DataViewSchema.Column column) => column.Index == 0;

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column)
        {
            if (column.Index != 0 || typeof(TValue) != typeof(VBuffer<float>))
                throw new InvalidOperationException($"Only column '{Column}' of type VBuffer<float> can be read.");
            ValueGetter<VBuffer<float>> getter = (ref VBuffer<float> value) =>
            {
                var editor = VBufferEditor.Create(ref value, CursorBenchmarks.Length);
                parent._templates[_position % Templates].AsSpan().CopyTo(editor.Values);
                value = editor.Commit();
            };
            return (ValueGetter<TValue>)(Delegate)getter;
        }

        public override ValueGetter<DataViewRowId> GetIdGetter()
            => (ref DataViewRowId value) => value = new DataViewRowId((ulong)_position, 0);
    }
}
