using System.Globalization;

namespace MLNet.Normalization;

/// <summary>
/// Per-channel mean and standard deviation on the [0, 1] pixel scale, as torchvision's
/// <c>Normalize(mean, std)</c> takes them after <c>ToTensor</c>.
/// </summary>
public sealed class ChannelStatistics
{
    private readonly float[] _mean;
    private readonly float[] _std;

    /// <summary>Creates statistics for <c>mean.Length</c> channels.</summary>
    /// <param name="mean">Per-channel mean, finite.</param>
    /// <param name="std">Per-channel standard deviation, finite and positive; the same length as <paramref name="mean"/>.</param>
    public ChannelStatistics(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0)
            throw new ArgumentException("Channel statistics need at least one channel; mean is empty.", nameof(mean));
        Guard.CheckParameterLength(mean.Length, nameof(mean));
        if (std.Length != mean.Length)
            throw new ArgumentException($"std has {std.Length} values but mean has {mean.Length}; give one of each per channel.", nameof(std));
        for (int c = 0; c < mean.Length; c++)
        {
            if (!float.IsFinite(mean[c]))
                throw new ArgumentOutOfRangeException(nameof(mean), $"mean[{c}] must be finite, got {Format(mean[c])}.");
            if (!float.IsFinite(std[c]) || std[c] <= 0)
                throw new ArgumentOutOfRangeException(nameof(std), $"std[{c}] must be positive and finite, got {Format(std[c])}.");
        }
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
    }

    /// <summary>ImageNet's statistics: mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225), in RGB order.</summary>
    public static ChannelStatistics ImageNet { get; } = new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);

    /// <summary>The number of channels.</summary>
    public int Channels => _mean.Length;

    /// <summary>Per-channel mean.</summary>
    public IReadOnlyList<float> Mean => _mean;

    /// <summary>Per-channel standard deviation.</summary>
    public IReadOnlyList<float> Std => _std;

    /// <inheritdoc/>
    public override string ToString()
        => $"mean ({string.Join(", ", _mean.Select(Format))}), std ({string.Join(", ", _std.Select(Format))})";

    private static string Format(float value) => value.ToString("R", CultureInfo.InvariantCulture);
}
