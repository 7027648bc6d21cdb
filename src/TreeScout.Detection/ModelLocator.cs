using TreeScout.Detection.Models;

namespace TreeScout.Detection;

/// <summary>Finds a model card given as a relative path: working directory first, then the executable's folder (where the build copies models/).</summary>
public static class ModelLocator
{
    /// <exception cref="ModelCardException">The card is in neither place.</exception>
    public static string Resolve(string path)
    {
        string[] candidates = Path.IsPathRooted(path) ? [path] : [Path.GetFullPath(path), Path.Combine(AppContext.BaseDirectory, path)];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new ModelCardException($"model card '{path}' not found (looked at {string.Join(" and ", candidates)})");
    }
}
