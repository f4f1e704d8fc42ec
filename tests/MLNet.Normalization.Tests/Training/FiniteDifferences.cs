namespace MLNet.Normalization.Tests.Training;

/// <summary>Central differences against a backward's gradient, for the layer tests.</summary>
internal static class FiniteDifferences
{
    /// <summary>
    /// For each value: (L(v + h) − L(v − h)) / 2h against <paramref name="gradient"/>, within 1e-3 + 1e-3 · |numeric|.
    /// </summary>
    public static void Check(float[] values, float[] gradient, Func<double> loss, float h, string what, double absolute = 1e-3, double relative = 1e-3)
    {
        Assert.Equal(values.Length, gradient.Length);
        for (int i = 0; i < values.Length; i++)
        {
            float saved = values[i];
            values[i] = saved + h;
            double plus = loss();
            values[i] = saved - h;
            double minus = loss();
            values[i] = saved;
            // The step actually taken in float, so rounding of v ± h does not count as error.
            double numeric = (plus - minus) / ((double)(saved + h) - (saved - h));
            Assert.True(Math.Abs(numeric - gradient[i]) <= absolute + relative * Math.Abs(numeric), $"{what}[{i}]: backward {gradient[i]}, finite difference {numeric}");
        }
    }
}
