using Microsoft.ML;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Training;

namespace MLNet.Normalization;

/// <summary>Adds the multilayer perceptron to <c>mlContext.MulticlassClassification.Trainers</c>.</summary>
public static class MultilayerPerceptronCatalog
{
    /// <summary>
    /// A multilayer perceptron with normalization layers (batch norm by default; see <see cref="HiddenNormalization"/>),
    /// trained with SGD: hidden 256-256, batch 64, 5 epochs, lr 0.01, momentum 0.9, unless <paramref name="options"/> says otherwise.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range or undefined whatever the data; the error names it.</exception>
    public static MultilayerPerceptronTrainer MultilayerPerceptron(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        MultilayerPerceptronTrainer.Options? options = null)
    {
        return new(catalog.GetEnvironment(), options ?? new MultilayerPerceptronTrainer.Options());
    }
}
