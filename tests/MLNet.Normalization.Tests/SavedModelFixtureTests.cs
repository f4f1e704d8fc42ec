using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>
/// Models saved by every earlier format version (tools/fixtures/ModelFixtureWriter, one folder per version, never
/// rewritten) load in a fresh MLContext and give bit-identical outputs on the rows they were saved with.
/// </summary>
public class SavedModelFixtureTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "Fixtures");

    private sealed class PixelRow
    {
        public float[] Pixels { get; set; } = [];
    }

    private sealed class LabeledRow
    {
        public float[] Features { get; set; } = [];
        public string Label { get; set; } = "";
    }

    public static TheoryData<string> Fixtures()
    {
        var names = new TheoryData<string>();
        foreach (var file in Directory.EnumerateFiles(Root, "*.json", SearchOption.AllDirectories).Order())
            names.Add(Path.GetRelativePath(Root, file));
        return names;
    }

    [Fact]
    public void EveryFormatVersionHasItsFixtures()
    {
        var folders = Directory.EnumerateDirectories(Root).Select(f => Path.GetFileName(f)).Order().ToArray();
        Assert.Equal<string>(["format-1", "format-2"], folders);
        // 19 transforms and chains and 5 perceptrons in every version; from format 2, 5 convolutional networks.
        Assert.Equal(24, Directory.EnumerateFiles(Path.Combine(Root, "format-1"), "*.zip").Count());
        Assert.Equal(29, Directory.EnumerateFiles(Path.Combine(Root, "format-2"), "*.zip").Count());
        Assert.Equal(5, Directory.EnumerateFiles(Path.Combine(Root, "format-2"), "cnn-*.zip").Count());
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void LoadsAndGivesBitIdenticalOutputs(string fixture)
    {
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, fixture))).RootElement;
        string modelPath = Path.Combine(Root, Path.GetDirectoryName(fixture)!, json.GetProperty("model").GetString()!);

        var ml = new MLContext(seed: 7);
        var model = ml.Model.Load(modelPath, out var inputSchema);
        var output = model.Transform(Inputs(ml, json.GetProperty("inputs"), inputSchema));

        foreach (var column in json.GetProperty("outputs").EnumerateObject())
        {
            var type = output.Schema[column.Name].Type;
            if (type is KeyDataViewType)
                Assert.Equal(column.Value.EnumerateArray().Select(v => v.GetUInt32()).ToArray(), output.GetColumn<uint>(column.Name).ToArray());
            else
            {
                var expected = column.Value.EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetUInt32()).ToArray()).ToArray();
                var actual = output.GetColumn<float[]>(column.Name).Select(row => row.Select(BitConverter.SingleToUInt32Bits).ToArray()).ToArray();
                Assert.Equal(expected.Length, actual.Length);
                for (int i = 0; i < expected.Length; i++)
                    Assert.True(expected[i].SequenceEqual(actual[i]), $"{fixture}, column {column.Name}, row {i}: the output differs from the saved one.");
            }
        }
    }

    private static IDataView Inputs(MLContext ml, JsonElement inputs, DataViewSchema schema)
    {
        static float[][] Vectors(JsonElement rows)
            => rows.EnumerateArray().Select(row => row.EnumerateArray().Select(v => BitConverter.UInt32BitsToSingle(v.GetUInt32())).ToArray()).ToArray();

        if (inputs.TryGetProperty("Pixels", out var pixels))
        {
            var definition = SchemaDefinition.Create(typeof(PixelRow));
            definition[0].ColumnType = schema["Pixels"].Type;
            return ml.Data.LoadFromEnumerable(Vectors(pixels).Select(v => new PixelRow { Pixels = v }).ToArray(), definition);
        }
        var labeled = SchemaDefinition.Create(typeof(LabeledRow));
        labeled["Features"].ColumnType = schema["Features"].Type;
        var labels = inputs.GetProperty("Label").EnumerateArray().Select(l => l.GetString()!).ToArray();
        return ml.Data.LoadFromEnumerable(Vectors(inputs.GetProperty("Features")).Select((v, i) => new LabeledRow { Features = v, Label = labels[i] }).ToArray(), labeled);
    }
}
