using ScottPlot;

namespace BatchNormExperiments;

/// <summary>
/// A named series of (x, y) points for a line chart, drawn solid or dashed, with a shaded ± <paramref name="Spread"/> band when
/// given, in <paramref name="Color"/> (default the palette's colour of its position).
/// </summary>
internal sealed record Series(string Name, double[] X, double[] Y, bool Dashed = false, double[]? Spread = null, Color? Color = null);

/// <summary>A band between a lower and an upper curve, for a shaded chart, in <paramref name="Color"/> (default the palette's colour of its position), outlined dashed or solid.</summary>
internal sealed record Band(string Name, double[] X, double[] Lower, double[] Upper, Color? Color = null, bool Dashed = false);

/// <summary>A group of bars: a label under the group and one value per bar (NaN: no bar), in the order of the legend, with each bar's spread when given.</summary>
internal sealed record BarGroup(string Label, double[] Values, double[]? Spreads = null);

/// <summary>The sample's charts, drawn with ScottPlot and saved as PNGs.</summary>
internal static class Figures
{
    private const int Width = 900, Height = 540;
    private static readonly ScottPlot.Palettes.Category10 Palette = new();

    /// <summary>Lines with markers, one per series; with <paramref name="xTicks"/>, the x axis is labelled at those positions only.</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool markers,
        (double Min, double Max)? yRange = null, bool logY = false, bool integerX = false, IReadOnlyList<(double Position, string Label)>? xTicks = null)
    {
        var plot = new Plot();
        for (int i = 0; i < series.Count; i++)
        {
            var y = logY ? Log10(series[i].Y) : series[i].Y;
            var color = series[i].Color ?? Palette.GetColor(i);
            if (series[i].Spread is { } spread && !logY)
            {
                var band = plot.Add.FillY(series[i].X, y.Zip(spread, (v, e) => v - e).ToArray(), y.Zip(spread, (v, e) => v + e).ToArray());
                band.FillColor = color.WithAlpha(0.15);
                band.LineWidth = 0;
            }
            var line = plot.Add.Scatter(series[i].X, y, color);
            line.LegendText = series[i].Name;
            line.LineWidth = 2;
            if (series[i].Dashed)
                line.LinePattern = LinePattern.Dashed;
            line.MarkerSize = markers ? 6 : 0;
        }
        if (integerX)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };
        if (xTicks is not null)
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(xTicks.Select(t => new Tick(t.Position, t.Label)).ToArray());
        if (logY)
            UseLogY(plot);
        Finish(plot, path, title, xLabel, yLabel, yRange);
    }

    /// <summary>ScottPlot draws log scales as log10 data with ticks labelled back in the original units.</summary>
    private static double[] Log10(double[] values) => values.Select(v => Math.Log10(Math.Max(v, 1e-12))).ToArray();

    private static void UseLogY(Plot plot) => plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic
    {
        MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
        IntegerTicksOnly = true,
        LabelFormatter = value => Math.Pow(10, value).ToString("G3", System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>Shaded, outlined bands between lower and upper curves.</summary>
    public static void Bands(string path, string title, string xLabel, string yLabel, IReadOnlyList<Band> bands, bool logY = false)
    {
        var plot = new Plot();
        for (int i = 0; i < bands.Count; i++)
        {
            var color = bands[i].Color ?? Palette.GetColor(i);
            var fill = logY ? plot.Add.FillY(bands[i].X, Log10(bands[i].Lower), Log10(bands[i].Upper)) : plot.Add.FillY(bands[i].X, bands[i].Lower, bands[i].Upper);
            fill.FillColor = color.WithAlpha(0.35);
            fill.LineColor = color;
            if (bands[i].Dashed)
                fill.LinePattern = LinePattern.Dashed;
            fill.LegendText = bands[i].Name;
        }
        if (logY)
            UseLogY(plot);
        Finish(plot, path, title, xLabel, yLabel, yRange: null);
    }

    /// <summary>Grouped bars with their values written on top.</summary>
    public static void GroupedBars(string path, string title, string yLabel, IReadOnlyList<string> barNames, IReadOnlyList<Color> barColors,
        IReadOnlyList<BarGroup> groups, (double Min, double Max) yRange)
    {
        var plot = new Plot();
        const double barWidth = 0.8;
        int perGroup = barNames.Count;
        var bars = new List<Bar>();
        var ticks = new List<Tick>();
        for (int g = 0; g < groups.Count; g++)
        {
            double groupStart = g * (perGroup + 1);
            for (int b = 0; b < perGroup; b++)
            {
                double value = groups[g].Values[b];
                if (double.IsNaN(value))
                    continue;
                double spread = groups[g].Spreads?[b] ?? 0;
                bars.Add(new Bar
                {
                    Position = groupStart + b,
                    Value = value,
                    Size = barWidth,
                    FillColor = barColors[b],
                    Label = spread > 0 ? $"{value:F1}\n± {spread:F1}" : $"{value:F1}",
                });
            }
            ticks.Add(new Tick(groupStart + (perGroup - 1) / 2.0, groups[g].Label));
        }
        var barPlot = plot.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 14;
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        for (int b = 0; b < perGroup; b++)
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = barNames[b], FillColor = barColors[b] });
        plot.HideGrid();
        plot.Axes.SetLimitsX(-1, groups.Count * (perGroup + 1) - 1);
        Finish(plot, path, title, xLabel: "", yLabel, yRange, Alignment.UpperLeft);
    }

    /// <summary>The palette's colour <paramref name="index"/>, lightened by <paramref name="lighten"/> in [0, 1].</summary>
    public static Color Color(int index, double lighten = 0) => Palette.GetColor(index).Lighten(lighten);

    /// <summary>Titles, limits, the legend (inside at <paramref name="legendInside"/>, else right of the chart) and the PNG.</summary>
    private static void Finish(Plot plot, string path, string title, string xLabel, string yLabel, (double Min, double Max)? yRange, Alignment? legendInside = null)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (yRange is { } range)
            plot.Axes.SetLimitsY(range.Min, range.Max);
        if (legendInside is { } alignment)
            plot.ShowLegend(alignment);
        else
            plot.ShowLegend(Edge.Right);
        plot.SavePng(path, Width, Height);
    }
}
