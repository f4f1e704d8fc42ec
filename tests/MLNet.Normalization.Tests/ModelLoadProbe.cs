namespace MLNet.Normalization.Tests;

/// <summary>Runs tests/ModelLoadProbe: a fresh process that has not loaded the library loads a saved model.</summary>
internal static class ModelLoadProbe
{
    /// <summary>Runs the probe with <paramref name="arguments"/> and returns its output lines; fails the test if it fails.</summary>
    public static string[] Run(params string[] arguments)
    {
        var (exitCode, stdout, stderr) = ChildProcess.Run("ModelLoadProbe", null, arguments);
        Assert.True(exitCode == 0, $"probe exited {exitCode}: {stderr}");
        return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
