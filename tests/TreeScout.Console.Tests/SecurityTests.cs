using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using TreeScout.Cli;
using TreeScout.Cli.Commands;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole.Tests;

/// <summary>Who may see and do what: accounts and the PIN from files, cookie sessions that expire, antiforgery, throttled attempts.</summary>
[Collection(SampleRunsCollection.Name)]
[Trait("Category", "Unit")]
public sealed class SecurityTests(SampleRuns runs)
{
    [Fact]
    public async Task With_accounts_every_page_and_the_api_need_signing_in_and_health_and_scripts_do_not()
    {
        await using var console = new ConsoleFactory(runs.Runs, withAccounts: true);
        using var client = console.Browser();

        using var page = await client.GetAsync("/runs");
        using var api = await client.GetAsync("/api/runs");
        using var cab = await client.GetAsync("/");
        using var health = await client.GetAsync("/healthz");
        using var style = await client.GetAsync("/css/console.css");
        using var library = await client.GetAsync("/lib/ol/ol.js");

        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/login?ReturnUrl=%2Fruns", page.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, api.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, cab.StatusCode);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, style.StatusCode);
        Assert.Equal(HttpStatusCode.OK, library.StatusCode);
        Assert.Equal("default-src 'self'; img-src 'self' data: blob:; connect-src 'self'; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'; form-action 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
    }

    [Fact]
    public async Task An_agronomist_signs_in_with_the_form_and_the_session_ends_after_the_configured_idle_time()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var console = new ConsoleFactory(runs.Runs, withAccounts: true, new Dictionary<string, string?> { ["Console:SessionExpiry"] = "01:00:00" }, clock);
        using var client = console.Browser();

        using var wrong = await ConsoleFactory.SignInAsync(client, ConsoleFactory.Agronomist, "not-the-password");
        Assert.Equal("/login?error=wrong%20user%20name%20or%20password", wrong.Headers.Location?.OriginalString);
        using var signIn = await ConsoleFactory.SignInAsync(client, ConsoleFactory.Agronomist, ConsoleFactory.AgronomistPassword);
        Assert.Equal("/runs", signIn.Headers.Location?.OriginalString);
        var cookie = signIn.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("treescout-console=", StringComparison.Ordinal));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/runs")).StatusCode);
        var page = await client.GetStringAsync("/runs");
        Assert.Contains(">anna<", page, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromMinutes(61));

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/runs")).StatusCode);
    }

    [Fact]
    public async Task A_form_posted_without_the_pages_antiforgery_token_is_refused()
    {
        await using var console = new ConsoleFactory(runs.Runs, withAccounts: true);
        using var client = console.Browser();

        using var response = await client.PostAsync("/login/account", new FormUrlEncodedContent(new Dictionary<string, string> { ["name"] = ConsoleFactory.Agronomist, ["password"] = ConsoleFactory.AgronomistPassword }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("The form has expired or did not come from this console: go back, reload the page and try again.", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("Set-Cookie") && response.Headers.GetValues("Set-Cookie").Any(c => c.StartsWith("treescout-console=", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Sign_in_attempts_are_throttled_per_device()
    {
        await using var console = new ConsoleFactory(runs.Runs, withAccounts: true, new Dictionary<string, string?> { ["Console:SignInAttemptsPerMinute"] = "3" });
        using var client = console.Browser();

        var locations = new List<string?>();
        for (var i = 0; i < 4; i++)
        {
            var token = await ConsoleFactory.FormTokenAsync(client);
            using var attempt = await client.PostAsync("/login/pin", new FormUrlEncodedContent(new Dictionary<string, string> { ["pin"] = "0000", ["__RequestVerificationToken"] = token }));
            locations.Add(Uri.UnescapeDataString(attempt.Headers.Location?.OriginalString ?? ""));
        }

        Assert.Equal(["/login?error=wrong PIN", "/login?error=wrong PIN", "/login?error=wrong PIN", "/login?error=too many sign-in or PIN attempts from this device; wait a minute and try again"], locations);
        // The right PIN too must wait out the minute.
        var last = await ConsoleFactory.FormTokenAsync(client);
        using var right = await client.PostAsync("/login/pin", new FormUrlEncodedContent(new Dictionary<string, string> { ["pin"] = ConsoleFactory.Pin, ["__RequestVerificationToken"] = last }));
        Assert.StartsWith("/login?error=too%20many", right.Headers.Location?.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_operator_signs_in_with_the_pin_sees_the_maps_and_a_start_still_asks_for_it()
    {
        await using var console = new ConsoleFactory(runs.Runs, withAccounts: true);
        using var client = console.Browser();
        var token = await ConsoleFactory.FormTokenAsync(client);

        using var signIn = await client.PostAsync("/login/pin", new FormUrlEncodedContent(new Dictionary<string, string> { ["pin"] = ConsoleFactory.Pin, ["__RequestVerificationToken"] = token }));

        Assert.Equal("/", signIn.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/runs/{runs.SampleRunId}/trees")).StatusCode);
        Assert.Contains(">operator<", await client.GetStringAsync("/"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scripts_use_http_basic_and_a_rotated_password_replaces_the_old_one_without_a_restart()
    {
        await using var console = new ConsoleFactory(runs.Runs, withAccounts: true);
        using var script = console.CreateClient();
        using var browser = console.Browser();

        script.DefaultRequestHeaders.Authorization = Basic(ConsoleFactory.Agronomist, "wrong-password");
        using var refused = await script.GetAsync("/api/runs");
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("Basic realm=\"TreeScout console\", charset=\"UTF-8\"", refused.Headers.WwwAuthenticate.ToString());
        script.DefaultRequestHeaders.Authorization = Basic(ConsoleFactory.Agronomist, ConsoleFactory.AgronomistPassword);
        Assert.Equal(4, (await script.GetFromJsonAsync<JsonElement>("/api/runs")).GetArrayLength());

        console.RotatePassword("a-new-password-for-anna");

        using var old = await ConsoleFactory.SignInAsync(browser, ConsoleFactory.Agronomist, ConsoleFactory.AgronomistPassword);
        Assert.StartsWith("/login?error=", old.Headers.Location?.OriginalString, StringComparison.Ordinal);
        using var rotated = await ConsoleFactory.SignInAsync(browser, ConsoleFactory.Agronomist, "a-new-password-for-anna");
        Assert.Equal("/runs", rotated.Headers.Location?.OriginalString);
    }

    [Fact]
    public void Hash_password_makes_lines_that_verify_and_refuses_weak_secrets_and_wrong_roles()
    {
        var line = ConsoleCommand.AccountLine("bert", "ops", pin: false, "orchard-ops-2026");
        var parts = line.Split(':', 3);
        Assert.Equal(("bert", "ops"), (parts[0], parts[1]));
        Assert.StartsWith($"pbkdf2-sha256${SecretHash.Iterations}$", parts[2], StringComparison.Ordinal);
        Assert.True(SecretHash.Verify("orchard-ops-2026", parts[2]));
        Assert.False(SecretHash.Verify("orchard-ops-2027", parts[2]));
        Assert.True(SecretHash.Verify("271828", ConsoleCommand.AccountLine(null, null, pin: true, "271828")));
        // Same secret, new salt: no two lines are alike.
        Assert.NotEqual(line, ConsoleCommand.AccountLine("bert", "ops", pin: false, "orchard-ops-2026"));

        Assert.Equal("the password must have at least 10 characters", Assert.Throws<CliException>(() => ConsoleCommand.AccountLine("bert", "ops", false, "short")).Message);
        Assert.Equal("--role must be agronomist or ops", Assert.Throws<CliException>(() => ConsoleCommand.AccountLine("bert", "operator", false, "orchard-ops-2026")).Message);
        Assert.Equal("the PIN must be 4 to 8 digits", Assert.Throws<CliException>(() => ConsoleCommand.AccountLine(null, null, true, "12ab")).Message);
        Assert.Equal(Cli.Cli.UsageError, Assert.Throws<CliException>(() => ConsoleCommand.AccountLine(null, null, true, "12")).ExitCode);
    }

    [Fact]
    public void Serving_beyond_this_machine_without_accounts_is_refused()
    {
        var options = new ConsoleOptions { Runs = runs.Runs, BindAddress = "0.0.0.0" };

        var problems = options.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)).Select(r => r.ErrorMessage).ToList();

        Assert.Equal(["Console:BindAddress 0.0.0.0 reaches beyond this machine: set Console:Accounts (an accounts file, docs/operations.md) so only signed-in users see the maps"], problems);
        Assert.Empty(new ConsoleOptions { Runs = runs.Runs, BindAddress = "0.0.0.0", Accounts = "/etc/treescout/console/accounts" }.Validate(new System.ComponentModel.DataAnnotations.ValidationContext(options)));
    }

    private static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));
}
