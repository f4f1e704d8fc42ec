using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// Small synthetic images for the convolutional network: class 0 a horizontal bar, 1 a vertical bar, 2 a diagonal,
/// each at a random place, on noise. A convolution finds them; the pixels' means alone do not tell them apart.
/// </summary>
internal static class ImageBlobs
{
    public const int Classes = 3;

    public static (float[] Features, int Class)[] Make(int rows, ImageShape shape, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows).Select(n =>
        {
            int label = n % Classes;
            var image = new float[shape.Size];
            for (int i = 0; i < image.Length; i++)
                image[i] = (float)(0.3 * (random.NextDouble() - 0.5));
            int row = random.Next(1, shape.Height - 1), column = random.Next(1, shape.Width - 1);
            for (int c = 0; c < shape.Channels; c++)
            {
                var plane = image.AsSpan(c * shape.Spatial, shape.Spatial);
                for (int t = 0; t < Math.Min(shape.Height, shape.Width); t++)
                {
                    int h = label switch { 0 => row, 1 => t, _ => t }, w = label switch { 0 => t, 1 => column, _ => t };
                    plane[h * shape.Width + w] += 1;
                }
            }
            return (image, label);
        }).ToArray();
    }

    public static LabeledData Labeled(int rows, ImageShape shape, int seed) => MlpData.Labeled(Make(rows, shape, seed), Classes);
}
