using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.Interop;
using MLNet.Normalization.Serialization;
using MLNet.Normalization.Shapes;

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
        // Validated and kept as a copy: options changed after the estimator is made do not reach its fit unchecked.
        _options = options.Clone();
        _options.Validate();
        _layout = options.Layout;
    }

    internal BatchNormEstimator(IHostEnvironment env, string outputColumnName, string? inputColumnName, BatchNormParameters parameters, ChannelLayout layout)
        : base(env, nameof(BatchNormEstimator), outputColumnName, inputColumnName)
    {
        ChannelLayouts.Check(layout, nameof(layout));
        BatchNormMaps.ForInference(parameters);
        _parameters = parameters;
        _layout = layout;
    }

    private protected override BatchNormTransformer FitCore(IDataView input)
        => new(Host, OutputColumnName, InputColumnName, _parameters ?? FitParameters(input, _options!), _layout);

    private BatchNormParameters FitParameters(IDataView input, BatchNormOptions options)
    {
        int channels = options.Gamma?.Length ?? options.Beta?.Length ?? 0;
        const string what = "batch-norm running statistics";
        var geometry = VectorColumn.ResolveGeometry(Host, input.Schema, InputColumnName, channels, _layout, flatVectorIsChannels: true);
        VectorColumn.CheckChannelCount(geometry, InputColumnName, what);
        var fitter = new BatchNormStatisticsFitter(geometry, options.FitMode, options.BatchSize, options.Momentum, options.UnbiasedRunningVariance);
        VectorColumn.ForEachFiniteRow(input, InputColumnName, what, (_, values) =>
        {
            try
            {
                fitter.Add(values);
            }
            catch (InvalidOperationException e)
            {
                throw NameTheColumn(e);
            }
        });
        float[] mean, variance;
        try
        {
            (mean, variance) = fitter.Complete();
        }
        catch (InvalidOperationException e)
        {
            throw NameTheColumn(e);
        }
        for (int c = 0; c < mean.Length; c++)
            if (!float.IsFinite(mean[c]) || !float.IsFinite(variance[c]))
                throw new InvalidOperationException(
                    $"Cannot fit {what} for input column '{InputColumnName}': channel {c}'s {(float.IsFinite(mean[c]) ? "variance" : "mean")} overflows float (its values are finite but spread beyond ±1.8e19); scale the column first.");
        return new BatchNormParameters(mean, variance, options.Gamma, options.Beta, options.Epsilon);

        InvalidOperationException NameTheColumn(InvalidOperationException e)
            => new($"Cannot fit {what} for input column '{InputColumnName}': {e.Message}", e);
    }
}

/// <summary>
/// y = γ[c] (x − runningMean[c]) / √(runningVariance[c] + ε) + β[c] per channel c, precomputed into one
/// multiply-add per element: PyTorch's <c>BatchNorm*d</c> in eval mode.
/// </summary>
public sealed class BatchNormTransformer : ChannelAffineTransformerBase, ILoadableTransformer<BatchNormTransformer>
{
    internal const string LoaderSignature = "BatchNormTransformer";
    private static readonly ModelFormat Format = new("BATCHNRM", LoaderSignature);
    static ModelFormat ILoadableTransformer<BatchNormTransformer>.Format => Format;

    // Format 1 wrote ChannelsFirst for the default layout, which read a column of unknown shape as (C, S) for any S.
    private readonly bool _unshapedIsChannelsOnly;

    internal BatchNormTransformer(IHostEnvironment env, string outputColumnName, string? inputColumnName, BatchNormParameters parameters, ChannelLayout layout,
        bool unshapedIsChannelsOnly = false)
        : base(env, Format, outputColumnName, inputColumnName, BatchNormMaps.ForInference(parameters), layout)
    {
        Parameters = parameters;
        _unshapedIsChannelsOnly = unshapedIsChannelsOnly;
    }

    /// <summary>The running statistics, γ, β and ε, given or fitted.</summary>
    public BatchNormParameters Parameters { get; }

    // With Auto, a column of unknown shape is (C) only when its length is C, as PyTorch's BatchNorm1d(C) refuses (N, L) for L ≠ C.
    private protected override ChannelGeometry? TryResolveGeometry(ReadOnlySpan<int> dimensions, int length, out string error)
        => ChannelGeometry.TryResolve(dimensions, length, Parameters.Channels,
            _unshapedIsChannelsOnly && dimensions.Length < 2 ? ChannelLayout.Auto : Layout, out error, flatVectorIsChannels: true);

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
        var layout = reader.ReadEnum<ChannelLayout>();
        return new(env, columns.OutputColumnName, columns.InputColumnName, parameters, layout,
            unshapedIsChannelsOnly: versionWritten == ModelFormat.InitialVersion && layout == ChannelLayout.ChannelsFirst);
    }
}
