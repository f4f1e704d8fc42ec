using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

internal static class CatalogEnvironment
{
    /// <summary>
    /// The ML.NET environment behind <c>mlContext.Transforms</c>, once the loaded ML.NET is known to be the release
    /// the library was compiled against (<see cref="MlNetVersion.EnsureSupported"/>).
    /// </summary>
    public static IHostEnvironment GetEnvironment(this TransformsCatalog catalog) => Checked(catalog);

    /// <summary>The ML.NET environment behind <c>mlContext.MulticlassClassification.Trainers</c>, checked the same way.</summary>
    public static IHostEnvironment GetEnvironment(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog) => Checked(catalog);

    private static IHostEnvironment Checked(object catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        MlNetVersion.EnsureSupported();
        return InternalEnvironment(catalog);
    }

    // Apart and never inlined: compiling it resolves ML.NET's internal IInternalCatalog, which must wait until the
    // version check has passed.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static IHostEnvironment InternalEnvironment(object catalog) => ((IInternalCatalog)catalog).Environment;
}
