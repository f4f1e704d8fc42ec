using MLNet.Normalization.Training;
using Samples.Common;

namespace BatchNormExperiments;

/// <summary>The training and test splits as the trainer takes them: pixels / 255 as floats, one row per image.</summary>
internal sealed record ExperimentData(LabeledData Train, LabeledData Test)
{
    public static ExperimentData Load(ExperimentSettings settings)
    {
        var train = ToLabeledData(FashionMnist.Load(settings.DataFolder, train: true), settings.TrainCount);
        var test = ToLabeledData(FashionMnist.Load(settings.DataFolder, train: false), settings.TestCount);
        var missing = Enumerable.Range(0, FashionMnist.ClassNames.Count).Where(c => !train.Labels.Contains(c)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException(
                $"The {train.Rows} training images have no {string.Join(", ", missing.Select(c => FashionMnist.ClassNames[c]))}; use more of them.");
        return new ExperimentData(train, test);
    }

    /// <summary>The first <paramref name="limit"/> images (all when null), scaled to [0, 1].</summary>
    private static LabeledData ToLabeledData(FashionMnist split, int? limit)
    {
        int rows = Math.Min(limit ?? split.Count, split.Count);
        var features = new float[rows * FashionMnist.PixelsPerImage];
        var labels = new int[rows];
        for (int n = 0; n < rows; n++)
        {
            var image = split.Images[n];
            var row = features.AsSpan(n * FashionMnist.PixelsPerImage, FashionMnist.PixelsPerImage);
            for (int i = 0; i < row.Length; i++)
                row[i] = image[i] / 255f;
            labels[n] = split.Labels[n];
        }
        return new LabeledData(features, labels, FashionMnist.PixelsPerImage, FashionMnist.ClassNames.Count);
    }
}
