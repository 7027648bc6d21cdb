using System.Globalization;
using Microsoft.Data.Sqlite;
using TreeScout.Contracts;
using TreeScout.MapWriter.Prescription;
using TreeScout.Orchard.Calibration;

namespace TreeScout.MapWriter.Store;

/// <summary>A calibration as the store keeps it (table <c>calibration</c>); the latest one is in use.</summary>
public sealed record StoredCalibration(long Id, DateTimeOffset CreatedAtUtc, string Source, CalibrationFit Fit)
{
    /// <summary>What every per-tree export's <c>calibration</c> field says (≤ 32 characters, a Shapefile text field).</summary>
    public string Label => $"{(Fit.PoorFit ? "POOR FIT" : CountModel.Name(Fit.Model.Kind))} n={Fit.Model.Trees} R2={R2Text}";

    /// <summary>The warning a poor fit adds to the run's warnings (run.json, the final map's message).</summary>
    public string? Warning => Fit.PoorFit
        ? $"the hand-count calibration fits poorly (R² {R2Text} < {CountCalibration.PoorFitR2.ToString(CultureInfo.InvariantCulture)}, {Fit.Model.Trees} trees) and was stored with --accept-poor-fit: calibrated counts and the prescription built on them are uncertain"
        : null;

    /// <summary>What a map or page says of a run without a calibration.</summary>
    public const string NoneText = "Counts as scanned (no hand-count calibration)";

    private string R2Text => Fit.R2 is { } r2 ? r2.ToString("0.00", CultureInfo.InvariantCulture) : "n/a";
}

/// <summary>A tree's hand count kept with its calibration, and the scanned count the calibration was fitted on.</summary>
public sealed record StoredHandCount(HandCount Count, int ClustersScanned);

/// <summary>What <see cref="RunStore.ReadRun"/> read in one transaction.</summary>
public sealed record StoredRun(
    IReadOnlyDictionary<string, string?> Metadata,
    IReadOnlyList<TreeRecord> Trees,
    StoredCalibration? Calibration,
    IReadOnlyList<StoredHandCount> HandCounts);

public sealed partial class RunStore
{
    private static readonly string HandCountStageColumns = string.Join(", ", BbchStages.Ordered.Select(BbchStages.Label));

    /// <summary>
    /// One transaction: stores the calibration and the hand counts it was fitted on (earlier ones are kept), then
    /// recomputes every tree's prescription from its calibrated count. The trees' raw counts are not touched.
    /// </summary>
    public long SaveCalibration(IReadOnlyList<StoredHandCount> counts, CalibrationFit fit, string source, DateTimeOffset createdAtUtc, VarietyProfile? profile)
    {
        using var tx = _connection.BeginTransaction();
        long id;
        using (var insert = Command("""
            INSERT INTO calibration (created_at, source, model, intercept, slope, trees, residual_sd, scanned_mean, scanned_sum_of_squares,
              r2, rmse, loo_mape, loo_rmse_proportional, loo_rmse_linear, poor_fit)
            VALUES (@at, @source, @model, @a, @b, @n, @s, @mean, @ss, @r2, @rmse, @mape, @looP, @looL, @poor) RETURNING fid
            """, tx))
        {
            var m = fit.Model;
            insert.Parameters.AddWithValue("@at", createdAtUtc.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture));
            insert.Parameters.AddWithValue("@source", source);
            insert.Parameters.AddWithValue("@model", CountModel.Name(m.Kind));
            insert.Parameters.AddWithValue("@a", m.Intercept);
            insert.Parameters.AddWithValue("@b", m.Slope);
            insert.Parameters.AddWithValue("@n", m.Trees);
            insert.Parameters.AddWithValue("@s", m.ResidualSd);
            insert.Parameters.AddWithValue("@mean", m.ScannedMean);
            insert.Parameters.AddWithValue("@ss", m.SumOfSquares);
            insert.Parameters.AddWithValue("@r2", (object?)fit.R2 ?? DBNull.Value);
            insert.Parameters.AddWithValue("@rmse", fit.Rmse);
            insert.Parameters.AddWithValue("@mape", (object?)fit.LooMapePercent ?? DBNull.Value);
            insert.Parameters.AddWithValue("@looP", (object?)fit.LooRmseProportional ?? DBNull.Value);
            insert.Parameters.AddWithValue("@looL", (object?)fit.LooRmseLinear ?? DBNull.Value);
            insert.Parameters.AddWithValue("@poor", fit.PoorFit ? 1 : 0);
            id = Convert.ToInt64(insert.ExecuteScalar(), CultureInfo.InvariantCulture);
        }
        using (var insert = Command($"""
            INSERT INTO hand_counts (calibration_fid, tree_id, clusters, clusters_scanned, {HandCountStageColumns}, source_line)
            VALUES (@cal, @tree, @clusters, @scanned, {string.Join(", ", BbchStages.Ordered.Select(s => "@" + BbchStages.Label(s)))}, @line)
            """, tx))
        {
            insert.Parameters.AddWithValue("@cal", id);
            var tree = insert.Parameters.Add("@tree", SqliteType.Text);
            var clusters = insert.Parameters.Add("@clusters", SqliteType.Integer);
            var scanned = insert.Parameters.Add("@scanned", SqliteType.Integer);
            var line = insert.Parameters.Add("@line", SqliteType.Integer);
            var stages = BbchStages.Ordered.Select(s => insert.Parameters.Add("@" + BbchStages.Label(s), SqliteType.Integer)).ToList();
            foreach (var c in counts)
            {
                tree.Value = c.Count.TreeId;
                clusters.Value = c.Count.Clusters;
                scanned.Value = c.ClustersScanned;
                line.Value = c.Count.Line;
                for (var i = 0; i < stages.Count; i++)
                {
                    stages[i].Value = c.Count.ByStage.TryGetValue(BbchStages.Ordered[i], out var n) ? n : DBNull.Value;
                }
                insert.ExecuteNonQuery();
            }
        }
        var trees = new List<string>();
        using (var select = Command("SELECT tree_id FROM trees", tx))
        using (var r = select.ExecuteReader())
        {
            while (r.Read())
            {
                trees.Add(r.GetString(0));
            }
        }
        RecomputeTrees(trees, profile, tx);
        tx.Commit();
        return id;
    }

    /// <summary>The calibration in use (the latest stored), or null when the run has none (or its store predates calibrations).</summary>
    public StoredCalibration? ReadCalibration() => ReadCalibration(null);

    /// <summary>The hand counts of the calibration in use, in the order of their file.</summary>
    public IReadOnlyList<StoredHandCount> ReadHandCounts() => ReadHandCounts(null);

    private List<StoredHandCount> ReadHandCounts(SqliteTransaction? tx)
    {
        var counts = new List<StoredHandCount>();
        if (!HasTable(_connection, "hand_counts", tx))
        {
            return counts;
        }
        using var cmd = Command($"""
            SELECT tree_id, clusters, clusters_scanned, source_line, {HandCountStageColumns} FROM hand_counts
            WHERE calibration_fid = (SELECT max(fid) FROM calibration) ORDER BY source_line
            """, tx);
        using var r = cmd.ExecuteReader();
        while (r.Read())
        {
            var byStage = new Dictionary<BbchStage, int>();
            for (var i = 0; i < BbchStages.Count; i++)
            {
                if (!r.IsDBNull(4 + i))
                {
                    byStage[BbchStages.Ordered[i]] = r.GetInt32(4 + i);
                }
            }
            counts.Add(new StoredHandCount(new HandCount(r.GetString(0), r.GetInt32(1), byStage, r.GetInt32(3)), r.GetInt32(2)));
        }
        return counts;
    }

    /// <summary>The model of the calibration in use, for the prescription (inside the caller's transaction).</summary>
    private CountModel? CalibrationModel(SqliteTransaction tx) => ReadCalibration(tx)?.Fit.Model;

    private StoredCalibration? ReadCalibration(SqliteTransaction? tx)
    {
        if (!HasTable(_connection, "calibration", tx))
        {
            return null;
        }
        using var cmd = Command("""
            SELECT fid, created_at, source, model, intercept, slope, trees, residual_sd, scanned_mean, scanned_sum_of_squares,
                   r2, rmse, loo_mape, loo_rmse_proportional, loo_rmse_linear
            FROM calibration ORDER BY fid DESC LIMIT 1
            """, tx);
        using var r = cmd.ExecuteReader();
        if (!r.Read())
        {
            return null;
        }
        if (!CountModel.TryParseName(r.GetString(3), out var kind))
        {
            throw new RunStoreException($"{Path}: calibration {r.GetInt64(0)} has an unknown model '{r.GetString(3)}'");
        }
        var model = new CountModel(kind, r.GetDouble(4), r.GetDouble(5), r.GetInt32(6), r.GetDouble(7), r.GetDouble(8), r.GetDouble(9));
        var fit = new CalibrationFit(model, NullableDouble(r, 10), r.GetDouble(11), NullableDouble(r, 12), NullableDouble(r, 13), NullableDouble(r, 14));
        var created = DateTimeOffset.Parse(r.GetString(1), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
        return new StoredCalibration(r.GetInt64(0), created, r.GetString(2), fit);
    }
}
