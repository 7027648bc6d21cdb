using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Playwright;
using TreeScout.Tests;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The console served on a real port (Kestrel on 127.0.0.1, as `treescout console` serves it) with an accounts and a
/// PIN file, for a real browser.
/// </summary>
public sealed class ConsoleServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _secrets;

    private ConsoleServer(WebApplication app, string secrets, int port)
    {
        _app = app;
        _secrets = secrets;
        Url = $"http://127.0.0.1:{port}";
    }

    public string Url { get; }

    public static async Task<ConsoleServer> StartAsync(string runs, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var secrets = Directory.CreateTempSubdirectory("treescout-console-browser-").FullName;
        File.WriteAllText(Path.Combine(secrets, "accounts"), $"{ConsoleFactory.Agronomist}:agronomist:{SecretHash.Create(ConsoleFactory.AgronomistPassword, 10_000)}\n");
        File.WriteAllText(Path.Combine(secrets, "pin"), SecretHash.Create(ConsoleFactory.Pin, 10_000) + "\n");
        var port = WorkerProcess.FreePort();
        var all = new Dictionary<string, string?>
        {
            ["Console:Runs"] = runs,
            ["Console:Port"] = port.ToString(CultureInfo.InvariantCulture),
            ["Console:Accounts"] = Path.Combine(secrets, "accounts"),
            ["Console:Pin"] = Path.Combine(secrets, "pin"),
            ["Console:Plans"] = Path.Combine(secrets, "plans"),
            ["Logging:Format"] = "text",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        var app = ConsoleHost.Build(ConsoleHost.CreateBuilder([], all));
        await app.StartAsync();
        return new ConsoleServer(app, secrets, port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Directory.Delete(_secrets, recursive: true);
    }
}

/// <summary>
/// Debian's Chromium (/usr/bin/chromium, installed by .ci/run) driven headless by Playwright, which cannot download a
/// browser here. Every console message of type error and every uncaught page error is collected: the tests assert none.
/// Screenshots go to the test output folder (screenshots/), to be looked at.
/// </summary>
public sealed class BrowserSession : IAsyncDisposable
{
    public const string Chromium = "/usr/bin/chromium";

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private BrowserSession(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public List<string> Errors { get; } = [];

    /// <summary>Responses with a status of 400 or more (status, method, URL), in arrival order.</summary>
    public List<string> FailedResponses { get; } = [];

    public static string Screenshots { get; } = Directory.CreateDirectory(Path.Combine(AppContext.BaseDirectory, "screenshots")).FullName;

    public static async Task<BrowserSession> StartAsync()
    {
        if (!File.Exists(Chromium))
        {
            throw new InvalidOperationException($"{Chromium} is missing: the browser tests need Debian's chromium (`apt-get install chromium`, as .ci/run does)");
        }
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            // Root in CI has no user namespace sandbox; the pages are our own, on loopback.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        });
        return new BrowserSession(playwright, browser);
    }

    /// <summary>A new page (own cookies) of the given size, with its errors collected.</summary>
    public async Task<IPage> PageAsync(int width, int height, bool touch = false)
    {
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            HasTouch = touch,
            AcceptDownloads = true,
        });
        var page = await context.NewPageAsync();
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Errors.Add($"{page.Url}: console error: {message.Text}");
            }
        };
        page.PageError += (_, error) => Errors.Add($"{page.Url}: page error: {error}");
        // A console error for a failed load does not name the resource: the response does.
        page.Response += (_, response) =>
        {
            if (response.Status >= 400)
            {
                FailedResponses.Add($"{response.Status} {response.Request.Method} {response.Url}");
            }
        };
        return page;
    }

    /// <summary>Saves a full-page screenshot as screenshots/NAME.png and returns its path.</summary>
    public static async Task<string> ScreenshotAsync(IPage page, string name)
    {
        var path = Path.Combine(Screenshots, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        return path;
    }

    /// <summary>How far the page is wider than the viewport (0: no horizontal scrolling).</summary>
    public static Task<int> OverflowAsync(IPage page) =>
        page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");

    /// <summary>Signs in as the operator with the PIN; the cab screen is shown.</summary>
    public static async Task SignInOperatorAsync(IPage page, string baseUrl)
    {
        await page.GotoAsync(baseUrl + "/login");
        await page.FillAsync("#pin", ConsoleFactory.Pin);
        await page.ClickAsync("form[action='/login/pin'] button[type=submit]");
        await page.WaitForURLAsync(baseUrl + "/");
    }

    public static async Task SignInAsync(IPage page, string baseUrl, string next)
    {
        await page.GotoAsync(baseUrl + next);
        await page.FillAsync("#name", ConsoleFactory.Agronomist);
        await page.FillAsync("#password", ConsoleFactory.AgronomistPassword);
        await page.ClickAsync("form[action='/login/account'] button[type=submit]");
        await page.WaitForURLAsync(baseUrl + next);
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
