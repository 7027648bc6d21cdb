using System.Globalization;
using Microsoft.Data.Sqlite;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;
using TreeScout.Contracts;

namespace TreeScout.Simulation.Scoring;

/// <summary>A tree as the run's map reports it.</summary>
/// <param name="ClustersTotal">Its whole-tree count (a cluster seen from both sides of the row once).</param>
/// <param name="ClustersBySide">Clusters seen from each side of the row (<see cref="RowSides"/>), when the run's store has them.</param>
public sealed record ResultTree(
    string TreeId, string? RowId, double Latitude, double Longitude, int ClustersTotal, IReadOnlyDictionary<BbchStage, int> ClustersByStage,
    IReadOnlyDictionary<string, int>? ClustersBySide = null);

/// <summary>One blossom cluster the run reports; <paramref name="Sightings"/> when the run says which frames saw it, <paramref name="RowSide"/> the side of the row it was seen from (<see cref="RowSides"/>) when known.</summary>
public sealed record ResultObservation(
    string ObservationId, string? TreeId, double Latitude, double Longitude, double? HeightM, bool LowConfidence, BbchStage? Stage,
    ObservationSightings? Sightings = null, string? RowSide = null);

/// <summary>The camera and the first and last frame (sequence numbers) of the track an observation was reported from.</summary>
public sealed record ObservationSightings(string CameraId, long FirstFrame, long LastFrame);

/// <summary>What a scan run produced, as the scorer needs it (read from the run's store.gpkg, or built by hand in tests).</summary>
public sealed record RunResult(IReadOnlyList<ResultTree> Trees, IReadOnlyList<ResultObservation> Observations)
{
    public const string StoreFile = "store.gpkg";

    /// <summary>
    /// Reads the `trees` and `observations` feature tables of a run store (docs/recording-format.md). Geometry blobs are
    /// GeoPackage binary (GP header with flags, SRS id and optional envelope, then WKB), decoded by NetTopologySuite.
    /// </summary>
    public static RunResult ReadStore(string path)
    {
        if (!File.Exists(path))
        {
            throw new InvalidDataException($"{path}: run store not found (expected OUT_DIR/{StoreFile} written by `treescout scan`)");
        }
        // The map writer's store is in WAL mode. A finished store has no -wal file: open it immutable, or the WAL reader
        // leaves empty -wal/-shm files next to a store the scorer only reads. With a -wal present a writer may be active.
        var full = Path.GetFullPath(path);
        var source = File.Exists(full + "-wal") ? full : new Uri(full).AbsoluteUri + "?immutable=1";
        var connection = new SqliteConnectionStringBuilder { DataSource = source, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        using var db = new SqliteConnection(connection);
        try
        {
            db.Open();
            return new RunResult(ReadTrees(db, path), ReadObservations(db, path));
        }
        catch (SqliteException ex)
        {
            throw new InvalidDataException($"{path}: not a readable run store: {ex.Message}", ex);
        }
    }

    private static List<ResultTree> ReadTrees(SqliteConnection db, string path)
    {
        var stageColumns = BbchStages.Ordered.Select(BbchStages.Label).ToList();
        var sides = HasColumn(db, "trees", "clusters_seen_left") ? ", clusters_seen_left, clusters_seen_right" : "";
        using var command = db.CreateCommand();
        command.CommandText = $"SELECT tree_id, row_id, clusters_total, geom, {string.Join(", ", stageColumns)}{sides} FROM trees ORDER BY tree_id";
        using var reader = command.ExecuteReader();
        var trees = new List<ResultTree>();
        while (reader.Read())
        {
            var id = reader.GetString(0);
            var point = Point(reader, 3, path, $"tree {id}");
            var byStage = new Dictionary<BbchStage, int>();
            for (var i = 0; i < BbchStages.Count; i++)
            {
                byStage[BbchStages.Ordered[i]] = reader.IsDBNull(4 + i) ? 0 : reader.GetInt32(4 + i);
            }
            var n = 4 + BbchStages.Count;
            var bySide = sides.Length == 0 ? null : new Dictionary<string, int>(StringComparer.Ordinal)
            {
                [RowSides.Left] = reader.GetInt32(n),
                [RowSides.Right] = reader.GetInt32(n + 1),
            };
            trees.Add(new ResultTree(id, reader.IsDBNull(1) ? null : reader.GetString(1), point.Y, point.X, reader.IsDBNull(2) ? 0 : reader.GetInt32(2), byStage, bySide));
        }
        return trees;
    }

    private static List<ResultObservation> ReadObservations(SqliteConnection db, string path)
    {
        using var command = db.CreateCommand();
        var side = HasColumn(db, "observations", "row_side") ? "row_side" : "NULL";
        command.CommandText = $"SELECT observation_id, tree_id, height_m, low_confidence, stage, geom, camera_id, first_frame, last_frame, {side} FROM observations ORDER BY observation_id";
        using var reader = command.ExecuteReader();
        var observations = new List<ResultObservation>();
        while (reader.Read())
        {
            var id = reader.GetString(0);
            var point = Point(reader, 5, path, $"observation {id}");
            BbchStage? stage = !reader.IsDBNull(4) && BbchStages.TryParse(reader.GetString(4), out var s) ? s : null;
            observations.Add(new ResultObservation(
                id,
                reader.IsDBNull(1) ? null : reader.GetString(1),
                point.Y,
                point.X,
                reader.IsDBNull(2) ? null : reader.GetDouble(2),
                !reader.IsDBNull(3) && reader.GetInt64(3) != 0,
                stage,
                new ObservationSightings(reader.GetString(6), reader.GetInt64(7), reader.GetInt64(8)),
                reader.IsDBNull(9) ? null : reader.GetString(9)));
        }
        return observations;
    }

    private static bool HasColumn(SqliteConnection db, string table, string column)
    {
        using var command = db.CreateCommand();
        command.CommandText = "SELECT count(*) FROM pragma_table_info(@t) WHERE name = @c";
        command.Parameters.AddWithValue("@t", table);
        command.Parameters.AddWithValue("@c", column);
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static Point Point(SqliteDataReader reader, int column, string path, string what)
    {
        if (reader.IsDBNull(column))
        {
            throw new InvalidDataException($"{path}: {what} has no geometry");
        }
        var blob = (byte[])reader.GetValue(column);
        try
        {
            return new GeoPackageGeoReader().Read(blob) as Point
                ?? throw new InvalidDataException($"{path}: {what} geometry is not a POINT");
        }
        catch (Exception ex) when (ex is ArgumentException or ParseException or IOException or InvalidOperationException)
        {
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture, $"{path}: {what} geometry is not GeoPackage binary ({blob.Length} bytes): {ex.Message}"), ex);
        }
    }
}
