using Microsoft.ML.Runtime;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Onnx;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Base of the transformers whose whole computation is a per-channel affine map
/// y[c] = x[source(c)] · scale[c] + shift[c]: the input normalizers, denormalization and batch-norm inference.
/// Subclasses turn their parameters into the map; the base runs it with <see cref="ChannelAffineKernel"/>.
/// </summary>
public abstract class ChannelAffineTransformerBase : NormalizingTransformerBase
{
    private readonly ChannelAffineMap _map;

    private protected ChannelAffineTransformerBase(IHostEnvironment env, ModelFormat format, string outputColumnName, string? inputColumnName,
        ChannelAffineMap map, ChannelLayout layout)
        : base(env, format, outputColumnName, inputColumnName)
    {
        ChannelLayouts.Check(layout, nameof(layout));
        _map = map;
        Layout = layout;
    }

    /// <summary>Where the channel dimension is; <see cref="ChannelLayout.Auto"/> reads it from the column's dimensions.</summary>
    public ChannelLayout Layout { get; }

    private protected override int ParameterChannels => _map.Channels;
    private protected override ChannelLayout ParameterLayout => Layout;
    private protected override IRowKernel CreateKernel(ChannelGeometry geometry) => new ChannelAffineKernel(_map, geometry);

    private protected override void SaveAsOnnx(OnnxGraph graph, ChannelGeometry geometry, string input, string output, int[] outputDimensions)
        => ChannelAffineOnnx.Write(graph, _map, geometry, input, output, outputDimensions);
}
