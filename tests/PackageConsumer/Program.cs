using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNet.Normalization;
using MLNet.Normalization.Training;

// A user's app of the MLNet.Normalization package: fits NormalizeChannels (fitted statistics) + BatchNorm (given
// parameters) + the multilayer-perceptron trainer, saves the model to a zip, loads it in a fresh MLContext and checks
// that the reloaded model predicts exactly what the fitted one does. Prints one "package-consumer: ..." line and exits
// 0, or prints the reason to stderr and exits 1.

string expectedVersion = Assembly.GetEntryAssembly()!.GetCustomAttributes<AssemblyMetadataAttribute>()
    .Single(a => a.Key == "MLNetNormalizationVersion").Value!;
string? problem = CheckLibraryComesFromThePackage(expectedVersion);
if (problem is not null)
    return Fail(problem);

var ml = new MLContext(seed: 1);
var train = ml.Data.LoadFromEnumerable(Image.Make(300, seed: 1));
var test = Image.Make(60, seed: 2);

var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
    .Append(ml.Transforms.NormalizeChannels("Normalized", "Pixels"))
    .Append(ml.Transforms.BatchNorm("Features", "Normalized",
        new BatchNormParameters(runningMean: [0.1f, -0.1f, 0f], runningVariance: [0.9f, 1.1f, 1f], gamma: [1.5f, 0.5f, 1f], beta: [0.1f, -0.2f, 0f])))
    .Append(ml.MulticlassClassification.Trainers.MultilayerPerceptron(new MultilayerPerceptronTrainer.Options
    {
        HiddenLayers = [16],
        Normalization = HiddenNormalization.BatchNorm,
        BatchSize = 16,
        Epochs = 5,
        Seed = 1,
    }))
    .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
var model = pipeline.Fit(train);
var fitted = Predictions.Of(ml, model.Transform(ml.Data.LoadFromEnumerable(test)));

string folder = Directory.CreateTempSubdirectory("mlnet-normalization-consumer-").FullName;
try
{
    string path = Path.Combine(folder, "model.zip");
    ml.Model.Save(model, train.Schema, path);

    var fresh = new MLContext(seed: 7);
    var loaded = fresh.Model.Load(path, out _);
    var reloaded = Predictions.Of(fresh, loaded.Transform(fresh.Data.LoadFromEnumerable(test)));
    var engine = fresh.Model.CreatePredictionEngine<Image, Prediction>(loaded);
    var single = test.Select(engine.Predict).ToArray();

    for (int i = 0; i < test.Length; i++)
    {
        if (fitted[i].PredictedLabel != reloaded[i].PredictedLabel || !fitted[i].Score.SequenceEqual(reloaded[i].Score))
            return Fail($"row {i}: the reloaded model predicts {reloaded[i]}, the fitted one {fitted[i]}");
        if (fitted[i].PredictedLabel != single[i].PredictedLabel || !fitted[i].Score.SequenceEqual(single[i].Score))
            return Fail($"row {i}: the reloaded model's prediction engine predicts {single[i]}, the fitted model {fitted[i]}");
    }

    double accuracy = test.Zip(fitted).Count(p => p.First.Label == p.Second.PredictedLabel) / (double)test.Length;
    if (accuracy < 0.9)
        return Fail($"test accuracy {accuracy:F3} on three well-separated classes; expected at least 0.9");

    string mlNet = typeof(MLContext).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?";
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"package-consumer: MLNet.Normalization {expectedVersion} from the package on ML.NET {mlNet}; the reloaded model's {test.Length} predictions equal the fitted model's; test accuracy {accuracy:F3}"));
    return 0;
}
finally
{
    Directory.Delete(folder, recursive: true);
}

static int Fail(string message)
{
    Console.Error.WriteLine($"package-consumer: {message}");
    return 1;
}

// The app's dependency manifest says where each library came from: MLNet.Normalization must be the package of the
// expected version, not a project or a file reference.
static string? CheckLibraryComesFromThePackage(string expectedVersion)
{
    string manifest = Path.Combine(AppContext.BaseDirectory, "PackageConsumer.deps.json");
    using var deps = JsonDocument.Parse(File.ReadAllText(manifest));
    var libraries = deps.RootElement.GetProperty("libraries").EnumerateObject()
        .Where(l => l.Name.StartsWith("MLNet.Normalization/", StringComparison.Ordinal)).ToArray();
    if (libraries.Length != 1)
        return $"{manifest} lists {libraries.Length} MLNet.Normalization libraries: {string.Join(", ", libraries.Select(l => l.Name))}";
    string type = libraries[0].Value.GetProperty("type").GetString() ?? "";
    if (libraries[0].Name != $"MLNet.Normalization/{expectedVersion}" || type != "package")
        return $"expected the package MLNet.Normalization/{expectedVersion}, found {type} {libraries[0].Name}";
    return null;
}

/// <summary>A 3-channel 5×5 image with pixels in 0..255, as ML.NET's ExtractPixels writes it (C, H, W).</summary>
internal sealed class Image
{
    [VectorType(3, 5, 5)]
    public float[] Pixels { get; set; } = [];

    public string Label { get; set; } = "";

    private static readonly string[] Names = ["dark", "red", "blue"];

    /// <summary>Three classes told apart by their channels' brightness, with pixel noise.</summary>
    public static Image[] Make(int count, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(n =>
        {
            int label = n % 3;
            float[] brightness = label switch { 0 => [50, 50, 50], 1 => [200, 60, 60], _ => [60, 60, 200] };
            var pixels = new float[75];
            for (int i = 0; i < pixels.Length; i++)
                pixels[i] = Math.Clamp(brightness[i / 25] + (float)(random.NextDouble() - 0.5) * 60, 0, 255);
            return new Image { Pixels = pixels, Label = Names[label] };
        }).ToArray();
    }
}

/// <summary>The columns the pipeline adds that a user reads.</summary>
internal sealed class Prediction
{
    public string PredictedLabel { get; set; } = "";

    public float[] Score { get; set; } = [];

    public override string ToString() => $"{PredictedLabel} [{string.Join(", ", Score.Select(s => s.ToString("R", CultureInfo.InvariantCulture)))}]";
}

internal static class Predictions
{
    public static Prediction[] Of(MLContext ml, IDataView scored)
        => ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).ToArray();
}
