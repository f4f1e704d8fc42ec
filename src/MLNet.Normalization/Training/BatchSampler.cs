namespace MLNet.Normalization.Training;

/// <summary>
/// Splits each epoch's rows into mini-batches, shuffled or class-grouped, from a seed. Batches are views of
/// buffers allocated once, valid until the next batch is drawn.
/// </summary>
internal sealed class BatchSampler
{
    private readonly int _batchSize;
    private readonly BatchOrder _order;
    private readonly int _classesPerBatch;
    private readonly Random _random;
    private readonly int[] _rows;
    private readonly int[][] _rowsOfClass;
    private readonly int[] _taken;
    private readonly int[] _openClasses;
    private readonly int[] _batch;

    public BatchSampler(int[] labels, int classes, int batchSize, BatchOrder order, int classesPerBatch, int seed)
    {
        _batchSize = batchSize;
        _order = order;
        _classesPerBatch = Math.Min(classesPerBatch, classes);
        _random = new Random(seed);
        _rows = Enumerable.Range(0, labels.Length).ToArray();
        _rowsOfClass = Enumerable.Range(0, classes).Select(c => Enumerable.Range(0, labels.Length).Where(n => labels[n] == c).ToArray()).ToArray();
        _taken = new int[classes];
        _openClasses = new int[classes];
        _batch = new int[batchSize];
    }

    /// <summary>The row indices of each batch of the next epoch; every row appears once.</summary>
    public IEnumerable<ReadOnlyMemory<int>> NextEpoch() => _order == BatchOrder.Shuffled ? Shuffled() : ClassGrouped();

    private IEnumerable<ReadOnlyMemory<int>> Shuffled()
    {
        _random.Shuffle(_rows);
        for (int start = 0; start < _rows.Length; start += _batchSize)
        {
            // A last batch of one row would leave batch statistics undefined; it is left out of this epoch.
            if (_rows.Length - start < 2 && start > 0)
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
            if (count >= 2)
                yield return _batch.AsMemory(0, count);
        }
    }
}
