using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace TreeScout.WebConsole.Security;

/// <summary>
/// HTTP Basic for users' scripts calling the JSON API with an agronomist or ops account (no cookie, so no cross-site
/// request can ride on it and antiforgery does not apply). A verified header is remembered for a few minutes, so a
/// script's calls do not each pay for the password hash; failed attempts are throttled like the sign-in page.
/// </summary>
public sealed class BasicAuthentication(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    ConsoleAccounts accounts,
    SignInThrottle throttle,
    BasicAuthentication.VerifiedCredentials verified) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "basic";

    /// <summary>How long a verified header is remembered: a rotated password stops working within this.</summary>
    public static readonly TimeSpan Remembered = TimeSpan.FromMinutes(5);

    /// <summary>Headers verified recently (by their SHA-256), per console.</summary>
    public sealed class VerifiedCredentials
    {
        public ConcurrentDictionary<string, (ConsoleAccount Account, DateTimeOffset Until)> Headers { get; } = new(StringComparer.Ordinal);
    }

    public static bool Carries(HttpRequest request) => request.Headers.Authorization.ToString().StartsWith("Basic ", StringComparison.OrdinalIgnoreCase);

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header) || !header.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase) || header.Parameter is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(header.Parameter)));
        var now = TimeProvider.GetUtcNow();
        if (!verified.Headers.TryGetValue(key, out var known) || known.Until < now)
        {
            string[] credentials;
            try
            {
                credentials = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter)).Split(':', 2);
            }
            catch (FormatException)
            {
                return Task.FromResult(AuthenticateResult.Fail("malformed Basic credentials"));
            }
            try
            {
                throttle.Attempt(Context);
            }
            catch (TooManyAttemptsException ex)
            {
                return Task.FromResult(AuthenticateResult.Fail(ex.Message));
            }
            if (credentials.Length != 2 || accounts.SignIn(credentials[0], credentials[1]) is not { } account)
            {
                return Task.FromResult(AuthenticateResult.Fail("wrong user name or password"));
            }
            known = (account, now + Remembered);
            verified.Headers[key] = known;
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, known.Account.Name), new Claim(ClaimTypes.Role, known.Account.Role)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Basic realm=\"TreeScout console\", charset=\"UTF-8\"";
        return Task.CompletedTask;
    }
}
