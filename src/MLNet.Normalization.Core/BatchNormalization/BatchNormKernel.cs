using System.Buffers;
using System.Numerics.Tensors;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.BatchNormalization;

/// <summary>
/// Batch normalization over an (N, C, S) batch, PyTorch semantics: per channel c, statistics over the N · S values,
/// y = γ[c] (x − μ[c]) / √(σ²[c] + ε) + β[c] with the biased variance σ² and ε inside the square root.
/// Statistics accumulate in double. The caller owns every buffer, so a training loop allocates nothing per step.
/// </summary>
/// <remarks>
/// Every pass works channel by channel: one read of the channel's values for its sums, then the elementwise pass
/// while they are still in cache. Channels are shared among threads for large batches; with fewer than
/// <see cref="MinimumUnits"/> channels each channel's rows are also split into blocks whose sums are added in
/// block order, so the result does not depend on the thread count. Feature vectors (one value per channel) are
/// interleaved data, so their elementwise pass goes by blocks of rows instead. The affine passes are
/// <see cref="ChannelAffine"/>'s.
/// </remarks>
internal static unsafe class BatchNormKernel
{
    /// <summary>Units of work a batch is cut into at least, when it has the rows: enough to keep two to eight threads busy.</summary>
    private const int MinimumUnits = 8;

    /// <summary>Per-channel mean and biased variance over rows and spatial positions.</summary>
    public static void Moments(ReadOnlySpan<float> x, NcsShape shape, Span<double> mean, Span<double> variance)
    {
        CheckStatistics(x, shape);
        fixed (float* px = x)
        fixed (double* pMean = mean, pVariance = variance)
        {
            var statistics = new StatisticsPass(new(px, x.Length), shape, new(pMean, mean.Length), new(pVariance, variance.Length));
            Run(statistics, shape);
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
        CheckStatistics(x, shape);
        shape.CheckLength(y.Length, nameof(y));
        fixed (float* px = x, py = y, pGamma = gamma, pBeta = beta, pScale = scale, pShift = shift)
        fixed (double* pMean = mean, pVariance = variance, pInverseStd = inverseStd)
        {
            var statistics = new StatisticsPass(new(px, x.Length), shape, new(pMean, mean.Length), new(pVariance, variance.Length));
            var affine = new AffinePass(new(px, x.Length), new(py, y.Length), shape, new(pScale, scale.Length), new(pShift, shift.Length));
            Run(new ForwardPass(statistics, affine, new(pGamma, gamma.Length), new(pBeta, beta.Length), epsilon, new(pInverseStd, inverseStd.Length)), shape);
        }
    }

    /// <summary>y = x · scale[c] + shift[c]: inference with folded running statistics, or the training forward.</summary>
    public static void ApplyChannelAffine(ReadOnlySpan<float> x, Span<float> y, NcsShape shape, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(y.Length, nameof(y));
        fixed (float* px = x, py = y, pScale = scale, pShift = shift)
        {
            var affine = new AffinePass(new(px, x.Length), new(py, y.Length), shape, new(pScale, scale.Length), new(pShift, shift.Length));
            if (shape.Spatial == 1)
            {
                ApplyByRows(affine, shape);
                return;
            }
            // Nothing to reduce, so the planes go in memory order, which streams best.
            var planes = ChannelBlocks.Planes(shape);
            ParallelUnits.For(new ApplyBlock<AffinePass>(affine, planes), planes.Units, shape.Length);
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
        shape.CheckLength(x.Length, nameof(x));
        shape.CheckLength(dx.Length, nameof(dx));
        fixed (float* pdy = dy, px = x, pdx = dx, pGamma = gamma, pGammaGradient = gammaGradient, pBetaGradient = betaGradient, pWorkspace = workspace)
        fixed (double* pMean = mean, pInverseStd = inverseStd)
        {
            var pass = new BackwardPass(new(pdy, dy.Length), new(px, x.Length), new(pdx, dx.Length), shape, new(pGamma, gamma.Length),
                new(pMean, mean.Length), new(pInverseStd, inverseStd.Length), new(pGammaGradient, gammaGradient.Length),
                new(pBetaGradient, betaGradient.Length), new(pWorkspace, workspace.Length));
            Run(pass, shape);
        }
    }

    private static void CheckStatistics(ReadOnlySpan<float> x, NcsShape shape)
    {
        shape.CheckLength(x.Length, nameof(x));
        if (shape.ValuesPerChannel < 1)
            throw new ArgumentException("A batch needs at least one value per channel.", nameof(shape));
    }

    /// <summary>
    /// Sums over each channel's values, then each channel finished from its sums, then the elementwise pass: by
    /// channel over planes, by blocks of rows over feature vectors (one value per channel, interleaved).
    /// </summary>
    private static void Run<TPass>(TPass pass, NcsShape shape) where TPass : struct, IChannelPass
    {
        if (shape.Spatial == 1 && shape.Length < ParallelUnits.MinimumParallelElements)
        {
            RunByRows(pass, shape);
            return;
        }
        var blocks = ChannelBlocks.Of(shape);
        if (blocks.PerChannel == 1 && shape.Spatial > 1)
        {
            ParallelUnits.For(new WholeChannel<TPass>(pass, shape.Rows), shape.Channels, shape.Length);
            return;
        }

        var partials = ArrayPool<double>.Shared.Rent(2 * blocks.Units);
        try
        {
            ParallelUnits.For(new ReduceBlock<TPass>(pass, blocks, partials), blocks.Units, shape.Length);
            for (int c = 0; c < shape.Channels; c++)
            {
                double first = 0, second = 0;
                for (int block = 0; block < blocks.PerChannel; block++)
                {
                    int unit = blocks.UnitOf(c, block);
                    first += partials[2 * unit];
                    second += partials[2 * unit + 1];
                }
                pass.Finish(c, (first, second));
            }
            if (!pass.Applies)
                return;
            if (shape.Spatial == 1)
                ApplyByRows(pass, shape);
            else
                ParallelUnits.For(new ApplyBlock<TPass>(pass, blocks), blocks.Units, shape.Length);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(partials);
        }
    }

    /// <summary>
    /// <see cref="Run"/> for a small batch of feature vectors (one value per channel): rows in memory order,
    /// each channel's sums still added row by row, so the result equals the channel-by-channel path's.
    /// </summary>
    private static void RunByRows<TPass>(TPass pass, NcsShape shape) where TPass : struct, IChannelPass
    {
        int channels = shape.Channels;
        var sums = ArrayPool<double>.Shared.Rent(2 * channels);
        try
        {
            Span<double> first = sums.AsSpan(0, channels), second = sums.AsSpan(channels, channels);
            first.Clear();
            second.Clear();
            for (int n = 0; n < shape.Rows; n++)
                pass.ReduceRow(n, first, second);
            for (int c = 0; c < channels; c++)
                pass.Finish(c, (first[c], second[c]));
            if (pass.Applies)
                pass.ApplyRows(0, shape.Rows);
        }
        finally
        {
            ArrayPool<double>.Shared.Return(sums);
        }
    }

    /// <summary>The elementwise pass over feature vectors, in <see cref="MinimumUnits"/> blocks of rows when the batch has them.</summary>
    private static void ApplyByRows<TPass>(TPass pass, NcsShape shape) where TPass : struct, IChannelPass
    {
        int units = Math.Min(shape.Rows, MinimumUnits);
        ParallelUnits.For(new ApplyRowBlock<TPass>(pass, shape.Rows, units), units, shape.Length);
    }

    /// <summary>
    /// Units of (channel, block of rows), numbered block-major (unit = block · C + channel) so that consecutive
    /// units are consecutive in memory; the split depends on the shape alone.
    /// </summary>
    private readonly record struct ChannelBlocks(int Rows, int Channels, int PerChannel)
    {
        public static ChannelBlocks Of(NcsShape shape)
        {
            // One unit per channel keeps its reads in cache between the sums and the elementwise pass (measured
            // faster than memory-order units of one plane each); few channels are split to feed the threads.
            int perChannel = shape.Channels >= MinimumUnits ? 1 : Math.Clamp(MinimumUnits / Math.Max(1, shape.Channels), 1, Math.Max(1, shape.Rows));
            return new ChannelBlocks(shape.Rows, shape.Channels, perChannel);
        }

        /// <summary>One unit per (row, channel) plane, in memory order.</summary>
        public static ChannelBlocks Planes(NcsShape shape) => new(shape.Rows, shape.Channels, Math.Max(1, shape.Rows));

        public int Units => Channels * PerChannel;

        public int UnitOf(int channel, int block) => block * Channels + channel;

        public (int Channel, int FirstRow, int EndRow) this[int unit]
        {
            get
            {
                int channel = unit % Channels, block = unit / Channels;
                return (channel, (int)((long)block * Rows / PerChannel), (int)((long)(block + 1) * Rows / PerChannel));
            }
        }
    }

    /// <summary>A kernel pass: two sums per channel, the channel's coefficients from them, an elementwise pass.</summary>
    private interface IChannelPass
    {
        (double First, double Second) Reduce(int channel, int firstRow, int endRow);

        void Finish(int channel, (double First, double Second) sums);

        bool Applies { get; }

        void Apply(int channel, int firstRow, int endRow);

        /// <summary>Adds one row of one value per channel to every channel's sums.</summary>
        void ReduceRow(int row, Span<double> first, Span<double> second);

        /// <summary>The elementwise pass over rows [<paramref name="firstRow"/>, <paramref name="endRow"/>) of one value per channel.</summary>
        void ApplyRows(int firstRow, int endRow);
    }

    private readonly struct WholeChannel<TPass>(TPass pass, int rows) : IKernelUnit where TPass : struct, IChannelPass
    {
        public void Run(int channel)
        {
            pass.Finish(channel, pass.Reduce(channel, 0, rows));
            if (pass.Applies)
                pass.Apply(channel, 0, rows);
        }
    }

    private readonly struct ReduceBlock<TPass>(TPass pass, ChannelBlocks blocks, double[] partials) : IKernelUnit where TPass : struct, IChannelPass
    {
        public void Run(int unit)
        {
            var (channel, firstRow, endRow) = blocks[unit];
            (partials[2 * unit], partials[2 * unit + 1]) = pass.Reduce(channel, firstRow, endRow);
        }
    }

    private readonly struct ApplyBlock<TPass>(TPass pass, ChannelBlocks blocks) : IKernelUnit where TPass : struct, IChannelPass
    {
        public void Run(int unit)
        {
            var (channel, firstRow, endRow) = blocks[unit];
            pass.Apply(channel, firstRow, endRow);
        }
    }

    private readonly struct ApplyRowBlock<TPass>(TPass pass, int rows, int units) : IKernelUnit where TPass : struct, IChannelPass
    {
        public void Run(int unit) => pass.ApplyRows((int)((long)unit * rows / units), (int)((long)(unit + 1) * rows / units));
    }

    /// <summary>Mean and biased variance, from sums shifted by the channel's first value (one read pass).</summary>
    private readonly struct StatisticsPass(PinnedSpan<float> x, NcsShape shape, PinnedSpan<double> mean, PinnedSpan<double> variance) : IChannelPass
    {
        public bool Applies => false;

        public double Mean(int channel) => mean.Span[channel];

        public double Variance(int channel) => variance.Span[channel];

        private double Shift(int channel) => x.Span[channel * shape.Spatial];

        public (double First, double Second) Reduce(int channel, int firstRow, int endRow)
        {
            var values = x.Span;
            double shift = Shift(channel), sum = 0, squares = 0;
            for (int n = firstRow; n < endRow; n++)
            {
                var (planeSum, planeSquares) = shape.Spatial == 1
                    ? Square(values[n * shape.Channels + channel] - shift)
                    : DoubleSums.ShiftedSums(shape.Plane(values, n, channel), shift);
                sum += planeSum;
                squares += planeSquares;
            }
            return (sum, squares);

            static (double, double) Square(double d) => (d, d * d);
        }

        public void ReduceRow(int row, Span<double> first, Span<double> second)
        {
            ReadOnlySpan<float> values = x.Span.Slice(row * shape.Channels, shape.Channels), shifts = x.Span[..shape.Channels];
            for (int c = 0; c < values.Length; c++)
            {
                double d = values[c] - (double)shifts[c];
                first[c] += d;
                second[c] += d * d;
            }
        }

        public void Finish(int channel, (double First, double Second) sums)
        {
            var moments = Statistics.Moments.FromShiftedSums(shape.ValuesPerChannel, Shift(channel), sums);
            mean.Span[channel] = moments.Mean;
            variance.Span[channel] = moments.PopulationVariance;
        }

        public void Apply(int channel, int firstRow, int endRow)
        {
        }

        public void ApplyRows(int firstRow, int endRow)
        {
        }
    }

    /// <summary>y = x · scale[c] + shift[c] with given coefficients.</summary>
    private readonly struct AffinePass(PinnedSpan<float> x, PinnedSpan<float> y, NcsShape shape, PinnedSpan<float> scale, PinnedSpan<float> shift) : IChannelPass
    {
        public bool Applies => true;

        public PinnedSpan<float> Scale => scale;

        public PinnedSpan<float> Shift => shift;

        public (double First, double Second) Reduce(int channel, int firstRow, int endRow) => default;

        public void ReduceRow(int row, Span<double> first, Span<double> second)
        {
        }

        public void Finish(int channel, (double First, double Second) sums)
        {
        }

        /// <summary>Feature vectors are interleaved pixels of C channels: against the coefficients laid out as a pattern.</summary>
        public void ApplyRows(int firstRow, int endRow)
        {
            int channels = shape.Channels, patternLength = ChannelAffine.PatternLength(channels);
            var patterns = ArrayPool<float>.Shared.Rent(2 * patternLength);
            try
            {
                Span<float> scalePattern = patterns.AsSpan(0, patternLength), shiftPattern = patterns.AsSpan(patternLength, patternLength);
                ChannelAffine.FillPattern<float>(scale.Span[..channels], scalePattern);
                ChannelAffine.FillPattern<float>(shift.Span[..channels], shiftPattern);
                var rows = new Range(firstRow * channels, endRow * channels);
                ChannelAffine.ApplyInterleaved(x.Span[rows], scalePattern, shiftPattern, y.Span[rows]);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(patterns);
            }
        }

        public void Apply(int channel, int firstRow, int endRow)
        {
            ReadOnlySpan<float> input = x.Span;
            var output = y.Span;
            float s = scale.Span[channel], t = shift.Span[channel];
            for (int n = firstRow; n < endRow; n++)
                ChannelAffine.Apply(shape.Plane(input, n, channel), s, t, shape.Plane(output, n, channel));
        }
    }

    /// <summary>Batch statistics, then scale = γ / √(σ² + ε) and shift = β − μ · scale, then the affine pass.</summary>
    private readonly struct ForwardPass(StatisticsPass statistics, AffinePass affine, PinnedSpan<float> gamma, PinnedSpan<float> beta, double epsilon,
        PinnedSpan<double> inverseStd) : IChannelPass
    {
        public bool Applies => true;

        public (double First, double Second) Reduce(int channel, int firstRow, int endRow) => statistics.Reduce(channel, firstRow, endRow);

        public void ReduceRow(int row, Span<double> first, Span<double> second) => statistics.ReduceRow(row, first, second);

        public void ApplyRows(int firstRow, int endRow) => affine.ApplyRows(firstRow, endRow);

        public void Finish(int channel, (double First, double Second) sums)
        {
            statistics.Finish(channel, sums);
            double istd = 1 / Math.Sqrt(statistics.Variance(channel) + epsilon);
            inverseStd.Span[channel] = istd;
            double s = gamma.Span[channel] * istd;
            affine.Scale.Span[channel] = (float)s;
            affine.Shift.Span[channel] = (float)(beta.Span[channel] - statistics.Mean(channel) * s);
        }

        public void Apply(int channel, int firstRow, int endRow) => affine.Apply(channel, firstRow, endRow);
    }

    /// <summary>
    /// Σ dy and Σ dy · x per channel, then dβ, dγ and dx = k · dy + p · (x − μ′) + q with k = γ · istd,
    /// p = −k · istd · Σdy·x̂ / M, μ′ = μ rounded to float and q = −k · Σdy / M + p · (μ′ − μ). Centring x before
    /// scaling keeps every term as small as dx: the uncentred p · x + q cancels terms of size k · |μ| · istd, which
    /// cost dx float rounding in proportion to |μ| / σ.
    /// </summary>
    private readonly struct BackwardPass(PinnedSpan<float> dy, PinnedSpan<float> x, PinnedSpan<float> dx, NcsShape shape, PinnedSpan<float> gamma,
        PinnedSpan<double> mean, PinnedSpan<double> inverseStd, PinnedSpan<float> gammaGradient, PinnedSpan<float> betaGradient,
        PinnedSpan<float> workspace) : IChannelPass
    {
        public bool Applies => true;

        public (double First, double Second) Reduce(int channel, int firstRow, int endRow)
        {
            ReadOnlySpan<float> gradient = dy.Span, input = x.Span;
            double sumDy = 0, sumDyX = 0;
            for (int n = firstRow; n < endRow; n++)
            {
                if (shape.Spatial == 1)
                {
                    int i = n * shape.Channels + channel;
                    sumDy += gradient[i];
                    sumDyX += (double)gradient[i] * input[i];
                    continue;
                }
                var (planeSum, planeDot) = DoubleSums.SumAndDot(shape.Plane(gradient, n, channel), shape.Plane(input, n, channel));
                sumDy += planeSum;
                sumDyX += planeDot;
            }
            return (sumDy, sumDyX);
        }

        public void ReduceRow(int row, Span<double> first, Span<double> second)
        {
            var rowRange = new Range(row * shape.Channels, (row + 1) * shape.Channels);
            ReadOnlySpan<float> gradient = dy.Span[rowRange], input = x.Span[rowRange];
            for (int c = 0; c < gradient.Length; c++)
            {
                first[c] += gradient[c];
                second[c] += (double)gradient[c] * input[c];
            }
        }

        public void ApplyRows(int firstRow, int endRow)
        {
            int channels = shape.Channels;
            ReadOnlySpan<float> coefficients = workspace.Span;
            var rented = ArrayPool<float>.Shared.Rent(channels);
            try
            {
                var centres = rented.AsSpan(0, channels);
                ReadOnlySpan<double> means = mean.Span;
                for (int c = 0; c < channels; c++)
                    centres[c] = (float)means[c];
                for (int row = firstRow; row < endRow; row++)
                {
                    var rowRange = new Range(row * channels, (row + 1) * channels);
                    var output = dx.Span[rowRange];
                    TensorPrimitives.Subtract(((ReadOnlySpan<float>)x.Span)[rowRange], centres, output);
                    TensorPrimitives.MultiplyAdd(output, coefficients.Slice(channels, channels), coefficients.Slice(2 * channels, channels), output);
                    TensorPrimitives.MultiplyAdd(((ReadOnlySpan<float>)dy.Span)[rowRange], coefficients[..channels], output, output);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(rented);
            }
        }

        public void Finish(int channel, (double First, double Second) sums)
        {
            var (sumDy, sumDyX) = sums;
            double mu = mean.Span[channel], istd = inverseStd.Span[channel];
            double sumDyXhat = istd * (sumDyX - mu * sumDy);
            betaGradient.Span[channel] += (float)sumDy;
            gammaGradient.Span[channel] += (float)sumDyXhat;

            double count = shape.ValuesPerChannel, k = gamma.Span[channel] * istd;
            double p = -k * istd * sumDyXhat / count;
            var coefficients = workspace.Span;
            coefficients[channel] = (float)k;
            coefficients[shape.Channels + channel] = (float)p;
            // The elementwise pass centres x on μ′ = (float)μ; q takes back p · (μ′ − μ).
            coefficients[2 * shape.Channels + channel] = (float)(-k * sumDy / count + p * ((float)mu - mu));
        }

        public void Apply(int channel, int firstRow, int endRow)
        {
            ReadOnlySpan<float> gradient = dy.Span, input = x.Span, coefficients = workspace.Span;
            var output = dx.Span;
            float k = coefficients[channel], p = coefficients[shape.Channels + channel], q = coefficients[2 * shape.Channels + channel];
            float centre = (float)mean.Span[channel];
            for (int n = firstRow; n < endRow; n++)
                FusedSpans.CenteredLinearCombination(shape.Plane(gradient, n, channel), k, shape.Plane(input, n, channel), centre, p, q, shape.Plane(output, n, channel));
        }
    }
}
