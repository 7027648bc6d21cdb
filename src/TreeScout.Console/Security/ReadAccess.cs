using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace TreeScout.WebConsole.Security;

/// <summary>
/// Who may look at the console. With an accounts file configured: only someone signed in (an account, or the operator
/// with the PIN). Without one (`treescout console` on a laptop, bound to 127.0.0.1 — binding further needs accounts):
/// anyone on this machine. Writing always needs the PIN (<see cref="ConsoleRunControl"/>).
/// </summary>
public sealed class ReadAccess : IAuthorizationRequirement
{
    public const string Policy = "read";

    public sealed class Handler(IOptions<ConsoleOptions> options) : AuthorizationHandler<ReadAccess>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ReadAccess requirement)
        {
            if (context.User.Identity?.IsAuthenticated == true || !options.Value.RequiresSignIn)
            {
                context.Succeed(requirement);
            }
            return Task.CompletedTask;
        }
    }
}
