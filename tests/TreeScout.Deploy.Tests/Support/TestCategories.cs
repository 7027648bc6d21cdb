using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace TreeScout.Deploy.Tests.Support;

/// <summary>What <see cref="TestCategories.Check"/> found in one test project's sources.</summary>
public sealed record CategoryCheck(int TestClasses, int Tests, IReadOnlyList<string> Problems);

/// <summary>
/// Checks, from a test project's C# sources, that every test (a method with [Fact], [Theory] or an attribute whose name
/// ends in Fact or Theory, such as [TmpfsFact]) has exactly one Category trait, on its class or on itself, and that it is
/// one of <see cref="Known"/>. A concrete class runs the tests it inherits too, so those need the trait on it. Reads
/// the syntax only (Roslyn's parser): no build of the project is needed, and comments, strings and attribute layout
/// cannot fool it. Base classes are resolved by name within the project.
/// </summary>
public static class TestCategories
{
    public static readonly string[] Known = ["Unit", "Integration", "Disruptive"];

    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Preview);

    /// <summary>Checks the sources of one test project (<paramref name="files"/>: path for the messages, and text).</summary>
    public static CategoryCheck Check(IEnumerable<(string Path, string Source)> files)
    {
        var parts = files
            .SelectMany(f => CSharpSyntaxTree.ParseText(f.Source, Parse, f.Path).GetRoot().DescendantNodes().OfType<ClassDeclarationSyntax>())
            .ToLookup(FullName);
        var classes = parts.ToDictionary(p => p.Key, p => p.ToList());
        var bySimpleName = classes.Keys.ToLookup(k => k[(k.LastIndexOf('.') + 1)..]);
        var problems = new List<string>();
        var (testClasses, tests) = (0, 0);
        foreach (var (name, declarations) in classes)
        {
            if (declarations.Any(d => d.Modifiers.Any(m => m.IsKind(SyntaxKind.AbstractKeyword) || m.IsKind(SyntaxKind.StaticKeyword))))
            {
                continue; // its tests run (and are checked) in the concrete classes deriving from it
            }
            var methods = TestMethods(name, classes, bySimpleName, []).ToList();
            if (methods.Count == 0)
            {
                continue;
            }
            testClasses++;
            tests += methods.Count;
            var classCategories = declarations.SelectMany(d => Categories(d.AttributeLists)).ToList();
            var where = $"{declarations[0].SyntaxTree.FilePath}: {name[(name.LastIndexOf('.') + 1)..]}";
            foreach (var method in methods)
            {
                var categories = classCategories.Concat(Categories(method.AttributeLists)).ToList();
                var problem = categories.Count switch
                {
                    0 => "no Category trait",
                    > 1 => $"Category traits {string.Join(" and ", categories)}: one only (a class's trait applies to every test in it)",
                    _ when !Known.Contains(categories[0]) => $"Category '{categories[0]}' is not one of {string.Join(", ", Known)}",
                    _ => null,
                };
                if (problem is not null)
                {
                    problems.Add($"{where}.{method.Identifier.Text}: {problem}");
                }
            }
        }
        return new CategoryCheck(testClasses, tests, problems);
    }

    /// <summary>The test methods a class runs: its own and those of its base classes in the project.</summary>
    private static IEnumerable<MethodDeclarationSyntax> TestMethods(
        string name, Dictionary<string, List<ClassDeclarationSyntax>> classes, ILookup<string, string> bySimpleName, HashSet<string> seen)
    {
        if (!seen.Add(name) || !classes.TryGetValue(name, out var declarations))
        {
            yield break;
        }
        foreach (var method in declarations.SelectMany(d => d.Members.OfType<MethodDeclarationSyntax>()).Where(IsTest))
        {
            yield return method;
        }
        var bases = declarations.SelectMany(d => d.BaseList?.Types ?? default).Select(t => SimpleName(t.Type));
        foreach (var inherited in bases.SelectMany(b => bySimpleName[b]).SelectMany(b => TestMethods(b, classes, bySimpleName, seen)))
        {
            yield return inherited;
        }
    }

    private static bool IsTest(MethodDeclarationSyntax method) =>
        method.AttributeLists.SelectMany(l => l.Attributes).Select(a => AttributeName(a.Name)).Any(n => n.EndsWith("Fact", StringComparison.Ordinal) || n.EndsWith("Theory", StringComparison.Ordinal));

    /// <summary>The values of the [Trait("Category", …)] attributes; a value that is not a string literal is named as such.</summary>
    private static IEnumerable<string> Categories(SyntaxList<AttributeListSyntax> lists) =>
        lists.SelectMany(l => l.Attributes)
            .Where(a => AttributeName(a.Name) == "Trait" && a.ArgumentList?.Arguments.Count == 2 && Literal(a.ArgumentList.Arguments[0].Expression) == "Category")
            .Select(a => Literal(a.ArgumentList!.Arguments[1].Expression) ?? $"(not a string literal: {a.ArgumentList.Arguments[1].Expression})");

    private static string? Literal(ExpressionSyntax expression) =>
        expression is LiteralExpressionSyntax literal && literal.IsKind(SyntaxKind.StringLiteralExpression) ? literal.Token.ValueText : null;

    private static string AttributeName(NameSyntax name)
    {
        var simple = SimpleName(name);
        return simple.EndsWith("Attribute", StringComparison.Ordinal) ? simple[..^"Attribute".Length] : simple;
    }

    private static string SimpleName(TypeSyntax type) => type switch
    {
        QualifiedNameSyntax qualified => qualified.Right.Identifier.Text,
        AliasQualifiedNameSyntax alias => alias.Name.Identifier.Text,
        SimpleNameSyntax simple => simple.Identifier.Text,
        _ => type.ToString(),
    };

    /// <summary>Namespace, enclosing types and name: the parts of a partial class share it.</summary>
    private static string FullName(ClassDeclarationSyntax declaration) =>
        string.Join('.', declaration.AncestorsAndSelf().Reverse().Select(n => n switch
        {
            BaseNamespaceDeclarationSyntax ns => ns.Name.ToString(),
            TypeDeclarationSyntax type => type.Identifier.Text,
            _ => null,
        }).OfType<string>());
}
