using Microsoft.ML;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>Adds the convolutional network to <c>mlContext.MulticlassClassification.Trainers</c>.</summary>
public static class ConvolutionalNetworkCatalog
{
    /// <summary>
    /// A convolutional image classifier with a normalization after every convolution (batch norm by default; see
    /// <see cref="HiddenNormalization"/>), trained with SGD: conv 3×3 (32)–norm–ReLU–max pool 2–conv 3×3 (64)–norm–ReLU–
    /// max pool 2–dense (128)–ReLU–dense (classes), batch 64, 5 epochs, lr 0.01, momentum 0.9, unless
    /// <paramref name="options"/> says otherwise.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range or undefined whatever the data; the error names it.</exception>
    public static ConvolutionalNetworkTrainer ConvolutionalNetwork(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        ConvolutionalNetworkTrainer.Options? options = null)
    {
        return new(catalog.GetEnvironment(), options ?? new ConvolutionalNetworkTrainer.Options());
    }
}
