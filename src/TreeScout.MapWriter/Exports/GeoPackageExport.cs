using Microsoft.Data.Sqlite;
using NetTopologySuite.IO;
using TreeScout.MapWriter.Store;

namespace TreeScout.MapWriter.Exports;

/// <summary>
/// map.gpkg: a clean, self-contained copy of the run store (SQLite online backup of a consistent snapshot, rollback
/// journal, no -wal side file) plus a <c>zones</c> polygon layer for QGIS. The run's store itself is only read; when
/// the snapshot was prescribed with another profile, the copy's trees get that prescription from the snapshot.
/// </summary>
public static class GeoPackageExport
{
    public const string FileName = "map.gpkg";

    public static IReadOnlyList<string> Write(RunSnapshot run, RunStore source, string directory)
    {
        var path = Path.Combine(directory, FileName);
        File.Delete(path);
        using (var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            destination.Open();
            source.BackupTo(destination);
        }
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            Exec(connection, "PRAGMA journal_mode=DELETE");
            using (var tx = connection.BeginTransaction())
            {
                if (run.Represcribed)
                {
                    WritePrescription(connection, tx, run.Trees);
                }
                WriteZones(connection, tx, run);
                tx.Commit();
            }
        }
        return [path];
    }

    private static void WritePrescription(SqliteConnection connection, SqliteTransaction tx, IReadOnlyList<TreeRecord> trees)
    {
        using var update = connection.CreateCommand();
        update.Transaction = tx;
        update.CommandText = "UPDATE trees SET excess = @excess, dose_pct = @dose, rate_l_ha = @rate, zone_class = @zone WHERE tree_id = @t";
        var t = update.Parameters.Add("@t", SqliteType.Text);
        var excess = update.Parameters.Add("@excess", SqliteType.Real);
        var dose = update.Parameters.Add("@dose", SqliteType.Real);
        var rate = update.Parameters.Add("@rate", SqliteType.Real);
        var zone = update.Parameters.Add("@zone", SqliteType.Text);
        foreach (var tree in trees)
        {
            t.Value = tree.TreeId;
            excess.Value = (object?)tree.Excess ?? DBNull.Value;
            dose.Value = (object?)tree.DosePercent ?? DBNull.Value;
            rate.Value = (object?)tree.RateLPerHa ?? DBNull.Value;
            zone.Value = (object?)tree.ZoneClass ?? DBNull.Value;
            update.ExecuteNonQuery();
        }
    }

    private static void WriteZones(SqliteConnection connection, SqliteTransaction tx, RunSnapshot run)
    {
        var columns = TreeFields.All.Select(f => $"{f.Name} {f.Kind switch { FieldKind.Text => "TEXT", FieldKind.Integer => "INTEGER", _ => "REAL" }}");
        Exec(connection, $"""
            DROP TABLE IF EXISTS zones;
            DELETE FROM gpkg_geometry_columns WHERE table_name = 'zones';
            DELETE FROM gpkg_contents WHERE table_name = 'zones';
            CREATE TABLE zones (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POLYGON, {string.Join(", ", columns)});
            INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
              VALUES ('zones', 'features', 'zones', 'Canopy zone of each tree with its thinning prescription', 4326);
            INSERT INTO gpkg_geometry_columns VALUES ('zones', 'geom', 'POLYGON', 4326, 0, 0);
            """, tx);
        var writer = new GeoPackageGeoWriter();
        using var insert = connection.CreateCommand();
        insert.Transaction = tx;
        insert.CommandText = $"INSERT INTO zones (geom, {string.Join(", ", TreeFields.All.Select(f => f.Name))}) VALUES (@geom, {string.Join(", ", TreeFields.All.Select(f => "@" + f.Name))})";
        var geom = insert.Parameters.Add("@geom", SqliteType.Blob);
        var values = TreeFields.All.Select(f =>
        {
            var p = insert.CreateParameter();
            p.ParameterName = "@" + f.Name;
            insert.Parameters.Add(p);
            return p;
        }).ToList();
        foreach (var zone in run.Zones)
        {
            geom.Value = writer.Write(zone.Zone);
            for (var i = 0; i < values.Count; i++)
            {
                values[i].Value = TreeFields.All[i].Value(zone.Tree) ?? DBNull.Value;
            }
            insert.ExecuteNonQuery();
        }
        if (run.Zones.Count > 0)
        {
            var extent = run.Zones.Select(z => z.Zone.EnvelopeInternal).Aggregate((a, b) => { var e = a.Copy(); e.ExpandToInclude(b); return e; });
            using var update = connection.CreateCommand();
            update.Transaction = tx;
            update.CommandText = "UPDATE gpkg_contents SET min_x = @a, min_y = @b, max_x = @c, max_y = @d WHERE table_name = 'zones'";
            update.Parameters.AddWithValue("@a", extent.MinX);
            update.Parameters.AddWithValue("@b", extent.MinY);
            update.Parameters.AddWithValue("@c", extent.MaxX);
            update.Parameters.AddWithValue("@d", extent.MaxY);
            update.ExecuteNonQuery();
        }
    }

    private static void Exec(SqliteConnection connection, string sql, SqliteTransaction? tx = null)
    {
        using var cmd = connection.CreateCommand();
        cmd.CommandText = sql;
        cmd.Transaction = tx;
        cmd.ExecuteNonQuery();
    }
}
