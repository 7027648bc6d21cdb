using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The console in-process (its own entry point, as the container runs it; any of its types names the assembly) on a test server, over <paramref name="runs"/>,
/// with the given settings (Console:…, Broker:Uri). With <paramref name="withAccounts"/>, an accounts file (anna, an
/// agronomist) and a PIN file (4711) are written and configured, so pages need signing in and run control the PIN.
/// </summary>
public sealed class ConsoleFactory(string runs, bool withAccounts = false, IReadOnlyDictionary<string, string?>? settings = null) : WebApplicationFactory<RunCatalog>
{
    public const string Agronomist = "anna";
    public const string AgronomistPassword = "bloom-2026-elstar";
    public const string Pin = "4711";

    /// <summary>Cheap hashes for tests: the production iteration count would make every sign-in cost a quarter second.</summary>
    private const int TestIterations = 10_000;

    private readonly string _secrets = Directory.CreateTempSubdirectory("treescout-console-secrets-").FullName;

    public string Plans => Path.Combine(_secrets, "plans");

    public string AccountsFile => Path.Combine(_secrets, "accounts");

    public string PinFile => Path.Combine(_secrets, "pin");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("Console:Runs", runs);
        builder.UseSetting("Console:Plans", Plans);
        builder.UseSetting("Logging:Format", "text");
        if (withAccounts)
        {
            File.WriteAllText(AccountsFile, $"# name:role:hash\n{Agronomist}:agronomist:{SecretHash.Create(AgronomistPassword, TestIterations)}\n");
            File.WriteAllText(PinFile, SecretHash.Create(Pin, TestIterations) + "\n");
            builder.UseSetting("Console:Accounts", AccountsFile);
            builder.UseSetting("Console:Pin", PinFile);
        }
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && Directory.Exists(_secrets))
        {
            Directory.Delete(_secrets, recursive: true);
        }
    }
}
