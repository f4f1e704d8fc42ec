using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.BatchNormalization;

internal static class BatchNormMaps
{
    /// <summary>scale[c] = γ[c] / √(var[c] + ε), shift[c] = β[c] − mean[c] · scale[c], in double.</summary>
    public static ChannelAffineMap ForInference(BatchNormParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var scale = new double[parameters.Channels];
        var shift = new double[parameters.Channels];
        for (int c = 0; c < scale.Length; c++)
        {
            scale[c] = parameters.Gamma[c] / Math.Sqrt((double)parameters.RunningVariance[c] + parameters.Epsilon);
            shift[c] = parameters.Beta[c] - parameters.RunningMean[c] * scale[c];
        }
        return new ChannelAffineMap(scale, shift);
    }
}
