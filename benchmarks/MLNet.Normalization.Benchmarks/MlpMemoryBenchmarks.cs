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
        var random = new Random(20240604);
        var templates = Enumerable.Range(0, Classes).Select(c => KernelBatch.Filled(random, Features, c, c + 1)).ToArray();
        _data = new GeneratedRows(Rows, "Features", new VectorDataViewType(NumberDataViewType.Single, Features), templates, labelled: true, RowCountKnown);
    }

    [Benchmark]
    public object FitOneEpoch() => _ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
    {
        HiddenLayers = [],
        Normalization = HiddenNormalization.None,
        BatchSize = 32,
        Epochs = 1,
    }).Fit(_data);
}
