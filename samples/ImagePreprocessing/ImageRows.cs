using Microsoft.ML;
using Microsoft.ML.Data;

namespace ImagePreprocessing;

/// <summary>The pipeline's input: the path of one image file.</summary>
internal sealed class ImageFile
{
    public string Path { get; set; } = "";
}

/// <summary>The prediction engine's output: the normalized (3, size, size) pixels.</summary>
internal sealed class NormalizedImage
{
    public float[] Normalized { get; set; } = [];

    /// <summary>
    /// Declares <see cref="Normalized"/> as a (3, <paramref name="side"/>, <paramref name="side"/>) vector, what
    /// <c>[VectorType(3, side, side)]</c> would say if attribute arguments could depend on <c>--size</c>.
    /// </summary>
    public static SchemaDefinition Schema(int side)
    {
        var schema = SchemaDefinition.Create(typeof(NormalizedImage), SchemaDefinition.Direction.Read);
        schema[nameof(Normalized)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 3, side, side);
        return schema;
    }
}
