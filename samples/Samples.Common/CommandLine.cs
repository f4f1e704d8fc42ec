using System.Globalization;

namespace Samples.Common;

/// <summary>A command line the user got wrong; the message says what to fix.</summary>
public sealed class CommandLineException(string message) : Exception(message);

/// <summary>The samples' command lines: <c>--name value</c> pairs from a fixed set of names, and <c>--help</c>.</summary>
public sealed class CommandLine
{
    private readonly Dictionary<string, string> _values;

    private CommandLine(Dictionary<string, string> values, bool helpRequested)
    {
        _values = values;
        HelpRequested = helpRequested;
    }

    /// <summary>Whether <c>--help</c> or <c>-h</c> was given.</summary>
    public bool HelpRequested { get; }

    /// <summary>Parses <paramref name="args"/>; each option in <paramref name="optionNames"/> (without "--") takes one value.</summary>
    /// <exception cref="CommandLineException">An unknown or repeated option, a missing value, or a stray argument.</exception>
    public static CommandLine Parse(IReadOnlyList<string> args, params string[] optionNames)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool help = false;
        for (int i = 0; i < args.Count; i++)
        {
            string argument = args[i];
            if (argument is "--help" or "-h")
            {
                help = true;
                continue;
            }
            if (!argument.StartsWith("--", StringComparison.Ordinal))
                throw new CommandLineException($"Unexpected argument '{argument}'; options look like --name value.");
            string name = argument[2..];
            if (!optionNames.Contains(name))
                throw new CommandLineException($"Unknown option '{argument}'.");
            if (values.ContainsKey(name))
                throw new CommandLineException($"Option '{argument}' is given twice.");
            if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                throw new CommandLineException($"Option '{argument}' needs a value.");
            values[name] = args[++i];
        }
        return new CommandLine(values, help);
    }

    /// <summary>The value of <c>--<paramref name="name"/></c>, or null when not given.</summary>
    public string? GetString(string name) => _values.GetValueOrDefault(name);

    /// <summary>The integer value of <c>--<paramref name="name"/></c> in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="defaultValue"/>.</summary>
    /// <exception cref="CommandLineException">The value is not an integer in range.</exception>
    public int GetInt(string name, int defaultValue, int min, int max)
    {
        if (!_values.TryGetValue(name, out var text))
            return defaultValue;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new CommandLineException($"--{name} must be an integer from {min} to {max}, got '{text}'.");
        return value;
    }

    /// <summary>The integer value of <c>--<paramref name="name"/></c> in [<paramref name="min"/>, <paramref name="max"/>], or null when not given.</summary>
    /// <exception cref="CommandLineException">The value is not an integer in range.</exception>
    public int? GetOptionalInt(string name, int min, int max)
        => _values.ContainsKey(name) ? GetInt(name, 0, min, max) : null;

    /// <summary>
    /// The values named by the comma-separated <c>--<paramref name="name"/></c>, in <paramref name="choices"/>' order;
    /// every choice when not given.
    /// </summary>
    /// <exception cref="CommandLineException">The list is empty or names something not among the choices.</exception>
    public IReadOnlyList<T> GetList<T>(string name, IReadOnlyList<(string Name, T Value)> choices)
    {
        if (!_values.TryGetValue(name, out var text))
            return choices.Select(c => c.Value).ToList();
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0 || names.Any(n => !choices.Any(c => c.Name == n)))
            throw new CommandLineException(
                $"--{name} takes a comma-separated list of {string.Join(", ", choices.Select(c => c.Name))}; got '{text}'.");
        return choices.Where(c => names.Contains(c.Name)).Select(c => c.Value).ToList();
    }
}
