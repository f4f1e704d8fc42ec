using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class ScalePixels
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

        // ZeroToOne: y = x / 255 (torchvision's ToTensor). MinusOneToOne: y = x / 127.5 - 1 (Keras' "tf" mode).
        var pipeline = mlContext.Transforms.ScalePixels("ZeroToOne", "Pixels", PixelRange.ZeroToOne)
            .Append(mlContext.Transforms.ScalePixels("MinusOneToOne", "Pixels", PixelRange.MinusOneToOne));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        float[] zeroToOne = transformed.GetColumn<float[]>("ZeroToOne").First();
        float[] minusOneToOne = transformed.GetColumn<float[]>("MinusOneToOne").First();
        Console.WriteLine($"ZeroToOne, red:     {Show(zeroToOne.Take(4))}");
        Console.WriteLine($"MinusOneToOne, red: {Show(minusOneToOne.Take(4))}");

        // Save the model, load it back and predict the first image.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<ImageData, ScaledImage>(loaded);
        var prediction = engine.Predict(images[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.ZeroToOne.SequenceEqual(zeroToOne) && prediction.MinusOneToOne.SequenceEqual(minusOneToOne)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first image, a (1, 3, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Pixels", new DenseTensor<float>(images[0].Pixels, [1, 3, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "MinusOneToOne.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, MinusOneToOne, red: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(minusOneToOne, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // ZeroToOne, red:     1.0000, 0.5020, 0.0000, 0.2510
        // MinusOneToOne, red: 1.0000, 0.0039, -1.0000, -0.4980
        // reloaded model predicts the same: True
        // ONNX Runtime, MinusOneToOne, red: 1.0000, 0.0039, -1.0000, -0.4980
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class ImageData
    {
        [VectorType(3, 2, 2)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class ScaledImage
    {
        [VectorType(3, 2, 2)]
        public float[] ZeroToOne { get; set; } = [];

        [VectorType(3, 2, 2)]
        public float[] MinusOneToOne { get; set; } = [];
    }
}
