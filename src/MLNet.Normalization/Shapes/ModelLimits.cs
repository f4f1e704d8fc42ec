namespace MLNet.Normalization;

/// <summary>
/// The sizes every model of the library stays within. They are checked where parameters are created (construction,
/// fitting, training) and again where a saved model is read, so every model that saves also loads.
/// </summary>
public static class ModelLimits
{
    /// <summary>
    /// The most values in one parameter vector: channels of batch norm and of channel statistics, γ and β of the
    /// per-sample norms, and the width of a network's layers (its features, hidden units and classes): 2^20.
    /// </summary>
    public const int MaxParameterLength = 1 << 20;

    /// <summary>The most weights in one Linear layer (inputs × outputs): 2^28, a gigabyte of floats.</summary>
    public const int MaxLinearWeights = 1 << 28;

    /// <summary>The most layers in a network: 1,024.</summary>
    public const int MaxLayers = 1024;

    /// <summary>Throws when <paramref name="length"/> values exceed <see cref="MaxParameterLength"/>.</summary>
    internal static void CheckParameterLength(long length, string name)
    {
        if (length > MaxParameterLength)
            throw new ArgumentOutOfRangeException(name, length, $"{name} has {length} values; a model holds at most {MaxParameterLength} (ModelLimits.MaxParameterLength) per parameter.");
    }
}
