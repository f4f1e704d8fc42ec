namespace MLNet.Normalization.Training;

/// <summary>Splits each epoch's rows into mini-batches, shuffled or class-grouped, from a seed.</summary>
internal sealed class BatchSampler
{
    private readonly int[] _labels;
    private readonly int _classes;
    private readonly int _batchSize;
    private readonly BatchOrder _order;
    private readonly int _classesPerBatch;
    private readonly Random _random;

    public BatchSampler(int[] labels, int classes, int batchSize, BatchOrder order, int classesPerBatch, int seed)
    {
        _labels = labels;
        _classes = classes;
        _batchSize = batchSize;
        _order = order;
        _classesPerBatch = Math.Min(classesPerBatch, classes);
        _random = new Random(seed);
    }

    /// <summary>The row indices of each batch of the next epoch; every row appears once.</summary>
    public IEnumerable<int[]> NextEpoch() => _order == BatchOrder.Shuffled ? Shuffled() : ClassGrouped();

    private IEnumerable<int[]> Shuffled()
    {
        var rows = Enumerable.Range(0, _labels.Length).ToArray();
        _random.Shuffle(rows);
        for (int start = 0; start < rows.Length; start += _batchSize)
        {
            // A last batch of one row would leave batch statistics undefined; it joins the next epoch's data instead.
            if (rows.Length - start < 2 && start > 0)
                yield break;
            yield return rows[start..Math.Min(rows.Length, start + _batchSize)];
        }
    }

    // Each batch takes an equal share from a few classes that still have rows, chosen at random.
    private IEnumerable<int[]> ClassGrouped()
    {
        var queues = Enumerable.Range(0, _classes).Select(c => new Queue<int>(Shuffle(Enumerable.Range(0, _labels.Length).Where(n => _labels[n] == c).ToArray()))).ToArray();
        var batch = new List<int>(_batchSize);
        while (true)
        {
            var open = Enumerable.Range(0, _classes).Where(c => queues[c].Count > 0).ToArray();
            if (open.Length == 0)
                yield break;
            var chosen = Shuffle(open).Take(_classesPerBatch).ToArray();
            int share = Math.Max(1, _batchSize / chosen.Length);
            batch.Clear();
            foreach (int c in chosen)
                for (int i = 0; i < share && queues[c].Count > 0 && batch.Count < _batchSize; i++)
                    batch.Add(queues[c].Dequeue());
            if (batch.Count >= 2)
                yield return batch.ToArray();
        }
    }

    private int[] Shuffle(int[] values)
    {
        _random.Shuffle(values);
        return values;
    }
}
