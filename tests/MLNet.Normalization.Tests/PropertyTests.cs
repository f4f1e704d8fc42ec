using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Microsoft.ML;
using MLNet.Normalization.Shapes;
using MLNet.Normalization.Statistics;

namespace MLNet.Normalization.Tests;

/// <summary>Invariants checked on random data against float64 references computed here.</summary>
public class PropertyTests
{
    private static float[] Values(int[] raw) => raw.Select(v => v / 64f).ToArray();

    private static (double Mean, double M2) Reference(IEnumerable<float> values)
    {
        var list = values.Select(v => (double)v).ToList();
        double mean = list.Average();
        return (mean, list.Sum(v => (v - mean) * (v - mean)));
    }

    [Property(MaxTest = 300, Replay = "(20261124,1013904223)")]
    public Property MergingMomentsEqualsMomentsOfTheConcatenation(int[] left, int[] right)
    {
        var a = Values(left);
        var b = Values(right);
        var merged = Moments.Of(a).Merge(Moments.Of(b));
        if (a.Length + b.Length == 0)
            return (merged.Count == 0).ToProperty();
        var (mean, m2) = Reference(a.Concat(b));
        return (merged.Count == a.Length + b.Length
                && Math.Abs(merged.Mean - mean) <= 1e-9 * (1 + Math.Abs(mean))
                && Math.Abs(merged.M2 - m2) <= 1e-9 * (1 + m2)).ToProperty();
    }

    [Property(MaxTest = 100, Replay = "(20261124,1013904223)")]
    public Property MergedChannelAccumulatorsEqualOneOverAllRows(PositiveInt rowCount, PositiveInt split, bool channelsLast)
    {
        var geometry = new ChannelGeometry(3, 4, channelsLast ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst);
        var random = new Random(rowCount.Get * 31 + split.Get);
        var rows = Enumerable.Range(0, rowCount.Get % 20 + 1).Select(_ => Enumerable.Range(0, 12).Select(_ => (float)random.Next(256)).ToArray()).ToArray();
        int cut = split.Get % (rows.Length + 1);

        var first = new ChannelMomentsAccumulator(geometry);
        var second = new ChannelMomentsAccumulator(geometry);
        foreach (var row in rows[..cut])
            first.Add(row);
        foreach (var row in rows[cut..])
            second.Add(row);
        first.Merge(second);

        bool ok = first.Rows == rows.Length;
        for (int c = 0; c < 3; c++)
        {
            var channel = rows.SelectMany(r => Enumerable.Range(0, 4).Select(s => r[channelsLast ? s * 3 + c : c * 4 + s]));
            var (mean, m2) = Reference(channel);
            ok &= Math.Abs(first[c].Mean - mean) <= 1e-9 * (1 + Math.Abs(mean)) && Math.Abs(first[c].M2 - m2) <= 1e-7 * (1 + m2);
        }
        return ok.ToProperty();
    }

    [Property(MaxTest = 25, Replay = "(20261124,1013904223)")]
    public Property FittedNormalizerGivesZeroMeanAndUnitStdPerChannel(PositiveInt seed, bool interleave)
    {
        var ml = new MLContext(seed: 1);
        var random = new Random(seed.Get);
        var rows = Enumerable.Range(0, 2 + seed.Get % 9).Select(_ => Enumerable.Range(0, 3 * 20).Select(_ => (float)random.Next(256)).ToArray()).ToArray();
        int[] shape = interleave ? [4, 5, 3] : [3, 4, 5];
        var data = TestData.Vectors(ml, rows, shape);

        var layout = interleave ? ChannelLayout.ChannelsLast : ChannelLayout.ChannelsFirst;
        var output = TestData.Read(ml.Transforms.NormalizeChannels("Out", TestData.Column, layout: layout).Fit(data).Transform(data), "Out");

        bool ok = true;
        for (int c = 0; c < 3; c++)
        {
            var channel = output.SelectMany(r => Enumerable.Range(0, 20).Select(s => (double)r[interleave ? s * 3 + c : c * 20 + s])).ToList();
            double mean = channel.Average();
            double std = Math.Sqrt(channel.Sum(v => (v - mean) * (v - mean)) / channel.Count);
            ok &= Math.Abs(mean) < 1e-5 && Math.Abs(std - 1) < 1e-5;
        }
        return ok.ToProperty();
    }
}
