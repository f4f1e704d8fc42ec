using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace MLNet.Normalization;

/// <summary>
/// What the library's network trainers share as ML.NET estimators: fit (with validation data, reporting its accuracy
/// after each epoch), the output schema and the trainer's info, all from one engine that keeps nothing of a run, so a
/// trainer fits any number of times, concurrently too.
/// </summary>
/// <typeparam name="TModel">The model parameters the trainer makes.</typeparam>
public abstract class NetworkTrainer<TModel> : ITrainerEstimator<MulticlassPredictionTransformer<TModel>, TModel>
    where TModel : NetworkModelParameters
{
    private readonly NetworkTrainerEngine<TModel> _engine;

    private protected NetworkTrainer(NetworkTrainerEngine<TModel> engine)
    {
        _engine = engine;
    }

    /// <summary>No normalization or caching needed; validation data supported.</summary>
    public TrainerInfo Info => _engine.Info;

    /// <summary>Trains on <paramref name="input"/>.</summary>
    public MulticlassPredictionTransformer<TModel> Fit(IDataView input) => _engine.Fit(input);

    /// <summary>Trains, reporting validation accuracy after each epoch.</summary>
    public MulticlassPredictionTransformer<TModel> Fit(IDataView trainData, IDataView validationData)
        => _engine.Fit(trainData, validationData);

    /// <summary>The input shape plus Score (one value per class) and PredictedLabel; errors name a missing or mistyped column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _engine.GetOutputSchema(inputSchema);
}
