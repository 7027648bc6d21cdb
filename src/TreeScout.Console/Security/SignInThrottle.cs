using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace TreeScout.WebConsole.Security;

/// <summary>Too many sign-in or PIN attempts from one address; the API answers 429 with this message.</summary>
public sealed class TooManyAttemptsException(string message) : Exception(message);

/// <summary>
/// Every password and PIN check, from any page, the API or HTTP Basic, takes a permit from its client address's fixed
/// window (Console:SignInAttemptsPerMinute): guessing a 4-digit PIN then takes days, and a typo costs nothing.
/// </summary>
public sealed class SignInThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _limiter;

    public SignInThrottle(IOptions<ConsoleOptions> options)
    {
        var perMinute = options.Value.SignInAttemptsPerMinute;
        _limiter = PartitionedRateLimiter.Create<string, string>(address => RateLimitPartition.GetFixedWindowLimiter(address, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = perMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));
    }

    /// <summary>Takes one attempt for <paramref name="context"/>'s client address, or refuses.</summary>
    public void Attempt(HttpContext context)
    {
        using var lease = _limiter.AttemptAcquire(context.Connection.RemoteIpAddress?.ToString() ?? "unknown");
        if (!lease.IsAcquired)
        {
            throw new TooManyAttemptsException("too many sign-in or PIN attempts from this device; wait a minute and try again");
        }
    }

    public void Dispose() => _limiter.Dispose();
}
