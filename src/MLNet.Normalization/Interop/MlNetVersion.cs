using System.Reflection;
using Microsoft.ML;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Refuses an ML.NET release other than the one the library was compiled against. The library uses ML.NET's
/// internals (build/Publicize.targets), which may change in any minor release; with another release it would fail
/// deep inside with a <see cref="MissingMethodException"/>. The compiled-against release and later patch releases of
/// the same minor version are accepted, the range the package declares ([5.0.1, 5.1) for 5.0.1); an earlier patch
/// release is refused.
/// Every ML.NET assembly has the assembly version 1.0.0.0 whatever the release, so the release is read from the
/// informational version ("5.0.1+commit"), or else the file version.
/// </summary>
/// <remarks>Only public ML.NET types are named here, so the check itself runs with any release.</remarks>
internal static class MlNetVersion
{
    /// <summary>
    /// The key of the assembly metadata in which the build records the version of the Microsoft.ML package the
    /// library was compiled against (target RecordPublicizedMLNetVersion in build/Publicize.targets).
    /// </summary>
    public const string CompiledAgainstKey = "CompiledAgainstMLNet";

    private static readonly Lazy<string?> Problem = new(FindProblem);

    /// <summary>
    /// Throws <see cref="NotSupportedException"/>, naming the loaded and the supported release, when the loaded
    /// Microsoft.ML.Data or Microsoft.ML.Core is not the release the library was compiled against or a later patch
    /// release of its minor version. The assemblies are inspected once per process.
    /// </summary>
    public static void EnsureSupported()
    {
        if (Problem.Value is { } problem)
            throw new NotSupportedException(problem);
    }

    /// <summary>The Microsoft.ML package version the library was compiled against, as the build recorded it.</summary>
    public static Version CompiledAgainst()
    {
        var recorded = typeof(MlNetVersion).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .SingleOrDefault(a => a.Key == CompiledAgainstKey)?.Value;
        return ParseRelease(recorded)
            ?? throw new InvalidOperationException($"MLNet.Normalization has no valid '{CompiledAgainstKey}' assembly metadata (found '{recorded}'); build it with its own project file.");
    }

    /// <summary>The ML.NET release an ML.NET assembly belongs to, or null if its version attributes do not say.</summary>
    public static Version? Release(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        return ParseRelease(assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion)
            ?? ParseRelease(assembly.GetCustomAttribute<AssemblyFileVersionAttribute>()?.Version);
    }

    /// <summary>
    /// The numeric part of a version text: "5.0.1+a4f730ec" and "5.1.0-preview.1" give 5.0.1 and 5.1.0; null when
    /// there is no version of at least two numbers.
    /// </summary>
    public static Version? ParseRelease(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
            return null;
        int end = text.IndexOfAny(['+', '-']);
        return Version.TryParse(end < 0 ? text : text[..end], out var version) ? version : null;
    }

    /// <summary>
    /// Null when <paramref name="found"/> is a release of the same major and minor version as
    /// <paramref name="supported"/> and of at least its patch number; otherwise the message that names both.
    /// </summary>
    /// <param name="assemblyName">The ML.NET assembly whose release was read.</param>
    /// <param name="found">Its release; null when it could not be read.</param>
    /// <param name="supported">The release the library was compiled against.</param>
    public static string? Mismatch(string assemblyName, Version? found, Version supported)
    {
        ArgumentNullException.ThrowIfNull(supported);
        string range = $"[{supported}, {supported.Major}.{supported.Minor + 1})";
        string accepted = $"ML.NET {supported} and later {supported.Major}.{supported.Minor} patch releases";
        if (found is null)
        {
            return $"MLNet.Normalization was compiled against ML.NET {supported} and runs only with {accepted}, "
                + $"but the release of the loaded {assemblyName} cannot be read from its version attributes. Reference Microsoft.ML {range}.";
        }
        bool sameMinor = found.Major == supported.Major && found.Minor == supported.Minor;
        if (sameMinor && found.Build >= supported.Build)
            return null;
        return $"MLNet.Normalization was compiled against ML.NET {supported} and uses its internals, so it runs only with "
            + $"{accepted}, but the loaded {assemblyName} is from ML.NET {found}. Reference Microsoft.ML {range} "
            + (sameMinor
                ? "(the range the MLNet.Normalization package declares)."
                : $"(the range the MLNet.Normalization package declares), or use a build of MLNet.Normalization compiled against ML.NET {found.Major}.{found.Minor}.");
    }

    private static string? FindProblem()
    {
        var supported = CompiledAgainst();
        // MLContext is in Microsoft.ML.Data and IHostEnvironment in Microsoft.ML.Core: the two assemblies whose internals the library uses.
        foreach (var assembly in new[] { typeof(MLContext).Assembly, typeof(IHostEnvironment).Assembly })
        {
            if (Mismatch(assembly.GetName().Name ?? assembly.FullName ?? "ML.NET assembly", Release(assembly), supported) is { } problem)
                return string.IsNullOrEmpty(assembly.Location) ? problem : $"{problem} It was loaded from {assembly.Location}.";
        }
        return null;
    }
}
