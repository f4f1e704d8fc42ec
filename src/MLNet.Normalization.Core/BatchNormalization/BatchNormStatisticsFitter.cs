using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.BatchNormalization;

/// <summary>
/// Fits batch-norm running statistics from rows streamed in data order, as PyTorch's training mode would over
/// mini-batches (<see cref="BatchNormFitMode.MovingAverage"/>, <see cref="BatchNormFitMode.Cumulative"/>) or
/// exactly over the whole data (<see cref="BatchNormFitMode.Exact"/>). The variance is unbiased (n − 1, PyTorch) or
/// biased (n, Keras and ONNX) as asked. Memory is constant in the number of rows.
/// </summary>
internal sealed class BatchNormStatisticsFitter
{
    private readonly BatchNormFitMode _mode;
    private readonly int _batchSize;
    private readonly double _momentum;
    private readonly bool _unbiased;
    private readonly ChannelMomentsAccumulator _moments;
    private readonly float[] _runningMean;
    private readonly float[] _runningVariance;
    private readonly double[] _batchMean;
    private readonly double[] _batchVariance;
    private long _batches;

    public BatchNormStatisticsFitter(ChannelGeometry geometry, BatchNormFitMode mode, int batchSize, double momentum, bool unbiasedVariance)
    {
        _mode = mode;
        _batchSize = batchSize;
        _momentum = momentum;
        _unbiased = unbiasedVariance;
        _moments = new ChannelMomentsAccumulator(geometry);
        _runningMean = new float[geometry.Channels];
        _runningVariance = Enumerable.Repeat(1f, geometry.Channels).ToArray();
        _batchMean = new double[geometry.Channels];
        _batchVariance = new double[geometry.Channels];
    }

    public void Add(ReadOnlySpan<float> row)
    {
        _moments.Add(row);
        if (_mode != BatchNormFitMode.Exact && _moments.Rows == _batchSize)
            CompleteBatch();
    }

    /// <summary>The running mean and variance after every row added so far (a partial last batch counts).</summary>
    public (float[] Mean, float[] Variance) Complete()
    {
        if (_mode == BatchNormFitMode.Exact)
        {
            CheckMoreThanOneValue("the data");
            var mean = new float[_runningMean.Length];
            var variance = new float[_runningMean.Length];
            for (int c = 0; c < mean.Length; c++)
            {
                mean[c] = (float)_moments[c].Mean;
                variance[c] = (float)Variance(_moments[c]);
            }
            return (mean, variance);
        }
        if (_moments.Rows > 0)
            CompleteBatch();
        return ((float[])_runningMean.Clone(), (float[])_runningVariance.Clone());
    }

    private void CompleteBatch()
    {
        CheckMoreThanOneValue($"batch {_batches + 1} ({_moments.Rows} row{(_moments.Rows == 1 ? "" : "s")})");
        for (int c = 0; c < _batchMean.Length; c++)
        {
            _batchMean[c] = _moments[c].Mean;
            _batchVariance[c] = Variance(_moments[c]);
        }
        _batches++;
        double factor = RunningAverage.Factor(_mode == BatchNormFitMode.Cumulative ? null : _momentum, _batches);
        RunningAverage.Update(_runningMean, _batchMean, factor);
        RunningAverage.Update(_runningVariance, _batchVariance, factor);
        _moments.Reset();
    }

    private double Variance(Moments moments) => _unbiased ? moments.SampleVariance : moments.PopulationVariance;

    // PyTorch refuses too: "Expected more than 1 value per channel when training".
    private void CheckMoreThanOneValue(string where)
    {
        if (_moments[0].Count < 2)
            throw new InvalidOperationException(
                $"Expected more than 1 value per channel to compute a variance, but {where} has {_moments[0].Count}; use a batch size that leaves no single-row batch, or FitMode Exact.");
    }
}
