using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Training;

/// <summary>The ℓp magnitude <see cref="LpBatchNormLayer"/> divides by.</summary>
public enum LpNorm
{
    /// <summary>s = mean |x − μ|.</summary>
    L1 = 1,

    /// <summary>s = √(mean (x − μ)²): batch normalization's standard deviation.</summary>
    L2 = 2,

    /// <summary>s = max |x − μ|.</summary>
    LInf = 3,
}

/// <summary>
/// ℓp batch normalization (Santurkar et al. 2018): per channel, subtract the batch mean as batch normalization
/// does, then divide by the batch's average ℓp magnitude s instead of the standard deviation:
/// y = γ (x − μ_B) / (s_B + ε) + β. Running μ and s are kept with PyTorch's momentum convention for inference.
/// </summary>
public sealed class LpBatchNormLayer : NormalizationLayer
{
    private readonly double[] _batchMean;
    private readonly double[] _batchScale;
    private readonly float[] _scale;
    private readonly float[] _shift;

    /// <summary>Creates the layer.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S, 1 for (rows, C) batches.</param>
    /// <param name="norm">Which magnitude: <see cref="LpNorm.L1"/>, <see cref="LpNorm.L2"/> or <see cref="LpNorm.LInf"/>.</param>
    /// <param name="momentum">Weight of each new batch in the running statistics, in (0, 1]; default 0.1.</param>
    /// <param name="epsilon">ε added to the magnitude, positive; default 1e-5.</param>
    public LpBatchNormLayer(int channels, int spatialSize = 1, LpNorm norm = LpNorm.L2, double momentum = 0.1, float epsilon = 1e-5f)
        : base(channels, spatialSize, channels)
    {
        if (!Enum.IsDefined(norm))
            throw new ArgumentOutOfRangeException(nameof(norm), norm, "Unknown ℓp norm.");
        if (!(momentum > 0 && momentum <= 1))
            throw new ArgumentOutOfRangeException(nameof(momentum), momentum, $"momentum must be in (0, 1], got {momentum}.");
        Guard.CheckEpsilon(epsilon);
        Norm = norm;
        Momentum = momentum;
        Epsilon = epsilon;
        RunningMean = new float[channels];
        RunningScale = Enumerable.Repeat(1f, channels).ToArray();
        _batchMean = new double[channels];
        _batchScale = new double[channels];
        _scale = new float[channels];
        _shift = new float[channels];
    }

    /// <summary>The magnitude divided by.</summary>
    public LpNorm Norm { get; }

    /// <summary>The weight of each new batch in the running statistics.</summary>
    public double Momentum { get; }

    /// <summary>ε added to the magnitude.</summary>
    public float Epsilon { get; }

    /// <summary>Per-channel running mean, 0 initially.</summary>
    public float[] RunningMean { get; }

    /// <summary>Per-channel running magnitude s, 1 initially.</summary>
    public float[] RunningScale { get; }

    private protected override void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        CheckMoreThanOneValuePerChannel(shape);
        BatchNormKernel.Moments(input, shape, _batchMean, _batchScale); // the variance is replaced by the ℓp magnitude below
        for (int c = 0; c < Channels; c++)
        {
            _batchScale[c] = Magnitude(input, shape, c, _batchMean[c]);
            double scale = Gamma[c] / (_batchScale[c] + Epsilon);
            _scale[c] = (float)scale;
            _shift[c] = (float)(Beta[c] - _batchMean[c] * scale);
        }
        BatchNormKernel.ApplyChannelAffine(input, output, shape, _scale, _shift);
        RunningAverage.Update(RunningMean, _batchMean, Momentum);
        RunningAverage.Update(RunningScale, _batchScale, Momentum);
    }

    private double Magnitude(ReadOnlySpan<float> input, NcsShape shape, int channel, double mean)
    {
        double total = 0;
        for (int n = 0; n < shape.Rows; n++)
            foreach (var v in shape.Plane(input, n, channel))
            {
                double deviation = Math.Abs(v - mean);
                total = Norm switch
                {
                    LpNorm.L1 => total + deviation,
                    LpNorm.L2 => total + deviation * deviation,
                    _ => Math.Max(total, deviation),
                };
            }
        return Norm switch
        {
            LpNorm.L1 => total / shape.ValuesPerChannel,
            LpNorm.L2 => Math.Sqrt(total / shape.ValuesPerChannel),
            _ => total,
        };
    }

    /// <summary>scale = γ / (running s + ε), shift = β − running mean · scale.</summary>
    internal override bool TryGetInferenceAffine(Span<float> scale, Span<float> shift)
    {
        for (int c = 0; c < Channels; c++)
        {
            double s = Gamma[c] / ((double)RunningScale[c] + Epsilon);
            scale[c] = (float)s;
            shift[c] = (float)(Beta[c] - RunningMean[c] * s);
        }
        return true;
    }

    /// <summary>
    /// With c = x − μ, k = s + ε, g = γ dy and M values per channel:
    /// dx_i = (g_i − mean g) / k − (Σ g c) / k² · ∂s/∂x_i, where ∂s/∂x_i is (sign c_i − mean sign c) / M for ℓ1,
    /// c_i / (M s) for ℓ2, and sign(c_m) (δ_im − 1/M) for ℓ∞ (m the arg-max of |c|).
    /// </summary>
    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape)
    {
        double count = shape.ValuesPerChannel;
        for (int c = 0; c < Channels; c++)
        {
            double mean = _batchMean[c], s = _batchScale[c], k = s + Epsilon, gamma = Gamma[c];
            double sumDy = 0, sumDyC = 0, sumSign = 0, maxDeviation = -1;
            int argMaxRow = 0, argMaxPosition = 0;
            for (int n = 0; n < shape.Rows; n++)
            {
                var x = shape.Plane(input, n, c);
                var dy = shape.Plane(outputGradient, n, c);
                for (int i = 0; i < x.Length; i++)
                {
                    double deviation = x[i] - mean;
                    sumDy += dy[i];
                    sumDyC += dy[i] * deviation;
                    sumSign += Math.Sign(deviation);
                    if (Math.Abs(deviation) > maxDeviation)
                        (maxDeviation, argMaxRow, argMaxPosition) = (Math.Abs(deviation), n, i);
                }
            }
            GammaGradient[c] += (float)(sumDyC / k);
            BetaGradient[c] += (float)sumDy;

            double meanG = gamma * sumDy / count;
            double scaleTerm = gamma * sumDyC / (k * k);
            double meanSign = sumSign / count;
            double maxSign = Math.Sign(shape.Plane(input, argMaxRow, c)[argMaxPosition] - mean);
            for (int n = 0; n < shape.Rows; n++)
            {
                var x = shape.Plane(input, n, c);
                var dy = shape.Plane(outputGradient, n, c);
                var dx = shape.Plane(inputGradient, n, c);
                for (int i = 0; i < x.Length; i++)
                {
                    double deviation = x[i] - mean;
                    double scaleDerivative = Norm switch
                    {
                        LpNorm.L1 => (Math.Sign(deviation) - meanSign) / count,
                        LpNorm.L2 => s > 0 ? deviation / (count * s) : 0,
                        _ => maxSign * ((n == argMaxRow && i == argMaxPosition ? 1 : 0) - 1 / count),
                    };
                    dx[i] = (float)((gamma * dy[i] - meanG) / k - scaleTerm * scaleDerivative);
                }
            }
        }
    }
}
