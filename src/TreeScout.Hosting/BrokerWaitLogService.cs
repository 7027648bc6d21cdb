using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TreeScout.Messaging;

namespace TreeScout.Hosting;

/// <summary>
/// While the broker is unreachable, says so in the worker's log every <see cref="BrokerOptions.WaitReportInterval"/>
/// ("Waiting for the broker at amqp://…@host:5672/ (connection refused), 12 s so far"); /healthz and /readyz show the
/// same line. The worker itself never gives up: it is ready again once reconnected with its consumers registered.
/// </summary>
public sealed class BrokerWaitLogService(IMessageBus bus, IOptions<BrokerOptions> options, ILogger<BrokerWaitLogService> logger, TimeProvider? time = null) : BackgroundService
{
    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        new BrokerOutageWatch(options.Value.WaitReportInterval).WatchAsync(() => bus.Outage, Report, time ?? TimeProvider.System, stoppingToken);

    private void Report(BrokerOutageNotice notice)
    {
        // The bus logs the reconnect itself ("Reconnected to broker ... in N s").
        if (notice.Kind == BrokerOutageNoticeKind.Waiting)
        {
            logger.LogWarning("Waiting for the broker at {Broker} ({Reason}), {Seconds} s so far",
                notice.Outage.Broker, notice.Outage.Reason, BrokerOutage.Seconds(notice.Lasted));
        }
    }
}
