using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// ML.NET's NormalizeMeanVariance fitted on the <see cref="CursorBenchmarks"/> data, kept in
/// BenchmarkDotNet.Artifacts/fitted/ between runs. Microsoft.ML 5.0.1 fits it in time quadratic in the vector
/// length (its mean-variance aggregator rebuilds the whole standard-deviation array for every slot), which is
/// minutes for 150,528 slots, so the fitted model is made once and loaded by every benchmark case.
/// The fit's wall time is written next to it for the report.
/// </summary>
internal static class MeanVarianceModel
{
    private static string Directory => Path.Combine(Environment.CurrentDirectory, "BenchmarkDotNet.Artifacts", "fitted");
    private static string ModelPath => Path.Combine(Directory, $"meanvariance-{CursorBenchmarks.Rows}x{CursorBenchmarks.Length}-seed{CursorBenchmarks.Seed}.zip");
    private static string TimePath => Path.ChangeExtension(ModelPath, ".fit-seconds.txt");

    public static ITransformer LoadOrFit()
    {
        var ml = new MLContext(seed: 1);
        if (File.Exists(ModelPath))
        {
            Console.WriteLine($"NormalizeMeanVariance: using {ModelPath}");
            return ml.Model.Load(ModelPath, out _);
        }
        var data = CursorBenchmarks.MakeData(ml);
        Console.WriteLine($"NormalizeMeanVariance: fitting on {CursorBenchmarks.Rows} rows of {CursorBenchmarks.Length} slots (minutes with Microsoft.ML 5.0.1)...");
        var watch = Stopwatch.StartNew();
        var model = ml.Transforms.NormalizeMeanVariance(CursorBenchmarks.Output, CursorBenchmarks.Input).Fit(data);
        watch.Stop();
        Console.WriteLine($"NormalizeMeanVariance: fitted in {watch.Elapsed.TotalSeconds:F1} s; saved to {ModelPath}");
        System.IO.Directory.CreateDirectory(Directory);
        ml.Model.Save(model, data.Schema, ModelPath);
        File.WriteAllText(TimePath, watch.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture));
        return model;
    }
}
