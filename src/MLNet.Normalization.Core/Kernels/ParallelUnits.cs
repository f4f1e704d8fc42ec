namespace MLNet.Normalization.Kernels;

/// <summary>One independent piece of a kernel's work: a channel, a (channel, row block), a (row, group) or a GEMM output tile.</summary>
internal interface IKernelUnit
{
    void Run(int unit);
}

/// <summary>
/// Runs a kernel's units on the calling thread and, when the batch is large enough to repay waking the thread pool,
/// on pool threads too. Each unit writes only its own outputs and reduces its values in an order fixed by the
/// shape, so results are bit-identical for any thread count.
/// </summary>
internal static class ParallelUnits
{
    /// <summary>Elements below which a call stays on the calling thread: a pool wake-up costs microseconds.</summary>
    private const long DefaultMinimumParallelElements = 1 << 17;

    [ThreadStatic] private static int t_maxDegreeOfParallelism;
    [ThreadStatic] private static long t_minimumParallelElements;

    /// <summary>
    /// The most threads a call on this thread uses, in every kernel and the GEMM; 0 (the default) means
    /// <see cref="Environment.ProcessorCount"/>. For tests and measurements.
    /// </summary>
    internal static int MaxDegreeOfParallelism
    {
        get => t_maxDegreeOfParallelism;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            t_maxDegreeOfParallelism = value;
        }
    }

    /// <summary>The threads a call on this thread may use: <see cref="MaxDegreeOfParallelism"/>, or every processor.</summary>
    internal static int ThreadLimit => MaxDegreeOfParallelism == 0 ? Environment.ProcessorCount : MaxDegreeOfParallelism;

    /// <summary>Elements from which calls on this thread use several threads; 0 (the default) means 2¹⁷. For tests.</summary>
    internal static long MinimumParallelElements
    {
        get => t_minimumParallelElements == 0 ? DefaultMinimumParallelElements : t_minimumParallelElements;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            t_minimumParallelElements = value;
        }
    }

    /// <summary>Runs units 0 … <paramref name="units"/> − 1 of work that touches <paramref name="elements"/> values in all.</summary>
    public static void For<TUnit>(TUnit work, int units, long elements) where TUnit : struct, IKernelUnit
        => For(work, units, elements, MinimumParallelElements);

    /// <summary>
    /// Runs units 0 … <paramref name="units"/> − 1 of work costing <paramref name="cost"/> in all, on several threads
    /// only from <paramref name="minimumParallelCost"/>: for work whose cost is not the values it touches, such as
    /// the GEMM's floating-point operations, with the threshold measured for it.
    /// </summary>
    public static void For<TUnit>(TUnit work, int units, long cost, long minimumParallelCost) where TUnit : struct, IKernelUnit
    {
        int threads = cost < minimumParallelCost ? 1
            : Math.Min(units, ThreadLimit);
        if (threads <= 1)
        {
            for (int unit = 0; unit < units; unit++)
                work.Run(unit);
            return;
        }
        Parallel.For(0, units, new ParallelOptions { MaxDegreeOfParallelism = threads }, work.Run);
    }
}

/// <summary>
/// A span's memory seen from other threads. Build it only inside a <c>fixed</c> statement that pins the span, and
/// use it only until that statement ends.
/// </summary>
internal readonly unsafe struct PinnedSpan<T> where T : unmanaged
{
    private readonly T* _start;
    private readonly int _length;

    public PinnedSpan(T* start, int length)
    {
        _start = start;
        _length = length;
    }

    public Span<T> Span => new(_start, _length);

    public bool IsEmpty => _length == 0;
}
