using Microsoft.ML.Data;
using Samples.Common;

namespace ImagePreprocessing;

/// <summary>The image files the sample runs on: the user's, or tinted Fashion-MNIST test images it writes itself.</summary>
internal static class SampleImages
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg"];

    /// <summary>
    /// One RGB colour per class. Fashion-MNIST is grayscale; tinting each class differently makes the three channels
    /// differ, so per-channel statistics have something to show.
    /// </summary>
    private static readonly (byte R, byte G, byte B)[] ClassTints =
    [
        (255, 99, 71), (70, 130, 180), (154, 205, 50), (238, 130, 238), (255, 215, 0),
        (64, 224, 208), (255, 160, 122), (147, 112, 219), (210, 180, 140), (100, 149, 237),
    ];

    /// <summary>The first <paramref name="count"/> PNG or JPG files of <paramref name="folder"/>, in name order.</summary>
    public static IReadOnlyList<string> FromFolder(string folder, int count)
    {
        if (!Directory.Exists(folder))
            throw new DirectoryNotFoundException($"The image folder '{folder}' does not exist.");
        var files = Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .Take(count)
            .Select(Path.GetFullPath)
            .ToList();
        if (files.Count == 0)
            throw new FileNotFoundException($"The image folder '{folder}' has no .png, .jpg or .jpeg files.");
        files.ForEach(CheckDecodes);
        return files;
    }

    /// <summary>Fails with the file's name up front, instead of deep inside the pipeline's first pass.</summary>
    private static void CheckDecodes(string file)
    {
        try
        {
            using var image = MLImage.CreateFromFile(file);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"'{file}' could not be decoded as an image.", e);
        }
    }

    /// <summary>
    /// Writes <paramref name="count"/> test images of <paramref name="data"/> as RGB PNGs into <paramref name="folder"/>,
    /// cycling through the classes (image k is class k mod 10) and tinting each with its class colour.
    /// </summary>
    public static IReadOnlyList<string> WriteFashionMnist(FashionMnist data, string folder, int count)
    {
        Directory.CreateDirectory(folder);
        var indicesByClass = Enumerable.Range(0, FashionMnist.ClassNames.Count)
            .Select(label => Enumerable.Range(0, data.Count).Where(i => data.Labels[i] == label).ToList())
            .ToList();

        var paths = new List<string>(count);
        for (int k = 0; k < count; k++)
        {
            int label = k % indicesByClass.Count, occurrence = k / indicesByClass.Count;
            if (occurrence >= indicesByClass[label].Count)
                throw new InvalidDataException($"The data has only {indicesByClass[label].Count} images of class {label}; ask for fewer images.");
            int index = indicesByClass[label][occurrence];

            var path = Path.Combine(folder, $"{k:D3}-{FileNamePart(FashionMnist.ClassNames[label])}.png");
            using var image = MLImage.CreateFromPixels(FashionMnist.ImageSide, FashionMnist.ImageSide, MLPixelFormat.Rgba32,
                Tint(data.Images[index], ClassTints[label]));
            image.Save(path);
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>Grayscale bytes to RGBA, each channel scaled by the tint: white ink takes the tint's colour, the black background stays black.</summary>
    private static byte[] Tint(byte[] gray, (byte R, byte G, byte B) tint)
    {
        var rgba = new byte[gray.Length * 4];
        for (int i = 0; i < gray.Length; i++)
        {
            rgba[4 * i] = (byte)(gray[i] * tint.R / 255);
            rgba[4 * i + 1] = (byte)(gray[i] * tint.G / 255);
            rgba[4 * i + 2] = (byte)(gray[i] * tint.B / 255);
            rgba[4 * i + 3] = 255;
        }
        return rgba;
    }

    /// <summary>"T-shirt/top" → "t-shirt-top".</summary>
    private static string FileNamePart(string className)
        => new(className.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray());
}
