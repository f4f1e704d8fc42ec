using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class DenormalizeChannels
{
    public static void Example()
    {
        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Two RGB images of 2 x 2 pixels, channels first (3, 2, 2) as ExtractPixels writes them, values 0..255.
        var images = new[]
        {
            new ImageData { Pixels = [255, 128, 0, 64, /* green */ 0, 128, 255, 192, /* blue */ 32, 96, 160, 224] },
            new ImageData { Pixels = [10, 20, 30, 40, /* green */ 50, 60, 70, 80, /* blue */ 90, 100, 110, 120] },
        };
        var data = mlContext.Data.LoadFromEnumerable(images);

        // Normalize with ImageNet's statistics, then undo it: x = (y * std[c] + mean[c]) * 255, back to pixel values
        // (to show a normalized image, or a model's image output). For fitted statistics pass the fitted transformer's Statistics.
        var pipeline = mlContext.Transforms.NormalizeChannels("Normalized", "Pixels", ChannelStatistics.ImageNet)
            .Append(mlContext.Transforms.DenormalizeChannels("Restored", "Normalized", ChannelStatistics.ImageNet));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        float[] normalized = transformed.GetColumn<float[]>("Normalized").First();
        float[] restored = transformed.GetColumn<float[]>("Restored").First();
        Console.WriteLine($"Normalized, red: {Show(normalized.Take(4))}");
        Console.WriteLine($"Restored, red:   {Show(restored.Take(4))}");

        // Save the model, load it back and predict the first image.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<ImageData, RestoredImage>(loaded);
        var prediction = engine.Predict(images[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.Restored.SequenceEqual(restored)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first image, a (1, 3, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Pixels", new DenseTensor<float>(images[0].Pixels, [1, 3, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Restored.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, Restored, red: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(restored, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // Normalized, red: 2.2489, 0.0741, -2.1179, -1.0219
        // Restored, red:   255.0000, 128.0000, 0.0000, 64.0000
        // reloaded model predicts the same: True
        // ONNX Runtime, Restored, red: 255.0000, 128.0000, 0.0000, 64.0000
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class ImageData
    {
        [VectorType(3, 2, 2)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class RestoredImage
    {
        [VectorType(3, 2, 2)]
        public float[] Restored { get; set; } = [];
    }
}
