using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using Microsoft.ML.Trainers;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>
/// ML.NET's trainer base for the network trainers, which holds the contracts internal to ML.NET (the train context,
/// the transformer factory): checks the columns, reads the data once into memory, reports progress on ML.NET's
/// channel and the options' callback, and leaves the network to the subclass. Keeps nothing of a run.
/// </summary>
internal abstract class NetworkTrainerEngine<TModel> : TrainerEstimatorBase<MulticlassPredictionTransformer<TModel>, TModel>
    where TModel : class
{
    // Training reads the data once into arrays of its exact size (LabeledDataReader), so ML.NET's cache would only hold
    // a second copy of the features.
    private static readonly TrainerInfo TrainerInfo = new(normalization: false, caching: false, supportValid: true);
    private readonly NetworkTrainingOptions _options;
    private readonly string _progressName;

    private protected NetworkTrainerEngine(IHostEnvironment env, string name, string progressName, NetworkTrainingOptions options, string featureColumnName, string labelColumnName)
        : base(Contracts.CheckRef(env, nameof(env)).Register(name),
            TrainerUtils.MakeR4VecFeature(VectorColumn.CheckName(featureColumnName, "FeatureColumnName")),
            TrainerUtils.MakeU4ScalarColumn(VectorColumn.CheckName(labelColumnName, "LabelColumnName")), default)
    {
        options.Validate();
        _options = options;
        _progressName = progressName;
    }

    public override TrainerInfo Info => TrainerInfo;

    public override PredictionKind PredictionKind => PredictionKind.MulticlassClassification;

    public MulticlassPredictionTransformer<TModel> Fit(IDataView trainData, IDataView validationData)
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

    public override MulticlassPredictionTransformer<TModel> MakeTransformer(TModel model, DataViewSchema trainSchema)
        => new(Host, model, trainSchema, FeatureColumn.Name, LabelColumn.Name);

    public override TModel TrainModelCore(TrainContext context)
    {
        Host.CheckValue(context, nameof(context));
        _options.Validate();
        string featureColumn = context.TrainingSet.Schema.Feature!.Value.Name, labelColumn = context.TrainingSet.Schema.Label!.Value.Name;
        var schema = context.TrainingSet.Data.Schema;
        var (features, classes) = LabeledDataReader.CheckColumns(Host, schema, featureColumn, labelColumn);
        var runOptions = CheckNetwork(schema, featureColumn, features, classes, $"label column '{labelColumn}'");
        if (context.ValidationSet is { } checkedValidation)
            CheckValidationColumns(schema, featureColumn, labelColumn, checkedValidation, features, classes);
        var train = LabeledDataReader.Read(Host, context.TrainingSet.Data, featureColumn, labelColumn, "training");
        var validation = context.ValidationSet is { } v
            ? LabeledDataReader.Read(Host, v.Data, v.Schema.Feature!.Value.Name, v.Schema.Label!.Value.Name, "validation")
            : null;

        using var channel = Host.StartProgressChannel(_progressName);
        EpochReport? last = null;
        channel.SetHeader(new ProgressHeader(["loss", "train accuracy"], ["epochs"]), entry => entry.SetProgress(0, last?.Epoch ?? 0, _options.Epochs));
        var userCallback = runOptions.EpochCompleted;
        var options = runOptions.WithEpochCallback(report =>
        {
            last = report;
            channel.Checkpoint(report.Loss, report.TrainAccuracy, report.Epoch);
            userCallback?.Invoke(report);
        });
        return Train(options, train, validation, featureColumn);
    }

    /// <summary>
    /// Checks the network the options build on the features column (its name, length and type in
    /// <paramref name="schema"/>) and the classes of <paramref name="classSource"/>, before any row is read; returns the
    /// options of this run (the trainer's, or a copy completed from the column, such as its image shape).
    /// </summary>
    private protected abstract NetworkTrainingOptions CheckNetwork(DataViewSchema schema, string featureColumn, int features, int classes, string classSource);

    /// <summary>Trains on the data read with <paramref name="options"/> (this run's, reporting to ML.NET's channel) and makes the model.</summary>
    private protected abstract TModel Train(NetworkTrainingOptions options, LabeledData train, LabeledData? validation, string featureColumn);

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
