using System.Buffers;
using System.Numerics.Tensors;
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// A 2-D convolution as PyTorch's <c>F.conv2d</c> on NCHW float32 batches: y[n, co] = b[co] + Σ W[co, ci, kh, kw] ·
/// x[n, ci, oh · s − p + kh, ow · s − p + kw] (cross-correlation, zero padding), computed as im2col plus
/// <see cref="Gemm"/> one small block of images at a time, and its backward. The forward of short depths (Cin · k²
/// up to 54, stride 1: a first layer) runs <see cref="DirectConvolution"/> instead.
/// </summary>
/// <remarks>
/// <para>
/// A block is <see cref="BlockImages"/> images, few enough that its column matrix (<see cref="Im2Col"/>,
/// <see cref="Depth"/> rows of images · HWout values) and its product stay in the L2 cache between being written and
/// read: packing, multiplying and moving the product into the rows' (image, Cout, HWout) layout cost cache traffic
/// only. Blocks are the units <see cref="ParallelUnits"/> shares among threads, each running its products on its
/// own thread. The alternative, one product over the whole batch (a 288 × 12,544 column matrix at 32 → 64 channels on
/// 14 × 14, batch 64), leaves the GEMM a wider product to share, but its 14 MB column matrix and 3 MB product went
/// through memory: on one thread it measured 8.2–13.4 ms forward and 15.1–28.3 ms backward, where blocks of 2
/// images take 5.2–5.6 and 9.0–9.6 ms (best of 30–40 calls while other processes loaded the 2-core VM).
/// </para>
/// <para>
/// The backward's weight and bias gradients sum over every image. They are summed per group of blocks, the groups
/// fixed by the batch size alone (at most <see cref="MaxGroups"/>), each group's blocks in order into its own partial
/// sums, then the partial sums in group order: the same additions in the same order for any thread count, so results
/// are bit-identical whatever the threads.
/// </para>
/// </remarks>
/// <param name="Window">The window over the input: its shape, k, s and p.</param>
/// <param name="OutChannels">Cout.</param>
internal readonly record struct Convolution(SlidingWindow Window, int OutChannels)
{
    /// <summary>
    /// Columns (images · HWout) a block's product should reach, so that its register tiles are mostly full: 2 images
    /// of 14 × 14 (392 columns, 13 tiles of 32 of which the last is a quarter empty, against 7 of which the last is an
    /// eighth full for one image). At 32 → 64 channels, one thread, blocks of 2 images measured 5.2–5.3 ms forward
    /// against 5.5–5.6 ms for 1, and blocks of 3, 4, 6 or 11 images (a larger <see cref="ColumnBudget"/>) no faster.
    /// </summary>
    private const int MinimumBlockColumns = 256;

    /// <summary>The most values of a block's column matrix, unless one image needs more: 2¹⁷ (512 KB), a quarter of L2.</summary>
    private const int ColumnBudget = 1 << 17;

    /// <summary>The most groups the weight gradient is summed in: enough to keep 16 threads busy; their partial sums cost little.</summary>
    private const int MaxGroups = 16;

    /// <summary>Rows of the column matrix and depth of the forward product: Cin · k · k.</summary>
    public int Depth => Window.Input.Channels * Window.KernelSize * Window.KernelSize;

    /// <summary>The output's (Cout, Hout, Wout).</summary>
    public ImageShape Output => new(OutChannels, Window.OutputHeight, Window.OutputWidth);

    /// <summary>Images per block: enough for <see cref="MinimumBlockColumns"/> columns, within <see cref="ColumnBudget"/>, at least one.</summary>
    public int BlockImages
    {
        get
        {
            int spatial = Window.OutputSpatial;
            long wanted = (MinimumBlockColumns + spatial - 1) / spatial, fitting = ColumnBudget / ((long)Depth * spatial);
            return (int)Math.Max(1, Math.Min(wanted, fitting));
        }
    }

    /// <summary>2 · Cout · Cin · k² · HWout · rows: the forward's floating-point operations, and half the backward's.</summary>
    private long Flops(int rows) => 2L * OutChannels * Depth * Window.OutputSpatial * rows;

    /// <summary>y = conv(x, W) + b for <paramref name="rows"/> images; <paramref name="bias"/> is empty for none. Writes nothing but y.</summary>
    public unsafe void Forward(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> input, Span<float> output, int rows)
    {
        if (DirectConvolution.Applies(this))
        {
            DirectConvolution.Forward(this, weight, bias, input, output, rows);
            return;
        }
        int blockImages = BlockImages, blocks = (rows + blockImages - 1) / blockImages;
        fixed (float* pWeight = weight, pBias = bias, pInput = input, pOutput = output)
        {
            var unit = new ForwardBlock(this, new(pWeight, weight.Length), new(pBias, bias.Length), new(pInput, input.Length), new(pOutput, output.Length),
                rows, blockImages, SerialProducts: false);
            RunBlocks(unit, blocks, Flops(rows));
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward"/> from the input it saw: writes dx (not when <paramref name="inputGradient"/>
    /// is empty), and adds dL/dW to <paramref name="weightGradient"/> and dL/db to <paramref name="biasGradient"/> (empty for none).
    /// </summary>
    public unsafe void Backward(ReadOnlySpan<float> weight, ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int rows,
        Span<float> weightGradient, Span<float> biasGradient)
    {
        int blockImages = BlockImages, blocks = (rows + blockImages - 1) / blockImages, groups = Math.Min(blocks, MaxGroups);
        int weights = OutChannels * Depth;
        // Each group's dWᵀ (Depth × Cout) and db. dWᵀ = columns · dyᵀ fills the GEMM's 12-row register tiles where
        // dW = dy · columnsᵀ leaves a sixth of 64 rows empty and most of 9 columns: over the whole batch dWᵀ measured
        // 5.5 ms against 8.7 at 32 → 64 channels on 14 × 14, and 1.4 against 2.3 ms at 1 → 32 on 28 × 28.
        float[] weightSums = ArrayPool<float>.Shared.Rent(groups * weights), biasSums = ArrayPool<float>.Shared.Rent(groups * OutChannels);
        try
        {
            fixed (float* pWeight = weight, pInput = input, pOutputGradient = outputGradient, pInputGradient = inputGradient,
                pWeightSums = weightSums, pBiasSums = biasSums)
            {
                var unit = new BackwardGroup(this, new(pWeight, weight.Length), new(pInput, input.Length), new(pOutputGradient, outputGradient.Length),
                    new(pInputGradient, inputGradient.Length), new(pWeightSums, groups * weights), biasGradient.IsEmpty ? default : new(pBiasSums, groups * OutChannels),
                    rows, blockImages, blocks, groups, SerialProducts: false);
                RunBlocks(unit, groups, 2 * Flops(rows));
            }

            // The groups' sums in group order, then into the gradients (dW from its transpose).
            var total = weightSums.AsSpan(0, weights);
            for (int g = 1; g < groups; g++)
                TensorPrimitives.Add(total, weightSums.AsSpan(g * weights, weights), total);
            for (int r = 0; r < Depth; r++)
                for (int co = 0; co < OutChannels; co++)
                    weightGradient[co * Depth + r] += total[r * OutChannels + co];
            if (!biasGradient.IsEmpty)
            {
                for (int g = 1; g < groups; g++)
                    TensorPrimitives.Add(biasSums.AsSpan(0, OutChannels), biasSums.AsSpan(g * OutChannels, OutChannels), biasSums.AsSpan(0, OutChannels));
                TensorPrimitives.Add(biasGradient, biasSums.AsSpan(0, OutChannels), biasGradient);
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(weightSums);
            ArrayPool<float>.Shared.Return(biasSums);
        }
    }

    /// <summary>
    /// Runs the units: shared among threads, each unit's products on its own thread, when there are at least as many
    /// units as threads; otherwise one after the other on this thread, each product free to use every thread. The
    /// products give the same bits either way.
    /// </summary>
    private static void RunBlocks<TUnit>(TUnit unit, int units, long flops) where TUnit : struct, IBlockUnit<TUnit>
    {
        if (units > 1 && units >= ParallelUnits.ThreadLimit)
        {
            ParallelUnits.For(unit.WithSerialProducts(), units, flops, Gemm.MinimumParallelFlops);
            return;
        }
        for (int u = 0; u < units; u++)
            unit.Run(u);
    }

    private interface IBlockUnit<TSelf> : IKernelUnit where TSelf : struct, IBlockUnit<TSelf>
    {
        TSelf WithSerialProducts();
    }

    /// <summary>Keeps the products of a unit on its thread (it already runs beside the other units), then restores the limit.</summary>
    private readonly struct SerialScope : IDisposable
    {
        private readonly int _saved;
        private readonly bool _active;

        public SerialScope(bool active)
        {
            _active = active;
            _saved = ParallelUnits.MaxDegreeOfParallelism;
            if (active)
                ParallelUnits.MaxDegreeOfParallelism = 1;
        }

        public void Dispose()
        {
            if (_active)
                ParallelUnits.MaxDegreeOfParallelism = _saved;
        }
    }

    /// <summary>One block of images: its column matrix, the product with W, and the product moved into the rows with b.</summary>
    private readonly record struct ForwardBlock(Convolution Convolution, PinnedSpan<float> Weight, PinnedSpan<float> Bias, PinnedSpan<float> Input,
        PinnedSpan<float> Output, int Rows, int BlockImages, bool SerialProducts) : IBlockUnit<ForwardBlock>
    {
        public ForwardBlock WithSerialProducts() => this with { SerialProducts = true };

        public void Run(int block)
        {
            var c = Convolution;
            int first = block * BlockImages, images = Math.Min(BlockImages, Rows - first);
            int spatial = c.Window.OutputSpatial, positions = images * spatial, inputSize = c.Window.Input.Size, outputSize = c.Output.Size;
            var y = Output.Span.Slice(first * outputSize, images * outputSize);
            float[] columns = ArrayPool<float>.Shared.Rent(c.Depth * positions);
            float[]? product = images > 1 ? ArrayPool<float>.Shared.Rent(c.OutChannels * positions) : null;
            try
            {
                using var scope = new SerialScope(SerialProducts);
                Im2Col.Pack(c.Window, Input.Span.Slice(first * inputSize, images * inputSize), columns, images);
                // One image's product (Cout, HWout) is its row already.
                var result = product is null ? y : product.AsSpan(0, c.OutChannels * positions);
                Gemm.Multiply(Weight.Span, columns, result, c.OutChannels, positions, c.Depth);
                ReadOnlySpan<float> bias = Bias.Span;
                for (int image = 0; image < images; image++)
                    for (int co = 0; co < c.OutChannels; co++)
                    {
                        var source = result.Slice(co * positions + image * spatial, spatial);
                        var destination = y.Slice((image * c.OutChannels + co) * spatial, spatial);
                        if (!bias.IsEmpty)
                            TensorPrimitives.Add(source, bias[co], destination);
                        else if (product is not null)
                            source.CopyTo(destination);
                    }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(columns);
                if (product is not null)
                    ArrayPool<float>.Shared.Return(product);
            }
        }
    }

    /// <summary>
    /// One group of blocks, in order: each block's column matrix again, dy in the product's layout, the group's
    /// dWᵀ += columns · dyᵀ and db += Σ dy, then dcolumns = Wᵀ · dy and dx from it.
    /// </summary>
    private readonly record struct BackwardGroup(Convolution Convolution, PinnedSpan<float> Weight, PinnedSpan<float> Input, PinnedSpan<float> OutputGradient,
        PinnedSpan<float> InputGradient, PinnedSpan<float> WeightSums, PinnedSpan<float> BiasSums, int Rows, int BlockImages, int Blocks, int Groups,
        bool SerialProducts) : IBlockUnit<BackwardGroup>
    {
        public BackwardGroup WithSerialProducts() => this with { SerialProducts = true };

        public void Run(int group)
        {
            var c = Convolution;
            int spatial = c.Window.OutputSpatial, inputSize = c.Window.Input.Size, outputSize = c.Output.Size, weights = c.OutChannels * c.Depth;
            var weightSum = WeightSums.Span.Slice(group * weights, weights);
            Span<float> biasSum = BiasSums.IsEmpty ? [] : BiasSums.Span.Slice(group * c.OutChannels, c.OutChannels);
            biasSum.Clear();
            int firstBlock = (int)((long)group * Blocks / Groups), endBlock = (int)((long)(group + 1) * Blocks / Groups);
            int maxPositions = BlockImages * spatial;
            float[] columns = ArrayPool<float>.Shared.Rent(c.Depth * maxPositions);
            float[]? gradientBuffer = BlockImages > 1 ? ArrayPool<float>.Shared.Rent(c.OutChannels * maxPositions) : null;
            try
            {
                using var scope = new SerialScope(SerialProducts);
                for (int block = firstBlock; block < endBlock; block++)
                {
                    int first = block * BlockImages, images = Math.Min(BlockImages, Rows - first), positions = images * spatial;
                    var x = Input.Span.Slice(first * inputSize, images * inputSize);
                    var dy = OutputGradient.Span.Slice(first * outputSize, images * outputSize);
                    var blockColumns = columns.AsSpan(0, c.Depth * positions);
                    Im2Col.Pack(c.Window, x, blockColumns, images);

                    // dy as (Cout, images · HWout); one image's already is.
                    ReadOnlySpan<float> gradient = dy;
                    if (images > 1)
                    {
                        var moved = gradientBuffer.AsSpan(0, c.OutChannels * positions);
                        for (int image = 0; image < images; image++)
                            for (int co = 0; co < c.OutChannels; co++)
                                dy.Slice((image * c.OutChannels + co) * spatial, spatial).CopyTo(moved.Slice(co * positions + image * spatial, spatial));
                        gradient = moved;
                    }
                    for (int co = 0; co < biasSum.Length; co++)
                        biasSum[co] += TensorPrimitives.Sum(gradient.Slice(co * positions, positions));

                    Gemm.Multiply(blockColumns, gradient, weightSum, c.Depth, c.OutChannels, positions, transposeB: true, beta: block == firstBlock ? 0 : 1);
                    if (InputGradient.IsEmpty)
                        continue;
                    Gemm.Multiply(Weight.Span, gradient, blockColumns, c.Depth, positions, c.OutChannels, transposeA: true);
                    Im2Col.Unpack(c.Window, blockColumns, InputGradient.Span.Slice(first * inputSize, images * inputSize), images);
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(columns);
                if (gradientBuffer is not null)
                    ArrayPool<float>.Shared.Return(gradientBuffer);
            }
        }
    }
}
