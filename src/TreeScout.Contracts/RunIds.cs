using System.Text.RegularExpressions;

namespace TreeScout.Contracts;

/// <summary>Run ids double as folder names on the tractor, so they are restricted to a safe alphabet.</summary>
public static partial class RunIds
{
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]
    private static partial Regex Pattern();

    public static bool IsValid(string? runId) => runId is not null && Pattern().IsMatch(runId) && !runId.Contains("..", StringComparison.Ordinal);

    /// <summary>A readable, sortable id: 20261125-183500-block-a1b2.</summary>
    public static string New(string block, DateTimeOffset startedAt)
    {
        var slug = new string(block.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-').ToArray()).Trim('-');
        if (slug.Length > 40)
        {
            slug = slug[..40];
        }
        var suffix = Guid.NewGuid().ToString("N")[..4];
        return $"{startedAt.UtcDateTime:yyyyMMdd-HHmmss}-{(slug.Length == 0 ? "block" : slug)}-{suffix}";
    }
}
