namespace MLNet.Normalization.Shapes;

/// <summary>
/// A row-major batch of <see cref="Rows"/> rows, each <see cref="Channels"/> planes of <see cref="Spatial"/>
/// elements: PyTorch's (N, C, *) with the trailing dimensions flattened. Element (n, c, s) is at
/// (n · C + c) · S + s.
/// </summary>
internal readonly record struct NcsShape(int Rows, int Channels, int Spatial)
{
    public int RowLength => Channels * Spatial;
    public int Length => Rows * Channels * Spatial;

    /// <summary>Elements that share one channel's statistics in batch normalization: N · S.</summary>
    public long ValuesPerChannel => (long)Rows * Spatial;

    public ReadOnlySpan<float> Plane(ReadOnlySpan<float> data, int row, int channel) => data.Slice((row * Channels + channel) * Spatial, Spatial);
    public Span<float> Plane(Span<float> data, int row, int channel) => data.Slice((row * Channels + channel) * Spatial, Spatial);

    public void CheckLength(int length, string name)
    {
        if (length != Length)
            throw new ArgumentException($"{name} has {length} values; a batch of {Rows} × {Channels} × {Spatial} needs {Length}.", name);
    }
}
