using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLNet.Normalization.Tests;

/// <summary>Builds small in-memory data views and reads columns back.</summary>
internal static class TestData
{
    public const string Column = "Pixels";

    private sealed class VectorRow
    {
        public float[] Pixels { get; set; } = [];
    }

    /// <summary>A data view with one float vector column of the given dimensions (none: unknown size).</summary>
    public static IDataView Vectors(MLContext ml, IEnumerable<float[]> rows, params int[] dimensions)
    {
        var definition = SchemaDefinition.Create(typeof(VectorRow));
        definition[0].ColumnName = Column;
        definition[0].ColumnType = dimensions.Length == 0
            ? new VectorDataViewType(NumberDataViewType.Single)
            : new VectorDataViewType(NumberDataViewType.Single, dimensions);
        return ml.Data.LoadFromEnumerable(rows.Select(r => new VectorRow { Pixels = r }), definition);
    }

    public static float[][] Read(IDataView data, string column) => data.GetColumn<float[]>(column).ToArray();

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double absolute, double relative, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]);
            // Written so that a NaN error fails too.
            if (!(error <= absolute + relative * Math.Abs(expected[i])))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (error {error:E2}).");
        }
    }
}

/// <summary>Golden vectors written by tools/golden (PyTorch, torchvision, keras_applications, numpy float64).</summary>
internal static class Golden
{
    private static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Golden");

    public static JsonElement Load(string file)
        => JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, file))).RootElement;

    /// <summary>The names of the cases in <paramref name="section"/>, for a theory's MemberData.</summary>
    public static TheoryData<string> Names(JsonElement file, string section) => Names(file, section, _ => true);

    /// <summary>
    /// The names of the cases in <paramref name="section"/> that <paramref name="applies"/> to, for a theory that tests
    /// only those: filter the data rather than return early from a row, so that every row that runs asserts something.
    /// </summary>
    public static TheoryData<string> Names(JsonElement file, string section, Func<JsonElement, bool> applies)
    {
        var names = new TheoryData<string>();
        foreach (var c in file.GetProperty(section).EnumerateArray().Where(applies))
            names.Add(c.GetProperty("name").GetString()!);
        return names;
    }

    /// <summary>The case called <paramref name="name"/> in <paramref name="section"/>.</summary>
    public static JsonElement Case(JsonElement file, string section, string name)
        => file.GetProperty(section).EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    public static float[] Floats(this JsonElement element) => element.EnumerateArray().Select(e => (float)e.GetDouble()).ToArray();
    public static double[] Doubles(this JsonElement element) => element.EnumerateArray().Select(e => e.GetDouble()).ToArray();
    public static int[] Ints(this JsonElement element) => element.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
