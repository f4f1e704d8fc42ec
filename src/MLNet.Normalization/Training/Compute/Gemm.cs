using System.Numerics.Tensors;

namespace MLNet.Normalization.Training.Compute;

/// <summary>Row-major single-precision GEMM: C = alpha · op(A) · op(B) + beta · C.</summary>
internal static class Gemm
{
    /// <summary>A is m×k (k×m stored when <paramref name="transposeA"/>), B is k×n (n×k when <paramref name="transposeB"/>), C is m×n.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k,
        bool transposeA = false, bool transposeB = false, float alpha = 1, float beta = 0)
    {
        if (a.Length < m * k || b.Length < k * n || c.Length < m * n)
            throw new ArgumentException($"Spans too short for a {m}×{k} by {k}×{n} product: {a.Length}, {b.Length}, {c.Length}.");
        Span<float> column = k <= 1024 ? stackalloc float[k] : new float[k];
        for (int i = 0; i < m; i++)
        {
            var row = c.Slice(i * n, n);
            if (beta == 0)
                row.Clear();
            else if (beta != 1)
                TensorPrimitives.Multiply(row, beta, row);
            scoped ReadOnlySpan<float> aRow;
            if (transposeA)
            {
                for (int p = 0; p < k; p++)
                    column[p] = a[p * m + i];
                aRow = column;
            }
            else
            {
                aRow = a.Slice(i * k, k);
            }
            if (transposeB)
            {
                for (int j = 0; j < n; j++)
                    row[j] += alpha * TensorPrimitives.Dot(aRow, b.Slice(j * k, k));
            }
            else
            {
                for (int p = 0; p < k; p++)
                    if (aRow[p] != 0)
                        TensorPrimitives.MultiplyAdd(b.Slice(p * n, n), alpha * aRow[p], row, row);
            }
        }
    }
}
