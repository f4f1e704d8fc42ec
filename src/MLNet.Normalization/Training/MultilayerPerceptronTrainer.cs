using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>
/// ML.NET trainer of a multilayer-perceptron classifier with normalization layers (see <see cref="MultilayerPerceptronTraining"/>),
/// on a known-size float vector Features column and a key Label column; see
/// <see cref="MultilayerPerceptronCatalog.MultilayerPerceptron(MulticlassClassificationCatalog.MulticlassClassificationTrainers, MultilayerPerceptronTrainer.Options?)"/>.
/// Produces the usual Score and PredictedLabel columns; batch-statistics layers are folded into the Linear layers
/// of the saved model. Training reads the data once into memory, the features taking their own size (a data view that
/// does not know its row count is counted first, by a cursor over no column): a row whose length differs from the
/// column's, a non-finite feature or a missing label is an error naming the column and row. Progress reaches the
/// user through <see cref="MultilayerPerceptronOptions.EpochCompleted"/> and ML.NET's progress channel; the trainer
/// keeps nothing of a run, so one trainer fits any number of times, concurrently too.
/// </summary>
public sealed class MultilayerPerceptronTrainer
    : ITrainerEstimator<MulticlassPredictionTransformer<MultilayerPerceptronModelParameters>, MultilayerPerceptronModelParameters>
{
    /// <summary>The training options plus the column names.</summary>
    public sealed class Options : MultilayerPerceptronOptions
    {
        /// <summary>The label column, a key type; default "Label".</summary>
        public string LabelColumnName { get; set; } = DefaultColumnNames.Label;

        /// <summary>The features column, a known-size float vector; default "Features".</summary>
        public string FeatureColumnName { get; set; } = DefaultColumnNames.Features;
    }

    private readonly Engine _engine;

    /// <summary>Checks every option that does not depend on the data; training checks them again, with the rest.</summary>
    internal MultilayerPerceptronTrainer(IHostEnvironment env, Options options)
    {
        _engine = new Engine(env, options);
    }

    /// <summary>No normalization or caching needed; validation data supported.</summary>
    public TrainerInfo Info => _engine.Info;

    /// <summary>Trains on <paramref name="input"/>.</summary>
    public MulticlassPredictionTransformer<MultilayerPerceptronModelParameters> Fit(IDataView input) => _engine.Fit(input);

    /// <summary>Trains, reporting validation accuracy after each epoch.</summary>
    public MulticlassPredictionTransformer<MultilayerPerceptronModelParameters> Fit(IDataView trainData, IDataView validationData)
        => _engine.Fit(trainData, validationData);

    /// <summary>The input shape plus Score (one value per class) and PredictedLabel; errors name a missing or mistyped column.</summary>
    public SchemaShape GetOutputSchema(SchemaShape inputSchema) => _engine.GetOutputSchema(inputSchema);

    /// <summary>ML.NET's trainer base, which holds the contracts internal to ML.NET (the train context, the transformer factory).</summary>
    private sealed class Engine
        : TrainerEstimatorBase<MulticlassPredictionTransformer<MultilayerPerceptronModelParameters>, MultilayerPerceptronModelParameters>
    {
        // Training reads the data once into arrays of its exact size (LabeledDataReader), so ML.NET's cache would only hold
        // a second copy of the features.
        private static readonly TrainerInfo TrainerInfo = new(normalization: false, caching: false, supportValid: true);
        private readonly Options _options;

        public Engine(IHostEnvironment env, Options options)
            : base(Contracts.CheckRef(env, nameof(env)).Register(nameof(MultilayerPerceptronTrainer)),
                TrainerUtils.MakeR4VecFeature(VectorColumn.CheckName(options.FeatureColumnName, nameof(Options.FeatureColumnName))),
                TrainerUtils.MakeU4ScalarColumn(VectorColumn.CheckName(options.LabelColumnName, nameof(Options.LabelColumnName))), default)
        {
            options.Validate();
            _options = options;
        }

        public override TrainerInfo Info => TrainerInfo;

        public override PredictionKind PredictionKind => PredictionKind.MulticlassClassification;

        public MulticlassPredictionTransformer<MultilayerPerceptronModelParameters> Fit(IDataView trainData, IDataView validationData)
            => TrainTransformer(trainData, validationData);

        public override SchemaShape.Column[] GetOutputColumnsCore(SchemaShape inputSchema)
        {
            inputSchema.TryFindColumn(LabelColumn.Name, out var label);
            var predictedLabelAnnotations = new SchemaShape(label.Annotations.Where(a => a.Name == AnnotationUtils.Kinds.KeyValues)
                .Concat(AnnotationUtils.GetTrainerOutputAnnotation()));
            return
            [
                new SchemaShape.Column(DefaultColumnNames.Score, SchemaShape.Column.VectorKind.Vector, NumberDataViewType.Single, false,
                    new SchemaShape(AnnotationUtils.AnnotationsForMulticlassScoreColumn(label))),
                new SchemaShape.Column(DefaultColumnNames.PredictedLabel, SchemaShape.Column.VectorKind.Scalar, NumberDataViewType.UInt32, true, predictedLabelAnnotations),
            ];
        }

        public override MulticlassPredictionTransformer<MultilayerPerceptronModelParameters> MakeTransformer(MultilayerPerceptronModelParameters model, DataViewSchema trainSchema)
            => new(Host, model, trainSchema, FeatureColumn.Name, LabelColumn.Name);

        public override MultilayerPerceptronModelParameters TrainModelCore(TrainContext context)
        {
            Host.CheckValue(context, nameof(context));
            _options.Validate();
            string featureColumn = context.TrainingSet.Schema.Feature!.Value.Name, labelColumn = context.TrainingSet.Schema.Label!.Value.Name;
            var (features, classes) = LabeledDataReader.CheckColumns(Host, context.TrainingSet.Data.Schema, featureColumn, labelColumn);
            _options.ValidateNetwork(features, classes, $"feature column '{featureColumn}'", $"label column '{labelColumn}'");
            if (context.ValidationSet is { } checkedValidation)
                CheckValidationColumns(context.TrainingSet.Data.Schema, featureColumn, labelColumn, checkedValidation, features, classes);
            var train = LabeledDataReader.Read(Host, context.TrainingSet.Data, featureColumn, labelColumn, "training");
            var validation = context.ValidationSet is { } v
                ? LabeledDataReader.Read(Host, v.Data, v.Schema.Feature!.Value.Name, v.Schema.Label!.Value.Name, "validation")
                : null;

            using var channel = Host.StartProgressChannel("Multilayer perceptron training");
            EpochReport? last = null;
            channel.SetHeader(new ProgressHeader(["loss", "train accuracy"], ["epochs"]), entry => entry.SetProgress(0, last?.Epoch ?? 0, _options.Epochs));
            var userCallback = _options.EpochCompleted;
            var options = _options.WithEpochCallback(report =>
            {
                last = report;
                channel.Checkpoint(report.Loss, report.TrainAccuracy, report.Epoch);
                userCallback?.Invoke(report);
            });

            var trained = MultilayerPerceptronTraining.Train(train, options, validation);
            return new MultilayerPerceptronModelParameters(Host, trained.Network.Fold(), train.FeatureCount, train.Classes, featureColumn);
        }

        /// <summary>
        /// Refuses validation data whose features are not as wide as the training data's, or whose label has another
        /// number of classes, before anything is read; the error names the validation data's column and both types.
        /// </summary>
        private void CheckValidationColumns(DataViewSchema trainSchema, string featureColumn, string labelColumn, RoleMappedData validation, int features, int classes)
        {
            string validationFeature = validation.Schema.Feature!.Value.Name, validationLabel = validation.Schema.Label!.Value.Name;
            var (validationFeatures, validationClasses) = LabeledDataReader.CheckColumns(Host, validation.Data.Schema, validationFeature, validationLabel);
            if (validationFeatures != features)
                throw Host.ExceptSchemaMismatch("validationData", "feature", validationFeature,
                    $"{trainSchema[featureColumn].Type} as in the training data", validation.Data.Schema[validationFeature].Type.ToString());
            if (validationClasses != classes)
                throw Host.ExceptSchemaMismatch("validationData", "label", validationLabel,
                    $"{trainSchema[labelColumn].Type} ({classes} classes) as in the training data",
                    $"{validation.Data.Schema[validationLabel].Type} ({validationClasses} classes)");
        }
    }
}
