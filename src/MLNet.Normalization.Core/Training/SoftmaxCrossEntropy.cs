namespace MLNet.Normalization.Training;

/// <summary>
/// The mean softmax cross-entropy of a batch of logits, as <c>torch.nn.CrossEntropyLoss</c>:
/// L = −(1/N) Σ log softmax(z_n)[label_n], with dL/dz = (softmax(z) − onehot(label)) / N.
/// </summary>
public static class SoftmaxCrossEntropy
{
    /// <summary>
    /// Returns the mean loss and writes dL/dlogits into <paramref name="logitsGradient"/>; counts the rows whose
    /// largest logit is the label into <paramref name="correct"/>.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, int classes, Span<float> logitsGradient, out int correct)
    {
        int rows = labels.Length;
        if (classes <= 0 || logits.Length != rows * classes || logitsGradient.Length != logits.Length)
            throw new ArgumentException($"Expected {rows} rows of {classes} logits and gradients, got {logits.Length} and {logitsGradient.Length}.");
        double loss = 0;
        correct = 0;
        for (int n = 0; n < rows; n++)
        {
            int label = labels[n];
            if ((uint)label >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), label, $"Label {label} of row {n} is not a class in 0..{classes - 1}.");
            var z = logits.Slice(n * classes, classes);
            var gradient = logitsGradient.Slice(n * classes, classes);
            double logSum = LogSumExp(z, out int argMax);
            loss += logSum - z[label];
            for (int k = 0; k < classes; k++)
                gradient[k] = (float)((Math.Exp(z[k] - logSum) - (k == label ? 1 : 0)) / rows);
            if (argMax == label)
                correct++;
        }
        return loss / rows;
    }

    /// <summary>probabilities = softmax(logits) = exp(z − log Σ exp z), in double; spans of equal length.</summary>
    public static void Probabilities(ReadOnlySpan<float> logits, Span<float> probabilities)
    {
        if (logits.IsEmpty || probabilities.Length != logits.Length)
            throw new ArgumentException($"Expected as many probabilities as logits (at least one), got {probabilities.Length} and {logits.Length}.");
        double logSum = LogSumExp(logits, out _);
        for (int k = 0; k < logits.Length; k++)
            probabilities[k] = (float)Math.Exp(logits[k] - logSum);
    }

    /// <summary>log Σ exp z, shifted by max z so no exponent overflows; <paramref name="argMax"/> is the first largest logit.</summary>
    private static double LogSumExp(ReadOnlySpan<float> z, out int argMax)
    {
        argMax = 0;
        float max = z[0];
        for (int k = 1; k < z.Length; k++)
            if (z[k] > max)
                (max, argMax) = (z[k], k);
        double sum = 0;
        foreach (float value in z)
            sum += Math.Exp(value - max);
        return Math.Log(sum) + max;
    }
}
