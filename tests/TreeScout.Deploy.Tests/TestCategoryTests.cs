using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// Every test under tests/ is in exactly one category, so `--filter Category=Unit` (the quick loop, docs/testing.md)
/// never picks a test that needs a service and no test is left out of all three.
/// </summary>
[Trait("Category", "Unit")]
public sealed class TestCategoryTests(ITestOutputHelper output)
{
    [Fact]
    public void Every_test_in_the_repository_has_exactly_one_known_category()
    {
        var problems = new List<string>();
        var (classes, tests) = (0, 0);
        var projects = Directory.GetDirectories(Path.Combine(RepoPaths.Root, "tests")).Where(d => Directory.EnumerateFiles(d, "*.csproj").Any()).Order(StringComparer.Ordinal).ToList();
        foreach (var project in projects)
        {
            var sources = Directory.EnumerateFiles(project, "*.cs", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(RepoPaths.Root, f))
                .Where(f => !f.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj"))
                .Select(f => (f, File.ReadAllText(Path.Combine(RepoPaths.Root, f))));
            var check = TestCategories.Check(sources);
            output.WriteLine($"{Path.GetFileName(project)}: {check.TestClasses} test classes, {check.Tests} test methods");
            (classes, tests) = (classes + check.TestClasses, tests + check.Tests);
            problems.AddRange(check.Problems);
        }
        // The scan itself must have found the tests (a parse or path slip would otherwise pass with nothing checked).
        Assert.True(projects.Count >= 12 && classes >= 70 && tests >= 250, $"found only {classes} test classes and {tests} tests in {projects.Count} projects");
        Assert.True(problems.Count == 0, "tests without exactly one of [Trait(\"Category\", \"Unit\" | \"Integration\" | \"Disruptive\")] (docs/testing.md):\n" + string.Join('\n', problems.Order(StringComparer.Ordinal)));
    }

    [Fact]
    public void A_test_without_a_category_or_with_two_or_an_unknown_one_is_reported()
    {
        const string Source = """
            using Xunit;
            namespace Orchard.Tests;

            [Trait("Category", "Unit")]
            public sealed class Counted { [Fact] public void Fine() { } [Xunit.Fact, Trait("Category", "Integration")] public void Both() { } }

            public sealed class Mixed
            {
                [Theory, InlineData(1), Trait("Category", "Unit")] public void Fine(int n) { }
                [TmpfsFact] public void Missing() { }
                [Fact][Trait("Category", "Slow")] public void Unknown() { }
                public void NotATest() { }
            }

            public abstract class RulesBase { [Fact] public void Inherited() { } }
            public sealed class OnMemory : RulesBase;
            [Trait("Category", "Integration")] public sealed class OnBroker : RulesBase;

            public partial class Split { [Fact] public void InOtherPart() { } }
            public static class NoTests { }
            """;
        const string OtherPart = """
            namespace Orchard.Tests;
            [Trait("Category", "Disruptive")] public partial class Split;
            """;

        var check = TestCategories.Check([("a.cs", Source), ("b.cs", OtherPart)]);

        Assert.Equal(
            [
                "a.cs: Counted.Both: Category traits Unit and Integration: one only (a class's trait applies to every test in it)",
                "a.cs: Mixed.Missing: no Category trait",
                "a.cs: Mixed.Unknown: Category 'Slow' is not one of Unit, Integration, Disruptive",
                "a.cs: OnMemory.Inherited: no Category trait",
            ],
            check.Problems.Order(StringComparer.Ordinal));
        Assert.Equal((5, 8), (check.TestClasses, check.Tests));
    }
}
