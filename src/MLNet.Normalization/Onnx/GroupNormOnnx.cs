using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// Layer, instance and group normalization as standard ONNX operators (ReduceMean, Sub, Mul, Sqrt, Div): ONNX's own
/// LayerNormalization and GroupNormalization need opsets 17 and 18, later than ML.NET's converter writes.
/// </summary>
internal static class GroupNormOnnx
{
    /// <summary>
    /// Layer norm of each of the row's <paramref name="segments"/> consecutive segments of <paramref name="length"/>
    /// values, γ and β (empty for none) per element of a segment.
    /// </summary>
    public static void WriteSegments(OnnxGraph graph, int segments, int length, float[] gamma, float[] beta, float epsilon,
        string input, string output, int[] outputDimensions)
    {
        string x = graph.Reshape(input, [segments, length]);
        string y = graph.Standardize(x, epsilon);
        y = Affine(graph, y, gamma, beta, [length]);
        graph.Reshape(y, outputDimensions, output);
    }

    /// <summary>Group norm of a (C, S) sample in <paramref name="groups"/> groups (C groups: instance norm), γ and β (empty for none) per channel.</summary>
    public static void WriteChannels(OnnxGraph graph, ChannelGeometry geometry, int groups, float[] gamma, float[] beta, float epsilon,
        string input, string output, int[] outputDimensions)
    {
        int channels = geometry.Channels, spatial = geometry.SpatialSize;
        bool channelsLast = geometry.Layout == ChannelLayout.ChannelsLast && spatial > 1;
        string x = channelsLast
            ? graph.SwapLastTwo(graph.Reshape(input, [spatial, channels]))
            : input;
        int groupLength = channels / groups * spatial;
        string grouped = graph.Reshape(x, [groups, groupLength]);
        string y = graph.Standardize(grouped, epsilon);
        y = graph.Reshape(y, [channels, spatial]);
        y = Affine(graph, y, gamma, beta, [channels, 1]);
        if (channelsLast)
            y = graph.SwapLastTwo(y);
        graph.Reshape(y, outputDimensions, output);
    }

    private static string Affine(OnnxGraph graph, string y, float[] gamma, float[] beta, long[] parameterShape)
    {
        if (gamma.Length == 0)
            return y;
        string scaled = graph.Apply("Mul", [y, graph.Floats("Gamma", gamma, parameterShape)]);
        return graph.Apply("Add", [scaled, graph.Floats("Beta", beta, parameterShape)]);
    }
}
