using System.Text.Json;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Training;

/// <summary>Batch Renormalization against Ioffe 2017's Algorithm 1 written in PyTorch (tools/golden/make_batch_renorm.py).</summary>
public class BatchRenormLayerTests
{
    private static readonly JsonElement File = Golden.Load("batch_renorm.json");

    public static TheoryData<string> CaseNames() => Golden.Names(File, "cases");

    private static BatchRenormLayer Layer(JsonElement c, string meanField, string stdField)
    {
        var layer = new BatchRenormLayer(c.GetProperty("channels").GetInt32(), c.GetProperty("spatial").GetInt32(),
            RenormSchedule.Constant(c.GetProperty("rmax").GetDouble(), c.GetProperty("dmax").GetDouble()),
            c.GetProperty("alpha").GetDouble(), c.GetProperty("eps").GetSingle());
        c.GetProperty("gamma").Floats().CopyTo(layer.Gamma, 0);
        c.GetProperty("beta").Floats().CopyTo(layer.Beta, 0);
        c.GetProperty(meanField).Floats().CopyTo(layer.MovingMean, 0);
        c.GetProperty(stdField).Floats().CopyTo(layer.MovingStd, 0);
        return layer;
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void TrainingStepMatchesThePaper(string name)
    {
        var c = File.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var layer = Layer(c, "moving_mean", "moving_std");
        var x = c.GetProperty("input").Floats();
        var y = new float[x.Length];
        var dx = new float[x.Length];

        layer.Forward(x, y, c.GetProperty("rows").GetInt32(), training: true);
        layer.Backward(c.GetProperty("output_gradient").Floats(), dx);

        TestData.AssertClose(c.GetProperty("r").Doubles(), layer.R, 1e-6, 1e-5, name + " r");
        TestData.AssertClose(c.GetProperty("d").Doubles(), layer.D, 1e-6, 1e-5, name + " d");
        TestData.AssertClose(c.GetProperty("output").Doubles(), y, 1e-5, 1e-5, name + " y");
        TestData.AssertClose(c.GetProperty("input_gradient").Doubles(), dx, 1e-5, 1e-5, name + " dx");
        TestData.AssertClose(c.GetProperty("gamma_gradient").Doubles(), layer.GammaGradient, 1e-5, 1e-5, name + " dγ");
        TestData.AssertClose(c.GetProperty("beta_gradient").Doubles(), layer.BetaGradient, 1e-5, 1e-5, name + " dβ");
        TestData.AssertClose(c.GetProperty("moving_mean_after").Doubles(), layer.MovingMean, 1e-6, 1e-5, name + " μ");
        TestData.AssertClose(c.GetProperty("moving_std_after").Doubles(), layer.MovingStd, 1e-6, 1e-5, name + " σ");

        var inference = new float[x.Length];
        layer.Forward(x, inference, c.GetProperty("rows").GetInt32(), training: false);
        TestData.AssertClose(c.GetProperty("inference_output").Doubles(), inference, 1e-5, 1e-5, name + " inference");
    }

    [Fact]
    public void MovingAveragesFollowThePaperOverASequenceOfSteps()
    {
        var sequence = File.GetProperty("sequence");
        var layer = Layer(sequence, "moving_mean_initial", "moving_std_initial");
        int rows = sequence.GetProperty("rows").GetInt32();
        int step = 0;
        foreach (var s in sequence.GetProperty("steps").EnumerateArray())
        {
            var x = s.GetProperty("input").Floats();
            layer.Forward(x, new float[x.Length], rows, training: true);
            TestData.AssertClose(s.GetProperty("r").Doubles(), layer.R, 1e-6, 1e-5, $"step {step} r");
            TestData.AssertClose(s.GetProperty("d").Doubles(), layer.D, 1e-6, 1e-5, $"step {step} d");
            TestData.AssertClose(s.GetProperty("moving_mean_after").Doubles(), layer.MovingMean, 1e-6, 1e-5, $"step {step} μ");
            TestData.AssertClose(s.GetProperty("moving_std_after").Doubles(), layer.MovingStd, 1e-6, 1e-5, $"step {step} σ");
            step++;
        }
        Assert.Equal(5, layer.Step);
    }

    [Fact]
    public void ScheduleKeepsPlainBatchNormForTheWarmUpThenRelaxesLinearly()
    {
        var schedule = new RenormSchedule(); // the paper's: 5k, rmax 3 by 40k, dmax 5 by 25k
        Assert.Equal((1.0, 0.0), (schedule.RMax(0), schedule.DMax(0)));
        Assert.Equal((1.0, 0.0), (schedule.RMax(4_999), schedule.DMax(4_999)));
        Assert.Equal(1 + 2 * 17_500.0 / 35_000, schedule.RMax(22_500), 12);
        Assert.Equal(5 * 10_000.0 / 20_000, schedule.DMax(15_000), 12);
        Assert.Equal((3.0, 5.0), (schedule.RMax(40_000), schedule.DMax(25_000)));
        Assert.Equal((3.0, 5.0), (schedule.RMax(1_000_000), schedule.DMax(1_000_000)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BatchRenormLayer(2, schedule: new RenormSchedule(FinalRMax: 0.5)));
    }

    [Fact]
    public void LayerReadsItsLimitsFromTheScheduleStepByStep()
    {
        var layer = new BatchRenormLayer(2, 1, new RenormSchedule(WarmupSteps: 2, FinalRMax: 2, RMaxSteps: 4, FinalDMax: 1, DMaxSteps: 3));
        var x = new float[] { 1, 2, 3, 5, 2, 7 };
        var rMax = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            rMax.Add(layer.RMax);
            layer.Forward(x, new float[6], 3, training: true);
        }
        Assert.Equal([1, 1, 1, 1.5, 2], rMax);
    }
}
