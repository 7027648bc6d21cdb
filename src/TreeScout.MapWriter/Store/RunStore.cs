using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using NetTopologySuite.Geometries;
using NetTopologySuite.IO;
using TreeScout.Contracts;
using TreeScout.MapWriter.Prescription;
using TreeScout.Orchard;

namespace TreeScout.MapWriter.Store;

/// <summary>The store could not be opened or is not a TreeScout run store; the message names the file.</summary>
public sealed class RunStoreException : Exception
{
    public RunStoreException(string message)
        : base(message)
    {
    }

    public RunStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public RunStoreException()
    {
    }
}

/// <summary>What one <see cref="RunStore.AddObservations"/> call changed.</summary>
public sealed record IngestResult(int Inserted, int Duplicates, int TreesUpdated);

/// <summary>
/// A run's durable store (store.gpkg): a GeoPackage in SQLite WAL mode with synchronous=FULL, so a committed
/// observation survives a power cut and GDAL can open the file at any time. Observations are keyed by their id
/// (INSERT OR IGNORE), and a tree's aggregate is recomputed from its stored observations in the same transaction,
/// so redelivery, restarts and crashes can never double count.
/// </summary>
public sealed partial class RunStore : IDisposable
{
    private static readonly GeoPackageGeoWriter GeometryWriter = new();
    private static readonly GeometryFactory Wgs84 = new(new PrecisionModel(), GeoPackageSchema.Wgs84);
    private static readonly string[] ObservationParameters =
        ["@g", "@id", "@tree", "@row", "@h", "@along", "@sigma", "@low", "@reason", "@stage", "@score", "@frames", "@first", "@last", "@cam", "@q", "@at", "@probs", "@msg"];

    private static readonly string[] AggregateParameters = ["@total", "@low", "@frames", "@density", "@conf", "@score", "@excess", "@dose", "@rate", "@zone", "@geom", "@t"];
    private readonly SqliteConnection _connection;

    private RunStore(string path, SqliteConnection connection, bool readOnly)
    {
        Path = path;
        _connection = connection;
        IsReadOnly = readOnly;
    }

    public string Path { get; }

    public bool IsReadOnly { get; }

    /// <summary>Opens the store for writing, creating the file and its schema when needed (idempotent).</summary>
    public static RunStore OpenOrCreate(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        var connection = Open(path, SqliteOpenMode.ReadWriteCreate);
        try
        {
            // WAL + FULL: a commit is on disk (WAL fsync) before we acknowledge the message; readers (GDAL) never block us.
            Exec(connection, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
            if (Scalar<long>(connection, "PRAGMA application_id") != GeoPackageSchema.ApplicationId)
            {
                if (Scalar<long>(connection, "SELECT count(*) FROM sqlite_master") != 0 && !HasTable(connection, "gpkg_contents"))
                {
                    throw new RunStoreException($"{path}: exists but is not a GeoPackage run store; refusing to write into it");
                }
                Exec(connection, $"PRAGMA application_id={GeoPackageSchema.ApplicationId}; PRAGMA user_version={GeoPackageSchema.UserVersion};");
            }
            using (var tx = connection.BeginTransaction())
            {
                Exec(connection, GeoPackageSchema.Core + GeoPackageSchema.Tables + GeoPackageSchema.CalibrationTables, tx);
                tx.Commit();
            }
            return new RunStore(path, connection, readOnly: false);
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new RunStoreException($"{path}: cannot open run store for writing: {ex.Message}", ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>Deletes a store that no writer has open, with the side files SQLite keeps next to it (WAL, shared memory, journal).</summary>
    public static void Delete(string path)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm", "-journal" })
        {
            File.Delete(path + suffix);
        }
    }

    /// <summary>Opens an existing store read-only (exports): the file is never modified.</summary>
    public static RunStore OpenReadOnly(string path)
    {
        if (!File.Exists(path))
        {
            throw new RunStoreException($"{path}: run store does not exist");
        }
        // A store whose writer has finished has no -wal file: open it immutable, so not even the -wal/-shm side files a
        // WAL reader creates appear next to it. With a -wal present a writer may be active: read through the WAL.
        var full = System.IO.Path.GetFullPath(path);
        var connection = Open(File.Exists(full + "-wal") ? full : new Uri(full).AbsoluteUri + "?immutable=1", SqliteOpenMode.ReadOnly);
        try
        {
            var appId = Scalar<long>(connection, "PRAGMA application_id");
            if (appId != GeoPackageSchema.ApplicationId || !HasTable(connection, "trees") || !HasTable(connection, "observations") || !HasTable(connection, "run_metadata"))
            {
                throw new RunStoreException($"{path}: not a TreeScout run store (GeoPackage with trees, observations and run_metadata tables)");
            }
            return new RunStore(path, connection, readOnly: true);
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new RunStoreException($"{path}: corrupt or unreadable run store: {ex.Message}", ex);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static SqliteConnection Open(string path, SqliteOpenMode mode)
    {
        // No pooling: closing the store really closes the file (checkpoint, release locks).
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false, DefaultTimeout = 30 }.ToString());
        try
        {
            connection.Open();
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            throw new RunStoreException($"{path}: cannot open run store: {ex.Message}", ex);
        }
        return connection;
    }

    public void Dispose() => _connection.Dispose();

    /// <summary>PRAGMA integrity_check; "ok" when the file is sound.</summary>
    public string IntegrityCheck() => Scalar<string>(_connection, "PRAGMA integrity_check") ?? "no result";

    /// <summary>Moves the WAL into the main file (end of a run), so a copy of store.gpkg alone is complete.</summary>
    public void Checkpoint() => Exec(_connection, "PRAGMA wal_checkpoint(TRUNCATE)");

    /// <summary>
    /// Copies the committed WAL into the main file during a run, so a crash leaves little that only store.gpkg-wal holds.
    /// PASSIVE: never waits for a reader (GDAL) nor blocks one; false when a reader kept part of it in the WAL for now.
    /// </summary>
    public bool CopyWalToStore() => CheckpointResult(_connection, "PASSIVE") is (0, var log, var copied) && copied == log;

    /// <summary>
    /// Folds the -wal beside a store (a run still being written, or a writer stopped by a crash or power cut) into
    /// store.gpkg, so a copy of store.gpkg alone holds every committed observation; what the store holds does not change.
    /// Returns why it could not (e.g. a read-only folder, a writer in the middle of a transaction), or null.
    /// </summary>
    public static string? FoldWal(string path)
    {
        if (!File.Exists(path + "-wal"))
        {
            return null;
        }
        try
        {
            // Closing the last connection also removes the -wal and -shm; with a writer still open they stay (and are empty).
            using var connection = Open(path, SqliteOpenMode.ReadWrite);
            return CheckpointResult(connection, "TRUNCATE").Busy == 0 ? null : "another connection is writing to it";
        }
        catch (RunStoreException ex)
        {
            return ex.InnerException?.Message ?? ex.Message;
        }
        catch (SqliteException ex)
        {
            return ex.Message;
        }
    }

    private static (long Busy, long Log, long Copied) CheckpointResult(SqliteConnection connection, string mode)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = $"PRAGMA wal_checkpoint({mode})";
        using var r = cmd.ExecuteReader();
        r.Read();
        return (r.GetInt64(0), r.GetInt64(1), r.GetInt64(2));
    }

    /// <summary>Copies a consistent snapshot into <paramref name="destination"/> (SQLite online backup).</summary>
    public void BackupTo(SqliteConnection destination) => _connection.BackupDatabase(destination);

    // ---------------------------------------------------------------- run metadata

    public void SetMetadata(IReadOnlyDictionary<string, string?> values)
    {
        using var tx = _connection.BeginTransaction();
        using var cmd = Command("INSERT INTO run_metadata (key, value) VALUES (@k, @v) ON CONFLICT(key) DO UPDATE SET value = excluded.value", tx);
        var k = cmd.Parameters.Add("@k", SqliteType.Text);
        var v = cmd.Parameters.Add("@v", SqliteType.Text);
        foreach (var (key, value) in values)
        {
            k.Value = key;
            v.Value = (object?)value ?? DBNull.Value;
            cmd.ExecuteNonQuery();
        }
        tx.Commit();
    }

    public IReadOnlyDictionary<string, string?> ReadMetadata()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        using var cmd = Command("SELECT key, value FROM run_metadata ORDER BY key");
        using var reader = cmd.ExecuteReader();
        while (reader.Read())
        {
            result[reader.GetString(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        }
        return result;
    }

    // ---------------------------------------------------------------- trees

    /// <summary>Adds the plan's trees with zero counts (existing trees keep their counts: idempotent).</summary>
    public void AddPlannedTrees(IReadOnlyList<Tree> trees, IReadOnlyDictionary<string, double> spacingByTree)
    {
        using var tx = _connection.BeginTransaction();
        using var cmd = Command("INSERT OR IGNORE INTO trees (geom, tree_id, row_id, tree_index, in_plan, spacing_m) VALUES (@g, @id, @row, @idx, 1, @sp)", tx);
        var g = cmd.Parameters.Add("@g", SqliteType.Blob);
        var id = cmd.Parameters.Add("@id", SqliteType.Text);
        var row = cmd.Parameters.Add("@row", SqliteType.Text);
        var idx = cmd.Parameters.Add("@idx", SqliteType.Integer);
        var sp = cmd.Parameters.Add("@sp", SqliteType.Real);
        foreach (var t in trees)
        {
            g.Value = PointBlob(t.Latitude, t.Longitude);
            id.Value = t.Id;
            row.Value = t.RowId;
            idx.Value = t.Index;
            sp.Value = spacingByTree.TryGetValue(t.Id, out var s) ? s : DBNull.Value;
            cmd.ExecuteNonQuery();
        }
        if (trees.Count > 0)
        {
            GrowExtent("trees", trees.Min(t => t.Longitude), trees.Min(t => t.Latitude), trees.Max(t => t.Longitude), trees.Max(t => t.Latitude), tx);
        }
        tx.Commit();
    }

    public IReadOnlyList<TreeRecord> ReadTrees()
    {
        var reader = new GeoPackageGeoReader();
        var trees = new List<TreeRecord>();
        using var cmd = Command($"""
            SELECT geom, tree_id, row_id, tree_index, in_plan, spacing_m, clusters_total, {GeoPackageSchema.StageColumns},
                   clusters_low_confidence, frames_seen, density_per_m, confidence, mean_score, excess, dose_pct, rate_l_ha, zone_class
            FROM trees ORDER BY row_id, tree_index, tree_id
            """);
        using var r = cmd.ExecuteReader();
        var n = BbchStages.Count;
        while (r.Read())
        {
            var point = r.IsDBNull(0) ? null : reader.Read((byte[])r[0]) as Point;
            var stages = new int[n];
            for (var i = 0; i < n; i++)
            {
                stages[i] = r.GetInt32(7 + i);
            }
            trees.Add(new TreeRecord
            {
                TreeId = r.GetString(1),
                RowId = NullableString(r, 2),
                TreeIndex = r.IsDBNull(3) ? null : r.GetInt32(3),
                Latitude = point?.Y,
                Longitude = point?.X,
                InPlan = r.GetInt64(4) != 0,
                SpacingM = NullableDouble(r, 5),
                ClustersTotal = r.GetInt32(6),
                ClustersPerStage = stages,
                ClustersLowConfidence = r.GetInt32(7 + n),
                FramesSeen = r.GetInt32(8 + n),
                DensityPerM = NullableDouble(r, 9 + n),
                Confidence = r.GetDouble(10 + n),
                MeanScore = NullableDouble(r, 11 + n),
                Excess = NullableDouble(r, 12 + n),
                DosePercent = NullableDouble(r, 13 + n),
                RateLPerHa = NullableDouble(r, 14 + n),
                ZoneClass = NullableString(r, 15 + n),
            });
        }
        return trees;
    }

    public long CountObservations() => Scalar<long>(_connection, "SELECT count(*) FROM observations");

    /// <summary>Confident clusters per stage over the whole run (for the bloom-timing check): the sum of the trees' stage columns.</summary>
    public IReadOnlyDictionary<BbchStage, long> ClustersPerStage()
    {
        using var cmd = Command($"SELECT {string.Join(", ", BbchStages.Ordered.Select(s => $"coalesce(sum({BbchStages.Label(s)}), 0)"))} FROM trees");
        using var r = cmd.ExecuteReader();
        r.Read();
        return BbchStages.Ordered.Select((stage, i) => (stage, i)).ToDictionary(x => x.stage, x => r.GetInt64(x.i));
    }

    // ---------------------------------------------------------------- observations

    /// <summary>
    /// One transaction: inserts the observations that are not stored yet, creates trees that confident observations
    /// name but the plan does not have, and recomputes the aggregate (and prescription) of every tree that gained one.
    /// </summary>
    public IngestResult AddObservations(Guid messageId, IReadOnlyList<BlossomClusterObservation> observations, VarietyProfile? profile)
    {
        using var tx = _connection.BeginTransaction();
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var inserted = 0;
        using (var insert = Command("""
            INSERT OR IGNORE INTO observations (geom, observation_id, tree_id, row_id, height_m, along_row_m, sigma_m, low_confidence,
              low_confidence_reason, stage, score, frames_seen, first_frame, last_frame, camera_id, gnss_quality, observed_at, stage_probabilities, message_id)
            VALUES (@g, @id, @tree, @row, @h, @along, @sigma, @low, @reason, @stage, @score, @frames, @first, @last, @cam, @q, @at, @probs, @msg)
            """, tx))
        using (var addTree = Command("INSERT OR IGNORE INTO trees (tree_id, row_id, tree_index, in_plan) VALUES (@id, @row, @idx, 0)", tx))
        {
            var p = new Dictionary<string, SqliteParameter>(StringComparer.Ordinal);
            foreach (var name in ObservationParameters)
            {
                p[name] = Param(insert, name);
            }
            var treeId = addTree.Parameters.Add("@id", SqliteType.Text);
            var treeRow = addTree.Parameters.Add("@row", SqliteType.Text);
            var treeIdx = addTree.Parameters.Add("@idx", SqliteType.Integer);
            foreach (var o in observations)
            {
                p["@g"].Value = PointBlob(o.Latitude, o.Longitude);
                p["@id"].Value = o.ObservationId.ToString("D");
                p["@tree"].Value = (object?)o.TreeId ?? DBNull.Value;
                p["@row"].Value = (object?)o.RowId ?? DBNull.Value;
                p["@h"].Value = (object?)o.HeightM ?? DBNull.Value;
                p["@along"].Value = (object?)o.AlongRowM ?? DBNull.Value;
                p["@sigma"].Value = o.PositionSigmaM;
                p["@low"].Value = o.LowConfidence ? 1 : 0;
                p["@reason"].Value = (object?)o.LowConfidenceReason ?? DBNull.Value;
                p["@stage"].Value = BbchStages.Label(o.Stage);
                p["@score"].Value = (double)o.Score;
                p["@frames"].Value = o.FramesSeen;
                p["@first"].Value = o.FirstFrameSequence;
                p["@last"].Value = o.LastFrameSequence;
                p["@cam"].Value = o.CameraId;
                p["@q"].Value = JsonNamingPolicy.CamelCase.ConvertName(o.GnssQuality.ToString());
                p["@at"].Value = o.ObservedAtUtc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);
                p["@probs"].Value = string.Join(",", o.StageProbabilities.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
                p["@msg"].Value = messageId.ToString("D");
                if (insert.ExecuteNonQuery() == 0)
                {
                    continue; // already stored: a redelivery or a replay after a crash
                }
                inserted++;
                if (o.TreeId is null)
                {
                    continue;
                }
                if (!o.LowConfidence)
                {
                    // A tree the plan does not have (or a run without plan): created from a confident observation only,
                    // so an uncertain position never invents a tree.
                    treeId.Value = o.TreeId;
                    treeRow.Value = (object?)o.RowId ?? DBNull.Value;
                    treeIdx.Value = TreeIndexOf(o.TreeId) is { } idx ? idx : DBNull.Value;
                    addTree.ExecuteNonQuery();
                }
                touched.Add(o.TreeId);
            }
        }
        if (inserted > 0)
        {
            GrowExtent("observations", observations.Min(o => o.Longitude), observations.Min(o => o.Latitude), observations.Max(o => o.Longitude), observations.Max(o => o.Latitude), tx);
        }
        var updated = RecomputeTrees(touched, profile, tx);
        tx.Commit();
        return new IngestResult(inserted, observations.Count - inserted, updated);
    }

    /// <summary>Recomputes every tree's aggregate and prescription from the stored observations (e.g. with another profile).</summary>
    public int RecomputeAll(VarietyProfile? profile) => Recompute(profile, new Dictionary<string, double>(StringComparer.Ordinal), all: true);

    /// <summary>Sets the spacing of the given trees and recomputes their aggregates (density depends on it).</summary>
    public int UpdateSpacing(IReadOnlyDictionary<string, double> spacingByTree, VarietyProfile? profile) => Recompute(profile, spacingByTree, all: false);

    private int Recompute(VarietyProfile? profile, IReadOnlyDictionary<string, double> spacingByTree, bool all)
    {
        using var tx = _connection.BeginTransaction();
        using (var cmd = Command("UPDATE trees SET spacing_m = @sp WHERE tree_id = @id", tx))
        {
            var sp = cmd.Parameters.Add("@sp", SqliteType.Real);
            var id = cmd.Parameters.Add("@id", SqliteType.Text);
            foreach (var (tree, spacing) in spacingByTree)
            {
                sp.Value = spacing;
                id.Value = tree;
                cmd.ExecuteNonQuery();
            }
        }
        var trees = new List<string>(spacingByTree.Keys);
        if (all)
        {
            trees.Clear();
            using var cmd = Command("SELECT tree_id FROM trees", tx);
            using var r = cmd.ExecuteReader();
            while (r.Read())
            {
                trees.Add(r.GetString(0));
            }
        }
        var n = RecomputeTrees(trees, profile, tx);
        tx.Commit();
        return n;
    }

    private int RecomputeTrees(IEnumerable<string> treeIds, VarietyProfile? profile, SqliteTransaction tx)
    {
        var geo = new GeoPackageGeoReader();
        var calibration = CalibrationModel(tx);
        using var select = Command("SELECT stage, low_confidence, camera_id, first_frame, last_frame, score, geom FROM observations WHERE tree_id = @t", tx);
        var selectTree = select.Parameters.Add("@t", SqliteType.Text);
        using var info = Command("SELECT in_plan, spacing_m FROM trees WHERE tree_id = @t", tx);
        var infoTree = info.Parameters.Add("@t", SqliteType.Text);
        using var update = Command($"""
            UPDATE trees SET clusters_total = @total, {string.Join(", ", BbchStages.Ordered.Select(s => $"{BbchStages.Label(s)} = @{BbchStages.Label(s)}"))},
              clusters_low_confidence = @low, frames_seen = @frames, density_per_m = @density, confidence = @conf, mean_score = @score,
              excess = @excess, dose_pct = @dose, rate_l_ha = @rate, zone_class = @zone, geom = coalesce(@geom, geom)
            WHERE tree_id = @t
            """, tx);
        var u = new Dictionary<string, SqliteParameter>(StringComparer.Ordinal);
        foreach (var name in AggregateParameters.Concat(BbchStages.Ordered.Select(s => "@" + BbchStages.Label(s))))
        {
            u[name] = Param(update, name);
        }
        var count = 0;
        var minLon = double.MaxValue;
        var minLat = double.MaxValue;
        var maxLon = double.MinValue;
        var maxLat = double.MinValue;
        foreach (var treeId in treeIds)
        {
            infoTree.Value = treeId;
            bool inPlan;
            double? spacing;
            using (var r = info.ExecuteReader())
            {
                if (!r.Read())
                {
                    continue; // only low-confidence observations name it: no tree row (see AddObservations)
                }
                inPlan = r.GetInt64(0) != 0;
                spacing = NullableDouble(r, 1);
            }
            var perStage = new int[BbchStages.Count];
            int confident = 0, low = 0;
            double scoreSum = 0, lonSum = 0, latSum = 0;
            var spans = new List<(string Camera, long First, long Last)>();
            selectTree.Value = treeId;
            using (var r = select.ExecuteReader())
            {
                while (r.Read())
                {
                    spans.Add((r.GetString(2), r.GetInt64(3), r.GetInt64(4)));
                    if (r.GetInt64(1) != 0)
                    {
                        low++;
                        continue;
                    }
                    confident++;
                    if (BbchStages.TryParse(r.GetString(0), out var stage))
                    {
                        perStage[BbchStages.IndexOf(stage)]++;
                    }
                    scoreSum += r.GetDouble(5);
                    if (!inPlan && geo.Read((byte[])r[6]) is Point pt)
                    {
                        lonSum += pt.X;
                        latSum += pt.Y;
                    }
                }
            }
            var dose = profile is null ? null : ThinningPrescription.For(profile, calibration?.Calibrate(confident) ?? confident);
            u["@t"].Value = treeId;
            u["@total"].Value = confident;
            for (var i = 0; i < perStage.Length; i++)
            {
                u["@" + BbchStages.Label(BbchStages.Ordered[i])].Value = perStage[i];
            }
            u["@low"].Value = low;
            u["@frames"].Value = FramesSeen(spans);
            u["@density"].Value = spacing is > 0 ? confident / spacing.Value : DBNull.Value;
            u["@conf"].Value = confident + low == 0 ? 0.0 : (double)confident / (confident + low);
            u["@score"].Value = confident == 0 ? DBNull.Value : scoreSum / confident;
            u["@excess"].Value = (object?)dose?.Excess ?? DBNull.Value;
            u["@dose"].Value = (object?)dose?.DosePercent ?? DBNull.Value;
            u["@rate"].Value = (object?)dose?.RateLPerHa ?? DBNull.Value;
            u["@zone"].Value = (object?)dose?.ZoneClass ?? DBNull.Value;
            if (!inPlan && confident > 0)
            {
                // A tree the plan does not have sits where its clusters are (their centroid).
                var (lat, lon) = (latSum / confident, lonSum / confident);
                u["@geom"].Value = PointBlob(lat, lon);
                (minLon, minLat, maxLon, maxLat) = (Math.Min(minLon, lon), Math.Min(minLat, lat), Math.Max(maxLon, lon), Math.Max(maxLat, lat));
            }
            else
            {
                u["@geom"].Value = DBNull.Value;
            }
            update.ExecuteNonQuery();
            count++;
        }
        if (minLon <= maxLon)
        {
            GrowExtent("trees", minLon, minLat, maxLon, maxLat, tx);
        }
        return count;
    }

    /// <summary>Frames in which the tree's clusters were seen: the union of their frame ranges, per camera.</summary>
    private static int FramesSeen(List<(string Camera, long First, long Last)> spans)
    {
        long frames = 0;
        foreach (var camera in spans.GroupBy(s => s.Camera, StringComparer.Ordinal))
        {
            long end = long.MinValue;
            foreach (var (_, first, last) in camera.OrderBy(s => s.First))
            {
                var start = Math.Max(first, end + 1);
                if (last >= start)
                {
                    frames += last - start + 1;
                    end = last;
                }
            }
        }
        return (int)Math.Min(frames, int.MaxValue);
    }

    private static int? TreeIndexOf(string treeId)
    {
        var t = treeId.LastIndexOf("-T", StringComparison.Ordinal);
        return t >= 0 && int.TryParse(treeId.AsSpan(t + 2), NumberStyles.None, CultureInfo.InvariantCulture, out var index) ? index : null;
    }

    private void GrowExtent(string table, double minX, double minY, double maxX, double maxY, SqliteTransaction tx)
    {
        using var cmd = Command("""
            UPDATE gpkg_contents SET
              min_x = min(coalesce(min_x, @minx), @minx), min_y = min(coalesce(min_y, @miny), @miny),
              max_x = max(coalesce(max_x, @maxx), @maxx), max_y = max(coalesce(max_y, @maxy), @maxy),
              last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now')
            WHERE table_name = @t
            """, tx);
        cmd.Parameters.AddWithValue("@minx", minX);
        cmd.Parameters.AddWithValue("@miny", minY);
        cmd.Parameters.AddWithValue("@maxx", maxX);
        cmd.Parameters.AddWithValue("@maxy", maxY);
        cmd.Parameters.AddWithValue("@t", table);
        cmd.ExecuteNonQuery();
    }

    /// <summary>GeoPackage binary geometry (GP header + WKB) of a WGS84 point.</summary>
    public static byte[] PointBlob(double latitude, double longitude) =>
        GeometryWriter.Write(Wgs84.CreatePoint(new Coordinate(longitude, latitude)));

    private SqliteCommand Command(string sql, SqliteTransaction? tx = null)
    {
        var cmd = _connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        return cmd;
    }

    /// <summary>A parameter whose SQLite type follows each value bound to it (blob, text, integer, real or null).</summary>
    private static SqliteParameter Param(SqliteCommand cmd, string name)
    {
        var parameter = cmd.CreateParameter();
        parameter.ParameterName = name;
        cmd.Parameters.Add(parameter);
        return parameter;
    }

    private static void Exec(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }

    private static T? Scalar<T>(SqliteConnection connection, string sql)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        var value = cmd.ExecuteScalar();
        return value is null or DBNull ? default : (T)Convert.ChangeType(value, typeof(T), CultureInfo.InvariantCulture);
    }

    private static bool HasTable(SqliteConnection connection, string table, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = @n";
        cmd.Parameters.AddWithValue("@n", table);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static string? NullableString(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static double? NullableDouble(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
}
