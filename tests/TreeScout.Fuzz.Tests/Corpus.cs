namespace TreeScout.Fuzz.Tests;

/// <summary>
/// tests/TreeScout.Fuzz.Tests/corpus/&lt;target&gt;/: the seeds each target mutates, and the inputs that once broke a reader
/// (regression-*.*), which every run checks again. Copied next to the test assembly by the project file.
/// </summary>
public static class Corpus
{
    public static string Folder(string target) => Path.Combine(AppContext.BaseDirectory, "corpus", target);

    public static IReadOnlyList<string> Files(string target) =>
        Directory.Exists(Folder(target)) ? Directory.GetFiles(Folder(target)).Order(StringComparer.Ordinal).ToList() : [];

    public static byte[] Read(string target, string file) => File.ReadAllBytes(Path.Combine(Folder(target), file));

    public static IReadOnlyList<byte[]> Bytes(string target) => Files(target).Select(File.ReadAllBytes).ToList();

    public static IReadOnlyList<string> Texts(string target) => Files(target).Select(File.ReadAllText).ToList();

    /// <summary>xUnit member data: one row per corpus file name.</summary>
    public static TheoryData<string> Names(string target) => new(Files(target).Select(Path.GetFileName)!);
}
