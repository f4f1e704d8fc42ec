using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class DenormalizeImageNet
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

        // Keras' "caffe" preprocessing (RGB to BGR, minus the ImageNet means), then its inverse with the same mode:
        // back to RGB values 0..255, the channels in RGB order again.
        var pipeline = mlContext.Transforms.PreprocessImageNet("Preprocessed", "Pixels", ImageNetPreprocessing.Caffe)
            .Append(mlContext.Transforms.DenormalizeImageNet("Restored", "Preprocessed", ImageNetPreprocessing.Caffe));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        float[] preprocessed = transformed.GetColumn<float[]>("Preprocessed").First();
        float[] restored = transformed.GetColumn<float[]>("Restored").First();
        Console.WriteLine($"Preprocessed, blue (first): {Show(preprocessed.Take(4))}");
        Console.WriteLine($"Restored, red (first):      {Show(restored.Take(4))}");

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
        // Preprocessed, blue (first): -71.9390, -7.9390, 56.0610, 120.0610
        // Restored, red (first):      255.0000, 128.0000, 0.0000, 64.0000
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
