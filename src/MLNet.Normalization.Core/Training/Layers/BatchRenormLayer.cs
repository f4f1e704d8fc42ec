using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Training;

/// <summary>
/// Batch Renormalization, Ioffe 2017, Algorithm 1. Training, per channel with σ_B = √(mean((x − μ_B)²) + ε):
/// r = clip(σ_B / σ, 1/rmax, rmax), d = clip((μ_B − μ) / σ, −dmax, dmax), both constants in backprop;
/// x̂ = r (x − μ_B) / σ_B + d, y = γ x̂ + β; then μ += α (μ_B − μ), σ += α (σ_B − σ) (the paper keeps σ, not σ²).
/// Inference: y = γ (x − μ) / σ + β. rmax and dmax follow a <see cref="RenormSchedule"/> over training steps.
/// </summary>
public sealed class BatchRenormLayer : NormalizationLayer
{
    private readonly double[] _batchMean;
    private readonly double[] _batchVariance;
    private readonly double[] _inverseStd;
    private readonly float[] _scale;
    private readonly float[] _shift;
    private readonly float[] _renormGamma;
    private readonly float[] _renormGammaGradient;
    private readonly float[] _renormBetaGradient;
    private readonly float[] _backwardWorkspace;

    /// <summary>Creates the layer.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S, 1 for (rows, C) batches.</param>
    /// <param name="schedule">How rmax and dmax relax; null for the paper's schedule.</param>
    /// <param name="alpha">Moving-average rate α in (0, 1]; default 0.01 (the paper's).</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    public BatchRenormLayer(int channels, int spatialSize = 1, RenormSchedule? schedule = null, double alpha = 0.01, float epsilon = 1e-5f)
        : base(channels, spatialSize, channels)
    {
        Schedule = schedule ?? new RenormSchedule();
        Schedule.Validate();
        if (!(alpha > 0 && alpha <= 1))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"alpha must be in (0, 1], got {alpha}.");
        Guard.CheckEpsilon(epsilon);
        Alpha = alpha;
        Epsilon = epsilon;
        MovingMean = new float[channels];
        MovingStd = Enumerable.Repeat(1f, channels).ToArray();
        R = Enumerable.Repeat(1f, channels).ToArray();
        D = new float[channels];
        _batchMean = new double[channels];
        _batchVariance = new double[channels];
        _inverseStd = new double[channels];
        _scale = new float[channels];
        _shift = new float[channels];
        _renormGamma = new float[channels];
        _renormGammaGradient = new float[channels];
        _renormBetaGradient = new float[channels];
        _backwardWorkspace = new float[3 * channels];
    }

    /// <summary>The relaxation schedule of rmax and dmax.</summary>
    public RenormSchedule Schedule { get; }

    /// <summary>Per-channel moving mean μ, 0 initially.</summary>
    public float[] MovingMean { get; }

    /// <summary>Per-channel moving standard deviation σ, 1 initially.</summary>
    public float[] MovingStd { get; }

    /// <summary>The moving-average rate α.</summary>
    public double Alpha { get; }

    /// <summary>ε inside the square root of σ_B.</summary>
    public float Epsilon { get; }

    /// <summary>Training steps taken.</summary>
    public long Step { get; private set; }

    /// <summary>rmax of the next training step.</summary>
    public double RMax => Schedule.RMax(Step);

    /// <summary>dmax of the next training step.</summary>
    public double DMax => Schedule.DMax(Step);

    /// <summary>Per-channel r of the last training step.</summary>
    public float[] R { get; }

    /// <summary>Per-channel d of the last training step.</summary>
    public float[] D { get; }

    /// <summary>The inference transform's parameters: y = γ (x − μ) / √(σ² − ε + ε) + β, i.e. running variance σ² − ε so that √(var + ε) = σ.</summary>
    public BatchNormParameters ToParameters()
        => new(MovingMean, MovingStd.Select(s => Math.Max(0f, (float)((double)s * s - Epsilon))).ToArray(), Gamma, Beta, Epsilon);

    private protected override void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        CheckMoreThanOneValuePerChannel(shape);
        double rMax = RMax, dMax = DMax;
        BatchNormKernel.Moments(input, shape, _batchMean, _batchVariance);
        for (int c = 0; c < Channels; c++)
        {
            double batchStd = Math.Sqrt(_batchVariance[c] + Epsilon);
            double movingStd = MovingStd[c];
            double r = Math.Clamp(batchStd / movingStd, 1 / rMax, rMax);
            double d = Math.Clamp((_batchMean[c] - MovingMean[c]) / movingStd, -dMax, dMax);
            R[c] = (float)r;
            D[c] = (float)d;
            _inverseStd[c] = 1 / batchStd;

            // y = γ r (x − μ_B) / σ_B + γ d + β: batch norm with γ' = γ r and β' = γ d + β.
            _renormGamma[c] = (float)(Gamma[c] * r);
            double scale = Gamma[c] * r / batchStd;
            _scale[c] = (float)scale;
            _shift[c] = (float)(Gamma[c] * d + Beta[c] - _batchMean[c] * scale);

            MovingMean[c] = (float)(MovingMean[c] + Alpha * (_batchMean[c] - MovingMean[c]));
            MovingStd[c] = (float)(movingStd + Alpha * (batchStd - movingStd));
        }
        BatchNormKernel.ApplyChannelAffine(input, output, shape, _scale, _shift);
        Step++;
    }

    /// <summary>scale = γ / σ, shift = β − μ · scale.</summary>
    internal override bool TryGetInferenceAffine(Span<float> scale, Span<float> shift)
    {
        for (int c = 0; c < Channels; c++)
        {
            double s = Gamma[c] / (double)MovingStd[c];
            scale[c] = (float)s;
            shift[c] = (float)(Beta[c] - MovingMean[c] * s);
        }
        return true;
    }

    // With r and d constant, dx is batch norm's with γ' = γ r; dγ = r Σ dy x̂_BN + d Σ dy, dβ = Σ dy.
    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape)
    {
        Array.Clear(_renormGammaGradient);
        Array.Clear(_renormBetaGradient);
        BatchNormKernel.Backward(outputGradient, input, inputGradient, shape, _renormGamma, _batchMean, _inverseStd,
            _renormGammaGradient, _renormBetaGradient, _backwardWorkspace);
        for (int c = 0; c < Channels; c++)
        {
            GammaGradient[c] += R[c] * _renormGammaGradient[c] + D[c] * _renormBetaGradient[c];
            BetaGradient[c] += _renormBetaGradient[c];
        }
    }
}
