using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace TreeScout.WebConsole.Security;

/// <summary>
/// Signing in and out from the sign-in page: an agronomist or ops account with its password, or the operator with the
/// PIN (which shows the cab screen and the maps; starting and stopping asks for the PIN again). Every attempt is
/// throttled per device and every form carries the antiforgery token. A failure goes back to the page with one line.
/// </summary>
public static class SignInEndpoints
{
    public static void Map(WebApplication app)
    {
        app.MapPost("/login/account", async (HttpContext context, ConsoleAccounts accounts, SignInThrottle throttle) =>
        {
            var form = await ConsoleForms.ReadAsync(context);
            return await SignInAsync(context, form, throttle, () =>
                accounts.SignIn(form["name"].ToString(), form["password"].ToString()) is { } account ? account : null, "wrong user name or password");
        }).AllowAnonymous().DisableAntiforgery();

        app.MapPost("/login/pin", async (HttpContext context, ConsoleAccounts accounts, SignInThrottle throttle, ConsoleRunControl control) =>
        {
            control.EnsureTractor();
            var form = await ConsoleForms.ReadAsync(context);
            return await SignInAsync(context, form, throttle, () =>
                accounts.IsPin(form["pin"].ToString()) ? new ConsoleAccount(ConsoleRoles.Operator, ConsoleRoles.Operator) : null,
                accounts.HasPin ? "wrong PIN" : "no operator PIN is set on this console (docs/operations.md)");
        }).AllowAnonymous().DisableAntiforgery();

        app.MapPost("/logout", async (HttpContext context) =>
        {
            await ConsoleForms.ReadAsync(context);
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.Redirect("/login");
        }).DisableAntiforgery();
    }

    private static async Task<IResult> SignInAsync(HttpContext context, IFormCollection form, SignInThrottle throttle, Func<ConsoleAccount?> check, string failure)
    {
        var returnUrl = LocalUrl(form["returnUrl"].ToString());
        ConsoleAccount? account;
        try
        {
            throttle.Attempt(context);
            account = check();
        }
        catch (TooManyAttemptsException ex)
        {
            return Back(ex.Message, returnUrl);
        }
        if (account is null)
        {
            return Back(failure, returnUrl);
        }
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, account.Name), new Claim(ClaimTypes.Role, account.Role)], CookieAuthenticationDefaults.AuthenticationScheme);
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = false });
        return Results.Redirect(returnUrl ?? (account.Role == ConsoleRoles.Operator ? "/" : "/runs"));
    }

    private static IResult Back(string error, string? returnUrl) =>
        Results.Redirect($"/login?error={Uri.EscapeDataString(error)}{(returnUrl is null ? "" : "&returnUrl=" + Uri.EscapeDataString(returnUrl))}");

    /// <summary>Only a path on this console (never another site, nor a protocol-relative //host).</summary>
    public static string? LocalUrl(string? url) =>
        url is { Length: > 0 } && url[0] == '/' && (url.Length == 1 || (url[1] != '/' && url[1] != '\\')) ? url : null;
}

/// <summary>Forms posted to the console: read after the antiforgery check for browsers (HTTP Basic carries no cookie to forge).</summary>
public static class ConsoleForms
{
    public static async Task<IFormCollection> ReadAsync(HttpContext context)
    {
        if (!context.Request.HasFormContentType)
        {
            throw new TreeScout.RunControl.RunControlException("send the request as a form (application/x-www-form-urlencoded or multipart/form-data)", isUsageError: true);
        }
        if (!BasicAuthentication.Carries(context.Request))
        {
            await context.RequestServices.GetRequiredService<Microsoft.AspNetCore.Antiforgery.IAntiforgery>().ValidateRequestAsync(context);
        }
        return await context.Request.ReadFormAsync(context.RequestAborted);
    }
}
