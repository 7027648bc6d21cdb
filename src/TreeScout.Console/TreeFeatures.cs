using System.Text;
using System.Text.Json;
using TreeScout.MapWriter.Exports;

namespace TreeScout.WebConsole;

/// <summary>
/// A run's trees.geojson taken apart per tree, with the revision at which each tree last changed, so a page that has
/// revision N gets only the trees that changed since (a live map update is then a few trees, not the whole block).
/// Revisions count the store states this console has read for one run and preview; they are told apart from another
/// console process's by <see cref="Instance"/>, and a page with a revision this process cannot answer from gets every tree.
/// </summary>
public sealed class TreeFeatures
{
    /// <summary>This process's revisions: "a1b2c3d4.17".</summary>
    public static readonly string Instance = Guid.NewGuid().ToString("N")[..8];

    private readonly Dictionary<string, (string Json, long ChangedAt)> _trees;
    private readonly List<string> _order;
    private readonly long _resetAt;
    private readonly Lazy<byte[]> _all;

    private TreeFeatures(Dictionary<string, (string Json, long ChangedAt)> trees, List<string> order, long revision, long resetAt)
    {
        _trees = trees;
        _order = order;
        Revision = revision;
        _resetAt = resetAt;
        _all = new(() => Write(_order, since: null));
    }

    public long Revision { get; }

    public string RevisionText => $"{Instance}.{Revision}";

    /// <summary>
    /// The trees of <paramref name="geojson"/> (a FeatureCollection with a tree_id on every feature), each marked changed
    /// at this revision unless <paramref name="before"/> has it as it is. A tree gone since <paramref name="before"/> (rows
    /// inferred anew) makes every earlier revision unanswerable: pages holding one get every tree again.
    /// </summary>
    /// <summary>The trees of a run read, as trees.geojson has them (<see cref="GeoJsonExport.WriteTrees"/>).</summary>
    public static TreeFeatures Of(RunSnapshot run, TreeFeatures? before)
    {
        using var buffer = new MemoryStream();
        GeoJsonExport.WriteTrees(run, buffer);
        return Of(buffer.ToArray(), before);
    }

    public static TreeFeatures Of(byte[] geojson, TreeFeatures? before)
    {
        var revision = (before?.Revision ?? 0) + 1;
        var trees = new Dictionary<string, (string Json, long ChangedAt)>(StringComparer.Ordinal);
        var order = new List<string>();
        using var document = JsonDocument.Parse(geojson);
        foreach (var feature in document.RootElement.GetProperty("features").EnumerateArray())
        {
            var id = feature.GetProperty("properties").GetProperty("tree_id").GetString()!;
            var json = feature.GetRawText();
            var changedAt = before?._trees.GetValueOrDefault(id) is { Json: { } known } previous && known == json ? previous.ChangedAt : revision;
            trees[id] = (json, changedAt);
            order.Add(id);
        }
        var gone = before is not null && before._order.Any(id => !trees.ContainsKey(id));
        return new TreeFeatures(trees, order, revision, gone ? revision : before?._resetAt ?? revision);
    }

    /// <summary>
    /// A FeatureCollection with "revision" (to ask with next time) and, when <paramref name="since"/> is a revision of
    /// this process still answerable, "since" and only the trees changed after it; otherwise every tree.
    /// </summary>
    public byte[] GeoJson(string? since) =>
        Parse(since) is { } from && from >= _resetAt && from <= Revision
            ? Write(_order.Where(id => _trees[id].ChangedAt > from), since)
            : _all.Value;

    private static long? Parse(string? since) =>
        since is not null && since.StartsWith(Instance + ".", StringComparison.Ordinal) && long.TryParse(since.AsSpan(Instance.Length + 1), out var revision) ? revision : null;

    private byte[] Write(IEnumerable<string> ids, string? since)
    {
        var text = new StringBuilder();
        text.Append("{\"type\":\"FeatureCollection\",\"revision\":\"").Append(RevisionText).Append('"');
        if (since is not null)
        {
            text.Append(",\"since\":\"").Append(since).Append('"');
        }
        text.Append(",\"features\":[");
        var first = true;
        foreach (var id in ids)
        {
            text.Append(first ? "" : ",").Append(_trees[id].Json);
            first = false;
        }
        return Encoding.UTF8.GetBytes(text.Append("]}").ToString());
    }
}
