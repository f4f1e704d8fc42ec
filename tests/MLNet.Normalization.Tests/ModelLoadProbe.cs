using System.Globalization;
using Microsoft.ML;

namespace MLNet.Normalization.Tests;

/// <summary>Runs tests/ModelLoadProbe: a fresh process that has not loaded the library loads a saved model.</summary>
internal static class ModelLoadProbe
{
    /// <summary>Runs the probe with <paramref name="arguments"/> and returns its output lines; fails the test if it fails.</summary>
    public static string[] Run(params string[] arguments)
    {
        var (exitCode, stdout, stderr) = ChildProcess.Run("ModelLoadProbe", null, arguments);
        Assert.True(exitCode == 0, $"probe exited {exitCode}: {stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>
    /// Saves <paramref name="model"/> and <paramref name="data"/> to a temporary folder, has the probe load and score
    /// them, checks the library was loaded only by the model, and returns the probe's Score vectors, one per row.
    /// </summary>
    public static float[][] Scores(MLContext ml, ITransformer model, DataViewSchema trainSchema, IDataView data)
    {
        var folder = Directory.CreateTempSubdirectory("mlnet-normalization-probe-");
        try
        {
            string modelPath = Path.Combine(folder.FullName, "model.zip"), dataPath = Path.Combine(folder.FullName, "data.idv");
            ml.Model.Save(model, trainSchema, modelPath);
            using (var file = File.Create(dataPath))
                ml.Data.SaveAsBinary(data, file);

            var lines = Run(modelPath, dataPath, "Score");
            Assert.StartsWith("library-loaded-before-model: False; after: True", lines[0]);
            return lines.Skip(1).Select(l => l["Score: ".Length..].Split(' ').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Scores <paramref name="rows"/> through <paramref name="threads"/> prediction engines of <paramref name="model"/>,
    /// one per thread as a service's pool holds them, all starting together so their scoring overlaps; row i goes to
    /// engine i mod threads.
    /// </summary>
    public static async Task<float[][]> ScoresOnThreads<TRow, TPrediction>(MLContext ml, ITransformer model, TRow[] rows,
        Func<TPrediction, float[]> score, int threads = 4)
        where TRow : class
        where TPrediction : class, new()
    {
        var scores = new float[rows.Length][];
        using var start = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(part => Task.Factory.StartNew(() =>
        {
            var engine = ml.Model.CreatePredictionEngine<TRow, TPrediction>(model);
            start.SignalAndWait();
            for (int i = part; i < rows.Length; i += threads)
                scores[i] = score(engine.Predict(rows[i]));
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(workers);
        return scores;
    }
}
