using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;

namespace QuickStart;

public static class BatchNorm
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

        // A trained layer's inference parameters, one value per channel:
        // y = gamma[c] * (x - runningMean[c]) / sqrt(runningVariance[c] + epsilon) + beta[c].
        float[] runningMean = [0.5f, -0.2f, 1.0f], runningVariance = [0.25f, 1.0f, 4.0f], gamma = [1.0f, 0.5f, 2.0f], beta = [0.0f, 0.1f, -0.5f];
        // PyTorch's BatchNorm2d: running_mean, running_var, weight, bias, eps (1e-5 by default).
        var fromTorch = new BatchNormParameters(runningMean, runningVariance, gamma, beta, epsilon: 1e-5f);
        // Keras' BatchNormalization: moving_mean, moving_variance, gamma, beta; its default epsilon is 1e-3.
        // (Keras models are usually channels last: pass ChannelLayout.ChannelsLast for an (H, W, C) column.)
        var fromKeras = BatchNormParameters.FromKeras(runningMean, runningVariance, gamma, beta);
        // ONNX's BatchNormalization: its inputs scale, B, input_mean, input_var and its epsilon attribute (1e-5 by default).
        var fromOnnx = BatchNormParameters.FromOnnx(gamma, beta, runningMean, runningVariance);

        var pipeline = mlContext.Transforms.BatchNorm("Torch", "FeatureMap", fromTorch)
            .Append(mlContext.Transforms.BatchNorm("Keras", "FeatureMap", fromKeras))
            .Append(mlContext.Transforms.BatchNorm("Onnx", "FeatureMap", fromOnnx));
        var model = pipeline.Fit(data);
        var transformed = model.Transform(data);

        float[] torch = transformed.GetColumn<float[]>("Torch").First();
        float[] keras = transformed.GetColumn<float[]>("Keras").First();
        float[] onnxParameters = transformed.GetColumn<float[]>("Onnx").First();
        Console.WriteLine($"Torch, channel 0: {Show(torch.Take(4))}");
        Console.WriteLine($"Keras, channel 0: {Show(keras.Take(4))}");
        Console.WriteLine($"Onnx, channel 0:  {Show(onnxParameters.Take(4))}");
        Console.WriteLine($"PyTorch and ONNX parameters give the same output: {torch.SequenceEqual(onnxParameters)}");

        // Save the model, load it back and predict the first row.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, data.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<FeatureMapData, NormalizedFeatureMap>(loaded);
        var prediction = engine.Predict(rows[0]);
        Console.WriteLine($"reloaded model predicts the same: {prediction.Torch.SequenceEqual(torch) && prediction.Keras.SequenceEqual(keras)}");
        File.Delete(modelPath);

        // Export to ONNX and run the graph in ONNX Runtime on the first row, a (1, 3, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("FeatureMap", new DenseTensor<float>(rows[0].FeatureMap, [1, 3, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Torch.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, Torch, channel 0: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(torch, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // Torch, channel 0: -0.6000, 0.6000, 1.8000, 0.0000
        // Keras, channel 0: -0.5988, 0.5988, 1.7964, 0.0000
        // Onnx, channel 0:  -0.6000, 0.6000, 1.8000, 0.0000
        // PyTorch and ONNX parameters give the same output: True
        // reloaded model predicts the same: True
        // ONNX Runtime, Torch, channel 0: -0.6000, 0.6000, 1.8000, 0.0000
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
        public float[] Torch { get; set; } = [];

        [VectorType(3, 2, 2)]
        public float[] Keras { get; set; } = [];
    }
}
