using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
/// Layout as in BLIS: op(A) is packed into panels of the micro-kernel's height and op(B) into panels of its width
/// (<see cref="GemmPacking"/>), so the register tile (<see cref="IGemmMicroKernel"/>) streams both contiguously. A
/// call runs in passes, each over a block of C's rows and columns and a span of k that fit the packing budget: one
/// pass for the trainer's shapes and up to 1024³. A pass computes its output tiles, a tile being a block of rows
/// (its A panels held in L2) by one B panel, depth block by depth block so that the B panel's block stays in L1
/// while it meets the tile's A panels; each panel is packed by the first tile that needs it. Tiles are the units
/// <see cref="ParallelUnits"/>, the library's one threading helper, spreads over threads, with the spans pinned
/// for them: threads split the output, never k.
/// </para>
/// </remarks>
internal static class Gemm
{
    /// <summary>Rows of C a tile covers, about 110–140 KB of packed A at the trainer's depths: stays in L2.</summary>
    private const int RowBlockTarget = 144;

    /// <summary>Rows of C a pass covers, 8 row blocks, bounding packed A.</summary>
    private const int RowPass = 8 * RowBlockTarget;

    /// <summary>Columns of C a pass covers, bounding packed B.</summary>
    private const int ColumnPass = 2048;

    /// <summary>Values of packed A and B held at once: all of k unless k is past about 1300, so usually one pass.</summary>
    private const int PackingBudget = 1 << 22;

    /// <summary>
    /// Floating-point operations (2·m·n·k) of a pass from which its tiles are spread over threads. Measured on a
    /// 2-core VM (Xeon, AVX-512), 2 threads against 1 with the thread pool warm, best of 3 × 200 calls: the MLP's
    /// products at batch 64 (forward, weight and input gradient) take 0.55–0.80 of one thread's time at 784 → 256
    /// (25.7 MFLOP) and 0.82–0.95 at 256 → 256 (8.4 MFLOP), as 1024³ takes 0.53–0.55; at 4 MFLOP two threads gain
    /// nothing (0.90–1.04), at 2 MFLOP they lose up to 38 %, at 256 → 10 (0.3 MFLOP) up to 2.3×: the fork-join and
    /// a sleeping pool thread's wake-up cost microseconds that small products do not repay. Every shape measured at
    /// or above 8 MFLOP ran at most as long on two threads as on one.
    /// </summary>
    private const long DefaultMinimumParallelFlops = 8_000_000;

    [ThreadStatic] private static GemmKernel t_kernelOverride;
    [ThreadStatic] private static long t_minimumParallelFlopsOverride;

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
    /// Floating-point operations (2·m·n·k) from which calls on this thread use several threads; 0 (the default)
    /// means the measured threshold. For tests, to force the multi-threaded path on small products.
    /// </summary>
    internal static long MinimumParallelFlops
    {
        get => t_minimumParallelFlopsOverride == 0 ? DefaultMinimumParallelFlops : t_minimumParallelFlopsOverride;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            t_minimumParallelFlopsOverride = value;
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
                TensorPrimitives.Multiply(c, beta, c);
            return;
        }

        var kernel = KernelOverride == GemmKernel.Automatic ? FastestKernel : KernelOverride;
        switch (kernel)
        {
            case GemmKernel.Avx512:
                Run<Avx512MicroKernel>(a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
                break;
            case GemmKernel.Avx2:
                Run<Avx2MicroKernel>(a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
                break;
            default:
                Run<PortableMicroKernel>(a, b, c, m, n, k, transposeA, transposeB, alpha, beta);
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

    /// <summary>
    /// Runs the passes: columns outermost, then rows, then depth, so packed B is reused across row passes and
    /// packed A across column passes when the other dimension needs no second pass. Buffers come from
    /// <see cref="ArrayPool{T}"/>, so steady-state single-threaded calls allocate nothing.
    /// </summary>
    private static unsafe void Run<TKernel>(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transposeA, bool transposeB, float alpha, float beta)
        where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, columns = TKernel.Columns;
        int passRows = Math.Min(m, RowPass), passColumns = Math.Min(n, ColumnPass);
        int paddedRows = RoundUp(passRows, rows), paddedColumns = RoundUp(passColumns, columns);
        int depthSpan = Math.Min(k, Math.Max(TKernel.DepthBlock, PackingBudget / (paddedRows + paddedColumns)));
        bool depthPasses = depthSpan < k;
        float[] packedA = ArrayPool<float>.Shared.Rent(paddedRows * depthSpan);
        float[] packedB = ArrayPool<float>.Shared.Rent(paddedColumns * depthSpan);
        int[] panelStates = ArrayPool<int>.Shared.Rent((paddedRows / rows) + (paddedColumns / columns));
        // Sums wait between depth passes in C, or here while C's old values are still needed.
        float[]? scratch = depthPasses && beta != 0 ? ArrayPool<float>.Shared.Rent(passRows * passColumns) : null;
        try
        {
            fixed (float* aStart = a, bStart = b, cStart = c)
            {
                var pass = new GemmPass
                {
                    A = new PinnedSpan<float>(aStart, a.Length),
                    B = new PinnedSpan<float>(bStart, b.Length),
                    C = new PinnedSpan<float>(cStart, c.Length),
                    M = m,
                    N = n,
                    K = k,
                    TransposeA = transposeA,
                    TransposeB = transposeB,
                    Alpha = alpha,
                    Beta = beta,
                    PackedA = packedA,
                    PackedB = packedB,
                    PanelStates = panelStates,
                    Scratch = scratch,
                };
                long minimumParallelFlops = MinimumParallelFlops;
                for (int columnStart = 0; columnStart < n; columnStart += passColumns)
                    for (int rowStart = 0; rowStart < m; rowStart += passRows)
                        for (int depthStart = 0; depthStart < k; depthStart += depthSpan)
                        {
                            var block = pass.Over(rowStart, Math.Min(passRows, m - rowStart), columnStart,
                                Math.Min(passColumns, n - columnStart), depthStart, Math.Min(depthSpan, k - depthStart), rows, columns);
                            bool packA = depthPasses || passRows < m || columnStart == 0;
                            bool packB = depthPasses || rowStart == 0;
                            panelStates.AsSpan(0, block.RowPanels).Fill(packA ? PanelState.Unpacked : PanelState.Packed);
                            panelStates.AsSpan(block.RowPanels, block.ColumnPanels).Fill(packB ? PanelState.Unpacked : PanelState.Packed);
                            // Through ParallelUnits (Parallel.For), not a private pool of spinning threads: at the MLP's
                            // 784 → 256 products two threads took 0.55–0.80 of one thread's time this way, 0.68–0.98
                            // with the former pool, which woke faster but left all packing to the calling thread.
                            // Parallel.For's fork-join costs about 8 µs; a sleeping pool thread takes longer to wake,
                            // but the caller computes tiles meanwhile and never waits for it to start.
                            long flops = 2L * block.RowCount * block.ColumnCount * block.Depth;
                            ParallelUnits.For(new Tiles<TKernel>(block), block.RowBlocks * block.ColumnPanels, flops, minimumParallelFlops);
                        }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packedA);
            ArrayPool<float>.Shared.Return(packedB);
            ArrayPool<int>.Shared.Return(panelStates);
            if (scratch is not null)
                ArrayPool<float>.Shared.Return(scratch);
        }
    }

    private static int RoundUp(int value, int multiple) => (value + multiple - 1) / multiple * multiple;

    /// <summary>
    /// Unit u computes the tile of row block u / ColumnPanels by B panel u % ColumnPanels, after packing the panels
    /// it needs that no unit has packed yet. So threads pack in parallel, each panel once, with no separate packing
    /// step to wait for; and on one thread each B panel is packed just before its first use, while it is in cache.
    /// </summary>
    private readonly struct Tiles<TKernel>(GemmPass pass) : IKernelUnit
        where TKernel : struct, IGemmMicroKernel
    {
        public void Run(int unit)
        {
            int rowBlock = unit / pass.ColumnPanels, panel = unit % pass.ColumnPanels;
            int firstAPanel = rowBlock * pass.RowBlock / TKernel.Rows;
            int endAPanel = Math.Min(firstAPanel + pass.RowBlock / TKernel.Rows, pass.RowPanels);
            // Packs the row block's A panels no other thread has taken, then waits for any another thread is packing.
            for (int p = firstAPanel; p < endAPanel; p++)
                TryPack(p);
            for (int p = firstAPanel; p < endAPanel; p++)
                WaitUntilPacked(p);
            if (!TryPack(pass.RowPanels + panel))
                WaitUntilPacked(pass.RowPanels + panel);
            ComputeTile<TKernel>(pass, rowBlock, panel);
        }

        /// <summary>Packs panel <paramref name="index"/> (A panels first, then B's) if no thread has taken it; whether this one did.</summary>
        private bool TryPack(int index)
        {
            ref int state = ref pass.PanelStates[index];
            if (Volatile.Read(ref state) != PanelState.Unpacked
                || Interlocked.CompareExchange(ref state, PanelState.Packing, PanelState.Unpacked) != PanelState.Unpacked)
                return false;
            try
            {
                int rows = TKernel.Rows, columns = TKernel.Columns;
                if (index < pass.RowPanels)
                {
                    int row = index * rows;
                    GemmPacking.PackA(pass.A.Span, pass.M, pass.K, pass.TransposeA, pass.RowStart + row, Math.Min(rows, pass.RowCount - row),
                        pass.DepthStart, pass.Depth, pass.PackedA.AsSpan(row * pass.Depth), rows);
                }
                else
                {
                    int column = (index - pass.RowPanels) * columns;
                    GemmPacking.PackB(pass.B.Span, pass.N, pass.K, pass.TransposeB, pass.ColumnStart + column, Math.Min(columns, pass.ColumnCount - column),
                        pass.DepthStart, pass.Depth, pass.PackedB.AsSpan(column * pass.Depth), columns);
                }
            }
            finally
            {
                // Also after an exception, which ParallelUnits rethrows, so that no thread waits forever.
                Volatile.Write(ref state, PanelState.Packed);
            }
            return true;
        }

        /// <summary>Waits for a panel another thread is packing: it takes microseconds and that thread waits on nothing.</summary>
        private void WaitUntilPacked(int index)
        {
            ref int state = ref pass.PanelStates[index];
            var spin = default(SpinWait);
            while (Volatile.Read(ref state) != PanelState.Packed)
                spin.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Where a panel of the current pass is, in <see cref="GemmPass.PanelStates"/>.</summary>
    private static class PanelState
    {
        public const int Unpacked = 0, Packing = 1, Packed = 2;
    }

    /// <summary>
    /// Computes one row block of the pass by one B panel, depth block by depth block. Between depth blocks a tile's
    /// sums wait on the stack; between depth passes, in <see cref="GemmPass.Scratch"/> or C. Full tiles are finished
    /// (α·s + β·c) by the kernel straight into C; edge tiles are computed whole on the stack and their valid part
    /// finished here, with the same operations.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    private static void ComputeTile<TKernel>(in GemmPass pass, int rowBlock, int panel)
        where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, columns = TKernel.Columns, tileSize = rows * columns;
        int firstRow = rowBlock * pass.RowBlock, endRow = Math.Min(firstRow + pass.RowBlock, pass.RowCount);
        int column = panel * columns, width = Math.Min(columns, pass.ColumnCount - column);
        int tiles = (endRow - firstRow + rows - 1) / rows;
        int passDepth = pass.Depth, n = pass.N;
        bool carriedIn = pass.DepthStart > 0, finish = pass.DepthStart + passDepth == pass.K;
        float alpha = pass.Alpha, beta = pass.Beta;
        float[] packedA = pass.PackedA;
        var packedPanelB = pass.PackedB.AsSpan(panel * passDepth * columns, passDepth * columns);
        Span<float> c = pass.C.Span;
        int outputOrigin = pass.RowStart * n + pass.ColumnStart + column;

        // Sums carried between depth passes: laid out as the pass's block of C in the scratch, or in C itself.
        Span<float> carried = pass.Scratch ?? c;
        int carriedStride = pass.Scratch is null ? n : pass.ColumnCount;
        int carriedOrigin = pass.Scratch is null ? outputOrigin : column;

        // Stack sums, written before they are read: one slot per tile kept between depth blocks, else one for edge tiles.
        int depthBlock = TKernel.DepthBlock;
        bool severalBlocks = passDepth > depthBlock;
        Span<float> sums = stackalloc float[(severalBlocks ? tiles : 1) * tileSize];

        for (int offset = 0; offset < passDepth; offset += depthBlock)
        {
            int depth = Math.Min(depthBlock, passDepth - offset);
            bool firstBlock = offset == 0, lastBlock = offset + depth == passDepth;
            ref float packedB = ref MemoryMarshal.GetReference(packedPanelB.Slice(offset * columns, depth * columns));
            for (int tile = 0; tile < tiles; tile++)
            {
                int row = firstRow + tile * rows, height = Math.Min(rows, endRow - row);
                ref float packedATile = ref MemoryMarshal.GetReference(packedA.AsSpan(row * passDepth + offset * rows, depth * rows));
                var slot = sums.Slice(severalBlocks ? tile * tileSize : 0, tileSize);
                int outputOffset = outputOrigin + row * n, carriedOffset = carriedOrigin + row * carriedStride;
                if (height == rows && width == columns)
                {
                    // From the sums of the previous depth block (or pass), to the next block's, or finished into C.
                    bool load = !firstBlock || carriedIn;
                    ref float accumulator = ref firstBlock ? ref Tile(carried, carriedOffset, carriedStride, rows, columns) : ref slot[0];
                    nint accumulatorStride = firstBlock ? carriedStride : columns;
                    if (!lastBlock)
                    {
                        TKernel.Multiply(ref packedATile, ref packedB, depth, ref accumulator, accumulatorStride, load, ref slot[0], columns, false, 1, 0);
                    }
                    else if (finish)
                    {
                        TKernel.Multiply(ref packedATile, ref packedB, depth, ref accumulator, accumulatorStride, load,
                            ref Tile(c, outputOffset, n, rows, columns), n, true, alpha, beta);
                    }
                    else
                    {
                        TKernel.Multiply(ref packedATile, ref packedB, depth, ref accumulator, accumulatorStride, load,
                            ref Tile(carried, carriedOffset, carriedStride, rows, columns), carriedStride, false, 1, 0);
                    }

                    continue;
                }

                // An edge tile: the kernel works on the whole tile in its stack slot; only the valid part is moved in and out.
                if (firstBlock && carriedIn)
                {
                    slot.Clear();
                    for (int r = 0; r < height; r++)
                        carried.Slice(carriedOffset + r * carriedStride, width).CopyTo(slot.Slice(r * columns));
                }
                ref float tileSums = ref slot[0];
                TKernel.Multiply(ref packedATile, ref packedB, depth, ref tileSums, columns, !firstBlock || carriedIn, ref tileSums, columns, false, 1, 0);
                if (!lastBlock)
                    continue;
                for (int r = 0; r < height; r++)
                {
                    var source = slot.Slice(r * columns, width);
                    if (!finish)
                    {
                        source.CopyTo(carried.Slice(carriedOffset + r * carriedStride));
                        continue;
                    }

                    // The same operations as the kernels' vector epilogue, so edge elements round alike.
                    var destination = c.Slice(outputOffset + r * n, width);
                    for (int j = 0; j < width; j++)
                    {
                        float value = source[j] * alpha;
                        if (beta != 0)
                            value += destination[j] * beta;
                        destination[j] = value;
                    }
                }
            }
        }
    }

    /// <summary>The first of a rows × columns tile at <paramref name="offset"/>, rows <paramref name="stride"/> apart, checked to lie in <paramref name="span"/>.</summary>
    private static ref float Tile(Span<float> span, int offset, int stride, int rows, int columns)
        => ref MemoryMarshal.GetReference(span.Slice(offset, (rows - 1) * stride + columns));

    /// <summary>
    /// One pass of a call: the operands (pinned, so <see cref="ParallelUnits"/>' threads can read them), the packed
    /// buffers, and the block of C and span of k the pass covers.
    /// </summary>
    private readonly struct GemmPass
    {
        public PinnedSpan<float> A { get; init; }
        public PinnedSpan<float> B { get; init; }
        public PinnedSpan<float> C { get; init; }
        public int M { get; init; }
        public int N { get; init; }
        public int K { get; init; }
        public bool TransposeA { get; init; }
        public bool TransposeB { get; init; }
        public float Alpha { get; init; }
        public float Beta { get; init; }

        /// <summary>The pass's A panels, each Rows × <see cref="Depth"/> values.</summary>
        public float[] PackedA { get; init; }

        /// <summary>The pass's B panels, each Columns × <see cref="Depth"/> values.</summary>
        public float[] PackedB { get; init; }

        /// <summary>One <see cref="PanelState"/> per panel of the pass, A panels first.</summary>
        public int[] PanelStates { get; init; }

        /// <summary>Sums between depth passes when β ≠ 0, as the pass's block of C; null when they wait in C.</summary>
        public float[]? Scratch { get; init; }

        public int RowStart { get; init; }
        public int RowCount { get; init; }
        public int ColumnStart { get; init; }
        public int ColumnCount { get; init; }
        public int DepthStart { get; init; }
        public int Depth { get; init; }
        public int RowPanels { get; init; }
        public int ColumnPanels { get; init; }

        /// <summary>Rows of a tile: whole A panels, the pass's rows in blocks of equal size near <see cref="RowBlockTarget"/>.</summary>
        public int RowBlock { get; init; }
        public int RowBlocks { get; init; }

        public GemmPass Over(int rowStart, int rowCount, int columnStart, int columnCount, int depthStart, int depth, int rows, int columns)
        {
            int rowPanels = (rowCount + rows - 1) / rows;
            int rowBlocks = (rowCount + RowBlockTarget - 1) / RowBlockTarget;
            int rowBlock = (rowPanels + rowBlocks - 1) / rowBlocks * rows;
            return this with
            {
                RowStart = rowStart,
                RowCount = rowCount,
                ColumnStart = columnStart,
                ColumnCount = columnCount,
                DepthStart = depthStart,
                Depth = depth,
                RowPanels = rowPanels,
                ColumnPanels = (columnCount + columns - 1) / columns,
                RowBlock = rowBlock,
                RowBlocks = (rowCount + rowBlock - 1) / rowBlock,
            };
        }
    }
}
