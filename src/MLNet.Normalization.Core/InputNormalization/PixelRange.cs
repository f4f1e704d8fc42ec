namespace MLNet.Normalization;

/// <summary>The range the <c>ScalePixels</c> transform maps pixel values onto.</summary>
public enum PixelRange
{
    /// <summary>y = x / max: [0, max] onto [0, 1] (torchvision <c>ToTensor</c>).</summary>
    ZeroToOne = 0,

    /// <summary>y = x / (max / 2) − 1: [0, max] onto [−1, 1] (TensorFlow/Keras <c>preprocess_input</c> mode "tf").</summary>
    MinusOneToOne = 1,
}
