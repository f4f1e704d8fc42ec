namespace MLNet.Normalization.Training;

/// <summary>
/// Options of <see cref="MultilayerPerceptronTraining.Train"/>: the hidden layers, plus what every network trainer shares
/// (<see cref="NetworkTrainingOptions"/>). Defaults: 256-256 hidden, batch norm, SGD lr 0.01, momentum 0.9, batch 64.
/// Training refuses an option out of range with an <see cref="ArgumentException"/> whose parameter and message start
/// with the option's name; the trainer's catalog method checks every option that does not depend on the data already.
/// </summary>
public class MultilayerPerceptronOptions : NetworkTrainingOptions
{
    /// <summary>
    /// Hidden layer sizes; default 256, 256. Each at most <see cref="ModelLimits.MaxParameterLength"/>, the network at most
    /// <see cref="ModelLimits.MaxLayers"/> layers and each Linear layer at most <see cref="ModelLimits.MaxLinearWeights"/> weights.
    /// </summary>
    public int[] HiddenLayers { get; set; } = [256, 256];

    private protected override void ValidateArchitecture()
    {
        if (HiddenLayers is null)
            throw new ArgumentNullException(nameof(HiddenLayers), "HiddenLayers must not be null; [] is a network without hidden layers.");
        if (HiddenLayers.Any(h => h <= 0))
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers), $"HiddenLayers must be positive, got [{string.Join(", ", HiddenLayers)}].");
        for (int i = 0; i < HiddenLayers.Length; i++)
            if (HiddenLayers[i] > ModelLimits.MaxParameterLength)
                throw new ArgumentOutOfRangeException(nameof(HiddenLayers),
                    $"HiddenLayers[{i}] is {HiddenLayers[i]} units wide; a layer is at most {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        if (Normalization == HiddenNormalization.InstanceNorm)
            throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization,
                "Normalization InstanceNorm normalizes each channel over its own spatial values, and a multilayer perceptron's units have one value each: "
                + "every output would be β. Use LayerNorm or GroupNorm, or the convolutional network.");
        long layers = LayerCount;
        if (layers > ModelLimits.MaxLayers)
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers),
                $"HiddenLayers has {HiddenLayers.Length} hidden layers, which with Normalization {Normalization} make a network of {layers} layers; a network has at most {ModelLimits.MaxLayers} (ModelLimits.MaxLayers).");
        for (int i = 1; i < HiddenLayers.Length; i++)
            CheckLinearWeights(HiddenLayers[i - 1], HiddenLayers[i], $"HiddenLayers[{i - 1}] → HiddenLayers[{i}] is a Linear layer of");
    }

    private protected override IEnumerable<(int Channels, string Option)> NormalizedWidths()
        => HiddenLayers.Select((units, i) => (units, $"HiddenLayers[{i}]"));

    /// <summary>
    /// Checks the network these options build for <paramref name="features"/> inputs and <paramref name="classes"/>
    /// outputs against <see cref="ModelLimits"/>, so that every model trained also saves and loads;
    /// <paramref name="featureSource"/> and <paramref name="classSource"/> say where the sizes come from.
    /// </summary>
    internal void ValidateNetwork(int features, int classes, string featureSource, string classSource)
    {
        if (features < 1 || features > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(nameof(features), features,
                $"{featureSource} gives {features} features; a network takes 1 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        if (classes < 2 || classes > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(nameof(classes), classes,
                $"{classSource} gives {classes} classes; a classifier has 2 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        if (HiddenLayers.Length == 0)
        {
            CheckLinearWeights(features, classes, $"HiddenLayers is empty: the {features} features of {featureSource} and the {classes} classes of {classSource} make a Linear layer of");
            return;
        }
        CheckLinearWeights(features, HiddenLayers[0], $"HiddenLayers[0] = {HiddenLayers[0]} and the {features} features of {featureSource} make a Linear layer of");
        CheckLinearWeights(HiddenLayers[^1], classes, $"HiddenLayers[{HiddenLayers.Length - 1}] = {HiddenLayers[^1]} and the {classes} classes of {classSource} make a Linear layer of");

        // Weights and biases of every Linear layer, γ and β of every normalization layer.
        long parameters = 0, inputs = features;
        foreach (long hidden in HiddenLayers)
        {
            parameters += inputs * hidden + hidden + (Normalization == HiddenNormalization.None ? 0 : 2 * hidden);
            inputs = hidden;
        }
        parameters += inputs * classes + classes;
        if (parameters > ModelLimits.MaxNetworkParameters)
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers), parameters,
                $"HiddenLayers [{string.Join(", ", HiddenLayers)}] with the {features} features of {featureSource} and the {classes} classes of {classSource} make a network of {parameters} learned values; a network holds at most {ModelLimits.MaxNetworkParameters} (ModelLimits.MaxNetworkParameters).");
    }

    /// <summary>The layers of the network these options build: Linear, normalization (unless None) and ReLU per hidden layer, then Linear.</summary>
    internal long LayerCount => HiddenLayers.Length * (Normalization == HiddenNormalization.None ? 2L : 3L) + 1;

    private static void CheckLinearWeights(long inputs, long outputs, string what)
    {
        long weights = inputs * outputs;
        if (weights > ModelLimits.MaxLinearWeights)
            throw new ArgumentOutOfRangeException(nameof(HiddenLayers),
                $"{what} {inputs} × {outputs} = {weights} weights; a Linear layer holds at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
    }
}
