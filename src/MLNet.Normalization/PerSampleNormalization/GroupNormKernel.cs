using System.Numerics.Tensors;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.PerSampleNormalization;

/// <summary>
/// Per-sample normalization over an (N, C, S) batch: each row's C channels split into G groups of C / G channels,
/// and each (row, group) is normalized by its own mean and biased variance over its (C / G) · S values, ε inside
/// the square root, then y = x̂ · γ[c] + β[c] per channel (PyTorch semantics). The one kernel serves:
/// group norm (G groups), instance norm (G = C), and layer norm (shape (N, L, 1) with G = 1, so the per-channel
/// affine is elementwise). An empty γ/β means no affine (γ = 1, β = 0).
/// </summary>
internal static class GroupNormKernel
{
    public static void CheckGroups(int channels, int groups)
    {
        if (groups <= 0 || channels % groups != 0)
            throw new ArgumentException($"{groups} groups do not divide {channels} channels.", nameof(groups));
    }

    /// <summary>
    /// Forward; writes each (row, group)'s mean and 1 / √(σ² + ε), N · G each, for <see cref="Backward"/>. Each
    /// (row, group) is one read for its moments, then y = x · s + t per channel while the group is still in cache;
    /// large batches share their (row, group) units among threads.
    /// </summary>
    public static unsafe void Forward(ReadOnlySpan<float> x, Span<float> y, NcsShape shape, int groups, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        double epsilon, Span<double> mean, Span<double> inverseStd)
    {
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(y.Length, nameof(y));
        CheckGroups(shape.Channels, groups);
        fixed (float* px = x, py = y, pGamma = gamma, pBeta = beta)
        fixed (double* pMean = mean, pInverseStd = inverseStd)
        {
            var unit = new ForwardUnit(new(px, x.Length), new(py, y.Length), shape, groups, new(pGamma, gamma.Length), new(pBeta, beta.Length),
                epsilon, new(pMean, mean.Length), new(pInverseStd, inverseStd.Length));
            ParallelUnits.For(unit, shape.Rows * groups, shape.Length);
        }
    }

    private readonly struct ForwardUnit(PinnedSpan<float> x, PinnedSpan<float> y, NcsShape shape, int groups, PinnedSpan<float> gamma,
        PinnedSpan<float> beta, double epsilon, PinnedSpan<double> mean, PinnedSpan<double> inverseStd) : IKernelUnit
    {
        /// <summary>Normalizes (row, group) number <paramref name="unit"/> = n · G + g, which starts at unit · (C / G) · S.</summary>
        public void Run(int unit)
        {
            int groupChannels = shape.Channels / groups, groupLength = groupChannels * shape.Spatial;
            var input = x.Span.Slice(unit * groupLength, groupLength);
            var output = y.Span.Slice(unit * groupLength, groupLength);
            var moments = Moments.Of(input);
            double istd = 1 / Math.Sqrt(moments.PopulationVariance + epsilon);
            mean.Span[unit] = moments.Mean;
            inverseStd.Span[unit] = istd;

            float scale = (float)istd, shift = (float)(-moments.Mean * istd);
            if (gamma.IsEmpty)
            {
                FusedSpans.MultiplyAdd(input, scale, shift, output);
                return;
            }
            if (shape.Spatial == 1)
            {
                // One value per channel (layer norm): the affine is elementwise.
                int first = unit % groups * groupChannels;
                FusedSpans.MultiplyAddThenAffine(input, scale, shift, gamma.Span.Slice(first, groupChannels), beta.Span.Slice(first, groupChannels), output);
                return;
            }
            for (int c = 0; c < groupChannels; c++)
            {
                int channel = unit % groups * groupChannels + c;
                double s = istd * gamma.Span[channel];
                var plane = new Range(c * shape.Spatial, (c + 1) * shape.Spatial);
                FusedSpans.MultiplyAdd(input[plane], (float)s, (float)(beta.Span[channel] - moments.Mean * s), output[plane]);
            }
        }
    }

    /// <summary>
    /// Backward of <see cref="Forward"/>. Per (row, group) of M values with g = dy · γ:
    /// dx = inverseStd · (g − Σg / M − x̂ · Σ(g · x̂) / M); dγ[c] += Σ dy · x̂ and dβ[c] += Σ dy over the channel's values.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx, NcsShape shape, int groups, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> inverseStd, Span<float> gammaGradient, Span<float> betaGradient)
    {
        shape.CheckLength(dy.Length, nameof(dy));
        shape.CheckLength(dx.Length, nameof(dx));
        CheckGroups(shape.Channels, groups);
        int groupChannels = shape.Channels / groups;
        int groupLength = groupChannels * shape.Spatial;
        int spatial = shape.Spatial;
        for (int n = 0; n < shape.Rows; n++)
            for (int g = 0; g < groups; g++)
            {
                int start = n * shape.RowLength + g * groupLength;
                int firstChannel = g * groupChannels;
                double mu = mean[n * groups + g], istd = inverseStd[n * groups + g];

                double sumG = 0, sumGXhat = 0;
                for (int c = 0; c < groupChannels; c++)
                {
                    var (sumDy, sumDyX) = DoubleSums.SumAndDot(dy.Slice(start + c * spatial, spatial), x.Slice(start + c * spatial, spatial));
                    double sumDyXhat = istd * (sumDyX - mu * sumDy);
                    double scale = gamma.IsEmpty ? 1 : gamma[firstChannel + c];
                    if (!gamma.IsEmpty)
                    {
                        gammaGradient[firstChannel + c] += (float)sumDyXhat;
                        betaGradient[firstChannel + c] += (float)sumDy;
                    }
                    sumG += scale * sumDy;
                    sumGXhat += scale * sumDyXhat;
                }

                // dx = γ[c] · istd · dy + b · x + d, with b = −istd² · Σg·x̂ / M and d = −istd · Σg / M − μ · b.
                double b = -istd * istd * sumGXhat / groupLength;
                double d = -istd * sumG / groupLength - mu * b;
                var output = dx.Slice(start, groupLength);
                var gradient = dy.Slice(start, groupLength);
                var input = x.Slice(start, groupLength);
                if (gamma.IsEmpty)
                {
                    FusedSpans.LinearCombination(gradient, (float)istd, input, (float)b, (float)d, output);
                }
                else if (spatial == 1)
                {
                    // γ elementwise: dx = istd · (dy · γ + x · b / istd + d / istd).
                    FusedSpans.MultiplyAdd(input, (float)(b / istd), (float)(d / istd), output);
                    TensorPrimitives.MultiplyAdd(gradient, gamma.Slice(firstChannel, groupChannels), output, output);
                    TensorPrimitives.Multiply(output, (float)istd, output);
                }
                else
                {
                    for (int c = 0; c < groupChannels; c++)
                    {
                        var plane = new Range(c * spatial, (c + 1) * spatial);
                        FusedSpans.LinearCombination(gradient[plane], (float)(gamma[firstChannel + c] * istd), input[plane], (float)b, (float)d, output[plane]);
                    }
                }
            }
    }
}
