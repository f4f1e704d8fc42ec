using System.Numerics.Tensors;
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>
/// The column matrix that turns a convolution of a block of images into one matrix product, and its adjoint.
/// Row r = (ci · k + kh) · k + kw of the matrix (C · k · k rows, PyTorch's weight order) holds, for image j of the
/// block and output position (oh, ow), the input value the window of (oh, ow) puts under weight (ci, kh, kw):
/// columns[r, j · HWout + oh · Wout + ow] = x[j, ci, oh · s − p + kh, ow · s − p + kw], 0 in the padding.
/// </summary>
internal static class Im2Col
{
    /// <summary>
    /// Writes the column matrix of <paramref name="images"/> images (C · k · k rows of images · HWout values) from
    /// <paramref name="input"/>, their rows of C · H · W values. Images are the units shared among threads.
    /// </summary>
    public static unsafe void Pack(SlidingWindow window, ReadOnlySpan<float> input, Span<float> columns, int images)
    {
        int rows = window.Input.Channels * window.KernelSize * window.KernelSize;
        int stride = images * window.OutputSpatial;
        fixed (float* pInput = input, pColumns = columns)
        {
            var unit = new PackUnit(window, new(pInput, images * window.Input.Size), new(pColumns, rows * stride), stride);
            ParallelUnits.For(unit, images, (long)rows * stride);
        }
    }

    /// <summary>
    /// Writes dL/dx of <paramref name="images"/> images from dL/dcolumns, the adjoint of <see cref="Pack"/>: each input
    /// value receives the sum of the column entries it was copied to, added in a fixed order (rows r, then output
    /// rows, then columns). Images are the units shared among threads, each writing only its own row of dx.
    /// </summary>
    public static unsafe void Unpack(SlidingWindow window, ReadOnlySpan<float> columns, Span<float> inputGradient, int images)
    {
        int rows = window.Input.Channels * window.KernelSize * window.KernelSize;
        int stride = images * window.OutputSpatial;
        fixed (float* pColumns = columns, pGradient = inputGradient)
        {
            var unit = new UnpackUnit(window, new(pColumns, rows * stride), new(pGradient, images * window.Input.Size), stride);
            ParallelUnits.For(unit, images, (long)rows * stride);
        }
    }

    private readonly record struct PackUnit(SlidingWindow Window, PinnedSpan<float> Input, PinnedSpan<float> Columns, int Stride) : IKernelUnit
    {
        public void Run(int image)
        {
            var w = Window;
            int k = w.KernelSize, s = w.Stride, p = w.Padding, height = w.Input.Height, width = w.Input.Width;
            int outputWidth = w.OutputWidth, outputSpatial = w.OutputSpatial;
            ReadOnlySpan<float> x = Input.Span.Slice(image * w.Input.Size, w.Input.Size);
            Span<float> columns = Columns.Span;
            for (int ci = 0; ci < w.Input.Channels; ci++)
            {
                var plane = x.Slice(ci * height * width, height * width);
                for (int kh = 0; kh < k; kh++)
                {
                    var (firstRow, endRow) = w.InsideRows(kh);
                    for (int kw = 0; kw < k; kw++)
                    {
                        int r = (ci * k + kh) * k + kw;
                        var block = columns.Slice(r * Stride + image * outputSpatial, outputSpatial);
                        var (first, end) = w.InsideColumns(kw);
                        if (first == end)
                        {
                            // The window's column kw stays in the padding for every output column.
                            block.Clear();
                            continue;
                        }
                        block[..(firstRow * outputWidth)].Clear();
                        block[(endRow * outputWidth)..].Clear();
                        for (int oh = firstRow; oh < endRow; oh++)
                        {
                            var destination = block.Slice(oh * outputWidth, outputWidth);
                            var source = plane.Slice((oh * s - p + kh) * width);
                            destination[..first].Clear();
                            destination[end..].Clear();
                            int column = first * s - p + kw;
                            if (s == 1)
                            {
                                source.Slice(column, end - first).CopyTo(destination[first..end]);
                            }
                            else
                            {
                                for (int ow = first; ow < end; ow++, column += s)
                                    destination[ow] = source[column];
                            }
                        }
                    }
                }
            }
        }
    }

    private readonly record struct UnpackUnit(SlidingWindow Window, PinnedSpan<float> Columns, PinnedSpan<float> Gradient, int Stride) : IKernelUnit
    {
        public void Run(int image)
        {
            var w = Window;
            int k = w.KernelSize, s = w.Stride, p = w.Padding, height = w.Input.Height, width = w.Input.Width;
            int outputWidth = w.OutputWidth, outputSpatial = w.OutputSpatial;
            ReadOnlySpan<float> columns = Columns.Span;
            Span<float> dx = Gradient.Span.Slice(image * w.Input.Size, w.Input.Size);
            dx.Clear();
            for (int ci = 0; ci < w.Input.Channels; ci++)
            {
                var plane = dx.Slice(ci * height * width, height * width);
                for (int kh = 0; kh < k; kh++)
                {
                    var (firstRow, endRow) = w.InsideRows(kh);
                    for (int kw = 0; kw < k; kw++)
                    {
                        int r = (ci * k + kh) * k + kw;
                        var block = columns.Slice(r * Stride + image * outputSpatial, outputSpatial);
                        var (first, end) = w.InsideColumns(kw);
                        if (first >= end)
                            continue;
                        for (int oh = firstRow; oh < endRow; oh++)
                        {
                            var source = block.Slice(oh * outputWidth + first, end - first);
                            var destination = plane.Slice((oh * s - p + kh) * width);
                            int column = first * s - p + kw;
                            if (s == 1)
                            {
                                var target = destination.Slice(column, end - first);
                                TensorPrimitives.Add(target, source, target);
                            }
                            else
                            {
                                for (int j = 0; j < source.Length; j++, column += s)
                                    destination[column] += source[j];
                            }
                        }
                    }
                }
            }
        }
    }
}
