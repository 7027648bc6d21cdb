using System.Globalization;
using TreeScout.Contracts;
using TreeScout.RunControl;

namespace TreeScout.WebConsole;

/// <summary>
/// The pipeline's warnings turned into what an operator in the cab can act on: each says what is wrong in a few words and
/// what to do, with the worker's own message as the detail. Recognised by what the workers say (docs/run-control.md).
/// </summary>
public static class OperatorWarnings
{
    /// <summary>The title of fusion's warning that fixes stopped coming; the GNSS tile shows it too.</summary>
    public const string GnssLost = "GNSS lost";

    /// <summary>
    /// The workers' warnings as the operator reads them. Whether GNSS is lost is fusion's word (it holds frames until fixes
    /// return), never the age of the fix the console last heard: a replay's fixes all go out when its run starts, so they
    /// age on the console's clock while fusion has every fix it needs.
    /// </summary>
    public static IReadOnlyList<OperatorWarning> From(RunStatusReport report, LiveDisk disk, long lowDiskMiB)
    {
        var warnings = new List<OperatorWarning>();
        foreach (var text in report.Warnings)
        {
            warnings.Add(Classify(text));
        }
        if (disk.Low && !warnings.Any(w => w.Kind == "disk"))
        {
            warnings.Add(new OperatorWarning("disk", "Disk almost full", "Finish this row, then have finished runs copied off the tractor (ops).",
                string.Create(CultureInfo.InvariantCulture, $"{disk.FreeMiB} MiB free (warning below {lowDiskMiB} MiB)")));
        }
        return [.. warnings.OrderBy(w => Array.IndexOf(Order, w.Kind))];
    }

    private static readonly string[] Order = ["interrupted", "camera", "plan", "gnss", "worker", "disk", "dead-letters", "other"];

    public static OperatorWarning Classify(string text)
    {
        if (Has(text, "looks rotated") || Has(text, "upside down"))
        {
            return new("camera", "Camera upside down or turned", "Stop the run, check how the camera is mounted (or have its mountRotationDeg set in camera.json), then start again.", text);
        }
        if (Has(text, "was interrupted"))
        {
            return new("interrupted", "Run interrupted", "If the tractor is not filming this run any more, stop it here with the PIN; its map keeps every frame filmed before.", text);
        }
        if (Has(text, "block plan") || Has(text, "nearest row"))
        {
            return new("plan", "Plan does not fit this block", "Check that the block you chose is the one you are driving; stop and start with the right plan.", text);
        }
        if (Has(text, "no GNSS fix for"))
        {
            return new("gnss", GnssLost, "Stop in the row end if it does not return within a minute; check the receiver's antenna cable and its display.", text);
        }
        if (Has(text, "GNSS"))
        {
            return new("gnss", "GNSS problem", "Check the receiver's display and antenna; trees are placed well only with RTK.", text);
        }
        if (Has(text, "disk"))
        {
            return new("disk", "Disk almost full", "Finish this row, then have finished runs copied off the tractor (ops).", text);
        }
        if ((Has(text, "no ") && Has(text, "worker reported")) || Has(text, "is not ready"))
        {
            return new("worker", "Worker missing", "Wait a minute; if it stays, switch the TreeScout computer off and on, then tell ops.", text);
        }
        if (Has(text, ".dlq"))
        {
            return new("dead-letters", "Messages set aside", "Scanning goes on; tell ops so they can inspect the dead letters (docs/operations.md).", text);
        }
        return new("other", "Warning", "Tell ops if it stays.", text);
    }

    /// <summary>Whether these warnings say GNSS is lost: the GNSS tile and the warning list agree.</summary>
    public static bool SayGnssLost(IReadOnlyList<OperatorWarning> warnings) => warnings.Any(w => w.Title == GnssLost);

    private static bool Has(string text, string part) => text.Contains(part, StringComparison.OrdinalIgnoreCase);
}
