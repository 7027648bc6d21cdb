using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The console in-process (its own entry point, as the container runs it; any of its types names the assembly) on a test server, over <paramref name="runs"/>,
/// with the given settings (Console:…, Broker:Uri). With <paramref name="withAccounts"/>, an accounts file (anna, an
/// agronomist) and a PIN file (4711) are written and configured, so pages need signing in and run control the PIN.
/// </summary>
public sealed class ConsoleFactory(string runs, bool withAccounts = false, IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? time = null) : WebApplicationFactory<RunCatalog>
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

    /// <summary>A client that keeps cookies and shows redirects instead of following them.</summary>
    public HttpClient Browser() => CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });

    /// <summary>The antiforgery token a page's forms carry (the client keeps the matching cookie).</summary>
    public static async Task<string> FormTokenAsync(HttpClient client, string page = "/login")
    {
        var html = await client.GetStringAsync(page);
        return System.Text.RegularExpressions.Regex.Match(html, "name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"").Groups[1].Value;
    }

    /// <summary>Signs in with the form as a browser does; returns where it was sent.</summary>
    public static async Task<HttpResponseMessage> SignInAsync(HttpClient client, string name, string password)
    {
        var token = await FormTokenAsync(client);
        return await client.PostAsync("/login/account", new FormUrlEncodedContent(new Dictionary<string, string> { ["name"] = name, ["password"] = password, ["__RequestVerificationToken"] = token }));
    }

    /// <summary>Rewrites the accounts file with a new password for the agronomist (as ops rotate it).</summary>
    public void RotatePassword(string password)
    {
        File.WriteAllText(AccountsFile, $"{Agronomist}:agronomist:{SecretHash.Create(password, TestIterations)}\n");
        File.SetLastWriteTimeUtc(AccountsFile, DateTime.UtcNow.AddSeconds(5));
    }

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
        if (time is not null)
        {
            builder.ConfigureTestServices(services => services.AddSingleton(time));
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
