namespace ImagePreprocessing;

/// <summary>Range, mean and population standard deviation of one channel over all images.</summary>
internal readonly record struct ChannelSummary(float Min, float Max, double Mean, double Std)
{
    /// <summary>One summary per channel of planar (C, H, W) rows with <paramref name="channels"/> channels.</summary>
    public static ChannelSummary[] OfPlanarRows(IReadOnlyList<float[]> rows, int channels)
    {
        var summaries = new ChannelSummary[channels];
        for (int c = 0; c < channels; c++)
        {
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            double sum = 0, sumOfSquares = 0;
            long count = 0;
            foreach (var row in rows)
            {
                int plane = row.Length / channels;
                foreach (float value in row.AsSpan(c * plane, plane))
                {
                    min = Math.Min(min, value);
                    max = Math.Max(max, value);
                    sum += value;
                    sumOfSquares += (double)value * value;
                    count++;
                }
            }
            double mean = sum / count;
            summaries[c] = new ChannelSummary(min, max, mean, Math.Sqrt(Math.Max(0, sumOfSquares / count - mean * mean)));
        }
        return summaries;
    }
}
