namespace MLNet.Normalization.Training;

/// <summary>
/// Flattens (C, H, W) rows into C · H · W features, as <c>torch.nn.Flatten()</c>: the rows are already flat and
/// row-major, so the values are copied unchanged, and so is the gradient. It marks where a network's image part ends.
/// </summary>
public sealed class FlattenLayer : Layer
{
    /// <summary>Creates the layer.</summary>
    /// <param name="input">The (C, H, W) of an input row.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is not positive, or the row exceeds <see cref="ModelLimits.MaxParameterLength"/>.</exception>
    public FlattenLayer(ImageShape input)
        : base(CheckedSize(input), CheckedSize(input))
    {
        Input = input;
    }

    private static int CheckedSize(ImageShape input)
    {
        input.Validate(nameof(input));
        Guard.CheckLayerWidth(input.Size, nameof(input));
        return input.Size;
    }

    /// <summary>The (C, H, W) of an input row.</summary>
    public ImageShape Input { get; }

    private protected override bool BackwardReadsInput => false;

    private protected override void ForwardCore(ReadOnlySpan<float> input, Span<float> output, int rows, bool training)
        => input.CopyTo(output);

    private protected override void BackwardCore(ReadOnlySpan<float> outputGradient, ReadOnlySpan<float> input, Span<float> inputGradient, int rows)
        => outputGradient.CopyTo(inputGradient);
}
