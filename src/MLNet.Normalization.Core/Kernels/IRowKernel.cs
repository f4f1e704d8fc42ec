namespace MLNet.Normalization.Kernels;

/// <summary>
/// A per-row computation over a float vector of fixed length. Implementations are immutable after
/// construction, so one instance serves every cursor and thread.
/// </summary>
internal interface IRowKernel
{
    /// <summary>The vector length the kernel was built for.</summary>
    int Length { get; }

    /// <summary>Writes the result for <paramref name="source"/> into <paramref name="destination"/>; the spans must not overlap.</summary>
    void Apply(ReadOnlySpan<float> source, Span<float> destination);
}
