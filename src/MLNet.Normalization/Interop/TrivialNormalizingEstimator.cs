using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

/// <summary>
/// An estimator whose transformer needs no data: it is built (and its parameters checked) when the estimator is
/// created, and <see cref="NormalizingEstimatorBase{TTransformer}.Fit"/> only checks it against the data's schema.
/// </summary>
public abstract class TrivialNormalizingEstimator<TTransformer> : NormalizingEstimatorBase<TTransformer>
    where TTransformer : NormalizingTransformerBase
{
    private readonly TTransformer _transformer;

    private protected TrivialNormalizingEstimator(IHostEnvironment env, string name, TTransformer transformer)
        : base(env, name, transformer.OutputColumnName, transformer.InputColumnName)
    {
        _transformer = transformer;
    }

    private protected override TTransformer FitCore(IDataView input) => _transformer;
}
