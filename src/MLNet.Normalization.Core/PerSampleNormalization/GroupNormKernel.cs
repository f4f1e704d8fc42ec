using System.Buffers;
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
    /// large batches share their (row, group) units among threads. With one value per channel and γ, β given
    /// (layer norm's elementwise affine, as long as a row), the affine instead runs over column chunks of every
    /// row, so each chunk of γ and β is read from memory once per batch rather than once per row.
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
            bool elementwise = shape.Spatial == 1 && !gamma.IsEmpty;
            var unit = new ForwardUnit(new(px, x.Length), new(py, y.Length), shape, groups, new(pGamma, gamma.Length), new(pBeta, beta.Length),
                epsilon, new(pMean, mean.Length), new(pInverseStd, inverseStd.Length), StatisticsOnly: elementwise);
            ParallelUnits.For(unit, shape.Rows * groups, shape.Length);
            if (elementwise)
                ParallelUnits.For(new ElementwiseAffineChunk(unit), (shape.Channels + ElementwiseAffineChunk.Length - 1) / ElementwiseAffineChunk.Length, shape.Length);
        }
    }

    /// <summary>One (row, group): its moments, then its y unless <c>StatisticsOnly</c> leaves y to <see cref="ElementwiseAffineChunk"/>.</summary>
    private readonly record struct ForwardUnit(PinnedSpan<float> X, PinnedSpan<float> Y, NcsShape Shape, int Groups, PinnedSpan<float> Gamma,
        PinnedSpan<float> Beta, double Epsilon, PinnedSpan<double> Mean, PinnedSpan<double> InverseStd, bool StatisticsOnly) : IKernelUnit
    {
        /// <summary>Normalizes (row, group) number <paramref name="unit"/> = n · G + g, which starts at unit · (C / G) · S.</summary>
        public void Run(int unit)
        {
            int groupChannels = Shape.Channels / Groups, groupLength = groupChannels * Shape.Spatial;
            var input = X.Span.Slice(unit * groupLength, groupLength);
            var output = Y.Span.Slice(unit * groupLength, groupLength);
            var moments = Moments.Of(input);
            double istd = 1 / Math.Sqrt(moments.PopulationVariance + Epsilon);
            Mean.Span[unit] = moments.Mean;
            InverseStd.Span[unit] = istd;
            if (StatisticsOnly)
                return;
            if (Gamma.IsEmpty)
            {
                ChannelAffine.Apply(input, (float)istd, (float)(-moments.Mean * istd), output);
                return;
            }
            for (int c = 0; c < groupChannels; c++)
            {
                int channel = unit % Groups * groupChannels + c;
                double s = istd * Gamma.Span[channel];
                var plane = new Range(c * Shape.Spatial, (c + 1) * Shape.Spatial);
                ChannelAffine.Apply(input[plane], (float)s, (float)(Beta.Span[channel] - moments.Mean * s), output[plane]);
            }
        }
    }

    /// <summary>
    /// y = (x · istd − μ · istd) · γ + β over channels [chunk · Length, …) of every row: one value per channel, so γ
    /// and β are elementwise, and their chunk (2 × 32 KB) stays in cache across the rows.
    /// </summary>
    private readonly struct ElementwiseAffineChunk(ForwardUnit statistics) : IKernelUnit
    {
        public const int Length = 8192;

        public void Run(int chunk)
        {
            var shape = statistics.Shape;
            int groupChannels = shape.Channels / statistics.Groups;
            int first = chunk * Length, end = Math.Min(first + Length, shape.Channels);
            ReadOnlySpan<float> x = statistics.X.Span, gamma = statistics.Gamma.Span, beta = statistics.Beta.Span;
            var y = statistics.Y.Span;
            for (int n = 0; n < shape.Rows; n++)
            {
                // The chunk's part of each group the row splits into.
                for (int start = first; start < end;)
                {
                    int group = start / groupChannels, stop = Math.Min(end, (group + 1) * groupChannels);
                    int unit = n * statistics.Groups + group, row = n * shape.Channels;
                    double mu = statistics.Mean.Span[unit], istd = statistics.InverseStd.Span[unit];
                    var columns = new Range(start, stop);
                    FusedSpans.MultiplyAddThenAffine(x.Slice(row, shape.Channels)[columns], (float)istd, (float)(-mu * istd),
                        gamma[columns], beta[columns], y.Slice(row, shape.Channels)[columns]);
                    start = stop;
                }
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
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(dx.Length, nameof(dx));
        CheckGroups(shape.Channels, groups);
        if (shape.Spatial == 1 && !gamma.IsEmpty)
        {
            BackwardElementwise(dy, x, dx, shape, groups, gamma, mean, inverseStd, gammaGradient, betaGradient);
            return;
        }
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

    /// <summary>
    /// <see cref="Backward"/> with one value per channel and γ given: layer norm's elementwise affine over a whole row,
    /// group norm over feature vectors. Each (row, group) of M values takes a few vector passes rather than a
    /// reduction per value: x̂ = x · istd − μ · istd, dγ += dy · x̂ and dβ += dy elementwise; g = γ · dy (float), Σ g
    /// and Σ g · x in double; then dx = istd · (g + x · b / istd + d / istd) with b and d as in <see cref="Backward"/>.
    /// </summary>
    private static void BackwardElementwise(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx, NcsShape shape, int groups,
        ReadOnlySpan<float> gamma, ReadOnlySpan<double> mean, ReadOnlySpan<double> inverseStd, Span<float> gammaGradient, Span<float> betaGradient)
    {
        int groupLength = shape.Channels / groups;
        float[] rented = ArrayPool<float>.Shared.Rent(2 * groupLength);
        try
        {
            Span<float> xhat = rented.AsSpan(0, groupLength), scaled = rented.AsSpan(groupLength, groupLength);
            for (int n = 0; n < shape.Rows; n++)
                for (int g = 0; g < groups; g++)
                {
                    int start = n * shape.RowLength + g * groupLength, first = g * groupLength;
                    double mu = mean[n * groups + g], istd = inverseStd[n * groups + g];
                    ReadOnlySpan<float> input = x.Slice(start, groupLength), gradient = dy.Slice(start, groupLength), scale = gamma.Slice(first, groupLength);
                    Span<float> output = dx.Slice(start, groupLength), dGamma = gammaGradient.Slice(first, groupLength), dBeta = betaGradient.Slice(first, groupLength);

                    ChannelAffine.Apply(input, (float)istd, (float)(-mu * istd), xhat);
                    TensorPrimitives.MultiplyAdd(gradient, xhat, dGamma, dGamma);
                    TensorPrimitives.Add(dBeta, gradient, dBeta);

                    TensorPrimitives.Multiply(gradient, scale, scaled);
                    var (sumG, sumGX) = DoubleSums.SumAndDot(scaled, input);
                    double sumGXhat = istd * (sumGX - mu * sumG);
                    double b = -istd * istd * sumGXhat / groupLength;
                    double d = -istd * sumG / groupLength - mu * b;
                    // dx = istd · (dy · γ + x · b / istd + d / istd).
                    ChannelAffine.Apply(input, (float)(b / istd), (float)(d / istd), output);
                    TensorPrimitives.MultiplyAdd(gradient, scale, output, output);
                    TensorPrimitives.Multiply(output, (float)istd, output);
                }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(rented);
        }
    }
}
