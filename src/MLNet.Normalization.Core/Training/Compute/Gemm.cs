using System.Buffers;
using System.Diagnostics;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
#if NET9_0_OR_GREATER
using System.Runtime.Intrinsics.Arm;
#endif
using System.Runtime.Intrinsics.X86;
using MLNet.Normalization.Kernels;

namespace MLNet.Normalization.Training.Compute;

/// <summary>The micro-kernel a <see cref="Gemm"/> call runs on.</summary>
internal enum GemmKernel
{
    /// <summary>The fastest the hardware supports.</summary>
    Automatic,

    /// <summary><see cref="Vector{T}"/> code that runs everywhere.</summary>
    Portable,

    /// <summary>Vector256 with FMA, a 6 × 16 register tile.</summary>
    Avx2,

    /// <summary>Vector512 with FMA, a 12 × 32 register tile.</summary>
    Avx512,
}

/// <summary>
/// Row-major single-precision matrix multiply, C = α·op(A)·op(B) + β·C, for the trainer's dense layers.
/// </summary>
/// <remarks>
/// <para>
/// Each element is computed the same way whatever the kernel, block sizes, thread count or scheduling:
/// s = Σₖ op(A)ᵢₖ·op(B)ₖⱼ as one fused multiply-add chain in increasing k starting from 0, then c = α·s, plus β·c
/// (each product rounded, then the sum) when β ≠ 0. β = 0 overwrites C, NaN included, as BLAS does. Threads split
/// only the output, never k, so results are bit-identical run to run and across thread counts; on hardware with FMA
/// they are also bit-identical across kernels.
/// </para>
/// <para>
/// Layout as in BLIS: op(A) is packed into panels of the kernel's height and op(B) into panels of its width, depth
/// block by depth block, so the register-tile kernel streams both contiguously, a B panel staying in L1 while it
/// meets every A panel of a row block held in L2. Work is split in chunks (a row block by a group of B panels).
/// Spans cannot cross threads, so the calling thread does all reading of A, B and C: it packs chunk by chunk while
/// helper threads compute the chunks already packed into a scratch buffer, which the caller then folds into C.
/// Buffers come from <see cref="ArrayPool{T}"/> and the helpers are kept, so steady-state calls allocate nothing.
/// </para>
/// </remarks>
internal static class Gemm
{
    /// <summary>Columns of a packed B block, bounding the packed B and scratch buffers.</summary>
    private const int ColumnBlock = 2048;

    /// <summary>Rows of A a chunk of work covers, about 140 KB of packed A at full depth: stays in L2.</summary>
    private const int RowBlockTarget = 144;

    /// <summary>Values of packed A and B held at once: all of k for the trainer's shapes, so one pass and one wait.</summary>
    private const int PackingBudget = 1 << 22;

    /// <summary>Multiply-adds below which a call stays on the calling thread: waking helpers costs microseconds.</summary>
    private const long DefaultMinimumParallelWork = 1L << 23;

    [ThreadStatic] private static GemmKernel t_kernelOverride;
    [ThreadStatic] private static long t_minimumParallelWorkOverride;
    [ThreadStatic] private static Job? t_job;

    /// <summary>
    /// The kernel calls on this thread use; <see cref="GemmKernel.Automatic"/> (the default) picks the fastest supported.
    /// For tests and measurements.
    /// </summary>
    internal static GemmKernel KernelOverride
    {
        get => t_kernelOverride;
        set
        {
            if (!IsSupported(value))
                throw new PlatformNotSupportedException($"The {value} GEMM kernel is not supported on this machine.");
            t_kernelOverride = value;
        }
    }

    /// <summary>
    /// Multiply-adds (m·n·k) from which calls on this thread use several threads; 0 (the default) means 2²³.
    /// For tests, to force the multi-threaded path on small products.
    /// </summary>
    internal static long MinimumParallelWork
    {
        get => t_minimumParallelWorkOverride == 0 ? DefaultMinimumParallelWork : t_minimumParallelWorkOverride;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            t_minimumParallelWorkOverride = value;
        }
    }

    /// <summary>Whether <paramref name="kernel"/> runs on this machine.</summary>
    internal static bool IsSupported(GemmKernel kernel) => kernel switch
    {
        GemmKernel.Automatic or GemmKernel.Portable => true,
        GemmKernel.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        GemmKernel.Avx512 => Avx512F.IsSupported && Vector512.IsHardwareAccelerated,
        _ => false,
    };

    /// <summary>C = α·op(A)·op(B) + β·C, all row-major.</summary>
    /// <param name="a">A: m × k, or k × m when <paramref name="transposeA"/>.</param>
    /// <param name="b">B: k × n, or n × k when <paramref name="transposeB"/>.</param>
    /// <param name="c">C: m × n; read only when <paramref name="beta"/> ≠ 0.</param>
    /// <param name="m">Rows of op(A) and of C.</param>
    /// <param name="n">Columns of op(B) and of C.</param>
    /// <param name="k">Columns of op(A), rows of op(B): the length of each dot product.</param>
    /// <param name="transposeA">Whether op(A) = Aᵀ.</param>
    /// <param name="transposeB">Whether op(B) = Bᵀ.</param>
    /// <param name="alpha">α, scaling the product.</param>
    /// <param name="beta">β, scaling the existing C; 0 overwrites C without reading it.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative.</exception>
    /// <exception cref="ArgumentException">A span is shorter than its matrix.</exception>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transposeA = false, bool transposeB = false, float alpha = 1, float beta = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckLength(a.Length, nameof(a), "A", transposeA ? k : m, transposeA ? m : k, transposeA);
        CheckLength(b.Length, nameof(b), "B", transposeB ? n : k, transposeB ? k : n, transposeB);
        CheckLength(c.Length, nameof(c), "C", m, n, transposed: false);
        if (m == 0 || n == 0)
            return;
        c = c[..(m * n)];
        if (k == 0 || alpha == 0)
        {
            // Nothing to multiply: C = β·C, without touching A or B (as BLAS).
            if (beta == 0)
                c.Clear();
            else if (beta != 1)
                Scale(c, beta);
            return;
        }

        var job = t_job ??= new Job();
        var kernel = KernelOverride == GemmKernel.Automatic ? FastestKernel : KernelOverride;
        switch (kernel)
        {
            case GemmKernel.Avx512:
                Run<Avx512Kernel>(job, a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
                break;
            case GemmKernel.Avx2:
                Run<Avx2Kernel>(job, a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
                break;
            default:
                Run<PortableKernel>(job, a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
                break;
        }
    }

    private static GemmKernel FastestKernel { get; } =
        IsSupported(GemmKernel.Avx512) ? GemmKernel.Avx512 : IsSupported(GemmKernel.Avx2) ? GemmKernel.Avx2 : GemmKernel.Portable;

    /// <summary>Checks a span holds its stored rows × columns matrix; the message is built only on failure.</summary>
    private static void CheckLength(int actual, string parameter, string matrix, int storedRows, int storedColumns, bool transposed)
    {
        long required = (long)storedRows * storedColumns;
        if (actual >= required && required <= Array.MaxLength)
            return;
        string shape = $"{matrix} (stored {storedRows} × {storedColumns}{(transposed ? ", transposed" : "")})";
        throw new ArgumentException(required > Array.MaxLength
            ? $"{shape} has {required} values, more than a span can hold."
            : $"{shape} needs {required} values, but the span holds {actual}.", parameter);
    }

    private static void Scale(Span<float> values, float factor)
        => TensorPrimitives.Multiply(values, factor, values);

    /// <summary>Where the running sums of a tile wait between depth blocks.</summary>
    private enum SumLocation
    {
        /// <summary>One depth block: the sums go straight from registers to the result.</summary>
        None,

        /// <summary>In C itself: single-threaded with β = 0, so C's old values are not needed.</summary>
        Output,

        /// <summary>In <see cref="Job.Scratch"/>, laid out as the current column block of C.</summary>
        Scratch,
    }

    /// <summary>
    /// What the caller and helper threads share for one call: sizes, the current block, packed operands, scratch
    /// and the queue of chunks. A chunk is one block of rows by one group of kernel-wide column panels, over all
    /// the depth blocks packed at once.
    /// </summary>
    private sealed class Job
    {
        public GemmKernel Kernel;
        public int M, N, K;
        public float Alpha, Beta;
        public SumLocation Sums;
        public int DepthBlock;

        // The block being computed: columns [ColumnStart, ColumnStart + Columns) over depth [DepthStart, DepthStart + Depth).
        public int ColumnStart, Columns, DepthStart, Depth;

        // Packed A holds PaddedRows × Depth values, packed B PaddedColumns × Depth, depth block after depth block.
        public int PaddedRows, PaddedColumns;

        public int RowBlock, RowBlocks, ColumnPanels, PanelsPerGroup, ColumnGroups, ChunkCount;
        public int NextChunk;

        /// <summary>Chunks, in order, whose operands the caller has packed: helpers wait for theirs.</summary>
        public int PackedChunks;

        public float[] PackedA = [], PackedB = [], Scratch = [];

        /// <summary>Per chunk of the current column block: whether a helper finished it into <see cref="Scratch"/>, and whether it is folded into C.</summary>
        public ChunkState[] ChunkStates = [];

        public Exception? HelperFailure;

        public void Release()
        {
            ReturnToPool(ref PackedA);
            ReturnToPool(ref PackedB);
            ReturnToPool(ref Scratch);
            if (ChunkStates.Length > 0)
                ArrayPool<ChunkState>.Shared.Return(ChunkStates);
            ChunkStates = [];
            HelperFailure = null;

            static void ReturnToPool(ref float[] buffer)
            {
                if (buffer.Length > 0)
                    ArrayPool<float>.Shared.Return(buffer);
                buffer = [];
            }
        }
    }

    private static void Run<TKernel>(Job job, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transposeA, bool transposeB, float alpha, float beta)
        where TKernel : struct, IMicroKernel
    {
        int rows = TKernel.Rows, columns = TKernel.Columns;
        int depthBlock = Math.Min(k, TKernel.DepthBlock);
        int columnBlock = Math.Min(n, ColumnBlock);
        int paddedRows = (m + rows - 1) / rows * rows;
        int maxColumnPanels = (columnBlock + columns - 1) / columns;

        // Row blocks of equal size, whole kernel panels, near the L2-sized target.
        int rowBlocks = (m + RowBlockTarget - 1) / RowBlockTarget;
        int rowBlock = (paddedRows / rows + rowBlocks - 1) / rowBlocks * rows;
        rowBlocks = (m + rowBlock - 1) / rowBlock;

        // As much depth as the packing budget allows, in whole depth blocks: usually all of k, so one pass.
        long blocksInBudget = Math.Max(1, PackingBudget / ((long)(paddedRows + maxColumnPanels * columns) * depthBlock));
        int depthSpan = (int)Math.Min(blocksInBudget * depthBlock, k);

        int threads = 1;
        var pool = HelperPool.Instance;
        bool pooled = false;
        if ((long)m * n * k >= MinimumParallelWork)
        {
            threads = Math.Min(ParallelUnits.ThreadLimit, rowBlocks * maxColumnPanels);
            // One call at a time uses the helpers; a concurrent call computes the same result on its own thread.
            if (threads > 1 && !(pooled = Monitor.TryEnter(pool.CallLock)))
                threads = 1;
        }

        try
        {
            int chunksWanted = threads == 1 ? 1 : 8 * threads;
            job.Kernel = typeof(TKernel) == typeof(Avx512Kernel) ? GemmKernel.Avx512
                : typeof(TKernel) == typeof(Avx2Kernel) ? GemmKernel.Avx2 : GemmKernel.Portable;
            job.M = m;
            job.N = n;
            job.K = k;
            job.Alpha = alpha;
            job.Beta = beta;
            job.DepthBlock = depthBlock;
            job.PaddedRows = paddedRows;
            job.RowBlock = rowBlock;
            job.RowBlocks = rowBlocks;
            job.Sums = k <= depthBlock ? SumLocation.None
                : threads == 1 && beta == 0 ? SumLocation.Output : SumLocation.Scratch;
            job.PackedA = ArrayPool<float>.Shared.Rent(paddedRows * depthSpan);
            job.PackedB = ArrayPool<float>.Shared.Rent(maxColumnPanels * columns * depthSpan);
            if (job.Sums == SumLocation.Scratch || threads > 1)
                job.Scratch = ArrayPool<float>.Shared.Rent(m * columnBlock);
            job.ChunkStates = ArrayPool<ChunkState>.Shared.Rent(rowBlocks * maxColumnPanels);

            for (int columnStart = 0; columnStart < n; columnStart += columnBlock)
            {
                job.ColumnStart = columnStart;
                job.Columns = Math.Min(columnBlock, n - columnStart);
                job.ColumnPanels = (job.Columns + columns - 1) / columns;
                job.PaddedColumns = job.ColumnPanels * columns;
                job.ColumnGroups = Math.Clamp((chunksWanted + rowBlocks - 1) / rowBlocks, 1, job.ColumnPanels);
                job.PanelsPerGroup = (job.ColumnPanels + job.ColumnGroups - 1) / job.ColumnGroups;
                job.ColumnGroups = (job.ColumnPanels + job.PanelsPerGroup - 1) / job.PanelsPerGroup;
                job.ChunkCount = rowBlocks * job.ColumnGroups;
                job.ChunkStates.AsSpan(0, job.ChunkCount).Clear();
                for (int depthStart = 0; depthStart < k; depthStart += depthSpan)
                {
                    job.DepthStart = depthStart;
                    job.Depth = Math.Min(depthSpan, k - depthStart);
                    RunPass<TKernel>(job, a, b, c, threads, transposeA, transposeB);
                }
            }
        }
        finally
        {
            if (pooled)
                Monitor.Exit(pool.CallLock);
            job.Release();
        }
    }

    /// <summary>
    /// Multiplies the job's current column block over its current depth span: packs operands chunk by chunk, so
    /// helpers start on the first chunks while the caller packs the rest, then computes chunks until none are left.
    /// Alone, the caller computes each chunk as soon as it is packed, while its operands are still in cache.
    /// </summary>
    private static void RunPass<TKernel>(Job job, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int threads,
        bool transposeA, bool transposeB)
        where TKernel : struct, IMicroKernel
    {
        int rows = TKernel.Rows, columns = TKernel.Columns;
        job.NextChunk = 0;
        Volatile.Write(ref job.PackedChunks, 0);
        if (threads > 1)
            HelperPool.Instance.Start(job, threads - 1);
        try
        {
            for (int rowBlock = 0; rowBlock < job.RowBlocks; rowBlock++)
            {
                int rowStart = rowBlock * job.RowBlock, rowEnd = Math.Min(rowStart + job.RowBlock, job.M);
                for (int offset = 0; offset < job.Depth; offset += job.DepthBlock)
                {
                    int depth = Math.Min(job.DepthBlock, job.Depth - offset);
                    PackA(a, job.PackedA.AsSpan(job.PaddedRows * offset, job.PaddedRows * depth), job.M, job.K,
                        job.DepthStart + offset, depth, rows, transposeA, rowStart, rowEnd);
                }

                for (int group = 0; group < job.ColumnGroups; group++)
                {
                    if (rowBlock == 0)
                    {
                        // Each group's B panels are packed once, with the first row block.
                        int firstColumn = group * job.PanelsPerGroup * columns;
                        int width = Math.Min(job.PanelsPerGroup * columns, job.Columns - firstColumn);
                        for (int offset = 0; offset < job.Depth; offset += job.DepthBlock)
                        {
                            int depth = Math.Min(job.DepthBlock, job.Depth - offset);
                            var block = job.PackedB.AsSpan(job.PaddedColumns * offset, job.PaddedColumns * depth);
                            PackB(b, block[(firstColumn * depth)..], job.N, job.K, job.DepthStart + offset, depth,
                                job.ColumnStart + firstColumn, width, columns, transposeB);
                        }
                    }

                    int packedChunk = rowBlock * job.ColumnGroups + group;
                    Volatile.Write(ref job.PackedChunks, packedChunk + 1);
                    if (threads == 1)
                        ComputeChunk<TKernel>(job, packedChunk, c, onCaller: true);
                }
            }

            if (threads > 1)
            {
                // Between its own chunks and while helpers finish theirs, the caller folds the helpers' finished
                // chunks into C (on the last pass), rather than all at the end.
                bool lastPass = job.DepthStart + job.Depth == job.K;
                int chunk;
                while ((chunk = Interlocked.Increment(ref job.NextChunk) - 1) < job.ChunkCount)
                {
                    ComputeChunk<TKernel>(job, chunk, c, onCaller: true);
                    if (lastPass)
                        FoldHelperChunks(job, c, columns);
                }

                var spin = default(SpinWait);
                while (!HelperPool.Instance.HelpersDone)
                {
                    if (!lastPass || !FoldHelperChunks(job, c, columns))
                        spin.SpinOnce(sleep1Threshold: -1);
                }
            }
        }
        finally
        {
            if (threads > 1)
            {
                // After an exception, stops helpers taking chunks and frees those waiting for packing, so that all
                // are done before the buffers go back to the pool.
                Interlocked.Exchange(ref job.NextChunk, int.MaxValue / 2);
                Volatile.Write(ref job.PackedChunks, int.MaxValue);
                HelperPool.Instance.WaitForHelpers();
            }
        }

        if (job.HelperFailure is { } failure)
            throw new InvalidOperationException("A GEMM helper thread failed.", failure);
        if (threads > 1 && job.DepthStart + job.Depth == job.K)
            FoldHelperChunks(job, c, columns);
    }

    /// <summary>Runs on a helper thread: takes chunks of the current block until none are left.</summary>
    private static void ComputeChunks(Job job)
    {
        switch (job.Kernel)
        {
            case GemmKernel.Avx512:
                ComputeChunks<Avx512Kernel>(job);
                break;
            case GemmKernel.Avx2:
                ComputeChunks<Avx2Kernel>(job);
                break;
            default:
                ComputeChunks<PortableKernel>(job);
                break;
        }
    }

    private static void ComputeChunks<TKernel>(Job job)
        where TKernel : struct, IMicroKernel
    {
        int chunk;
        while ((chunk = Interlocked.Increment(ref job.NextChunk) - 1) < job.ChunkCount)
        {
            var spin = default(SpinWait);
            while (Volatile.Read(ref job.PackedChunks) <= chunk)
                spin.SpinOnce(sleep1Threshold: -1);
            ComputeChunk<TKernel>(job, chunk, [], onCaller: false);
            if (job.DepthStart + job.Depth == job.K)
                Volatile.Write(ref Unsafe.As<ChunkState, byte>(ref job.ChunkStates[chunk]), (byte)ChunkState.FinishedByHelper);
        }
    }

    /// <summary>
    /// Multiplies one chunk's packed A rows by its packed B panels, depth block after depth block. The caller finishes
    /// tiles into C; helpers, which cannot see C, finish them as α·s into the scratch for the caller to fold in.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ComputeChunk<TKernel>(Job job, int chunk, Span<float> c, bool onCaller)
        where TKernel : struct, IMicroKernel
    {
        int rows = TKernel.Rows, columns = TKernel.Columns;
        int rowStart = chunk / job.ColumnGroups * job.RowBlock;
        int rowEnd = Math.Min(rowStart + job.RowBlock, job.M);
        int firstPanel = chunk % job.ColumnGroups * job.PanelsPerGroup;
        int endPanel = Math.Min(firstPanel + job.PanelsPerGroup, job.ColumnPanels);
        float beta = onCaller ? job.Beta : 0;

        // Sums between depth blocks: in C (stride n) or in the scratch (stride of the column block).
        Span<float> sums = job.Sums == SumLocation.Output ? c : job.Scratch;
        int sumStride = job.Sums == SumLocation.Output ? job.N : job.Columns;
        int sumColumnBase = job.Sums == SumLocation.Output ? 0 : -job.ColumnStart;
        Span<float> edgeTile = stackalloc float[rows * columns];

        for (int offset = 0; offset < job.Depth; offset += job.DepthBlock)
        {
            int depth = Math.Min(job.DepthBlock, job.Depth - offset);
            bool accumulate = job.DepthStart + offset > 0;
            bool finish = job.DepthStart + offset + depth == job.K;
            var packedABlock = job.PackedA.AsSpan(job.PaddedRows * offset, job.PaddedRows * depth);
            var packedBBlock = job.PackedB.AsSpan(job.PaddedColumns * offset, job.PaddedColumns * depth);

            // Finished tiles go to C from the caller, to the scratch as α·s from helpers; others stay sums.
            Span<float> target = sums;
            int targetStride = sumStride, targetColumnBase = sumColumnBase;
            if (finish && onCaller)
            {
                target = c;
                targetStride = job.N;
                targetColumnBase = 0;
            }
            else if (finish)
            {
                target = job.Scratch;
                targetStride = job.Columns;
                targetColumnBase = -job.ColumnStart;
            }

            for (int panel = firstPanel; panel < endPanel; panel++)
            {
                int column = job.ColumnStart + panel * columns;
                int width = Math.Min(columns, job.ColumnStart + job.Columns - column);
                ref float packedB = ref MemoryMarshal.GetReference(packedBBlock.Slice(panel * columns * depth, columns * depth));
                for (int row = rowStart; row < rowEnd; row += rows)
                {
                    int height = Math.Min(rows, job.M - row);
                    ref float packedA = ref MemoryMarshal.GetReference(packedABlock.Slice(row * depth, rows * depth));
                    int targetOffset = row * targetStride + column + targetColumnBase;
                    if (height == rows && width == columns)
                    {
                        ref float output = ref MemoryMarshal.GetReference(target.Slice(targetOffset, (rows - 1) * targetStride + columns));
                        ref float accumulator = ref accumulate
                            ? ref MemoryMarshal.GetReference(sums.Slice(row * sumStride + column + sumColumnBase, (rows - 1) * sumStride + columns))
                            : ref output;
                        TKernel.Multiply(ref packedA, ref packedB, depth, ref accumulator, sumStride, accumulate,
                            ref output, targetStride, finish, job.Alpha, beta);
                        continue;
                    }

                    // A partial tile: the kernel works on a full tile in the stack buffer, then the valid part is copied out.
                    edgeTile.Clear();
                    if (accumulate)
                    {
                        for (int r = 0; r < height; r++)
                            sums.Slice((row + r) * sumStride + column + sumColumnBase, width).CopyTo(edgeTile.Slice(r * columns));
                    }
                    ref float tile = ref MemoryMarshal.GetReference(edgeTile);
                    TKernel.Multiply(ref packedA, ref packedB, depth, ref tile, columns, accumulate, ref tile, columns, false, 1, 0);
                    for (int r = 0; r < height; r++)
                    {
                        var source = edgeTile.Slice(r * columns, width);
                        var destination = target.Slice(targetOffset + r * targetStride, width);
                        if (!finish)
                        {
                            source.CopyTo(destination);
                            continue;
                        }

                        // The same operations as the kernels' vector epilogue, so edge elements round alike.
                        for (int j = 0; j < width; j++)
                        {
                            float value = source[j] * job.Alpha;
                            if (beta != 0)
                                value += destination[j] * beta;
                            destination[j] = value;
                        }
                    }
                }
            }
        }
    }

    /// <summary>What became of a chunk in the last pass over its column block.</summary>
    private enum ChunkState : byte
    {
        /// <summary>Not yet done, or done by the caller straight into C.</summary>
        Open,

        /// <summary>A helper finished it into the scratch as α·s.</summary>
        FinishedByHelper,

        /// <summary>The caller moved it from the scratch into C.</summary>
        Folded,
    }

    /// <summary>Moves the chunks helpers have finished (α·s, in scratch) into C, adding β·C; returns whether there were any.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool FoldHelperChunks(Job job, Span<float> c, int kernelColumns)
    {
        bool folded = false;
        float beta = job.Beta;
        for (int chunk = 0; chunk < job.ChunkCount; chunk++)
        {
            if ((ChunkState)Volatile.Read(ref Unsafe.As<ChunkState, byte>(ref job.ChunkStates[chunk])) != ChunkState.FinishedByHelper)
                continue;
            job.ChunkStates[chunk] = ChunkState.Folded;
            folded = true;
            int rowStart = chunk / job.ColumnGroups * job.RowBlock;
            int rowEnd = Math.Min(rowStart + job.RowBlock, job.M);
            int columnOffset = chunk % job.ColumnGroups * job.PanelsPerGroup * kernelColumns;
            int width = Math.Min(job.PanelsPerGroup * kernelColumns, job.Columns - columnOffset);
            for (int row = rowStart; row < rowEnd; row++)
            {
                var scaledSums = job.Scratch.AsSpan(row * job.Columns + columnOffset, width);
                var output = c.Slice(row * job.N + job.ColumnStart + columnOffset, width);
                if (beta == 0)
                {
                    scaledSums.CopyTo(output);
                    continue;
                }

                int j = 0;
                for (; j <= width - Vector<float>.Count; j += Vector<float>.Count)
                {
                    var sum = new Vector<float>(scaledSums[j..]) + new Vector<float>(output[j..]) * beta;
                    sum.CopyTo(output[j..]);
                }
                for (; j < width; j++)
                    output[j] = scaledSums[j] + output[j] * beta;
            }
        }

        return folded;
    }

    /// <summary>
    /// Packs op(A)[rowStart..rowEnd, depthStart..depthStart + depth) into panels of <paramref name="rows"/> rows, each
    /// depth × rows with the rows of one k adjacent, placed as in the packing of all m rows; rows past m are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(ReadOnlySpan<float> a, Span<float> packed, int m, int k, int depthStart, int depth, int rows, bool transposeA,
        int rowStart, int rowEnd)
    {
        for (int panelRow = rowStart; panelRow < rowEnd; panelRow += rows)
        {
            int height = Math.Min(rows, m - panelRow);
            var panel = packed.Slice(panelRow * depth, rows * depth);
            if (height < rows)
                panel.Clear();
            if (transposeA)
                PackRuns(a[(depthStart * m + panelRow)..], m, height, depth, panel, rows);
            else
                PackTransposed(a[(panelRow * k + depthStart)..], k, height, depth, panel, rows);
        }
    }

    /// <summary>
    /// Packs op(B)[depthStart..depthStart + depth, columnStart..columnStart + width) into panels of
    /// <paramref name="columns"/> columns, each depth × columns, row by row; columns past the block are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(ReadOnlySpan<float> b, Span<float> packed, int n, int k, int depthStart, int depth,
        int columnStart, int width, int columns, bool transposeB)
    {
        for (int panelColumn = 0; panelColumn < width; panelColumn += columns)
        {
            int panelWidth = Math.Min(columns, width - panelColumn);
            var panel = packed.Slice(panelColumn * depth, columns * depth);
            if (panelWidth < columns)
                panel.Clear();
            int column = columnStart + panelColumn;
            if (transposeB)
                PackTransposed(b[(column * k + depthStart)..], k, panelWidth, depth, panel, columns);
            else
                PackRuns(b[(depthStart * n + column)..], n, panelWidth, depth, panel, columns);
        }
    }

    /// <summary>
    /// Copies <paramref name="depth"/> runs of <paramref name="count"/> values, <paramref name="stride"/> apart in
    /// <paramref name="source"/>, to consecutive rows of <paramref name="panelWidth"/> in <paramref name="panel"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRuns(ReadOnlySpan<float> source, int stride, int count, int depth, Span<float> panel, int panelWidth)
    {
        if (!Vector128.IsHardwareAccelerated || count < 4)
        {
            for (int p = 0; p < depth; p++)
                source.Slice(p * stride, count).CopyTo(panel.Slice(p * panelWidth));
            return;
        }

        // Spans' CopyTo costs more than these few values; vector moves, 8 then 4 then one at a time.
        CheckExtent(source.Length, depth, stride, count);
        ref float from = ref MemoryMarshal.GetReference(source);
        ref float to = ref MemoryMarshal.GetReference(panel[..(depth * panelWidth)]);
        int wide = Vector256.IsHardwareAccelerated ? count & ~7 : 0;
        bool half = (count - wide) >= 4;
        int single = wide + (half ? 4 : 0);
        for (int p = 0; p < depth; p++)
        {
            for (int j = 0; j < wide; j += 8)
                Vector256.LoadUnsafe(ref from, (nuint)j).StoreUnsafe(ref to, (nuint)j);
            if (half)
                Vector128.LoadUnsafe(ref from, (nuint)wide).StoreUnsafe(ref to, (nuint)wide);
            for (int j = single; j < count; j++)
                Unsafe.Add(ref to, j) = Unsafe.Add(ref from, j);
            from = ref Unsafe.Add(ref from, stride);
            to = ref Unsafe.Add(ref to, panelWidth);
        }
    }

    /// <summary>
    /// Transposes <paramref name="count"/> runs of <paramref name="depth"/> contiguous values, <paramref name="stride"/>
    /// apart in <paramref name="source"/>, into <paramref name="panel"/>[p · <paramref name="panelWidth"/> + run],
    /// by 8, 4 and 2 × 8 register transposes where AVX allows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposed(ReadOnlySpan<float> source, int stride, int count, int depth, Span<float> panel, int panelWidth)
    {
        int run = 0;
        if (Avx.IsSupported && depth >= 8 && count >= 2)
        {
            CheckExtent(source.Length, count, stride, depth);
            ref float from = ref MemoryMarshal.GetReference(source);
            ref float to = ref MemoryMarshal.GetReference(panel[..(depth * panelWidth)]);
            int blockedDepth = depth & ~7;
            nint width = panelWidth;
            for (; run + 8 <= count; run += 8)
            {
                for (int p = 0; p < blockedDepth; p += 8)
                {
                    ref float first = ref Unsafe.Add(ref from, run * stride + p);
                    Transpose4x8(ref first, stride, out var low0, out var low1, out var low2, out var low3);
                    Transpose4x8(ref Unsafe.Add(ref first, 4 * stride), stride, out var high0, out var high1, out var high2, out var high3);
                    ref float target = ref Unsafe.Add(ref to, p * width + run);
                    Avx.Permute2x128(low0, high0, 0x20).StoreUnsafe(ref target);
                    Avx.Permute2x128(low1, high1, 0x20).StoreUnsafe(ref Unsafe.Add(ref target, width));
                    Avx.Permute2x128(low2, high2, 0x20).StoreUnsafe(ref Unsafe.Add(ref target, 2 * width));
                    Avx.Permute2x128(low3, high3, 0x20).StoreUnsafe(ref Unsafe.Add(ref target, 3 * width));
                    Avx.Permute2x128(low0, high0, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 4 * width));
                    Avx.Permute2x128(low1, high1, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 5 * width));
                    Avx.Permute2x128(low2, high2, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 6 * width));
                    Avx.Permute2x128(low3, high3, 0x31).StoreUnsafe(ref Unsafe.Add(ref target, 7 * width));
                }
            }

            for (; run + 4 <= count; run += 4)
            {
                for (int p = 0; p < blockedDepth; p += 8)
                {
                    // atXY holds the 4 runs' values at k offsets X (low half) and Y (high half).
                    Transpose4x8(ref Unsafe.Add(ref from, run * stride + p), stride, out var at04, out var at15, out var at26, out var at37);
                    ref float target = ref Unsafe.Add(ref to, p * width + run);
                    at04.GetLower().StoreUnsafe(ref target);
                    at15.GetLower().StoreUnsafe(ref Unsafe.Add(ref target, width));
                    at26.GetLower().StoreUnsafe(ref Unsafe.Add(ref target, 2 * width));
                    at37.GetLower().StoreUnsafe(ref Unsafe.Add(ref target, 3 * width));
                    at04.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 4 * width));
                    at15.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 5 * width));
                    at26.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 6 * width));
                    at37.GetUpper().StoreUnsafe(ref Unsafe.Add(ref target, 7 * width));
                }
            }

            for (; run + 2 <= count; run += 2)
            {
                for (int p = 0; p < blockedDepth; p += 8)
                {
                    // The pair (run, run + 1) at one k is 8 bytes: moved as one double.
                    ref float first = ref Unsafe.Add(ref from, run * stride + p);
                    var run0 = Vector256.LoadUnsafe(ref first);
                    var run1 = Vector256.LoadUnsafe(ref first, (nuint)stride);
                    var pairs0145 = Avx.UnpackLow(run0, run1).AsDouble();
                    var pairs2367 = Avx.UnpackHigh(run0, run1).AsDouble();
                    ref float target = ref Unsafe.Add(ref to, p * width + run);
                    Unsafe.As<float, double>(ref target) = pairs0145.GetElement(0);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, width)) = pairs0145.GetElement(1);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 2 * width)) = pairs2367.GetElement(0);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 3 * width)) = pairs2367.GetElement(1);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 4 * width)) = pairs0145.GetElement(2);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 5 * width)) = pairs0145.GetElement(3);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 6 * width)) = pairs2367.GetElement(2);
                    Unsafe.As<float, double>(ref Unsafe.Add(ref target, 7 * width)) = pairs2367.GetElement(3);
                }
            }

            // The depth past the last whole 8 for the runs done above.
            for (int done = 0; done < run; done++)
                for (int p = blockedDepth; p < depth; p++)
                    panel[p * panelWidth + done] = source[done * stride + p];
        }

        for (; run < count; run++)
        {
            var values = source.Slice(run * stride, depth);
            for (int p = 0; p < depth; p++)
                panel[p * panelWidth + run] = values[p];
        }
    }

    /// <summary>
    /// Transposes 4 runs × 8 values at <paramref name="first"/>: <paramref name="k0"/> holds the 4 runs' values 0 (low
    /// half) and 4 (high half), <paramref name="k1"/> values 1 and 5, and so on.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose4x8(ref float first, int stride, out Vector256<float> k0, out Vector256<float> k1,
        out Vector256<float> k2, out Vector256<float> k3)
    {
        var run0 = Vector256.LoadUnsafe(ref first);
        var run1 = Vector256.LoadUnsafe(ref first, (nuint)stride);
        var run2 = Vector256.LoadUnsafe(ref first, (nuint)(2 * stride));
        var run3 = Vector256.LoadUnsafe(ref first, (nuint)(3 * stride));
        var low01 = Avx.UnpackLow(run0, run1);
        var high01 = Avx.UnpackHigh(run0, run1);
        var low23 = Avx.UnpackLow(run2, run3);
        var high23 = Avx.UnpackHigh(run2, run3);
        k0 = Avx.Shuffle(low01, low23, 0x44);
        k1 = Avx.Shuffle(low01, low23, 0xEE);
        k2 = Avx.Shuffle(high01, high23, 0x44);
        k3 = Avx.Shuffle(high01, high23, 0xEE);
    }

    /// <summary>Guards the unchecked loads of the packers: <paramref name="runs"/> runs of <paramref name="length"/>, <paramref name="stride"/> apart.</summary>
    private static void CheckExtent(int available, int runs, int stride, int length)
    {
        if ((long)(runs - 1) * stride + length > available)
            throw new InvalidOperationException("A GEMM packer would read past its source.");
    }

    /// <summary>
    /// Helper threads, started on first use and kept (as background threads) for the process. One call at a time
    /// uses them, holding <see cref="CallLock"/>; between blocks of a call they spin briefly, then sleep.
    /// </summary>
    private sealed class HelperPool
    {
        public static readonly HelperPool Instance = new();

        /// <summary>How long an idle helper spins for the next block before it sleeps.</summary>
        private static readonly long SpinTicks = Stopwatch.Frequency / 5000;

        private readonly object _signal = new();
        private readonly List<Thread> _threads = [];
        private Job? _job;
        private int _helpers;
        private int _generation;
        private int _pending;

        public object CallLock { get; } = new();

        /// <summary>Sets <paramref name="helpers"/> threads to work on <paramref name="job"/>'s current block.</summary>
        public void Start(Job job, int helpers)
        {
            while (_threads.Count < helpers)
            {
                int index = _threads.Count;
                var thread = new Thread(() => HelperLoop(index)) { IsBackground = true, Name = $"GEMM helper {index + 1}" };
                _threads.Add(thread);
                thread.Start();
            }

            // Under the lock with the generation, so a helper reads one block's job and helper count together.
            lock (_signal)
            {
                _job = job;
                _helpers = helpers;
                Volatile.Write(ref _pending, helpers);
                _generation++;
                Monitor.PulseAll(_signal);
            }
        }

        /// <summary>Whether every helper of the current block is done.</summary>
        public bool HelpersDone => Volatile.Read(ref _pending) == 0;

        /// <summary>Waits until every helper of the current block is done; they take only microseconds to finish.</summary>
        public void WaitForHelpers()
        {
            var spin = default(SpinWait);
            while (Volatile.Read(ref _pending) != 0)
                spin.SpinOnce(sleep1Threshold: -1);
        }

        private void HelperLoop(int index)
        {
            int seen = 0;
            while (true)
            {
                long spinUntil = Stopwatch.GetTimestamp() + SpinTicks;
                while (Volatile.Read(ref _generation) == seen && Stopwatch.GetTimestamp() < spinUntil)
                    Thread.SpinWait(20);
                Job job;
                lock (_signal)
                {
                    while (_generation == seen)
                        Monitor.Wait(_signal);
                    seen = _generation;
                    if (index >= _helpers)
                        continue;
                    job = _job!;
                }

                try
                {
                    ComputeChunks(job);
                }
                catch (Exception e)
                {
                    job.HelperFailure ??= e;
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
    }

    /// <summary>
    /// A register-tile kernel: Rows × Columns sums over one packed depth block, started from zero or from
    /// <c>accumulator</c>, then written to <c>output</c> as they are or finished as α·s (+ β·output when β ≠ 0).
    /// </summary>
    private interface IMicroKernel
    {
        static abstract int Rows { get; }

        static abstract int Columns { get; }

        /// <summary>Depth of a packed block: one B panel (depth × <see cref="Columns"/>) and one A panel stay in L1.</summary>
        static abstract int DepthBlock { get; }

        static abstract void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride,
            bool loadAccumulator, ref float output, nint outputStride, bool finalize, float alpha, float beta);
    }

    /// <summary>4 × (2 vectors) register tile in <see cref="Vector{T}"/>, fused where the hardware can.</summary>
    private readonly struct PortableKernel : IMicroKernel
    {

        public static int Rows => 4;

        public static int Columns => 2 * Vector<float>.Count;

        public static int DepthBlock => 256;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride,
            bool loadAccumulator, ref float output, nint outputStride, bool finalize, float alpha, float beta)
        {
            nuint width = (nuint)Vector<float>.Count;
            Vector<float> c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b;
            if (loadAccumulator)
            {
                ref float row = ref accumulator;
                c0a = Vector.LoadUnsafe(ref row);
                c0b = Vector.LoadUnsafe(ref row, width);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c1a = Vector.LoadUnsafe(ref row);
                c1b = Vector.LoadUnsafe(ref row, width);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c2a = Vector.LoadUnsafe(ref row);
                c2b = Vector.LoadUnsafe(ref row, width);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c3a = Vector.LoadUnsafe(ref row);
                c3b = Vector.LoadUnsafe(ref row, width);
            }
            else
            {
                c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = Vector<float>.Zero;
            }

            for (int p = 0; p < depth; p++)
            {
                var b0 = Vector.LoadUnsafe(ref packedB);
                var b1 = Vector.LoadUnsafe(ref packedB, width);
                var a = new Vector<float>(packedA);
                c0a = MultiplyAdd(a, b0, c0a);
                c0b = MultiplyAdd(a, b1, c0b);
                a = new Vector<float>(Unsafe.Add(ref packedA, 1));
                c1a = MultiplyAdd(a, b0, c1a);
                c1b = MultiplyAdd(a, b1, c1b);
                a = new Vector<float>(Unsafe.Add(ref packedA, 2));
                c2a = MultiplyAdd(a, b0, c2a);
                c2b = MultiplyAdd(a, b1, c2b);
                a = new Vector<float>(Unsafe.Add(ref packedA, 3));
                c3a = MultiplyAdd(a, b0, c3a);
                c3b = MultiplyAdd(a, b1, c3b);
                packedA = ref Unsafe.Add(ref packedA, 4);
                packedB = ref Unsafe.Add(ref packedB, 2 * width);
            }

            ref float target = ref output;
            Store(ref target, c0a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, width), c0b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c1a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, width), c1b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c2a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, width), c2b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c3a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, width), c3b, finalize, alpha, beta);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector<float> MultiplyAdd(Vector<float> left, Vector<float> right, Vector<float> addend)
            // Fused where the hardware is, so results match the other kernels bit for bit; emulating FMA would be far
            // too slow. Not Vector.MultiplyAddEstimate, whose rounding may differ between JIT tiers of one method.
#if NET9_0_OR_GREATER
            => Fma.IsSupported || AdvSimd.IsSupported ? Vector.FusedMultiplyAdd(left, right, addend) : left * right + addend;
#else
            // .NET 8 has no Vector.FusedMultiplyAdd: the portable kernel rounds twice there, still the same on every run.
            => left * right + addend;
#endif

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(ref float target, Vector<float> sum, bool finalize, float alpha, float beta)
        {
            if (finalize)
            {
                sum *= alpha;
                if (beta != 0)
                    sum += Vector.LoadUnsafe(ref target) * beta;
            }
            sum.StoreUnsafe(ref target);
        }
    }

    /// <summary>
    /// 12 × 32 register tile: 24 zmm accumulators (cRa and cRb are row R's two vectors), two B vectors and one
    /// broadcast A value of the 32 registers; per k, 24 FMAs for 14 loads.
    /// </summary>
    private readonly struct Avx512Kernel : IMicroKernel
    {
        public static int Rows => 12;
        public static int Columns => 32;

        public static int DepthBlock => 256;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride, bool loadAccumulator,
            ref float output, nint outputStride, bool finalize, float alpha, float beta)
        {
            Vector512<float> c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b, c6a, c6b, c7a, c7b, c8a, c8b, c9a, c9b, c10a, c10b, c11a, c11b;
            if (loadAccumulator)
            {
                ref float row = ref accumulator;
                c0a = Vector512.LoadUnsafe(ref row);
                c0b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c1a = Vector512.LoadUnsafe(ref row);
                c1b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c2a = Vector512.LoadUnsafe(ref row);
                c2b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c3a = Vector512.LoadUnsafe(ref row);
                c3b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c4a = Vector512.LoadUnsafe(ref row);
                c4b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c5a = Vector512.LoadUnsafe(ref row);
                c5b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c6a = Vector512.LoadUnsafe(ref row);
                c6b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c7a = Vector512.LoadUnsafe(ref row);
                c7b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c8a = Vector512.LoadUnsafe(ref row);
                c8b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c9a = Vector512.LoadUnsafe(ref row);
                c9b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c10a = Vector512.LoadUnsafe(ref row);
                c10b = Vector512.LoadUnsafe(ref row, 16);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c11a = Vector512.LoadUnsafe(ref row);
                c11b = Vector512.LoadUnsafe(ref row, 16);
            }
            else
            {
                c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = c4a = c4b = c5a = c5b = c6a = c6b = c7a = c7b = c8a = c8b = c9a = c9b = c10a = c10b = c11a = c11b = Vector512<float>.Zero;
            }

            for (int p = 0; p < depth; p++)
            {
                Vector512<float> b0 = Vector512.LoadUnsafe(ref packedB);
                Vector512<float> b1 = Vector512.LoadUnsafe(ref packedB, 16);
                Vector512<float> a = Vector512.Create(packedA);
                c0a = Avx512F.FusedMultiplyAdd(a, b0, c0a); c0b = Avx512F.FusedMultiplyAdd(a, b1, c0b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 1));
                c1a = Avx512F.FusedMultiplyAdd(a, b0, c1a); c1b = Avx512F.FusedMultiplyAdd(a, b1, c1b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 2));
                c2a = Avx512F.FusedMultiplyAdd(a, b0, c2a); c2b = Avx512F.FusedMultiplyAdd(a, b1, c2b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 3));
                c3a = Avx512F.FusedMultiplyAdd(a, b0, c3a); c3b = Avx512F.FusedMultiplyAdd(a, b1, c3b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 4));
                c4a = Avx512F.FusedMultiplyAdd(a, b0, c4a); c4b = Avx512F.FusedMultiplyAdd(a, b1, c4b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 5));
                c5a = Avx512F.FusedMultiplyAdd(a, b0, c5a); c5b = Avx512F.FusedMultiplyAdd(a, b1, c5b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 6));
                c6a = Avx512F.FusedMultiplyAdd(a, b0, c6a); c6b = Avx512F.FusedMultiplyAdd(a, b1, c6b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 7));
                c7a = Avx512F.FusedMultiplyAdd(a, b0, c7a); c7b = Avx512F.FusedMultiplyAdd(a, b1, c7b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 8));
                c8a = Avx512F.FusedMultiplyAdd(a, b0, c8a); c8b = Avx512F.FusedMultiplyAdd(a, b1, c8b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 9));
                c9a = Avx512F.FusedMultiplyAdd(a, b0, c9a); c9b = Avx512F.FusedMultiplyAdd(a, b1, c9b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 10));
                c10a = Avx512F.FusedMultiplyAdd(a, b0, c10a); c10b = Avx512F.FusedMultiplyAdd(a, b1, c10b);
                a = Vector512.Create(Unsafe.Add(ref packedA, 11));
                c11a = Avx512F.FusedMultiplyAdd(a, b0, c11a); c11b = Avx512F.FusedMultiplyAdd(a, b1, c11b);
                packedA = ref Unsafe.Add(ref packedA, 12);
                packedB = ref Unsafe.Add(ref packedB, 32);
            }

            ref float target = ref output;
            Store(ref target, c0a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c0b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c1a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c1b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c2a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c2b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c3a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c3b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c4a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c4b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c5a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c5b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c6a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c6b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c7a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c7b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c8a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c8b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c9a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c9b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c10a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c10b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c11a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 16), c11b, finalize, alpha, beta);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(ref float target, Vector512<float> sum, bool finalize, float alpha, float beta)
        {
            if (finalize)
            {
                sum *= alpha;
                if (beta != 0)
                    sum += Vector512.LoadUnsafe(ref target) * beta;
            }
            sum.StoreUnsafe(ref target);
        }
    }

    /// <summary>
    /// 6 × 16 register tile: 12 ymm accumulators (cRa and cRb are row R's two vectors), two B vectors and one
    /// broadcast A value of the 16 registers; per k, 12 FMAs for 8 loads.
    /// </summary>
    private readonly struct Avx2Kernel : IMicroKernel
    {
        public static int Rows => 6;
        public static int Columns => 16;

        public static int DepthBlock => 256;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public static void Multiply(ref float packedA, ref float packedB, int depth, ref float accumulator, nint accumulatorStride, bool loadAccumulator,
            ref float output, nint outputStride, bool finalize, float alpha, float beta)
        {
            Vector256<float> c0a, c0b, c1a, c1b, c2a, c2b, c3a, c3b, c4a, c4b, c5a, c5b;
            if (loadAccumulator)
            {
                ref float row = ref accumulator;
                c0a = Vector256.LoadUnsafe(ref row);
                c0b = Vector256.LoadUnsafe(ref row, 8);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c1a = Vector256.LoadUnsafe(ref row);
                c1b = Vector256.LoadUnsafe(ref row, 8);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c2a = Vector256.LoadUnsafe(ref row);
                c2b = Vector256.LoadUnsafe(ref row, 8);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c3a = Vector256.LoadUnsafe(ref row);
                c3b = Vector256.LoadUnsafe(ref row, 8);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c4a = Vector256.LoadUnsafe(ref row);
                c4b = Vector256.LoadUnsafe(ref row, 8);
                row = ref Unsafe.Add(ref row, accumulatorStride);
                c5a = Vector256.LoadUnsafe(ref row);
                c5b = Vector256.LoadUnsafe(ref row, 8);
            }
            else
            {
                c0a = c0b = c1a = c1b = c2a = c2b = c3a = c3b = c4a = c4b = c5a = c5b = Vector256<float>.Zero;
            }

            for (int p = 0; p < depth; p++)
            {
                Vector256<float> b0 = Vector256.LoadUnsafe(ref packedB);
                Vector256<float> b1 = Vector256.LoadUnsafe(ref packedB, 8);
                Vector256<float> a = Vector256.Create(packedA);
                c0a = Fma.MultiplyAdd(a, b0, c0a); c0b = Fma.MultiplyAdd(a, b1, c0b);
                a = Vector256.Create(Unsafe.Add(ref packedA, 1));
                c1a = Fma.MultiplyAdd(a, b0, c1a); c1b = Fma.MultiplyAdd(a, b1, c1b);
                a = Vector256.Create(Unsafe.Add(ref packedA, 2));
                c2a = Fma.MultiplyAdd(a, b0, c2a); c2b = Fma.MultiplyAdd(a, b1, c2b);
                a = Vector256.Create(Unsafe.Add(ref packedA, 3));
                c3a = Fma.MultiplyAdd(a, b0, c3a); c3b = Fma.MultiplyAdd(a, b1, c3b);
                a = Vector256.Create(Unsafe.Add(ref packedA, 4));
                c4a = Fma.MultiplyAdd(a, b0, c4a); c4b = Fma.MultiplyAdd(a, b1, c4b);
                a = Vector256.Create(Unsafe.Add(ref packedA, 5));
                c5a = Fma.MultiplyAdd(a, b0, c5a); c5b = Fma.MultiplyAdd(a, b1, c5b);
                packedA = ref Unsafe.Add(ref packedA, 6);
                packedB = ref Unsafe.Add(ref packedB, 16);
            }

            ref float target = ref output;
            Store(ref target, c0a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 8), c0b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c1a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 8), c1b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c2a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 8), c2b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c3a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 8), c3b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c4a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 8), c4b, finalize, alpha, beta);
            target = ref Unsafe.Add(ref target, outputStride);
            Store(ref target, c5a, finalize, alpha, beta);
            Store(ref Unsafe.Add(ref target, 8), c5b, finalize, alpha, beta);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static void Store(ref float target, Vector256<float> sum, bool finalize, float alpha, float beta)
        {
            if (finalize)
            {
                sum *= alpha;
                if (beta != 0)
                    sum += Vector256.LoadUnsafe(ref target) * beta;
            }
            sum.StoreUnsafe(ref target);
        }
    }
}
