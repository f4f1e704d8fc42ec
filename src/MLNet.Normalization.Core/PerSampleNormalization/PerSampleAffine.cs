using MLNet.Normalization.Serialization;

namespace MLNet.Normalization.PerSampleNormalization;

/// <summary>The optional γ/β of the per-sample norms: both or neither given (one alone defaults the other to 1 or 0).</summary>
internal static class PerSampleAffine
{
    public static (float[] Gamma, float[] Beta) Check(float epsilon, float[]? gamma, float[]? beta)
    {
        Guard.CheckEpsilon(epsilon);
        Guard.CheckFinite(gamma, nameof(gamma));
        Guard.CheckFinite(beta, nameof(beta));
        if (gamma is not null && beta is not null && gamma.Length != beta.Length)
            throw new ArgumentException($"gamma has {gamma.Length} values but beta has {beta.Length}.", nameof(beta));
        if (gamma is { Length: 0 } || beta is { Length: 0 })
            throw new ArgumentException("gamma and beta must not be empty; pass null for no affine.", gamma is { Length: 0 } ? nameof(gamma) : nameof(beta));
        int length = gamma?.Length ?? beta?.Length ?? 0;
        if (length > ModelLimits.MaxAffineLength)
            throw new ArgumentOutOfRangeException(gamma is null ? nameof(beta) : nameof(gamma), length,
                $"{(gamma is null ? nameof(beta) : nameof(gamma))} has {length} values; a model holds at most {ModelLimits.MaxAffineLength} (ModelLimits.MaxAffineLength).");
        return (gamma is null ? Enumerable.Repeat(1f, length).ToArray() : (float[])gamma.Clone(),
                beta is null ? new float[length] : (float[])beta.Clone());
    }

    public static void Write(BinaryWriter writer, float[] gamma, float[] beta)
    {
        writer.WriteArray(gamma);
        writer.WriteArray(beta);
    }

    public static (float[]? Gamma, float[]? Beta) Read(BinaryReader reader)
    {
        int length = reader.ReadInt32();
        if (length < 0 || length > ModelLimits.MaxAffineLength)
            throw new InvalidDataException($"Read a gamma length of {length}, expected 0 to {ModelLimits.MaxAffineLength}.");
        var gamma = new float[length];
        for (int i = 0; i < length; i++)
            gamma[i] = reader.ReadSingle();
        var beta = reader.ReadSingleArray(length);
        return length == 0 ? (null, null) : (gamma, beta);
    }
}
