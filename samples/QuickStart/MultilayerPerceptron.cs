using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLNet.Normalization;
using MLNet.Normalization.Training;

namespace QuickStart;

public static class MultilayerPerceptron
{
    public static void Example()
    {
        // Create a new ML context for ML.NET operations; the seed makes every run the same.
        var mlContext = new MLContext(seed: 0);

        // Three classes of 4 features each: class k has its feature k raised.
        var trainingData = mlContext.Data.LoadFromEnumerable(GenerateData(60, seed: 1));
        var testRows = GenerateData(30, seed: 2).ToArray();
        var testData = mlContext.Data.LoadFromEnumerable(testRows);

        // Labels to keys, the multilayer perceptron (Linear -> BatchNorm -> ReLU -> Linear, trained with SGD), keys back to labels.
        var pipeline = mlContext.Transforms.Conversion.MapValueToKey("Label")
            .Append(mlContext.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
            {
                HiddenLayers = [16],
                Normalization = HiddenNormalization.BatchNorm,
                BatchSize = 10,
                Epochs = 4,
                LearningRate = 0.05,
                Momentum = 0.9,
                Seed = 1,
                EpochCompleted = report => Console.WriteLine($"epoch {report.Epoch}: loss {report.Loss:F4}, training accuracy {report.TrainAccuracy:F4}"),
            }))
            .Append(mlContext.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var model = pipeline.Fit(trainingData);

        var predictions = model.Transform(testData);
        var metrics = mlContext.MulticlassClassification.Evaluate(predictions);
        Console.WriteLine($"test micro-accuracy: {metrics.MicroAccuracy:F4}, log-loss: {metrics.LogLoss:F4}");
        float[] scores = predictions.GetColumn<float[]>("Score").First();
        Console.WriteLine($"first test row: label {testRows[0].Label}, scores {Show(scores)}");

        // Save the model, load it back and predict the first test row. The saved model holds the BatchNorm layer
        // folded into the Linear layer before it.
        string modelPath = Path.GetTempFileName();
        mlContext.Model.Save(model, trainingData.Schema, modelPath);
        var loaded = mlContext.Model.Load(modelPath, out _);
        var engine = mlContext.Model.CreatePredictionEngine<DataPoint, Prediction>(loaded);
        var prediction = engine.Predict(testRows[0]);
        Console.WriteLine($"predicted label: {prediction.PredictedLabel}");
        Console.WriteLine($"reloaded model predicts the same: {prediction.Score.SequenceEqual(scores)}");
        File.Delete(modelPath);

        // Export the whole pipeline to ONNX and run it in ONNX Runtime on the first test row. The graph has the
        // label as an input too (MapValueToKey reads it), though the scores do not depend on it.
        using var onnxModel = new MemoryStream();
        mlContext.Model.ConvertToOnnx(model, trainingData, onnxModel);
        using var session = new InferenceSession(onnxModel.ToArray());
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("Features", new DenseTensor<float>(testRows[0].Features, [1, 4])),
            NamedOnnxValue.CreateFromTensor("Label", new DenseTensor<string>(new[] { testRows[0].Label }, [1, 1])),
        ]);
        float[] onnx = results.First(r => r.Name == "Score.output").AsTensor<float>().ToArray();
        string onnxLabel = results.First(r => r.Name == "PredictedLabel.output").AsTensor<string>().First();
        Console.WriteLine($"ONNX Runtime: label {onnxLabel}, scores {Show(onnx)}");
        double maxDifference = onnx.Zip(scores, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"ONNX Runtime matches ML.NET: {maxDifference <= 1e-5 && onnxLabel == prediction.PredictedLabel}");

        // Expected output:
        // epoch 1: loss 0.8190, training accuracy 0.7000
        // epoch 2: loss 0.2693, training accuracy 0.9667
        // epoch 3: loss 0.1473, training accuracy 0.9500
        // epoch 4: loss 0.0297, training accuracy 1.0000
        // test micro-accuracy: 1.0000, log-loss: 0.0054
        // first test row: label CC, scores 0.0002, 0.0001, 0.9998
        // predicted label: CC
        // reloaded model predicts the same: True
        // ONNX Runtime: label CC, scores 0.0002, 0.0001, 0.9998
        // ONNX Runtime matches ML.NET: True
    }

    private static IEnumerable<DataPoint> GenerateData(int count, int seed)
    {
        var random = new Random(seed);
        string[] labels = ["AA", "BB", "CC"];
        for (int i = 0; i < count; i++)
        {
            int label = random.Next(3);
            var features = Enumerable.Range(0, 4).Select(j => (float)(random.NextDouble() + (j == label ? 2 : 0))).ToArray();
            yield return new DataPoint { Label = labels[label], Features = features };
        }
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));

    private sealed class DataPoint
    {
        public string Label { get; set; } = "";

        [VectorType(4)]
        public float[] Features { get; set; } = [];
    }

    private sealed class Prediction
    {
        public string PredictedLabel { get; set; } = "";

        public float[] Score { get; set; } = [];
    }
}
