using System.CommandLine;
using System.Globalization;
using TreeScout.Messaging;

namespace TreeScout.Cli.Commands;

/// <summary>
/// `--broker-wait SECONDS` of the commands that talk to a broker: how long an unreachable broker is waited for, before
/// the first connect and at every outage after it. Null is as long as it takes (ended by Ctrl-C).
/// </summary>
public sealed class BrokerWaitOption(TimeSpan? defaultWait)
{
    public Option<double?> Option { get; } = new("--broker-wait")
    {
        Description = "Longest wait for an unreachable broker, in seconds; meanwhile a line on stderr every "
            + $"{new BrokerOptions().WaitReportInterval.TotalSeconds:0} s says for how long (default: "
            + (defaultWait is { } wait ? $"{wait.TotalSeconds:0}" : "as long as it takes") + ")",
    };

    public TimeSpan? Read(ParseResult result) => result.GetValue(Option) switch
    {
        null => defaultWait,
        > 0 and <= MaxSeconds and var seconds => TimeSpan.FromSeconds(seconds),
        var seconds => throw new CliException(string.Create(CultureInfo.InvariantCulture, $"--broker-wait {seconds}: expected seconds between 0 and {MaxSeconds} (leave it out to wait as long as it takes)"), Cli.UsageError),
    };

    private const double MaxSeconds = 1_000_000;
}
