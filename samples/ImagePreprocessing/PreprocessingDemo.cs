using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization;
using Samples.Common;

namespace ImagePreprocessing;

/// <summary>The sample's options, checked.</summary>
/// <param name="ImagesFolder">The user's image folder, or null to write Fashion-MNIST images.</param>
/// <param name="OutputFolder">The absolute output folder.</param>
/// <param name="Side">The side of the square the images are resized to.</param>
/// <param name="Count">The number of images.</param>
internal sealed record DemoSettings(string? ImagesFolder, string OutputFolder, int Side, int Count);

/// <summary>The sample's steps, each printing what it did.</summary>
internal static class PreprocessingDemo
{
    private const string ImageColumn = "Image";
    private const string PixelsColumn = "Pixels";
    private const string NormalizedColumn = nameof(NormalizedImage.Normalized);
    private const string RestoredColumn = "Restored";
    private const string ComparedColumn = "Compared";
    private const int FigureRows = 6;
    private const int ValuesShown = 6;

    /// <summary>Runs every step; returns the process exit code.</summary>
    public static int Run(DemoSettings settings)
    {
        Console.WriteLine($"Output folder: {settings.OutputFolder}");
        var paths = PrepareImages(settings);
        Directory.CreateDirectory(settings.OutputFolder);

        var ml = new MLContext(seed: 1);
        var data = ml.Data.LoadFromEnumerable(paths.Select(p => new ImageFile { Path = p }));
        var imageChain = ml.Transforms.LoadImages(ImageColumn, imageFolder: null, inputColumnName: nameof(ImageFile.Path))
            .Append(ml.Transforms.ResizeImages(ImageColumn, settings.Side, settings.Side))
            .Append(ml.Transforms.ExtractPixels(PixelsColumn, ImageColumn));
        Console.WriteLine($"Image chain: LoadImages -> ResizeImages({settings.Side}x{settings.Side}) -> ExtractPixels (planar RGB, 0..255) -> normalizer");
        Console.WriteLine();

        // NormalizeChannels without statistics fits them in one pass; this fitted chain is the model saved below.
        var model = imageChain.Append(ml.Transforms.NormalizeChannels(NormalizedColumn, PixelsColumn)).Fit(data);
        var statistics = model.LastTransformer.Statistics;
        PrintFittedStatistics(statistics);

        var transformed = model.Transform(data);
        var pixels = Read(transformed, PixelsColumn);
        var normalized = Read(transformed, NormalizedColumn);
        CompareNormalizers(ml, transformed, normalized, settings);

        bool predictionMatches = SaveReloadAndPredictOne(ml, model, data.Schema, paths[0], normalized[0], settings);

        var denormalizer = ml.Transforms.DenormalizeChannels(RestoredColumn, NormalizedColumn, statistics).Fit(transformed);
        var restored = Read(denormalizer.Transform(transformed), RestoredColumn);
        PrintRoundTripError(pixels, restored);

        DrawFigure(pixels, normalized, restored, settings);
        return predictionMatches ? 0 : 1;
    }

    private static IReadOnlyList<string> PrepareImages(DemoSettings settings)
    {
        if (settings.ImagesFolder is not null)
        {
            var files = SampleImages.FromFolder(settings.ImagesFolder, settings.Count);
            Console.WriteLine($"Images: {files.Count} file(s) from {Path.GetFullPath(settings.ImagesFolder)}");
            return files;
        }
        var subset = FashionMnist.FindEmbeddedSubset();
        var imagesFolder = Path.Combine(settings.OutputFolder, "images");
        var paths = SampleImages.WriteFashionMnist(FashionMnist.Load(subset, train: false), imagesFolder, settings.Count);
        Console.WriteLine($"Images: wrote {paths.Count} Fashion-MNIST test images (embedded subset {subset}), tinted per class, as RGB PNGs to {imagesFolder}");
        return paths;
    }

    private static void PrintFittedStatistics(ChannelStatistics statistics)
    {
        Console.WriteLine("Fitted statistics on the [0, 1] scale (x / 255), population std:");
        Console.WriteLine($"  mean  R {statistics.Mean[0]:F4}  G {statistics.Mean[1]:F4}  B {statistics.Mean[2]:F4}");
        Console.WriteLine($"  std   R {statistics.Std[0]:F4}  G {statistics.Std[1]:F4}  B {statistics.Std[2]:F4}");
        Console.WriteLine();
    }

    /// <summary>Prints the per-channel range, mean and std of each normalizer's output over all images.</summary>
    private static void CompareNormalizers(MLContext ml, IDataView transformed, float[][] fittedOutput, DemoSettings settings)
    {
        var outputs = new List<(string Name, string Channels, float[][] Rows)>
        {
            ("NormalizeChannels(ImageNet statistics)", "RGB", Apply(ml.Transforms.NormalizeChannels(ComparedColumn, PixelsColumn, ChannelStatistics.ImageNet))),
            ("NormalizeChannels(fitted statistics)", "RGB", fittedOutput),
        };
        foreach (var mode in new[] { ImageNetPreprocessing.Caffe, ImageNetPreprocessing.Tf, ImageNetPreprocessing.Torch })
            outputs.Add(($"PreprocessImageNet({mode})", mode == ImageNetPreprocessing.Caffe ? "BGR" : "RGB",
                Apply(ml.Transforms.PreprocessImageNet(ComparedColumn, PixelsColumn, mode))));

        Console.WriteLine($"Output per channel over {fittedOutput.Length} image(s) of {settings.Side}x{settings.Side}:");
        Console.WriteLine($"  {"pipeline",-40} {"ch",2} {"min",9} {"max",9} {"mean",9} {"std",9}");
        foreach (var (name, channels, rows) in outputs)
        {
            var summaries = ChannelSummary.OfPlanarRows(rows, channels: 3);
            for (int c = 0; c < 3; c++)
            {
                var s = summaries[c];
                Console.WriteLine($"  {(c == 0 ? name : ""),-40} {channels[c],2} {s.Min,9:F4} {s.Max,9:F4} {s.Mean,9:F4} {s.Std,9:F4}");
            }
        }
        Console.WriteLine("  (Caffe reorders to BGR and only subtracts the means, so it stays in pixel units.)");
        Console.WriteLine();

        float[][] Apply(IEstimator<ITransformer> normalizer) => Read(normalizer.Fit(transformed).Transform(transformed), ComparedColumn);
    }

    /// <summary>
    /// Saves the fitted chain, loads it in a new MLContext and predicts one image with a PredictionEngine;
    /// returns whether the prediction equals the batch transform's row exactly.
    /// </summary>
    private static bool SaveReloadAndPredictOne(MLContext ml, ITransformer model, DataViewSchema inputSchema, string imagePath,
        float[] batchRow, DemoSettings settings)
    {
        var modelPath = Path.Combine(settings.OutputFolder, "model.zip");
        ml.Model.Save(model, inputSchema, modelPath);
        Console.WriteLine($"Saved the fitted chain (LoadImages -> ResizeImages -> ExtractPixels -> NormalizeChannels) to {modelPath}");

        var freshContext = new MLContext(seed: 2);
        var loaded = freshContext.Model.Load(modelPath, out _);
        using var engine = freshContext.Model.CreatePredictionEngine<ImageFile, NormalizedImage>(loaded,
            ignoreMissingColumns: true, inputSchemaDefinition: null, outputSchemaDefinition: NormalizedImage.Schema(settings.Side));
        var predicted = engine.Predict(new ImageFile { Path = imagePath }).Normalized;

        bool identical = predicted.AsSpan().SequenceEqual(batchRow);
        // The first values of the image centre: the image's very first values are background.
        int centre = settings.Side / 2, firstColumn = Math.Max(0, centre - ValuesShown / 2), start = centre * settings.Side + firstColumn;
        string where = $"R[y={centre}, x={firstColumn}..]";
        Console.WriteLine($"Reloaded it in a new MLContext and predicted {Path.GetFileName(imagePath)} with a PredictionEngine:");
        Console.WriteLine($"  prediction {where}: {FormatValues(predicted, start)}");
        Console.WriteLine($"  batch row  {where}: {FormatValues(batchRow, start)}");
        Console.WriteLine(identical
            ? $"  all {predicted.Length} values equal the batch transform's"
            : $"  MISMATCH: the prediction differs from the batch transform (max abs difference {MaxAbsDifference(predicted, batchRow):G4})");
        Console.WriteLine();
        return identical;
    }

    private static void PrintRoundTripError(float[][] pixels, float[][] restored)
    {
        float maxError = 0;
        for (int row = 0; row < pixels.Length; row++)
            maxError = Math.Max(maxError, MaxAbsDifference(pixels[row], restored[row]));
        Console.WriteLine($"Round trip: DenormalizeChannels(fitted statistics) restores the pixels with max abs error {maxError:G4} (pixel units, 0..255)");
    }

    private static void DrawFigure(float[][] pixels, float[][] normalized, float[][] restored, DemoSettings settings)
    {
        int rows = Math.Min(FigureRows, pixels.Length);
        var shown = normalized.Take(rows).SelectMany(r => r).ToArray();
        float black = shown.Min(), white = shown.Max();
        var figure = new PreprocessingFigure(settings.Side, rows, black, white);
        for (int row = 0; row < rows; row++)
            figure.DrawRow(row, pixels[row], normalized[row], restored[row]);
        var path = Path.Combine(settings.OutputFolder, "preprocessing.png");
        figure.Save(path);
        Console.WriteLine($"Figure: {path}");
        Console.WriteLine($"  one row per image ({rows}): resized original | normalized R, G, B as gray, black {black:F2} to white {white:F2} | denormalized");
    }

    private static float[][] Read(IDataView data, string column) => data.GetColumn<float[]>(column).ToArray();

    private static float MaxAbsDifference(float[] a, float[] b)
    {
        float max = 0;
        for (int i = 0; i < a.Length; i++)
            max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }

    private static string FormatValues(float[] values, int start)
        => string.Join(", ", values.Skip(start).Take(ValuesShown).Select(v => v.ToString("F5")));
}
