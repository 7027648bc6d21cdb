using Microsoft.Extensions.Options;

namespace TreeScout.WebConsole.Security;

/// <summary>The console's roles: the operator (PIN, start and stop) and signed-in agronomists and ops.</summary>
public static class ConsoleRoles
{
    public const string Operator = "operator";
    public const string Agronomist = "agronomist";
    public const string Ops = "ops";

    /// <summary>Roles an account in the accounts file may have (the operator has the PIN, not an account).</summary>
    public static readonly IReadOnlyList<string> AccountRoles = [Agronomist, Ops];
}

/// <summary>A signed-in account: its name and role.</summary>
public sealed record ConsoleAccount(string Name, string Role);

/// <summary>
/// The accounts file (`name:role:hash` a line, # comments) and the PIN file (one hash), both mounted from a Secret and
/// re-read when they change, so ops rotate a password or the PIN without restarting the console (docs/operations.md).
/// A missing file means nobody can sign in that way; a malformed line is skipped and logged, never fatal.
/// </summary>
public sealed class ConsoleAccounts(IOptions<ConsoleOptions> options, ILogger<ConsoleAccounts> logger)
{
    private readonly Lock _gate = new();
    private (DateTime Written, IReadOnlyDictionary<string, (string Role, string Hash)> Accounts) _accounts = (DateTime.MinValue, new Dictionary<string, (string, string)>());
    private (DateTime Written, string? Hash) _pin = (DateTime.MinValue, null);

    /// <summary>The account when <paramref name="password"/> is its password; null otherwise (unknown name included, in the same time).</summary>
    public ConsoleAccount? SignIn(string name, string password)
    {
        if (Accounts().TryGetValue(name.Trim(), out var account) && SecretHash.Verify(password, account.Hash))
        {
            return new ConsoleAccount(name.Trim(), account.Role);
        }
        if (!Accounts().ContainsKey(name.Trim()))
        {
            SecretHash.Waste(password);
        }
        return null;
    }

    /// <summary>True when a PIN is set and <paramref name="pin"/> is it.</summary>
    public bool IsPin(string? pin)
    {
        var hash = PinHash();
        if (hash is null || string.IsNullOrEmpty(pin))
        {
            SecretHash.Waste(pin ?? "");
            return false;
        }
        return SecretHash.Verify(pin, hash);
    }

    public bool HasPin => PinHash() is not null;

    private IReadOnlyDictionary<string, (string Role, string Hash)> Accounts()
    {
        var path = options.Value.Accounts;
        var written = Written(path);
        lock (_gate)
        {
            if (written == _accounts.Written)
            {
                return _accounts.Accounts;
            }
            var accounts = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
            foreach (var (line, number) in Lines(path).Select((l, i) => (l.Trim(), i + 1)).Where(l => l.Item1.Length > 0 && !l.Item1.StartsWith('#')))
            {
                var parts = line.Split(':', 3);
                var problem = parts.Length != 3 ? "expected name:role:hash"
                    : !ConsoleRoles.AccountRoles.Contains(parts[1]) ? $"role '{parts[1]}' is not {string.Join(" or ", ConsoleRoles.AccountRoles)}"
                    : SecretHash.Problem(parts[2]);
                if (problem is not null)
                {
                    logger.LogWarning("Accounts file {Path} line {Line} skipped: {Problem}", path, number, problem);
                    continue;
                }
                accounts[parts[0]] = (parts[1], parts[2]);
            }
            _accounts = (written, accounts);
            return accounts;
        }
    }

    private string? PinHash()
    {
        var path = options.Value.Pin;
        var written = Written(path);
        lock (_gate)
        {
            if (written != _pin.Written)
            {
                var hash = Lines(path).Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0 && !l.StartsWith('#'));
                if (hash is not null && SecretHash.Problem(hash) is { } problem)
                {
                    logger.LogWarning("PIN file {Path} ignored: {Problem}", path, problem);
                    hash = null;
                }
                _pin = (written, hash);
            }
            return _pin.Hash;
        }
    }

    private static DateTime Written(string? path) => path is not null && File.Exists(path) ? File.GetLastWriteTimeUtc(path) : DateTime.MinValue;

    private static string[] Lines(string? path) => path is not null && File.Exists(path) ? File.ReadAllLines(path) : [];
}
