using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class LayerNorm
{
    public static void Example()
    {
        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Two sequences of 2 tokens with 4 features each, (2, 4).
        var rows = new[]
        {
            new SequenceData { Tokens = [1, 2, 3, 4, /* token 1 */ 10, 20, 30, 40] },
            new SequenceData { Tokens = [0.5f, -0.5f, 1.5f, 2.5f, /* token 1 */ -3, 0, 3, 6] },
        };
        var data = mlContext.Data.LoadFromEnumerable(rows);

        // WholeRow: each row normalized over all its 8 values, y = (x - mean) / sqrt(variance + epsilon).
        // PerToken: over the last dimension only, as PyTorch's LayerNorm(4) on (N, 2, 4), then gamma and beta per feature.
        var pipeline = mlContext.Transforms.LayerNorm("WholeRow", "Tokens")
            .Append(mlContext.Transforms.LayerNorm("PerToken", "Tokens", normalizedDimensions: 1, epsilon: 1e-5f,
                gamma: [1, 1, 2, 2], beta: [0, 0, 0.5f, 0.5f]));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        float[] wholeRow = transformed.GetColumn<float[]>("WholeRow").First();
        float[] perToken = transformed.GetColumn<float[]>("PerToken").First();
        Console.WriteLine($"WholeRow: {Show(wholeRow)}");
        Console.WriteLine($"PerToken: {Show(perToken)}");

        // Save the model, load it back and predict the first row.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<SequenceData, NormalizedSequence>(loaded);
        var prediction = engine.Predict(rows[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.WholeRow.SequenceEqual(wholeRow) && prediction.PerToken.SequenceEqual(perToken)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first row, a (1, 2, 4) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Tokens", new DenseTensor<float>(rows[0].Tokens, [1, 2, 4]))]);
        float[] onnx = results.First(r => r.Name == "PerToken.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, PerToken: {Show(onnx)}");
        double maxDifference = onnx.Zip(perToken, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // WholeRow: -0.9257, -0.8531, -0.7805, -0.7079, -0.2723, 0.4538, 1.1799, 1.9059
        // PerToken: -1.3416, -0.4472, 1.3944, 3.1833, -1.3416, -0.4472, 1.3944, 3.1833
        // reloaded model predicts the same: True
        // ONNX Runtime, PerToken: -1.3416, -0.4472, 1.3944, 3.1833, -1.3416, -0.4472, 1.3944, 3.1833
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class SequenceData
    {
        [VectorType(2, 4)]
        public float[] Tokens { get; set; } = [];
    }

    private sealed class NormalizedSequence
    {
        [VectorType(2, 4)]
        public float[] WholeRow { get; set; } = [];

        [VectorType(2, 4)]
        public float[] PerToken { get; set; } = [];
    }
}
