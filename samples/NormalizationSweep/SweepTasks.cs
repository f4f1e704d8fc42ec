using Microsoft.ML;
using Microsoft.ML.Data;
using Samples.Common;

namespace NormalizationSweep;

/// <summary>One classification task of the sweep: cross-validation rows, held-out test rows and its normalizers.</summary>
/// <param name="Name">The task's command-line name: image or tabular.</param>
/// <param name="Description">What the data is, for the output.</param>
/// <param name="Train">The rows the pipelines are cross-validated on and the best one is refitted on.</param>
/// <param name="Test">Held-out rows for the best pipeline's final evaluation.</param>
/// <param name="TrainRows">Rows in <paramref name="Train"/>.</param>
/// <param name="TestRows">Rows in <paramref name="Test"/>.</param>
/// <param name="ClassNames">The class names, indexed by the Class column's value.</param>
/// <param name="Normalizers">The normalizers the grid tries on this task.</param>
/// <param name="MlpBatchSize">The MLP's mini-batch size: smaller for a small data set, so an epoch takes more than a few steps.</param>
internal sealed record SweepTask(
    string Name, string Description, IDataView Train, IDataView Test, int TrainRows, int TestRows,
    IReadOnlyList<string> ClassNames, IReadOnlyList<NormalizerKind> Normalizers, int MlpBatchSize)
{
    public const string Image = "image";
    public const string Tabular = "tabular";

    /// <summary>Every task, in the order the sweep runs them.</summary>
    public static IReadOnlyList<string> All { get; } = [Image, Tabular];

    public static SweepTask Load(MLContext ml, string name, SweepSettings settings)
        => name == Image ? LoadImage(ml, settings) : LoadTabular(ml, settings);

    /// <summary>
    /// Fashion-MNIST: the training split for cross-validation, the test split for the final evaluation. Pixels
    /// stay 0..255; the (1, 28, 28) shape tells NormalizeChannels the vector is one gray channel.
    /// </summary>
    private static SweepTask LoadImage(MLContext ml, SweepSettings settings)
    {
        var train = ImageRows(FashionMnist.Load(settings.ImageFolder, train: true), settings.TrainCount);
        var test = ImageRows(FashionMnist.Load(settings.ImageFolder, train: false), settings.TestCount);
        var missing = Enumerable.Range(0, FashionMnist.ClassNames.Count).Where(c => !train.Any(r => r.Class == c)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException(
                $"The {train.Count} training images have no {string.Join(", ", missing.Select(c => FashionMnist.ClassNames[c]))}; use more of them.");
        return new SweepTask(Image,
            $"Fashion-MNIST, {settings.ImageDataName}: {FashionMnist.PixelsPerImage} pixels (0..255) as a (1, {FashionMnist.ImageSide}, {FashionMnist.ImageSide}) vector",
            ml.Data.LoadFromEnumerable(train), ml.Data.LoadFromEnumerable(test), train.Count, test.Count,
            FashionMnist.ClassNames, [NormalizerKind.None, NormalizerKind.MeanVariance, NormalizerKind.NormalizeChannels],
            MlpBatchSize: 64);
    }

    private static List<ImageRow> ImageRows(FashionMnist split, int? limit)
        => Enumerable.Range(0, Math.Min(limit ?? split.Count, split.Count))
            .Select(i => new ImageRow { Features = Array.ConvertAll(split.Images[i], p => (float)p), Class = split.Labels[i] })
            .ToList();

    /// <summary>The wine data, split at random into about 80 % for cross-validation and 20 % held out.</summary>
    private static SweepTask LoadTabular(MLContext ml, SweepSettings settings)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "data", "wine", "wine.csv");
        if (!File.Exists(path))
            throw new FileNotFoundException($"The wine data '{path}' is missing; rebuild the sample, which copies it there.", path);
        var all = ml.Data.LoadFromTextFile<WineRow>(path, separatorChar: ',', hasHeader: true);
        var split = ml.Data.TrainTestSplit(all, testFraction: 0.2, seed: settings.Seed);
        // Materialized, so every fold and refit reads the same rows without re-parsing the file.
        var train = ml.Data.CreateEnumerable<WineRow>(split.TrainSet, reuseRowObject: false).ToList();
        var test = ml.Data.CreateEnumerable<WineRow>(split.TestSet, reuseRowObject: false).ToList();
        int features = WineRow.FeatureCount;
        return new SweepTask(Tabular,
            $"UCI Wine ({train.Count + test.Count} wines from 3 cultivators, {features} chemical measurements on scales from 0.1 to 1000+)",
            ml.Data.LoadFromEnumerable(train), ml.Data.LoadFromEnumerable(test), train.Count, test.Count,
            ["cultivar 0", "cultivar 1", "cultivar 2"], [NormalizerKind.None, NormalizerKind.MeanVariance, NormalizerKind.LayerNorm],
            MlpBatchSize: 16);
    }
}

/// <summary>One Fashion-MNIST image: its pixels and class 0..9.</summary>
internal sealed class ImageRow
{
    [VectorType(1, FashionMnist.ImageSide, FashionMnist.ImageSide)]
    public float[] Features { get; set; } = [];

    public uint Class { get; set; }
}

/// <summary>One line of samples/data/wine/wine.csv: 13 measurements, then the cultivar 0..2.</summary>
internal sealed class WineRow
{
    public const int FeatureCount = 13;

    [LoadColumn(0, FeatureCount - 1), VectorType(FeatureCount)]
    public float[] Features { get; set; } = [];

    [LoadColumn(FeatureCount)]
    public uint Class { get; set; }
}
