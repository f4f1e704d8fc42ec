using Microsoft.ML.Data;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// A folded inference network as ONNX: Gemm per Linear layer, Relu, layer and group norm decomposed
/// (<see cref="GroupNormOnnx"/>), then the scorer's outputs as ML.NET's multiclass trainers write them: Score, the
/// softmax of the logits, and PredictedLabel, the 1-based key of the highest score (the first on a tie).
/// </summary>
internal static class NetworkOnnx
{
    public static void Write(OnnxGraph graph, IReadOnlyList<Layer> layers, string features, string predictedLabel, string score)
    {
        // A shaped features column, such as (C, H, W), reaches the first Gemm as (N, C·H·W).
        string x = graph.Reshape(features, [layers[0].InputFeatures]);
        foreach (var layer in layers)
        {
            int width = layer.OutputFeatures;
            switch (layer)
            {
                case LinearLayer linear:
                    x = graph.Apply("Gemm",
                        [x, graph.Floats("Weight", linear.Weight.ToArray(), linear.OutputFeatures, linear.InputFeatures), graph.Floats("Bias", linear.Bias.ToArray(), linear.OutputFeatures)],
                        node => node.AddAttribute("transB", 1L));
                    break;
                case ReluLayer:
                    x = graph.Apply("Relu", [x]);
                    break;
                case LayerNormLayer layerNorm:
                {
                    string output = graph.Variable("LayerNorm");
                    GroupNormOnnx.WriteSegments(graph, 1, width, layerNorm.Gamma.ToArray(), layerNorm.Beta.ToArray(), layerNorm.Epsilon, x, output, [width]);
                    x = output;
                    break;
                }
                case GroupNormLayer groupNorm when groupNorm.SpatialSize == 1:
                {
                    string output = graph.Variable("GroupNorm");
                    GroupNormOnnx.WriteChannels(graph, new ChannelGeometry(groupNorm.Channels, 1, ChannelLayout.ChannelsFirst), groupNorm.Groups,
                        groupNorm.Gamma.ToArray(), groupNorm.Beta.ToArray(), groupNorm.Epsilon, x, output, [width]);
                    x = output;
                    break;
                }
                default:
                    throw new NotSupportedException($"A {layer.GetType().Name} layer has no ONNX form here; fold the network first.");
            }
        }
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
}
