using System.Diagnostics;
using System.Reflection;
using System.Text.Json;

namespace MLNet.Normalization.Tests;

/// <summary>
/// The package as a user gets it: packs the library into a temporary folder and runs tests/PackageConsumer, an app
/// outside the solution that references MLNet.Normalization by package version from that folder, trains, saves,
/// reloads and compares predictions. Runs alone, after the parallel tests: packing and building an app keeps the
/// cores busy for a while, which would slow the sample tests' time-limited child processes.
/// </summary>
[Collection(nameof(PackageConsumerTests))]
public class PackageConsumerTests
{
    private static readonly TimeSpan PackTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(150);

    [Fact]
    public void APackedLibraryServesAnAppThatReferencesItFromALocalFeed()
    {
        string root = Metadata("RepositoryRoot");
        string configuration = Metadata("Configuration");
        string consumer = Path.Combine(root, "tests", "PackageConsumer");
        // A version no other run uses, so NuGet's package cache never serves an older pack.
        string version = $"0.0.0-ci.{DateTime.UtcNow.Ticks}";
        var temp = Directory.CreateTempSubdirectory("mlnet-normalization-package-");
        string feed = Path.Combine(temp.FullName, "feed");
        try
        {
            // Packs what the test build compiled (every target framework: the test project builds them all), without
            // building or restoring again while the tests run; the nuspecs go to the temporary folder, not obj/. The
            // adapter's package depends on the core's, so both go to the feed.
            foreach (string project in new[] { "MLNet.Normalization.Core", "MLNet.Normalization" })
            {
                string library = Path.Combine(root, "src", project, $"{project}.csproj");
                var pack = Dotnet(root, PackTimeout, "pack", library, "--configuration", configuration, "--no-build", "--output", feed,
                    $"-p:PackageVersion={version}", $"-p:NuspecOutputPath={Path.Combine(temp.FullName, "nuspec", project)}{Path.DirectorySeparatorChar}");
                Assert.True(pack.ExitCode == 0, $"dotnet pack {project} exited {pack.ExitCode}:\n{pack.Output}");
                Assert.True(File.Exists(Path.Combine(feed, $"{project}.{version}.nupkg")), $"no {project} package in {feed}:\n{pack.Output}");
            }
            AssertCoreHasNoMLNetDependency(Path.Combine(feed, $"MLNet.Normalization.Core.{version}.nupkg"));
            AssertAdapterDependsOnCore(Path.Combine(feed, $"MLNet.Normalization.{version}.nupkg"), version);

            var run = Dotnet(root, RunTimeout, "run", "--project", consumer,
                $"--property:LocalPackageFeed={feed}", $"--property:MLNetNormalizationVersion={version}");
            Assert.True(run.ExitCode == 0, $"tests/PackageConsumer exited {run.ExitCode}:\n{run.Output}");
            Assert.Contains($"package-consumer: MLNet.Normalization {version} from the package on ML.NET ", run.Stdout);
            Assert.Contains("predictions equal the fitted model's", run.Stdout);
        }
        finally
        {
            RemoveFromPackageCache(consumer, version);
            temp.Delete(recursive: true);
        }
    }

    /// <summary>The core package names no Microsoft.ML package among its dependencies, for any target framework.</summary>
    private static void AssertCoreHasNoMLNetDependency(string package)
    {
        var dependencies = NuspecDependencies(package);
        Assert.NotEmpty(dependencies);
        Assert.DoesNotContain(dependencies, d => d.Id.StartsWith("Microsoft.ML", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>The adapter's package depends on the core package of the same version, for every target framework.</summary>
    private static void AssertAdapterDependsOnCore(string package, string version)
    {
        var dependencies = NuspecDependencies(package);
        var frameworks = dependencies.Select(d => d.Framework).Distinct().ToList();
        Assert.Equal(2, frameworks.Count);
        foreach (var framework in frameworks)
            Assert.Contains(dependencies, d => d.Framework == framework && d.Id == "MLNet.Normalization.Core" && d.Version == version);
    }

    private static List<(string Framework, string Id, string Version)> NuspecDependencies(string package)
    {
        using var zip = System.IO.Compression.ZipFile.OpenRead(package);
        var nuspec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
        using var stream = nuspec.Open();
        var document = System.Xml.Linq.XDocument.Load(stream);
        return document.Descendants().Where(e => e.Name.LocalName == "dependency")
            .Select(e => ((string?)e.Parent!.Attribute("targetFramework") ?? "", (string)e.Attribute("id")!, (string)e.Attribute("version")!))
            .ToList();
    }

    private static string Metadata(string key)
    {
        var value = typeof(PackageConsumerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(a => a.Key == key)?.Value;
        Assert.True(!string.IsNullOrEmpty(value), $"the test project has no AssemblyMetadata item '{key}'");
        return value;
    }

    private sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string Output => $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
    }

    /// <summary>Runs the dotnet CLI; fails the test, with the output so far, if it does not finish within <paramref name="timeout"/>.</summary>
    private static Result Dotnet(string workingDirectory, TimeSpan timeout, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
            start.ArgumentList.Add(argument);
        // No MSBuild nodes or compiler server outlive the command: they would inherit its output pipes and keep them
        // open after it exits.
        start.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        start.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        start.Environment["UseSharedCompilation"] = "false";
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        string command = $"dotnet {string.Join(' ', arguments)}";
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{command} did not finish within {timeout.TotalSeconds:F0} s:\n{new Result(-1, Completed(stdout), Completed(stderr)).Output}");
        }
        var left = timeout - watch.Elapsed;
        if (!Task.WaitAll([stdout, stderr], left > TimeSpan.FromSeconds(10) ? left : TimeSpan.FromSeconds(10)))
            Assert.Fail($"{command} exited {process.ExitCode}, but a process it started still holds its output open");
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }

    private static string Completed(Task<string> output) => output.Wait(TimeSpan.FromSeconds(5)) ? output.Result : "(still open)";

    /// <summary>Deletes this run's package from the NuGet package folders the app's restore used.</summary>
    private static void RemoveFromPackageCache(string consumer, string version)
    {
        string assets = Path.Combine(consumer, "obj", "project.assets.json");
        if (!File.Exists(assets))
            return;
        using var json = JsonDocument.Parse(File.ReadAllText(assets));
        if (!json.RootElement.TryGetProperty("packageFolders", out var folders))
            return;
        foreach (var (folder, id) in folders.EnumerateObject().SelectMany(f => new[] { (f, "mlnet.normalization"), (f, "mlnet.normalization.core") }))
        {
            var extracted = new DirectoryInfo(Path.Combine(folder.Name, id, version.ToLowerInvariant()));
            if (!extracted.Exists)
                continue;
            extracted.Delete(recursive: true);
            try
            {
                if (!extracted.Parent!.EnumerateFileSystemInfos().Any())
                    extracted.Parent.Delete();
            }
            catch (IOException)
            {
                // Another run's package arrived in the meantime; the folder stays.
            }
        }
    }
}

/// <summary>The collection of <see cref="PackageConsumerTests"/>, run with no other test at the same time.</summary>
[CollectionDefinition(nameof(PackageConsumerTests), DisableParallelization = true)]
public sealed class PackageConsumerCollection;
