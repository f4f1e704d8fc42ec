using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests.Samples;

/// <summary>Runs samples/ImagePreprocessing as its own process with small settings and checks what it writes.</summary>
public class ImagePreprocessingSmokeTests : IDisposable
{
    private const int Count = 4, Size = 16;
    private static readonly byte[] PngSignature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
    private readonly DirectoryInfo _output = Directory.CreateTempSubdirectory("mlnet-normalization-image-preprocessing-");

    public void Dispose() => _output.Delete(recursive: true);

    [Fact]
    public void SampleSavesALoadableModelDrawsTheFigureAndRoundTripsThePixels()
    {
        var (exitCode, stdout, stderr) = RunSample("--count", $"{Count}", "--size", $"{Size}", "--output", _output.FullName);
        Assert.True(exitCode == 0, $"the sample exited {exitCode}:\n{stdout}\n{stderr}");

        var modelPath = Path.Combine(_output.FullName, "model.zip");
        Assert.True(File.Exists(modelPath), $"{modelPath} was not written");
        var model = new MLContext(seed: 1).Model.Load(modelPath, out var inputSchema);
        var normalized = Assert.IsType<VectorDataViewType>(model.GetOutputSchema(inputSchema)["Normalized"].Type);
        Assert.Equal(new[] { 3, Size, Size }, normalized.Dimensions.ToArray());

        var figurePath = Path.Combine(_output.FullName, "preprocessing.png");
        Assert.True(File.Exists(figurePath), $"{figurePath} was not written");
        Assert.Equal(PngSignature, File.ReadAllBytes(figurePath).Take(PngSignature.Length));
        using (var figure = MLImage.CreateFromFile(figurePath))
        {
            // Five tiles per row (original, three channels, round trip), one row per image.
            Assert.InRange(figure.Width, 5 * Size, 4096);
            Assert.InRange(figure.Height, Count * Size, figure.Width);
        }

        var roundTrip = Regex.Match(stdout, @"max abs error (\S+) \(pixel units");
        Assert.True(roundTrip.Success, $"no round-trip error in the output:\n{stdout}");
        Assert.InRange(double.Parse(roundTrip.Groups[1].Value, CultureInfo.InvariantCulture), 0, 0.01);
    }

    [Fact]
    public void SampleRejectsABadOptionWithAMessageAndExitCodeTwo()
    {
        var (exitCode, _, stderr) = RunSample("--size", "zero", "--output", _output.FullName);

        Assert.Equal(2, exitCode);
        Assert.Contains("--size", stderr);
    }

    private (int ExitCode, string Stdout, string Stderr) RunSample(params string[] arguments)
        => ChildProcess.Run("ImagePreprocessingSample", _output.FullName, arguments);
}
