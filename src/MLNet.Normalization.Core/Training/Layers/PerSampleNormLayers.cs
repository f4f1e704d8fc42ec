using System.Buffers;
using MLNet.Normalization.PerSampleNormalization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Training;

/// <summary>
/// Group normalization as a layer (PyTorch's <c>GroupNorm</c>): each row's C channels split into G groups, each
/// normalized by its own mean and biased variance; per-channel γ, β. Statistics come from the row alone, so training
/// and inference compute the same thing.
/// </summary>
public class GroupNormLayer : NormalizationLayer
{
    private readonly int _groups;
    private readonly NcsShapeMapping _mapping;
    private double[] _mean = [];
    private double[] _inverseStd = [];

    /// <summary>Creates the layer.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S.</param>
    /// <param name="groups">G, dividing C; default 32.</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    public GroupNormLayer(int channels, int spatialSize = 1, int groups = 32, float epsilon = 1e-5f)
        : this(channels, spatialSize, groups, epsilon, channels, NcsShapeMapping.Channels)
    {
    }

    private protected GroupNormLayer(int channels, int spatialSize, int groups, float epsilon, int affineLength, NcsShapeMapping mapping)
        : base(channels, spatialSize, affineLength)
    {
        var kernelShape = mapping == NcsShapeMapping.Channels ? (channels, groups) : (channels * spatialSize, 1);
        GroupNormKernel.CheckGroups(kernelShape.Item1, kernelShape.Item2);
        Guard.CheckEpsilon(epsilon);
        _groups = groups;
        _mapping = mapping;
        Epsilon = epsilon;
    }

    /// <summary>The number of groups G.</summary>
    public int Groups => _groups;

    /// <summary>ε inside the square root.</summary>
    public float Epsilon { get; }

    /// <summary>How a batch maps onto the group kernel: per-channel groups, or the whole row with elementwise γ.</summary>
    private protected enum NcsShapeMapping
    {
        Channels,
        WholeRow,
    }

    private NcsShape KernelShape(NcsShape shape)
        => _mapping == NcsShapeMapping.Channels ? shape : new NcsShape(shape.Rows, shape.RowLength, 1);

    private protected override void EnsureCapacity(NcsShape shape)
    {
        int statistics = shape.Rows * _groups;
        if (_mean.Length < statistics)
        {
            _mean = new double[statistics];
            _inverseStd = new double[statistics];
        }
    }

    private protected override void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
        => GroupNormKernel.Forward(input, output, KernelShape(shape), _groups, Gamma, Beta, Epsilon, _mean, _inverseStd);

    /// <summary>The training forward with pooled statistics: inference writes nothing in the layer, so threads can share it.</summary>
    private protected override void ForwardInference(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        int statistics = shape.Rows * _groups;
        double[] mean = ArrayPool<double>.Shared.Rent(statistics), inverseStd = ArrayPool<double>.Shared.Rent(statistics);
        try
        {
            GroupNormKernel.Forward(input, output, KernelShape(shape), _groups, Gamma, Beta, Epsilon, mean.AsSpan(0, statistics), inverseStd.AsSpan(0, statistics));
        }
        finally
        {
            ArrayPool<double>.Shared.Return(mean);
            ArrayPool<double>.Shared.Return(inverseStd);
        }
    }

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, NcsShape shape)
        => GroupNormKernel.Backward(outputGradient, input, inputGradient, KernelShape(shape), _groups, Gamma, _mean, _inverseStd, GammaGradient, BetaGradient);
}

/// <summary>
/// Layer normalization as a layer (PyTorch's <c>LayerNorm((C, S))</c>): each row normalized by its own mean and
/// biased variance over all C · S values; γ and β per element.
/// On (N, C, H, W) feature maps with S = H · W it is <c>LayerNorm([C, H, W])</c> with its elementwise affine:
/// y[n, i] = γ[i] (x[n, i] − μ[n]) / √(σ²[n] + ε) + β[i], i = c · S + s running over the row as PyTorch flattens it.
/// </summary>
public sealed class LayerNormLayer : GroupNormLayer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S.</param>
    /// <param name="epsilon">ε, positive; default 1e-5.</param>
    public LayerNormLayer(int channels, int spatialSize = 1, float epsilon = 1e-5f)
        : base(channels, spatialSize, 1, epsilon, channels * spatialSize, NcsShapeMapping.WholeRow)
    {
    }
}

/// <summary>
/// Instance normalization as a layer (PyTorch's <c>InstanceNorm2d(C, affine=True)</c>, whose
/// <c>track_running_stats</c> is false by default): each row's channels normalized one by one over their S spatial
/// positions, y = γ[c] (x − μ[n, c]) / √(σ²[n, c] + ε) + β[c], with the plane's mean μ and biased variance σ², ε inside
/// the square root; per-channel γ (1 initially) and β (0 initially). It is <see cref="GroupNormLayer"/> with
/// G = C. Statistics come from the plane alone, so training and inference compute the same thing, and there are no
/// running statistics.
/// </summary>
/// <remarks>
/// One spatial position per channel leaves nothing to normalize (x̂ = 0, y = β whatever the input); PyTorch refuses
/// that ("Expected more than 1 spatial element when training"), and so does every forward of this layer, naming the
/// shape. PyTorch refuses it in eval mode too, since without running statistics it normalizes with the input's.
/// </remarks>
public sealed class InstanceNormLayer : GroupNormLayer
{
    /// <summary>Creates the layer, with γ = 1 and β = 0.</summary>
    /// <param name="channels">C.</param>
    /// <param name="spatialSize">S = H · W; a forward pass needs more than 1.</param>
    /// <param name="epsilon">ε, positive; default 1e-5 (PyTorch's).</param>
    public InstanceNormLayer(int channels, int spatialSize, float epsilon = 1e-5f)
        : base(channels, spatialSize, groups: channels, epsilon)
    {
    }

    private protected override void ForwardTraining(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        CheckMoreThanOneSpatialElement(shape);
        base.ForwardTraining(input, output, shape);
    }

    private protected override void ForwardInference(ReadOnlySpan<float> input, Span<float> output, NcsShape shape)
    {
        CheckMoreThanOneSpatialElement(shape);
        base.ForwardInference(input, output, shape);
    }

    private static void CheckMoreThanOneSpatialElement(NcsShape shape)
    {
        if (shape.Spatial < 2)
            throw new InvalidOperationException(
                $"Expected more than 1 spatial element when training, got a batch of shape ({shape.Rows}, {shape.Channels}, {shape.Spatial}) (rows, channels, spatial): "
                + "instance normalization over one value per channel outputs β whatever the input; use spatialSize > 1.");
    }
}
