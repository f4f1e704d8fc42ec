using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>
/// A network's forward pass written out in double from its layers' parameters, with the papers' formulas, for expected
/// values that do not come from the code under test: Linear y = W x + b (W row-major (out, in)); ReLU; batch norm
/// (Ioffe &amp; Szegedy 2015) and noisy batch norm at inference γ (x − μ) / √(σ² + ε) + β with the running mean and
/// variance, in training with the batch mean and biased variance; batch renorm at inference (Ioffe 2017)
/// γ (x − μ) / σ + β with the moving mean and std; ℓp batch norm (Santurkar et al. 2018) γ (x − μ) / (s + ε) + β with
/// the running mean and magnitude; layer norm over each row with elementwise γ, β; group norm (Wu &amp; He 2018) over
/// each row's G groups of C / G consecutive channels with per-channel γ, β.
/// </summary>
internal static class NetworkReference
{
    /// <summary>The network's output for <paramref name="rows"/> rows in inference mode.</summary>
    public static double[] Inference(Sequential network, ReadOnlySpan<float> input, int rows)
        => Forward(network, input, rows, training: false);

    /// <summary>
    /// The network's output in training mode, for networks whose only normalization is plain batch norm (batch
    /// statistics: the batch mean and biased variance of each channel).
    /// </summary>
    public static double[] TrainingForward(Sequential network, ReadOnlySpan<float> input, int rows)
        => Forward(network, input, rows, training: true);

    private static double[] Forward(Sequential network, ReadOnlySpan<float> input, int rows, bool training)
    {
        var x = input.ToArray().Select(v => (double)v).ToArray();
        foreach (var layer in network.Layers)
            x = layer switch
            {
                LinearLayer linear => Linear(linear, x, rows),
                ReluLayer => x.Select(v => Math.Max(0, v)).ToArray(),
                BatchNormLayer bn when training && bn.GetType() == typeof(BatchNormLayer) => BatchStatistics(bn, x, rows),
                NormalizationLayer when training => throw new NotSupportedException($"no training reference for {layer.GetType().Name}"),
                // Noisy batch norm is a BatchNormLayer: at inference it is plain batch norm.
                BatchNormLayer bn => PerChannel(bn, x, rows, c => (bn.RunningMean[c], Math.Sqrt((double)bn.RunningVariance[c] + bn.Epsilon))),
                BatchRenormLayer renorm => PerChannel(renorm, x, rows, c => (renorm.MovingMean[c], renorm.MovingStd[c])),
                LpBatchNormLayer lp => PerChannel(lp, x, rows, c => (lp.RunningMean[c], (double)lp.RunningScale[c] + lp.Epsilon)),
                LayerNormLayer ln => Groups(ln, x, rows, groups: 1, elementwiseAffine: true),
                GroupNormLayer gn => Groups(gn, x, rows, gn.Groups, elementwiseAffine: false),
                _ => throw new NotSupportedException($"no reference for {layer.GetType().Name}"),
            };
        return x;
    }

    private static double[] Linear(LinearLayer linear, double[] x, int rows)
    {
        int inputs = linear.InputFeatures, outputs = linear.OutputFeatures;
        var y = new double[rows * outputs];
        for (int n = 0; n < rows; n++)
            for (int o = 0; o < outputs; o++)
            {
                double sum = linear.Bias[o];
                for (int i = 0; i < inputs; i++)
                    sum += (double)linear.Weight[o * inputs + i] * x[n * inputs + i];
                y[n * outputs + o] = sum;
            }
        return y;
    }

    /// <summary>y = γ (x − center) / divisor + β per channel; a row holds C channels of S values each.</summary>
    private static double[] PerChannel(NormalizationLayer layer, double[] x, int rows, Func<int, (double Center, double Divisor)> statistics)
    {
        int s = layer.SpatialSize, features = layer.Features;
        var y = new double[x.Length];
        for (int c = 0; c < layer.Channels; c++)
        {
            var (center, divisor) = statistics(c);
            for (int n = 0; n < rows; n++)
                for (int i = c * s; i < (c + 1) * s; i++)
                    y[n * features + i] = layer.Gamma[c] * (x[n * features + i] - center) / divisor + layer.Beta[c];
        }
        return y;
    }

    private static double[] BatchStatistics(BatchNormLayer layer, double[] x, int rows)
    {
        int s = layer.SpatialSize, features = layer.Features;
        return PerChannel(layer, x, rows, c =>
        {
            var values = Enumerable.Range(0, rows).SelectMany(n => Enumerable.Range(c * s, s).Select(i => x[n * features + i])).ToArray();
            double mean = values.Average();
            double variance = values.Sum(v => (v - mean) * (v - mean)) / values.Length;
            return (mean, Math.Sqrt(variance + layer.Epsilon));
        });
    }

    /// <summary>Each row's values split into <paramref name="groups"/> consecutive parts, each standardized with its biased variance.</summary>
    private static double[] Groups(GroupNormLayer layer, double[] x, int rows, int groups, bool elementwiseAffine)
    {
        int features = layer.Features, length = features / groups, s = layer.SpatialSize;
        var y = new double[x.Length];
        for (int n = 0; n < rows; n++)
            for (int g = 0; g < groups; g++)
            {
                var values = x.AsSpan(n * features + g * length, length).ToArray();
                double mean = values.Average();
                double variance = values.Sum(v => (v - mean) * (v - mean)) / length;
                for (int k = 0; k < length; k++)
                {
                    int i = g * length + k, a = elementwiseAffine ? i : i / s;
                    y[n * features + i] = layer.Gamma[a] * (values[k] - mean) / Math.Sqrt(variance + layer.Epsilon) + layer.Beta[a];
                }
            }
        return y;
    }

    /// <summary>The mean softmax cross-entropy −(1/N) Σ log softmax(z_n)[label_n], with log-sum-exp shifted by the row's maximum.</summary>
    public static double CrossEntropy(double[] logits, ReadOnlySpan<int> labels, int classes)
    {
        double loss = 0;
        for (int n = 0; n < labels.Length; n++)
        {
            var z = logits.AsSpan(n * classes, classes);
            double max = z.ToArray().Max();
            double logSum = max + Math.Log(z.ToArray().Sum(v => Math.Exp(v - max)));
            loss += logSum - z[labels[n]];
        }
        return loss / labels.Length;
    }

    /// <summary>dL/dz of <see cref="CrossEntropy"/> summed over the rows: Σ_n (softmax(z_n) − onehot(label_n)) / N, the last Linear layer's bias gradient.</summary>
    public static double[] CrossEntropyGradientSum(double[] logits, ReadOnlySpan<int> labels, int classes)
    {
        var sum = new double[classes];
        for (int n = 0; n < labels.Length; n++)
        {
            var z = logits.AsSpan(n * classes, classes).ToArray();
            double max = z.Max(), total = z.Sum(v => Math.Exp(v - max));
            for (int k = 0; k < classes; k++)
                sum[k] += (Math.Exp(z[k] - max) / total - (k == labels[n] ? 1 : 0)) / labels.Length;
        }
        return sum;
    }

    /// <summary>
    /// Rows whose largest reference logit is the label, and rows whose two largest reference logits are within
    /// <paramref name="margin"/> (their float argmax may differ from the double one).
    /// </summary>
    public static (int Correct, int Ambiguous) Argmax(double[] logits, ReadOnlySpan<int> labels, int classes, double margin = 1e-4)
    {
        int correct = 0, ambiguous = 0;
        for (int n = 0; n < labels.Length; n++)
        {
            var z = logits.AsSpan(n * classes, classes).ToArray();
            int best = Array.IndexOf(z, z.Max());
            if (best == labels[n])
                correct++;
            if (z.Where((_, k) => k != best).Any(v => z[best] - v < margin * (1 + Math.Abs(z[best]))))
                ambiguous++;
        }
        return (correct, ambiguous);
    }
}
