using System.Text;
using CsCheck;

namespace TreeScout.Fuzz.Tests;

/// <summary>
/// Inputs for the readers of configuration and plan files (block plan, camera file, variety profile): the corpus seeds
/// mutated as JSON structures, and byte by byte with the format's tokens.
/// </summary>
public static class ConfigFiles
{
    public static Gen<byte[]> Inputs(string corpus, IReadOnlyList<string> jsonValues, IReadOnlyList<byte[]> tokens)
    {
        var json = Corpus.Files(corpus).Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".geojson", StringComparison.Ordinal))
            .Select(File.ReadAllText).ToList();
        return Gen.Frequency(
            (3, JsonMutations.Of(json, jsonValues, tokens)),
            (2, ByteMutations.Of(Corpus.Bytes(corpus), [.. JsonMutations.CommonTokens, .. tokens])));
    }

    /// <summary>
    /// The target of one reader of files: each input is written to <paramref name="fileName"/> in a folder of the target's
    /// own (under the test output), and the property reads it as the product does, from disk.
    /// </summary>
    public static FuzzTarget<byte[]> Target(string corpus, Gen<byte[]> inputs, Action<string> readFile, int iterations, string fileName)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "fuzz-work", corpus);
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, fileName);
        return new FuzzTarget<byte[]>
        {
            Name = corpus,
            Inputs = inputs,
            Property = bytes =>
            {
                File.WriteAllBytes(path, bytes);
                readFile(path);
            },
            Iterations = iterations,
            AllocationLimit = bytes => 2 * 1024 * 1024 + 200L * bytes.Length,
            ToFile = bytes => bytes,
            FileExtension = Path.GetExtension(fileName),
            Print = bytes => Printable.Escape(Encoding.UTF8.GetString(bytes)),
        };
    }
}
