using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.InputNormalization;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization;

/// <summary>
/// Per-channel standardization with given or fitted statistics; see <see cref="InputNormalizationCatalog.NormalizeChannels"/>.
/// </summary>
public sealed class ChannelNormalizingEstimator : NormalizingEstimatorBase<ChannelNormalizingTransformer>
{
    private readonly ChannelStatistics? _statistics;
    private readonly float _maxPixelValue;
    private readonly ChannelLayout _layout;

    internal ChannelNormalizingEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName,
        ChannelStatistics? statistics, float maxPixelValue, ChannelLayout layout)
        : base(env, nameof(ChannelNormalizingEstimator), outputColumnName, inputColumnName)
    {
        InputNormalizationMaps.CheckMaxPixelValue(maxPixelValue);
        ChannelLayouts.Check(layout, nameof(layout));
        if (statistics is not null)
            InputNormalizationMaps.ForStatistics(statistics, maxPixelValue);
        _statistics = statistics;
        _maxPixelValue = maxPixelValue;
        _layout = layout;
    }

    private protected override ChannelNormalizingTransformer FitCore(IDataView input)
    {
        var statistics = _statistics ?? FitStatistics(input);
        return new ChannelNormalizingTransformer(Host, OutputColumnName, InputColumnName, statistics, _maxPixelValue, _layout);
    }

    // One streaming pass, constant memory: per-channel moments in double, population std, on the x / max scale.
    private ChannelStatistics FitStatistics(IDataView input)
    {
        var geometry = VectorColumn.ResolveGeometry(Host, input.Schema, InputColumnName, channels: 0, _layout);
        VectorColumn.CheckChannelCount(geometry, InputColumnName, "channel statistics");
        var accumulator = new ChannelMomentsAccumulator(geometry);
        VectorColumn.ForEachFiniteRow(input, InputColumnName, "channel statistics", (_, values) => accumulator.Add(values));

        var mean = new float[geometry.Channels];
        var std = new float[geometry.Channels];
        for (int c = 0; c < mean.Length; c++)
        {
            var moments = accumulator[c];
            mean[c] = (float)(moments.Mean / _maxPixelValue);
            std[c] = (float)(Math.Sqrt(moments.PopulationVariance) / _maxPixelValue);
            if (!float.IsFinite(mean[c]) || !float.IsFinite(std[c]))
                throw new ArgumentOutOfRangeException("maxPixelValue",
                    $"Cannot fit channel statistics for input column '{InputColumnName}': maxPixelValue {_maxPixelValue:G4} is too small for its values; channel {c}'s mean {moments.Mean:G4} and standard deviation {Math.Sqrt(moments.PopulationVariance):G4} divided by it are beyond float's range (±3.4e38). Give the largest pixel value the data can hold.");
            if (!(std[c] > 0))
                throw new InvalidOperationException(
                    $"Cannot fit channel statistics: channel {c} of input column '{InputColumnName}' is constant ({moments.Mean}) over {accumulator.Rows} rows, so its standard deviation is 0; give the statistics explicitly.");
        }
        return new ChannelStatistics(mean, std);
    }
}

/// <summary>
/// y = (x / max − mean[c]) / std[c] per channel c: torchvision's <c>Normalize(mean, std)</c> after <c>ToTensor</c>.
/// </summary>
public sealed class ChannelNormalizingTransformer : ChannelAffineTransformerBase, ILoadableTransformer<ChannelNormalizingTransformer>
{
    internal const string LoaderSignature = "ChannelNormalizer";
    private static readonly ModelFormat Format = new("CHANNORM", LoaderSignature);
    static ModelFormat ILoadableTransformer<ChannelNormalizingTransformer>.Format => Format;

    internal ChannelNormalizingTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName,
        ChannelStatistics statistics, float maxPixelValue, ChannelLayout layout)
        : base(env, Format, outputColumnName, inputColumnName, InputNormalizationMaps.ForStatistics(statistics, maxPixelValue), layout)
    {
        Statistics = statistics;
        MaxPixelValue = maxPixelValue;
    }

    /// <summary>The per-channel mean and standard deviation on the [0, 1] scale, given or fitted.</summary>
    public ChannelStatistics Statistics { get; }

    /// <summary>The largest pixel value, 255 for 8-bit images.</summary>
    public float MaxPixelValue { get; }

    // *** Binary format ***
    // int: number of channels C
    // int, float[C]: mean (length-prefixed)
    // int, float[C]: std (length-prefixed)
    // float: maxPixelValue
    // int: ChannelLayout
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.Write(Statistics.Channels);
        writer.WriteArray(Statistics.Mean.ToArray());
        writer.WriteArray(Statistics.Std.ToArray());
        writer.Write(MaxPixelValue);
        writer.WriteEnum(Layout);
    }

    // versionWritten is reserved: these parameters read the same in every format version so far (0x00010001 and 0x00010002).
    static ChannelNormalizingTransformer ILoadableTransformer<ChannelNormalizingTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
    {
        int channels = reader.ReadCount();
        var statistics = new ChannelStatistics(reader.ReadSingleArray(channels), reader.ReadSingleArray(channels));
        return new(env, columns.OutputColumnName, columns.InputColumnName, statistics, reader.ReadSingle(), reader.ReadEnum<ChannelLayout>());
    }
}
