using TreeScout.Contracts;

namespace TreeScout.MapWriter.Exports;

/// <summary>Finds a run's store from what a user typed: a run id under the store root, a run folder, or a store.gpkg path.</summary>
public static class RunLocator
{
    public static string StorePath(string run, string storeRoot)
    {
        if (File.Exists(run))
        {
            return Path.GetFullPath(run);
        }
        if (Directory.Exists(run))
        {
            var inFolder = Path.Combine(run, RunFolder.StoreFileName);
            return File.Exists(inFolder) ? Path.GetFullPath(inFolder) : throw new ExportException($"{Path.GetFullPath(run)}: folder has no {RunFolder.StoreFileName}; is it a run folder?");
        }
        if (!RunIds.IsValid(run))
        {
            throw new ExportException($"'{run}' is neither a run id nor an existing run folder or store.gpkg");
        }
        var path = Path.Combine(Path.GetFullPath(storeRoot), run, RunFolder.StoreFileName);
        return File.Exists(path) ? path : throw new ExportException($"unknown run '{run}': no {path} (store root {Path.GetFullPath(storeRoot)}; set --store-root)");
    }
}
