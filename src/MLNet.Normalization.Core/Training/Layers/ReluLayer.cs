using System.Numerics.Tensors;

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

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
    {
        for (int i = 0; i < input.Length; i++)
            inputGradient[i] = input[i] > 0 ? outputGradient[i] : 0;
    }
}
