namespace MLNet.Normalization.Training;

/// <summary>
/// A convolutional classifier trained with SGD on softmax cross-entropy: the blocks of
/// <see cref="ConvolutionalNetworkOptions.Blocks"/> (convolution → normalization → ReLU, pooling, dense), then a Linear
/// layer to the classes. Rows are images of <see cref="ConvolutionalNetworkOptions.InputShape"/>, (C, H, W) planar.
/// Deterministic: the same options and data give bit-identical weights on one machine, for any thread count.
/// </summary>
public sealed class ConvolutionalNetworkTraining : NetworkTraining
{
    private ConvolutionalNetworkTraining(Sequential network, int classes, ImageShape inputShape)
        : base(network, classes)
    {
        InputShape = inputShape;
    }

    /// <summary>The (C, H, W) of each row.</summary>
    public ImageShape InputShape { get; }

    /// <summary>
    /// Builds the network of <paramref name="options"/> for images of <paramref name="inputShape"/> and
    /// <paramref name="classes"/> classes, initialized from its seed as PyTorch initializes Conv2d and Linear
    /// (U(−1/√fan_in, 1/√fan_in)); normalization layers start at γ = 1, β = 0. A ReLU followed by max pooling is
    /// built as the pooling followed by the ReLU: the same outputs and gradients, a quarter of the ReLU's work.
    /// </summary>
    /// <exception cref="ArgumentException">An option is out of range, a block shrinks a map below 1 × 1, or the network would exceed <see cref="ModelLimits"/>.</exception>
    public static Sequential Build(ImageShape inputShape, int classes, ConvolutionalNetworkOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        options.ValidateNetwork(inputShape, classes, "the inputShape argument", "the classes argument");
        return BuildValidated(inputShape, classes, options);
    }

    private static Sequential BuildValidated(ImageShape inputShape, int classes, ConvolutionalNetworkOptions options)
    {
        var layers = new List<Layer>();
        var shape = inputShape;
        int seed = options.Seed;
        foreach (var block in options.Blocks)
        {
            switch (block)
            {
                case ConvolutionBlock c:
                    var convolution = new Conv2dLayer(shape, c.Channels, c.KernelSize, c.Stride, c.EffectivePadding, bias: true, seed: seed++);
                    shape = convolution.Output;
                    layers.Add(convolution);
                    AddNormalizationAndRelu(layers, options.CreateNormalization(shape.Channels, shape.Spatial, seed++), shape.Size);
                    break;
                case MaxPoolBlock p:
                    var maxPool = new MaxPool2dLayer(shape, p.KernelSize, p.Stride);
                    shape = maxPool.Output;
                    // max(ReLU(x)) = ReLU(max(x)), and the gradient reaches the same input: the ReLU runs after the
                    // pooling, on a quarter of the values (2 × 2 windows).
                    bool reluBefore = layers[^1] is ReluLayer;
                    if (reluBefore)
                        layers.RemoveAt(layers.Count - 1);
                    layers.Add(maxPool);
                    if (reluBefore)
                        layers.Add(new ReluLayer(shape.Size));
                    break;
                case AveragePoolBlock p:
                    var averagePool = new AvgPool2dLayer(shape, p.KernelSize, p.Stride);
                    shape = averagePool.Output;
                    layers.Add(averagePool);
                    break;
                case GlobalAveragePoolBlock:
                    layers.Add(new GlobalAveragePoolLayer(shape));
                    shape = new ImageShape(shape.Channels, 1, 1);
                    break;
                case DenseBlock d:
                    layers.Add(new LinearLayer(shape.Size, d.Units, seed++));
                    var normalization = options.CreateNormalization(d.Units, 1, seed++);
                    AddNormalizationAndRelu(layers, options.NormalizeDenseLayers ? normalization : null, d.Units);
                    shape = new ImageShape(d.Units, 1, 1);
                    break;
            }
        }
        layers.Add(new LinearLayer(shape.Size, classes, seed));
        return new Sequential(layers);
    }

    private static void AddNormalizationAndRelu(List<Layer> layers, NormalizationLayer? normalization, int features)
    {
        if (normalization is not null)
            layers.Add(normalization);
        layers.Add(new ReluLayer(features));
    }

    /// <summary>
    /// Trains a network on <paramref name="train"/>, whose rows are images of <see cref="ConvolutionalNetworkOptions.InputShape"/>,
    /// reporting validation accuracy after each epoch when given.
    /// </summary>
    /// <exception cref="ArgumentException">An option or the data is out of range, or InputShape is not set or does not hold train.FeatureCount values; the message names it.</exception>
    /// <exception cref="InvalidOperationException">The loss became NaN or infinite; the message names the epoch and step.</exception>
    public static ConvolutionalNetworkTraining Train(LabeledData train, ConvolutionalNetworkOptions options, LabeledData? validation = null)
    {
        CheckData(train, options, validation);
        if (options.InputShape is not { } inputShape)
            throw new ArgumentNullException(nameof(options.InputShape),
                $"InputShape must be set: the (C, H, W) of each row of train's {train.FeatureCount} features, e.g. (1, 28, 28) for 784 grey pixels.");
        if (inputShape.Size != train.FeatureCount)
            throw new ArgumentException($"InputShape {inputShape} holds {inputShape.Size} values per image, but train has {train.FeatureCount} features per row.", nameof(options.InputShape));
        options.ValidateNetwork(inputShape, train.Classes, $"InputShape {inputShape}", "train.Classes");
        var model = new ConvolutionalNetworkTraining(BuildValidated(inputShape, train.Classes, options), train.Classes, inputShape);
        model.Run(train, options, validation);
        return model;
    }
}
