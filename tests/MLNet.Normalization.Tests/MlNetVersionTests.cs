using System.Reflection;
using System.Reflection.Emit;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.Normalization.Interop;

namespace MLNet.Normalization.Tests;

/// <summary>The check that refuses an ML.NET release other than the one the library was compiled against.</summary>
public class MlNetVersionTests
{
    private static readonly Version Supported = new(5, 0, 1);

    [Theory]
    [InlineData("5.0.1")]
    [InlineData("5.0.3")]
    [InlineData("5.0.126.51308")]
    public void TheCompiledAgainstAndLaterPatchReleasesOfTheSameMinorVersionPass(string found)
        => Assert.Null(MlNetVersion.Mismatch("Microsoft.ML.Data", Version.Parse(found), Supported));

    [Theory]
    [InlineData("5.0.0")]
    [InlineData("5.0")]
    [InlineData("5.1.0")]
    [InlineData("4.0.2")]
    [InlineData("6.0.0")]
    [InlineData("1.0.0.0")]
    public void EarlierPatchAndOtherMinorReleasesAreRefusedWithBothVersionsNamed(string found)
    {
        var message = MlNetVersion.Mismatch("Microsoft.ML.Core", Version.Parse(found), Supported);

        Assert.NotNull(message);
        Assert.Contains("compiled against ML.NET 5.0.1", message);
        Assert.Contains("runs only with ML.NET 5.0.1 and later 5.0 patch releases", message);
        Assert.Contains($"the loaded Microsoft.ML.Core is from ML.NET {found}", message);
        Assert.Contains("Reference Microsoft.ML [5.0.1, 5.1)", message);
    }

    [Fact]
    public void AnUnreadableReleaseIsRefusedNamingTheSupportedOne()
    {
        var message = MlNetVersion.Mismatch("Microsoft.ML.Data", null, Supported);

        Assert.NotNull(message);
        Assert.Contains("compiled against ML.NET 5.0.1", message);
        Assert.Contains("the release of the loaded Microsoft.ML.Data cannot be read", message);
    }

    [Theory]
    [InlineData("5.0.1+a4f730ec0c9106c2c9ef9e1fa34011374115fb98", "5.0.1")]
    [InlineData("5.1.0-preview.1.25125.4+0123abc", "5.1.0")]
    [InlineData("5.0.126.51308", "5.0.126.51308")]
    [InlineData("4.0", "4.0")]
    public void ReleaseIsTheNumericPartOfTheVersionText(string text, string expected)
        => Assert.Equal(Version.Parse(expected), MlNetVersion.ParseRelease(text));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("5")]
    [InlineData("five.0.1")]
    [InlineData("+a4f730ec")]
    public void TextWithoutAVersionHasNoRelease(string? text)
        => Assert.Null(MlNetVersion.ParseRelease(text));

    [Fact]
    public void AnAssemblyWithoutVersionAttributesHasNoRelease()
    {
        var assembly = AssemblyBuilder.DefineDynamicAssembly(new AssemblyName("NoVersionAttributes"), AssemblyBuilderAccess.Run);
        Assert.Null(MlNetVersion.Release(assembly));
    }

    [Fact]
    public void TheBuildRecordsThePackageVersionOfTheMLNetItLoads()
    {
        // The tests run with the Microsoft.ML package the library was compiled against. ML.NET's assembly version
        // is 1.0.0.0 in every release, so this also checks that the recorded value is the package's release.
        var compiledAgainst = MlNetVersion.CompiledAgainst();

        Assert.Equal(compiledAgainst, MlNetVersion.Release(typeof(MLContext).Assembly));
        Assert.Equal(compiledAgainst, MlNetVersion.Release(typeof(IHostEnvironment).Assembly));
        Assert.Equal("Microsoft.ML.Core", typeof(IHostEnvironment).Assembly.GetName().Name);
        Assert.Equal("Microsoft.ML.Data", typeof(MLContext).Assembly.GetName().Name);
        Assert.NotEqual(new Version(1, 0, 0, 0), compiledAgainst);
    }

    [Fact]
    public void TheLoadedMLNetIsSupportedAndTheCatalogEntryPointWorks()
    {
        MlNetVersion.EnsureSupported();
        Assert.NotNull(new MLContext(seed: 1).Transforms.GetEnvironment());
    }
}
