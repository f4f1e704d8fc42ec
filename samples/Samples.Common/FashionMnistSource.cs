namespace Samples.Common;

/// <summary>
/// Which Fashion-MNIST data a sample reads, from its command line: the embedded subset by default, the installed
/// full data set with <c>--full</c>, or the folder given with <c>--data</c>.
/// </summary>
/// <param name="Folder">The absolute folder of the IDX files.</param>
/// <param name="Name">What the data is, for the sample's output.</param>
public sealed record FashionMnistSource(string Folder, string Name)
{
    public const string FullFlag = "--full";

    /// <summary>
    /// Splits <c>--full</c>, the one option without a value, off <paramref name="args"/>, since
    /// <see cref="CommandLine"/> reads "--name value" pairs only.
    /// </summary>
    /// <exception cref="CommandLineException">--full is given twice.</exception>
    public static (bool Full, string[] OtherArguments) TakeFullFlag(IReadOnlyList<string> args)
    {
        int count = args.Count(a => a == FullFlag);
        if (count > 1)
            throw new CommandLineException($"Option '{FullFlag}' is given twice.");
        return (count == 1, args.Where(a => a != FullFlag).ToArray());
    }

    /// <exception cref="CommandLineException">Both --full and --data are given, or --full without the installed data set.</exception>
    public static FashionMnistSource Select(bool full, string? dataOption)
    {
        if (full && dataOption is not null)
            throw new CommandLineException($"Give either --data or {FullFlag}, not both.");
        if (full)
        {
            if (!Directory.Exists(FashionMnist.InstalledFolder))
                throw new CommandLineException($"{FullFlag} reads the full data set from {FashionMnist.InstalledFolder}, which does not exist; pass --data <folder> instead.");
            return new FashionMnistSource(FashionMnist.InstalledFolder, "full Fashion-MNIST");
        }
        return dataOption is not null
            ? new FashionMnistSource(FashionMnist.ResolveFolder(dataOption), "Fashion-MNIST")
            : new FashionMnistSource(FashionMnist.FindEmbeddedSubset(), "the embedded Fashion-MNIST subset");
    }
}
