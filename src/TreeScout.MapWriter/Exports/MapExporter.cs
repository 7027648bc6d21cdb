using TreeScout.MapWriter.Prescription;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Exports;

public enum ExportFormat
{
    GeoJson,
    Shp,
    Gpkg,
    GeoParquet,
    IsoXml,
    Csv,
    Png,
}

/// <summary>An export could not be written; the message names the output and the reason.</summary>
public sealed class ExportException : Exception
{
    public ExportException(string message)
        : base(message)
    {
    }

    public ExportException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public ExportException()
    {
    }
}

/// <summary>Writes a run's exports from one consistent snapshot of its store. The store is only read.</summary>
public static class MapExporter
{
    public static readonly IReadOnlyList<ExportFormat> AllFormats = Enum.GetValues<ExportFormat>();

    public static bool TryParseFormat(string text, out ExportFormat format) => Enum.TryParse(text, ignoreCase: true, out format) && Enum.IsDefined(format);

    /// <summary>Reads a snapshot of <paramref name="store"/> and writes <paramref name="formats"/> into <paramref name="directory"/>.</summary>
    public static Task<IReadOnlyList<string>> ExportAsync(
        RunStore store,
        IReadOnlyCollection<ExportFormat> formats,
        string directory,
        MapWriterOptions options,
        VarietyProfile? profileOverride,
        CancellationToken cancellationToken) =>
        ExportAsync(RunSnapshot.Read(store, options, profileOverride), store, formats, directory, options, cancellationToken);

    /// <summary>
    /// Writes <paramref name="formats"/> of <paramref name="run"/> into <paramref name="directory"/> (created if needed);
    /// returns the files written. <paramref name="store"/> is the store <paramref name="run"/> was read from: the
    /// GeoPackage export copies it.
    /// </summary>
    public static async Task<IReadOnlyList<string>> ExportAsync(
        RunSnapshot run,
        RunStore store,
        IReadOnlyCollection<ExportFormat> formats,
        string directory,
        MapWriterOptions options,
        CancellationToken cancellationToken)
    {
        try
        {
            Directory.CreateDirectory(directory);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new ExportException($"{directory}: cannot create output directory: {ex.Message}", ex);
        }
        var files = new List<string>();
        foreach (var format in formats.Distinct())
        {
            try
            {
                files.AddRange(format switch
                {
                    ExportFormat.GeoJson => GeoJsonExport.Write(run, directory),
                    ExportFormat.Shp => ShapefileExport.Write(run, directory),
                    ExportFormat.Gpkg => GeoPackageExport.Write(run, store, directory),
                    ExportFormat.GeoParquet => await GeoParquetExport.WriteAsync(run, directory, cancellationToken),
                    ExportFormat.IsoXml => IsoXmlExport.Write(run, directory, options.IsoGridCellM),
                    ExportFormat.Csv => CsvExport.Write(run, directory),
                    ExportFormat.Png => PngMapExport.Write(run, directory),
                    _ => throw new ArgumentOutOfRangeException(nameof(formats), format, "unknown export format"),
                });
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Microsoft.Data.Sqlite.SqliteException)
            {
                throw new ExportException($"{directory}: cannot write {format.ToString().ToLowerInvariant()} export: {ex.Message}", ex);
            }
            catch (InvalidOperationException ex)
            {
                throw new ExportException($"{format.ToString().ToLowerInvariant()} export of run {run.RunId}: {ex.Message}", ex);
            }
        }
        return files;
    }
}
