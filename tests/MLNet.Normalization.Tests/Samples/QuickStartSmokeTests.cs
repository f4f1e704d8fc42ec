using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace MLNet.Normalization.Tests.Samples;

/// <summary>
/// Runs samples/QuickStart once, every example, in its own process, and checks that each example ran to its end, that
/// the reloaded model and ONNX Runtime reproduced ML.NET, and that each file's "Expected output" comment is what the
/// example prints.
/// </summary>
public class QuickStartSmokeTests(QuickStartSmokeTests.AllExamplesRun run) : IClassFixture<QuickStartSmokeTests.AllExamplesRun>
{
    /// <summary>Every example in the order the sample runs them, and whether it exports to ONNX.</summary>
    private static readonly (string Name, bool ExportsToOnnx)[] Examples =
    [
        ("ScalePixels", true),
        ("NormalizeChannels", true),
        ("PreprocessImageNet", true),
        ("DenormalizeChannels", true),
        ("DenormalizeImageNet", true),
        ("BatchNorm", true),
        ("BatchNormFitted", true),
        ("LayerNorm", true),
        ("InstanceNorm", true),
        ("GroupNorm", true),
        ("MultilayerPerceptron", true),
        ("OnnxImport", true),
        ("CoreTraining", false),
    ];

    private static readonly Regex Header = new(@"^=== (\w+) ===$", RegexOptions.CultureInvariant);
    private static readonly Regex Number = new(@"-?\d+(?:\.\d+)?(?:E[-+]?\d+)?", RegexOptions.CultureInvariant);

    public static TheoryData<string> ExampleNames() => new(Examples.Select(e => e.Name));

    [Fact]
    public void EveryExampleRunsInOrderAndTheSampleExitsZero()
    {
        Assert.True(run.ExitCode == 0, $"the sample exited {run.ExitCode}:\n{run.Stdout}\n{run.Stderr}");
        Assert.Equal(Examples.Select(e => e.Name), run.Sections.Keys);
    }

    [Theory]
    [MemberData(nameof(ExampleNames))]
    public void TheExampleReproducesItsResultsAndPrintsItsExpectedOutput(string name)
    {
        Assert.True(run.Sections.TryGetValue(name, out var printed), $"no '=== {name} ===' section in the output (exit code {run.ExitCode}):\n{run.Stdout}\n{run.Stderr}");
        Assert.Contains("reloaded model predicts the same: True", printed);
        if (Examples.Single(e => e.Name == name).ExportsToOnnx)
            Assert.Contains("ONNX Runtime matches ML.NET: True", printed);
        Assert.DoesNotContain(printed, line => line.EndsWith(": False", StringComparison.Ordinal));

        var expected = ExpectedOutput(name);
        Assert.True(expected.Count == printed.Count,
            $"{name}.cs expects {expected.Count} lines, the example printed {printed.Count}:\n{string.Join("\n", printed)}");
        for (int i = 0; i < expected.Count; i++)
            AssertSameLine(expected[i], printed[i], $"{name}.cs, line {i + 1} of the expected output");
    }

    [Fact]
    public void ANamedExampleRunsAlone()
    {
        var (exitCode, stdout, stderr) = ChildProcess.Run("QuickStartSample", null, "BatchNorm");

        Assert.True(exitCode == 0, $"the sample exited {exitCode}:\n{stdout}\n{stderr}");
        Assert.Equal(["BatchNorm"], Sections(stdout).Keys);
    }

    [Fact]
    public void AnUnknownExampleListsTheNamesWithExitCodeTwo()
    {
        var (exitCode, stdout, stderr) = ChildProcess.Run("QuickStartSample", null, "NoSuchExample");

        Assert.Equal(2, exitCode);
        Assert.Empty(Sections(stdout));
        Assert.Contains("'NoSuchExample'", stderr);
        foreach (var (name, _) in Examples)
            Assert.Contains(name, stderr);
    }

    /// <summary>
    /// The same text, and the same numbers within one unit of the fourth decimal they are printed with: the trained
    /// networks' losses and scores are float sums whose order follows the processor's vector width, so the last digit may
    /// differ on another machine.
    /// </summary>
    private static void AssertSameLine(string expected, string actual, string where)
    {
        Assert.True(Number.Replace(expected, "#") == Number.Replace(actual, "#"), $"{where}: expected\n  {expected}\nprinted\n  {actual}");
        var expectedNumbers = Number.Matches(expected);
        var actualNumbers = Number.Matches(actual);
        for (int i = 0; i < expectedNumbers.Count; i++)
        {
            double e = double.Parse(expectedNumbers[i].Value, CultureInfo.InvariantCulture);
            double a = double.Parse(actualNumbers[i].Value, CultureInfo.InvariantCulture);
            Assert.True(Math.Abs(a - e) <= 2e-4 + 1e-5 * Math.Abs(e), $"{where}: expected\n  {expected}\nprinted\n  {actual}");
        }
    }

    /// <summary>The lines of the "// Expected output:" comment block in samples/QuickStart/<paramref name="name"/>.cs.</summary>
    private static List<string> ExpectedOutput(string name)
    {
        string root = typeof(QuickStartSmokeTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        var lines = File.ReadAllLines(Path.Combine(root, "samples", "QuickStart", $"{name}.cs"));
        int start = Array.FindIndex(lines, l => l.Trim() == "// Expected output:");
        Assert.True(start >= 0, $"{name}.cs has no '// Expected output:' comment");
        return lines.Skip(start + 1)
            .Select(l => l.TrimStart())
            .TakeWhile(l => l.StartsWith("//", StringComparison.Ordinal))
            .Select(l => l.StartsWith("// ", StringComparison.Ordinal) ? l[3..] : l[2..])
            .ToList();
    }

    /// <summary>Each example's printed lines under its header, without the blank line that ends it.</summary>
    private static Dictionary<string, List<string>> Sections(string stdout)
    {
        var sections = new Dictionary<string, List<string>>();
        List<string>? current = null;
        foreach (var line in stdout.ReplaceLineEndings("\n").Split('\n'))
        {
            var header = Header.Match(line);
            if (header.Success)
                sections.Add(header.Groups[1].Value, current = []);
            else
                current?.Add(line);
        }
        foreach (var lines in sections.Values)
            while (lines.Count > 0 && lines[^1].Length == 0)
                lines.RemoveAt(lines.Count - 1);
        return sections;
    }

    /// <summary>The whole sample, run once for the class.</summary>
    public sealed class AllExamplesRun
    {
        public AllExamplesRun()
        {
            (ExitCode, Stdout, Stderr) = ChildProcess.Run("QuickStartSample", null);
            Sections = QuickStartSmokeTests.Sections(Stdout);
        }

        public int ExitCode { get; }

        public string Stdout { get; }

        public string Stderr { get; }

        public Dictionary<string, List<string>> Sections { get; }
    }
}
