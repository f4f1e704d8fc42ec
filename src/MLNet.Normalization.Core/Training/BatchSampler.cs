namespace MLNet.Normalization.Training;

/// <summary>
/// Splits each epoch's rows into mini-batches, shuffled or class-grouped, from a seed. Every row appears once per
/// epoch, with one exception: when <c>dropSingleRowBatches</c> is set (the network has batch-statistics layers, which
/// need two values per channel), a batch that holds a single row is left out of that epoch: the last batch of a
/// shuffled epoch when the rows leave one over, and in class-grouped epochs a batch that finds a single row (a class's
/// last row when it is the only class left with rows, or any batch of one row with one class per batch). Without
/// batch-statistics layers no row is ever left out. Batches are views of buffers allocated once, valid until the next
/// batch is drawn.
/// </summary>
internal sealed class BatchSampler
{
    private readonly int _batchSize;
    private readonly BatchOrder _order;
    private readonly int _classesPerBatch;
    private readonly bool _dropSingleRowBatches;
    private readonly Random _random;
    private readonly int[] _rows;
    private readonly int[][] _rowsOfClass;
    private readonly int[] _taken;
    private readonly int[] _openClasses;
    private readonly int[] _batch;

    public BatchSampler(int[] labels, int classes, int batchSize, BatchOrder order, int classesPerBatch, int seed, bool dropSingleRowBatches)
    {
        if (!Enum.IsDefined(order))
            throw new ArgumentOutOfRangeException(nameof(order), order, $"{(int)order} is not a {nameof(BatchOrder)} value.");
        _batchSize = batchSize;
        _order = order;
        _classesPerBatch = Math.Min(classesPerBatch, classes);
        _dropSingleRowBatches = dropSingleRowBatches;
        _random = new Random(seed);
        _rows = Enumerable.Range(0, labels.Length).ToArray();
        _rowsOfClass = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, labels.Length).Where(n => labels[n] == c).ToArray()).ToArray();
        _taken = new int[classes];
        _openClasses = new int[classes];
        _batch = new int[batchSize];

        // Whatever the seed: a shuffled epoch's first batch has min(BatchSize, rows) rows. A class-grouped epoch's first
        // batch, with two or more classes per batch, takes a row from each of two classes, or (one class with rows)
        // min(BatchSize, rows) rows of it; with one class per batch every batch holds rows of one class, so some batch
        // has two rows exactly when some class has.
        EpochsHaveSteps = !dropSingleRowBatches || (order == BatchOrder.ClassGrouped && _classesPerBatch == 1
            ? _rowsOfClass.Any(rows => rows.Length >= 2)
            : labels.Length >= 2 && batchSize >= 2);
    }

    /// <summary>Whether every epoch has at least one batch; false only when every batch would be left out.</summary>
    public bool EpochsHaveSteps { get; }

    /// <summary>The row indices of each batch of the next epoch; every row appears once, but for the exception above.</summary>
    public IEnumerable<ReadOnlyMemory<int>> NextEpoch() => _order == BatchOrder.Shuffled ? Shuffled() : ClassGrouped();

    private IEnumerable<ReadOnlyMemory<int>> Shuffled()
    {
        _random.Shuffle(_rows);
        for (int start = 0; start < _rows.Length; start += _batchSize)
        {
            // A last batch of one row would leave batch statistics undefined; it is left out of this epoch.
            if (_dropSingleRowBatches && _rows.Length - start == 1)
                yield break;
            yield return _rows.AsMemory(start, Math.Min(_batchSize, _rows.Length - start));
        }
    }

    // Each batch takes an equal share from a few classes that still have rows, chosen at random.
    private IEnumerable<ReadOnlyMemory<int>> ClassGrouped()
    {
        foreach (var rows in _rowsOfClass)
            _random.Shuffle(rows);
        Array.Clear(_taken);
        while (true)
        {
            int open = 0;
            for (int c = 0; c < _rowsOfClass.Length; c++)
                if (_taken[c] < _rowsOfClass[c].Length)
                    _openClasses[open++] = c;
            if (open == 0)
                yield break;
            var candidates = _openClasses.AsSpan(0, open);
            _random.Shuffle(candidates);
            int chosen = Math.Min(_classesPerBatch, open);
            int share = Math.Max(1, _batchSize / chosen);
            int count = 0;
            for (int i = 0; i < chosen; i++)
            {
                int c = _openClasses[i];
                while (count < _batchSize && _taken[c] < _rowsOfClass[c].Length && count < (i + 1) * share)
                    _batch[count++] = _rowsOfClass[c][_taken[c]++];
            }
            if (count >= 2 || !_dropSingleRowBatches)
                yield return _batch.AsMemory(0, count);
        }
    }
}
