namespace MLNet.Normalization;

/// <summary>
/// The sizes every model of the library stays within. They are checked where parameters are created (construction,
/// fitting, training) and again where a saved model is read, so every model that saves also loads.
/// </summary>
public static class ModelLimits
{
    /// <summary>
    /// The most values in one parameter vector: channels of batch norm and of channel statistics, and the width of a
    /// network's layers (its features, hidden units and classes, and so γ and β of its normalization layers): 2^20.
    /// </summary>
    public const int MaxParameterLength = 1 << 20;

    /// <summary>
    /// The most values in γ or β of the layer, instance and group norm transforms, which layer norm holds per element of
    /// a normalized segment: 2^24 (the limit format 1 read, so its files keep loading).
    /// </summary>
    public const int MaxAffineLength = 1 << 24;

    /// <summary>The most weights in one Linear layer (inputs × outputs): 2^28, a gigabyte of floats.</summary>
    public const int MaxLinearWeights = 1 << 28;

    /// <summary>
    /// The most learned values (weights, biases, γ and β) in one network: 2^28, so its saved model, which frames them in
    /// one checksummed payload, stays under 2 GiB.
    /// </summary>
    public const int MaxNetworkParameters = 1 << 28;

    /// <summary>The most layers in a network: 1,024.</summary>
    public const int MaxLayers = 1024;

    /// <summary>Throws when <paramref name="length"/> values exceed <see cref="MaxParameterLength"/>.</summary>
    internal static void CheckParameterLength(long length, string name)
    {
        if (length > MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, length, $"{name} has {length} values; a model holds at most {MaxParameterLength} (ModelLimits.MaxParameterLength) per parameter.");
    }

    /// <summary>Throws when a layer of <paramref name="width"/> values per row exceeds <see cref="MaxParameterLength"/>.</summary>
    internal static void CheckLayerWidth(long width, string name)
    {
        if (width > MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, width, $"{name} is {width}; a layer is at most {MaxParameterLength} values wide (ModelLimits.MaxParameterLength).");
    }

    /// <summary>
    /// Throws when a Linear layer of <paramref name="inputs"/> × <paramref name="outputs"/> exceeds
    /// <see cref="MaxParameterLength"/> on either side or <see cref="MaxLinearWeights"/> in all; the product is a long,
    /// so no pair of ints overflows past the check.
    /// </summary>
    internal static void CheckLinearLayer(int inputs, int outputs)
    {
        CheckLayerWidth(inputs, nameof(inputs));
        CheckLayerWidth(outputs, nameof(outputs));
        long weights = (long)inputs * outputs;
        if (weights > MaxLinearWeights)
            throw new ArgumentOutOfRangeException(nameof(inputs), weights,
                $"A Linear layer of {inputs} inputs and {outputs} outputs has {weights} weights; a Linear layer holds at most {MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
    }

    /// <summary>Throws when a network of <paramref name="parameters"/> learned values exceeds <see cref="MaxNetworkParameters"/>.</summary>
    internal static void CheckNetworkParameters(long parameters, string name)
    {
        if (parameters > MaxNetworkParameters)
            throw new ArgumentOutOfRangeException(name, parameters,
                $"The network has {parameters} learned values (weights, biases, γ and β); a network holds at most {MaxNetworkParameters} (ModelLimits.MaxNetworkParameters).");
    }

    /// <summary>Throws when a network of <paramref name="layers"/> layers exceeds <see cref="MaxLayers"/>.</summary>
    internal static void CheckLayerCount(long layers, string name)
    {
        if (layers > MaxLayers)
            throw new ArgumentOutOfRangeException(name, layers, $"A network has at most {MaxLayers} layers (ModelLimits.MaxLayers), got {layers}.");
    }
}
