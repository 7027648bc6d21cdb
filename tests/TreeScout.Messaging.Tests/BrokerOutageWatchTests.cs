using System.Net.Sockets;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;
using RabbitMQ.Client.Exceptions;

namespace TreeScout.Messaging.Tests;

/// <summary>When a client says it is waiting for its broker, what it says, and when it gives up.</summary>
[Trait("Category", "Unit")]
public sealed class BrokerOutageWatchTests
{
    private const string Broker = "amqp://treescout-cli:***@tractor:5672/treescout";
    private static readonly DateTimeOffset T0 = new(2026, 4, 21, 9, 30, 0, TimeSpan.Zero);
    private static readonly BrokerOutage Refused = new(Broker, "connection refused", T0);

    [Fact]
    public void An_outage_is_reported_after_a_second_then_every_interval_and_once_more_when_the_broker_is_back()
    {
        var watch = new BrokerOutageWatch(TimeSpan.FromSeconds(5));

        Assert.Null(watch.Observe(null, T0));
        Assert.Null(watch.Observe(Refused, T0.AddSeconds(0.5)));
        Assert.Equal($"waiting for the broker at {Broker} (connection refused), 1 s so far", watch.Observe(Refused, T0.AddSeconds(1))!.Text);
        Assert.Null(watch.Observe(Refused, T0.AddSeconds(3)));
        Assert.Null(watch.Observe(Refused, T0.AddSeconds(5.9)));
        var later = watch.Observe(Refused with { Reason = "host not found" }, T0.AddSeconds(6));
        Assert.Equal((BrokerOutageNoticeKind.Waiting, $"waiting for the broker at {Broker} (host not found), 6 s so far"), (later!.Kind, later.Text));
        var back = watch.Observe(null, T0.AddSeconds(23.4));
        Assert.Equal((BrokerOutageNoticeKind.Back, $"the broker at {Broker} is back after 23 s"), (back!.Kind, back.Text));
        Assert.Null(watch.Observe(null, T0.AddSeconds(24)));
    }

    [Fact]
    public void A_reconnect_within_a_second_is_not_worth_a_line()
    {
        var watch = new BrokerOutageWatch(TimeSpan.FromSeconds(5));

        Assert.Null(watch.Observe(Refused, T0.AddSeconds(0.9)));
        Assert.Null(watch.Observe(null, T0.AddSeconds(1.2)));
    }

    [Fact]
    public void A_new_outage_gets_its_first_line_at_once_even_without_a_poll_in_between()
    {
        var watch = new BrokerOutageWatch(TimeSpan.FromSeconds(5));
        Assert.NotNull(watch.Observe(Refused, T0.AddSeconds(2)));

        var next = Refused with { Reason = "connection lost: 320 CONNECTION_FORCED", Since = T0.AddSeconds(10) };

        Assert.Equal($"waiting for the broker at {Broker} (connection lost: 320 CONNECTION_FORCED), 1 s so far", watch.Observe(next, T0.AddSeconds(11))!.Text);
    }

    [Fact]
    public void With_a_limit_an_outage_lasting_longer_is_given_up_once_and_without_one_never()
    {
        var limited = new BrokerOutageWatch(TimeSpan.FromSeconds(5), giveUpAfter: TimeSpan.FromSeconds(5));
        var unlimited = new BrokerOutageWatch(TimeSpan.FromSeconds(5));

        Assert.Equal(BrokerOutageNoticeKind.Waiting, limited.Observe(Refused, T0.AddSeconds(5))!.Kind);
        var gaveUp = limited.Observe(Refused, T0.AddSeconds(6));
        Assert.Equal((BrokerOutageNoticeKind.GaveUp, $"the broker at {Broker} has been unreachable for 6 s (connection refused)"), (gaveUp!.Kind, gaveUp.Text));
        Assert.NotEqual(BrokerOutageNoticeKind.GaveUp, limited.Observe(Refused, T0.AddSeconds(12))?.Kind);
        Assert.Equal(BrokerOutageNoticeKind.Waiting, unlimited.Observe(Refused, T0.AddDays(2))!.Kind);
    }

    [Fact]
    public void A_failed_connection_attempt_is_named_in_a_few_words_and_a_refusal_is_told_apart_from_an_outage()
    {
        var refused = new BrokerUnreachableException(new IOException("Connection failed", new SocketException((int)SocketError.ConnectionRefused)));
        var noHost = new BrokerUnreachableException(new SocketException((int)SocketError.HostNotFound));
        var noVhost = new BrokerUnreachableException(new OperationInterruptedException(
            new ShutdownEventArgs(ShutdownInitiator.Peer, Constants.NotAllowed, "NOT_ALLOWED - vhost treescout not found", cause: null)));

        Assert.Equal(("connection refused", false), RabbitMqMessageBus.Classify(refused));
        Assert.Equal(("host not found", false), RabbitMqMessageBus.Classify(noHost));
        Assert.Equal(("NOT_ALLOWED - vhost treescout not found", true), RabbitMqMessageBus.Classify(noVhost));
    }
}
