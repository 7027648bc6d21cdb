using System.Globalization;

namespace TreeScout.Fusion.Nmea;

/// <summary>A field held a value of the wrong shape; the sentence is rejected as <see cref="NmeaRejectReason.BadField"/>.</summary>
internal sealed class NmeaFieldException(string message) : Exception(message)
{
    public NmeaFieldException()
        : this("bad NMEA field")
    {
    }

    public NmeaFieldException(string message, Exception inner)
        : this(message + ": " + inner.Message)
    {
    }
}

/// <summary>Field decoders. Empty fields are "not reported" (null); present but unparsable fields throw <see cref="NmeaFieldException"/>.</summary>
internal static class NmeaFields
{
    public const double KnotsToMps = 1852.0 / 3600.0;

    public static double? Number(string field)
    {
        if (field.Length == 0)
        {
            return null;
        }
        return double.TryParse(field, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var v) && double.IsFinite(v)
            ? v
            : throw new NmeaFieldException($"'{field}' is not a number");
    }

    public static int? Integer(string field)
    {
        if (field.Length == 0)
        {
            return null;
        }
        return int.TryParse(field, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new NmeaFieldException($"'{field}' is not an integer");
    }

    public static char? Flag(string field) => field.Length == 0 ? null : field[0];

    /// <summary>hhmmss[.sss] → time of day.</summary>
    public static TimeSpan? TimeOfDay(string field)
    {
        if (field.Length == 0)
        {
            return null;
        }
        if (field.Length < 6 || !AllDigits(field.AsSpan(0, 6)))
        {
            throw new NmeaFieldException($"'{field}' is not a time hhmmss.ss");
        }
        var h = Two(field, 0);
        var m = Two(field, 2);
        var s = Two(field, 4);
        long fractionTicks = 0;
        if (field.Length > 6)
        {
            var fraction = field.AsSpan(7);
            if (field[6] != '.' || !AllDigits(fraction))
            {
                throw new NmeaFieldException($"'{field}' is not a time hhmmss.ss");
            }
            // Up to 7 digits are representable in ticks (100 ns); more is noise.
            var digits = fraction.Length > 7 ? fraction[..7] : fraction;
            fractionTicks = digits.Length == 0 ? 0 : long.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) * (long)Math.Pow(10, 7 - digits.Length);
        }
        // 60 s is a leap second; NMEA receivers send it rarely, and it folds onto the next second here.
        if (h > 23 || m > 59 || s > 60)
        {
            throw new NmeaFieldException($"'{field}' is not a valid time of day");
        }
        return TimeSpan.FromTicks(((h * 60L + m) * 60 + s) * TimeSpan.TicksPerSecond + fractionTicks);
    }

    /// <summary>ddmmyy (RMC) → date; two-digit years 80..99 are 19xx, 00..79 are 20xx (GPS started in 1980).</summary>
    public static DateOnly? DateDdMmYy(string field)
    {
        if (field.Length == 0)
        {
            return null;
        }
        if (field.Length != 6 || !AllDigits(field))
        {
            throw new NmeaFieldException($"'{field}' is not a date ddmmyy");
        }
        var yy = Two(field, 4);
        return Date(yy >= 80 ? 1900 + yy : 2000 + yy, Two(field, 2), Two(field, 0), field);
    }

    public static DateOnly Date(int year, int month, int day, string source) =>
        month is >= 1 and <= 12 && day >= 1 && year is >= 1980 and <= 2200 && day <= DateTime.DaysInMonth(year, month)
            ? new DateOnly(year, month, day)
            : throw new NmeaFieldException($"'{source}' is not a valid date");

    /// <summary>(d)ddmm.mmmm + hemisphere → signed degrees. Both empty = not reported.</summary>
    public static double? Coordinate(string value, string hemisphere, bool latitude)
    {
        if (value.Length == 0 && hemisphere.Length == 0)
        {
            return null;
        }
        if (value.Length == 0 || hemisphere.Length != 1)
        {
            throw new NmeaFieldException($"coordinate '{value},{hemisphere}' is incomplete");
        }
        var dot = value.IndexOf('.');
        var integerPart = dot < 0 ? value.AsSpan() : value.AsSpan(0, dot);
        if (integerPart.Length < 3 || !AllDigits(integerPart) || (dot >= 0 && !AllDigits(value.AsSpan(dot + 1)))
            || !long.TryParse(integerPart, NumberStyles.None, CultureInfo.InvariantCulture, out var whole))
        {
            throw new NmeaFieldException($"'{value}' is not a coordinate (d)ddmm.mmmm");
        }
        var degrees = whole / 100;
        var minutes = whole % 100 + (dot < 0 || dot == value.Length - 1 ? 0 : double.Parse(value.AsSpan(dot), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture));
        // Exactly 60 minutes occurs (MTK sends 8960.000000 while searching); more is garbage.
        if (minutes > 60)
        {
            throw new NmeaFieldException($"'{value}' has {minutes} minutes");
        }
        var result = degrees + minutes / 60.0;
        var (positive, negative, limit) = latitude ? ('N', 'S', 90.0) : ('E', 'W', 180.0);
        if (result > limit)
        {
            throw new NmeaFieldException($"'{value}' is beyond {limit} degrees");
        }
        return hemisphere[0] == positive ? result
            : hemisphere[0] == negative ? -result
            : throw new NmeaFieldException($"'{hemisphere}' is not {positive} or {negative}");
    }

    private static int Two(string s, int at) => (s[at] - '0') * 10 + (s[at + 1] - '0');

    private static bool AllDigits(ReadOnlySpan<char> s)
    {
        foreach (var c in s)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }
        return true;
    }
}
