using Microsoft.ML;

namespace MLNet.Normalization.Tests;

/// <summary>
/// The NaN/∞ policy the README states: at transform time a non-finite value goes through as in PyTorch (no error; NaN
/// or ±∞ in the same slot for the per-channel maps, NaN over the whole statistics group for LayerNorm, InstanceNorm
/// and GroupNorm, as F.layer_norm / F.instance_norm / F.group_norm give), and the rest of the row is untouched. Fitting
/// and training refuse such values: BadInputTests, BatchNormBadInputTests, NetworkTests and
/// MultilayerPerceptronTrainerTests check those errors.
/// </summary>
public class NonFinitePolicyTests
{
    private const int BadSlot = 5; // channel 1, position 1 of (3, 2, 2)

    private static readonly int[] Dimensions = [3, 2, 2];
    private static readonly int[] WholeRow = Enumerable.Range(0, 12).ToArray();
    private static readonly int[] Channel1 = [4, 5, 6, 7];

    private static float[] CleanRow() => Enumerable.Range(0, 12).Select(i => 40f + 13f * i - 0.5f * i * i).ToArray();

    /// <summary>The transform, and the slots a non-finite value at <see cref="BadSlot"/> reaches (null: that slot only).</summary>
    private static (IEstimator<ITransformer> Estimator, int[]? Group) Transform(MLContext ml, string name) => name switch
    {
        "ScalePixels" => (ml.Transforms.ScalePixels("Out", TestData.Column), null),
        "NormalizeChannels ImageNet" => (ml.Transforms.NormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet), null),
        "NormalizeChannels fitted" => (ml.Transforms.NormalizeChannels("Out", TestData.Column), null),
        "PreprocessImageNet Torch" => (ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Torch), null),
        "PreprocessImageNet Caffe" => (ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe), null),
        "DenormalizeChannels" => (ml.Transforms.DenormalizeChannels("Out", TestData.Column, ChannelStatistics.ImageNet), null),
        "BatchNorm given" => (ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormParameters([1f, 2f, 3f], [4f, 5f, 6f], gamma: [1f, -2f, 0.5f], beta: [0f, 1f, -1f])), null),
        "BatchNorm fitted" => (ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { FitMode = BatchNormFitMode.Exact }), null),
        "LayerNorm" => (ml.Transforms.LayerNorm("Out", TestData.Column), WholeRow),
        "InstanceNorm" => (ml.Transforms.InstanceNorm("Out", TestData.Column), Channel1),
        "GroupNorm" => (ml.Transforms.GroupNorm("Out", TestData.Column, groups: 3), Channel1),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    public static TheoryData<string, float> Cases()
    {
        var data = new TheoryData<string, float>();
        foreach (var name in new[] { "ScalePixels", "NormalizeChannels ImageNet", "NormalizeChannels fitted", "PreprocessImageNet Torch", "PreprocessImageNet Caffe",
                     "DenormalizeChannels", "BatchNorm given", "BatchNorm fitted", "LayerNorm", "InstanceNorm", "GroupNorm" })
            foreach (var bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                data.Add(name, bad);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TransformPropagatesNonFiniteValuesLikePyTorch(string name, float bad)
    {
        var ml = new MLContext(seed: 1);
        var clean = CleanRow();
        var dirty = CleanRow();
        dirty[BadSlot] = bad;
        var (estimator, group) = Transform(ml, name);

        // Fitted on finite rows; the non-finite value comes at transform time.
        var model = estimator.Fit(TestData.Vectors(ml, [clean, CleanRow().Select(v => v * 0.5f + 3).ToArray()], Dimensions));
        var outputs = TestData.Read(model.Transform(TestData.Vectors(ml, [clean, dirty], Dimensions)), "Out");

        var expectedClean = outputs[0];
        var actual = outputs[1];
        Assert.All(expectedClean, v => Assert.True(float.IsFinite(v)));
        for (int i = 0; i < actual.Length; i++)
        {
            if (group is not null && group.Contains(i))
                Assert.True(float.IsNaN(actual[i]), $"{name}: slot {i} of the bad value's group is {actual[i]}, expected NaN as PyTorch gives");
            else if (group is null && i == BadSlot)
                Assert.True(float.IsNaN(bad) ? float.IsNaN(actual[i]) : float.IsInfinity(actual[i]), $"{name}: the bad slot gives {actual[i]} for {bad}");
            else
                Assert.Equal(expectedClean[i], actual[i]);
        }
    }
}
