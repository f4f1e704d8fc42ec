using System.Globalization;
using System.Text;

namespace Samples.Common;

/// <summary>
/// The samples' shared entry point: invariant culture and UTF-8 output; the usage text for --help (exit code 0);
/// a command-line error prints its message and a hint (exit code 2); an I/O, data or state error prints its
/// message (exit code 1).
/// </summary>
public static class SampleProgram
{
    /// <param name="usage">The --help text.</param>
    /// <param name="parse">Reads the command line; null when --help was asked for.</param>
    /// <param name="run">The sample itself; returns the exit code.</param>
    public static int Run<TSettings>(string usage, Func<TSettings?> parse, Func<TSettings, int> run) where TSettings : class
    {
        CultureInfo.CurrentCulture = CultureInfo.InvariantCulture;
        Console.OutputEncoding = Encoding.UTF8;
        try
        {
            var settings = parse();
            if (settings is null)
            {
                Console.WriteLine(usage);
                return 0;
            }
            return run(settings);
        }
        catch (CommandLineException e)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            Console.Error.WriteLine("Run with --help to see the options.");
            return 2;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or InvalidOperationException)
        {
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
    }
}
