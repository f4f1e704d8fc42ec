using Microsoft.ML.Data;
using Microsoft.ML.Model.OnnxConverter;

namespace MLNet.Normalization.Onnx;

/// <summary>
/// Builds standard ONNX operators (domain "", opset <see cref="MinimumOpSet"/> and later) into ML.NET's export context.
/// Intermediate tensors are declared without a shape, which the runtime infers: ML.NET would declare a (C, 1) tensor
/// as (1), since it writes the shape of any one-value type that way.
/// </summary>
internal sealed class OnnxGraph(OnnxContext context, string owner)
{
    /// <summary>The opset the library's graphs need: ReduceMean, Gemm, Softmax and ArgMax as opset 11 defines them.</summary>
    public const int MinimumOpSet = 11;

    public OnnxContext Context { get; } = context;

    /// <summary>Refuses an export to an opset older than <see cref="MinimumOpSet"/>, naming the transformer.</summary>
    public void CheckOpSet() => Context.CheckOpSetVersion(MinimumOpSet, owner);

    /// <summary>An intermediate tensor named after <paramref name="name"/>, its shape left to the runtime.</summary>
    public string Variable(string name) => Context.AddIntermediateVariable(NumberDataViewType.Single, name, skip: true);

    /// <summary>A node of one or more inputs writing <paramref name="output"/>.</summary>
    public OnnxNode Node(string op, string output, params string[] inputs)
        => Context.CreateNode(op, inputs, [output], Context.GetNodeName(op), "");

    /// <summary>A new variable computed by <paramref name="op"/> from <paramref name="inputs"/>.</summary>
    public string Apply(string op, string[] inputs, Action<OnnxNode>? attributes = null)
    {
        string output = Variable(op);
        var node = Node(op, output, inputs);
        attributes?.Invoke(node);
        return output;
    }

    public string Floats(string name, float[] values, params long[] dimensions) => Context.AddInitializer(values, dimensions, name);

    public string Longs(string name, long[] values, params long[] dimensions) => Context.AddInitializer(values, dimensions, name);

    /// <summary>Reshapes to (−1, <paramref name="dimensions"/>), into <paramref name="output"/> when given.</summary>
    public string Reshape(string input, int[] dimensions, string? output = null)
    {
        output ??= Variable("Reshape");
        long[] shape = [-1, .. dimensions.Select(d => (long)d)];
        Node("Reshape", output, input, Longs("Shape", shape, shape.Length));
        return output;
    }

    /// <summary>Swaps the last two of three dimensions: (N, A, B) → (N, B, A).</summary>
    public string SwapLastTwo(string input)
        => Apply("Transpose", [input], node => node.AddAttribute("perm", new long[] { 0, 2, 1 }));

    /// <summary>
    /// (x − mean) / √(var + ε) over the last axis of an (N, groups, length) tensor, with the population variance, as
    /// PyTorch's layer, instance and group norm define it.
    /// </summary>
    public string Standardize(string input, float epsilon)
    {
        string mean = Apply("ReduceMean", [input], LastAxis);
        string centered = Apply("Sub", [input, mean]);
        string squared = Apply("Mul", [centered, centered]);
        string variance = Apply("ReduceMean", [squared], LastAxis);
        string shifted = Apply("Add", [variance, Floats("Epsilon", [epsilon], 1)]);
        string std = Apply("Sqrt", [shifted]);
        return Apply("Div", [centered, std]);
    }

    private static void LastAxis(OnnxNode node)
    {
        node.AddAttribute("axes", new long[] { -1 });
        node.AddAttribute("keepdims", 1L);
    }
}
