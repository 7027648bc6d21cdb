using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Exports;

/// <summary>A run folder's own exports/: every format the run can have, swapped in whole.</summary>
public static class RunExports
{
    /// <summary>Writes all exports into a fresh folder and swaps it in, so exports/ never holds a half-written set.</summary>
    public static async Task<IReadOnlyList<string>> RefreshAsync(RunSnapshot snapshot, RunStore store, RunFolder folder, MapWriterOptions options, CancellationToken cancellationToken)
    {
        var staging = folder.ExportsPath + ".new";
        var previous = folder.ExportsPath + ".old";
        foreach (var stale in new[] { staging, previous }.Where(Directory.Exists))
        {
            Directory.Delete(stale, recursive: true);
        }
        // Without a prescription (no variety profile) or without trees there is no sprayer task; every other format is still written.
        var formats = MapExporter.AllFormats.Where(f => f != ExportFormat.IsoXml || (snapshot.Zones.Count > 0 && snapshot.Trees.All(t => t.RateLPerHa is not null))).ToList();
        IReadOnlyList<string> written;
        try
        {
            written = await MapExporter.ExportAsync(snapshot, store, formats, staging, options, cancellationToken);
        }
        catch when (Directory.Exists(staging))
        {
            // A half-written set on a full disk holds the very space the retry waits for.
            Directory.Delete(staging, recursive: true);
            throw;
        }
        if (Directory.Exists(folder.ExportsPath))
        {
            Directory.Move(folder.ExportsPath, previous);
        }
        Directory.Move(staging, folder.ExportsPath);
        if (Directory.Exists(previous))
        {
            Directory.Delete(previous, recursive: true);
        }
        return written.Select(f => Path.Combine(folder.ExportsPath, Path.GetRelativePath(staging, f))).ToList();
    }
}
