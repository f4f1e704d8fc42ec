using BenchmarkDotNet.Attributes;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// The memory the MLP trainer takes for its data: one <c>Fit</c> of one epoch over <see cref="Rows"/> generated rows of
/// <see cref="Features"/> values (114 MiB of floats), with a data view that knows its row count and one that does not.
/// The memory diagnoser's bytes allocated per <c>Fit</c>, over <see cref="FeatureBytes"/>, must stay at most 1.5
/// (benchmarks/report.py): the features held once, plus what the training itself needs. The network is the least
/// that trains (no hidden layer, batches of 32), so little besides the features is allocated: the Linear layer's
/// 3 × 100,000 weights, and a batch's rows gathered, kept for the backward pass and back-propagated (3 × 12.8 MB).
/// The rows are generated as cursors move, so the data view allocates nothing per row itself.
/// </summary>
public class MlpMemoryBenchmarks
{
    public const int Rows = 300, Features = 100_000, Classes = 3;
    public const long FeatureBytes = (long)Rows * Features * sizeof(float);

    /// <summary>Whether the data view reports its row count (a loader of a known file does) or not (a filter does not).</summary>
    [Params(true, false)]
    public bool RowCountKnown { get; set; } = true;

    private MLContext _ml = null!;
    private IDataView _data = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ml = new MLContext(seed: 1);
        _data = new GeneratedRows(Rows, RowCountKnown);
    }

    [Benchmark]
    public object FitOneEpoch() => _ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
    {
        HiddenLayers = [],
        Normalization = HiddenNormalization.None,
        BatchSize = 32,
        Epochs = 1,
    }).Fit(_data);

    /// <summary>
    /// Features, a known-size vector of <see cref="MlpMemoryBenchmarks.Features"/> values, and Label, a key of
    /// <see cref="MlpMemoryBenchmarks.Classes"/> values; row n is class n mod 3 and one of three fixed-seed templates.
    /// </summary>
    private sealed class GeneratedRows : IDataView
    {
        private readonly long _rows;
        private readonly bool _countKnown;
        private readonly float[][] _templates;

        public GeneratedRows(long rows, bool countKnown)
        {
            _rows = rows;
            _countKnown = countKnown;
            var random = new Random(20240604);
            _templates = Enumerable.Range(0, Classes).Select(c => KernelBatch.Filled(random, Features, c, c + 1)).ToArray();
            var builder = new DataViewSchema.Builder();
            builder.AddColumn("Features", new VectorDataViewType(NumberDataViewType.Single, Features));
            builder.AddColumn("Label", new KeyDataViewType(typeof(uint), Classes));
            Schema = builder.ToSchema();
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
                    ValueGetter<VBuffer<float>> features = (ref VBuffer<float> value) =>
                    {
                        var editor = VBufferEditor.Create(ref value, Features);
                        parent._templates[_position % Classes].AsSpan().CopyTo(editor.Values);
                        value = editor.Commit();
                    };
                    return (ValueGetter<TValue>)(Delegate)features;
                }
                if (column.Index == 1 && typeof(TValue) == typeof(uint))
                {
                    ValueGetter<uint> label = (ref uint value) => value = (uint)(_position % Classes) + 1;
                    return (ValueGetter<TValue>)(Delegate)label;
                }
                throw new InvalidOperationException($"Column {column.Name} cannot be read as {typeof(TValue).Name}.");
            }

            public override ValueGetter<DataViewRowId> GetIdGetter()
                => (ref DataViewRowId value) => value = new DataViewRowId((ulong)_position, 0);
        }
    }
}
