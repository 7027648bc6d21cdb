using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace TreeScout.WebConsole.Security;

/// <summary>
/// Passwords and the operator PIN as PBKDF2-HMAC-SHA256 hashes: "pbkdf2-sha256$ITERATIONS$SALT$HASH" (base64), 16-byte
/// salt, 32-byte hash, 600,000 iterations (OWASP's figure for this algorithm). Only hashes are stored; a check takes the
/// same time whether or not the account exists.
/// </summary>
public static class SecretHash
{
    public const string Scheme = "pbkdf2-sha256";
    public const int Iterations = 600_000;
    private const int SaltBytes = 16;
    private const int HashBytes = 32;

    public static string Create(string secret, int iterations = Iterations)
    {
        var salt = RandomNumberGenerator.GetBytes(SaltBytes);
        var hash = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA256, HashBytes);
        return string.Create(CultureInfo.InvariantCulture, $"{Scheme}${iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    /// <summary>True when <paramref name="secret"/> matches <paramref name="encoded"/>; false for a wrong secret or a malformed hash.</summary>
    public static bool Verify(string secret, string encoded)
    {
        if (!TryParse(encoded, out var iterations, out var salt, out var expected))
        {
            return false;
        }
        var actual = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(secret), salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    /// <summary>Why <paramref name="encoded"/> is not a hash this class wrote, or null when it is.</summary>
    public static string? Problem(string encoded) =>
        TryParse(encoded, out _, out _, out _) ? null : $"not a {Scheme}$ITERATIONS$SALT$HASH hash (make one with `treescout console hash-password`)";

    /// <summary>Spends the time of a real check, so an unknown account cannot be told from a wrong password by timing.</summary>
    public static void Waste(string secret) => Verify(secret, Decoy);

    private static readonly string Decoy = Create("decoy");

    private static bool TryParse(string encoded, out int iterations, out byte[] salt, out byte[] hash)
    {
        iterations = 0;
        salt = hash = [];
        var parts = encoded.Trim().Split('$');
        if (parts.Length != 4 || parts[0] != Scheme || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out iterations) || iterations < 10_000)
        {
            return false;
        }
        try
        {
            salt = Convert.FromBase64String(parts[2]);
            hash = Convert.FromBase64String(parts[3]);
        }
        catch (FormatException)
        {
            return false;
        }
        return salt.Length >= 8 && hash.Length >= 16;
    }
}
