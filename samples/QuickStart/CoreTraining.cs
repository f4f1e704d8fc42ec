using MLNet.Normalization.Training;

namespace QuickStart;

public static class CoreTraining
{
    public static void Example()
    {
        // The same multilayer perceptron from the MLNet.Normalization.Core package alone, without ML.NET:
        // in-memory rows (row-major features, labels 0..2), three classes of 4 features each.
        var training = GenerateData(60, seed: 1);
        var test = GenerateData(30, seed: 2);

        var run = MultilayerPerceptronTraining.Train(training, new MultilayerPerceptronOptions
        {
            HiddenLayers = [16],
            Normalization = HiddenNormalization.BatchNorm,
            BatchSize = 10,
            Epochs = 4,
            LearningRate = 0.05,
            Momentum = 0.9,
            Seed = 1,
            EpochCompleted = report => Console.WriteLine($"epoch {report.Epoch}: loss {report.Loss:F4}, training accuracy {report.TrainAccuracy:F4}"),
        });
        Console.WriteLine($"test accuracy: {run.Accuracy(test):F4}");
        Console.WriteLine($"network: {string.Join(" -> ", run.Network.Layers.Select(layer => layer.GetType().Name))}");

        // Fold BatchNorm into the Linear layer before it for inference, write the network to a file and read it back.
        Sequential folded = run.Network.Fold();
        Console.WriteLine($"folded:  {string.Join(" -> ", folded.Layers.Select(layer => layer.GetType().Name))}");
        string path = Path.GetTempFileName();
        using (var writer = new BinaryWriter(File.Create(path)))
            NetworkFormat.Write(writer, folded);
        Sequential reloaded;
        using (var reader = new BinaryReader(File.OpenRead(path)))
            reloaded = NetworkFormat.Read(reader);
        File.Delete(path);

        // Class scores (logits) of the test rows, from the trained network and from the one read back.
        var scores = new float[test.Rows * test.Classes];
        run.Score(test.Features, test.Rows, scores);
        float[] reloadedScores = reloaded.Forward(test.Features, test.Rows, training: false).ToArray();
        Console.WriteLine($"first test row: label {test.Labels[0]}, scores {Show(scores.Take(3))}");
        double maxDifference = reloadedScores.Zip(scores, (a, b) => Math.Abs(a - b) / Math.Max(1, Math.Abs(b))).Max();
        Console.WriteLine($"reloaded model predicts the same: {maxDifference <= 1e-5}");

        // Expected output:
        // epoch 1: loss 0.8190, training accuracy 0.7000
        // epoch 2: loss 0.2693, training accuracy 0.9667
        // epoch 3: loss 0.1473, training accuracy 0.9500
        // epoch 4: loss 0.0297, training accuracy 1.0000
        // test accuracy: 1.0000
        // network: LinearLayer -> BatchNormLayer -> ReluLayer -> LinearLayer
        // folded:  LinearLayer -> ReluLayer -> LinearLayer
        // first test row: label 2, scores -2.5337, -3.7022, 6.0975
        // reloaded model predicts the same: True
    }

    private static LabeledData GenerateData(int count, int seed)
    {
        var random = new Random(seed);
        var features = new float[count * 4];
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            labels[i] = random.Next(3);
            for (int j = 0; j < 4; j++)
                features[i * 4 + j] = (float)(random.NextDouble() + (j == labels[i] ? 2 : 0));
        }
        return new LabeledData(features, labels, FeatureCount: 4, Classes: 3);
    }

    private static string Show(IEnumerable<float> values) => string.Join(", ", values.Select(v => v.ToString("F4")));
}
