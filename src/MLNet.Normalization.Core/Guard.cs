namespace MLNet.Normalization;

/// <summary>
/// The argument checks shared by the public types' constructors and methods, with the library's wording: each names the
/// argument, the expected and the actual value.
/// </summary>
internal static class Guard
{
    /// <summary>Throws unless ε is positive and finite.</summary>
    internal static void CheckEpsilon(float epsilon)
    {
        if (!float.IsFinite(epsilon) || epsilon <= 0)
            throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, $"epsilon must be positive and finite, got {epsilon}.");
    }

    /// <summary>Throws when <paramref name="values"/> is given with other than one value per channel.</summary>
    internal static void CheckLength(float[]? values, int channels, string name)
    {
        if (values is not null && values.Length != channels)
            throw new ArgumentException($"{name} has {values.Length} values, expected one per channel: {channels}.", name);
    }

    /// <summary>Throws when <paramref name="values"/> is given with a NaN or infinite value, naming the index.</summary>
    internal static void CheckFinite(float[]? values, string name)
    {
        if (values is null)
            return;
        for (int i = 0; i < values.Length; i++)
            if (!float.IsFinite(values[i]))
                throw new ArgumentOutOfRangeException(name, $"{name}[{i}] must be finite, got {values[i]}.");
    }

    /// <summary>Throws when <paramref name="length"/> values exceed <see cref="ModelLimits.MaxParameterLength"/>.</summary>
    internal static void CheckParameterLength(long length, string name)
    {
        if (length > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, length, $"{name} has {length} values; a model holds at most {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength) per parameter.");
    }

    /// <summary>Throws when a layer of <paramref name="width"/> values per row exceeds <see cref="ModelLimits.MaxParameterLength"/>.</summary>
    internal static void CheckLayerWidth(long width, string name)
    {
        if (width > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, width, $"{name} is {width}; a layer is at most {ModelLimits.MaxParameterLength} values wide (ModelLimits.MaxParameterLength).");
    }

    /// <summary>
    /// Throws when a Linear layer of <paramref name="inputs"/> × <paramref name="outputs"/> exceeds
    /// <see cref="ModelLimits.MaxParameterLength"/> on either side or <see cref="ModelLimits.MaxLinearWeights"/> in all; the product is a long,
    /// so no pair of ints overflows past the check.
    /// </summary>
    internal static void CheckLinearLayer(int inputs, int outputs)
    {
        CheckLayerWidth(inputs, nameof(inputs));
        CheckLayerWidth(outputs, nameof(outputs));
        long weights = (long)inputs * outputs;
        if (weights > ModelLimits.MaxLinearWeights)
            throw new ArgumentOutOfRangeException(nameof(inputs), weights,
                $"A Linear layer of {inputs} inputs and {outputs} outputs has {weights} weights; a Linear layer holds at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
    }

    /// <summary>Throws when a network of <paramref name="parameters"/> learned values exceeds <see cref="ModelLimits.MaxNetworkParameters"/>.</summary>
    internal static void CheckNetworkParameters(long parameters, string name)
    {
        if (parameters > ModelLimits.MaxNetworkParameters)
            throw new ArgumentOutOfRangeException(name, parameters,
                $"The network has {parameters} learned values (weights, biases, γ and β); a network holds at most {ModelLimits.MaxNetworkParameters} (ModelLimits.MaxNetworkParameters).");
    }

    /// <summary>Throws when a network of <paramref name="layers"/> layers exceeds <see cref="ModelLimits.MaxLayers"/>.</summary>
    internal static void CheckLayerCount(long layers, string name)
    {
        if (layers > ModelLimits.MaxLayers)
            throw new ArgumentOutOfRangeException(name, layers, $"A network has at most {ModelLimits.MaxLayers} layers (ModelLimits.MaxLayers), got {layers}.");
    }
}
