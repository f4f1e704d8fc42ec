using System.Numerics.Tensors;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.BatchNormalization;

/// <summary>
/// Batch normalization over an (N, C, S) batch, PyTorch semantics: per channel c, statistics over the N · S values,
/// y = γ[c] (x − μ[c]) / √(σ²[c] + ε) + β[c] with the biased variance σ² and ε inside the square root.
/// Statistics accumulate in double. The caller owns every buffer, so a training loop allocates nothing per step.
/// </summary>
internal static class BatchNormKernel
{
    /// <summary>Per-channel mean and biased variance over rows and spatial positions, two passes in double.</summary>
    public static void Moments(ReadOnlySpan<float> x, NcsShape shape, Span<double> mean, Span<double> variance)
    {
        shape.CheckLength(x.Length, nameof(x));
        if (shape.ValuesPerChannel < 1)
            throw new ArgumentException("A batch needs at least one value per channel.", nameof(shape));
        double count = shape.ValuesPerChannel;
        for (int c = 0; c < shape.Channels; c++)
        {
            double sum = 0;
            for (int n = 0; n < shape.Rows; n++)
                sum += DoubleSums.Sum(shape.Plane(x, n, c));
            double m = sum / count;
            double squares = 0;
            for (int n = 0; n < shape.Rows; n++)
                squares += DoubleSums.SquaredDeviations(shape.Plane(x, n, c), m);
            mean[c] = m;
            variance[c] = squares / count;
        }
    }

    /// <summary>
    /// Training forward with batch statistics. Writes the batch mean, biased variance and 1 / √(σ² + ε) per
    /// channel for <see cref="Backward"/> and the running-statistics update, and uses
    /// <paramref name="scale"/>/<paramref name="shift"/> (C each) as workspace.
    /// </summary>
    public static void ForwardTraining(ReadOnlySpan<float> x, Span<float> y, NcsShape shape, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        double epsilon, Span<double> mean, Span<double> variance, Span<double> inverseStd, Span<float> scale, Span<float> shift)
    {
        Moments(x, shape, mean, variance);
        for (int c = 0; c < shape.Channels; c++)
        {
            inverseStd[c] = 1 / Math.Sqrt(variance[c] + epsilon);
            double s = gamma[c] * inverseStd[c];
            scale[c] = (float)s;
            shift[c] = (float)(beta[c] - mean[c] * s);
        }
        ApplyChannelAffine(x, y, shape, scale, shift);
    }

    /// <summary>y = x · scale[c] + shift[c]: inference with folded running statistics, or the training forward.</summary>
    public static void ApplyChannelAffine(ReadOnlySpan<float> x, Span<float> y, NcsShape shape, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(y.Length, nameof(y));
        int row = shape.RowLength;
        for (int n = 0; n < shape.Rows; n++)
        {
            if (shape.Spatial == 1)
            {
                // Channels are contiguous: one vector multiply-add across the row.
                TensorPrimitives.MultiplyAdd(x.Slice(n * row, row), scale, shift, y.Slice(n * row, row));
                continue;
            }
            for (int c = 0; c < shape.Channels; c++)
            {
                var output = shape.Plane(y, n, c);
                TensorPrimitives.Multiply(shape.Plane(x, n, c), scale[c], output);
                TensorPrimitives.Add(output, shift[c], output);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="ForwardTraining"/>. With x̂ = (x − μ) · inverseStd and M = N · S values per channel:
    /// dβ = Σ dy, dγ = Σ dy · x̂ (both added to the gradients), dx = γ · inverseStd / M · (M · dy − dβ − x̂ · dγ).
    /// <paramref name="workspace"/> holds 3 · C floats.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx, NcsShape shape, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> inverseStd, Span<float> gammaGradient, Span<float> betaGradient, Span<float> workspace)
    {
        shape.CheckLength(dy.Length, nameof(dy));
        shape.CheckLength(dx.Length, nameof(dx));
        int channels = shape.Channels;
        var dyScale = workspace[..channels];
        var xScale = workspace.Slice(channels, channels);
        var offset = workspace.Slice(2 * channels, channels);
        double count = shape.ValuesPerChannel;
        for (int c = 0; c < channels; c++)
        {
            double sumDy = 0, sumDyX = 0;
            for (int n = 0; n < shape.Rows; n++)
            {
                sumDy += DoubleSums.Sum(shape.Plane(dy, n, c));
                sumDyX += DoubleSums.Dot(shape.Plane(dy, n, c), shape.Plane(x, n, c));
            }
            double istd = inverseStd[c];
            double sumDyXhat = istd * (sumDyX - mean[c] * sumDy);
            betaGradient[c] += (float)sumDy;
            gammaGradient[c] += (float)sumDyXhat;

            // dx = k · dy + p · x + q with k = γ · istd, p = −k · istd · Σdy·x̂ / M, q = −k · (Σdy − μ · istd · Σdy·x̂) / M.
            double k = gamma[c] * istd;
            dyScale[c] = (float)k;
            xScale[c] = (float)(-k * istd * sumDyXhat / count);
            offset[c] = (float)(-k * (sumDy - mean[c] * istd * sumDyXhat) / count);
        }

        int row = shape.RowLength;
        for (int n = 0; n < shape.Rows; n++)
        {
            if (shape.Spatial == 1)
            {
                var output = dx.Slice(n * row, row);
                TensorPrimitives.MultiplyAdd(x.Slice(n * row, row), xScale, offset, output);
                TensorPrimitives.MultiplyAdd(dy.Slice(n * row, row), dyScale, output, output);
                continue;
            }
            for (int c = 0; c < channels; c++)
            {
                var output = shape.Plane(dx, n, c);
                TensorPrimitives.Multiply(shape.Plane(x, n, c), xScale[c], output);
                TensorPrimitives.Add(output, offset[c], output);
                TensorPrimitives.MultiplyAdd(shape.Plane(dy, n, c), dyScale[c], output, output);
            }
        }
    }
}
