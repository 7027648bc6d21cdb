using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using TreeScout.Labelling;
using TreeScout.Tests;
using TreeScout.WebConsole.Security;

namespace TreeScout.WebConsole.Tests;

/// <summary>
/// The review API on a run with frames of the sample's recording kept for review (<see cref="ReviewRuns"/>): the queue,
/// a frame and its image, saves with revisions (a conflict is a 409 with the other labels, an overwrite keeps both in the
/// history), validation, who may save, and the stage picker's reference crops.
/// </summary>
[Collection(SampleRunsCollection.Name)]
[Trait("Category", "Unit")]
public sealed class ReviewApiTests(SampleRuns sampleRuns)
{
    private const string Second = "ben";
    private const string SecondPassword = "russet-2026-boskoop";
    private const string OpsAccount = "otto";
    private const string OpsPassword = "pods-2026-restart";

    private readonly ReviewRuns _review = ReviewRuns.Of(sampleRuns);

    [Fact]
    public async Task The_queue_lists_unreviewed_frames_as_dataset_next_does_then_reviewed_ones_with_the_runs_progress()
    {
        var runs = _review.NewRunsFolder();
        await using var console = new ConsoleFactory(runs);
        using var client = console.CreateClient();
        var firstEveryNth = _review.Samples.First(s => s.Reason == SampleReason.EveryNth);
        ReviewRuns.Folder(runs, _review.RunId).SaveLabels(firstEveryNth.Id, ReviewStatus.Skipped, [], "carla", 0, false, DateTimeOffset.UtcNow);

        var queue = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{_review.RunId}/review");

        // The frames `treescout dataset next` lists, in its order, then the reviewed one. The kept frames are 20 frames
        // apart (more than the 10-frame spread), so that order is the most uncertain first, whatever the reason it was kept.
        var expected = Labelling.ReviewQueue.Next(ReviewRuns.Folder(runs, _review.RunId), 100).Select(s => s.Id).Append(firstEveryNth.Id).ToList();
        Assert.Equal(
            _review.Samples.Where(s => s.Id != firstEveryNth.Id).OrderByDescending(s => s.Uncertainty).ThenBy(s => s.Id, StringComparer.Ordinal).Select(s => s.Id).Append(firstEveryNth.Id),
            expected);
        Assert.Equal(expected, queue.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        var progress = queue.GetProperty("progress");
        Assert.Equal(6, progress.GetProperty("samples").GetInt32());
        Assert.Equal(0, progress.GetProperty("labelled").GetInt32());
        Assert.Equal(1, progress.GetProperty("skipped").GetInt32());
        Assert.Equal(5, progress.GetProperty("toReview").GetInt32());
        var skipped = queue.GetProperty("samples").EnumerateArray().Last();
        Assert.Equal("Skipped", skipped.GetProperty("status").GetString());
        Assert.Equal("carla", skipped.GetProperty("reviewer").GetString());
        Assert.Equal(firstEveryNth.Proposals.Count, skipped.GetProperty("proposals").GetInt32());
    }

    [Fact]
    public async Task A_frame_comes_with_its_proposals_and_revision_and_its_image_is_the_kept_jpeg_with_caching_headers()
    {
        var runs = _review.NewRunsFolder();
        await using var console = new ConsoleFactory(runs);
        using var client = console.CreateClient();
        var sample = _review.Samples.MaxBy(s => s.Proposals.Count)!;
        Assert.True(sample.Proposals.Count >= 3, $"the detector proposed {sample.Proposals.Count} boxes on the busiest kept frame");

        var frame = await client.GetFromJsonAsync<JsonElement>($"/api/runs/{_review.RunId}/review/{sample.Id}");
        using var image = await client.GetAsync($"/api/runs/{_review.RunId}/review/{sample.Id}/image");

        Assert.Equal(0, frame.GetProperty("revision").GetInt32());
        Assert.Equal(JsonValueKind.Null, frame.GetProperty("labels").ValueKind);
        Assert.Equal(1280, frame.GetProperty("sample").GetProperty("width").GetInt32());
        var proposals = frame.GetProperty("sample").GetProperty("proposals").EnumerateArray().ToList();
        Assert.Equal(sample.Proposals.Count, proposals.Count);
        Assert.Equal(sample.Proposals[0].X, proposals[0].GetProperty("x").GetSingle());
        Assert.Equal(sample.Proposals[0].Stage.ToString(), proposals[0].GetProperty("stage").GetString());
        Assert.Equal("image/jpeg", image.Content.Headers.ContentType?.MediaType);
        Assert.Equal(await File.ReadAllBytesAsync(ReviewRuns.Folder(runs, _review.RunId).ImagePath(sample.Id)), await image.Content.ReadAsByteArrayAsync());
        var caching = image.Headers.CacheControl!;
        Assert.Equal((true, TimeSpan.FromDays(1), "immutable"), (caching.Private, caching.MaxAge, caching.Extensions.Single().Name));
        using var again = new HttpRequestMessage(HttpMethod.Get, $"/api/runs/{_review.RunId}/review/{sample.Id}/image");
        again.Headers.IfNoneMatch.Add(image.Headers.ETag!);
        Assert.Equal(HttpStatusCode.NotModified, (await client.SendAsync(again)).StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/runs/{_review.RunId}/review/cam-left-00000001")).StatusCode);
        using var bad = await client.GetAsync($"/api/runs/{_review.RunId}/review/..%2Fstore/image");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task Two_agronomists_saving_one_frame_the_second_gets_409_with_the_first_ones_labels_and_an_overwrite_keeps_both_in_the_history()
    {
        await using var two = await TwoSignedInAsync(Second, ConsoleRoles.Agronomist, SecondPassword);
        var (runs, anna, ben) = (two.Runs, two.Anna, two.Other);
        var sample = _review.Samples.MaxBy(s => s.Proposals.Count)!;
        var p = sample.Proposals;
        var annas = new object[]
        {
            new { x = p[0].X, y = p[0].Y, w = p[0].W, h = p[0].H, stage = "Bbch65", origin = "Accepted", proposalIndex = 0 },
            new { x = 100.5, y = 200, w = 40, h = 30, stage = "Bbch61", origin = "Added", proposalIndex = (int?)null },
        };
        var bens = new object[] { new { x = p[1].X + 5, y = p[1].Y, w = p[1].W, h = p[1].H, stage = (string?)null, origin = "Redrawn", proposalIndex = 1 } };

        using var first = await SaveAsync(anna.Client, anna.Token, sample.Id, new { status = "Labelled", boxes = annas, baseRevision = 0 });
        using var second = await SaveAsync(ben.Client, ben.Token, sample.Id, new { status = "Labelled", boxes = bens, baseRevision = 0 });

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var saved = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, saved.GetProperty("labels").GetProperty("revision").GetInt32());
        Assert.Equal(1, saved.GetProperty("progress").GetProperty("labelled").GetInt32());
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        var conflict = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith("anna saved this frame (revision 1, ", conflict.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal("anna", conflict.GetProperty("current").GetProperty("reviewer").GetString());
        Assert.Equal(2, conflict.GetProperty("current").GetProperty("boxes").GetArrayLength());
        var folder = ReviewRuns.Folder(runs, _review.RunId);
        Assert.Equal("anna", folder.Labels(sample.Id)!.Reviewer);

        using var overwrite = await SaveAsync(ben.Client, ben.Token, sample.Id, new { status = "Labelled", boxes = bens, baseRevision = 0, overwrite = true });

        Assert.Equal(HttpStatusCode.OK, overwrite.StatusCode);
        var stored = folder.Labels(sample.Id)!;
        Assert.Equal((Second, 2, 1), (stored.Reviewer, stored.Revision, stored.OverwroteRevision));
        Assert.Equal(new LabelledBox(p[1].X + 5, p[1].Y, p[1].W, p[1].H, null, BoxOrigin.Redrawn, 1), stored.Boxes.Single());
        var history = folder.History(sample.Id);
        Assert.Equal(["anna", Second], history.Select(h => h.Reviewer));
        Assert.Equal(new LabelledBox(100.5f, 200, 40, 30, Contracts.BbchStage.Bbch61, BoxOrigin.Added), history[0].Boxes[1]);
    }

    [Fact]
    public async Task Labels_that_do_not_fit_the_frame_are_refused_with_one_line_and_nothing_is_stored()
    {
        var runs = _review.NewRunsFolder();
        await using var console = new ConsoleFactory(runs, withAccounts: true);
        using var anna = await SignedInAsync(console, ConsoleFactory.Agronomist, ConsoleFactory.AgronomistPassword);
        var sample = _review.Samples[0];

        async Task<string?> Refusal(object body)
        {
            using var response = await SaveAsync(anna.Client, anna.Token, sample.Id, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        }

        Assert.Equal($"labels for {sample.Id}: box 1: (1250,10 60x20) is outside the 1280x720 frame",
            await Refusal(new { status = "Labelled", boxes = new[] { new { x = 1250, y = 10, w = 60, h = 20, stage = "Bbch65", origin = "Added" } }, baseRevision = 0 }));
        Assert.Equal($"labels for {sample.Id}: box 1: unknown BBCH stage 99",
            await Refusal(new { status = "Labelled", boxes = new[] { new { x = 10, y = 10, w = 60, h = 20, stage = 99, origin = "Added" } }, baseRevision = 0 }));
        Assert.Equal($"labels for {sample.Id}: box 1: proposal {sample.Proposals.Count} is not one of the frame's {sample.Proposals.Count}",
            await Refusal(new { status = "Labelled", boxes = new[] { new { x = 10, y = 10, w = 60, h = 20, origin = "Accepted", proposalIndex = sample.Proposals.Count } }, baseRevision = 0 }));
        Assert.Equal("labels: say whether the frame is Labelled or Skipped (status)", await Refusal(new { boxes = Array.Empty<object>(), baseRevision = 0 }));
        Assert.StartsWith("labels: not a labels request (", await Refusal(new { status = "Labelled", boxes = new[] { new { x = 10, y = 10, w = 60, h = 20, stage = "bbch99", origin = "Added" } } }), StringComparison.Ordinal);
        Assert.Null(ReviewRuns.Folder(runs, _review.RunId).Labels(sample.Id));
    }

    [Fact]
    public async Task A_labels_folder_that_cannot_be_written_is_one_line_with_409_not_a_server_error()
    {
        var runs = _review.NewRunsFolder();
        var folder = ReviewRuns.Folder(runs, _review.RunId);
        // A file where the labels folder should be (as a read-only mount would refuse it: root ignores permissions).
        await File.WriteAllTextAsync(folder.LabelsPath, "not a folder");
        await using var console = new ConsoleFactory(runs);
        using var client = console.Browser();
        var sample = _review.Samples[0];

        using var response = await SaveAsync(client, await TokenAsync(client), sample.Id, new { status = "Skipped", baseRevision = 0 });

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.StartsWith($"labels for {sample.Id} cannot be written to {folder.LabelsPath}: ", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Ops_may_look_but_not_save_a_browser_needs_the_token_a_script_with_an_agronomist_account_does_not()
    {
        await using var two = await TwoSignedInAsync(OpsAccount, ConsoleRoles.Ops, OpsPassword);
        var (runs, console, anna, ops) = (two.Runs, two.Console, two.Anna, two.Other);
        var sample = _review.Samples[1];
        var skip = new { status = "Skipped", baseRevision = 0 };

        using var opsLooks = await ops.Client.GetAsync($"/api/runs/{_review.RunId}/review/{sample.Id}");
        using var opsSaves = await SaveAsync(ops.Client, ops.Token, sample.Id, skip);
        using var noToken = await SaveAsync(anna.Client, null, sample.Id, skip);
        using var anonymous = await SaveAsync(console.CreateClient(), null, sample.Id, skip);
        var page = await ops.Client.GetStringAsync($"/runs/{_review.RunId}/review");

        Assert.Equal(HttpStatusCode.OK, opsLooks.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, opsSaves.StatusCode);
        Assert.Equal("only an agronomist account may save labels (this one may look)", (await opsSaves.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Contains("data-may-save=\"false\"", page, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noToken.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Null(ReviewRuns.Folder(runs, _review.RunId).Labels(sample.Id));

        using var script = console.CreateClient();
        script.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{ConsoleFactory.Agronomist}:{ConsoleFactory.AgronomistPassword}")));
        using var scripted = await SaveAsync(script, null, sample.Id, skip);
        Assert.Equal(HttpStatusCode.OK, scripted.StatusCode);
        Assert.Equal((ReviewStatus.Skipped, ConsoleFactory.Agronomist), (ReviewRuns.Folder(runs, _review.RunId).Labels(sample.Id)!.Status, ReviewRuns.Folder(runs, _review.RunId).Labels(sample.Id)!.Reviewer));
    }

    [Fact]
    public async Task The_stage_picker_has_every_stage_with_reference_crops_from_the_configured_folder_and_words_only_without_it()
    {
        var references = RepoPaths.SharedData("bbch");
        await using var withCrops = new ConsoleFactory(_review.NewRunsFolder(), settings: new Dictionary<string, string?> { ["Console:StageReferences"] = references });
        await using var without = new ConsoleFactory(_review.NewRunsFolder());
        using var client = withCrops.CreateClient();

        var stages = (await client.GetFromJsonAsync<JsonElement>("/api/stages")).EnumerateArray().ToList();
        var bare = (await without.CreateClient().GetFromJsonAsync<JsonElement>("/api/stages")).EnumerateArray().ToList();
        using var crop = await client.GetAsync("/api/stages/bbch65/references/0");

        Assert.Equal(["Bbch53", "Bbch54", "Bbch56", "Bbch57", "Bbch59", "Bbch61", "Bbch65", "Bbch67", "Bbch69", "Bbch71"], stages.Select(s => s.GetProperty("stage").GetString()));
        var full = stages[6];
        Assert.Equal(("BBCH 65", "Full bloom"), (full.GetProperty("label").GetString(), full.GetProperty("name").GetString()));
        Assert.All(stages, s => Assert.Equal(StageReferences.PerStage, s.GetProperty("references").GetArrayLength()));
        Assert.Equal("/api/stages/bbch65/references/0", full.GetProperty("references")[0].GetString());
        var firstCrop = Directory.EnumerateFiles(Path.Combine(references, "bbch65")).Order(StringComparer.Ordinal).First();
        Assert.Equal(await File.ReadAllBytesAsync(firstCrop), await crop.Content.ReadAsByteArrayAsync());
        Assert.Equal("image/jpeg", crop.Content.Headers.ContentType?.MediaType);
        Assert.All(bare, s => Assert.Equal(0, s.GetProperty("references").GetArrayLength()));
        Assert.Equal("At least 50 % of flowers open, first petals may be falling", bare[6].GetProperty("description").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/stages/bbch65/references/3")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/stages/bbch99/references/0")).StatusCode);
    }

    [Fact]
    public void A_stage_references_folder_that_is_not_there_is_refused_at_start_with_the_setting_named()
    {
        var settings = new Dictionary<string, string?> { ["Console:Runs"] = sampleRuns.Runs, ["Console:StageReferences"] = "/nonexistent/bbch" };

        var refused = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => ConsoleHost.Build(ConsoleHost.CreateBuilder([], settings)));

        Assert.Contains("Console:StageReferences /nonexistent/bbch: no such folder (a folder of bbch53 … bbch71 sub-folders of cluster crops)", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_run_page_links_to_the_review_with_its_progress()
    {
        await using var console = new ConsoleFactory(_review.NewRunsFolder());
        using var client = console.CreateClient();

        var run = await client.GetStringAsync($"/runs/{_review.RunId}");
        var review = await client.GetStringAsync($"/runs/{_review.RunId}/review");

        Assert.Contains($"<a id=\"review-link\" href=\"/runs/{_review.RunId}/review\">", run, StringComparison.Ordinal);
        Assert.Contains("<p>6 to review · 0 labelled · 0 skipped</p>", run, StringComparison.Ordinal);
        Assert.Contains("<strong>6</strong> to review", review, StringComparison.Ordinal);
        Assert.Contains("data-may-save=\"true\"", review, StringComparison.Ordinal);
    }

    /// <summary>A signed-in browser and the token its review page carries.</summary>
    private sealed record Session(HttpClient Client, string Token) : IDisposable
    {
        public void Dispose() => Client.Dispose();
    }

    private async Task<Session> SignedInAsync(ConsoleFactory console, string name, string password)
    {
        var client = console.Browser();
        using var signIn = await ConsoleFactory.SignInAsync(client, name, password);
        Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        return new Session(client, await TokenAsync(client));
    }

    /// <summary>The antiforgery token the review page carries for its saves (the client keeps the matching cookie).</summary>
    private async Task<string> TokenAsync(HttpClient client)
    {
        var page = await client.GetStringAsync($"/runs/{_review.RunId}/review");
        return System.Text.RegularExpressions.Regex.Match(page, "data-token=\"([^\"]+)\"").Groups[1].Value;
    }

    /// <summary>A console with accounts on a fresh copy of the run: anna and another account, both signed in.</summary>
    private sealed record TwoReviewers(string Runs, ConsoleFactory Console, Session Anna, Session Other) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Anna.Dispose();
            Other.Dispose();
            await Console.DisposeAsync();
        }
    }

    private async Task<TwoReviewers> TwoSignedInAsync(string name, string role, string password)
    {
        var runs = _review.NewRunsFolder();
        var console = new ConsoleFactory(runs, withAccounts: true);
        var anna = await SignedInAsync(console, ConsoleFactory.Agronomist, ConsoleFactory.AgronomistPassword);
        AddAccount(console, name, role, password);
        return new TwoReviewers(runs, console, anna, await SignedInAsync(console, name, password));
    }

    /// <summary>Adds an account to the console's accounts file, as ops do (the console reads it again when it changes).</summary>
    private static void AddAccount(ConsoleFactory console, string name, string role, string password)
    {
        File.AppendAllText(console.AccountsFile, $"{name}:{role}:{SecretHash.Create(password, 10_000)}\n");
        File.SetLastWriteTimeUtc(console.AccountsFile, DateTime.UtcNow.AddSeconds(5));
    }

    private Task<HttpResponseMessage> SaveAsync(HttpClient client, string? token, string sampleId, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, $"/api/runs/{_review.RunId}/review/{sampleId}/labels") { Content = JsonContent.Create(body) };
        if (token is not null)
        {
            request.Headers.Add("X-CSRF-Token", token);
        }
        return client.SendAsync(request);
    }
}
