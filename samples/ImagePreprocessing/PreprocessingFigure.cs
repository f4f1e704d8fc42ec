using Microsoft.ML.Data;

namespace ImagePreprocessing;

/// <summary>
/// A PNG with one row per image: the resized original, its three normalized channels as grayscale, and the
/// denormalized round trip. Coloured bars above the channel columns mark R, G and B. All channel tiles share one
/// min-max display range, so a channel's brightness compares across channels and images.
/// </summary>
internal sealed class PreprocessingFigure
{
    private const int Margin = 8;
    private const int HeaderHeight = 12;
    private const int MinimumTileSide = 96;
    private const int Columns = 5;
    private static readonly (byte R, byte G, byte B) Background = (48, 48, 48);
    private static readonly (byte R, byte G, byte B)[] ChannelColors = [(220, 60, 60), (60, 180, 75), (70, 110, 230)];

    private readonly int _side, _scale, _tile, _width, _height;
    private readonly float _normalizedMin, _normalizedMax;
    private readonly byte[] _rgba;

    /// <param name="side">The side of the square (3, side, side) images.</param>
    /// <param name="rows">The number of images to show.</param>
    /// <param name="normalizedMin">The normalized value drawn black.</param>
    /// <param name="normalizedMax">The normalized value drawn white.</param>
    public PreprocessingFigure(int side, int rows, float normalizedMin, float normalizedMax)
    {
        _side = side;
        (_normalizedMin, _normalizedMax) = (normalizedMin, normalizedMax);
        _scale = Math.Max(1, (MinimumTileSide + side - 1) / side);  // nearest-neighbour upscaling keeps small images visible
        _tile = side * _scale;
        _width = Margin + Columns * (_tile + Margin);
        _height = HeaderHeight + rows * (_tile + Margin);
        _rgba = new byte[_width * _height * 4];
        Fill(0, 0, _width, _height, Background);
        for (int c = 0; c < ChannelColors.Length; c++)
            Fill(Left(1 + c), 3, _tile, 4, ChannelColors[c]);
    }

    /// <summary>Draws row <paramref name="row"/> from planar RGB rows: pixels and restored in 0..255, normalized in the display range.</summary>
    public void DrawRow(int row, float[] pixels, float[] normalized, float[] restored)
    {
        int plane = _side * _side;
        float range = _normalizedMax - _normalizedMin;
        DrawRgb(0, row, pixels);
        for (int c = 0; c < 3; c++)
        {
            int offset = c * plane;
            DrawTile(1 + c, row, i =>
            {
                byte gray = range > 0 ? ToByte((normalized[offset + i] - _normalizedMin) / range * 255) : (byte)128;
                return (gray, gray, gray);
            });
        }
        DrawRgb(4, row, restored);
    }

    /// <summary>Writes the figure as a PNG.</summary>
    public void Save(string path)
    {
        using var image = MLImage.CreateFromPixels(_width, _height, MLPixelFormat.Rgba32, _rgba);
        image.Save(path);
    }

    private void DrawRgb(int column, int row, float[] planar)
    {
        int plane = _side * _side;
        DrawTile(column, row, i => (ToByte(planar[i]), ToByte(planar[plane + i]), ToByte(planar[2 * plane + i])));
    }

    private void DrawTile(int column, int row, Func<int, (byte R, byte G, byte B)> pixelAt)
    {
        int left = Left(column), top = HeaderHeight + row * (_tile + Margin);
        for (int y = 0; y < _side; y++)
            for (int x = 0; x < _side; x++)
                Fill(left + x * _scale, top + y * _scale, _scale, _scale, pixelAt(y * _side + x));
    }

    private int Left(int column) => Margin + column * (_tile + Margin);

    private void Fill(int left, int top, int width, int height, (byte R, byte G, byte B) color)
    {
        for (int y = top; y < top + height; y++)
            for (int x = left; x < left + width; x++)
            {
                int at = (y * _width + x) * 4;
                (_rgba[at], _rgba[at + 1], _rgba[at + 2], _rgba[at + 3]) = (color.R, color.G, color.B, 255);
            }
    }

    private static byte ToByte(float value) => (byte)Math.Clamp(MathF.Round(value), 0, 255);
}
