using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class BatchNormFitted
{
    public static void Example()
    {
        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Eight feature maps of 3 channels over 2 x 2 positions, channels first (3, 2, 2); channel c has mean about 2c.
        var random = new Random(0);
        var rows = Enumerable.Range(0, 8)
            .Select(_ => new FeatureMapData { FeatureMap = Enumerable.Range(0, 12).Select(i => (float)(2 * (i / 4) + random.NextDouble())).ToArray() })
            .ToArray();
        var data = mlContext.Data.LoadFromEnumerable(rows);

        // Fits the running statistics as PyTorch's training mode does: mini-batches of 4 rows in data order, each
        // batch's mean and unbiased variance averaged in with momentum 0.1, starting from mean 0 and variance 1.
        var pipeline = mlContext.Transforms.BatchNorm("Normalized", "FeatureMap", new BatchNormOptions
        {
            FitMode = BatchNormFitMode.MovingAverage,
            BatchSize = 4,
            Momentum = 0.1,
            Epsilon = 1e-5f,
        });
        var model = pipeline.Fit(data);
        // Two batches with momentum 0.1 move the running mean only 19 % of the way from 0 to the data's, as in PyTorch.
        BatchNormParameters fitted = model.Parameters;
        Console.WriteLine($"running mean:     {Show(fitted.RunningMean)}");
        Console.WriteLine($"running variance: {Show(fitted.RunningVariance)}");

        // FitMode Exact: the exact mean and (unbiased) variance over all rows and positions, in one pass.
        var exact = mlContext.Transforms.BatchNorm("Normalized", "FeatureMap", new BatchNormOptions { FitMode = BatchNormFitMode.Exact }).Fit(data);
        Console.WriteLine($"exact mean:       {Show(exact.Parameters.RunningMean)}");
        Console.WriteLine($"exact variance:   {Show(exact.Parameters.RunningVariance)}");

        float[] normalized = model.Transform(data).GetColumn<float[]>("Normalized").First();
        Console.WriteLine($"Normalized, channel 0: {Show(normalized.Take(4))}");

        // Save the model, load it back and predict the first row.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<FeatureMapData, NormalizedFeatureMap>(loaded);
        var prediction = engine.Predict(rows[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.Normalized.SequenceEqual(normalized)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first row, a (1, 3, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("FeatureMap", new DenseTensor<float>(rows[0].FeatureMap, [1, 3, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Normalized.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, channel 0: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(normalized, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // running mean:     0.1112, 0.4816, 0.8716
        // running variance: 0.8253, 0.8265, 0.8248
        // exact mean:       0.5856, 2.5323, 4.5891
        // exact variance:   0.0783, 0.0854, 0.0771
        // Normalized, channel 0: 0.6771, 0.7773, 0.7230, 0.4920
        // reloaded model predicts the same: True
        // ONNX Runtime, channel 0: 0.6771, 0.7773, 0.7230, 0.4920
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class FeatureMapData
    {
        [VectorType(3, 2, 2)]
        public float[] FeatureMap { get; set; } = [];
    }

    private sealed class NormalizedFeatureMap
    {
        [VectorType(3, 2, 2)]
        public float[] Normalized { get; set; } = [];
    }
}
