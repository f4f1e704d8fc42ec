using System.Numerics.Tensors;
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

    /// <summary>Forward; writes each (row, group)'s mean and 1 / √(σ² + ε), N · G each, for <see cref="Backward"/>.</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, NcsShape shape, int groups, ReadOnlySpan<float> gamma, ReadOnlySpan<float> beta,
        double epsilon, Span<double> mean, Span<double> inverseStd)
    {
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(y.Length, nameof(y));
        CheckGroups(shape.Channels, groups);
        int groupChannels = shape.Channels / groups;
        int groupLength = groupChannels * shape.Spatial;
        for (int n = 0; n < shape.Rows; n++)
            for (int g = 0; g < groups; g++)
            {
                int start = n * shape.RowLength + g * groupLength;
                var input = x.Slice(start, groupLength);
                var output = y.Slice(start, groupLength);
                var moments = Moments.Of(input);
                double istd = 1 / Math.Sqrt(moments.PopulationVariance + epsilon);
                mean[n * groups + g] = moments.Mean;
                inverseStd[n * groups + g] = istd;

                TensorPrimitives.Add(input, (float)-moments.Mean, output);
                TensorPrimitives.Multiply(output, (float)istd, output);
                if (gamma.IsEmpty)
                    continue;
                int firstChannel = g * groupChannels;
                if (shape.Spatial == 1)
                {
                    TensorPrimitives.MultiplyAdd(output, gamma.Slice(firstChannel, groupChannels), beta.Slice(firstChannel, groupChannels), output);
                    continue;
                }
                for (int c = 0; c < groupChannels; c++)
                {
                    var plane = output.Slice(c * shape.Spatial, shape.Spatial);
                    TensorPrimitives.Multiply(plane, gamma[firstChannel + c], plane);
                    TensorPrimitives.Add(plane, beta[firstChannel + c], plane);
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
                    var dyPlane = dy.Slice(start + c * spatial, spatial);
                    double sumDy = DoubleSums.Sum(dyPlane);
                    double sumDyXhat = istd * (DoubleSums.Dot(dyPlane, x.Slice(start + c * spatial, spatial)) - mu * sumDy);
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
                TensorPrimitives.Multiply(x.Slice(start, groupLength), (float)b, output);
                TensorPrimitives.Add(output, (float)d, output);
                for (int c = 0; c < groupChannels; c++)
                {
                    double scale = (gamma.IsEmpty ? 1 : gamma[firstChannel + c]) * istd;
                    var plane = output.Slice(c * spatial, spatial);
                    TensorPrimitives.MultiplyAdd(dy.Slice(start + c * spatial, spatial), (float)scale, plane, plane);
                }
            }
    }
}
