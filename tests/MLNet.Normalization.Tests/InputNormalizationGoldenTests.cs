using System.Text.Json;
using Microsoft.ML;

namespace MLNet.Normalization.Tests;

/// <summary>Every input normalizer against torchvision and keras_applications outputs (tools/golden/make_input_normalization.py).</summary>
public class InputNormalizationGoldenTests
{
    private static readonly JsonElement File = Golden.Load("input_normalization.json");

    public static TheoryData<string> CaseNames() => Golden.Names(File, "cases");

    public static TheoryData<string> FitCaseNames() => Golden.Names(File, "fit_cases");

    /// <summary>The ops with a channel inverse; the pixel scalings have none.</summary>
    private static readonly HashSet<string> InvertibleOps = ["normalize_imagenet", "normalize_custom", "keras_caffe", "keras_tf", "keras_torch"];

    /// <summary>The cases whose op has a channel inverse (<see cref="Denormalizer"/>).</summary>
    public static TheoryData<string> InvertibleCaseNames() => Golden.Names(File, "cases", c => InvertibleOps.Contains(c.GetProperty("op").GetString()!));

    private static JsonElement Case(string section, string name) => Golden.Case(File, section, name);

    private static ChannelLayout LayoutOf(JsonElement c) => c.GetProperty("layout").GetString() == "chw" ? ChannelLayout.ChannelsFirst : ChannelLayout.ChannelsLast;

    private static IEstimator<ITransformer> Normalizer(MLContext ml, JsonElement c, ChannelLayout layout)
    {
        var op = c.GetProperty("op").GetString();
        var t = ml.Transforms;
        const string output = "Normalized";
        return op switch
        {
            "scale_zero_one" => t.ScalePixels(output, TestData.Column, PixelRange.ZeroToOne),
            "scale_minus_one_one" => t.ScalePixels(output, TestData.Column, PixelRange.MinusOneToOne),
            "normalize_imagenet" => t.NormalizeChannels(output, TestData.Column, ChannelStatistics.ImageNet, layout: layout),
            "normalize_custom" => t.NormalizeChannels(output, TestData.Column,
                new ChannelStatistics(c.GetProperty("mean").Floats(), c.GetProperty("std").Floats()), c.GetProperty("max").GetSingle(), layout),
            "keras_caffe" => t.PreprocessImageNet(output, TestData.Column, ImageNetPreprocessing.Caffe, layout),
            "keras_tf" => t.PreprocessImageNet(output, TestData.Column, ImageNetPreprocessing.Tf, layout),
            "keras_torch" => t.PreprocessImageNet(output, TestData.Column, ImageNetPreprocessing.Torch, layout),
            _ => throw new InvalidOperationException($"Unknown golden op {op}."),
        };
    }

    private static IEstimator<ITransformer> Denormalizer(MLContext ml, JsonElement c, ChannelLayout layout)
    {
        const string output = "Restored";
        var op = c.GetProperty("op").GetString();
        return op switch
        {
            "normalize_imagenet" => ml.Transforms.DenormalizeChannels(output, "Normalized", ChannelStatistics.ImageNet, layout: layout),
            "normalize_custom" => ml.Transforms.DenormalizeChannels(output, "Normalized",
                new ChannelStatistics(c.GetProperty("mean").Floats(), c.GetProperty("std").Floats()), layout: layout),
            "keras_caffe" => ml.Transforms.DenormalizeImageNet(output, "Normalized", ImageNetPreprocessing.Caffe, layout),
            "keras_tf" => ml.Transforms.DenormalizeImageNet(output, "Normalized", ImageNetPreprocessing.Tf, layout),
            "keras_torch" => ml.Transforms.DenormalizeImageNet(output, "Normalized", ImageNetPreprocessing.Torch, layout),
            _ => throw new InvalidOperationException($"The golden op {op} has no inverse."),
        };
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesReferenceWithExplicitLayout(string name) => AssertMatchesReference(name, auto: false);

    private static void AssertMatchesReference(string name, bool auto)
    {
        var c = Case("cases", name);
        var ml = new MLContext(seed: 1);
        var data = TestData.Vectors(ml, [c.GetProperty("input").Floats()], c.GetProperty("shape").Ints());

        var output = TestData.Read(Normalizer(ml, c, auto ? ChannelLayout.Auto : LayoutOf(c)).Fit(data).Transform(data), "Normalized")[0];

        // keras works in float32 and caffe's means are not exact in float32 (tools/golden/README.md).
        double absolute = c.GetProperty("op").GetString() == "keras_caffe" ? 1e-4 : 1e-5;
        TestData.AssertClose(c.GetProperty("output").Doubles(), output, absolute, 1e-6, name);
    }

    [Theory]
    [MemberData(nameof(InvertibleCaseNames))]
    public void DenormalizingTheReferenceOutputGivesBackThePixels(string name)
    {
        var c = Case("cases", name);
        var ml = new MLContext(seed: 1);
        var denormalizer = Denormalizer(ml, c, LayoutOf(c));
        var data = TestData.Vectors(ml, [c.GetProperty("output").Floats()], c.GetProperty("shape").Ints());
        var renamed = ml.Transforms.CopyColumns("Normalized", TestData.Column).Append(denormalizer);

        var restored = TestData.Read(renamed.Fit(data).Transform(data), "Restored")[0];

        TestData.AssertClose(c.GetProperty("input").Doubles(), restored, 2e-3, 0, name);
    }

    [Theory]
    [InlineData("normalize_imagenet_chw")]
    [InlineData("normalize_imagenet_hwc")]
    [InlineData("keras_caffe_chw")]
    [InlineData("keras_caffe_hwc")]
    [InlineData("normalize_custom_rgba_chw")]
    public void AutoLayoutReadsTheChannelDimensionFromTheShape(string name) => AssertMatchesReference(name, auto: true);

    [Theory]
    [MemberData(nameof(FitCaseNames))]
    public void FittedStatisticsMatchFloat64Reference(string name)
    {
        var c = Case("fit_cases", name);
        var ml = new MLContext(seed: 1);
        var rows = c.GetProperty("rows").EnumerateArray().Select(r => r.Floats()).ToArray();
        var data = TestData.Vectors(ml, rows, c.GetProperty("shape").Ints());

        var transformer = ml.Transforms.NormalizeChannels("Normalized", TestData.Column, statistics: null, c.GetProperty("max").GetSingle(), LayoutOf(c)).Fit(data);

        TestData.AssertClose(c.GetProperty("mean").Doubles(), transformer.Statistics.Mean.ToArray(), 0, 1e-6, name + " mean");
        TestData.AssertClose(c.GetProperty("std").Doubles(), transformer.Statistics.Std.ToArray(), 0, 1e-6, name + " std");
    }

    [Fact]
    public void KerasDocumentedReferencePixel()
    {
        // RGB (10, 20, 30): caffe gives BGR (−73.939, −96.779, −113.68), torch (−1.94666, −1.68557, −1.28157).
        var ml = new MLContext(seed: 1);
        var data = TestData.Vectors(ml, [[10f, 20f, 30f]], 3, 1, 1);

        var caffe = TestData.Read(ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe).Fit(data).Transform(data), "Out")[0];
        var torch = TestData.Read(ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Torch).Fit(data).Transform(data), "Out")[0];

        TestData.AssertClose([-73.939, -96.779, -113.68], caffe, 1e-4, 0, "caffe");
        TestData.AssertClose([-1.94666, -1.68557, -1.28157], torch, 1e-5, 0, "torch");
    }
}
