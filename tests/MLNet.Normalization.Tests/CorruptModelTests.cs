using System.IO.Compression;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests;

/// <summary>A byte flipped inside any saved parameter is a clear load error, not silently different outputs.</summary>
public class CorruptModelTests
{
    private static readonly int[] Shape = [3, 4, 5];

    private sealed class LabeledRow
    {
        [VectorType(4)]
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    public static TheoryData<string> Models() =>
        ["PIXSCALE", "CHANNORM", "IMGNETPP", "CHDENORM", "BATCHNRM", "LAYERNRM", "GROUPNRM", "MLPNORMP"];

    private static (ITransformer Model, IDataView Data) Fit(MLContext ml, string signature)
    {
        var random = new Random(1);
        var pixels = TestData.Vectors(ml, Enumerable.Range(0, 8).Select(_ => Enumerable.Range(0, 60).Select(_ => (float)random.Next(256)).ToArray()).ToArray(), Shape);
        IEstimator<ITransformer> estimator = signature switch
        {
            "PIXSCALE" => ml.Transforms.ScalePixels("Out", TestData.Column),
            "CHANNORM" => ml.Transforms.NormalizeChannels("Out", TestData.Column),
            "IMGNETPP" => ml.Transforms.PreprocessImageNet("Out", TestData.Column, ImageNetPreprocessing.Caffe),
            "CHDENORM" => ml.Transforms.DenormalizeImageNet("Out", TestData.Column),
            "BATCHNRM" => ml.Transforms.BatchNorm("Out", TestData.Column, new BatchNormOptions { BatchSize = 4 }),
            "LAYERNRM" => ml.Transforms.LayerNorm("Out", TestData.Column, gamma: Enumerable.Repeat(2f, 60).ToArray()),
            "GROUPNRM" => ml.Transforms.GroupNorm("Out", TestData.Column, groups: 3),
            _ => ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(
                new MultilayerPerceptronTrainer.Options { HiddenLayers = [6], BatchSize = 4, Epochs = 1 })),
        };
        var data = signature == "MLPNORMP"
            ? ml.Data.LoadFromEnumerable(Enumerable.Range(0, 16).Select(n => new LabeledRow
            {
                Label = n % 2 == 0 ? "a" : "b",
                Features = Enumerable.Range(0, 4).Select(f => (float)(random.NextDouble() + (f == n % 2 ? 1 : 0))).ToArray(),
            }).ToArray())
            : pixels;
        return (estimator.Fit(data), data);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void AFlippedParameterByteIsALoadError(string signature)
    {
        var ml = new MLContext(seed: 1);
        var (model, data) = Fit(ml, signature);
        using var saved = new MemoryStream();
        ml.Model.Save(model, data.Schema, saved);

        // Intact, it loads.
        ml.Model.Load(new MemoryStream(saved.ToArray()), out _);

        var damaged = FlipAParameterByte(saved.ToArray(), signature);
        var error = Assert.ThrowsAny<Exception>(() => new MLContext().Model.Load(new MemoryStream(damaged), out _));
        var message = string.Join(" | ", Messages(error));
        Assert.Contains("fail their checksum", message);
        Assert.Contains("the file is damaged", message);
    }

    private static IEnumerable<string> Messages(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            yield return e.Message;
    }

    /// <summary>
    /// Flips one bit in the middle of the model data of the entry whose ML.NET model header carries
    /// <paramref name="signature"/> (the header's model signature at byte 64; model data at FpModel, byte 16, for
    /// CbModel bytes, byte 24).
    /// </summary>
    private static byte[] FlipAParameterByte(byte[] zip, string signature)
    {
        using var stream = new MemoryStream();
        stream.Write(zip);
        using (var archive = new ZipArchive(stream, ZipArchiveMode.Update, leaveOpen: true))
        {
            var expected = Encoding.ASCII.GetBytes(signature);
            int flipped = 0;
            foreach (var entry in archive.Entries.Where(e => e.Name == "Model.key").ToArray())
            {
                byte[] bytes;
                using (var read = entry.Open())
                using (var copy = new MemoryStream())
                {
                    read.CopyTo(copy);
                    bytes = copy.ToArray();
                }
                if (!bytes.AsSpan(64, 8).SequenceEqual(expected))
                    continue;
                long start = BitConverter.ToInt64(bytes, 16), length = BitConverter.ToInt64(bytes, 24);
                bytes[start + length / 2] ^= 0x10;
                using var write = entry.Open();
                write.SetLength(0);
                write.Write(bytes);
                flipped++;
            }
            Assert.Equal(1, flipped);
        }
        return stream.ToArray();
    }
}
