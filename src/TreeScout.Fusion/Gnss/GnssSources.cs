using System.IO.Ports;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using TreeScout.Fusion.Nmea;

namespace TreeScout.Fusion.Gnss;

/// <summary>
/// A GNSS receiver connection. <see cref="ReadAsync"/> streams fixes for one connection and returns (or throws) when it
/// ends; the reader reconnects with backoff. Lines that are not usable are reported to <c>onRejected</c>, never thrown.
/// </summary>
public interface IGnssSource
{
    /// <summary>"serial /dev/ttyACM0 115200 8N1", "tcp 10.0.0.5:5017", "gpsd 127.0.0.1:2947", ...</summary>
    string Description { get; }

    IAsyncEnumerable<ReceiverFix> ReadAsync(Action<NmeaRejectReason> onRejected, CancellationToken cancellationToken);
}

/// <summary>Builds the configured source.</summary>
public static class GnssSources
{
    /// <summary>The receiver to read; null when there is none (<see cref="GnssSourceKind.Recording"/> publishes per run: <see cref="GnssRecordingReplayService"/>).</summary>
    public static IGnssSource? Create(GnssOptions options, TimeProvider clock) => options.Source switch
    {
        GnssSourceKind.None or GnssSourceKind.Recording => null,
        GnssSourceKind.Serial => new SerialNmeaSource(options, clock),
        GnssSourceKind.Tcp => new TcpNmeaSource(options.Host, options.PortOrDefault, clock),
        GnssSourceKind.Gpsd => new GpsdJsonSource(options.Host, options.PortOrDefault, clock),
        GnssSourceKind.File => new FileNmeaSource(options.File!, realTime: true, clock),
        _ => throw new ArgumentOutOfRangeException(nameof(options), options.Source, "unknown GNSS source"),
    };
}

/// <summary>Splits a byte stream into lines (LF, CR LF), Latin-1 so binary bytes stay visible, length-capped so noise cannot grow a line without end.</summary>
public static class NmeaLineReader
{
    /// <summary>Longer lines are cut here; the decoder then rejects them as too long.</summary>
    public const int MaxLineLength = 1024;

    public static async IAsyncEnumerable<string> ReadLinesAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken, int maxLineLength = MaxLineLength)
    {
        var buffer = new byte[4096];
        var line = new StringBuilder();
        var overlong = false;
        while (true)
        {
            var n = await stream.ReadAsync(buffer, cancellationToken);
            if (n == 0)
            {
                if (line.Length > 0)
                {
                    yield return line.ToString();
                }
                yield break;
            }
            for (var i = 0; i < n; i++)
            {
                var b = buffer[i];
                if (b == (byte)'\n')
                {
                    yield return line.ToString();
                    line.Clear();
                    overlong = false;
                }
                else if (line.Length < maxLineLength)
                {
                    line.Append((char)b);
                }
                else if (!overlong)
                {
                    overlong = true;
                }
            }
        }
    }
}

/// <summary>Decodes NMEA lines from a transport, stamping each with the host clock when it was read.</summary>
public abstract class NmeaLineSource(TimeProvider clock) : IGnssSource
{
    protected TimeProvider Clock { get; } = clock;

    public abstract string Description { get; }

    /// <summary>Lines of one connection; returns when the connection ends.</summary>
    protected abstract IAsyncEnumerable<string> ReadLinesAsync(CancellationToken cancellationToken);

    public async IAsyncEnumerable<ReceiverFix> ReadAsync(Action<NmeaRejectReason> onRejected, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var decoder = new NmeaDecoder();
        var fixes = new List<ReceiverFix>();
        await foreach (var line in ReadLinesAsync(cancellationToken))
        {
            fixes.Clear();
            if (decoder.Add(line, Clock.GetUtcNow(), fixes) is { } reason)
            {
                onRejected(reason);
            }
            foreach (var fix in fixes)
            {
                yield return fix;
            }
        }
        fixes.Clear();
        decoder.Flush(fixes);
        foreach (var fix in fixes)
        {
            yield return fix;
        }
    }
}

/// <summary>NMEA from a serial port (System.IO.Ports): the receiver plugged into the tractor's computer.</summary>
public sealed class SerialNmeaSource(GnssOptions options, TimeProvider clock) : NmeaLineSource(clock)
{
    public override string Description =>
        $"serial {options.SerialPort} {options.BaudRate} {options.DataBits}{options.Parity.ToString()[0]}{(options.StopBits == StopBits.Two ? 2 : 1)}";

    protected override async IAsyncEnumerable<string> ReadLinesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var port = new SerialPort(options.SerialPort!, options.BaudRate, options.Parity, options.DataBits, options.StopBits)
        {
            ReadTimeout = SerialPort.InfiniteTimeout,
        };
        port.Open();
        // SerialStream reads do not observe the token everywhere; closing the port ends a pending read.
        await using var _ = cancellationToken.Register(port.Close);
        await foreach (var line in NmeaLineReader.ReadLinesAsync(port.BaseStream, cancellationToken))
        {
            yield return line;
        }
    }
}

/// <summary>NMEA over TCP: an RTK receiver's (or NTRIP box's) NMEA output port.</summary>
public sealed class TcpNmeaSource(string host, int port, TimeProvider clock) : NmeaLineSource(clock)
{
    public override string Description => $"tcp {host}:{port}";

    protected override async IAsyncEnumerable<string> ReadLinesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(host, port, cancellationToken);
        await using var stream = client.GetStream();
        await foreach (var line in NmeaLineReader.ReadLinesAsync(stream, cancellationToken))
        {
            yield return line;
        }
    }
}

/// <summary>An NMEA file, optionally paced at the receiver's own epoch rate (so host receive times advance as they did live).</summary>
public sealed class FileNmeaSource(string path, bool realTime, TimeProvider clock) : NmeaLineSource(clock)
{
    public override string Description => $"file {path}{(realTime ? " (real time)" : "")}";

    protected override async IAsyncEnumerable<string> ReadLinesAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        TimeSpan? first = null;
        var started = Clock.GetTimestamp();
        foreach (var line in File.ReadLines(path, Encoding.Latin1))
        {
            if (realTime && TimeOfDayOf(line) is { } time)
            {
                first ??= time;
                var due = time - first.Value;
                var wait = due - Clock.GetElapsedTime(started);
                if (wait > TimeSpan.Zero && due < TimeSpan.FromHours(1))
                {
                    await Task.Delay(wait, Clock, cancellationToken);
                }
            }
            yield return line;
        }
    }

    private static TimeSpan? TimeOfDayOf(string line) =>
        NmeaSentence.TryParse(line, out var s, out _) && NmeaMessageDecoder.TryDecode(s!, out var m, out _) ? m!.TimeOfDay : null;
}
