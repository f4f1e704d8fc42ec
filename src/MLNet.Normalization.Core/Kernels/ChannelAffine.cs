using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MLNet.Normalization.Kernels;

/// <summary>
/// The per-channel affine map y = x · scale[c] + shift[c] on float data, with an optional reordering of interleaved
/// channels: the one elementwise primitive of the input transforms (<see cref="ChannelAffineKernel"/>), the
/// batch-norm apply and the per-sample norms. Each output is x · s rounded, plus t rounded (no fused multiply-add),
/// whatever the path, so every layout and thread count gives the same bits.
/// </summary>
/// <remarks>
/// Channels-first data is a contiguous run per channel with scalar coefficients (<see cref="Apply"/>). Interleaved
/// (channels-last) data repeats its C coefficients every C values; <see cref="FillPattern"/> repeats them over
/// <see cref="PatternLength"/> values, a whole number of vectors and of pixels, so <see cref="ApplyInterleaved"/> runs
/// whole vectors against pattern vectors. Both are hand loops over <see cref="Vector{T}"/>: TensorPrimitives has
/// no span · scalar + scalar overload, and its span-coefficient overloads read the coefficients as a third stream
/// (the former ChannelAffineKernel, at 0.5 of memory bandwidth where memory is fast).
/// </remarks>
internal static class ChannelAffine
{
    /// <summary>Floats a repeated coefficient pattern holds at most when the channels allow a shorter one: 4 KB, in L1.</summary>
    private const int MaxPatternLength = 1024;

    /// <summary>y[i] = x[i] · scale + shift: one channel's contiguous values (a channels-first plane).</summary>
    public static void Apply(ReadOnlySpan<float> x, float scale, float shift, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        ref float source = ref MemoryMarshal.GetReference(x);
        ref float destination = ref MemoryMarshal.GetReference(y);
        int n = x.Length, i = 0, step = Vector<float>.Count;
        if (Vector.IsHardwareAccelerated)
        {
            var s = new Vector<float>(scale);
            var t = new Vector<float>(shift);
            // Four vectors per step keep several loads in flight.
            for (; i <= n - 4 * step; i += 4 * step)
            {
                var x0 = Vector.LoadUnsafe(ref source, (nuint)i);
                var x1 = Vector.LoadUnsafe(ref source, (nuint)(i + step));
                var x2 = Vector.LoadUnsafe(ref source, (nuint)(i + 2 * step));
                var x3 = Vector.LoadUnsafe(ref source, (nuint)(i + 3 * step));
                Vector.StoreUnsafe(x0 * s + t, ref destination, (nuint)i);
                Vector.StoreUnsafe(x1 * s + t, ref destination, (nuint)(i + step));
                Vector.StoreUnsafe(x2 * s + t, ref destination, (nuint)(i + 2 * step));
                Vector.StoreUnsafe(x3 * s + t, ref destination, (nuint)(i + 3 * step));
            }
            for (; i <= n - step; i += step)
                Vector.StoreUnsafe(Vector.LoadUnsafe(ref source, (nuint)i) * s + t, ref destination, (nuint)i);
        }
        for (; i < n; i++)
            y[i] = x[i] * scale + shift;
    }

    /// <summary>
    /// The length of the coefficient pattern of <paramref name="channels"/> interleaved channels: the largest multiple
    /// of lcm(C, vector width) up to 1024 floats, so that a pattern is a whole number of pixels and of vectors; or C
    /// when lcm(C, vector width) exceeds that, and then the last C mod width values of each pixel run scalar.
    /// </summary>
    public static int PatternLength(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        int width = Vector.IsHardwareAccelerated ? Vector<float>.Count : 1;
        long period = (long)channels / Gcd(channels, width) * width;
        return period > MaxPatternLength ? channels : (int)(MaxPatternLength / period * period);
    }

    /// <summary>pattern[i] = perChannel[i mod C] over <see cref="PatternLength"/>(C) values.</summary>
    public static void FillPattern(ReadOnlySpan<float> perChannel, Span<float> pattern)
    {
        if (pattern.Length != PatternLength(perChannel.Length))
            throw new ArgumentException($"A pattern of {perChannel.Length} channels holds {PatternLength(perChannel.Length)} values, got {pattern.Length}.", nameof(pattern));
        for (int start = 0; start < pattern.Length; start += perChannel.Length)
            perChannel.CopyTo(pattern[start..]);
    }

    /// <summary>
    /// y[i] = x[i] · scalePattern[i mod P] + shiftPattern[i mod P], P the patterns' length (see <see cref="FillPattern"/>):
    /// interleaved pixels y[p·C + c] = x[p·C + c] · scale[c] + shift[c]. <paramref name="x"/> starts at a pixel.
    /// </summary>
    public static void ApplyInterleaved(ReadOnlySpan<float> x, ReadOnlySpan<float> scalePattern, ReadOnlySpan<float> shiftPattern, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        CheckLengths(scalePattern.Length, shiftPattern.Length);
        int period = scalePattern.Length;
        ref float scale = ref MemoryMarshal.GetReference(scalePattern);
        ref float shift = ref MemoryMarshal.GetReference(shiftPattern);
        for (int start = 0; start < x.Length; start += period)
        {
            int count = Math.Min(period, x.Length - start), i = 0;
            ref float source = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), start);
            ref float destination = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), start);
            if (Vector.IsHardwareAccelerated)
            {
                for (int step = Vector<float>.Count; i <= count - step; i += step)
                {
                    var s = Vector.LoadUnsafe(ref scale, (nuint)i);
                    var t = Vector.LoadUnsafe(ref shift, (nuint)i);
                    Vector.StoreUnsafe(Vector.LoadUnsafe(ref source, (nuint)i) * s + t, ref destination, (nuint)i);
                }
            }
            for (; i < count; i++)
                Unsafe.Add(ref destination, i) = Unsafe.Add(ref source, i) * Unsafe.Add(ref scale, i) + Unsafe.Add(ref shift, i);
        }
    }

    /// <summary>
    /// y[p·C + c] = x[p·C + source[c]] · scale[c] + shift[c]: <see cref="ApplyInterleaved"/> for pixels whose channels
    /// are read in another order (Caffe's RGB to BGR), with the reading order of <paramref name="reorder"/>.
    /// </summary>
    public static void ApplyInterleavedReordered(ReadOnlySpan<float> x, InterleavedReorder reorder, ReadOnlySpan<float> scalePattern, ReadOnlySpan<float> shiftPattern,
        Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        CheckLengths(scalePattern.Length, shiftPattern.Length);
        CheckLengths(scalePattern.Length, reorder.PatternLength);
        int period = scalePattern.Length, n = x.Length, width = reorder.VectorWidth;
        for (int start = 0; start < n; start += period)
        {
            int count = Math.Min(period, n - start);
            // Whole vectors, each at a multiple of its width in the pattern, whose reads x[j + ReadStart, j + ReadEnd)
            // stay inside x; the values before and after them (a pixel or two at each end of the data, the last
            // C mod width of a pattern of one pixel) run one at a time.
            int first = Math.Min(count, (Math.Max(0, -(start + reorder.ReadStart)) + width - 1) / width * width);
            int end = Math.Max(first, Math.Min(count, n - start - reorder.ReadEnd + width));
            var run = new PatternRun(start, scalePattern, shiftPattern);
            ApplyReorderedScalar(x, y, reorder, run, 0, first);
            int done = !Vector.IsHardwareAccelerated ? first
                : reorder.Permutes ? ApplyReorderedPermute(x, y, reorder, run, first, end)
                : ApplyReorderedBlend(x, y, reorder, run, first, end);
            ApplyReorderedScalar(x, y, reorder, run, done, count);
        }
    }

    /// <summary>The pattern run of the data that begins at value <see cref="Start"/>, with the coefficient patterns.</summary>
    private readonly ref struct PatternRun(int start, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift)
    {
        public int Start { get; } = start;
        public ReadOnlySpan<float> Scale { get; } = scale;
        public ReadOnlySpan<float> Shift { get; } = shift;
    }

    /// <summary>Values [<paramref name="from"/>, <paramref name="to"/>) of a pattern run, one at a time.</summary>
    private static void ApplyReorderedScalar(ReadOnlySpan<float> x, Span<float> y, InterleavedReorder reorder, PatternRun run, int from, int to)
    {
        for (int i = from; i < to; i++)
            y[run.Start + i] = x[run.Start + i + reorder.OffsetAt(i)] * run.Scale[i] + run.Shift[i];
    }

    /// <summary>
    /// Whole vectors of a pattern run from <paramref name="from"/> while they end by <paramref name="to"/>, each from
    /// two loads that cover its reads and one permute by the reorder's index pattern; returns where they stopped.
    /// Hand-written AVX2 because .NET 8 has no portable permute across lanes by a variable index: RGB to BGR then runs
    /// at the speed of the plain interleaved map, where the portable blend takes 1.2 to 1.5 times as long.
    /// </summary>
    private static int ApplyReorderedPermute(ReadOnlySpan<float> x, Span<float> y, InterleavedReorder reorder, PatternRun run, int from, int to)
    {
        ref float input = ref MemoryMarshal.GetReference(x);
        ref float output = ref MemoryMarshal.GetReference(y);
        ref float scale = ref MemoryMarshal.GetReference(run.Scale);
        ref float shift = ref MemoryMarshal.GetReference(run.Shift);
        ref int permutation = ref MemoryMarshal.GetArrayDataReference(reorder.Permutation);
        int i = from, step = Vector256<float>.Count;
        for (; i <= to - step; i += step)
        {
            int j = run.Start + i, read = j + reorder.ReadStart;
            // Lane k takes lane (index & 7) of the first load, or of the second where the index is negative.
            var index = Vector256.LoadUnsafe(ref permutation, (nuint)i);
            var first = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref input, (nuint)read), index);
            var second = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref input, (nuint)(read + step)), index);
            var value = Avx.BlendVariable(first, second, index.AsSingle());
            (value * Vector256.LoadUnsafe(ref scale, (nuint)i) + Vector256.LoadUnsafe(ref shift, (nuint)i)).StoreUnsafe(ref output, (nuint)j);
        }
        return i;
    }

    /// <summary>
    /// Whole vectors of a pattern run from <paramref name="from"/> while they end by <paramref name="to"/>: one load
    /// of x shifted by each distinct offset, blended by that offset's mask; returns where they stopped.
    /// </summary>
    private static int ApplyReorderedBlend(ReadOnlySpan<float> x, Span<float> y, InterleavedReorder reorder, PatternRun run, int from, int to)
    {
        ref float input = ref MemoryMarshal.GetReference(x);
        ref float output = ref MemoryMarshal.GetReference(y);
        ref float scale = ref MemoryMarshal.GetReference(run.Scale);
        ref float shift = ref MemoryMarshal.GetReference(run.Shift);
        ref int masks = ref MemoryMarshal.GetArrayDataReference(reorder.Masks);
        var offsets = reorder.Offsets;
        int i = from, step = Vector<float>.Count, period = run.Scale.Length;
        for (; i <= to - step; i += step)
        {
            int j = run.Start + i;
            var value = Vector.LoadUnsafe(ref input, (nuint)(j + offsets[0]));
            for (int o = 1; o < offsets.Length; o++)
                value = Vector.ConditionalSelect(Vector.LoadUnsafe(ref masks, (nuint)((o - 1) * period + i)), Vector.LoadUnsafe(ref input, (nuint)(j + offsets[o])), value);
            Vector.StoreUnsafe(value * Vector.LoadUnsafe(ref scale, (nuint)i) + Vector.LoadUnsafe(ref shift, (nuint)i), ref output, (nuint)j);
        }
        return i;
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    private static void CheckLengths(int x, int y)
    {
        if (x != y)
            throw new ArgumentException($"Spans of {x} and {y} values; the map needs equal lengths.");
    }
}

/// <summary>
/// The reading order of interleaved channels y[p·C + c] = x[p·C + source[c]] as offsets: value i of a pattern run
/// reads x[i + source[c] − c] with c = i mod C, so a vector of outputs reads a window of x around its own position.
/// Where that window fits in two 256-bit vectors and the hardware has AVX2 (RGB to BGR: offsets +2, 0, −2, a window
/// of 12), a vector is two loads and a permute by <see cref="Permutation"/>; otherwise one load per distinct offset,
/// blended by that offset's mask in <see cref="Masks"/>. Both patterns span <see cref="ChannelAffine.PatternLength"/> values.
/// </summary>
internal sealed class InterleavedReorder
{
    private readonly int[] _offsetOfChannel;

    public InterleavedReorder(ReadOnlySpan<int> sourceChannel)
    {
        int channels = sourceChannel.Length;
        _offsetOfChannel = new int[channels];
        for (int c = 0; c < channels; c++)
            _offsetOfChannel[c] = sourceChannel[c] - c;
        PatternLength = ChannelAffine.PatternLength(channels);
        int lowest = _offsetOfChannel.Min(), highest = _offsetOfChannel.Max(), window = Vector256<float>.Count;
        Permutes = Avx2.IsSupported && highest - lowest <= window && PatternLength % window == 0;
        if (Permutes)
        {
            // Lane k of the vector at i (a multiple of 8) reads x[i + k + offset] = lane k + offset − lowest of the
            // two loads from x[i + lowest]: bits 0-2 pick the lane, the sign bit the second load.
            ReadStart = lowest;
            ReadEnd = lowest + 2 * window;
            Permutation = new int[PatternLength];
            for (int i = 0; i < PatternLength; i++)
            {
                int lane = i % window + OffsetAt(i) - lowest;
                Permutation[i] = lane < window ? lane : (lane - window) | int.MinValue;
            }
            Offsets = [];
            Masks = [];
        }
        else
        {
            ReadStart = lowest;
            ReadEnd = highest + VectorWidth;
            Permutation = [];
            // The first offset is the base the others are blended into, each by its mask of PatternLength values.
            Offsets = _offsetOfChannel.Distinct().ToArray();
            Masks = new int[(Offsets.Length - 1) * PatternLength];
            for (int o = 1; o < Offsets.Length; o++)
                for (int i = 0; i < PatternLength; i++)
                    Masks[(o - 1) * PatternLength + i] = OffsetAt(i) == Offsets[o] ? -1 : 0;
        }
    }

    /// <summary>The length of the coefficient patterns this reorder goes with: <see cref="ChannelAffine.PatternLength"/>(C).</summary>
    public int PatternLength { get; }

    /// <summary>Whether vectors are permuted from a two-vector window (AVX2) rather than blended from shifted loads.</summary>
    public bool Permutes { get; }

    /// <summary>The values one vector handles: 8 for the permute, the <see cref="Vector{T}"/> width for the blend.</summary>
    public int VectorWidth => Permutes ? Vector256<float>.Count : Vector<float>.Count;

    /// <summary>The vector of outputs at value j reads x[j + <see cref="ReadStart"/>, j + <see cref="ReadEnd"/>).</summary>
    public int ReadStart { get; }

    /// <inheritdoc cref="ReadStart"/>
    public int ReadEnd { get; }

    /// <summary>The permute's index pattern: lane in bits 0-2, the second load in the sign bit.</summary>
    public int[] Permutation { get; }

    /// <summary>The distinct offsets source[c] − c of the blend, in channel order of first use.</summary>
    public int[] Offsets { get; }

    /// <summary>The blend's masks, one pattern per offset after the first.</summary>
    public int[] Masks { get; }

    /// <summary>The offset of value <paramref name="i"/> of a pattern run: source[c] − c, c = i mod C.</summary>
    public int OffsetAt(int i) => _offsetOfChannel[i % _offsetOfChannel.Length];
}
