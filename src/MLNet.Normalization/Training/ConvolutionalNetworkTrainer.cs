using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>
/// ML.NET trainer of a convolutional image classifier with normalization layers (see
/// <see cref="ConvolutionalNetworkTraining"/>), on a float vector features column of images and a key Label column;
/// see <see cref="ConvolutionalNetworkCatalog.ConvolutionalNetwork"/>. The image shape (C, H, W) comes from the
/// column's dimensions, as ML.NET's <c>ExtractPixels</c> declares them in its default planar order, or from
/// <see cref="ConvolutionalNetworkOptions.InputShape"/> for a column without them (such as 784 Fashion-MNIST pixels:
/// (1, 28, 28)); dimensions that read as interleaved (H, W, C) pixels, or could, are refused unless InputShape
/// confirms them. Produces the usual Score and PredictedLabel columns; batch norm and Batch Renorm are folded into the
/// convolution before them in the saved model. Training reads the data once into memory; a row whose length differs
/// from the column's, a non-finite pixel or a missing label is an error naming the column and row. Progress reaches
/// the user through <see cref="NetworkTrainingOptions.EpochCompleted"/> and ML.NET's progress channel; the trainer
/// keeps nothing of a run.
/// </summary>
public sealed class ConvolutionalNetworkTrainer : NetworkTrainer<ConvolutionalNetworkModelParameters>
{
    /// <summary>The training options plus the column names.</summary>
    public sealed class Options : ConvolutionalNetworkOptions
    {
        /// <summary>The label column, a key type; default "Label".</summary>
        public string LabelColumnName { get; set; } = DefaultColumnNames.Label;

        /// <summary>The features column, a known-size float vector of images, (C, H, W) planar; default "Features".</summary>
        public string FeatureColumnName { get; set; } = DefaultColumnNames.Features;
    }

    /// <summary>Checks every option that does not depend on the data; training checks them again, with the rest.</summary>
    internal ConvolutionalNetworkTrainer(IHostEnvironment env, Options options)
        : base(new Engine(env, options))
    {
    }

    /// <summary>The shared network trainer engine, building the convolutional network on the column's image shape.</summary>
    private sealed class Engine(IHostEnvironment env, Options options)
        : NetworkTrainerEngine<ConvolutionalNetworkModelParameters>(env, nameof(ConvolutionalNetworkTrainer), "Convolutional network training",
            options, options.FeatureColumnName, options.LabelColumnName)
    {
        private protected override NetworkTrainingOptions CheckNetwork(DataViewSchema schema, string featureColumn, int features, int classes, string classSource)
        {
            var type = (VectorDataViewType)schema[featureColumn].Type;
            ImageShape? declared = type.Dimensions.Length == 3 ? new ImageShape(type.Dimensions[0], type.Dimensions[1], type.Dimensions[2]) : null;
            ImageShape shape;
            if (options.InputShape is { } given)
            {
                if (given.Size != features)
                    throw Host.ExceptSchemaMismatch(nameof(schema), "feature", featureColumn,
                        $"a vector of {given.Size} values, the InputShape {given}", type.ToString());
                if (declared is { } d && d != given)
                    throw Host.ExceptSchemaMismatch(nameof(schema), "feature", featureColumn,
                        $"images of the InputShape {given}", $"{type}, images of {d}");
                shape = given;
            }
            else
            {
                shape = declared ?? throw Host.ExceptSchemaMismatch(nameof(schema), "feature", featureColumn,
                    "a vector of images with (C, H, W) dimensions, as ExtractPixels writes, or set Options.InputShape",
                    $"{type}, whose image shape is unknown");
                CheckPlanar(shape, type, featureColumn);
            }
            options.ValidateNetwork(shape, classes, $"feature column '{featureColumn}' ({shape})", classSource);
            return options.WithInputShape(shape);
        }

        /// <summary>
        /// Refuses dimensions that read as interleaved (H, W, C) pixels, ExtractPixels(interleavePixelColors: true), or
        /// that could be either order, with the rule of <see cref="ChannelLayout.Auto"/>: read as (C, H, W) they would
        /// train on scrambled images without a sign. Options.InputShape equal to the dimensions confirms them.
        /// </summary>
        private void CheckPlanar(ImageShape shape, VectorDataViewType type, string featureColumn)
        {
            bool firstIsChannels = ChannelGeometry.IsImageChannelCount(shape.Channels), lastIsChannels = ChannelGeometry.IsImageChannelCount(shape.Width);
            if (!lastIsChannels)
                return;
            string confirm = $"If they are planar (C, H, W), set Options.InputShape = new ImageShape({shape.Channels}, {shape.Height}, {shape.Width}) to confirm them";
            throw Host.ExceptSchemaMismatch("schema", "feature", featureColumn,
                "planar (C, H, W) images, as ExtractPixels writes them by default (interleavePixelColors: false)",
                firstIsChannels
                    ? $"{type}, which could be (C, H, W) or interleaved (H, W, C) pixels. {confirm}"
                    : $"{type}, which reads as interleaved (H, W, C) pixels: {shape.Width} channels of {shape.Channels} × {shape.Height}. " +
                      $"Extract the pixels planar, or, {char.ToLowerInvariant(confirm[0])}{confirm[1..]}");
        }

        private protected override ConvolutionalNetworkModelParameters Train(NetworkTrainingOptions runOptions, LabeledData train, LabeledData? validation, string featureColumn)
        {
            var trained = ConvolutionalNetworkTraining.Train(train, (ConvolutionalNetworkOptions)runOptions, validation);
            return new ConvolutionalNetworkModelParameters(Host, trained.Network.Fold(), trained.InputShape, train.Classes, featureColumn);
        }
    }
}
