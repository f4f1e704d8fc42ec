using MLNet.Normalization;
using MLNet.Normalization.Training;

namespace BatchNormExperiments;

/// <summary>
/// The convolutional experiments' networks, as <see cref="ConvolutionalNetworkOptions.Blocks"/>: each convolution
/// block is conv 3×3 pad 1 (with a bias) → normalization → ReLU, and a final dense layer to the 10 classes follows.
/// </summary>
internal static class ConvolutionalNetworks
{
    /// <summary>Fashion-MNIST's images: one grey channel of 28 × 28.</summary>
    public static readonly ImageShape Image = new(1, 28, 28);

    /// <summary>Group norm's groups (Wu & He's default is 32; the narrow layers here have 16 to 128 channels).</summary>
    public const int GroupNormGroups = 8;

    /// <summary>
    /// "late-small": conv 16, pool [28 → 14], conv 32, pool [14 → 7], conv 64, pool [7 → 3], conv 64 [3 × 3], global
    /// average pool, dense 10: the last two convolutions' maps hold only 9 values per channel and image.
    /// </summary>
    public static IReadOnlyList<NetworkBlock> LateSmall { get; } =
    [
        new ConvolutionBlock(16), new MaxPoolBlock(), new ConvolutionBlock(32), new MaxPoolBlock(),
        new ConvolutionBlock(64), new MaxPoolBlock(), new ConvolutionBlock(64), new GlobalAveragePoolBlock(),
    ];

    /// <summary>
    /// "vgg": two convolutions per stage, 2 stages of max pooling [28 → 14 → 7], dense 128, dense 10 (Santurkar et
    /// al.'s VGG in small). Two stages, not three: with PyTorch's default initialization, the same in both columns,
    /// the six-convolution version (16-16, 32-32, 64-64) without normalization ended 2 epochs at lr 0.02 on 12,000
    /// images at 10 % test accuracy in the library and 51 % in PyTorch (at chance at lr 0.05 and 0.1), and a landscape
    /// probe of a network that barely moves says little; this one learns without normalization from the first epoch.
    /// </summary>
    public static IReadOnlyList<NetworkBlock> Vgg { get; } =
    [
        new ConvolutionBlock(16), new ConvolutionBlock(16), new MaxPoolBlock(),
        new ConvolutionBlock(32), new ConvolutionBlock(32), new MaxPoolBlock(), new DenseBlock(128),
    ];

    /// <summary>"conv 16 → pool → … → dense 10", the blocks in short.</summary>
    public static string Describe(IReadOnlyList<NetworkBlock> blocks) => string.Join(" → ", blocks.Select(b => b switch
    {
        ConvolutionBlock c => $"conv {c.Channels}",
        MaxPoolBlock => "max pool",
        GlobalAveragePoolBlock => "global average pool",
        DenseBlock d => $"dense {d.Units}",
        _ => b.Describe(),
    }).Append("dense 10"));

    /// <summary>The (C, H, W) map each convolution block of <paramref name="blocks"/> outputs from <see cref="Image"/>, in order.</summary>
    public static IReadOnlyList<ImageShape> ConvolutionMaps(IReadOnlyList<NetworkBlock> blocks)
    {
        var maps = new List<ImageShape>();
        var shape = Image;
        foreach (var block in blocks)
        {
            shape = block switch
            {
                ConvolutionBlock c => Window(shape, c.Channels, c.KernelSize, c.Stride, c.EffectivePadding),
                MaxPoolBlock p => Window(shape, shape.Channels, p.KernelSize, p.Stride ?? p.KernelSize, 0),
                DenseBlock d => new ImageShape(d.Units, 1, 1),
                _ => new ImageShape(shape.Channels, 1, 1),
            };
            if (block is ConvolutionBlock)
                maps.Add(shape);
        }
        return maps;
    }

    private static ImageShape Window(ImageShape shape, int channels, int kernel, int stride, int padding)
        => new(channels, (shape.Height + 2 * padding - kernel) / stride + 1, (shape.Width + 2 * padding - kernel) / stride + 1);
}
