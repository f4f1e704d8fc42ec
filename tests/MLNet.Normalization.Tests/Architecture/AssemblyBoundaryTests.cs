using System.Reflection;
using MLNet.Normalization.Training;

namespace MLNet.Normalization.Tests.Architecture;

/// <summary>
/// The boundary between the two assemblies. The core references no part of ML.NET; the adapter uses ML.NET's internals
/// (it is compiled against publicized copies) but shows none of them to its users: no member a user can reach names a
/// type that ML.NET itself keeps internal. Checked by reflection on the real ML.NET assemblies, where internal types
/// are not visible.
/// </summary>
public class AssemblyBoundaryTests
{
    private static readonly Assembly Core = typeof(Sequential).Assembly;
    private static readonly Assembly Adapter = typeof(BatchNormTransformer).Assembly;

    [Fact]
    public void TheCoreReferencesNoMLNetAssembly()
    {
        Assert.Equal("MLNet.Normalization.Core", Core.GetName().Name);
        var references = Core.GetReferencedAssemblies().Select(a => a.Name!).ToList();
        Assert.DoesNotContain(references, name => name.StartsWith("Microsoft.ML", StringComparison.Ordinal));
    }

    [Fact]
    public void TheAdapterKeepsTheAssemblyNameSavedModelsName()
        => Assert.Equal("MLNet.Normalization", Adapter.GetName().Name);

    [Fact]
    public void NoMemberAUserCanReachNamesAnMLNetInternalType()
    {
        var violations = new List<string>();
        foreach (var type in Adapter.GetExportedTypes())
        {
            foreach (var used in SignatureTypes(type.BaseType))
                Check(type.FullName!, "base type", used, violations);
            const BindingFlags declared = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (var member in type.GetMembers(declared).Where(m => Reachable(type, m)))
            {
                foreach (var used in MemberTypes(member).SelectMany(SignatureTypes))
                    Check($"{type.FullName}.{member.Name}", member.MemberType.ToString().ToLowerInvariant(), used, violations);
                // An override made public only because the publicized base declared it public.
                if (member is MethodInfo method && method.GetBaseDefinition() is var definition && definition.DeclaringType is { } declaring
                    && declaring.Assembly.GetName().Name!.StartsWith("Microsoft.ML", StringComparison.Ordinal)
                    && !(definition.IsPublic || definition.IsFamily || definition.IsFamilyOrAssembly))
                    violations.Add($"{type.FullName}.{member.Name}: overrides {declaring.FullName}.{definition.Name}, internal to ML.NET");
            }
        }
        Assert.True(violations.Count == 0, "Public API naming ML.NET-internal types or members:\n" + string.Join("\n", violations.Distinct()));
    }

    private static void Check(string where, string what, Type used, List<string> violations)
    {
        if (used.Assembly.GetName().Name!.StartsWith("Microsoft.ML", StringComparison.Ordinal) && !used.IsVisible)
            violations.Add($"{where} ({what}): {used.FullName}");
    }

    /// <summary>Public members, and protected ones where a user could derive from the type.</summary>
    private static bool Reachable(Type type, MemberInfo member)
    {
        bool Visible(MethodBase? method) => method is not null
            && (method.IsPublic || ((method.IsFamily || method.IsFamilyOrAssembly) && CanDerive(type)));
        return member switch
        {
            MethodBase method => Visible(method),
            PropertyInfo property => Visible(property.GetMethod) || Visible(property.SetMethod),
            EventInfo e => Visible(e.AddMethod),
            FieldInfo field => field.IsPublic || ((field.IsFamily || field.IsFamilyOrAssembly) && CanDerive(type)),
            Type nested => nested.IsNestedPublic,
            _ => false,
        };
    }

    /// <summary>A user can derive from an unsealed type with a constructor it can call.</summary>
    private static bool CanDerive(Type type)
        => !type.IsSealed && type.GetConstructors(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            .Any(c => c.IsPublic || c.IsFamily || c.IsFamilyOrAssembly);

    private static IEnumerable<Type> MemberTypes(MemberInfo member) => member switch
    {
        MethodInfo method => method.GetParameters().Select(p => p.ParameterType).Append(method.ReturnType),
        ConstructorInfo constructor => constructor.GetParameters().Select(p => p.ParameterType),
        PropertyInfo property => property.GetIndexParameters().Select(p => p.ParameterType).Append(property.PropertyType),
        FieldInfo field => [field.FieldType],
        EventInfo e => [e.EventHandlerType!],
        _ => [],
    };

    /// <summary>The type and every type it is built from: element types and generic arguments.</summary>
    private static IEnumerable<Type> SignatureTypes(Type? type)
    {
        if (type is null || type.IsGenericParameter)
            yield break;
        if (type.HasElementType)
        {
            foreach (var element in SignatureTypes(type.GetElementType()))
                yield return element;
            yield break;
        }
        yield return type.IsGenericType ? type.GetGenericTypeDefinition() : type;
        if (type.IsGenericType)
            foreach (var argument in type.GetGenericArguments().SelectMany(SignatureTypes))
                yield return argument;
    }
}
