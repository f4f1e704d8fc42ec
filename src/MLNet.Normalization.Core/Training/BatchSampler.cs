namespace MLNet.Normalization.Training;

/// <summary>
/// Splits each epoch's rows into mini-batches, shuffled or class-grouped, from a seed.
/// <para>
/// Shuffled: a fresh random permutation of the rows cut into batches of <c>batchSize</c> rows, the last one holding
/// the rest.
/// </para>
/// <para>
/// Class-grouped: each batch holds <c>s = ⌊batchSize / k⌋</c> rows of each of <c>k</c> distinct classes, where
/// <c>k</c> is <c>classesPerBatch</c> capped by the number of classes that have rows and by <c>batchSize</c>. Every
/// epoch, each class's rows are shuffled and cut into <c>m</c> chunks of <c>s</c> rows (the last chunk holds the rest,
/// fewer than <c>s</c>, when <c>s</c> does not divide the class). The epoch's schedule spreads every class's chunks
/// evenly over the epoch: the epoch is divided into <c>m</c> equal spans for that class and each span gets one of its
/// chunks, at a random place within it (the short chunk in a random span); all classes' chunks are then ordered by
/// place. So every class is consumed at the same rate: in any stretch of the schedule (the first batches, the last
/// hundred) each class has its share of the rows, in proportion to its size, within about two chunks (with
/// Fashion-MNIST's 10 classes of 6000 rows, batch 64 and 2 classes per batch, every class holds 9.3 to 10.6 % of the
/// rows of every 100 consecutive batches, over 20 seeds and 2 epochs each). Batches are
/// formed in schedule order: a batch takes the earliest chunk left, then for each further class the earliest chunk
/// left of a class not yet in the batch among the next <c>2 × classes with rows</c> chunks left, so the classes that
/// meet vary from batch to batch and a chunk is never moved far from its place. A batch therefore holds <c>k · s</c>
/// rows of <c>k</c> classes, except: a batch with a class's short chunk holds fewer rows; a class with more than
/// <c>1/k</c> of the chunks cannot meet another class in every batch, and where no other class is within reach a batch
/// takes a second chunk of a class it already holds; and the epoch's last batch holds fewer chunks when their number
/// is not a multiple of <c>k</c>.
/// </para>
/// <para>
/// Every row appears once per epoch, with one exception: when <c>dropSingleRowBatches</c> is set (the network has
/// batch-statistics layers, which need two values per channel), a batch that holds a single row is left out of that
/// epoch: the last batch of a shuffled epoch when the rows leave one over; in class-grouped epochs, with <c>k</c> = 1
/// (which <c>batchSize</c> 1 implies) a chunk of one row, else at most the epoch's last batch, when it is left with one
/// chunk of one row. Leaving a batch out changes no other batch. Without batch-statistics layers no row is ever left
/// out. Batches are views of buffers allocated once, valid until the next batch is drawn.
/// </para>
/// </summary>
internal sealed class BatchSampler
{
    private readonly int _batchSize;
    private readonly BatchOrder _order;
    private readonly bool _dropSingleRowBatches;
    private readonly Random _random;
    private readonly int[] _rows;
    private readonly int[][] _rowsOfClass;
    private readonly int[] _batch;

    // The class-grouped schedule: k classes of s rows per batch; slot i is chunk _slotChunk[i] of class _slotClass[i].
    private readonly int _classesPerBatch;
    private readonly int _chunkRows;
    private readonly int _lookahead;
    private readonly int[] _slotClass;
    private readonly int[] _slotChunk;
    private readonly double[] _places;
    private readonly int[] _schedule;
    private readonly bool[] _used;
    private readonly int[] _batchClasses;

    public BatchSampler(int[] labels, int classes, int batchSize, BatchOrder order, int classesPerBatch, int seed, bool dropSingleRowBatches)
    {
        if (!Enum.IsDefined(order))
            throw new ArgumentOutOfRangeException(nameof(order), order, $"{(int)order} is not a {nameof(BatchOrder)} value.");
        _batchSize = batchSize;
        _order = order;
        _dropSingleRowBatches = dropSingleRowBatches;
        _random = new Random(seed);
        _rows = Enumerable.Range(0, labels.Length).ToArray();
        var sizes = new int[classes];
        foreach (int label in labels)
            sizes[label]++;
        _rowsOfClass = sizes.Select(size => new int[size]).ToArray();
        Array.Clear(sizes);
        for (int n = 0; n < labels.Length; n++)
            _rowsOfClass[labels[n]][sizes[labels[n]]++] = n;
        _batch = new int[batchSize];

        int classesWithRows = _rowsOfClass.Count(rows => rows.Length > 0);
        _classesPerBatch = Math.Max(1, Math.Min(Math.Min(classesPerBatch, classesWithRows), batchSize));
        _chunkRows = batchSize / _classesPerBatch;
        _lookahead = 2 * classesWithRows;
        int slots = order == BatchOrder.ClassGrouped ? _rowsOfClass.Sum(rows => Chunks(rows.Length)) : 0;
        _slotClass = new int[slots];
        _slotChunk = new int[slots];
        for (int c = 0, slot = 0; slot < slots; c++)
            for (int j = 0; j < Chunks(_rowsOfClass[c].Length); j++, slot++)
                (_slotClass[slot], _slotChunk[slot]) = (c, j);
        _places = new double[slots];
        _schedule = new int[slots];
        _used = new bool[slots];
        _batchClasses = new int[_classesPerBatch];

        // Whatever the seed: a shuffled epoch's first batch has min(BatchSize, rows) rows. A class-grouped epoch's first
        // batch holds k chunks of at least one row each (there are at least as many chunks as classes with rows), so two
        // rows or more when k >= 2; with k = 1 every batch is one chunk of at most BatchSize rows of one class, so some
        // batch has two rows exactly when BatchSize and some class have.
        EpochsHaveSteps = !dropSingleRowBatches || (order == BatchOrder.ClassGrouped
            ? _classesPerBatch >= 2 || (batchSize >= 2 && _rowsOfClass.Any(rows => rows.Length >= 2))
            : labels.Length >= 2 && batchSize >= 2);
    }

    private int Chunks(int rows) => (rows + _chunkRows - 1) / _chunkRows;

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

    private IEnumerable<ReadOnlyMemory<int>> ClassGrouped()
    {
        Schedule();
        int head = 0;
        while (true)
        {
            while (head < _schedule.Length && _used[head])
                head++;
            if (head == _schedule.Length)
                yield break;
            int count = Take(head, 0, 0);
            for (int classes = 1; classes < _classesPerBatch; classes++)
            {
                int pick = NextOtherClass(head, classes);
                if (pick < 0)
                    break;
                count = Take(pick, classes, count);
            }
            // A batch of one row would leave batch statistics undefined; it is left out of this epoch.
            if (count >= 2 || !_dropSingleRowBatches)
                yield return _batch.AsMemory(0, count);
        }
    }

    /// <summary>
    /// Shuffles each class's rows and orders all chunks by their place in the epoch: chunk j of a class of m chunks at
    /// (span + u) / m, u uniform in [0, 1), its span j, but for the short last chunk, which swaps spans with a random one.
    /// </summary>
    private void Schedule()
    {
        foreach (var rows in _rowsOfClass)
            _random.Shuffle(rows);
        for (int slot = 0; slot < _schedule.Length;)
        {
            int chunks = Chunks(_rowsOfClass[_slotClass[slot]].Length);
            int shortSpan = _random.Next(chunks);
            for (int j = 0; j < chunks; j++, slot++)
            {
                int span = j == chunks - 1 ? shortSpan : j == shortSpan ? chunks - 1 : j;
                _places[slot] = (span + _random.NextDouble()) / chunks;
                _schedule[slot] = slot;
            }
        }
        Array.Sort(_places, _schedule);
        Array.Clear(_used);
    }

    /// <summary>
    /// The earliest chunk left, after <paramref name="head"/> and among the next <see cref="_lookahead"/> chunks left, of a
    /// class not among the batch's first <paramref name="classes"/>; else the earliest chunk left; -1 when none is left.
    /// </summary>
    private int NextOtherClass(int head, int classes)
    {
        int earliest = -1;
        for (int i = head + 1, seen = 0; i < _schedule.Length && seen < _lookahead; i++)
        {
            if (_used[i])
                continue;
            if (earliest < 0)
                earliest = i;
            seen++;
            if (Array.IndexOf(_batchClasses, _slotClass[_schedule[i]], 0, classes) < 0)
                return i;
        }
        return earliest;
    }

    /// <summary>Appends the chunk at schedule position <paramref name="position"/> to the batch; returns the batch's rows.</summary>
    private int Take(int position, int classes, int count)
    {
        _used[position] = true;
        int slot = _schedule[position];
        int c = _slotClass[slot];
        _batchClasses[classes] = c;
        var rows = _rowsOfClass[c];
        int start = _slotChunk[slot] * _chunkRows;
        int length = Math.Min(_chunkRows, rows.Length - start);
        Array.Copy(rows, start, _batch, count, length);
        return count + length;
    }
}
