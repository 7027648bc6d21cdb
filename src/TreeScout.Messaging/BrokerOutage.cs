using System.Globalization;

namespace TreeScout.Messaging;

/// <summary>
/// A broker a client cannot reach right now: since when it has been trying (the first failed attempt, or the moment the
/// connection was lost) and why its last attempt failed. The central ingest worker keeps its PostgreSQL outages in it too.
/// </summary>
/// <param name="Broker">The broker URI without its password.</param>
/// <param name="Refused">The broker answered and refused this client (login, permissions, virtual host): not an outage waiting cures by itself.</param>
public sealed record BrokerOutage(string Broker, string Reason, DateTimeOffset Since, bool Refused = false)
{
    public TimeSpan Lasted(DateTimeOffset now) => now > Since ? now - Since : TimeSpan.Zero;

    /// <summary>"waiting for the broker at amqp://user:***@host:5672/ (connection refused), 12 s so far"; <paramref name="which"/> names another ("the central broker").</summary>
    public string WaitingLine(TimeSpan lasted, string which = "the broker") => $"waiting for {which} at {Broker} ({Reason}), {Seconds(lasted)} s so far";

    /// <summary>Whole seconds, as every broker-wait line prints them.</summary>
    public static string Seconds(TimeSpan duration) => ((long)duration.TotalSeconds).ToString(CultureInfo.InvariantCulture);
}

public enum BrokerOutageNoticeKind
{
    /// <summary>Still waiting: said when an outage begins and every report interval while it lasts.</summary>
    Waiting,

    /// <summary>Connected again after an outage that was reported.</summary>
    Back,

    /// <summary>The outage lasted longer than the client's limit.</summary>
    GaveUp,
}

/// <summary>What a client should say about its broker now, and the outage it is about.</summary>
public sealed record BrokerOutageNotice(BrokerOutageNoticeKind Kind, BrokerOutage Outage, TimeSpan Lasted)
{
    public string Text => Kind switch
    {
        BrokerOutageNoticeKind.Waiting => Outage.WaitingLine(Lasted),
        BrokerOutageNoticeKind.Back => $"the broker at {Outage.Broker} is back after {BrokerOutage.Seconds(Lasted)} s",
        _ => $"the broker at {Outage.Broker} has been unreachable for {BrokerOutage.Seconds(Lasted)} s ({Outage.Reason})",
    };
}

/// <summary>
/// Decides, from a bus's <see cref="IMessageBus.Outage"/> polled about once a second, when a client says that it is
/// waiting for its broker: once an outage has lasted <see cref="Grace"/>, then every <paramref name="reportEvery"/>
/// while it lasts, and once when the broker is back. With <paramref name="giveUpAfter"/>, an outage lasting longer is
/// reported as <see cref="BrokerOutageNoticeKind.GaveUp"/> (once); without it a client waits as long as it takes.
/// </summary>
public sealed class BrokerOutageWatch(TimeSpan reportEvery, TimeSpan? giveUpAfter = null)
{
    /// <summary>A reconnect quicker than this (a connection closed and opened again at once) is not worth a line.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(1);

    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);

    private BrokerOutage? _reported;
    private DateTimeOffset _lastReport;
    private bool _gaveUp;

    public BrokerOutageNotice? Observe(BrokerOutage? outage, DateTimeOffset now)
    {
        if (outage is null)
        {
            var back = _reported is { } reported ? new BrokerOutageNotice(BrokerOutageNoticeKind.Back, reported, reported.Lasted(now)) : null;
            _reported = null;
            return back;
        }
        var lasted = outage.Lasted(now);
        if (giveUpAfter is { } limit && lasted > limit && !_gaveUp)
        {
            _gaveUp = true;
            return new BrokerOutageNotice(BrokerOutageNoticeKind.GaveUp, outage, lasted);
        }
        var sameOutage = _reported is { } known && known.Since == outage.Since;
        if (lasted < Grace || (sameOutage && now - _lastReport < reportEvery))
        {
            return null;
        }
        _reported = outage;
        _lastReport = now;
        return new BrokerOutageNotice(BrokerOutageNoticeKind.Waiting, outage, lasted);
    }

    /// <summary>Polls <paramref name="outage"/> every <see cref="PollInterval"/> and reports each notice, until cancelled or given up.</summary>
    public async Task WatchAsync(Func<BrokerOutage?> outage, Action<BrokerOutageNotice> report, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(PollInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (Observe(outage(), time.GetUtcNow()) is { } notice)
                {
                    report(notice);
                    if (notice.Kind == BrokerOutageNoticeKind.GaveUp)
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client is done with the broker.
        }
    }
}
