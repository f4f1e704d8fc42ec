using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class InstanceNorm
{
    public static void Example()
    {
        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Two feature maps of 3 channels over 2 x 2 positions, channels first (3, 2, 2).
        var rows = new[]
        {
            new FeatureMapData { FeatureMap = [0.2f, 0.8f, 1.4f, 0.5f, /* channel 1 */ -0.6f, 0.3f, -1.2f, 0.9f, /* channel 2 */ 2.5f, 1.5f, 3.0f, 0.5f] },
            new FeatureMapData { FeatureMap = [1.0f, -0.4f, 0.6f, 0.1f, /* channel 1 */ 0.2f, -0.8f, 1.1f, -0.3f, /* channel 2 */ 0.0f, 2.0f, 4.0f, 1.0f] },
        };
        var data = mlContext.Data.LoadFromEnumerable(rows);

        // Each row's channels normalized on their own over their 4 positions, as PyTorch's InstanceNorm2d(3, affine=True),
        // then gamma and beta per channel. No fitting: the statistics come from each row alone.
        var pipeline = mlContext.Transforms.InstanceNorm("Normalized", "FeatureMap", epsilon: 1e-5f, gamma: [1, 2, 0.5f], beta: [0, 1, -1]);
        var model = pipeline.Fit(data);
        float[] normalized = model.Transform(data).GetColumn<float[]>("Normalized").First();
        Console.WriteLine($"channel 0: {Show(normalized.Take(4))}");
        Console.WriteLine($"channel 1: {Show(normalized.Skip(4).Take(4))}");

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
        // channel 0: -1.1832, 0.1690, 1.5212, -0.5071
        // channel 1: -0.1142, 2.1142, -1.5997, 3.5997
        // reloaded model predicts the same: True
        // ONNX Runtime, channel 0: -1.1832, 0.1690, 1.5212, -0.5071
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
