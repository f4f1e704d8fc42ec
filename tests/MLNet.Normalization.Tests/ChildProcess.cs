using System.Diagnostics;
using System.Reflection;

namespace MLNet.Normalization.Tests;

/// <summary>Runs a program built beside the tests (its path is an AssemblyMetadata item of the test project) in a fresh process.</summary>
internal static class ChildProcess
{
    public static (int ExitCode, string Stdout, string Stderr) Run(string metadataKey, string? workingDirectory, params string[] arguments)
    {
        var program = typeof(ChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == metadataKey)?.Value;
        Assert.True(program is not null, $"the test project has no AssemblyMetadata item '{metadataKey}' with the program's path");
        Assert.True(File.Exists(program), $"the program is not built at {program}");

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
            start.WorkingDirectory = workingDirectory;
        start.ArgumentList.Add(program);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{metadataKey} did not finish within 120 s");
        }
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
