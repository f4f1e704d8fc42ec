namespace MLNet.Normalization.Training;

/// <summary>
/// A multilayer perceptron classifier trained with SGD: Linear → normalization → ReLU per hidden layer, then Linear,
/// softmax cross-entropy loss. Deterministic: the same options and data give bit-identical weights on one machine.
/// </summary>
public sealed class MultilayerPerceptronTraining : NetworkTraining
{
    private MultilayerPerceptronTraining(Sequential network, int classes)
        : base(network, classes)
    {
    }

    /// <summary>Builds the network of <paramref name="options"/> for the given sizes, initialized from its seed.</summary>
    /// <exception cref="ArgumentException">An option is out of range, or the network would exceed <see cref="ModelLimits"/>.</exception>
    public static Sequential Build(int features, int classes, MultilayerPerceptronOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options.ValidateNetwork(features, classes, "the features argument", "the classes argument");
        var layers = new List<Layer>();
        int inputs = features, seed = options.Seed;
        foreach (int hidden in options.HiddenLayers)
        {
            layers.Add(new LinearLayer(inputs, hidden, seed++));
            if (options.CreateNormalization(hidden, 1, seed++) is { } normalization)
                layers.Add(normalization);
            layers.Add(new ReluLayer(hidden));
            inputs = hidden;
        }
        layers.Add(new LinearLayer(inputs, classes, seed));
        return new Sequential(layers);
    }

    /// <summary>Trains a network on <paramref name="train"/>, reporting validation accuracy after each epoch when given.</summary>
    /// <exception cref="ArgumentException">An option or the data is out of range; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite; the message names the epoch and step.</exception>
    public static MultilayerPerceptronTraining Train(LabeledData train, MultilayerPerceptronOptions options, LabeledData? validation = null)
    {
        CheckData(train, options, validation);
        options.ValidateNetwork(train.FeatureCount, train.Classes, "train.FeatureCount", "train.Classes");
        var model = new MultilayerPerceptronTraining(Build(train.FeatureCount, train.Classes, options), train.Classes);
        model.Run(train, options, validation);
        return model;
    }
}
