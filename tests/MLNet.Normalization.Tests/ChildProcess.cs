using System.Diagnostics;
using System.Reflection;

namespace MLNet.Normalization.Tests;

/// <summary>Runs a program built beside the tests (its path is an AssemblyMetadata item of the test project) in a fresh process.</summary>
internal static class ChildProcess
{
    /// <summary>
    /// How long a program may run: only a hung program should reach it. The sweep sample's small run takes 90 s to
    /// more than 120 s on two cores that other work shares.
    /// </summary>
    private static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(300);

    /// <summary>The path of the program's built assembly; its folder holds what the build copies beside it (data files).</summary>
    public static string ProgramPath(string metadataKey)
    {
        var program = typeof(ChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == metadataKey)?.Value;
        Assert.True(program is not null, $"the test project has no AssemblyMetadata item '{metadataKey}' with the program's path");
        Assert.True(File.Exists(program), $"the program is not built at {program}");
        return program;
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(string metadataKey, string? workingDirectory, params string[] arguments)
    {
        var program = ProgramPath(metadataKey);

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        if (workingDirectory is not null)
            start.WorkingDirectory = workingDirectory;
        start.ArgumentList.Add(program);
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeLimit))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{metadataKey} did not finish within {TimeLimit.TotalSeconds} s");
        }
        return (process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }
}
