namespace MLNet.Normalization;

/// <summary>
/// The three modes of Keras <c>imagenet_utils.preprocess_input</c>, for RGB input with values in 0..255.
/// </summary>
public enum ImageNetPreprocessing
{
    /// <summary>
    /// Caffe: reorder RGB to BGR and subtract the ImageNet means B, G, R = 103.939, 116.779, 123.68, no scaling.
    /// The output channels are in BGR order. Needs 3 channels.
    /// </summary>
    Caffe = 0,

    /// <summary>TensorFlow: y = x / 127.5 − 1, onto [−1, 1].</summary>
    Tf = 1,

    /// <summary>PyTorch: y = (x / 255 − mean[c]) / std[c] with <see cref="ChannelStatistics.ImageNet"/>. Needs 3 channels.</summary>
    Torch = 2,
}
