using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// A <see cref="ChannelAffineMap"/> as ONNX: y[c] = x[source(c)] · scale[c] + shift[c] over the channel axis of
/// (N, C, S) or (N, S, C), with the float coefficients <see cref="ChannelAffineKernel"/> applies.
/// </summary>
internal static class ChannelAffineOnnx
{
    /// <summary>Writes the map from <paramref name="input"/> into <paramref name="output"/>, whose dimensions after the batch are <paramref name="outputDimensions"/>.</summary>
    public static void Write(OnnxGraph graph, ChannelAffineMap map, ChannelGeometry geometry, string input, string output, int[] outputDimensions)
    {
        int channels = geometry.Channels, spatial = geometry.SpatialSize;
        var scale = map.Scale.ToArray().Select(v => (float)v).ToArray();
        var shift = map.Shift.ToArray().Select(v => (float)v).ToArray();
        bool channelsFirst = geometry.Layout == ChannelLayout.ChannelsFirst;
        int[] planes = channelsFirst ? [channels, spatial] : [spatial, channels];
        // Channels first broadcasts (C, 1) coefficients over S; channels last broadcasts (C) over the pixels.
        long[] coefficientShape = channelsFirst ? [channels, 1] : [channels];

        string x = graph.Reshape(input, planes);
        if (map.ReordersChannels)
        {
            long[] source = map.SourceChannel.ToArray().Select(c => (long)c).ToArray();
            string indices = graph.Longs("SourceChannel", source, channels);
            x = graph.Apply("Gather", [x, indices], node => node.AddAttribute("axis", channelsFirst ? 1L : 2L));
        }
        string scaled = graph.Apply("Mul", [x, graph.Floats("Scale", scale, coefficientShape)]);
        string shifted = graph.Apply("Add", [scaled, graph.Floats("Shift", shift, coefficientShape)]);
        graph.Reshape(shifted, outputDimensions, output);
    }
}
