using Microsoft.Playwright;
using TreeScout.Contracts;
using TreeScout.Labelling;
using TreeScout.Tests;
using TreeScout.WebConsole.Security;
using Xunit.Abstractions;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The review page in Debian's Chromium on frames of the sample's recording with the real detector's proposals
/// (<see cref="ReviewRuns"/>): an agronomist accepts, rejects, redraws and adds boxes with the mouse, sets stages, saves,
/// skips, and finds a draft after a reload; the labels on disk are checked. Two agronomists saving one frame see the
/// conflict. Screenshots in the test output's screenshots/.
/// </summary>
[Collection(SampleRunsCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ReviewBrowserTests(SampleRuns sampleRuns, ITestOutputHelper output)
{
    private readonly ReviewRuns _review = ReviewRuns.Of(sampleRuns);

    [Fact]
    public async Task The_agronomist_accepts_rejects_redraws_and_draws_boxes_sets_stages_saves_skips_and_keeps_a_draft_over_a_reload()
    {
        var runs = _review.NewRunsFolder();
        await using var console = await ConsoleServer.StartAsync(runs, new Dictionary<string, string?> { ["Console:StageReferences"] = RepoPaths.SharedData("bbch") });
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(1280, 800);
        var sample = _review.Samples.MaxBy(s => s.Proposals.Count)!;
        var (accept, reject, redraw) = ThreeTappable(sample);
        var empty = EmptySpot(sample, 60, 40);

        await BrowserSession.SignInAsync(page, console.Url, $"/runs/{_review.RunId}/review");
        await page.WaitForSelectorAsync("body[data-review-frame]");
        await Assertions.Expect(page.Locator("#queue .queue-item")).ToHaveCountAsync(6);
        await Assertions.Expect(page.Locator("#stage-picker .stage-crops img")).ToHaveCountAsync(30);
        await OpenAsync(page, sample.Id);
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "review-1280x800"));

        await ClickFrameAsync(page, sample, Center(sample.Proposals[accept]));
        await page.Keyboard.PressAsync("a");
        await page.ClickAsync("#stage-picker button[data-stage=Bbch61]");
        await ClickFrameAsync(page, sample, Center(sample.Proposals[reject]));
        await page.Keyboard.PressAsync("r");
        // Redraw: select, then drag the lower right corner 24 frame pixels right and 12 down.
        var moved = sample.Proposals[redraw];
        await ClickFrameAsync(page, sample, Center(moved));
        await DragFrameAsync(page, sample, (moved.X + moved.W, moved.Y + moved.H), (moved.X + moved.W + 24, moved.Y + moved.H + 12));
        // A new box dragged on an empty part of the frame, its stage by key (7: BBCH 65).
        await DragFrameAsync(page, sample, empty, (empty.X + 60, empty.Y + 40));
        await page.Keyboard.PressAsync("7");
        await Assertions.Expect(page.Locator("#box-hint")).ToHaveTextAsync("Added box: accepted, stage BBCH 65.");
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "review-edited-1280x800"));
        // Undo and redo the stage of the new box.
        await page.Keyboard.PressAsync("Control+z");
        await Assertions.Expect(page.Locator("#box-hint")).ToHaveTextAsync("Added box: accepted, stage not set.");
        await page.Keyboard.PressAsync("Control+Shift+z");
        await Assertions.Expect(page.Locator("#box-hint")).ToHaveTextAsync("Added box: accepted, stage BBCH 65.");

        // Zoom ×2 doubles the drawn frame (the selected box scrolled into view), ×3 then ×1 again.
        var unzoomed = (await page.Locator("#frame").BoundingBoxAsync())!.Width;
        await page.Keyboard.PressAsync("z");
        Near(2 * unzoomed, (await page.Locator("#frame").BoundingBoxAsync())!.Width, 20); // less a scrollbar
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "review-zoom2-1280x800"));
        await page.Keyboard.PressAsync("z");
        await page.Keyboard.PressAsync("z");
        Near(unzoomed, (await page.Locator("#frame").BoundingBoxAsync())!.Width, 1);

        await page.Keyboard.PressAsync("Enter");
        await page.WaitForSelectorAsync($"body[data-reviewed='1']:not([data-review-frame='{sample.Id}'])");

        var labels = ReviewRuns.Folder(runs, _review.RunId).Labels(sample.Id)!;
        Assert.Equal((ReviewStatus.Labelled, ConsoleFactory.Agronomist, 1), (labels.Status, labels.Reviewer, labels.Revision));
        Assert.Equal(sample.Proposals.Count, labels.Boxes.Count); // one rejected, one added
        Assert.DoesNotContain(labels.Boxes, b => b.ProposalIndex == reject);
        var accepted = labels.Boxes.Single(b => b.ProposalIndex == accept);
        Assert.Equal((BoxOrigin.Accepted, BbchStage.Bbch61), (accepted.Origin, accepted.Stage));
        Near(sample.Proposals[accept].X, accepted.X, 0.1);
        Near(sample.Proposals[accept].W, accepted.W, 0.1);
        var redrawn = labels.Boxes.Single(b => b.ProposalIndex == redraw);
        Assert.Equal((BoxOrigin.Redrawn, moved.Stage), (redrawn.Origin, redrawn.Stage));
        Near(moved.X, redrawn.X, 0.1);
        Near(moved.W + 24, redrawn.W, 3);
        Near(moved.H + 12, redrawn.H, 3);
        var added = labels.Boxes.Single(b => b.Origin == BoxOrigin.Added);
        Assert.Equal((null, BbchStage.Bbch65), (added.ProposalIndex, added.Stage));
        Near(empty.X, added.X, 3);
        Near(empty.Y, added.Y, 3);
        Near(60, added.W, 3);
        Near(40, added.H, 3);
        // Proposals not judged are kept as accepted with their proposed stage.
        Assert.All(labels.Boxes.Where(b => b.ProposalIndex is { } i && i != accept && i != redraw),
            b => Assert.Equal((BoxOrigin.Accepted, sample.Proposals[b.ProposalIndex!.Value].Stage, sample.Proposals[b.ProposalIndex.Value].X), (b.Origin, b.Stage, b.X)));

        // The next frame is skipped.
        var next = await page.GetAttributeAsync("body", "data-review-frame");
        await page.Keyboard.PressAsync("s");
        await page.WaitForSelectorAsync("body[data-reviewed='2']");
        Assert.Equal(ReviewStatus.Skipped, ReviewRuns.Folder(runs, _review.RunId).Labels(next!)!.Status);
        await Assertions.Expect(page.Locator("#progress")).ToHaveTextAsync("4 to review · 1 labelled · 1 skipped");

        // An edit not saved is still there after a reload (on a frame not reviewed yet with a proposal to tap).
        var thirdSample = _review.Samples.First(s => s.Id != sample.Id && s.Id != next && Tappable(s).Count > 0);
        var third = thirdSample.Id;
        await OpenAsync(page, third);
        var tapped = Tappable(thirdSample).First();
        await ClickFrameAsync(page, thirdSample, Center(thirdSample.Proposals[tapped]));
        await page.Keyboard.PressAsync("Delete");
        await page.ReloadAsync();
        await page.WaitForSelectorAsync($"body[data-review-frame='{third}']");
        await Assertions.Expect(page.Locator("#review-message")).ToContainTextAsync("Your unsaved edits of this frame are back");
        await Assertions.Expect(page.Locator($"#queue button[data-sample='{third}'] .queue-status")).ToHaveTextAsync("draft");
        await Assertions.Expect(page.Locator("#frame-boxes rect.box.rejected")).ToHaveCountAsync(1);
        Assert.Null(ReviewRuns.Folder(runs, _review.RunId).Labels(third!));
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, "review-draft-1280x800"));
        Assert.True(await BrowserSession.OverflowAsync(page) <= 0, "the review page is wider than 1280 px");
        Assert.True(browser.Errors.Count == 0, string.Join('\n', browser.Errors));
    }

    [Theory]
    [InlineData(1024, 768)]
    [InlineData(800, 1280)]
    public async Task On_a_tablet_a_tap_selects_a_box_and_the_page_fits_the_screen_with_boxes_on_the_picture(int width, int height)
    {
        var runs = _review.NewRunsFolder();
        await using var console = await ConsoleServer.StartAsync(runs, new Dictionary<string, string?> { ["Console:StageReferences"] = RepoPaths.SharedData("bbch") });
        await using var browser = await BrowserSession.StartAsync();
        var page = await browser.PageAsync(width, height, touch: true);
        var sample = _review.Samples.MaxBy(s => s.Proposals.Count)!;
        var (first, _, _) = ThreeTappable(sample);

        await BrowserSession.SignInAsync(page, console.Url, $"/runs/{_review.RunId}/review");
        await OpenAsync(page, sample.Id);
        var point = await ScreenAsync(page, sample, Center(sample.Proposals[first]));
        await page.Touchscreen.TapAsync(point.X, point.Y);
        await Assertions.Expect(page.Locator("#box-hint")).ToContainTextAsync($"Proposal {first + 1} (score");
        await page.Locator("#reject").TapAsync();
        await Assertions.Expect(page.Locator("#frame-boxes rect.box.rejected")).ToHaveCountAsync(1);

        // Every proposal's rectangle is where the frame has it, at the displayed scale.
        var frame = (await page.Locator("#frame-image").BoundingBoxAsync())!;
        var drawn = await page.EvaluateAsync<double[][]>("() => [...document.querySelectorAll('#frame-boxes rect.box')].map(r => { const b = r.getBoundingClientRect(); return [Number(r.dataset.index), b.x, b.y, b.width]; })");
        Assert.Equal(sample.Proposals.Count, drawn.Length);
        foreach (var d in drawn)
        {
            var p = sample.Proposals[(int)d[0]];
            Near(frame.X + (p.X * frame.Width / sample.Width), d[1], 2);
            Near(frame.Y + (p.Y * frame.Height / sample.Height), d[2], 2);
            Near(p.W * frame.Width / sample.Width, d[3], 2);
        }
        output.WriteLine(await BrowserSession.ScreenshotAsync(page, $"review-{width}x{height}"));
        Assert.True(await BrowserSession.OverflowAsync(page) <= 0, $"{await BrowserSession.OverflowAsync(page)} px wider than the screen");
        Assert.True(browser.Errors.Count == 0, string.Join('\n', browser.Errors));
    }

    [Fact]
    public async Task Two_agronomists_save_one_frame_the_second_sees_both_versions_and_keeps_theirs_with_the_first_in_the_history()
    {
        var runs = _review.NewRunsFolder();
        var accounts = Path.Combine(runs, "..", Path.GetFileName(runs) + "-accounts");
        File.WriteAllText(accounts,
            $"{ConsoleFactory.Agronomist}:agronomist:{SecretHash.Create(ConsoleFactory.AgronomistPassword, 10_000)}\nben:agronomist:{SecretHash.Create("russet-2026-boskoop", 10_000)}\n");
        await using var console = await ConsoleServer.StartAsync(runs, new Dictionary<string, string?> { ["Console:Accounts"] = accounts });
        await using var browser = await BrowserSession.StartAsync();
        var anna = await browser.PageAsync(1280, 800);
        var ben = await browser.PageAsync(1280, 800);
        var sample = _review.Samples.MaxBy(s => s.Proposals.Count)!;
        var (annaRejects, benRejects, _) = ThreeTappable(sample);

        await BrowserSession.SignInAsync(anna, console.Url, $"/runs/{_review.RunId}/review");
        await ben.GotoAsync(console.Url + $"/runs/{_review.RunId}/review");
        await ben.FillAsync("#name", "ben");
        await ben.FillAsync("#password", "russet-2026-boskoop");
        await ben.ClickAsync("form[action='/login/account'] button[type=submit]");
        await ben.WaitForURLAsync(console.Url + $"/runs/{_review.RunId}/review");
        await OpenAsync(anna, sample.Id);
        await OpenAsync(ben, sample.Id);

        await ClickFrameAsync(anna, sample, Center(sample.Proposals[annaRejects]));
        await anna.Keyboard.PressAsync("r");
        await anna.Keyboard.PressAsync("Enter");
        await anna.WaitForSelectorAsync("body[data-reviewed='1']");
        await ClickFrameAsync(ben, sample, Center(sample.Proposals[benRejects]));
        await ben.Keyboard.PressAsync("r");
        await ben.Keyboard.PressAsync("Enter");

        await Assertions.Expect(ben.Locator("#conflict")).ToBeVisibleAsync();
        await Assertions.Expect(ben.Locator("#conflict-text")).ToContainTextAsync("anna saved this frame (revision 1");
        await Assertions.Expect(ben.Locator("#conflict-theirs")).ToHaveTextAsync($"anna's (dotted, magenta): {sample.Proposals.Count - 1} boxes: 1 of {sample.Proposals.Count} proposals rejected, 0 redrawn, 0 added.");
        await Assertions.Expect(ben.Locator("#conflict-differences li")).ToHaveTextAsync(
        [
            $"proposal {annaRejects + 1}: yours {Described(sample.Proposals[annaRejects])} · theirs rejected",
            $"proposal {benRejects + 1}: yours rejected · theirs {Described(sample.Proposals[benRejects])}",
        ]);
        await Assertions.Expect(ben.Locator("#frame-boxes rect.box.theirs")).ToHaveCountAsync(sample.Proposals.Count - 1);
        Assert.Equal("anna", ReviewRuns.Folder(runs, _review.RunId).Labels(sample.Id)!.Reviewer);
        output.WriteLine(await BrowserSession.ScreenshotAsync(ben, "review-conflict-1280x800"));

        await ben.ClickAsync("#keep-mine");
        await ben.WaitForSelectorAsync("body[data-review-state='saved']");
        var folder = ReviewRuns.Folder(runs, _review.RunId);
        var stored = folder.Labels(sample.Id)!;
        Assert.Equal(("ben", 2, 1), (stored.Reviewer, stored.Revision, stored.OverwroteRevision));
        Assert.DoesNotContain(stored.Boxes, b => b.ProposalIndex == benRejects);
        Assert.Contains(stored.Boxes, b => b.ProposalIndex == annaRejects);
        Assert.Equal(["anna", "ben"], folder.History(sample.Id).Select(h => h.Reviewer));
        // The browser logs the refused save's 409 as a failed resource: that one, and nothing else.
        Assert.Equal([$"{console.Url}/runs/{_review.RunId}/review#{sample.Id}: console error: Failed to load resource: the server responded with a status of 409 (Conflict)"], browser.Errors);
    }

    private static async Task OpenAsync(IPage page, string sampleId)
    {
        await page.ClickAsync($"#queue button[data-sample='{sampleId}']");
        await page.WaitForSelectorAsync($"body[data-review-frame='{sampleId}']");
        await page.WaitForFunctionAsync("() => { const i = document.getElementById('frame-image'); return i.complete && i.naturalWidth > 0; }");
        await page.Locator("#frame").ScrollIntoViewIfNeededAsync();
    }

    private static async Task<(float X, float Y)> ScreenAsync(IPage page, ReviewSample sample, (double X, double Y) at)
    {
        var box = (await page.Locator("#frame-boxes").BoundingBoxAsync())!;
        return ((float)(box.X + (at.X * box.Width / sample.Width)), (float)(box.Y + (at.Y * box.Height / sample.Height)));
    }

    private static async Task ClickFrameAsync(IPage page, ReviewSample sample, (double X, double Y) at)
    {
        var p = await ScreenAsync(page, sample, at);
        await page.Mouse.ClickAsync(p.X, p.Y);
    }

    private static async Task DragFrameAsync(IPage page, ReviewSample sample, (double X, double Y) from, (double X, double Y) to)
    {
        var a = await ScreenAsync(page, sample, from);
        var b = await ScreenAsync(page, sample, to);
        await page.Mouse.MoveAsync(a.X, a.Y);
        await page.Mouse.DownAsync();
        await page.Mouse.MoveAsync(b.X, b.Y, new MouseMoveOptions { Steps = 8 });
        await page.Mouse.UpAsync();
    }

    private static (double X, double Y) Center(ProposedBox b) => (b.X + (b.W / 2), b.Y + (b.H / 2));

    private static (int, int, int) ThreeTappable(ReviewSample sample)
    {
        var free = Tappable(sample);
        Assert.True(free.Count >= 3, $"{sample.Id}: only {free.Count} of {sample.Proposals.Count} proposals stand alone");
        return (free[0], free[1], free[2]);
    }

    /// <summary>
    /// Proposals a click at the centre selects (no other box near its centre or its lower right corner handle), in frame
    /// order.
    /// </summary>
    private static List<int> Tappable(ReviewSample sample)
    {
        var p = sample.Proposals;
        bool Covers(ProposedBox b, (double X, double Y) at, double margin = 12) =>
            at.X >= b.X - margin && at.X <= b.X + b.W + margin && at.Y >= b.Y - margin && at.Y <= b.Y + b.H + margin;
        return Enumerable.Range(0, p.Count)
            .Where(i => p[i].W >= 20 && p[i].H >= 20 && p[i].X + p[i].W + 40 < sample.Width && p[i].Y + p[i].H + 30 < sample.Height)
            .Where(i => !Enumerable.Range(0, p.Count).Any(j => j != i && (Covers(p[j], Center(p[i])) || Covers(p[j], (p[i].X + p[i].W, p[i].Y + p[i].H)))))
            .ToList();
    }

    /// <summary>A spot where a box of the given size covers no proposal (a cluster the detector "missed").</summary>
    private static (double X, double Y) EmptySpot(ReviewSample sample, double w, double h)
    {
        for (var y = 20.0; y + h < sample.Height - 20; y += 10)
        {
            for (var x = 20.0; x + w < sample.Width - 20; x += 10)
            {
                if (!sample.Proposals.Any(b => x < b.X + b.W + 15 && x + w + 15 > b.X && y < b.Y + b.H + 15 && y + h + 15 > b.Y))
                {
                    return (x, y);
                }
            }
        }
        throw new InvalidOperationException($"{sample.Id}: no empty spot of {w}x{h}");
    }

    /// <summary>A box as the conflict's list says it (whole pixels, rounded as JavaScript rounds).</summary>
    private static string Described(ProposedBox b)
    {
        static double R(float v) => Math.Round(v, MidpointRounding.AwayFromZero);
        return $"BBCH {(int)b.Stage} at {R(b.X)},{R(b.Y)} {R(b.W)}×{R(b.H)}";
    }

    private static void Near(double expected, double actual, double tolerance) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance, $"expected {expected:0.0} ± {tolerance}, got {actual:0.0}");
}
