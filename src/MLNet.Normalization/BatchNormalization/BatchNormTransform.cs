using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Interop;

namespace MLNet.Normalization;

/// <summary>
/// Batch normalization with running statistics, fitted from the data or given; see
/// <see cref="BatchNormCatalog.BatchNorm(TransformsCatalog, string, string?, BatchNormOptions?)"/>.
/// </summary>
public sealed class BatchNormEstimator : NormalizingEstimatorBase<BatchNormTransformer>
{
    private readonly BatchNormOptions? _options;
    private readonly BatchNormParameters? _parameters;
    private readonly ChannelLayout _layout;

    internal BatchNormEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, BatchNormOptions options)
        : base(env, nameof(BatchNormEstimator), outputColumnName, inputColumnName)
    {
        options.Validate();
        _options = options;
        _layout = options.ChannelsLast ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst;
    }

    internal BatchNormEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, BatchNormParameters parameters, bool channelsLast)
        : base(env, nameof(BatchNormEstimator), outputColumnName, inputColumnName)
    {
        _parameters = parameters;
        _layout = channelsLast ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst;
    }

    private protected override BatchNormTransformer FitCore(IDataView input)
        => new(Host, OutputColumnName, InputColumnName, _parameters ?? FitParameters(input, _options!), _layout);

    private BatchNormParameters FitParameters(IDataView input, BatchNormOptions options)
    {
        int channels = options.Gamma?.Length ?? options.Beta?.Length ?? 0;
        var geometry = VectorColumn.ResolveGeometry(Host, input.Schema, InputColumnName, channels, _layout);
        var fitter = new BatchNormStatisticsFitter(geometry, options.FitMode, options.BatchSize, options.Momentum);
        const string what = "batch-norm running statistics";
        VectorColumn.ForEachFiniteRow(input, InputColumnName, what, (_, values) => fitter.Add(values));
        try
        {
            var (mean, variance) = fitter.Complete();
            return new BatchNormParameters(mean, variance, options.Gamma, options.Beta, options.Epsilon);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"Cannot fit {what} for input column '{InputColumnName}': {e.Message}", e);
        }
    }
}

/// <summary>
/// y = γ[c] (x − runningMean[c]) / √(runningVariance[c] + ε) + β[c] per channel c, precomputed into one
/// multiply-add per element: PyTorch's <c>BatchNorm*d</c> in eval mode.
/// </summary>
public sealed class BatchNormTransformer : ChannelAffineTransformerBase, ILoadableTransformer<BatchNormTransformer>
{
    internal const string LoaderSignature = "BatchNormTransformer";
    private static readonly ModelFormat Format = new("BATCHNRM", LoaderSignature, ModelFormat.InitialVersion);
    static ModelFormat ILoadableTransformer<BatchNormTransformer>.Format => Format;

    internal BatchNormTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, BatchNormParameters parameters, ChannelLayout layout)
        : base(env, Format, outputColumnName, inputColumnName, BatchNormMaps.ForInference(parameters), layout)
    {
        Parameters = parameters;
    }

    /// <summary>The running statistics, γ, β and ε, given or fitted.</summary>
    public BatchNormParameters Parameters { get; }

    // *** Binary format ***
    // int: number of channels C
    // int, float[C]: running mean (length-prefixed)
    // int, float[C]: running variance (length-prefixed)
    // int, float[C]: gamma (length-prefixed)
    // int, float[C]: beta (length-prefixed)
    // float: epsilon
    // int: ChannelLayout
    private protected override void SaveParameters(BinaryWriter writer)
    {
        writer.Write(Parameters.Channels);
        writer.WriteArray(Parameters.RunningMean.ToArray());
        writer.WriteArray(Parameters.RunningVariance.ToArray());
        writer.WriteArray(Parameters.Gamma.ToArray());
        writer.WriteArray(Parameters.Beta.ToArray());
        writer.Write(Parameters.Epsilon);
        writer.WriteEnum(Layout);
    }

    static BatchNormTransformer ILoadableTransformer<BatchNormTransformer>.Load(IHostEnvironment env, TransformerColumns columns, BinaryReader reader, uint versionWritten)
    {
        int channels = reader.ReadCount();
        var parameters = new BatchNormParameters(reader.ReadSingleArray(channels), reader.ReadSingleArray(channels),
            reader.ReadSingleArray(channels), reader.ReadSingleArray(channels), reader.ReadSingle());
        return new(env, columns.OutputColumnName, columns.InputColumnName, parameters, reader.ReadEnum<ChannelLayout>());
    }
}
