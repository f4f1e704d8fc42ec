using System.Numerics.Tensors;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Training;

/// <summary>
/// Batch normalization followed, in training only, by distributional noise (Santurkar et al. 2018, "noisy BN"):
/// every step draws, per channel, a noise mean m_c ~ U(−<see cref="ShiftRange"/>, <see cref="ShiftRange"/>) and a noise
/// scale s_c ~ U(1 − <see cref="ScaleRange"/>, 1 + <see cref="ScaleRange"/>), and each activation of each sample becomes
/// y' = y · a + b with i.i.d. a ~ N(s_c, <see cref="NoiseStd"/>²) and b ~ N(m_c, <see cref="NoiseStd"/>²): non-zero mean,
/// non-unit variance, a different distribution every step. Inference is plain batch normalization.
/// </summary>
public sealed class NoisyBatchNormLayer : BatchNormLayer
{
    private readonly Random _random;
    private float[] _noiseScale = [];
    private float[] _scaledGradient = [];

    /// <summary>Creates the layer.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S, 1 for (rows, C) batches.</param>
    /// <param name="shiftRange">Range of the per-step noise mean; default 0.5.</param>
    /// <param name="scaleRange">Range of the per-step noise scale around 1; default 0.25.</param>
    /// <param name="noiseStd">Standard deviation of the per-activation noise; default 0.1.</param>
    /// <param name="seed">Seed of the noise; the same seed gives the same noise.</param>
    /// <param name="momentum">Running-statistics momentum, as <see cref="BatchNormLayer"/>; default 0.1.</param>
    /// <param name="epsilon">ε; default 1e-5.</param>
    public NoisyBatchNormLayer(int channels, int spatialSize = 1, double shiftRange = 0.5, double scaleRange = 0.25, double noiseStd = 0.1,
        int seed = 0, double? momentum = 0.1, float epsilon = 1e-5f)
        : base(channels, spatialSize, momentum, epsilon)
    {
        if (!(shiftRange >= 0) || !(scaleRange >= 0 && scaleRange < 1) || !(noiseStd >= 0))
            throw new ArgumentOutOfRangeException(nameof(shiftRange), $"Need shiftRange ≥ 0, 0 ≤ scaleRange < 1 and noiseStd ≥ 0, got {shiftRange}, {scaleRange}, {noiseStd}.");
        ShiftRange = shiftRange;
        ScaleRange = scaleRange;
        NoiseStd = noiseStd;
        _random = new Random(seed);
    }

    /// <summary>The per-step noise mean is drawn from U(−ShiftRange, ShiftRange).</summary>
    public double ShiftRange { get; }

    /// <summary>The per-step noise scale is drawn from U(1 − ScaleRange, 1 + ScaleRange).</summary>
    public double ScaleRange { get; }

    /// <summary>Standard deviation of each activation's noise around the step's mean and scale.</summary>
    public double NoiseStd { get; }

    private protected override void EnsureCapacity(NcsShape shape)
    {
        if (_noiseScale.Length < shape.Length)
        {
            _noiseScale = new float[shape.Length];
            _scaledGradient = new float[shape.Length];
        }
    }

    private protected override void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        base.ForwardTraining(input, output, shape);
        for (int c = 0; c < Channels; c++)
        {
            double mean = ShiftRange * (2 * _random.NextDouble() - 1);
            double scale = 1 + ScaleRange * (2 * _random.NextDouble() - 1);
            for (int n = 0; n < shape.Rows; n++)
            {
                var plane = shape.Plane(output, n, c);
                var noise = shape.Plane(_noiseScale.AsSpan(0, shape.Length), n, c);
                for (int s = 0; s < plane.Length; s++)
                {
                    noise[s] = (float)(scale + NoiseStd * Gaussian());
                    plane[s] = (float)(plane[s] * noise[s] + mean + NoiseStd * Gaussian());
                }
            }
        }
    }

    // The shift is a constant; the scale multiplies the gradient reaching batch normalization.
    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape)
    {
        var scaled = _scaledGradient.AsSpan(0, shape.Length);
        TensorPrimitives.Multiply(outputGradient, _noiseScale.AsSpan(0, shape.Length), scaled);
        base.BackwardCore(scaled, input, inputGradient, shape);
    }

    private double Gaussian()
    {
        // Box–Muller; 1 − U keeps the logarithm finite.
        double u = 1 - _random.NextDouble(), v = _random.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u)) * Math.Cos(2 * Math.PI * v);
    }
}
