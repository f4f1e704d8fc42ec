using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;
using MLNet.Normalization.Onnx;

namespace QuickStart;

public static class OnnxImport
{
    public static void Example()
    {
        // A torchvision ResNet-18 exported by PyTorch with its BatchNormalization nodes kept
        // (torch.onnx.export(..., training=TrainingMode.PRESERVE, do_constant_folding=False)).
        string onnxPath = Path.Combine(AppContext.BaseDirectory, "Data", "resnet18_bn.onnx");

        // Every normalization node of the file, in graph order.
        var nodes = OnnxNormalizationReader.ReadNodes(onnxPath);
        Console.WriteLine($"{nodes.Count} normalization nodes:");
        foreach (var node in nodes)
            Console.WriteLine($"  {node.Name}: {node.Operator}, {node.Channels} channels, epsilon {node.Epsilon}");

        // The first one's parameters, ready for the BatchNorm transform.
        BatchNormParameters parameters = OnnxNormalizationReader.ReadBatchNorm(onnxPath, "/bn1/BatchNormalization");
        Console.WriteLine($"/bn1/BatchNormalization, channels 0-2: mean {Show(parameters.RunningMean.Take(3))}; variance {Show(parameters.RunningVariance.Take(3))}");

        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Two feature maps as the first convolution writes them: 64 channels over 2 x 2 positions, (64, 2, 2).
        var rows = Enumerable.Range(0, 2)
            .Select(r => new FeatureMapData { FeatureMap = Enumerable.Range(0, 64 * 4).Select(i => MathF.Sin(i + 100 * r)).ToArray() })
            .ToArray();
        var data = mlContext.Data.LoadFromEnumerable(rows);

        var pipeline = mlContext.Transforms.BatchNorm("Normalized", "FeatureMap", parameters);
        var model = pipeline.Fit(data);
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

        // Export the transform to ONNX again and run it in ONNX Runtime on the first row, a (1, 64, 2, 2) tensor.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, data, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor("FeatureMap", new DenseTensor<float>(rows[0].FeatureMap, [1, 64, 2, 2]))]);
        float[] onnx = results.First(r => r.Name == "Normalized.output").AsTensor<float>().ToArray();
        Console.WriteLine($"ONNX Runtime, channel 0: {Show(onnx.Take(4))}");
        double maxDifference = onnx.Zip(normalized, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5}");

        // Expected output:
        // 20 normalization nodes:
        //   /bn1/BatchNormalization: BatchNormalization, 64 channels, epsilon 1E-05
        //   /layer1/layer1.0/bn1/BatchNormalization: BatchNormalization, 64 channels, epsilon 1E-05
        //   /layer1/layer1.0/bn2/BatchNormalization: BatchNormalization, 64 channels, epsilon 1E-05
        //   /layer1/layer1.1/bn1/BatchNormalization: BatchNormalization, 64 channels, epsilon 1E-05
        //   /layer1/layer1.1/bn2/BatchNormalization: BatchNormalization, 64 channels, epsilon 1E-05
        //   /layer2/layer2.0/bn1/BatchNormalization: BatchNormalization, 128 channels, epsilon 1E-05
        //   /layer2/layer2.0/bn2/BatchNormalization: BatchNormalization, 128 channels, epsilon 1E-05
        //   /layer2/layer2.0/downsample/downsample.1/BatchNormalization: BatchNormalization, 128 channels, epsilon 1E-05
        //   /layer2/layer2.1/bn1/BatchNormalization: BatchNormalization, 128 channels, epsilon 1E-05
        //   /layer2/layer2.1/bn2/BatchNormalization: BatchNormalization, 128 channels, epsilon 1E-05
        //   /layer3/layer3.0/bn1/BatchNormalization: BatchNormalization, 256 channels, epsilon 1E-05
        //   /layer3/layer3.0/bn2/BatchNormalization: BatchNormalization, 256 channels, epsilon 1E-05
        //   /layer3/layer3.0/downsample/downsample.1/BatchNormalization: BatchNormalization, 256 channels, epsilon 1E-05
        //   /layer3/layer3.1/bn1/BatchNormalization: BatchNormalization, 256 channels, epsilon 1E-05
        //   /layer3/layer3.1/bn2/BatchNormalization: BatchNormalization, 256 channels, epsilon 1E-05
        //   /layer4/layer4.0/bn1/BatchNormalization: BatchNormalization, 512 channels, epsilon 1E-05
        //   /layer4/layer4.0/bn2/BatchNormalization: BatchNormalization, 512 channels, epsilon 1E-05
        //   /layer4/layer4.0/downsample/downsample.1/BatchNormalization: BatchNormalization, 512 channels, epsilon 1E-05
        //   /layer4/layer4.1/bn1/BatchNormalization: BatchNormalization, 512 channels, epsilon 1E-05
        //   /layer4/layer4.1/bn2/BatchNormalization: BatchNormalization, 512 channels, epsilon 1E-05
        // /bn1/BatchNormalization, channels 0-2: mean -0.1666, -0.5263, -0.8981; variance 0.5779, 1.8068, 0.8315
        // Normalized, channel 0: -0.1891, 0.6985, 0.7700, -0.0403
        // reloaded model predicts the same: True
        // ONNX Runtime, channel 0: -0.1891, 0.6985, 0.7700, -0.0403
        // ONNX Runtime matches ML.NET: True
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class FeatureMapData
    {
        [VectorType(64, 2, 2)]
        public float[] FeatureMap { get; set; } = [];
    }

    private sealed class NormalizedFeatureMap
    {
        [VectorType(64, 2, 2)]
        public float[] Normalized { get; set; } = [];
    }
}
