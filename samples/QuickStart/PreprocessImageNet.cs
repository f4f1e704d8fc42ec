using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class PreprocessImageNet
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

        // Keras' imagenet_utils.preprocess_input in its three modes:
        // Torch: (x / 255 - ImageNet mean) / ImageNet std. Tf: x / 127.5 - 1. Caffe: RGB to BGR, minus 103.939, 116.779, 123.68.
        var pipeline = mlContext.Transforms.PreprocessImageNet("Torch", "Pixels", ImageNetPreprocessing.Torch)
            .Append(mlContext.Transforms.PreprocessImageNet("Tf", "Pixels", ImageNetPreprocessing.Tf))
            .Append(mlContext.Transforms.PreprocessImageNet("Caffe", "Pixels", ImageNetPreprocessing.Caffe));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        float[] torch = transformed.GetColumn<float[]>("Torch").First();
        float[] tf = transformed.GetColumn<float[]>("Tf").First();
        float[] caffe = transformed.GetColumn<float[]>("Caffe").First();
        Console.WriteLine($"Torch, red:          {Show(torch.Take(4))}");
        Console.WriteLine($"Tf, red:             {Show(tf.Take(4))}");
        Console.WriteLine($"Caffe, blue (first): {Show(caffe.Take(4))}");

        // Save the model, load it back and predict the first image.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<ImageData, PreprocessedImage>(loaded);
        var prediction = engine.Predict(images[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.Torch.SequenceEqual(torch) && prediction.Tf.SequenceEqual(tf) && prediction.Caffe.SequenceEqual(caffe)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first image, a (1, 3, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("Pixels", new DenseTensor<float>(images[0].Pixels, [1, 3, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Caffe.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, Caffe, blue: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(caffe, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // Torch, red:          2.2489, 0.0741, -2.1179, -1.0219
        // Tf, red:             1.0000, 0.0039, -1.0000, -0.4980
        // Caffe, blue (first): -71.9390, -7.9390, 56.0610, 120.0610
        // reloaded model predicts the same: True
        // ONNX Runtime, Caffe, blue: -71.9390, -7.9390, 56.0610, 120.0610
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class ImageData
    {
        [VectorType(3, 2, 2)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class PreprocessedImage
    {
        [VectorType(3, 2, 2)]
        public float[] Torch { get; set; } = [];

        [VectorType(3, 2, 2)]
        public float[] Tf { get; set; } = [];

        [VectorType(3, 2, 2)]
        public float[] Caffe { get; set; } = [];
    }
}
