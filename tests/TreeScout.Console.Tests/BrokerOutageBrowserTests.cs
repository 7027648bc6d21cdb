using Microsoft.Playwright;
using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The cab screen through a broker outage, in Debian's Chromium, on a RabbitMQ node of this test's own (never the shared
/// one): the red banner appears while the node is down and goes away once it is back, on the same page, without a reload.
/// </summary>
[Trait("Category", "Disruptive")]
public sealed class BrokerOutageBrowserTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _runs = Directory.CreateTempSubdirectory("treescout-console-outage-").FullName;

    [Fact]
    public async Task The_cab_screen_shows_a_banner_while_the_broker_is_down_and_clears_it_when_the_broker_is_back_without_a_reload()
    {
        await using var node = await OwnBrokerNode.StartAsync("console-outage");
        await using var console = await ConsoleServer.StartAsync(_runs, new Dictionary<string, string?>
        {
            ["Broker:Uri"] = node.Uri.ToString(),
            ["Console:LiveInterval"] = "00:00:00.500",
        });
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(1280, 800);
        await BrowserSession.SignInOperatorAsync(page, console.Url);
        var banner = page.Locator("#broker-banner");
        await Assertions.Expect(banner).ToBeHiddenAsync(new() { Timeout = 60_000 });
        // A marker on this document: a reload would lose it.
        await page.EvaluateAsync("() => { window.sameDocument = 'yes'; }");

        await node.StopAsync();
        await Assertions.Expect(banner).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(banner).ToContainTextAsync("Broker unreachable: ");
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "cab-broker-down-1280x800"));

        await node.StartAgainAsync();
        await Assertions.Expect(banner).ToBeHiddenAsync(new() { Timeout = 90_000 });
        Assert.Equal("yes", await page.EvaluateAsync<string>("() => window.sameDocument"));
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "cab-broker-back-1280x800"));
        Assert.Empty(browser.Errors);
    }

    public void Dispose() => Directory.Delete(_runs, recursive: true);
}
