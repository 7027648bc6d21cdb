using Microsoft.AspNetCore.Mvc.RazorPages;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole.Pages;

public sealed class LoginModel : PageModel
{
    public string? Error { get; private set; }

    public string? ReturnUrl { get; private set; }

    public void OnGet(string? error, string? returnUrl)
    {
        Error = error;
        ReturnUrl = SignInEndpoints.LocalUrl(returnUrl);
    }
}
