using System.IO.Hashing;

namespace MLNet.Normalization.Interop;

/// <summary>
/// Every model the library saves frames its parameters with a checksum, so a damaged file is a clear error at load
/// instead of silently different outputs (the zip reader does not verify its own CRCs). ML.NET's own formats carry
/// no such check.
/// </summary>
/// <remarks>
/// *** Binary format *** (from <see cref="ModelFormat.ChecksummedVersion"/>; earlier versions wrote the parameters bare)
/// int: byte length L of the parameters
/// byte[L]: the parameters, as documented by each model
/// ulong: XxHash64 of those L bytes
/// </remarks>
internal static class CheckedPayload
{
    public static void Write(BinaryWriter writer, Action<BinaryWriter> writeParameters)
    {
        using var buffer = new MemoryStream();
        using (var parameters = new BinaryWriter(buffer, System.Text.Encoding.UTF8, leaveOpen: true))
            writeParameters(parameters);
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        writer.Write(bytes.Length);
        writer.Write(bytes);
        writer.Write(XxHash64.HashToUInt64(bytes));
    }

    /// <summary>
    /// Reads the parameters written in <paramref name="versionWritten"/>: bare before <see cref="ModelFormat.ChecksummedVersion"/>,
    /// checksummed from it on, and then read to their last byte.
    /// </summary>
    public static T Read<T>(BinaryReader reader, uint versionWritten, Func<BinaryReader, T> readParameters)
    {
        if (versionWritten < ModelFormat.ChecksummedVersion)
            return readParameters(reader);

        int length = reader.ReadInt32();
        long available = reader.BaseStream.CanSeek ? reader.BaseStream.Length - reader.BaseStream.Position - sizeof(ulong) : int.MaxValue;
        if (length < 0 || length > available)
            throw new InvalidDataException($"Read a parameter length of {length} bytes, but at most {available} follow.");
        var bytes = reader.ReadBytes(length);
        if (bytes.Length != length)
            throw new EndOfStreamException($"The parameters end after {bytes.Length} of {length} bytes.");
        ulong stored = reader.ReadUInt64();
        ulong computed = XxHash64.HashToUInt64(bytes);
        if (stored != computed)
            throw new InvalidDataException($"The parameters fail their checksum (stored {stored:X16}, computed {computed:X16}): the file is damaged.");

        using var parameters = new BinaryReader(new MemoryStream(bytes, writable: false));
        var result = readParameters(parameters);
        if (parameters.BaseStream.Position != length)
            throw new InvalidDataException($"The parameters have {length - parameters.BaseStream.Position} bytes more than their format reads.");
        return result;
    }
}
