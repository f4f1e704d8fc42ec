namespace MLNet.Normalization;

/// <summary>
/// The shape of one image or feature map, PyTorch's (C, H, W) of an (N, C, H, W) batch: a row holds
/// <see cref="Channels"/> planes of <see cref="Height"/> × <see cref="Width"/> values, row-major, as ML.NET's
/// <c>ExtractPixels</c> writes them with its default (planar) order. Element (c, h, w) is at (c · H + h) · W + w.
/// </summary>
/// <param name="Channels">C, positive.</param>
/// <param name="Height">H, positive.</param>
/// <param name="Width">W, positive.</param>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>H · W, the values of one channel's plane.</summary>
    public int Spatial => Height * Width;

    /// <summary>C · H · W, the values of one row.</summary>
    public int Size => Channels * Height * Width;

    /// <summary>Whether every dimension is positive and the row's length fits an <see cref="int"/>.</summary>
    public bool IsValid => Channels > 0 && Height > 0 && Width > 0 && (long)Channels * Height * Width <= int.MaxValue;

    /// <summary>"C × H × W".</summary>
    public override string ToString() => $"{Channels} × {Height} × {Width}";

    /// <summary>Throws naming <paramref name="name"/> unless <see cref="IsValid"/>.</summary>
    internal void Validate(string name)
    {
        if (!IsValid)
            throw new ArgumentOutOfRangeException(name, this, $"{name} must have positive channels, height and width whose product fits an int, got {this}.");
    }
}
