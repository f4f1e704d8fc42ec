using System.Text.Json;
using MLNet.Normalization.BatchNormalization;
using MLNet.Normalization.PerSampleNormalization;
using MLNet.Normalization.Shapes;

namespace MLNet.Normalization.Tests;

/// <summary>Forward and backward of batch, layer, instance and group normalization against PyTorch autograd in float64 (tools/golden/make_batch_norm.py).</summary>
public class NormalizationKernelGoldenTests
{
    private static readonly JsonElement File = Golden.Load("batch_norm.json");

    public static TheoryData<string> CaseNames() => Golden.Names(File, "forward_backward");

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void ForwardAndBackwardMatchPyTorch(string name)
    {
        var c = File.GetProperty("forward_backward").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        int rows = c.GetProperty("rows").GetInt32(), channels = c.GetProperty("channels").GetInt32(), spatial = c.GetProperty("spatial").GetInt32();
        double eps = c.GetProperty("eps").GetDouble();
        var x = c.GetProperty("input").Floats();
        var gamma = c.GetProperty("gamma").Floats();
        var beta = c.GetProperty("beta").Floats();
        var dy = c.GetProperty("output_gradient").Floats();
        var y = new float[x.Length];
        var dx = new float[x.Length];
        var dGamma = new float[gamma.Length];
        var dBeta = new float[beta.Length];

        switch (c.GetProperty("op").GetString())
        {
            case "batch":
            {
                var shape = new NcsShape(rows, channels, spatial);
                double[] mean = new double[channels], variance = new double[channels], istd = new double[channels];
                float[] scale = new float[channels], shift = new float[channels];
                BatchNormKernel.ForwardTraining(x, y, shape, gamma, beta, eps, mean, variance, istd, scale, shift);
                BatchNormKernel.Backward(dy, x, dx, shape, gamma, mean, istd, dGamma, dBeta, new float[3 * channels]);
                break;
            }
            default:
            {
                var (shape, groups) = c.GetProperty("op").GetString() switch
                {
                    "layer" => (new NcsShape(rows, channels * spatial, 1), 1),
                    "instance" => (new NcsShape(rows, channels, spatial), channels),
                    _ => (new NcsShape(rows, channels, spatial), c.GetProperty("groups").GetInt32()),
                };
                double[] mean = new double[rows * groups], istd = new double[rows * groups];
                GroupNormKernel.Forward(x, y, shape, groups, gamma, beta, eps, mean, istd);
                GroupNormKernel.Backward(dy, x, dx, shape, groups, gamma, mean, istd, dGamma, dBeta);
                break;
            }
        }

        TestData.AssertClose(c.GetProperty("output").Doubles(), y, 1e-5, 1e-5, name + " y");
        TestData.AssertClose(c.GetProperty("input_gradient").Doubles(), dx, 1e-5, 1e-5, name + " dx");
        TestData.AssertClose(c.GetProperty("gamma_gradient").Doubles(), dGamma, 1e-5, 1e-5, name + " dγ");
        TestData.AssertClose(c.GetProperty("beta_gradient").Doubles(), dBeta, 1e-5, 1e-5, name + " dβ");
    }
}
