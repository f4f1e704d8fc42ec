using System.Numerics.Tensors;
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// A 2-D convolution as PyTorch's <c>F.conv2d</c> on NCHW float32 batches: y[n, co] = b[co] + Σ W[co, ci, kh, kw] ·
/// x[n, ci, oh · s − p + kh, ow · s − p + kw] (cross-correlation, zero padding), computed as im2col plus
/// <see cref="Gemm"/> over a block of images at once, and its backward.
/// </summary>
/// <remarks>
/// <para>
/// One product per block of images rather than one per image: the block's column matrix (<see cref="Im2Col"/>,
/// <see cref="Depth"/> rows of images · HWout values) makes every product wide, so the GEMM shares it among threads
/// by output tiles and runs full register tiles, where one image's 14 × 14 output (196 columns) leaves an eighth of
/// each tile's width padding and its 7 MFLOP stay under the GEMM's threshold for a second thread. The price is
/// moving the product between the (Cout, images · HWout) layout of the GEMM and the (images, Cout, HWout) layout of
/// the rows, one contiguous run of HWout values per (image, channel): a copy at memory speed.
/// </para>
/// <para>
/// Blocks hold as many images as keep the column matrix within <see cref="ColumnBudget"/> values, so memory stays
/// bounded for large batches; the block size depends on the shape and batch size alone, never on threads, and the
/// weight gradient adds the blocks in order, so results are bit-identical for any thread count.
/// </para>
/// </remarks>
/// <param name="Window">The window over the input: its shape, k, s and p.</param>
/// <param name="OutChannels">Cout.</param>
internal readonly record struct Convolution(SlidingWindow Window, int OutChannels)
{
    /// <summary>
    /// Values of the column matrix a block may hold: 2²² (16 MB), the whole batch of 64 at either convolution of the
    /// Fashion-MNIST network (3.6 M values at 32 → 64 channels on 14 × 14).
    /// </summary>
    private const int ColumnBudget = 1 << 22;

    /// <summary>Rows of the column matrix and depth of the forward product: Cin · k · k.</summary>
    public int Depth => Window.Input.Channels * Window.KernelSize * Window.KernelSize;

    /// <summary>The output's (Cout, Hout, Wout).</summary>
    public ImageShape Output => new(OutChannels, Window.OutputHeight, Window.OutputWidth);

    /// <summary>Images per block for a batch of <paramref name="rows"/>: as many as <see cref="ColumnBudget"/> allows, at least one.</summary>
    public int BlockImages(int rows)
        => (int)Math.Clamp(ColumnBudget / ((long)Depth * Window.OutputSpatial), 1, rows);

    /// <summary>Values of the column matrix for a batch of <paramref name="rows"/>.</summary>
    public int ColumnsLength(int rows) => checked(Depth * BlockImages(rows) * Window.OutputSpatial);

    /// <summary>Values of the product in the GEMM's layout for a batch of <paramref name="rows"/>.</summary>
    public int ProductLength(int rows) => checked(OutChannels * BlockImages(rows) * Window.OutputSpatial);

    /// <summary>
    /// y = conv(x, W) + b for <paramref name="rows"/> images. <paramref name="columns"/> and <paramref name="product"/>
    /// are scratch of <see cref="ColumnsLength"/> and <see cref="ProductLength"/> values; afterwards
    /// <paramref name="columns"/> holds the last block's column matrix. <paramref name="bias"/> is empty for none.
    /// </summary>
    public void Forward(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, ReadOnlySpan<float> input, Span<float> output, int rows,
        Span<float> columns, Span<float> product)
    {
        int block = BlockImages(rows), inputSize = Window.Input.Size, outputSize = Output.Size, spatial = Window.OutputSpatial;
        for (int start = 0; start < rows; start += block)
        {
            int images = Math.Min(block, rows - start), positions = images * spatial;
            var x = input.Slice(start * inputSize, images * inputSize);
            var y = output.Slice(start * outputSize, images * outputSize);
            Im2Col.Pack(Window, x, columns, images);
            if (images == 1)
            {
                // One image's product is already its row: (Cout, HWout).
                Gemm.Multiply(weight, columns, y, OutChannels, positions, Depth);
                if (!bias.IsEmpty)
                    for (int c = 0; c < OutChannels; c++)
                        TensorPrimitives.Add(y.Slice(c * spatial, spatial), bias[c], y.Slice(c * spatial, spatial));
                continue;
            }
            var p = product[..(OutChannels * positions)];
            Gemm.Multiply(weight, columns, p, OutChannels, positions, Depth);
            Relayout(p, y, images, bias, toRows: true);
        }
    }

    /// <summary>
    /// The backward of <see cref="Forward"/>: dx, and dW += dyᵀ-products and db += Σ dy (db empty for none).
    /// <paramref name="columnsHoldBatch"/> says <paramref name="columns"/> still holds the column matrix of the whole
    /// batch (one block) from the forward; otherwise each block's is packed again. Afterwards <paramref name="columns"/>
    /// holds dL/dcolumns, not the column matrix.
    /// </summary>
    public void Backward(ReadOnlySpan<float> weight, ReadOnlySpan<float> input, ReadOnlySpan<float> outputGradient, Span<float> inputGradient, int rows,
        Span<float> weightGradient, Span<float> biasGradient, Span<float> columns, Span<float> product, bool columnsHoldBatch)
    {
        int block = BlockImages(rows), inputSize = Window.Input.Size, outputSize = Output.Size, spatial = Window.OutputSpatial;
        for (int start = 0; start < rows; start += block)
        {
            int images = Math.Min(block, rows - start), positions = images * spatial;
            var dy = outputGradient.Slice(start * outputSize, images * outputSize);
            if (!(columnsHoldBatch && images == rows))
                Im2Col.Pack(Window, input.Slice(start * inputSize, images * inputSize), columns, images);

            // dy in the GEMM's layout (Cout, images · HWout): one image's already is.
            ReadOnlySpan<float> gradient = dy;
            if (images > 1)
            {
                var p = product[..(OutChannels * positions)];
                Relayout(dy, p, images, [], toRows: false);
                gradient = p;
            }
            if (!biasGradient.IsEmpty)
                AddRowSums(gradient, biasGradient, positions);

            var c = columns[..(Depth * positions)];
            // dW += dy · columnsᵀ, then dcolumns = Wᵀ · dy into the columns' buffer, then dx from dcolumns.
            Gemm.Multiply(gradient, c, weightGradient, OutChannels, Depth, positions, transposeB: true, beta: 1);
            Gemm.Multiply(weight, gradient, c, Depth, positions, OutChannels, transposeA: true);
            Im2Col.Unpack(Window, c, inputGradient.Slice(start * inputSize, images * inputSize), images);
        }
    }

    /// <summary>
    /// Moves a block between the GEMM's layout (Cout, images · HWout) and the rows' (images, Cout, HWout), adding
    /// <paramref name="bias"/> on the way to the rows when it is not empty. Images are the units shared among threads.
    /// </summary>
    private unsafe void Relayout(ReadOnlySpan<float> source, Span<float> destination, int images, ReadOnlySpan<float> bias, bool toRows)
    {
        fixed (float* pSource = source, pDestination = destination, pBias = bias)
        {
            var unit = new RelayoutUnit(new(pSource, source.Length), new(pDestination, destination.Length), new(pBias, bias.Length),
                OutChannels, Window.OutputSpatial, images, toRows);
            ParallelUnits.For(unit, images, 2L * source.Length);
        }
    }

    /// <summary>sums[c] += Σ of row c of the (Cout, <paramref name="length"/>) matrix; channels are the units.</summary>
    private unsafe void AddRowSums(ReadOnlySpan<float> matrix, Span<float> sums, int length)
    {
        fixed (float* pMatrix = matrix, pSums = sums)
        {
            var unit = new RowSumUnit(new(pMatrix, matrix.Length), new(pSums, sums.Length), length);
            ParallelUnits.For(unit, OutChannels, (long)OutChannels * length);
        }
    }

    private readonly record struct RelayoutUnit(PinnedSpan<float> Source, PinnedSpan<float> Destination, PinnedSpan<float> Bias,
        int Channels, int Spatial, int Images, bool ToRows) : IKernelUnit
    {
        public void Run(int image)
        {
            ReadOnlySpan<float> source = Source.Span, bias = Bias.Span;
            Span<float> destination = Destination.Span;
            int positions = Images * Spatial;
            for (int c = 0; c < Channels; c++)
            {
                int gemmOffset = c * positions + image * Spatial, rowOffset = (image * Channels + c) * Spatial;
                if (!ToRows)
                {
                    source.Slice(rowOffset, Spatial).CopyTo(destination.Slice(gemmOffset, Spatial));
                    continue;
                }
                var run = source.Slice(gemmOffset, Spatial);
                if (bias.IsEmpty)
                    run.CopyTo(destination.Slice(rowOffset, Spatial));
                else
                    TensorPrimitives.Add(run, bias[c], destination.Slice(rowOffset, Spatial));
            }
        }
    }

    private readonly record struct RowSumUnit(PinnedSpan<float> Matrix, PinnedSpan<float> Sums, int Length) : IKernelUnit
    {
        public void Run(int row) => Sums.Span[row] += TensorPrimitives.Sum(Matrix.Span.Slice(row * Length, Length));
    }
}
