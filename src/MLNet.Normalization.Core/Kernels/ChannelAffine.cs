using System.Numerics;
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
/// (channels-last) data repeats its C coefficients every C values: <see cref="FillPattern"/> lays them out
/// C + width − 1 long, so that the vector at any channel phase is one load, and <see cref="ApplyInterleaved"/> steps
/// the phase by width mod C per vector. All are hand loops over <see cref="Vector{T}"/>: TensorPrimitives has no
/// span · scalar + scalar overload, and its span-coefficient overloads read the coefficients as a third stream (the
/// former ChannelAffineKernel, at 0.5 of memory bandwidth where memory is fast). Stores start at a vector-aligned
/// address, so none straddles two cache lines.
/// </remarks>
internal static class ChannelAffine
{
    /// <summary>y[i] = x[i] · scale + shift: one channel's contiguous values (a channels-first plane).</summary>
    public static void Apply(ReadOnlySpan<float> x, float scale, float shift, Span<float> y)
    {
        CheckLengths(x.Length, y.Length);
        int n = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (int head = Math.Min(n, ValuesBeforeAlignment(y)); i < head; i++)
                y[i] = x[i] * scale + shift;
            ref float source = ref MemoryMarshal.GetReference(x);
            ref float destination = ref MemoryMarshal.GetReference(y);
            var s = new Vector<float>(scale);
            var t = new Vector<float>(shift);
            int step = Vector<float>.Count;
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
    /// The length of the coefficient pattern of <paramref name="channels"/> interleaved channels, C + width − 1:
    /// the vector of coefficients at channel phase k is values [k, k + width) of it.
    /// </summary>
    public static int PatternLength(int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        return channels + Vector<float>.Count - 1;
    }

    /// <summary>pattern[i] = perChannel[i mod C] over <see cref="PatternLength"/>(C) values.</summary>
    public static void FillPattern<T>(ReadOnlySpan<T> perChannel, Span<T> pattern)
    {
        if (pattern.Length != PatternLength(perChannel.Length))
            throw new ArgumentException($"A pattern of {perChannel.Length} channels holds {PatternLength(perChannel.Length)} values, got {pattern.Length}.", nameof(pattern));
        for (int start = 0; start < pattern.Length; start += perChannel.Length)
            perChannel[..Math.Min(perChannel.Length, pattern.Length - start)].CopyTo(pattern[start..]);
    }

    /// <summary>
    /// y[p·C + c] = x[p·C + c] · scale[c] + shift[c] over whole interleaved pixels, with the coefficients as
    /// <see cref="FillPattern"/> lays them out.
    /// </summary>
    public static void ApplyInterleaved(ReadOnlySpan<float> x, ReadOnlySpan<float> scalePattern, ReadOnlySpan<float> shiftPattern, Span<float> y)
    {
        int channels = ChannelsOf(x.Length, y.Length, scalePattern.Length, shiftPattern.Length);
        int n = x.Length, i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            for (int head = Math.Min(n, ValuesBeforeAlignment(y)); i < head; i++)
                y[i] = x[i] * scalePattern[i % channels] + shiftPattern[i % channels];
            ref float source = ref MemoryMarshal.GetReference(x);
            ref float destination = ref MemoryMarshal.GetReference(y);
            ref float scale = ref MemoryMarshal.GetReference(scalePattern);
            ref float shift = ref MemoryMarshal.GetReference(shiftPattern);
            int step = Vector<float>.Count, advance = step % channels, phase = i % channels;
            for (; i <= n - step; i += step)
            {
                var s = Vector.LoadUnsafe(ref scale, (nuint)phase);
                var t = Vector.LoadUnsafe(ref shift, (nuint)phase);
                Vector.StoreUnsafe(Vector.LoadUnsafe(ref source, (nuint)i) * s + t, ref destination, (nuint)i);
                phase += advance;
                if (phase >= channels)
                    phase -= channels;
            }
        }
        for (; i < n; i++)
            y[i] = x[i] * scalePattern[i % channels] + shiftPattern[i % channels];
    }

    /// <summary>
    /// y[p·C + c] = x[p·C + source[c]] · scale[c] + shift[c]: <see cref="ApplyInterleaved"/> for pixels whose channels
    /// are read in another order (Caffe's RGB to BGR), the order of <paramref name="reorder"/>.
    /// </summary>
    public static void ApplyInterleavedReordered(ReadOnlySpan<float> x, InterleavedReorder reorder, ReadOnlySpan<float> scalePattern, ReadOnlySpan<float> shiftPattern,
        Span<float> y)
    {
        int channels = ChannelsOf(x.Length, y.Length, scalePattern.Length, shiftPattern.Length);
        if (channels != reorder.Channels)
            throw new ArgumentException($"The coefficients are of {channels} channels, the reorder of {reorder.Channels}.", nameof(reorder));
        int n = x.Length, i = 0;
        if (reorder.Path != ReorderPath.OneAtATime)
        {
            // The first aligned vector whose reads x[i + ReadStart, i + ReadEnd) start inside x (a pixel or so in).
            i = Math.Min(n, ValuesBeforeAlignment(y));
            while (i < -reorder.ReadStart)
                i += reorder.VectorWidth;
            i = Math.Min(i, n);
            ApplyReorderedScalar(x, y, reorder, scalePattern, shiftPattern, 0, i);
            i = reorder.Path == ReorderPath.Permute
                ? ApplyReorderedPermute(x, y, reorder, scalePattern, shiftPattern, i)
                : ApplyReorderedBlend(x, y, reorder, scalePattern, shiftPattern, i);
        }
        ApplyReorderedScalar(x, y, reorder, scalePattern, shiftPattern, i, n);
    }

    /// <summary>Values [<paramref name="from"/>, <paramref name="to"/>), one at a time.</summary>
    private static void ApplyReorderedScalar(ReadOnlySpan<float> x, Span<float> y, InterleavedReorder reorder, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift,
        int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            int c = i % reorder.Channels;
            y[i] = x[i + reorder.OffsetPattern[c]] * scale[c] + shift[c];
        }
    }

    /// <summary>
    /// Vectors of 8 from <paramref name="from"/> while their reads stay inside x, each from two loads that cover its
    /// reads, permuted across lanes and blended; returns where they stopped. Hand-written AVX2 because .NET 8 has no
    /// portable permute across lanes by a variable index: RGB to BGR at 3 channels then takes 1.16 times the plain
    /// interleaved map's time, the portable blend of shifted loads 1.5 times, one value at a time 4.8 times.
    /// </summary>
    private static int ApplyReorderedPermute(ReadOnlySpan<float> x, Span<float> y, InterleavedReorder reorder, ReadOnlySpan<float> scalePattern,
        ReadOnlySpan<float> shiftPattern, int from)
    {
        ref float input = ref MemoryMarshal.GetReference(x);
        ref float output = ref MemoryMarshal.GetReference(y);
        ref float scale = ref MemoryMarshal.GetReference(scalePattern);
        ref float shift = ref MemoryMarshal.GetReference(shiftPattern);
        ref int offsets = ref MemoryMarshal.GetArrayDataReference(reorder.OffsetPattern);
        int channels = reorder.Channels, step = Vector256<float>.Count, advance = step % channels, phase = from % channels, i = from;
        var lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) - Vector256.Create(reorder.ReadStart);
        var firstLoad = Vector256.Create(step);
        for (; i <= x.Length - reorder.ReadEnd; i += step)
        {
            // Lane k reads x[i + k + offset], value index = k + offset − ReadStart of the two loads from x[i + ReadStart]:
            // the permute reads the index's low three bits, so lane index mod 8 of the first load or, from 8, the second.
            var index = lanes + Vector256.LoadUnsafe(ref offsets, (nuint)phase);
            int read = i + reorder.ReadStart;
            var first = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref input, (nuint)read), index);
            var second = Avx2.PermuteVar8x32(Vector256.LoadUnsafe(ref input, (nuint)(read + step)), index);
            var value = Vector256.ConditionalSelect(Vector256.LessThan(index, firstLoad).AsSingle(), first, second);
            (value * Vector256.LoadUnsafe(ref scale, (nuint)phase) + Vector256.LoadUnsafe(ref shift, (nuint)phase)).StoreUnsafe(ref output, (nuint)i);
            phase += advance;
            if (phase >= channels)
                phase -= channels;
        }
        return i;
    }

    /// <summary>
    /// Vectors from <paramref name="from"/> while their reads stay inside x: one load of x shifted by each distinct
    /// offset, each blended into the lanes whose channel reads at it; returns where they stopped.
    /// </summary>
    private static int ApplyReorderedBlend(ReadOnlySpan<float> x, Span<float> y, InterleavedReorder reorder, ReadOnlySpan<float> scalePattern,
        ReadOnlySpan<float> shiftPattern, int from)
    {
        ref float input = ref MemoryMarshal.GetReference(x);
        ref float output = ref MemoryMarshal.GetReference(y);
        ref float scale = ref MemoryMarshal.GetReference(scalePattern);
        ref float shift = ref MemoryMarshal.GetReference(shiftPattern);
        ref int offsetPattern = ref MemoryMarshal.GetArrayDataReference(reorder.OffsetPattern);
        var offsets = reorder.Offsets;
        int channels = reorder.Channels, step = Vector<float>.Count, advance = step % channels, phase = from % channels, i = from;
        for (; i <= x.Length - reorder.ReadEnd; i += step)
        {
            var laneOffsets = Vector.LoadUnsafe(ref offsetPattern, (nuint)phase);
            var value = Vector.LoadUnsafe(ref input, (nuint)(i + offsets[0]));
            for (int o = 1; o < offsets.Length; o++)
                value = Vector.ConditionalSelect(Vector.Equals(laneOffsets, new Vector<int>(offsets[o])), Vector.LoadUnsafe(ref input, (nuint)(i + offsets[o])), value);
            Vector.StoreUnsafe(value * Vector.LoadUnsafe(ref scale, (nuint)phase) + Vector.LoadUnsafe(ref shift, (nuint)phase), ref output, (nuint)i);
            phase += advance;
            if (phase >= channels)
                phase -= channels;
        }
        return i;
    }

    /// <summary>
    /// Values before the first whose address is a multiple of the vector size, from where no store straddles two
    /// cache lines. Should the array move after this, stores would only be slower.
    /// </summary>
    private static unsafe int ValuesBeforeAlignment(Span<float> y)
    {
        fixed (float* start = y)
        {
            nuint size = (nuint)Vector<byte>.Count;
            return (int)((size - (nuint)start % size) % size / sizeof(float));
        }
    }

    private static int ChannelsOf(int x, int y, int scalePattern, int shiftPattern)
    {
        CheckLengths(x, y);
        CheckLengths(scalePattern, shiftPattern);
        int channels = scalePattern - (Vector<float>.Count - 1);
        if (channels < 1 || x % channels != 0)
            throw new ArgumentException($"Coefficient patterns of {scalePattern} values (C + {Vector<float>.Count - 1}) do not fit {x} values of whole pixels.");
        return channels;
    }

    private static void CheckLengths(int x, int y)
    {
        if (x != y)
            throw new ArgumentException($"Spans of {x} and {y} values; the map needs equal lengths.");
    }
}

/// <summary>
/// The reading order of interleaved channels y[p·C + c] = x[p·C + source[c]] as offsets: value i reads
/// x[i + source[c] − c] with c = i mod C, so a vector of outputs reads a window of x around its own position.
/// Where that window fits in two 256-bit vectors and the hardware has AVX2 (RGB to BGR: offsets +2, 0, −2, a window
/// of 12), a vector is two loads and a permute; otherwise, with at most four distinct offsets, one load per offset
/// blended by the lanes that read at it; other orders (many channels read far apart) go one value at a time.
/// </summary>
internal sealed class InterleavedReorder
{
    /// <summary>Distinct offsets the blend takes at most: each costs a load and a blend per vector.</summary>
    private const int MaxBlendOffsets = 4;

    public InterleavedReorder(ReadOnlySpan<int> sourceChannel)
    {
        Channels = sourceChannel.Length;
        var offsetOfChannel = new int[Channels];
        for (int c = 0; c < Channels; c++)
            offsetOfChannel[c] = sourceChannel[c] - c;
        OffsetPattern = new int[ChannelAffine.PatternLength(Channels)];
        ChannelAffine.FillPattern<int>(offsetOfChannel, OffsetPattern);
        Offsets = offsetOfChannel.Distinct().ToArray();
        int lowest = Offsets.Min(), highest = Offsets.Max(), window = Vector256<float>.Count;
        Path = Avx2.IsSupported && highest - lowest <= window ? ReorderPath.Permute
            : Vector.IsHardwareAccelerated && Offsets.Length <= MaxBlendOffsets ? ReorderPath.Blend
            : ReorderPath.OneAtATime;
        ReadStart = lowest;
        ReadEnd = Path == ReorderPath.Permute ? lowest + 2 * window : highest + Vector<float>.Count;
    }

    public int Channels { get; }

    /// <summary>source[c] − c laid out as <see cref="ChannelAffine.FillPattern"/> lays out coefficients.</summary>
    public int[] OffsetPattern { get; }

    /// <summary>The distinct offsets, in channel order of first use.</summary>
    public int[] Offsets { get; }

    public ReorderPath Path { get; }

    /// <summary>The values one vector handles: 8 for the permute, the <see cref="Vector{T}"/> width for the blend.</summary>
    public int VectorWidth => Path == ReorderPath.Permute ? Vector256<float>.Count : Vector<float>.Count;

    /// <summary>The vector of outputs at value i reads x[i + <see cref="ReadStart"/>, i + <see cref="ReadEnd"/>).</summary>
    public int ReadStart { get; }

    /// <inheritdoc cref="ReadStart"/>
    public int ReadEnd { get; }
}

/// <summary>How <see cref="ChannelAffine.ApplyInterleavedReordered"/> reads reordered channels.</summary>
internal enum ReorderPath
{
    /// <summary>Two loads and a cross-lane permute per vector (AVX2).</summary>
    Permute,

    /// <summary>One load per distinct offset, blended by lane.</summary>
    Blend,

    /// <summary>One value at a time.</summary>
    OneAtATime,
}
