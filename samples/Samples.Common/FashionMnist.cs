using System.Buffers.Binary;
using System.IO.Compression;

namespace Samples.Common;

/// <summary>
/// One split of Fashion-MNIST, read from the original gz-compressed IDX files: 28×28 grayscale images (one byte per
/// pixel, row by row, 0 is background) and their class labels 0..9.
/// </summary>
public sealed class FashionMnist
{
    /// <summary>Images are <see cref="ImageSide"/> × <see cref="ImageSide"/> pixels.</summary>
    public const int ImageSide = 28;

    /// <summary>Bytes per image.</summary>
    public const int PixelsPerImage = ImageSide * ImageSide;

    /// <summary>Where the full data set is installed on the machines the samples were written for.</summary>
    public const string InstalledFolder = "/usr/share/datasets/fashion-mnist";

    /// <summary>The embedded subset's folder, relative to the repository root and to a sample's build output.</summary>
    private static readonly string SubsetRelativeFolder = Path.Combine("data", "fashion-mnist-subset");

    private const int UnsignedByteType = 0x08;

    /// <summary>The class names, indexed by label.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private FashionMnist(byte[][] images, byte[] labels)
    {
        Images = images;
        Labels = labels;
    }

    /// <summary>The images, each <see cref="PixelsPerImage"/> bytes, row by row.</summary>
    public IReadOnlyList<byte[]> Images { get; }

    /// <summary>The label of each image, 0..9; see <see cref="ClassNames"/>.</summary>
    public IReadOnlyList<byte> Labels { get; }

    /// <summary>The number of images.</summary>
    public int Count => Labels.Count;

    /// <summary>Reads the training split (<c>train-*</c>) or the test split (<c>t10k-*</c>) from <paramref name="folder"/>.</summary>
    public static FashionMnist Load(string folder, bool train)
    {
        string prefix = train ? "train" : "t10k";
        var imagesPath = Path.Combine(folder, $"{prefix}-images-idx3-ubyte.gz");
        var labelsPath = Path.Combine(folder, $"{prefix}-labels-idx1-ubyte.gz");

        var (imageDimensions, pixels) = ReadIdx(imagesPath, expectedDimensionCount: 3);
        if (imageDimensions[1] != ImageSide || imageDimensions[2] != ImageSide)
            throw new InvalidDataException($"{imagesPath}: images are {imageDimensions[1]}×{imageDimensions[2]}, expected {ImageSide}×{ImageSide}.");
        var (labelDimensions, labels) = ReadIdx(labelsPath, expectedDimensionCount: 1);
        if (labelDimensions[0] != imageDimensions[0])
            throw new InvalidDataException($"{imagesPath} holds {imageDimensions[0]} images but {labelsPath} holds {labelDimensions[0]} labels.");

        int badLabel = Array.FindIndex(labels, l => l >= ClassNames.Count);
        if (badLabel >= 0)
            throw new InvalidDataException($"{labelsPath}: label {labels[badLabel]} at index {badLabel} is not a class 0..{ClassNames.Count - 1}.");

        var images = new byte[labels.Length][];
        for (int i = 0; i < images.Length; i++)
            images[i] = pixels.AsSpan(i * PixelsPerImage, PixelsPerImage).ToArray();
        return new FashionMnist(images, labels);
    }

    /// <summary>
    /// The folder to read: <paramref name="dataOption"/> when given; else the full data set at
    /// <see cref="InstalledFolder"/> when installed; else the embedded subset (<see cref="FindEmbeddedSubset"/>).
    /// </summary>
    public static string ResolveFolder(string? dataOption)
    {
        if (dataOption is not null)
        {
            if (!Directory.Exists(dataOption))
                throw new DirectoryNotFoundException($"The Fashion-MNIST folder '{dataOption}' does not exist.");
            return Path.GetFullPath(dataOption);
        }
        return Directory.Exists(InstalledFolder) ? InstalledFolder : FindEmbeddedSubset();
    }

    /// <summary>
    /// The embedded subset (3000 training and 1000 test images): the copy in the build output, or
    /// <c>samples/data/fashion-mnist-subset</c> in the repository, searched upwards from the application's folder.
    /// </summary>
    public static string FindEmbeddedSubset()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            foreach (var candidate in new[] { Path.Combine(folder.FullName, SubsetRelativeFolder), Path.Combine(folder.FullName, "samples", SubsetRelativeFolder) })
                if (File.Exists(Path.Combine(candidate, "t10k-images-idx3-ubyte.gz")))
                    return candidate;
        throw new DirectoryNotFoundException(
            $"The embedded Fashion-MNIST subset was not found above {AppContext.BaseDirectory}; pass the data folder explicitly.");
    }

    /// <summary>Reads an unsigned-byte IDX file: a big-endian header (0, 0, type, dimension count, sizes), then the bytes.</summary>
    private static (int[] Dimensions, byte[] Data) ReadIdx(string path, int expectedDimensionCount)
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The Fashion-MNIST file '{path}' does not exist.", path);

        byte[] content;
        try
        {
            using var gzip = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
            using var buffer = new MemoryStream();
            gzip.CopyTo(buffer);
            content = buffer.ToArray();
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path} is not a valid gz file: {e.Message}", e);
        }

        int headerLength = 4 + 4 * expectedDimensionCount;
        if (content.Length < headerLength)
            throw new InvalidDataException($"{path}: {content.Length} bytes is too short for an IDX header of {headerLength} bytes.");
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(content);
        uint expectedMagic = (UnsignedByteType << 8) | (uint)expectedDimensionCount;
        if (magic != expectedMagic)
            throw new InvalidDataException(
                $"{path}: magic number 0x{magic:X8}, expected 0x{expectedMagic:X8} (unsigned bytes, {expectedDimensionCount} dimensions).");

        var dimensions = new int[expectedDimensionCount];
        long expectedLength = 1;
        for (int d = 0; d < dimensions.Length; d++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(content.AsSpan(4 + 4 * d));
            if (size > int.MaxValue)
                throw new InvalidDataException($"{path}: dimension {d} has an impossible size {size}.");
            dimensions[d] = (int)size;
            expectedLength *= size;
            if (expectedLength > Array.MaxLength)
                throw new InvalidDataException($"{path}: the header promises more data than an array can hold.");
        }
        if (content.Length - headerLength != expectedLength)
            throw new InvalidDataException(
                $"{path}: the header promises {expectedLength} bytes of data ({string.Join("×", dimensions)}) but the file holds {content.Length - headerLength}.");
        return (dimensions, content[headerLength..]);
    }
}
