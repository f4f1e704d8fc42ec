namespace MLNet.Normalization.Training;

/// <summary>
/// One stage of a convolutional network's architecture (<see cref="ConvolutionalNetworkOptions.Blocks"/>): a
/// <see cref="ConvolutionBlock"/>, <see cref="MaxPoolBlock"/>, <see cref="AveragePoolBlock"/>,
/// <see cref="GlobalAveragePoolBlock"/> or <see cref="DenseBlock"/>.
/// </summary>
public abstract record NetworkBlock
{
    private protected NetworkBlock()
    {
    }

    /// <summary>A short description for messages, e.g. "conv 3×3/1 → 32".</summary>
    public abstract string Describe();
}

/// <summary>
/// Convolution → normalization → ReLU: <see cref="Conv2dLayer"/> of <paramref name="Channels"/> output channels with
/// a bias, then the options' <see cref="NetworkTrainingOptions.Normalization"/> over (N, C, H, W), then ReLU.
/// </summary>
/// <param name="Channels">Output channels, positive.</param>
/// <param name="KernelSize">k of the k × k kernel; default 3.</param>
/// <param name="Stride">Default 1.</param>
/// <param name="Padding">Zeros added on each side; null (the default) for k / 2, which keeps H × W at stride 1 for odd k.</param>
public sealed record ConvolutionBlock(int Channels, int KernelSize = 3, int Stride = 1, int? Padding = null) : NetworkBlock
{
    /// <summary>The padding used: <see cref="Padding"/>, or k / 2.</summary>
    public int EffectivePadding => Padding ?? KernelSize / 2;

    /// <inheritdoc/>
    public override string Describe() => $"conv {KernelSize}×{KernelSize}/{Stride} pad {EffectivePadding} → {Channels}";
}

/// <summary>Max pooling, <see cref="MaxPool2dLayer"/>: k × k windows, stride <paramref name="Stride"/> (default k), no padding, floor mode.</summary>
/// <param name="KernelSize">k; default 2.</param>
/// <param name="Stride">Default null: k.</param>
public sealed record MaxPoolBlock(int KernelSize = 2, int? Stride = null) : NetworkBlock
{
    /// <inheritdoc/>
    public override string Describe() => $"max pool {KernelSize}×{KernelSize}/{Stride ?? KernelSize}";
}

/// <summary>Average pooling, <see cref="AvgPool2dLayer"/>: k × k windows, stride <paramref name="Stride"/> (default k), no padding, floor mode.</summary>
/// <param name="KernelSize">k; default 2.</param>
/// <param name="Stride">Default null: k.</param>
public sealed record AveragePoolBlock(int KernelSize = 2, int? Stride = null) : NetworkBlock
{
    /// <inheritdoc/>
    public override string Describe() => $"average pool {KernelSize}×{KernelSize}/{Stride ?? KernelSize}";
}

/// <summary>Global average pooling, <see cref="GlobalAveragePoolLayer"/>: each channel's H × W values to their mean (C × 1 × 1).</summary>
public sealed record GlobalAveragePoolBlock : NetworkBlock
{
    /// <inheritdoc/>
    public override string Describe() => "global average pool";
}

/// <summary>
/// Linear → ReLU over the flattened map (PyTorch's Flatten then Linear), with the options' normalization between them
/// when <see cref="ConvolutionalNetworkOptions.NormalizeDenseLayers"/> is set. After a dense block only dense blocks follow.
/// </summary>
/// <param name="Units">Output units, positive.</param>
public sealed record DenseBlock(int Units) : NetworkBlock
{
    /// <inheritdoc/>
    public override string Describe() => $"dense → {Units}";
}

/// <summary>
/// Options of <see cref="ConvolutionalNetworkTraining.Train"/>: the image shape and the architecture, plus what every
/// network trainer shares (<see cref="NetworkTrainingOptions"/>). The network is <see cref="Blocks"/> in order, then a
/// Linear layer to the classes; the default is conv 3×3 (32)–norm–ReLU–max pool 2–conv 3×3 (64)–norm–ReLU–max pool 2–
/// dense (128)–ReLU–dense (classes), with batch norm, SGD lr 0.01, momentum 0.9, batch 64, 5 epochs.
/// </summary>
public class ConvolutionalNetworkOptions : NetworkTrainingOptions
{
    /// <summary>
    /// The (C, H, W) of each row of features, planar (channel by channel, as ML.NET's <c>ExtractPixels</c> writes by
    /// default). Null (the default) for the ML.NET trainer to take it from the features column's (C, H, W) dimensions;
    /// <see cref="ConvolutionalNetworkTraining.Train"/> needs it set.
    /// </summary>
    public ImageShape? InputShape { get; set; }

    /// <summary>The architecture before the final Linear layer; default conv 32, max pool, conv 64, max pool, dense 128.</summary>
    public NetworkBlock[] Blocks { get; set; } =
        [new ConvolutionBlock(32), new MaxPoolBlock(), new ConvolutionBlock(64), new MaxPoolBlock(), new DenseBlock(128)];

    /// <summary>
    /// Whether dense blocks are normalized too (Linear → normalization → ReLU); default false, only convolutions are.
    /// Not with <see cref="HiddenNormalization.InstanceNorm"/>, which needs spatial values.
    /// </summary>
    public bool NormalizeDenseLayers { get; set; }

    private protected override void ValidateArchitecture()
    {
        if (Blocks is null)
            throw new ArgumentNullException(nameof(Blocks), "Blocks must not be null; [] is a linear classifier of the pixels.");
        bool dense = false;
        for (int i = 0; i < Blocks.Length; i++)
        {
            string name = $"Blocks[{i}]";
            switch (Blocks[i])
            {
                case null:
                    throw new ArgumentNullException(nameof(Blocks), $"{name} is null.");
                case ConvolutionBlock c:
                    CheckPositive(c.Channels, name, "Channels");
                    CheckPositive(c.KernelSize, name, "KernelSize");
                    CheckPositive(c.Stride, name, "Stride");
                    if (c.Padding < 0)
                        throw new ArgumentOutOfRangeException(nameof(Blocks), $"{name}.Padding must not be negative, got {c.Padding}.");
                    if (c.Channels > ModelLimits.MaxParameterLength)
                        throw new ArgumentOutOfRangeException(nameof(Blocks), $"{name}.Channels is {c.Channels}; a layer has at most {ModelLimits.MaxParameterLength} channels (ModelLimits.MaxParameterLength).");
                    break;
                case MaxPoolBlock p:
                    CheckPositive(p.KernelSize, name, "KernelSize");
                    CheckPositive(p.Stride ?? 1, name, "Stride");
                    break;
                case AveragePoolBlock p:
                    CheckPositive(p.KernelSize, name, "KernelSize");
                    CheckPositive(p.Stride ?? 1, name, "Stride");
                    break;
                case GlobalAveragePoolBlock:
                    break;
                case DenseBlock d:
                    CheckPositive(d.Units, name, "Units");
                    if (d.Units > ModelLimits.MaxParameterLength)
                        throw new ArgumentOutOfRangeException(nameof(Blocks), $"{name}.Units is {d.Units}; a layer is at most {ModelLimits.MaxParameterLength} units wide (ModelLimits.MaxParameterLength).");
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(Blocks), $"{name} is a {Blocks[i].GetType().Name}, which the convolutional network does not build.");
            }
            if (dense && Blocks[i] is not DenseBlock)
                throw new ArgumentOutOfRangeException(nameof(Blocks), $"{name} ({Blocks[i].Describe()}) follows a dense block, which flattens the map: only dense blocks can follow one.");
            dense |= Blocks[i] is DenseBlock;
        }
        if (NormalizeDenseLayers && Normalization == HiddenNormalization.InstanceNorm && Blocks.Any(b => b is DenseBlock))
            throw new ArgumentOutOfRangeException(nameof(NormalizeDenseLayers), NormalizeDenseLayers,
                "NormalizeDenseLayers with Normalization InstanceNorm would normalize each dense unit over its one value, and every output would be β; "
                + "normalize only the convolutions, or use another normalization.");
        if (InputShape is { } shape)
            shape.Validate(nameof(InputShape));
        long layers = LayerCount;
        if (layers > ModelLimits.MaxLayers)
            throw new ArgumentOutOfRangeException(nameof(Blocks),
                $"Blocks has {Blocks.Length} blocks, which with Normalization {Normalization} make a network of {layers} layers; a network has at most {ModelLimits.MaxLayers} (ModelLimits.MaxLayers).");
    }

    private protected override IEnumerable<(int Channels, string Option)> NormalizedWidths()
    {
        for (int i = 0; i < Blocks.Length; i++)
        {
            if (Blocks[i] is ConvolutionBlock c)
                yield return (c.Channels, $"Blocks[{i}].Channels");
            else if (Blocks[i] is DenseBlock d && NormalizeDenseLayers)
                yield return (d.Units, $"Blocks[{i}].Units");
        }
    }

    /// <summary>The layers of the network: per convolution or dense block its layer, normalization and ReLU; a layer per pooling block; the final Linear.</summary>
    internal long LayerCount
    {
        get
        {
            long perNormalized = Normalization == HiddenNormalization.None ? 2 : 3;
            return Blocks.Sum(b => b switch
            {
                ConvolutionBlock => perNormalized,
                DenseBlock => NormalizeDenseLayers ? perNormalized : 2,
                _ => 1L,
            }) + 1;
        }
    }

    /// <summary>
    /// Checks the maps each block outputs for <paramref name="input"/> against <see cref="ModelLimits"/>;
    /// the error names the block that shrinks a map below 1 × 1 or makes a layer too large, and
    /// <paramref name="inputSource"/> and <paramref name="classSource"/> say where the sizes come from.
    /// </summary>
    internal void ValidateNetwork(ImageShape input, int classes, string inputSource, string classSource)
    {
        input.Validate(inputSource);
        if (classes < 2 || classes > ModelLimits.MaxParameterLength)
            throw new ArgumentOutOfRangeException(nameof(classes), classes,
                $"{classSource} gives {classes} classes; a classifier has 2 to {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
        var shape = input;
        long parameters = 0;
        for (int i = 0; i < Blocks.Length; i++)
        {
            string what = $"Blocks[{i}] ({Blocks[i].Describe()})";
            var next = Blocks[i] switch
            {
                ConvolutionBlock c => Window(shape, c.KernelSize, c.Stride, c.EffectivePadding, c.Channels, what, inputSource),
                MaxPoolBlock p => Window(shape, p.KernelSize, p.Stride ?? p.KernelSize, 0, shape.Channels, what, inputSource),
                AveragePoolBlock p => Window(shape, p.KernelSize, p.Stride ?? p.KernelSize, 0, shape.Channels, what, inputSource),
                GlobalAveragePoolBlock => new ImageShape(shape.Channels, 1, 1),
                DenseBlock d => new ImageShape(d.Units, 1, 1),
                _ => throw new InvalidOperationException(),
            };
            long weights = Blocks[i] switch
            {
                ConvolutionBlock c => (long)c.Channels * shape.Channels * c.KernelSize * c.KernelSize,
                DenseBlock d => (long)d.Units * shape.Size,
                _ => 0,
            };
            if (weights > ModelLimits.MaxLinearWeights)
                throw new ArgumentOutOfRangeException(nameof(Blocks), weights,
                    $"{what} on the {shape} map of {inputSource} has {weights} weights; a layer holds at most {ModelLimits.MaxLinearWeights} (ModelLimits.MaxLinearWeights).");
            if (Blocks[i] is DenseBlock && shape.Size > ModelLimits.MaxParameterLength)
                throw new ArgumentOutOfRangeException(nameof(Blocks), shape.Size,
                    $"{what} flattens the {shape} map of {inputSource} into {shape.Size} inputs; a Linear layer takes at most {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength). Pool more first.");
            if ((long)next.Size > ModelLimits.MaxFeatureMapLength)
                throw new ArgumentOutOfRangeException(nameof(Blocks), next.Size,
                    $"{what} outputs a {next} map of {next.Size} values per image; a map holds at most {ModelLimits.MaxFeatureMapLength} (ModelLimits.MaxFeatureMapLength).");
            bool normalized = Normalization != HiddenNormalization.None && (Blocks[i] is ConvolutionBlock || (Blocks[i] is DenseBlock && NormalizeDenseLayers));
            if (normalized && Normalization == HiddenNormalization.LayerNorm && next.Size > ModelLimits.MaxParameterLength)
                throw new ArgumentOutOfRangeException(nameof(Normalization), Normalization,
                    $"Normalization LayerNorm after {what} learns γ and β per value of its {next} map, {next.Size} values; a parameter holds at most {ModelLimits.MaxParameterLength} (ModelLimits.MaxParameterLength).");
            parameters += weights + (Blocks[i] switch { ConvolutionBlock c => c.Channels, DenseBlock d => d.Units, _ => 0 })
                + (normalized ? 2L * (Normalization == HiddenNormalization.LayerNorm ? next.Size : next.Channels) : 0);
            shape = next;
        }
        long finalWeights = (long)shape.Size * classes;
        if (shape.Size > ModelLimits.MaxParameterLength || finalWeights > ModelLimits.MaxLinearWeights)
            throw new ArgumentOutOfRangeException(nameof(Blocks), shape.Size,
                $"The final Linear layer from the {shape} map of {inputSource} to the {classes} classes of {classSource} has {shape.Size} inputs and {finalWeights} weights; "
                + $"a Linear layer takes at most {ModelLimits.MaxParameterLength} inputs (ModelLimits.MaxParameterLength) and {ModelLimits.MaxLinearWeights} weights (ModelLimits.MaxLinearWeights).");
        parameters += finalWeights + classes;
        if (parameters > ModelLimits.MaxNetworkParameters)
            throw new ArgumentOutOfRangeException(nameof(Blocks), parameters,
                $"Blocks on the {input} images of {inputSource} make a network of {parameters} learned values; a network holds at most {ModelLimits.MaxNetworkParameters} (ModelLimits.MaxNetworkParameters).");
    }

    /// <summary>A copy whose <see cref="InputShape"/> is <paramref name="inputShape"/>.</summary>
    internal ConvolutionalNetworkOptions WithInputShape(ImageShape inputShape)
    {
        var copy = (ConvolutionalNetworkOptions)MemberwiseClone();
        copy.InputShape = inputShape;
        return copy;
    }

    private static ImageShape Window(ImageShape shape, int kernel, int stride, int padding, int channels, string what, string inputSource)
    {
        long height = ((long)shape.Height + 2 * padding - kernel) / stride + 1, width = ((long)shape.Width + 2 * padding - kernel) / stride + 1;
        if (shape.Height + 2L * padding < kernel || shape.Width + 2L * padding < kernel)
            throw new ArgumentOutOfRangeException(nameof(Blocks),
                $"{what} shrinks the {shape} map of {inputSource} below 1 × 1: its {kernel} × {kernel} window does not fit in {shape.Height + 2L * padding} × {shape.Width + 2L * padding}. Remove a pooling or strided block, or use larger images.");
        return new ImageShape(channels, (int)height, (int)width);
    }

    private static void CheckPositive(int value, string block, string property)
    {
        if (value < 1)
            throw new ArgumentOutOfRangeException(nameof(Blocks), value, $"{block}.{property} must be positive, got {value}.");
    }
}
