using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using MLNet.Normalization.Kernels;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Benchmarks;

/// <summary>
/// One (N, C, H, W) float batch and every buffer the kernel benchmarks write into, allocated and filled once with a
/// fixed seed; plus the streaming multiply-add that is the bandwidth reference of every kernel benchmark.
/// </summary>
internal sealed class KernelBatch
{
    public readonly NcsShape Shape;
    public readonly float[] X, Y, Dy, Dx;
    public readonly float[] Gamma, Beta, GammaElements, BetaElements;
    public readonly double[] Mean, Variance, InverseStd, RowMean, RowInverseStd;
    public readonly float[] Scale, Shift, GammaGradient, BetaGradient, Workspace;
    public readonly int Groups;
    /// <summary>The ImageNet-like map over a row as (C, H, W) planes, as (H, W, C) pixels, and as pixels with the first three channels read in reverse (Caffe's RGB to BGR).</summary>
    public readonly ChannelAffineKernel Affine, AffineInterleaved, AffineInterleavedBgr;

    /// <param name="shape">"NxCxHxW", e.g. "32x3x224x224".</param>
    public KernelBatch(string shape)
    {
        var dims = shape.Split('x').Select(int.Parse).ToArray();
        Shape = new NcsShape(dims[0], dims[1], dims[2] * dims[3]);
        int channels = Shape.Channels;
        var random = new Random(20240601);
        X = Filled(random, Shape.Length, -2, 3);
        Dy = Filled(random, Shape.Length, -1, 1);
        Y = new float[Shape.Length];
        Dx = new float[Shape.Length];
        Gamma = Filled(random, channels, 0.5f, 1.5f);
        Beta = Filled(random, channels, -0.5f, 0.5f);
        GammaElements = Filled(random, Shape.RowLength, 0.5f, 1.5f);
        BetaElements = Filled(random, Shape.RowLength, -0.5f, 0.5f);
        Mean = new double[channels];
        Variance = new double[channels];
        InverseStd = new double[channels];
        Scale = Filled(random, channels, 0.5f, 1.5f);
        Shift = Filled(random, channels, -0.5f, 0.5f);
        GammaGradient = new float[channels];
        BetaGradient = new float[channels];
        Workspace = new float[3 * channels];
        RowMean = new double[Shape.Rows * channels];
        RowInverseStd = new double[Shape.Rows * channels];
        Groups = GroupsFor(channels);

        // An ImageNet-like per-channel map: y = (x / 255 − mean[c]) / std[c].
        var scale = new double[channels];
        var shift = new double[channels];
        for (int c = 0; c < channels; c++)
        {
            double m = 0.4 + 0.1 * random.NextDouble(), s = 0.2 + 0.05 * random.NextDouble();
            scale[c] = 1 / (255 * s);
            shift[c] = -m / s;
        }
        Affine = new ChannelAffineKernel(new ChannelAffineMap(scale, shift), new ChannelGeometry(channels, Shape.Spatial, ChannelLayout.ChannelsFirst));
        AffineInterleaved = new ChannelAffineKernel(new ChannelAffineMap(scale, shift), new ChannelGeometry(channels, Shape.Spatial, ChannelLayout.ChannelsLast));
        int[] bgr = [2, 1, 0, .. Enumerable.Range(3, channels - 3)];
        AffineInterleavedBgr = new ChannelAffineKernel(new ChannelAffineMap(scale, shift, bgr), new ChannelGeometry(channels, Shape.Spatial, ChannelLayout.ChannelsLast));
    }

    /// <summary>Rows [<paramref name="first"/>, <paramref name="end"/>) of a batch-sized buffer.</summary>
    public Span<float> Rows(float[] buffer, int first, int end) => buffer.AsSpan(first * Shape.RowLength, (end - first) * Shape.RowLength);

    /// <summary>Group count of the group-norm case: min(32, C), lowered until it divides C (32 for C = 64, 3 for C = 3).</summary>
    private static int GroupsFor(int channels)
    {
        int groups = Math.Min(32, channels);
        while (channels % groups != 0)
            groups--;
        return groups;
    }

    public static float[] Filled(Random random, int length, float low, float high)
    {
        var values = new float[length];
        for (int i = 0; i < values.Length; i++)
            values[i] = low + (high - low) * random.NextSingle();
        return values;
    }

    /// <summary>y[i] = x[i] · a + b, 4 × Vector256 per step: the bandwidth reference.</summary>
    public static void StreamingMultiplyAdd(ReadOnlySpan<float> x, Span<float> y, float a, float b)
    {
        ref float source = ref MemoryMarshal.GetReference(x);
        ref float destination = ref MemoryMarshal.GetReference(y);
        var va = Vector256.Create(a);
        var vb = Vector256.Create(b);
        int n = x.Length, i = 0, step = Vector256<float>.Count;
        for (; i <= n - 4 * step; i += 4 * step)
        {
            var x0 = Vector256.LoadUnsafe(ref source, (nuint)i);
            var x1 = Vector256.LoadUnsafe(ref source, (nuint)(i + step));
            var x2 = Vector256.LoadUnsafe(ref source, (nuint)(i + 2 * step));
            var x3 = Vector256.LoadUnsafe(ref source, (nuint)(i + 3 * step));
            Vector256.FusedMultiplyAdd(x0, va, vb).StoreUnsafe(ref destination, (nuint)i);
            Vector256.FusedMultiplyAdd(x1, va, vb).StoreUnsafe(ref destination, (nuint)(i + step));
            Vector256.FusedMultiplyAdd(x2, va, vb).StoreUnsafe(ref destination, (nuint)(i + 2 * step));
            Vector256.FusedMultiplyAdd(x3, va, vb).StoreUnsafe(ref destination, (nuint)(i + 3 * step));
        }
        for (; i < n; i++)
            y[i] = MathF.FusedMultiplyAdd(x[i], a, b);
    }

    /// <summary>
    /// The streaming reference with non-temporal stores (y bypasses the caches and is not read for ownership):
    /// scalar steps until y is 32-byte aligned, then aligned non-temporal vector stores.
    /// </summary>
    public static unsafe void StreamingMultiplyAddNonTemporal(ReadOnlySpan<float> x, Span<float> y, float a, float b)
    {
        fixed (float* source = x)
        fixed (float* destination = y)
        {
            var va = Vector256.Create(a);
            var vb = Vector256.Create(b);
            int n = x.Length, i = 0, step = Vector256<float>.Count;
            for (; i < n && ((nuint)(destination + i) & 31) != 0; i++)
                destination[i] = MathF.FusedMultiplyAdd(source[i], a, b);
            for (; i <= n - step; i += step)
                Vector256.FusedMultiplyAdd(Vector256.Load(source + i), va, vb).StoreAlignedNonTemporal(destination + i);
            for (; i < n; i++)
                destination[i] = MathF.FusedMultiplyAdd(source[i], a, b);
        }
    }
}
