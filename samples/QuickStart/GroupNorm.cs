using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class GroupNorm
{
    public static void Example()
    {
        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Two feature maps of 4 channels over 2 x 2 positions, channels first (4, 2, 2).
        var rows = new[]
        {
            new FeatureMapData { FeatureMap = [1, 2, 3, 4, /* channel 1 */ 5, 6, 7, 8, /* channel 2 */ -1, 0, 1, 2, /* channel 3 */ 10, 10, 20, 20] },
            new FeatureMapData { FeatureMap = [0, 0, 1, 1, /* channel 1 */ 2, 2, 3, 3, /* channel 2 */ 4, 3, 2, 1, /* channel 3 */ 0, -1, -2, -3] },
        };
        var data = mlContext.Data.LoadFromEnumerable(rows);

        // Each row's 4 channels split into 2 groups (channels 0-1 and 2-3), each normalized over its 2 x 4 values,
        // as PyTorch's GroupNorm(2, 4); then gamma and beta per channel, which also tell the channel count (the 4 in front).
        var pipeline = mlContext.Transforms.GroupNorm("Normalized", "FeatureMap", groups: 2, epsilon: 1e-5f, gamma: [1, 1, 2, 2], beta: [0, 0, 1, 1]);
        var model = pipeline.Fit(data);
        float[] normalized = model.Transform(data).GetColumn<float[]>("Normalized").First();
        Console.WriteLine($"group 0 (channels 0-1): {Show(normalized.Take(8))}");
        Console.WriteLine($"group 1 (channels 2-3): {Show(normalized.Skip(8))}");

        // Save the model, load it back and predict the first row.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<FeatureMapData, NormalizedFeatureMap>(loaded);
        var prediction = engine.Predict(rows[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.Normalized.SequenceEqual(normalized)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first row, a (1, 4, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("FeatureMap", new DenseTensor<float>(rows[0].FeatureMap, [1, 4, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Normalized.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, group 0: {Show(onnx.Take(8))}");
        double maxDifference = onnx.Zip(normalized, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // group 0 (channels 0-1): -1.5275, -1.0911, -0.6547, -0.2182, 0.2182, 0.6547, 1.0911, 1.5275
        // group 1 (channels 2-3): -1.1592, -0.9125, -0.6657, -0.4189, 1.5552, 1.5552, 4.0229, 4.0229
        // reloaded model predicts the same: True
        // ONNX Runtime, group 0: -1.5275, -1.0911, -0.6547, -0.2182, 0.2182, 0.6547, 1.0911, 1.5275
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class FeatureMapData
    {
        [VectorType(4, 2, 2)]
        public float[] FeatureMap { get; set; } = [];
    }

    private sealed class NormalizedFeatureMap
    {
        [VectorType(4, 2, 2)]
        public float[] Normalized { get; set; } = [];
    }
}
