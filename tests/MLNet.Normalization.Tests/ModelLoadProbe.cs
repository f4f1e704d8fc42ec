using System.Diagnostics;
using System.Reflection;

namespace MLNet.Normalization.Tests;

/// <summary>Runs tests/ModelLoadProbe: a fresh process that has not loaded the library loads a saved model.</summary>
internal static class ModelLoadProbe
{
    /// <summary>Runs the probe with <paramref name="arguments"/> and returns its output lines; fails the test if it fails.</summary>
    public static string[] Run(params string[] arguments)
    {
        var probe = typeof(ModelLoadProbe).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ModelLoadProbe").Value!;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(probe);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(120_000), "the probe process did not finish");
        Assert.True(process.ExitCode == 0, $"probe exited {process.ExitCode}: {stderr.GetAwaiter().GetResult()}");
        return stdout.GetAwaiter().GetResult().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
