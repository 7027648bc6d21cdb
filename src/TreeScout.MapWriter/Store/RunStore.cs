using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
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

/// <summary>What one <see cref="RunStore.AddObservations"/> call changed: <paramref name="Corrected"/> counts the newer revisions of stored (or retracted) observations.</summary>
public sealed record IngestResult(int Inserted, int Duplicates, int TreesUpdated, int Corrected = 0);

/// <summary>Frames <see cref="FirstFrame"/>..<see cref="LastFrame"/> of a camera saw a cluster of <see cref="TreeId"/>.</summary>
public sealed record TreeFrames(string CameraId, long FirstFrame, long LastFrame, string TreeId);

/// <summary>
/// A run's durable store (store.gpkg): a GeoPackage in SQLite WAL mode with synchronous=FULL, so a committed
/// observation survives a power cut and GDAL can open the file at any time. Observations are keyed by their id (a
/// newer revision replaces the stored one, a lower or equal one is ignored), and a tree's values are recomputed from its
/// stored observations in the same transaction (<see cref="TreeAggregate.Of"/>), so redelivery, restarts and crashes
/// can never double count. The store only reads
/// and writes; what the values are is <see cref="TreeAggregate"/>'s.
/// </summary>
public sealed partial class RunStore : IDisposable
{
    private static readonly string[] ObservationParameters =
        ["@g", "@id", "@tree", "@row", "@h", "@along", "@sigma", "@low", "@reason", "@stage", "@score", "@frames", "@first", "@last", "@cam", "@q", "@at", "@probs", "@msg", "@side", "@rev"];

    private static readonly string[] AggregateParameters = ["@total", "@left", "@right", "@low", "@frames", "@density", "@conf", "@score", "@excess", "@dose", "@rate", "@zone", "@geom", "@t"];
    private readonly SqliteConnection _connection;

    /// <summary>What to select for each of <see cref="GeoPackageSchema.AddedColumns"/>: the column, or its empty value in a store without it.</summary>
    private readonly Dictionary<string, string> _added;

    private RunStore(string path, SqliteConnection connection, bool readOnly)
    {
        Path = path;
        _connection = connection;
        IsReadOnly = readOnly;
        _added = GeoPackageSchema.AddedColumns.ToDictionary(
            c => c.Column, c => HasColumn(connection, c.Table, c.Column) ? c.Column : $"{c.Absent} AS {c.Column}", StringComparer.Ordinal);
    }

    public string Path { get; }

    public bool IsReadOnly { get; }

    /// <summary>
    /// Opens the store for writing, creating the file and its schema when needed (idempotent). A new store is built under
    /// another name and moved into place with its schema: a reader (the console lists run folders while the run starts)
    /// never finds a store.gpkg that is not a run store yet, which it would have to report as damaged.
    /// </summary>
    public static RunStore OpenOrCreate(string path)
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        if (!File.Exists(path))
        {
            var building = path + ".new";
            Delete(building); // left by a writer stopped while building it
            OpenWithSchema(building).Dispose(); // closing the only connection folds the WAL in and removes -wal and -shm
            try
            {
                File.Move(building, path);
            }
            catch (IOException) when (File.Exists(path))
            {
                Delete(building); // another writer moved its store in first; write into that one
            }
        }
        return OpenWithSchema(path);
    }

    private static RunStore OpenWithSchema(string path)
    {
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
                foreach (var (table, column, declaration, _) in GeoPackageSchema.AddedColumns.Where(c => !HasColumn(connection, c.Table, c.Column, tx)))
                {
                    Exec(connection, $"ALTER TABLE {table} ADD COLUMN {column} {declaration}", tx);
                }
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

    public IReadOnlyDictionary<string, string?> ReadMetadata() => ReadMetadata(tx: null);

    private Dictionary<string, string?> ReadMetadata(SqliteTransaction? tx)
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        using var cmd = Command("SELECT key, value FROM run_metadata ORDER BY key", tx);
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
            g.Value = GeoPackagePoint.Write(t.Latitude, t.Longitude);
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

    public IReadOnlyList<TreeRecord> ReadTrees() => ReadTrees(tx: null);

    /// <summary>
    /// The run's metadata, trees, calibration and hand counts in one read transaction: all of the same commit, even while
    /// the map writer adds observations or `treescout calibrate` stores a calibration (a reader on another connection sees
    /// the last commit before it began).
    /// </summary>
    public StoredRun ReadRun()
    {
        using var tx = _connection.BeginTransaction(deferred: true);
        var result = new StoredRun(ReadMetadata(tx), ReadTrees(tx), ReadCalibration(tx), ReadHandCounts(tx));
        tx.Commit();
        return result;
    }

    private List<TreeRecord> ReadTrees(SqliteTransaction? tx)
    {
        var trees = new List<TreeRecord>();
        using var cmd = Command($"""
            SELECT geom, tree_id, row_id, tree_index, in_plan, spacing_m, clusters_total, {GeoPackageSchema.StageColumns},
                   clusters_low_confidence, frames_seen, density_per_m, confidence, mean_score, excess, dose_pct, rate_l_ha, zone_class,
                   {_added["clusters_seen_left"]}, {_added["clusters_seen_right"]}
            FROM trees ORDER BY row_id, tree_index, tree_id
            """, tx);
        using var r = cmd.ExecuteReader();
        var n = BbchStages.Count;
        while (r.Read())
        {
            (double Latitude, double Longitude)? point = r.IsDBNull(0) ? null : GeoPackagePoint.Read((byte[])r[0]);
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
                Latitude = point?.Latitude,
                Longitude = point?.Longitude,
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
                ClustersSeenLeft = r.GetInt32(16 + n),
                ClustersSeenRight = r.GetInt32(17 + n),
            });
        }
        return trees;
    }

    public long CountObservations() => Scalar<long>(_connection, "SELECT count(*) FROM observations");

    /// <summary>Which frames of which camera saw a cluster of which tree: one row per attributed observation.</summary>
    public IReadOnlyList<TreeFrames> ReadTreeFrames()
    {
        using var select = Command("SELECT camera_id, first_frame, last_frame, tree_id FROM observations WHERE tree_id IS NOT NULL", null);
        var rows = new List<TreeFrames>();
        using var r = select.ExecuteReader();
        while (r.Read())
        {
            rows.Add(new TreeFrames(r.GetString(0), r.GetInt64(1), r.GetInt64(2), r.GetString(3)));
        }
        return rows;
    }

    /// <summary>The clusters attributed to <paramref name="treeId"/>, in the order they were stored (what its values are computed from).</summary>
    public IReadOnlyList<TreeCluster> ReadClusters(string treeId)
    {
        using var select = SelectClusters(tx: null);
        select.Parameters["@t"].Value = treeId;
        return ReadClusters(select);
    }

    // fid order: the order the clusters were stored in, which the floating-point sums of TreeAggregate depend on.
    private SqliteCommand SelectClusters(SqliteTransaction? tx)
    {
        var select = Command($"SELECT stage, low_confidence, score, camera_id, first_frame, last_frame, geom, {_added["row_side"]} FROM observations WHERE tree_id = @t ORDER BY fid", tx);
        select.Parameters.Add("@t", SqliteType.Text);
        return select;
    }

    private static List<TreeCluster> ReadClusters(SqliteCommand select)
    {
        var clusters = new List<TreeCluster>();
        using var r = select.ExecuteReader();
        while (r.Read())
        {
            var (latitude, longitude) = GeoPackagePoint.Read((byte[])r[6]);
            clusters.Add(new TreeCluster(
                BbchStages.TryParse(r.GetString(0), out var stage) ? stage : null,
                r.GetInt64(1) != 0,
                r.GetDouble(2),
                r.GetString(3),
                r.GetInt64(4),
                r.GetInt64(5),
                latitude,
                longitude,
                NullableString(r, 7)));
        }
        return clusters;
    }

    // ---------------------------------------------------------------- observations

    /// <summary>
    /// One transaction: stores each observation whose revision is newer than the stored one (a lower or equal revision is
    /// a redelivery: ignored), takes a retracted one off the map (keeping its revision, so an older copy arriving late
    /// cannot bring it back), creates trees that confident observations name but the plan does not have, and recomputes
    /// the values (and prescription) of every tree that gained or lost one: a corrected observation that moved to
    /// another tree recomputes both (docs/adr/0073).
    /// </summary>
    public IngestResult AddObservations(Guid messageId, IReadOnlyList<BlossomClusterObservation> observations, VarietyProfile? profile)
    {
        using var tx = _connection.BeginTransaction();
        var touched = new HashSet<string>(StringComparer.Ordinal);
        var (inserted, corrected) = (0, 0);
        // In the order of ObservationParameters.
        const string Columns = "geom, observation_id, tree_id, row_id, height_m, along_row_m, sigma_m, low_confidence, low_confidence_reason, "
            + "stage, score, frames_seen, first_frame, last_frame, camera_id, gnss_quality, observed_at, stage_probabilities, message_id, row_side, revision";
        // A newer revision of a stored observation updates its row in place (the row keeps its place in the store's order).
        using var write = Command($"INSERT INTO observations ({Columns}) VALUES ({string.Join(", ", ObservationParameters)}) "
            + $"ON CONFLICT (observation_id) DO UPDATE SET {string.Join(", ", Columns.Split(", ").Select(c => $"{c} = excluded.{c}"))}", tx);
        using var stored = Command($"SELECT tree_id, {_added["revision"]}, 1 FROM observations WHERE observation_id = @id UNION ALL SELECT NULL, revision, 0 FROM retracted_observations WHERE observation_id = @id", tx);
        using var retract = Command("DELETE FROM observations WHERE observation_id = @id; INSERT OR REPLACE INTO retracted_observations (observation_id, revision) VALUES (@id, @rev)", tx);
        using var unretract = Command("DELETE FROM retracted_observations WHERE observation_id = @id", tx);
        using var addTree = Command("INSERT OR IGNORE INTO trees (tree_id, row_id, tree_index, in_plan) VALUES (@id, @row, @idx, 0)", tx);
        var p = ObservationParameters.ToDictionary(n => n, n => Param(write, n), StringComparer.Ordinal);
        var storedId = stored.Parameters.Add("@id", SqliteType.Text);
        var retractId = retract.Parameters.Add("@id", SqliteType.Text);
        var retractRevision = retract.Parameters.Add("@rev", SqliteType.Integer);
        var unretractId = unretract.Parameters.Add("@id", SqliteType.Text);
        var treeId = addTree.Parameters.Add("@id", SqliteType.Text);
        var treeRow = addTree.Parameters.Add("@row", SqliteType.Text);
        var treeIdx = addTree.Parameters.Add("@idx", SqliteType.Integer);
        var written = new List<BlossomClusterObservation>();
        var duplicates = 0;
        foreach (var o in observations)
        {
            var id = o.ObservationId.ToString("D");
            storedId.Value = id;
            (string? Tree, long Revision, bool Live)? before = null;
            using (var r = stored.ExecuteReader())
            {
                if (r.Read())
                {
                    before = (NullableString(r, 0), r.GetInt64(1), r.GetInt64(2) != 0);
                }
            }
            if (before is { } known && o.Revision <= known.Revision)
            {
                duplicates++; // already stored: a redelivery, a replay after a crash, or an older revision arriving late
                continue;
            }
            if (before?.Tree is { } oldTree)
            {
                touched.Add(oldTree);
            }
            if (o.Retracted)
            {
                (retractId.Value, retractRevision.Value) = (id, o.Revision);
                retract.ExecuteNonQuery();
                corrected++;
                continue;
            }
            Fill(p, o, messageId);
            write.ExecuteNonQuery();
            (inserted, corrected) = before is { Live: true } ? (inserted, corrected + 1) : (inserted + 1, corrected);
            if (before is { Live: false })
            {
                unretractId.Value = id;
                unretract.ExecuteNonQuery();
            }
            written.Add(o);
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
        if (written.Count > 0)
        {
            GrowExtent("observations", written.Min(o => o.Longitude), written.Min(o => o.Latitude), written.Max(o => o.Longitude), written.Max(o => o.Latitude), tx);
        }
        var updated = RecomputeTrees(touched, profile, tx);
        tx.Commit();
        return new IngestResult(inserted, duplicates, updated, corrected);
    }

    private static void Fill(Dictionary<string, SqliteParameter> p, BlossomClusterObservation o, Guid messageId)
    {
        p["@g"].Value = GeoPackagePoint.Write(o.Latitude, o.Longitude);
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
        p["@side"].Value = RowSides.IsKnown(o.RowSide) ? o.RowSide : DBNull.Value;
        p["@rev"].Value = o.Revision;
    }

    /// <summary>Sets the spacing of the given trees and recomputes their values (density depends on it).</summary>
    public int UpdateSpacing(IReadOnlyDictionary<string, double> spacingByTree, VarietyProfile? profile)
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
        var n = RecomputeTrees(spacingByTree.Keys, profile, tx);
        tx.Commit();
        return n;
    }

    /// <summary>Loads each tree and its clusters, lets <see cref="TreeAggregate.Of"/> compute its values, writes them.</summary>
    private int RecomputeTrees(IEnumerable<string> treeIds, VarietyProfile? profile, SqliteTransaction tx)
    {
        var calibration = CalibrationModel(tx);
        using var select = SelectClusters(tx);
        using var info = Command("SELECT in_plan, spacing_m FROM trees WHERE tree_id = @t", tx);
        var infoTree = info.Parameters.Add("@t", SqliteType.Text);
        using var update = Command($"""
            UPDATE trees SET clusters_total = @total, clusters_seen_left = @left, clusters_seen_right = @right, {string.Join(", ", BbchStages.Ordered.Select(s => $"{BbchStages.Label(s)} = @{BbchStages.Label(s)}"))},
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
            TreeRecord tree;
            using (var r = info.ExecuteReader())
            {
                if (!r.Read())
                {
                    continue; // only low-confidence observations name it: no tree row (see AddObservations)
                }
                // Its stored position is not loaded: TreeAggregate.Of gives a position only when it places a tree the
                // plan does not have (at its clusters), and only then is one written.
                tree = new TreeRecord { TreeId = treeId, InPlan = r.GetInt64(0) != 0, SpacingM = NullableDouble(r, 1) };
            }
            select.Parameters["@t"].Value = treeId;
            var values = TreeAggregate.Of(tree, ReadClusters(select), profile, calibration);
            u["@t"].Value = treeId;
            u["@total"].Value = values.ClustersTotal;
            u["@left"].Value = values.ClustersSeenLeft;
            u["@right"].Value = values.ClustersSeenRight;
            for (var i = 0; i < values.ClustersPerStage.Count; i++)
            {
                u["@" + BbchStages.Label(BbchStages.Ordered[i])].Value = values.ClustersPerStage[i];
            }
            u["@low"].Value = values.ClustersLowConfidence;
            u["@frames"].Value = values.FramesSeen;
            u["@density"].Value = (object?)values.DensityPerM ?? DBNull.Value;
            u["@conf"].Value = values.Confidence;
            u["@score"].Value = (object?)values.MeanScore ?? DBNull.Value;
            u["@excess"].Value = (object?)values.Excess ?? DBNull.Value;
            u["@dose"].Value = (object?)values.DosePercent ?? DBNull.Value;
            u["@rate"].Value = (object?)values.RateLPerHa ?? DBNull.Value;
            u["@zone"].Value = (object?)values.ZoneClass ?? DBNull.Value;
            if (values is { Latitude: { } lat, Longitude: { } lon })
            {
                u["@geom"].Value = GeoPackagePoint.Write(lat, lon);
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

    private static bool HasColumn(SqliteConnection connection, string table, string column, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = "SELECT count(*) FROM pragma_table_info(@t) WHERE name = @c";
        cmd.Parameters.AddWithValue("@t", table);
        cmd.Parameters.AddWithValue("@c", column);
        return Convert.ToInt64(cmd.ExecuteScalar(), CultureInfo.InvariantCulture) > 0;
    }

    private static string? NullableString(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static double? NullableDouble(SqliteDataReader r, int i) => r.IsDBNull(i) ? null : r.GetDouble(i);
}
