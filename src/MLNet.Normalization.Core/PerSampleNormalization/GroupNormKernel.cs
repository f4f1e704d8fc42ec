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
    /// Large batches share their (row, group) units among threads. Each unit leaves its channels' Σ dy · x̂ and Σ dy
    /// as floats, added to dγ and dβ row by row afterwards, so the additions run in the same order for any thread
    /// count.
    /// </summary>
    public static unsafe void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> x, Span<float> dx, NcsShape shape, int groups, ReadOnlySpan<float> gamma,
        ReadOnlySpan<double> mean, ReadOnlySpan<double> inverseStd, Span<float> gammaGradient, Span<float> betaGradient)
    {
        shape.CheckLength(dy.Length, nameof(dy));
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(dx.Length, nameof(dx));
        CheckGroups(shape.Channels, groups);
        fixed (float* pdy = dy, px = x, pdx = dx, pGamma = gamma, pGammaGradient = gammaGradient, pBetaGradient = betaGradient)
        fixed (double* pMean = mean, pInverseStd = inverseStd)
        {
            var pass = new BackwardPass(new(pdy, dy.Length), new(px, x.Length), new(pdx, dx.Length), shape, groups, new(pGamma, gamma.Length),
                new(pMean, mean.Length), new(pInverseStd, inverseStd.Length), new(pGammaGradient, gammaGradient.Length), new(pBetaGradient, betaGradient.Length));
            if (shape.Spatial == 1 && !gamma.IsEmpty)
            {
                ParallelUnits.For(new ElementwiseBackwardUnit(pass), shape.Rows * groups, shape.Length);
                ParallelUnits.For(new ElementwiseGradientChunk(pass), (shape.Channels + ElementwiseAffineChunk.Length - 1) / ElementwiseAffineChunk.Length, shape.Length);
                return;
            }
            if (gamma.IsEmpty)
            {
                ParallelUnits.For(new BackwardUnit(pass, []), shape.Rows * groups, shape.Length);
                return;
            }
            int planes = shape.Rows * shape.Channels;
            var partials = ArrayPool<float>.Shared.Rent(2 * planes);
            try
            {
                ParallelUnits.For(new BackwardUnit(pass, partials), shape.Rows * groups, shape.Length);
                for (int c = 0; c < shape.Channels; c++)
                {
                    float dGamma = gammaGradient[c], dBeta = betaGradient[c];
                    for (int n = 0; n < shape.Rows; n++)
                    {
                        dGamma += partials[n * shape.Channels + c];
                        dBeta += partials[planes + n * shape.Channels + c];
                    }
                    gammaGradient[c] = dGamma;
                    betaGradient[c] = dBeta;
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(partials);
            }
        }
    }

    /// <summary>The buffers and shape of one <see cref="Backward"/> call, for its units.</summary>
    private readonly record struct BackwardPass(PinnedSpan<float> Dy, PinnedSpan<float> X, PinnedSpan<float> Dx, NcsShape Shape, int Groups,
        PinnedSpan<float> Gamma, PinnedSpan<double> Mean, PinnedSpan<double> InverseStd, PinnedSpan<float> GammaGradient, PinnedSpan<float> BetaGradient);

    /// <summary>
    /// One (row, group) = unit of <see cref="Backward"/> over planes: dx, and with γ its channels' Σ dy · x̂ at
    /// n · C + c of the partials and Σ dy at N · C + n · C + c.
    /// </summary>
    private readonly struct BackwardUnit(BackwardPass pass, float[] partials) : IKernelUnit
    {
        public void Run(int unit)
        {
            var shape = pass.Shape;
            ReadOnlySpan<float> dy = pass.Dy.Span, x = pass.X.Span, gamma = pass.Gamma.Span;
            int groups = pass.Groups, groupChannels = shape.Channels / groups, spatial = shape.Spatial;
            int groupLength = groupChannels * spatial;
            int n = unit / groups, g = unit % groups;
            int start = n * shape.RowLength + g * groupLength;
            int firstChannel = g * groupChannels;
            double mu = pass.Mean.Span[unit], istd = pass.InverseStd.Span[unit];

            double sumG = 0, sumGXhat = 0;
            for (int c = 0; c < groupChannels; c++)
            {
                var (sumDy, sumDyX) = DoubleSums.SumAndDot(dy.Slice(start + c * spatial, spatial), x.Slice(start + c * spatial, spatial));
                double sumDyXhat = istd * (sumDyX - mu * sumDy);
                double scale = gamma.IsEmpty ? 1 : gamma[firstChannel + c];
                if (!gamma.IsEmpty)
                {
                    int plane = n * shape.Channels + firstChannel + c;
                    partials[plane] = (float)sumDyXhat;
                    partials[shape.Rows * shape.Channels + plane] = (float)sumDy;
                }
                sumG += scale * sumDy;
                sumGXhat += scale * sumDyXhat;
            }

            // dx = γ[c] · istd · dy + b · (x − μ′) + d, with b = −istd² · Σg·x̂ / M, μ′ = μ rounded to float and
            // d = −istd · Σg / M + b · (μ′ − μ): centred on μ′, so no term is larger than dx (see CenteredLinearCombination).
            double b = -istd * istd * sumGXhat / groupLength;
            float centre = (float)mu;
            double d = -istd * sumG / groupLength + b * (centre - mu);
            var output = pass.Dx.Span.Slice(start, groupLength);
            var gradient = dy.Slice(start, groupLength);
            var input = x.Slice(start, groupLength);
            if (gamma.IsEmpty)
            {
                FusedSpans.CenteredLinearCombination(gradient, (float)istd, input, centre, (float)b, (float)d, output);
                return;
            }
            for (int c = 0; c < groupChannels; c++)
            {
                var plane = new Range(c * spatial, (c + 1) * spatial);
                FusedSpans.CenteredLinearCombination(gradient[plane], (float)(gamma[firstChannel + c] * istd), input[plane], centre, (float)b, (float)d, output[plane]);
            }
        }
    }

    /// <summary>
    /// dx of one (row, group) of <see cref="Backward"/> with one value per channel and γ given (layer norm's
    /// elementwise affine over a whole row, group norm over feature vectors), in a few vector passes rather than a
    /// reduction per value: g = γ · dy (float), Σ g and Σ g · x in double, then dx = istd · (g + x · b / istd + d / istd)
    /// with b and d as in <see cref="BackwardUnit"/>. dγ and dβ are <see cref="ElementwiseGradientChunk"/>'s.
    /// </summary>
    private readonly struct ElementwiseBackwardUnit(BackwardPass pass) : IKernelUnit
    {
        public void Run(int unit)
        {
            var shape = pass.Shape;
            int groups = pass.Groups, groupLength = shape.Channels / groups;
            int n = unit / groups, g = unit % groups;
            int start = n * shape.RowLength + g * groupLength, first = g * groupLength;
            double mu = pass.Mean.Span[unit], istd = pass.InverseStd.Span[unit];
            ReadOnlySpan<float> input = pass.X.Span.Slice(start, groupLength), gradient = pass.Dy.Span.Slice(start, groupLength);
            ReadOnlySpan<float> scale = pass.Gamma.Span.Slice(first, groupLength);
            var output = pass.Dx.Span.Slice(start, groupLength);
            float[] rented = ArrayPool<float>.Shared.Rent(groupLength);
            try
            {
                var scaled = rented.AsSpan(0, groupLength);
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
            finally
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// dγ += dy · x̂ and dβ += dy elementwise over channels [chunk · Length, …) of every row, rows in order: each
    /// chunk's gradients are added in the same order whatever thread runs it, and stay in cache across the rows.
    /// </summary>
    private readonly struct ElementwiseGradientChunk(BackwardPass pass) : IKernelUnit
    {
        public void Run(int chunk)
        {
            var shape = pass.Shape;
            int groups = pass.Groups, groupLength = shape.Channels / groups;
            int first = chunk * ElementwiseAffineChunk.Length, end = Math.Min(first + ElementwiseAffineChunk.Length, shape.Channels);
            ReadOnlySpan<float> x = pass.X.Span, dy = pass.Dy.Span;
            Span<float> dGamma = pass.GammaGradient.Span, dBeta = pass.BetaGradient.Span;
            float[] rented = ArrayPool<float>.Shared.Rent(end - first);
            try
            {
                for (int n = 0; n < shape.Rows; n++)
                    for (int start = first; start < end;)
                    {
                        int group = start / groupLength, stop = Math.Min(end, (group + 1) * groupLength);
                        int unit = n * groups + group, row = n * shape.RowLength;
                        double mu = pass.Mean.Span[unit], istd = pass.InverseStd.Span[unit];
                        var columns = new Range(start, stop);
                        var xhat = rented.AsSpan(0, stop - start);
                        ChannelAffine.Apply(x.Slice(row, shape.Channels)[columns], (float)istd, (float)(-mu * istd), xhat);
                        ReadOnlySpan<float> gradient = dy.Slice(row, shape.Channels)[columns];
                        TensorPrimitives.MultiplyAdd(gradient, xhat, dGamma[columns], dGamma[columns]);
                        TensorPrimitives.Add(dBeta[columns], gradient, dBeta[columns]);
                        start = stop;
                    }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }
    }
}
