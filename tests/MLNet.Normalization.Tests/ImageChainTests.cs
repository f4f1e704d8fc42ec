using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace MLNet.Normalization.Tests;

/// <summary>ML.NET's real image chain, LoadImages → ResizeImages → ExtractPixels → our normalizers, on PNG files.</summary>
public class ImageChainTests : IDisposable
{
    private const int Width = 6, Height = 4;
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("mlnet-normalization-images-");

    public void Dispose() => _folder.Delete(recursive: true);

    private sealed class ImagePath
    {
        public string Path { get; set; } = "";
    }

    /// <summary>A PNG whose pixel (x, y) has RGB (seed + 40x, 30y + 7, 250 − 20x − 10y).</summary>
    private static (byte R, byte G, byte B) Pixel(int seed, int x, int y)
        => ((byte)(seed + 40 * x), (byte)(30 * y + 7), (byte)(250 - 20 * x - 10 * y));

    private string WriteImage(int seed)
    {
        var rgba = new byte[Width * Height * 4];
        for (int y = 0; y < Height; y++)
            for (int x = 0; x < Width; x++)
            {
                var (r, g, b) = Pixel(seed, x, y);
                int at = (y * Width + x) * 4;
                (rgba[at], rgba[at + 1], rgba[at + 2], rgba[at + 3]) = (r, g, b, 255);
            }
        var path = Path.Combine(_folder.FullName, $"image{seed}.png");
        using var image = MLImage.CreateFromPixels(Width, Height, MLPixelFormat.Rgba32, rgba);
        image.Save(path);
        return path;
    }

    private (MLContext, IDataView, IEstimator<ITransformer>) Chain(bool interleave)
    {
        var ml = new MLContext(seed: 1);
        var paths = new[] { WriteImage(3), WriteImage(11) };
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImagePath { Path = p }));
        var chain = ml.Transforms.LoadImages("Image", imageFolder: null, inputColumnName: "Path")
            .Append(ml.Transforms.ResizeImages("Image", Width, Height, "Image"))
            .Append(ml.Transforms.ExtractPixels(TestData.Column, "Image", interleavePixelColors: interleave));
        return (ml, data, chain);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NormalizeChannelsWithImageNetStatisticsOnRealImages(bool interleave)
    {
        var (ml, data, chain) = Chain(interleave);
        var model = chain.Append(ml.Transforms.NormalizeChannels("Normalized", TestData.Column, ChannelStatistics.ImageNet)).Fit(data);
        var output = model.Transform(data);

        var type = (VectorDataViewType)output.Schema["Normalized"].Type;
        Assert.Equal(interleave ? new[] { Height, Width, 3 } : new[] { 3, Height, Width }, type.Dimensions.ToArray());

        // torchvision: (x / 255 − mean[c]) / std[c], computed here in double from the pixels written.
        double[] mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
        var rows = TestData.Read(output, "Normalized");
        int[] seeds = [3, 11];
        for (int row = 0; row < seeds.Length; row++)
        {
            var expected = new double[3 * Height * Width];
            for (int y = 0; y < Height; y++)
                for (int x = 0; x < Width; x++)
                {
                    var (r, g, b) = Pixel(seeds[row], x, y);
                    byte[] rgb = [r, g, b];
                    for (int c = 0; c < 3; c++)
                    {
                        int index = interleave ? (y * Width + x) * 3 + c : (c * Height + y) * Width + x;
                        expected[index] = (rgb[c] / 255.0 - mean[c]) / std[c];
                    }
                }
            TestData.AssertClose(expected, rows[row], 1e-5, 1e-6, $"image {row}");
        }
    }

    [Fact]
    public void FittedStatisticsAndDenormalizationRoundTripOnRealImages()
    {
        var (ml, data, chain) = Chain(interleave: false);
        var model = chain
            .Append(ml.Transforms.NormalizeChannels("Normalized", TestData.Column))
            .Fit(data);
        var normalizer = model.LastTransformer;
        var pipeline = model.Append(ml.Transforms.DenormalizeChannels("Restored", "Normalized", normalizer.Statistics).Fit(model.Transform(data)));
        var output = pipeline.Transform(data);

        // Population statistics of x / 255 per channel over both images, in double.
        for (int c = 0; c < 3; c++)
        {
            var values = new List<double>();
            foreach (int seed in new[] { 3, 11 })
                for (int y = 0; y < Height; y++)
                    for (int x = 0; x < Width; x++)
                    {
                        var (r, g, b) = Pixel(seed, x, y);
                        values.Add((c == 0 ? r : c == 1 ? g : b) / 255.0);
                    }
            double mean = values.Average();
            double std = Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / values.Count);
            Assert.Equal(mean, normalizer.Statistics.Mean[c], 1e-6);
            Assert.Equal(std, normalizer.Statistics.Std[c], 1e-6);
        }

        var pixels = TestData.Read(output, TestData.Column);
        var restored = TestData.Read(output, "Restored");
        for (int row = 0; row < pixels.Length; row++)
            TestData.AssertClose(pixels[row].Select(v => (double)v).ToArray(), restored[row], 1e-3, 0, $"row {row}");
    }
}
