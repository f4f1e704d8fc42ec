using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// Builds standard ONNX operators (domain "", opset <see cref="MinimumOpSet"/> and later) into ML.NET's export context.
/// Every intermediate tensor is declared with its shape: a leading batch dimension (−1), then the given dimensions.
/// </summary>
internal sealed class OnnxGraph(OnnxContext context, string owner)
{
    /// <summary>The opset the library's graphs need: ReduceMean, Gemm, Softmax and ArgMax as opset 11 defines them.</summary>
    public const int MinimumOpSet = 11;

    public OnnxContext Context { get; } = context;

    /// <summary>Refuses an export to an opset older than <see cref="MinimumOpSet"/>, naming the transformer.</summary>
    public void CheckOpSet() => Context.CheckOpSetVersion(MinimumOpSet, owner);

    /// <summary>A float tensor of the given dimensions after the batch dimension, named after <paramref name="name"/>.</summary>
    public string Variable(string name, params int[] dimensions)
        => Context.AddIntermediateVariable(dimensions.Length == 0 ? NumberDataViewType.Single : new VectorDataViewType(NumberDataViewType.Single, dimensions), name);

    /// <summary>A node of one or more inputs writing <paramref name="output"/>.</summary>
    public OnnxNode Node(string op, string output, params string[] inputs)
        => Context.CreateNode(op, inputs, [output], Context.GetNodeName(op), "");

    /// <summary>A new variable of <paramref name="dimensions"/> computed by <paramref name="op"/>.</summary>
    public string Apply(string op, string[] inputs, int[] dimensions, Action<OnnxNode>? attributes = null)
    {
        string output = Variable(op, dimensions);
        var node = Node(op, output, inputs);
        attributes?.Invoke(node);
        return output;
    }

    public string Floats(string name, float[] values, params long[] dimensions) => Context.AddInitializer(values, dimensions, name);

    public string Longs(string name, long[] values, params long[] dimensions) => Context.AddInitializer(values, dimensions, name);

    /// <summary>Reshapes to (−1, <paramref name="dimensions"/>), into <paramref name="output"/> when given.</summary>
    public string Reshape(string input, int[] dimensions, string? output = null)
    {
        output ??= Variable("Reshape", dimensions);
        long[] shape = [-1, .. dimensions.Select(d => (long)d)];
        Node("Reshape", output, input, Longs("Shape", shape, shape.Length));
        return output;
    }

    /// <summary>Swaps the last two of three dimensions: (N, A, B) → (N, B, A).</summary>
    public string SwapLastTwo(string input, int a, int b)
        => Apply("Transpose", [input], [b, a], node => node.AddAttribute("perm", new long[] { 0, 2, 1 }));

    /// <summary>
    /// (x − mean) / √(var + ε) over the last axis of an (N, groups, length) tensor, with the population variance, as
    /// PyTorch's layer, instance and group norm define it.
    /// </summary>
    public string Standardize(string input, int groups, int length, float epsilon)
    {
        string mean = Apply("ReduceMean", [input], [groups, 1], LastAxis);
        string centered = Apply("Sub", [input, mean], [groups, length]);
        string squared = Apply("Mul", [centered, centered], [groups, length]);
        string variance = Apply("ReduceMean", [squared], [groups, 1], LastAxis);
        string shifted = Apply("Add", [variance, Floats("Epsilon", [epsilon], 1)], [groups, 1]);
        string std = Apply("Sqrt", [shifted], [groups, 1]);
        return Apply("Div", [centered, std], [groups, length]);
    }

    private static void LastAxis(OnnxNode node)
    {
        node.AddAttribute("axes", new long[] { -1 });
        node.AddAttribute("keepdims", 1L);
    }
}
