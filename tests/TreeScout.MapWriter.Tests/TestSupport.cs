using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using TreeScout.MapWriter;
using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;
using TreeScout.Tests;

namespace TreeScout.MapWriter.Tests;

/// <summary>A temporary folder removed after the test.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "treescout-mw-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a file for a moment; the OS temp cleaner takes it.
        }
    }
}

public static class MapWriterTestData
{
    /// <summary>The variety profiles shipped with the worker (copied next to the test assembly).</summary>
    public static string ShippedVarieties => System.IO.Path.Combine(AppContext.BaseDirectory, "Varieties");

    public static VarietyCatalog Catalog { get; } = VarietyCatalog.Load(ShippedVarieties);

    public static VarietyProfile Gala => Catalog.Find("Gala")!;

    /// <summary>
    /// A profile with round numbers for doses worked out by hand: excess 0 → 0 %, 0.5 → 60 %, 1 → 100 % (linear between),
    /// clamped to 10–90 %, full dose 1000 L/ha; bloom window BBCH 61–67.
    /// </summary>
    public static VarietyProfile RoundNumbers(int targetClustersPerTree) => VarietyCatalog.Parse($$"""
        variety: Test
        targetClustersPerTree: {{targetClustersPerTree}}
        fullDoseLPerHa: 1000
        doseResponse:
          - { excess: 0.0, dosePercent: 0 }
          - { excess: 0.5, dosePercent: 60 }
          - { excess: 1.0, dosePercent: 100 }
        minDosePercent: 10
        maxDosePercent: 90
        bloomWindow: { first: bbch61, last: bbch67, warnShareOutside: 0.3 }
        """, "test.yaml");

    /// <summary>A profile of no shipped variety, for exports with `--prescription`.</summary>
    public static VarietyProfile Experiment { get; } = VarietyCatalog.Parse("""
        variety: Experiment
        targetClustersPerTree: 80
        fullDoseLPerHa: 500
        doseResponse: [{excess: 0, dosePercent: 0}, {excess: 1, dosePercent: 100}]
        minDosePercent: 0
        maxDosePercent: 100
        bloomWindow: {first: bbch61, last: bbch67, warnShareOutside: 0.3}
        """, "experiment.yaml");

    public static MapWriterOptions Options(string storeRoot) => new() { StoreRoot = storeRoot, Varieties = ShippedVarieties, LiveUpdateInterval = TimeSpan.Zero };

    public static IOptions<MapWriterOptions> Wrap(MapWriterOptions options) => Microsoft.Extensions.Options.Options.Create(options);
}

/// <summary>GDAL's ogrinfo as an independent reader of what the map writer wrote.</summary>
public static class Ogr
{
    /// <summary>`ogrinfo -ro -so` of one layer (or all): feature count, geometry, fields.</summary>
    public static OgrLayer Info(string path, string? layer = null)
    {
        var args = new List<string> { "-ro", "-so", "-al", path };
        if (layer is not null)
        {
            args.RemoveAt(2);
            args.Add(layer);
        }
        // Synchronous: some callers read the store from inside a polling lambda.
        var result = Tool.RunAsync("ogrinfo", args, TimeSpan.FromSeconds(120)).GetAwaiter().GetResult();
        var output = result.Stdout + result.Stderr;
        Assert.True(result.ExitCode == 0, $"ogrinfo failed on {path}: {output}");
        return OgrLayer.Parse(output);
    }
}

/// <summary>What `ogrinfo -so` says about a layer.</summary>
public sealed record OgrLayer(string Text, long FeatureCount, string Geometry, IReadOnlyDictionary<string, string> Fields)
{
    public static OgrLayer Parse(string text)
    {
        long count = -1;
        var geometry = "";
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        var inFields = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd();
            if (line.StartsWith("Feature Count: ", StringComparison.Ordinal))
            {
                count = long.Parse(line["Feature Count: ".Length..], System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("Geometry: ", StringComparison.Ordinal))
            {
                geometry = line["Geometry: ".Length..];
            }
            else if (line.StartsWith("FID Column", StringComparison.Ordinal) || line.StartsWith("Geometry Column", StringComparison.Ordinal) || line.StartsWith("Data axis", StringComparison.Ordinal))
            {
                inFields = true;
            }
            else if (inFields && line.Contains(": ", StringComparison.Ordinal) && !line.StartsWith(' '))
            {
                var name = line[..line.IndexOf(':', StringComparison.Ordinal)];
                fields[name] = line[(line.IndexOf(':', StringComparison.Ordinal) + 2)..];
            }
        }
        return new OgrLayer(text, count, geometry, fields);
    }

    public bool IsWgs84 => Text.Contains("WGS 84", StringComparison.Ordinal) || Text.Contains("WGS_1984", StringComparison.Ordinal);
}

public static class Json
{
    public static JsonElement Parse(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement.Clone();
}

/// <summary>Tree records equal in every value (the per-stage counts compared element by element, doubles exactly).</summary>
public sealed class TreeValues : IEqualityComparer<TreeRecord>
{
    public static readonly TreeValues Comparer = new();

    public bool Equals(TreeRecord? x, TreeRecord? y) =>
        x is not null && y is not null && x.ClustersPerStage.SequenceEqual(y.ClustersPerStage) && x == y with { ClustersPerStage = x.ClustersPerStage };

    public int GetHashCode(TreeRecord obj) => obj.TreeId.GetHashCode(StringComparison.Ordinal);
}

public static class RunFiles
{
    /// <summary>SHA-256 of every file directly in <paramref name="folder"/>: no byte may change, no side file may appear.</summary>
    public static Dictionary<string, string> Hashes(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
}
