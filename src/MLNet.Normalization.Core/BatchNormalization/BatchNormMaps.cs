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
            ChannelAffineMap.CheckRepresentable(scale[c], "gamma",
                $"The scale γ / √(var + ε) of channel {c} for gamma[{c}] {parameters.Gamma[c]:G4}, runningVariance[{c}] {parameters.RunningVariance[c]:G4} and epsilon {parameters.Epsilon:G4}");
            ChannelAffineMap.CheckRepresentable(shift[c], "runningMean",
                $"The shift β − mean · scale of channel {c} for runningMean[{c}] {parameters.RunningMean[c]:G4}, scale {scale[c]:G4} and beta[{c}] {parameters.Beta[c]:G4}");
        }
        return new ChannelAffineMap(scale, shift);
    }
}
