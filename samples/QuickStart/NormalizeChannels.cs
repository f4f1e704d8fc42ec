using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class NormalizeChannels
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

        // y = (x / 255 - mean[c]) / std[c], torchvision's Normalize after ToTensor: first with ImageNet's statistics,
        // then with statistics fitted from the data (statistics null: one streaming pass over the column).
        var pipeline = mlContext.Transforms.NormalizeChannels("ImageNet", "Pixels", ChannelStatistics.ImageNet)
            .Append(mlContext.Transforms.NormalizeChannels("Fitted", "Pixels"));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        ChannelStatistics fitted = model.LastTransformer.Statistics;
        Console.WriteLine($"fitted mean: {Show(fitted.Mean)}");
        Console.WriteLine($"fitted std:  {Show(fitted.Std)}");
        float[] imageNet = transformed.GetColumn<float[]>("ImageNet").First();
        float[] normalized = transformed.GetColumn<float[]>("Fitted").First();
        Console.WriteLine($"ImageNet, red: {Show(imageNet.Take(4))}");
        Console.WriteLine($"Fitted, red:   {Show(normalized.Take(4))}");

        // Save the model, load it back and predict the first image.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<ImageData, NormalizedImage>(loaded);
        var prediction = engine.Predict(images[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.ImageNet.SequenceEqual(imageNet) && prediction.Fitted.SequenceEqual(normalized)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first image, a (1, 3, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Pixels", new DenseTensor<float>(images[0].Pixels, [1, 3, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Fitted.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, Fitted, red: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(normalized, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // fitted mean: 0.2681, 0.4093, 0.4569
        // fitted std:  0.3134, 0.3054, 0.2058
        // ImageNet, red: 2.2489, 0.0741, -2.1179, -1.0219
        // Fitted, red:   2.3350, 0.7460, -0.8555, -0.0547
        // reloaded model predicts the same: True
        // ONNX Runtime, Fitted, red: 2.3350, 0.7460, -0.8555, -0.0547
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class ImageData
    {
        [VectorType(3, 2, 2)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class NormalizedImage
    {
        [VectorType(3, 2, 2)]
        public float[] ImageNet { get; set; } = [];

        [VectorType(3, 2, 2)]
        public float[] Fitted { get; set; } = [];
    }
}
