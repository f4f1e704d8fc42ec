using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Onnx;
using MLNet.Normalization.PerSampleNormalization;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization;

/// <summary>Layer normalization; see <see cref="PerSampleNormCatalog.LayerNorm(TransformsCatalog, string, string?, float, float[], float[])"/>.</summary>
public sealed class LayerNormEstimator : TrivialNormalizingEstimator<LayerNormTransformer>
{
    internal LayerNormEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, int normalizedDimensions, float epsilon, float[]? gamma, float[]? beta)
        : base(env, nameof(LayerNormEstimator), new LayerNormTransformer(env, outputColumnName, inputColumnName, normalizedDimensions, epsilon, gamma, beta))
    {
    }
}

/// <summary>
/// Layer normalization, PyTorch's <c>LayerNorm(normalized_shape)</c>: each row (or each segment spanned by its last
/// <see cref="NormalizedDimensions"/> dimensions) is normalized by its own mean and biased variance,
/// y = (x − μ) / √(σ² + ε) · γ + β with γ and β per element of the segment.
/// </summary>
public sealed class LayerNormTransformer : NormalizingTransformerBase, ILoadableTransformer<LayerNormTransformer>
{
    internal const string LoaderSignature = "LayerNormTransformer";
    private static readonly ModelFormat Format = new("LAYERNRM", LoaderSignature);
    static ModelFormat ILoadableTransformer<LayerNormTransformer>.Format => Format;

    private readonly float[] _gamma;
    private readonly float[] _beta;

    internal LayerNormTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, int normalizedDimensions, float epsilon, float[]? gamma, float[]? beta)
        : base(env, Format, outputColumnName, inputColumnName)
    {
        if (normalizedDimensions < 0)
            throw new ArgumentOutOfRangeException(nameof(normalizedDimensions), normalizedDimensions, $"normalizedDimensions must be 0 (the whole vector) or positive, got {normalizedDimensions}.");
        (_gamma, _beta) = PerSampleAffine.Check(epsilon, gamma, beta);
        NormalizedDimensions = normalizedDimensions;
        Epsilon = epsilon;
    }

    /// <summary>How many trailing dimensions one normalized segment spans; 0 for the whole vector.</summary>
    public int NormalizedDimensions { get; }

    /// <summary>ε added to the variance inside the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Scale γ per element of a segment; empty for none.</summary>
    public IReadOnlyList<float> Gamma => _gamma;

    /// <summary>Shift β per element of a segment; empty for none.</summary>
    public IReadOnlyList<float> Beta => _beta;

    private protected override int ParameterChannels => _gamma.Length;
    private protected override ChannelLayout ParameterLayout => ChannelLayout.ChannelsLast;
    private protected override string ExpectedShape => NormalizedDimensions == 0 ? "" : $"with at least {NormalizedDimensions} dimensions";

    // The row as segments of the last dimensions: geometry (segment length, segments, channels-last).
    private protected override ChannelGeometry? TryResolveGeometry(ReadOnlySpan<int> dimensions, int length, out string error)
    {
        error = "";
        int segment = length;
        if (NormalizedDimensions > 0)
        {
            if (dimensions.Length < NormalizedDimensions)
            {
                error = $"it has {dimensions.Length} dimension{(dimensions.Length == 1 ? "" : "s")}, fewer than the {NormalizedDimensions} to normalize over";
                return null;
            }
            segment = 1;
            foreach (var d in dimensions[^NormalizedDimensions..])
                segment *= d;
        }
        if (_gamma.Length > 0 && _gamma.Length != segment)
        {
            error = $"gamma and beta have {_gamma.Length} values but a normalized segment has {segment}";
            return null;
        }
        return new ChannelGeometry(segment, length / segment, ChannelLayout.ChannelsLast);
    }

    private protected override IRowKernel CreateKernel(ChannelGeometry geometry)
        => GroupNormRowKernel.ForSegments(geometry.SpatialSize, geometry.Channels, _gamma, _beta, Epsilon);

    private protected override void SaveAsOnnx(OnnxGraph graph, ChannelGeometry geometry, string input, string output, int[] outputDimensions)
        => GroupNormOnnx.WriteSegments(graph, geometry.SpatialSize, geometry.Channels, _gamma, _beta, Epsilon, input, output, outputDimensions);

    // *** Binary format ***
    // int: normalized dimensions (0: the whole vector)
    // float: epsilon
    // int, float[]: gamma (length-prefixed; 0 for none)
    // int, float[]: beta (length-prefixed, same length as gamma)
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.Write(NormalizedDimensions);
        writer.Write(Epsilon);
        PerSampleAffine.Write(writer, _gamma, _beta);
    }

    // versionWritten is reserved: these parameters read the same in every format version so far (0x00010001 and 0x00010002).
    static LayerNormTransformer ILoadableTransformer<LayerNormTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
    {
        int dimensions = reader.ReadInt32();
        float epsilon = reader.ReadSingle();
        var (gamma, beta) = PerSampleAffine.Read(reader);
        return new(env, columns.OutputColumnName, columns.InputColumnName, dimensions, epsilon, gamma, beta);
    }
}

/// <summary>Group or instance normalization; see <see cref="PerSampleNormCatalog.GroupNorm(TransformsCatalog, string, string?, int, float, float[], float[], ChannelLayout)"/>.</summary>
public sealed class GroupNormEstimator : TrivialNormalizingEstimator<GroupNormTransformer>
{
    internal GroupNormEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, int groups, float epsilon, float[]? gamma, float[]? beta, ChannelLayout layout)
        : base(env, nameof(GroupNormEstimator), new GroupNormTransformer(env, outputColumnName, inputColumnName, groups, epsilon, gamma, beta, layout))
    {
    }
}

/// <summary>
/// Group normalization (Wu and He 2018), PyTorch's <c>GroupNorm</c>: each row's C channels split into
/// <see cref="Groups"/> groups, each normalized by its own mean and biased variance over its (C / G) · S values,
/// y = (x − μ) / √(σ² + ε) · γ[c] + β[c]. Instance normalization is the case of one group per channel
/// (<see cref="IsInstanceNorm"/>).
/// </summary>
public sealed class GroupNormTransformer : NormalizingTransformerBase, ILoadableTransformer<GroupNormTransformer>
{
    internal const string LoaderSignature = "GroupNormTransformer";
    private static readonly ModelFormat Format = new("GROUPNRM", LoaderSignature);
    static ModelFormat ILoadableTransformer<GroupNormTransformer>.Format => Format;

    /// <summary>The <see cref="Groups"/> value meaning one group per channel: instance normalization.</summary>
    public const int OneGroupPerChannel = 0;

    private readonly float[] _gamma;
    private readonly float[] _beta;

    // Format 1 wrote ChannelsFirst for the default layout, which read a column of unknown shape as (C, S) for any S.
    private readonly bool _unshapedIsChannelsOnly;

    internal GroupNormTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, int groups, float epsilon, float[]? gamma, float[]? beta,
        ChannelLayout layout, bool unshapedIsChannelsOnly = false)
        : base(env, Format, outputColumnName, inputColumnName)
    {
        ChannelLayouts.Check(layout, nameof(layout));
        if (groups < 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"groups must be positive, got {groups}.");
        (_gamma, _beta) = PerSampleAffine.Check(epsilon, gamma, beta);
        Groups = groups;
        Epsilon = epsilon;
        Layout = layout;
        _unshapedIsChannelsOnly = unshapedIsChannelsOnly;
    }

    /// <summary>The number of channel groups; <see cref="OneGroupPerChannel"/> for instance normalization.</summary>
    public int Groups { get; }

    /// <summary>True for instance normalization: statistics per row and channel.</summary>
    public bool IsInstanceNorm => Groups == OneGroupPerChannel;

    /// <summary>ε added to the variance inside the square root.</summary>
    public float Epsilon { get; }

    /// <summary>Per-channel scale γ; empty for none.</summary>
    public IReadOnlyList<float> Gamma => _gamma;

    /// <summary>Per-channel shift β; empty for none.</summary>
    public IReadOnlyList<float> Beta => _beta;

    /// <summary>Where the channel dimension is; <see cref="ChannelLayout.Auto"/> reads it from the column's dimensions.</summary>
    public ChannelLayout Layout { get; }

    private protected override int ParameterChannels => _gamma.Length;
    private protected override ChannelLayout ParameterLayout => Layout;
    private protected override string ExpectedShape => (_gamma.Length > 0 ? $"with {_gamma.Length} channels" : "with a channel dimension")
        + (IsInstanceNorm ? " and more than one value per channel" : $" divisible into {Groups} groups");

    private protected override ChannelGeometry? TryResolveGeometry(ReadOnlySpan<int> dimensions, int length, out string error)
    {
        var layout = _unshapedIsChannelsOnly && dimensions.Length < 2 ? ChannelLayout.Auto : Layout;
        var geometry = ChannelGeometry.TryResolve(dimensions, length, _gamma.Length, layout, out error, flatVectorIsChannels: true);
        if (geometry is not { } g)
            return null;
        if (IsInstanceNorm && g.SpatialSize < 2)
            error = "instance normalization needs more than one spatial value per channel";
        else if (!IsInstanceNorm && g.Channels % Groups != 0)
            error = $"{Groups} groups do not divide its {g.Channels} channels";
        else
            return g;
        return null;
    }

    private protected override IRowKernel CreateKernel(ChannelGeometry geometry)
        => GroupNormRowKernel.ForChannels(geometry, IsInstanceNorm ? geometry.Channels : Groups, _gamma, _beta, Epsilon);

    private protected override void SaveAsOnnx(OnnxGraph graph, ChannelGeometry geometry, string input, string output, int[] outputDimensions)
        => GroupNormOnnx.WriteChannels(graph, geometry, IsInstanceNorm ? geometry.Channels : Groups, _gamma, _beta, Epsilon, input, output, outputDimensions);

    // *** Binary format ***
    // int: groups (0: one per channel, instance normalization)
    // float: epsilon
    // int, float[]: gamma (length-prefixed; 0 for none)
    // int, float[]: beta (length-prefixed, same length as gamma)
    // int: ChannelLayout
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.Write(Groups);
        writer.Write(Epsilon);
        PerSampleAffine.Write(writer, _gamma, _beta);
        writer.WriteEnum(Layout);
    }

    static GroupNormTransformer ILoadableTransformer<GroupNormTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
    {
        int groups = reader.ReadInt32();
        float epsilon = reader.ReadSingle();
        var (gamma, beta) = PerSampleAffine.Read(reader);
        var layout = reader.ReadEnum<ChannelLayout>();
        return new(env, columns.OutputColumnName, columns.InputColumnName, groups, epsilon, gamma, beta, layout,
            unshapedIsChannelsOnly: versionWritten == ModelFormat.InitialVersion && layout == ChannelLayout.ChannelsFirst);
    }
}
