using System.Globalization;
using System.Text;
using QuickStart;

// Runs every example in order, each under a header line, or the ones named on the command line.
CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
Console.OutputEncoding = Encoding.UTF8;

(string Name, Action Example)[] examples =
[
    ("ScalePixels", ScalePixels.Example),
    ("NormalizeChannels", NormalizeChannels.Example),
    ("PreprocessImageNet", PreprocessImageNet.Example),
    ("DenormalizeChannels", DenormalizeChannels.Example),
    ("DenormalizeImageNet", DenormalizeImageNet.Example),
    ("BatchNorm", BatchNorm.Example),
    ("BatchNormFitted", BatchNormFitted.Example),
    ("LayerNorm", LayerNorm.Example),
    ("InstanceNorm", InstanceNorm.Example),
    ("GroupNorm", GroupNorm.Example),
    ("MultilayerPerceptron", MultilayerPerceptron.Example),
    ("OnnxImport", OnnxImport.Example),
    ("CoreTraining", CoreTraining.Example),
];
string names = string.Join(", ", examples.Select(e => e.Name));

if (args.Any(a => a is "--help" or "-h"))
{
    Console.WriteLine("Usage: dotnet run --project samples/QuickStart [-- <example>...]");
    Console.WriteLine("Runs every example, or the ones named. Examples: " + names);
    return 0;
}
var unknown = args.Where(a => !examples.Any(e => e.Name.Equals(a, StringComparison.OrdinalIgnoreCase))).ToList();
if (unknown.Count > 0)
{
    Console.Error.WriteLine($"error: no example named {string.Join(", ", unknown.Select(u => $"'{u}'"))}. Examples: {names}");
    return 2;
}

var selected = args.Length == 0
    ? examples
    : args.Select(a => examples.First(e => e.Name.Equals(a, StringComparison.OrdinalIgnoreCase))).Distinct().ToArray();
foreach (var (name, example) in selected)
{
    Console.WriteLine($"=== {name} ===");
    example();
    Console.WriteLine();
}
return 0;
