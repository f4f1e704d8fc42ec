using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
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
/// user through <see cref="NetworkTrainingOptions.EpochCompleted"/> and ML.NET's progress channel; the trainer
/// keeps nothing of a run, so one trainer fits any number of times, concurrently too.
/// </summary>
public sealed class MultilayerPerceptronTrainer : NetworkTrainer<MultilayerPerceptronModelParameters>
{
    /// <summary>The training options plus the column names.</summary>
    public sealed class Options : MultilayerPerceptronOptions
    {
        /// <summary>The label column, a key type; default "Label".</summary>
        public string LabelColumnName { get; set; } = DefaultColumnNames.Label;

        /// <summary>The features column, a known-size float vector; default "Features".</summary>
        public string FeatureColumnName { get; set; } = DefaultColumnNames.Features;
    }

    /// <summary>Checks every option that does not depend on the data; training checks them again, with the rest.</summary>
    internal MultilayerPerceptronTrainer(IHostEnvironment env, Options options)
        : base(new Engine(env, options))
    {
    }

    /// <summary>The shared network trainer engine, building the multilayer perceptron.</summary>
    private sealed class Engine(IHostEnvironment env, Options options)
        : NetworkTrainerEngine<MultilayerPerceptronModelParameters>(env, nameof(MultilayerPerceptronTrainer), "Multilayer perceptron training",
            options, options.FeatureColumnName, options.LabelColumnName)
    {
        private protected override NetworkTrainingOptions CheckNetwork(DataViewSchema schema, string featureColumn, int features, int classes, string classSource)
        {
            options.ValidateNetwork(features, classes, $"feature column '{featureColumn}'", classSource);
            return options;
        }

        private protected override MultilayerPerceptronModelParameters Train(NetworkTrainingOptions runOptions, LabeledData train, LabeledData? validation, string featureColumn)
        {
            var trained = MultilayerPerceptronTraining.Train(train, (MultilayerPerceptronOptions)runOptions, validation);
            return new MultilayerPerceptronModelParameters(Host, trained.Network.Fold(), train.FeatureCount, train.Classes, featureColumn);
        }
    }
}
