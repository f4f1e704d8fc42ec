using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

namespace MLNet.Normalization.Interop;

internal static class CatalogEnvironment
{
    /// <summary>The ML.NET environment behind <c>mlContext.Transforms</c>.</summary>
    public static IHostEnvironment GetEnvironment(this TransformsCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return ((IInternalCatalog)catalog).Environment;
    }
}
