using Microsoft.ML;
using Microsoft.ML.Trainers.LightGbm;
using Microsoft.ML.Transforms;
using MLNet.Normalization;
using MLNet.Normalization.Training;

namespace NormalizationSweep;

/// <summary>How a pipeline normalizes its Features column before the trainer.</summary>
internal enum NormalizerKind
{
    /// <summary>The features as loaded.</summary>
    None,

    /// <summary>ML.NET's NormalizeMeanVariance: each feature standardized with its own fitted mean and std.</summary>
    MeanVariance,

    /// <summary>The library's NormalizeChannels with fitted statistics: one mean and std per image channel.</summary>
    NormalizeChannels,

    /// <summary>The library's LayerNorm: each row standardized over its own values.</summary>
    LayerNorm,
}

/// <summary>The trainer at the end of a pipeline.</summary>
internal enum TrainerKind
{
    SdcaMaximumEntropy,
    LightGbm,

    /// <summary>The library's MultilayerPerceptron with plain hidden layers (Linear → ReLU).</summary>
    Mlp,

    /// <summary>The library's MultilayerPerceptron with BatchNorm after each hidden Linear layer.</summary>
    MlpBatchNorm,
}

/// <summary>The grid's pipelines, built with the catalog calls a user writes.</summary>
internal static class PipelineGrid
{
    public const string ClassColumn = "Class";
    public const string FeaturesColumn = "Features";
    public const string LabelColumn = "Label";
    public const string ScoreColumn = "Score";
    public const string PredictedLabelColumn = "PredictedLabel";

    /// <summary>The predicted class as the data writes it (the key's value), for the saved model's users.</summary>
    public const string PredictedClassColumn = "PredictedClass";

    /// <summary>
    /// SDCA's budget of passes over the data. Its default runs until convergence, 7–15 s per fit on 2400 images; 20
    /// passes take under a second and are as accurate on standardized pixels, but leave raw 0..255 pixels at chance.
    /// </summary>
    public const int SdcaMaximumIterations = 20;

    /// <summary>LightGBM's budget: boosting rounds and histogram bins per feature (defaults 100 and 255); 3× faster on the pixels, as accurate.</summary>
    public const int LightGbmIterations = 50, LightGbmBinsPerFeature = 32;

    /// <summary>Every trainer, in the order the sweep runs them, by their command-line names.</summary>
    public static IReadOnlyList<(string Option, TrainerKind Trainer)> TrainerOptions { get; } =
    [
        ("sdca", TrainerKind.SdcaMaximumEntropy),
        ("lightgbm", TrainerKind.LightGbm),
        ("mlp", TrainerKind.Mlp),
        ("mlp-batchnorm", TrainerKind.MlpBatchNorm),
    ];

    public static string Name(NormalizerKind normalizer) => normalizer switch
    {
        NormalizerKind.None => "None",
        NormalizerKind.MeanVariance => "NormalizeMeanVariance",
        NormalizerKind.NormalizeChannels => "NormalizeChannels",
        _ => "LayerNorm",
    };

    public static string Name(TrainerKind trainer) => trainer switch
    {
        TrainerKind.SdcaMaximumEntropy => "SdcaMaximumEntropy",
        TrainerKind.LightGbm => "LightGbm",
        TrainerKind.Mlp => "MLP",
        _ => "MLP + BatchNorm",
    };

    /// <summary>
    /// Class → key label, the normalizer, a cache, the trainer, and the predicted key back to the class value:
    /// <c>MapValueToKey</c> ⟶ normalizer ⟶ <c>AppendCacheCheckpoint</c> ⟶ trainer ⟶ <c>MapKeyToValue</c>.
    /// </summary>
    public static IEstimator<ITransformer> Build(MLContext ml, NormalizerKind normalizer, TrainerKind trainer, MlpSettings mlp)
    {
        // Keys ordered by value, so key k is class k − 1 whichever class the data happens to show first.
        IEstimator<ITransformer> pipeline = ml.Transforms.Conversion.MapValueToKey(LabelColumn, ClassColumn,
            keyOrdinality: ValueToKeyMappingEstimator.KeyOrdinality.ByValue);
        if (Normalizer(ml, normalizer) is { } normalizerEstimator)
            pipeline = pipeline.Append(normalizerEstimator);
        // SDCA, LightGBM and the MLP read the data more than once; the cache keeps the normalizer from running each time.
        return pipeline.AppendCacheCheckpoint(ml)
            .Append(Trainer(ml, trainer, mlp))
            .Append(ml.Transforms.Conversion.MapKeyToValue(PredictedClassColumn, PredictedLabelColumn));
    }

    private static IEstimator<ITransformer>? Normalizer(MLContext ml, NormalizerKind normalizer) => normalizer switch
    {
        NormalizerKind.None => null,
        // fixZero: false centers as well as scales (scikit-learn's StandardScaler); the default keeps zero at zero,
        // which leaves features such as alcohol (13 ± 0.8) bunched near 1.
        NormalizerKind.MeanVariance => ml.Transforms.NormalizeMeanVariance(FeaturesColumn, fixZero: false),
        // No statistics given: fits the channel's mean and std in one pass over the training rows.
        NormalizerKind.NormalizeChannels => ml.Transforms.NormalizeChannels(FeaturesColumn),
        _ => ml.Transforms.LayerNorm(FeaturesColumn),
    };

    private static IEstimator<ITransformer> Trainer(MLContext ml, TrainerKind trainer, MlpSettings mlp) => trainer switch
    {
        TrainerKind.SdcaMaximumEntropy => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(LabelColumn, FeaturesColumn,
            maximumNumberOfIterations: SdcaMaximumIterations),
        TrainerKind.LightGbm => ml.MulticlassClassification.Trainers.LightGbm(new LightGbmMulticlassTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            NumberOfIterations = LightGbmIterations,
            MaximumBinCountPerFeature = LightGbmBinsPerFeature,
        }),
        _ => ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
        {
            LabelColumnName = LabelColumn,
            FeatureColumnName = FeaturesColumn,
            Normalization = trainer == TrainerKind.MlpBatchNorm ? HiddenNormalization.BatchNorm : HiddenNormalization.None,
            Epochs = mlp.Epochs,
            BatchSize = mlp.BatchSize,
            Seed = mlp.Seed,
        }),
    };
}

/// <summary>What the MLP trainers take from the sweep's settings and the task; the rest are the library's defaults.</summary>
/// <param name="Epochs">Passes over each fold's training rows.</param>
/// <param name="BatchSize">Rows per mini-batch.</param>
/// <param name="Seed">Seed of initialization and batch order.</param>
internal sealed record MlpSettings(int Epochs, int BatchSize, int Seed);
