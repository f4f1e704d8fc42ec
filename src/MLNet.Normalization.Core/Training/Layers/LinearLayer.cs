using System.Numerics.Tensors;
using MLNet.Normalization.Training.Compute;

namespace MLNet.Normalization.Training;

/// <summary>
/// y = x Wᵀ + b, as <c>torch.nn.Linear</c>: <see cref="Weight"/> is (outputs × inputs) row-major. Initialized as
/// PyTorch does, W and b ~ U(−1/√inputs, 1/√inputs), from a seed.
/// </summary>
public sealed class LinearLayer : Layer
{
    /// <summary>Creates the layer with PyTorch's default initialization.</summary>
    /// <param name="inputs">Values per input row.</param>
    /// <param name="outputs">Values per output row.</param>
    /// <param name="seed">Seed of the initialization; the same seed gives the same weights.</param>
    /// <exception cref="ArgumentOutOfRangeException">A size exceeds <see cref="ModelLimits.MaxParameterLength"/>, or the weights <see cref="ModelLimits.MaxLinearWeights"/>.</exception>
    public LinearLayer(int inputs, int outputs, int seed = 0)
        : base(inputs, outputs)
    {
        Guard.CheckLinearLayer(inputs, outputs);
        Weight = new float[outputs * inputs];
        Bias = new float[outputs];
        WeightGradient = new float[Weight.Length];
        BiasGradient = new float[outputs];
        var random = new Random(seed);
        double bound = 1 / Math.Sqrt(inputs);
        foreach (var values in new[] { Weight, Bias })
            for (int i = 0; i < values.Length; i++)
                values[i] = (float)(bound * (2 * random.NextDouble() - 1));
        Parameters = [new Parameter("weight", Weight, WeightGradient), new Parameter("bias", Bias, BiasGradient)];
    }

    /// <summary>A layer with the given W (outputs × inputs, row-major) and b, copied; every value must be finite.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A size exceeds <see cref="ModelLimits.MaxParameterLength"/>, or the weights <see cref="ModelLimits.MaxLinearWeights"/>.</exception>
    /// <exception cref="ArgumentException">A length does not fit the sizes, or a value is NaN or infinite (the message names it).</exception>
    public LinearLayer(int inputs, int outputs, float[] weight, float[] bias)
        : base(inputs, outputs)
    {
        Guard.CheckLinearLayer(inputs, outputs);
        ArgumentNullException.ThrowIfNull(weight);
        ArgumentNullException.ThrowIfNull(bias);
        if (weight.Length != inputs * outputs || bias.Length != outputs)
            throw new ArgumentException($"A {inputs} → {outputs} layer needs {inputs * outputs} weights and {outputs} biases, got {weight.Length} and {bias.Length}.");
        CheckFinite(weight, nameof(weight));
        CheckFinite(bias, nameof(bias));
        Weight = (float[])weight.Clone();
        Bias = (float[])bias.Clone();
        WeightGradient = new float[Weight.Length];
        BiasGradient = new float[outputs];
        Parameters = [new Parameter("weight", Weight, WeightGradient), new Parameter("bias", Bias, BiasGradient)];
    }

    /// <summary>W, outputs × inputs, row-major.</summary>
    public float[] Weight { get; }

    /// <summary>b, one per output.</summary>
    public float[] Bias { get; }

    /// <summary>dL/dW, accumulated by <see cref="Layer.Backward"/>.</summary>
    public float[] WeightGradient { get; }

    /// <summary>dL/db, accumulated by <see cref="Layer.Backward"/>.</summary>
    public float[] BiasGradient { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> Parameters { get; }

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
    {
        Gemm.Multiply(input, Weight, output, rows, OutputFeatures, InputFeatures, transposeB: true);
        for (int n = 0; n < rows; n++)
        {
            var row = output.Slice(n * OutputFeatures, OutputFeatures);
            TensorPrimitives.Add(row, Bias, row);
        }
    }

    internal override bool CanSkipInputGradient => true;

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
    {
        // dW += dYᵀ X, db += Σ rows of dY, dX = dY W (not when inputGradient is empty: the network's first layer).
        Gemm.Multiply(outputGradient, input, WeightGradient, OutputFeatures, InputFeatures, rows, transposeA: true, beta: 1);
        for (int n = 0; n < rows; n++)
            TensorPrimitives.Add(BiasGradient, outputGradient.Slice(n * OutputFeatures, OutputFeatures), BiasGradient);
        if (!inputGradient.IsEmpty)
            Gemm.Multiply(outputGradient, Weight, inputGradient, rows, InputFeatures, OutputFeatures);
    }
}
