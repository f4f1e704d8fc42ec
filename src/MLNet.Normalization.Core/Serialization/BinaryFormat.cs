namespace MLNet.Normalization.Serialization;

/// <summary>Length-prefixed arrays and checked enums for the documented binary formats of the models and networks.</summary>
internal static class BinaryFormat
{
    public static void WriteArray(this BinaryWriter writer, ReadOnlySpan<float> values)
    {
        writer.Write(values.Length);
        foreach (var v in values)
            writer.Write(v);
    }

    public static void WriteArray(this BinaryWriter writer, ReadOnlySpan<double> values)
    {
        writer.Write(values.Length);
        foreach (var v in values)
            writer.Write(v);
    }

    public static void WriteArray(this BinaryWriter writer, ReadOnlySpan<int> values)
    {
        writer.Write(values.Length);
        foreach (var v in values)
            writer.Write(v);
    }

    public static float[] ReadSingleArray(this BinaryReader reader, int expectedLength)
    {
        var values = new float[ReadLength(reader, expectedLength)];
        for (int i = 0; i < values.Length; i++)
            values[i] = reader.ReadSingle();
        return values;
    }

    public static double[] ReadDoubleArray(this BinaryReader reader, int expectedLength)
    {
        var values = new double[ReadLength(reader, expectedLength)];
        for (int i = 0; i < values.Length; i++)
            values[i] = reader.ReadDouble();
        return values;
    }

    public static int[] ReadInt32Array(this BinaryReader reader, int expectedLength)
    {
        var values = new int[ReadLength(reader, expectedLength)];
        for (int i = 0; i < values.Length; i++)
            values[i] = reader.ReadInt32();
        return values;
    }

    /// <summary>A positive count no larger than <paramref name="max"/>, or a corrupt-data error.</summary>
    public static int ReadCount(this BinaryReader reader, int max = ModelLimits.MaxParameterLength)
    {
        int count = reader.ReadInt32();
        if (count <= 0 || count > max)
            throw new InvalidDataException($"Read a count of {count}, expected 1 to {max}.");
        return count;
    }

    public static TEnum ReadEnum<TEnum>(this BinaryReader reader) where TEnum : struct, Enum
    {
        int value = reader.ReadInt32();
        var result = (TEnum)Enum.ToObject(typeof(TEnum), value);
        if (!Enum.IsDefined(result))
            throw new InvalidDataException($"Read {value}, which is not a {typeof(TEnum).Name}.");
        return result;
    }

    public static void WriteEnum<TEnum>(this BinaryWriter writer, TEnum value) where TEnum : struct, Enum
        => writer.Write(Convert.ToInt32(value));

    private static int ReadLength(BinaryReader reader, int expectedLength)
    {
        int length = reader.ReadInt32();
        if (length != expectedLength)
            throw new InvalidDataException($"Read an array of length {length}, expected {expectedLength}.");
        return length;
    }
}
