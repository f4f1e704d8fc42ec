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

    /// <summary>
    /// The most values in one image or feature map of a convolutional network (C · H · W per row, so also ReLU's and the
    /// pooling layers' width): 2^26, four times a 4096 × 4096 RGB image.
    /// </summary>
    public const int MaxFeatureMapLength = 1 << 26;

    /// <summary>The most layers in a network: 1,024.</summary>
    public const int MaxLayers = 1024;
}
