using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;

// Usage: ModelLoadProbe <model.zip> <data.idv> <column>[,<column>...]
// Loads the model and the data in a fresh process, applies the model and prints each column's values,
// one row per line as "<column>: v v v". The first line tells whether the library was loaded before the model was.
if (args.Length != 3)
{
    Console.Error.WriteLine("usage: ModelLoadProbe <model.zip> <data.idv> <column>[,<column>...]");
    return 2;
}

static bool LibraryLoaded() => AppDomain.CurrentDomain.GetAssemblies().Any(a => a.GetName().Name == "MLNet.Normalization");

bool loadedBefore = LibraryLoaded();
var ml = new MLContext(seed: 1);
var model = ml.Model.Load(args[0], out _);
Console.WriteLine($"library-loaded-before-model: {loadedBefore}; after: {LibraryLoaded()}; transformer: {model.GetType().Name}");

var output = model.Transform(ml.Data.LoadFromBinary(args[1]));
foreach (var column in args[2].Split(','))
    foreach (var row in output.GetColumn<float[]>(column))
        Console.WriteLine($"{column}: {string.Join(' ', row.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}");
return 0;
