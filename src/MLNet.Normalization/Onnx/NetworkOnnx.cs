using Microsoft.ML.Data;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// A folded inference network as ONNX: Gemm per Linear layer, Conv, MaxPool, AveragePool and GlobalAveragePool on
/// (N, C, H, W), Relu, layer, group and instance norm decomposed (<see cref="GroupNormOnnx"/>), then the scorer's
/// outputs as ML.NET's multiclass trainers write them: Score, the softmax of the logits, and PredictedLabel, the
/// 1-based key of the highest score (the first on a tie).
/// </summary>
internal static class NetworkOnnx
{
    public static void Write(OnnxGraph graph, IReadOnlyList<Layer> layers, string features, string predictedLabel, string score)
    {
        // A shaped features column, such as (C, H, W), reaches the first layer as (N, C·H·W); image layers see
        // (N, C, H, W) and dense layers (N, features), each reshaping what comes in when its rank differs.
        int[] dimensions = [layers[0].InputFeatures];
        string x = graph.Reshape(features, dimensions);
        foreach (var layer in layers)
        {
            int width = layer.OutputFeatures;
            switch (layer)
            {
                case LinearLayer linear:
                    x = Flat(graph, x, ref dimensions);
                    x = graph.Apply("Gemm",
                        [x, graph.Floats("Weight", linear.Weight.ToArray(), linear.OutputFeatures, linear.InputFeatures), graph.Floats("Bias", linear.Bias.ToArray(), linear.OutputFeatures)],
                        node => node.AddAttribute("transB", 1L));
                    dimensions = [width];
                    break;
                case FlattenLayer:
                    x = Flat(graph, x, ref dimensions);
                    break;
                case ReluLayer:
                    x = graph.Apply("Relu", [x]);
                    break;
                case LayerNormLayer layerNorm:
                {
                    string output = graph.Variable("LayerNorm");
                    GroupNormOnnx.WriteSegments(graph, 1, width, layerNorm.Gamma.ToArray(), layerNorm.Beta.ToArray(), layerNorm.Epsilon, x, output, dimensions);
                    x = output;
                    break;
                }
                case GroupNormLayer groupNorm:
                {
                    string output = graph.Variable("GroupNorm");
                    GroupNormOnnx.WriteChannels(graph, new ChannelGeometry(groupNorm.Channels, groupNorm.SpatialSize, ChannelLayout.ChannelsFirst), groupNorm.Groups,
                        groupNorm.Gamma.ToArray(), groupNorm.Beta.ToArray(), groupNorm.Epsilon, x, output, dimensions);
                    x = output;
                    break;
                }
                case Conv2dLayer convolution:
                {
                    x = Image(graph, x, convolution.Input, ref dimensions);
                    var weight = graph.Floats("Weight", convolution.Weight.ToArray(), convolution.OutChannels, convolution.Input.Channels, convolution.KernelSize, convolution.KernelSize);
                    string[] inputs = convolution.HasBias ? [x, weight, graph.Floats("Bias", convolution.Bias.ToArray(), convolution.OutChannels)] : [x, weight];
                    x = graph.Apply("Conv", inputs, node => Window(node, convolution.KernelSize, convolution.Stride, convolution.Padding));
                    dimensions = ImageDimensions(convolution.Output);
                    break;
                }
                case MaxPool2dLayer maxPool:
                    x = Image(graph, x, maxPool.Input, ref dimensions);
                    x = graph.Apply("MaxPool", [x], node => Window(node, maxPool.KernelSize, maxPool.Stride, maxPool.Padding));
                    dimensions = ImageDimensions(maxPool.Output);
                    break;
                case AvgPool2dLayer averagePool:
                    x = Image(graph, x, averagePool.Input, ref dimensions);
                    x = graph.Apply("AveragePool", [x], node =>
                    {
                        Window(node, averagePool.KernelSize, averagePool.Stride, averagePool.Padding);
                        node.AddAttribute("count_include_pad", 1L);
                    });
                    dimensions = ImageDimensions(averagePool.Output);
                    break;
                case GlobalAveragePoolLayer globalPool:
                    x = Image(graph, x, globalPool.Input, ref dimensions);
                    x = graph.Apply("GlobalAveragePool", [x]);
                    dimensions = [globalPool.Input.Channels, 1, 1];
                    break;
                default:
                    throw new NotSupportedException($"A {layer.GetType().Name} layer has no ONNX form here; fold the network first.");
            }
        }
        x = Flat(graph, x, ref dimensions);
        graph.Node("Softmax", score, x).AddAttribute("axis", 1L);

        var context = graph.Context;
        var longType = new VectorDataViewType(NumberDataViewType.Int64, 1);
        string index = context.AddIntermediateVariable(longType, "ArgMax");
        var argMax = graph.Node("ArgMax", index, score);
        argMax.AddAttribute("axis", 1L);
        argMax.AddAttribute("keepdims", 1L);
        string key = context.AddIntermediateVariable(longType, "Key");
        graph.Node("Add", key, index, graph.Longs("One", [1], 1));
        graph.Node("Cast", predictedLabel, key).AddAttribute("to", typeof(uint));
    }

    private static int[] ImageDimensions(ImageShape shape) => [shape.Channels, shape.Height, shape.Width];

    private static string Flat(OnnxGraph graph, string x, ref int[] dimensions)
    {
        if (dimensions.Length == 1)
            return x;
        int features = dimensions.Aggregate(1, (product, d) => product * d);
        dimensions = [features];
        return graph.Reshape(x, dimensions);
    }

    private static string Image(OnnxGraph graph, string x, ImageShape shape, ref int[] dimensions)
    {
        var image = ImageDimensions(shape);
        if (dimensions.SequenceEqual(image))
            return x;
        dimensions = image;
        return graph.Reshape(x, image);
    }

    private static void Window(Microsoft.ML.Model.OnnxConverter.OnnxNode node, int kernel, int stride, int padding)
    {
        node.AddAttribute("kernel_shape", new long[] { kernel, kernel });
        node.AddAttribute("strides", new long[] { stride, stride });
        node.AddAttribute("pads", new long[] { padding, padding, padding, padding });
    }
}
