using System.ComponentModel.DataAnnotations;
using System.IO.Ports;
using TreeScout.Contracts;

namespace TreeScout.Fusion.Gnss;

/// <summary>Where the fusion worker reads the tractor's GNSS receiver.</summary>
public enum GnssSourceKind
{
    /// <summary>No receiver (replays publish fixes themselves: `treescout scan`).</summary>
    None,

    /// <summary>NMEA over a serial port (USB or RS-232).</summary>
    Serial,

    /// <summary>NMEA over TCP, e.g. an RTK receiver's NMEA output port.</summary>
    Tcp,

    /// <summary>gpsd's JSON protocol (TPV, GST) on port 2947.</summary>
    Gpsd,

    /// <summary>
    /// An NMEA file played as a live receiver: at the pace it was recorded, each fix stamped with the host clock when read
    /// (bench tests, demos with a live camera). Frames replayed from a recording are on the recording's clock: use
    /// <see cref="Recording"/> with them.
    /// </summary>
    File,

    /// <summary>
    /// A recording's fixes (gnss.nmea + gnss-times.csv) published into every run fusion starts, on the recording's clock,
    /// as `treescout scan` publishes them: for runs whose frames Capture replays from the same recording (the dev overlay).
    /// </summary>
    Recording,
}

/// <summary>1-sigma horizontal uncertainty assumed for a fix type when the receiver sends no GST, metres.</summary>
public sealed class GnssSigmaOptions
{
    [Range(0.001, 10)]
    public double RtkFixedM { get; set; } = 0.02;

    [Range(0.01, 20)]
    public double RtkFloatM { get; set; } = 0.25;

    [Range(0.05, 50)]
    public double DgpsM { get; set; } = 0.7;

    [Range(0.1, 100)]
    public double AutonomousM { get; set; } = 2.5;

    /// <summary>Dead reckoning, manual, simulation, PPS and anything else.</summary>
    [Range(0.1, 1000)]
    public double OtherM { get; set; } = 5.0;

    public double For(GnssQuality quality) => quality switch
    {
        GnssQuality.RtkFixed => RtkFixedM,
        GnssQuality.RtkFloat => RtkFloatM,
        GnssQuality.Dgps => DgpsM,
        GnssQuality.Autonomous => AutonomousM,
        _ => OtherM,
    };
}

/// <summary>GNSS receiver settings (section "Gnss").</summary>
public sealed class GnssOptions : IValidatableObject
{
    public const string Section = "Gnss";

    public GnssSourceKind Source { get; set; } = GnssSourceKind.None;

    /// <summary>Serial device, e.g. /dev/ttyACM0.</summary>
    public string? SerialPort { get; set; }

    [Range(1200, 4_000_000)]
    public int BaudRate { get; set; } = 115200;

    public Parity Parity { get; set; } = Parity.None;

    [Range(5, 8)]
    public int DataBits { get; set; } = 8;

    public StopBits StopBits { get; set; } = StopBits.One;

    /// <summary>Host of the TCP NMEA stream or of gpsd.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port; 0 means the default of the source (gpsd 2947).</summary>
    [Range(0, 65535)]
    public int Port { get; set; }

    /// <summary>NMEA file for <see cref="GnssSourceKind.File"/>.</summary>
    public string? File { get; set; }

    /// <summary>Recording folder for <see cref="GnssSourceKind.Recording"/> (docs/recording-format.md): the one Capture:Source replays.</summary>
    public string? Recording { get; set; }

    /// <summary>Longest wait between reconnection attempts when the receiver or gpsd is unreachable.</summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "00:05:00")]
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Fixes kept from before a run starts and published with it, so the first frames have a fix on both sides.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan PreRunBuffer { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Fixes still published for a run after it stopped, so the last frames have a fix after them.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan PostRunTail { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>No fix for this long during a run raises an operator warning.</summary>
    [Range(typeof(TimeSpan), "00:00:00.500", "00:10:00")]
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(2);

    public GnssSigmaOptions Sigma { get; set; } = new();

    public int PortOrDefault => Port != 0 ? Port : Source == GnssSourceKind.Gpsd ? 2947 : 0;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        switch (Source)
        {
            case GnssSourceKind.Serial when string.IsNullOrWhiteSpace(SerialPort):
                yield return new ValidationResult("Gnss:SerialPort is required when Gnss:Source is Serial (e.g. /dev/ttyACM0)", [nameof(SerialPort)]);
                break;
            case GnssSourceKind.Tcp when string.IsNullOrWhiteSpace(Host) || Port == 0:
                yield return new ValidationResult("Gnss:Host and Gnss:Port are required when Gnss:Source is Tcp", [nameof(Port)]);
                break;
            case GnssSourceKind.Gpsd when string.IsNullOrWhiteSpace(Host):
                yield return new ValidationResult("Gnss:Host is required when Gnss:Source is Gpsd", [nameof(Host)]);
                break;
            case GnssSourceKind.File when string.IsNullOrWhiteSpace(File) || !System.IO.File.Exists(File):
                yield return new ValidationResult($"Gnss:File '{File}' does not exist (Gnss:Source is File)", [nameof(File)]);
                break;
            case GnssSourceKind.Recording when string.IsNullOrWhiteSpace(Recording) || !System.IO.File.Exists(Path.Combine(Recording, Orchard.Recording.NmeaFile)):
                yield return new ValidationResult($"Gnss:Recording '{Recording}' is not a recording folder with {Orchard.Recording.NmeaFile} (Gnss:Source is Recording; docs/recording-format.md)", [nameof(Recording)]);
                break;
        }
        var sigma = new List<ValidationResult>();
        if (!Validator.TryValidateObject(Sigma, new ValidationContext(Sigma), sigma, validateAllProperties: true))
        {
            foreach (var r in sigma)
            {
                yield return r;
            }
        }
    }
}
