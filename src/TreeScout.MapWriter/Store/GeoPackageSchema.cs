using TreeScout.Contracts;

namespace TreeScout.MapWriter.Store;

/// <summary>
/// DDL of the run store: a GeoPackage 1.3 (OGC 12-128r18) with the feature tables <c>trees</c> and <c>observations</c>
/// and the attributes table <c>run_metadata</c>, as docs/recording-format.md fixes them.
/// </summary>
internal static class GeoPackageSchema
{
    /// <summary>'GPKG' as a big-endian 32-bit integer.</summary>
    public const int ApplicationId = 0x47504B47;

    /// <summary>GeoPackage 1.3.0.</summary>
    public const int UserVersion = 10300;

    public const int Wgs84 = 4326;

    public static readonly string StageColumns = string.Join(", ", BbchStages.Ordered.Select(BbchStages.Label));

    public static readonly string Core = """
        CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
          srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
          organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
        CREATE TABLE IF NOT EXISTS gpkg_contents (
          table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE, description TEXT DEFAULT '',
          last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
          min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
          CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
        CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
          table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL,
          z TINYINT NOT NULL, m TINYINT NOT NULL,
          CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
          CONSTRAINT uk_gc_table_name UNIQUE (table_name),
          CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
          CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
        INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
          ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
          ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
          ('WGS 84 geodetic', 4326, 'EPSG', 4326,
           'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
           'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
        """;

    public static readonly string Tables = $"""
        CREATE TABLE IF NOT EXISTS trees (
          fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT,
          tree_id TEXT NOT NULL UNIQUE, row_id TEXT, tree_index INTEGER, in_plan INTEGER NOT NULL, spacing_m REAL,
          clusters_total INTEGER NOT NULL DEFAULT 0,
          {string.Join(", ", BbchStages.Ordered.Select(s => $"{BbchStages.Label(s)} INTEGER NOT NULL DEFAULT 0"))},
          clusters_low_confidence INTEGER NOT NULL DEFAULT 0, frames_seen INTEGER NOT NULL DEFAULT 0,
          density_per_m REAL, confidence REAL NOT NULL DEFAULT 0, mean_score REAL,
          excess REAL, dose_pct REAL, rate_l_ha REAL, zone_class TEXT);
        CREATE TABLE IF NOT EXISTS observations (
          fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT,
          observation_id TEXT NOT NULL UNIQUE, tree_id TEXT, row_id TEXT, height_m REAL, along_row_m REAL, sigma_m REAL NOT NULL,
          low_confidence INTEGER NOT NULL, low_confidence_reason TEXT, stage TEXT NOT NULL, score REAL NOT NULL,
          frames_seen INTEGER NOT NULL, first_frame INTEGER NOT NULL, last_frame INTEGER NOT NULL, camera_id TEXT NOT NULL,
          gnss_quality TEXT NOT NULL, observed_at TEXT NOT NULL, stage_probabilities TEXT, message_id TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS observations_tree_id ON observations(tree_id);
        CREATE TABLE IF NOT EXISTS retracted_observations (observation_id TEXT NOT NULL PRIMARY KEY, revision INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS run_metadata (
          fid INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, value TEXT);
        INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES
          ('trees', 'features', 'trees', 'Trees of the block with per-tree blossom aggregates and thinning prescription', 4326),
          ('observations', 'features', 'observations', 'Geo-referenced blossom clusters (one row per physical cluster)', 4326),
          ('run_metadata', 'attributes', 'run_metadata', 'Run id, block, variety, models, GNSS summary', NULL),
          ('retracted_observations', 'attributes', 'retracted_observations', 'Observations fusion took back off the map, with the revision that did', NULL);
        INSERT OR IGNORE INTO gpkg_geometry_columns VALUES
          ('trees', 'geom', 'POINT', 4326, 0, 0),
          ('observations', 'geom', 'POINT', 4326, 0, 0);
        """;

    /// <summary>
    /// Columns added after the first stores were written (both sides of the row, ADR 0035; revisions, ADR 0073):
    /// <see cref="RunStore"/> adds each one an existing store lacks when it opens it for writing (its old observations
    /// keep an unknown side and are revision 1, so its counts do not change), and reads a store opened read-only without them as if they were empty.
    /// </summary>
    public static readonly IReadOnlyList<(string Table, string Column, string Declaration, string Absent)> AddedColumns =
    [
        ("observations", "row_side", "TEXT", "NULL"),
        ("trees", "clusters_seen_left", "INTEGER NOT NULL DEFAULT 0", "0"),
        ("trees", "clusters_seen_right", "INTEGER NOT NULL DEFAULT 0", "0"),
        ("observations", "revision", "INTEGER NOT NULL DEFAULT 1", "1"),
    ];

    /// <summary>
    /// The agronomist's hand counts and the calibrations fitted on them (docs/calibration.md, ADR 0045). Every set of
    /// hand counts entered is kept with the calibration it produced; the latest calibration is the one in use.
    /// </summary>
    public static readonly string CalibrationTables = $"""
        CREATE TABLE IF NOT EXISTS calibration (
          fid INTEGER PRIMARY KEY AUTOINCREMENT, created_at TEXT NOT NULL, source TEXT NOT NULL,
          model TEXT NOT NULL, intercept REAL NOT NULL, slope REAL NOT NULL, trees INTEGER NOT NULL, residual_sd REAL NOT NULL,
          scanned_mean REAL NOT NULL, scanned_sum_of_squares REAL NOT NULL, r2 REAL, rmse REAL NOT NULL, loo_mape REAL,
          loo_rmse_proportional REAL, loo_rmse_linear REAL, poor_fit INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS hand_counts (
          fid INTEGER PRIMARY KEY AUTOINCREMENT, calibration_fid INTEGER NOT NULL REFERENCES calibration(fid),
          tree_id TEXT NOT NULL, clusters INTEGER NOT NULL, clusters_scanned INTEGER NOT NULL,
          {string.Join(", ", BbchStages.Ordered.Select(s => $"{BbchStages.Label(s)} INTEGER"))},
          source_line INTEGER NOT NULL, UNIQUE (calibration_fid, tree_id));
        INSERT OR IGNORE INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) VALUES
          ('calibration', 'attributes', 'calibration', 'Hand-count calibrations of the per-tree cluster counts; the latest is in use', NULL),
          ('hand_counts', 'attributes', 'hand_counts', 'Blossom clusters counted by hand per tree, for each calibration', NULL);
        """;
}
