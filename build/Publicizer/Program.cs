using Mono.Cecil;

// Usage: Publicizer <input.dll> <output.dll> [<input.dll> <output.dll> ...]
// Writes each input assembly again with every type, method and field public. The copies are only
// compile-time references; at run time the library loads the real assemblies and relies on
// IgnoresAccessChecksToAttribute.
if (args.Length == 0 || args.Length % 2 != 0)
{
    Console.Error.WriteLine("usage: Publicizer <input.dll> <output.dll> [<input.dll> <output.dll> ...]");
    return 2;
}

for (int i = 0; i < args.Length; i += 2)
{
    var (input, output) = (args[i], args[i + 1]);
    var resolver = new DefaultAssemblyResolver();
    resolver.AddSearchDirectory(Path.GetDirectoryName(Path.GetFullPath(input))!);
    using var assembly = AssemblyDefinition.ReadAssembly(input, new ReaderParameters { AssemblyResolver = resolver });
    foreach (var type in assembly.MainModule.GetTypes())
        Publicize(type);
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
    assembly.Write(output);
    Console.WriteLine($"Publicized {Path.GetFileName(input)} -> {output}");
}
return 0;

static void Publicize(TypeDefinition type)
{
    if (IsCompilerGenerated(type.Name))
        return;
    if (type.IsNested)
        type.IsNestedPublic = true;
    else
        type.IsPublic = true;

    foreach (var method in type.Methods)
    {
        // Explicit interface implementations keep their privacy: their dotted names are not callable anyway.
        if (IsCompilerGenerated(method.Name) || (method.HasOverrides && method.IsPrivate))
            continue;
        method.IsPublic = true;
    }

    var eventNames = type.Events.Select(e => e.Name).ToHashSet();
    foreach (var field in type.Fields)
    {
        // An event's backing field shares the event's name; making it public would make the name ambiguous.
        if (IsCompilerGenerated(field.Name) || eventNames.Contains(field.Name))
            continue;
        field.IsPublic = true;
    }
}

static bool IsCompilerGenerated(string name) => name.Contains('<');
