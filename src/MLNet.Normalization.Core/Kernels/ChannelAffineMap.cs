namespace MLNet.Normalization.Kernels;

/// <summary>
/// A per-channel affine map with an optional channel reordering:
/// y[c] = x[SourceChannel[c]] · Scale[c] + Shift[c]. Coefficients are kept in double so maps can be composed
/// and inverted without losing precision; kernels round them to float once.
/// </summary>
internal sealed class ChannelAffineMap
{
    private readonly double[] _scale;
    private readonly double[] _shift;
    private readonly int[] _sourceChannel;

    public ChannelAffineMap(double[] scale, double[] shift, int[]? sourceChannel = null)
    {
        if (scale.Length == 0 || scale.Length != shift.Length)
            throw new ArgumentException($"Scale and shift need the same non-zero length, got {scale.Length} and {shift.Length}.");
        Guard.CheckParameterLength(scale.Length, "channels");
        sourceChannel ??= Enumerable.Range(0, scale.Length).ToArray();
        if (sourceChannel.Length != scale.Length || sourceChannel.Order().Where((c, i) => c != i).Any())
            throw new ArgumentException("The source channels must be a permutation of the channels.", nameof(sourceChannel));
        // The kernels round each coefficient to float once: one beyond float's range would turn every output into ±∞ or NaN.
        // A zero scale is allowed (batch norm with γ = 0 gives β), one that only rounds to 0 is not.
        foreach (var s in scale)
            if (!IsRepresentable(s))
                throw new ArgumentException($"Every scale must be within float's range, got {s}.", nameof(scale));
        foreach (var s in shift)
            if (!float.IsFinite((float)s))
                throw new ArgumentException($"Every shift must be within float's range, got {s}.", nameof(shift));
        _scale = scale;
        _shift = shift;
        _sourceChannel = sourceChannel;
    }

    /// <summary>
    /// Refuses a coefficient that rounds to ±∞ in float, or from a non-zero value to 0, naming the parameters it comes
    /// from: float's range ends at 3.4e38 and its smallest value is 1.4e-45, so for example a pixel scale
    /// 1 / maxPixelValue overflows for maxPixelValue below 2.9e-39.
    /// </summary>
    public static void CheckRepresentable(double coefficient, string parameterName, string coefficientDescription)
    {
        if (!IsRepresentable(coefficient))
            throw new ArgumentOutOfRangeException(parameterName, float.IsFinite((float)coefficient)
                ? $"{coefficientDescription} is {coefficient:G4}, so small that it rounds to 0 in float (below 1.4e-45), so every output would be 0."
                : $"{coefficientDescription} is {coefficient:G4}, beyond float's range (±3.4e38), so every output would be infinite or NaN.");
    }

    private static bool IsRepresentable(double coefficient) => float.IsFinite((float)coefficient) && (coefficient == 0 || (float)coefficient != 0);

    /// <summary>The same scale and shift for every element of the vector, whatever its shape.</summary>
    public static ChannelAffineMap Uniform(double scale, double shift) => new([scale], [shift]);

    public int Channels => _scale.Length;
    public ReadOnlySpan<double> Scale => _scale;
    public ReadOnlySpan<double> Shift => _shift;
    public ReadOnlySpan<int> SourceChannel => _sourceChannel;
    public bool ReordersChannels => _sourceChannel.Where((c, i) => c != i).Any();

    /// <summary>The map that undoes this one: x[SourceChannel[c]] = (y[c] − Shift[c]) / Scale[c].</summary>
    public ChannelAffineMap Inverse()
    {
        for (int c = 0; c < Channels; c++)
            if (_scale[c] == 0)
                throw new InvalidOperationException($"Channel {c}'s scale is 0, so the map cannot be undone.");
        var scale = new double[Channels];
        var shift = new double[Channels];
        var source = new int[Channels];
        for (int c = 0; c < Channels; c++)
        {
            int target = _sourceChannel[c];
            source[target] = c;
            scale[target] = 1 / _scale[c];
            shift[target] = -_shift[c] / _scale[c];
        }
        return new ChannelAffineMap(scale, shift, source);
    }
}
