using System.Globalization;
using TreeScout.Contracts;

namespace TreeScout.Messaging;

/// <summary>How an interruption of a run is told to the operator: the same line in capture's warnings and `treescout run status`.</summary>
public static class RunInterruptions
{
    public static string Describe(RunInterrupted interruption)
    {
        var (from, to) = (interruption.InterruptedAtUtc.UtcDateTime, interruption.NoticedAtUtc.UtcDateTime);
        var gap = Duration(to - from);
        return interruption.Resumed
            ? string.Create(CultureInfo.InvariantCulture,
                $"run {interruption.RunId} was interrupted for {gap} (no frame from {from:HH:mm:ss} to {to:HH:mm:ss} UTC: power cut or restart); filming resumed at {to:HH:mm:ss} UTC")
            : string.Create(CultureInfo.InvariantCulture,
                $"run {interruption.RunId} was interrupted at {from:HH:mm:ss} UTC and capture came back {gap} later; its recorded source cannot resume: stop it with `treescout run stop --run {interruption.RunId}`, or fusion finishes it when idle");
    }

    /// <summary>"45 s", "12 min", "2 h 05 min".</summary>
    public static string Duration(TimeSpan span)
    {
        var seconds = Math.Max(0, (long)Math.Round(span.TotalSeconds));
        var minutes = (long)Math.Round(seconds / 60.0);
        return (seconds, minutes) switch
        {
            (< 60, _) => $"{seconds} s",
            (_, < 60) => $"{minutes} min",
            _ => string.Create(CultureInfo.InvariantCulture, $"{minutes / 60} h {minutes % 60:00} min"),
        };
    }
}
