using TreeScout.Contracts;

namespace TreeScout.Fusion.Nmea;

/// <summary>
/// Merges the sentences of one receiver epoch (GGA, RMC, GSA, GST, VTG, ... with the same UTC time of day) into one
/// <see cref="ReceiverFix"/>. A fix is emitted as soon as the sentence that ends the receiver's cycle arrives (learned from
/// the stream: the last sentence type of two consecutive epochs), otherwise when the next epoch begins, or on <see cref="Flush"/>.
/// Dates come from RMC/ZDA and roll over at midnight; without them the host clock supplies the date when known.
/// </summary>
public sealed class NmeaFixAssembler
{
    private static readonly TimeSpan HalfDay = TimeSpan.FromHours(12);

    public static readonly TimeSpan GpsWeekRollover = TimeSpan.FromDays(7 * 1024);

    /// <summary>How long a GSA fix type or an altitude stays applicable to epochs that do not repeat it (some receivers send GGA every few seconds only).</summary>
    private static readonly TimeSpan StickyFor = TimeSpan.FromSeconds(10);

    private Epoch? _open;
    private Epoch? _lastClosed;
    private Epoch _carry = new();
    private DateOnly? _date;
    private TimeSpan? _lastTimeOfDay;
    private string? _enderCandidate;
    private string? _ender;
    private (int FixType, TimeSpan At)? _lastGsa;
    private TimeSpan? _lastAltitudeAt;

    public void Add(NmeaMessage message, DateTimeOffset? receivedAt, ICollection<ReceiverFix> emitted)
    {
        var key = message.Talker + message.GetType().Name;
        if (message.TimeOfDay is { } time)
        {
            var epoch = EpochFor(time, receivedAt, emitted);
            if (epoch is null)
            {
                return;
            }
            Merge(epoch, message);
            epoch.LastKey = key;
            if (epoch == _open && key == _ender)
            {
                Emit(epoch, emitted);
            }
            return;
        }
        if (message is GgaMessage or RmcMessage or GllMessage or GnsMessage or GstMessage or ZdaMessage)
        {
            // A position sentence without a time cannot be placed (e.g. "$GPGGA,,,,,,0,,,,,,,,*66" while searching).
            return;
        }
        var target = _open is { Emitted: false } open ? open : _carry;
        Merge(target, message);
        target.LastKey = key;
        if (target == _open && key == _ender)
        {
            Emit(target, emitted);
        }
    }

    /// <summary>End of input: emit the epoch still open.</summary>
    public void Flush(ICollection<ReceiverFix> emitted)
    {
        if (_open is { Emitted: false } open)
        {
            Emit(open, emitted);
        }
    }

    private Epoch? EpochFor(TimeSpan time, DateTimeOffset? receivedAt, ICollection<ReceiverFix> emitted)
    {
        if (_open is not null && _open.TimeOfDay == time)
        {
            return _open;
        }
        if (_lastClosed is not null && _lastClosed.TimeOfDay == time)
        {
            // A straggler of an epoch already emitted: too late to use.
            return null;
        }
        if (_open is not null)
        {
            LearnCycleEnd(_open);
            if (!_open.Emitted)
            {
                Emit(_open, emitted);
            }
            _lastClosed = _open;
        }
        if (_lastTimeOfDay is { } last && _date is { } date && time < last - HalfDay)
        {
            _date = date.AddDays(1);
        }
        _lastTimeOfDay = time;
        var epoch = _carry;
        _carry = new Epoch();
        epoch.TimeOfDay = time;
        epoch.Date = _date;
        epoch.ReceivedAt = receivedAt;
        _open = epoch;
        return epoch;
    }

    private void LearnCycleEnd(Epoch closing)
    {
        if (closing.LastKey is null)
        {
            return;
        }
        if (closing.LastKey == _enderCandidate)
        {
            _ender = _enderCandidate;
        }
        else
        {
            _enderCandidate = closing.LastKey;
            _ender = null;
        }
    }

    private void Merge(Epoch e, NmeaMessage message)
    {
        switch (message)
        {
            case GgaMessage gga:
                e.Gga = gga.FixQuality is null ? null : gga.FixQuality > 0 && gga.Latitude is not null && gga.Longitude is not null;
                if (e.Gga == true)
                {
                    e.AddPosition(gga);
                    e.GgaQuality = QualityOfGga(gga.FixQuality!.Value);
                    e.AltitudeM ??= gga.AltitudeM;
                    e.Satellites ??= gga.Satellites;
                    e.Hdop ??= gga.Hdop is < 99 ? gga.Hdop : null;
                }
                break;
            case GnsMessage gns:
                // One indicator per constellation (GPS, GLONASS, Galileo, ...): the first that has a fix describes the solution.
                var best = gns.Modes.Select(c => QualityOfModeIndicator(c)).FirstOrDefault(q => q is not null and not GnssQuality.NoFix);
                e.Gns = best is not null && gns.NavStatus is not ('U' or 'V') && gns.Latitude is not null && gns.Longitude is not null;
                if (e.Gns == true)
                {
                    e.AddPosition(gns);
                    e.GnsQuality = best;
                    e.AltitudeM ??= gns.AltitudeM;
                    e.Satellites ??= gns.Satellites;
                    e.Hdop ??= gns.Hdop is < 99 ? gns.Hdop : null;
                }
                break;
            case RmcMessage rmc:
                if (rmc.Date is { } date)
                {
                    _date = date;
                    e.Date = date;
                }
                var rmcQuality = rmc.Status is 'A' or 'D'
                    ? QualityOfModeIndicator(rmc.Mode) ?? (rmc.Status == 'D' ? GnssQuality.Dgps : GnssQuality.Autonomous)
                    : GnssQuality.NoFix;
                e.Rmc = rmcQuality != GnssQuality.NoFix && rmc.Latitude is not null && rmc.Longitude is not null;
                if (e.Rmc == true)
                {
                    e.AddPosition(rmc);
                    e.RmcQuality = rmcQuality;
                    e.SpeedMps ??= rmc.SpeedKnots * NmeaFields.KnotsToMps;
                    e.CourseDeg ??= rmc.CourseDeg;
                }
                break;
            case GllMessage gll:
                var gllQuality = gll.Status == 'A' ? QualityOfModeIndicator(gll.Mode) ?? GnssQuality.Autonomous : GnssQuality.NoFix;
                e.Gll = gllQuality != GnssQuality.NoFix && gll.Latitude is not null && gll.Longitude is not null;
                if (e.Gll == true)
                {
                    e.AddPosition(gll);
                    e.GllQuality = gllQuality;
                }
                break;
            case ZdaMessage { Date: { } zdaDate }:
                _date = zdaDate;
                e.Date = zdaDate;
                break;
            case VtgMessage vtg when vtg.Mode is not ('N' or 'E'):
                e.CourseDeg ??= vtg.CourseTrueDeg;
                e.SpeedMps ??= vtg.SpeedKnots * NmeaFields.KnotsToMps ?? vtg.SpeedKmh / 3.6;
                break;
            case GsaMessage { FixType: { } fixType }:
                e.GsaFixType = Math.Max(e.GsaFixType ?? 0, fixType);
                break;
            case GstMessage gst:
                e.GstSigmaM ??= gst.SemiMajorM is > 0 ? gst.SemiMajorM
                    : gst.LatitudeSigmaM is > 0 && gst.LongitudeSigmaM is > 0 ? Math.Max(gst.LatitudeSigmaM.Value, gst.LongitudeSigmaM.Value)
                    : null;
                break;
            case HeadingMessage heading when heading.Mode is not ('V' or 'N') && heading.HeadingDeg is { } h:
                e.HeadingDeg ??= h;
                break;
        }
    }

    private void Emit(Epoch e, ICollection<ReceiverFix> emitted)
    {
        e.Emitted = true;
        if (e.GsaFixType is { } gsa)
        {
            _lastGsa = (gsa, e.TimeOfDay);
        }
        if (e.AltitudeM is not null)
        {
            _lastAltitudeAt = e.TimeOfDay;
        }
        // The most specific sentence that has an opinion decides whether this epoch is a fix.
        var valid = e.Gga ?? e.Gns ?? e.Rmc ?? e.Gll ?? false;
        if (!valid || e.Position() is not var (lat, lon, talker))
        {
            return;
        }
        var mode = ModeOf(e);
        if (mode < 2)
        {
            return;
        }
        var (timeUtc, fromHost) = TimeOf(e);
        emitted.Add(new ReceiverFix
        {
            TimeUtc = timeUtc,
            DateFromHostClock = fromHost,
            ReceivedAtUtc = e.ReceivedAt,
            Latitude = lat,
            Longitude = lon,
            AltitudeM = e.AltitudeM,
            Mode = mode,
            Quality = e.GgaQuality ?? e.GnsQuality ?? e.RmcQuality ?? e.GllQuality ?? GnssQuality.Autonomous,
            SpeedMps = e.SpeedMps,
            CourseDeg = e.CourseDeg,
            HeadingDeg = e.HeadingDeg,
            GstSigmaM = e.GstSigmaM,
            Satellites = e.Satellites,
            Hdop = e.Hdop,
            Talker = talker,
        });
    }

    private int ModeOf(Epoch e)
    {
        // A reported altitude means a 3-D solution even when GSA claims 2-D (several chipsets do; gpsd reads it the same way).
        if (e.AltitudeM is not null)
        {
            return 3;
        }
        if (e.GsaFixType is { } gsa)
        {
            return gsa;
        }
        if (e.Gga is not null || e.Gns is not null)
        {
            return 2;
        }
        // RMC/GLL-only epochs: borrow the receiver's recent GSA or altitude, as the fix is the same solution.
        if (_lastGsa is { } last && Age(last.At, e.TimeOfDay) <= StickyFor)
        {
            return last.FixType;
        }
        return _lastAltitudeAt is { } alt && Age(alt, e.TimeOfDay) <= StickyFor ? 3 : 2;
    }

    private static TimeSpan Age(TimeSpan then, TimeSpan now)
    {
        var age = now - then;
        return age < -HalfDay ? age + TimeSpan.FromDays(1) : age.Duration();
    }

    private static (DateTimeOffset?, bool FromHost) TimeOf(Epoch e)
    {
        // A host time outside the years a receiver date can have (1980-2200, NmeaFields.Date) is a broken clock or a
        // corrupt gnss-times.csv: no date to borrow (and days next to it may not even be representable).
        var hostClock = e.ReceivedAt is { Year: >= 1980 and <= 2200 } plausible ? plausible : (DateTimeOffset?)null;
        if (e.Date is { } date)
        {
            var time = new DateTimeOffset(date.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero) + e.TimeOfDay;
            // Receivers with the GPS week-number rollover bug report dates 1024 weeks (19.6 years) in the past.
            while (hostClock is { } received && received - time > GpsWeekRollover - TimeSpan.FromDays(2))
            {
                time += GpsWeekRollover;
            }
            return (time, false);
        }
        if (hostClock is { } host)
        {
            // The host clock is right to within hours: pick the day that puts the epoch nearest to it.
            var day = new DateTimeOffset(host.UtcDateTime.Date, TimeSpan.Zero);
            var best = new[] { -1, 0, 1 }.Select(d => day.AddDays(d) + e.TimeOfDay).MinBy(t => (t - host).Duration());
            return (best, true);
        }
        return (null, false);
    }

    private static GnssQuality QualityOfGga(int quality) => quality switch
    {
        1 => GnssQuality.Autonomous,
        2 => GnssQuality.Dgps,
        3 => GnssQuality.Pps,
        4 => GnssQuality.RtkFixed,
        5 => GnssQuality.RtkFloat,
        6 => GnssQuality.DeadReckoning,
        7 => GnssQuality.Manual,
        8 => GnssQuality.Simulation,
        _ => GnssQuality.NoFix,
    };

    /// <summary>NMEA 2.3+ mode indicator (RMC, GLL, GNS, VTG). Null when absent or unknown.</summary>
    private static GnssQuality? QualityOfModeIndicator(char? mode) => mode switch
    {
        'A' => GnssQuality.Autonomous,
        'D' or 'P' => GnssQuality.Dgps,
        'F' => GnssQuality.RtkFloat,
        'R' => GnssQuality.RtkFixed,
        'E' => GnssQuality.DeadReckoning,
        'M' => GnssQuality.Manual,
        'S' => GnssQuality.Simulation,
        'N' => GnssQuality.NoFix,
        _ => null,
    };

    /// <summary>What one epoch's sentences said so far; validity per sentence kind is null until that kind was seen.</summary>
    private sealed class Epoch
    {
        private readonly List<PositionReport> _positions = [];

        public TimeSpan TimeOfDay { get; set; }

        public DateOnly? Date { get; set; }

        public DateTimeOffset? ReceivedAt { get; set; }

        public bool Emitted { get; set; }

        public string? LastKey { get; set; }

        public bool? Gga { get; set; }

        public bool? Gns { get; set; }

        public bool? Rmc { get; set; }

        public bool? Gll { get; set; }

        public GnssQuality? GgaQuality { get; set; }

        public GnssQuality? GnsQuality { get; set; }

        public GnssQuality? RmcQuality { get; set; }

        public GnssQuality? GllQuality { get; set; }

        public double? AltitudeM { get; set; }

        public int? Satellites { get; set; }

        public double? Hdop { get; set; }

        public double? SpeedMps { get; set; }

        public double? CourseDeg { get; set; }

        public double? HeadingDeg { get; set; }

        public double? GstSigmaM { get; set; }

        public int? GsaFixType { get; set; }

        /// <summary>
        /// The epoch's position: the most precise (most decimal places) of the positions its sentences reported. Where they
        /// disagree (relaying chart plotters send one sentence a cycle late) the position most others confirm to within a
        /// metre wins; then GGA over GNS over GLL over RMC, as GGA is the receiver's primary fix sentence.
        /// </summary>
        public (double Latitude, double Longitude, string Talker)? Position()
        {
            if (_positions.Count == 0)
            {
                return null;
            }
            var decimals = _positions.Max(p => p.Decimals);
            var precise = _positions.Where(p => p.Decimals == decimals).ToList();
            var best = precise
                .OrderByDescending(p => precise.Count(q => Close(p, q)))
                .ThenBy(p => p.Preference)
                .First();
            return (best.Latitude, best.Longitude, best.Talker);

            static bool Close(PositionReport a, PositionReport b) =>
                Math.Abs(a.Latitude - b.Latitude) < 1e-5 && Math.Abs(a.Longitude - b.Longitude) * Math.Cos(a.Latitude * Math.PI / 180) < 1e-5;
        }

        public void AddPosition(NmeaMessage message)
        {
            var position = (IPositionMessage)message;
            var preference = message switch
            {
                GllMessage => 0,
                GgaMessage => 1,
                GnsMessage => 2,
                _ => 3,
            };
            _positions.Add(new PositionReport(position.Latitude!.Value, position.Longitude!.Value, position.Decimals, preference, message.Talker));
        }
    }

    private sealed record PositionReport(double Latitude, double Longitude, int Decimals, int Preference, string Talker);
}
