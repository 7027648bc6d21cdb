using System.ComponentModel.DataAnnotations;
using System.Net;

namespace TreeScout.WebConsole;

/// <summary>Where the console's runs come from: the tractor's run folders (with run control), or the central season store (read-only).</summary>
public enum ConsoleMode
{
    Tractor,
    Central,
}

/// <summary>The console's settings (section "Console", env TREESCOUT__Console__Runs etc.; `treescout console` sets them from its options).</summary>
public sealed class ConsoleOptions : IValidatableObject
{
    public const string Section = "Console";

    /// <summary>The season store's connection setting in central mode (section "Central", as deploy/central/console/console.yaml sets it).</summary>
    public const string SeasonStoreSetting = "Central:ConnectionString";

    /// <summary>tractor (default): the run folders under <see cref="Runs"/>; central: every tractor's runs in the season store at <see cref="SeasonStore"/>.</summary>
    public ConsoleMode Mode { get; set; } = ConsoleMode.Tractor;

    /// <summary>The folder of run folders the map writer fills (or one run folder, e.g. `treescout scan --out`'s); only read. Tractor mode only.</summary>
    public string Runs { get; set; } = "";

    /// <summary>Central mode: the season store's Npgsql connection string, read from <see cref="SeasonStoreSetting"/> (a role that may only read).</summary>
    public string? SeasonStore { get; set; }

    public bool Central => Mode == ConsoleMode.Central;

    /// <summary>Where uploaded block plans are kept (the one folder the console writes to); default: a "plans" folder in the user's data folder.</summary>
    public string? Plans { get; set; }

    /// <summary>Variety profiles offered for a run and for the prescription preview (the map writer's, docs/prescription.md).</summary>
    public string Varieties { get; set; } = "Varieties";

    /// <summary>The tractor's camera rig sent with a run's start (as `treescout run start --cameras`).</summary>
    public string Cameras { get; set; } = TreeScout.RunControl.RunController.DefaultCamerasPath;

    /// <summary>Agronomist and ops accounts, one `name:role:hash` a line (`treescout console hash-password`); mounted from a Secret.</summary>
    public string? Accounts { get; set; }

    /// <summary>The operator PIN's hash, one line (`treescout console hash-password --pin`); mounted from a Secret.</summary>
    public string? Pin { get; set; }

    /// <summary>
    /// Reference crops for the review page's stage picker: a folder with one sub-folder per stage (bbch53 … bbch71) of
    /// cluster crops, e.g. the stage classifier's training crops. Optional: without it the picker shows each stage's name
    /// and description only. Never part of the console itself (the crops are data, not code).
    /// </summary>
    public string? StageReferences { get; set; }

    /// <summary>127.0.0.1 by default; the tractor overlay binds the pod's address, reached over the tractor's Wi-Fi.</summary>
    [Required]
    public string BindAddress { get; set; } = "127.0.0.1";

    [Range(1, 65535)]
    public int Port { get; set; } = 8090;

    /// <summary>An optional XYZ tile URL ({z}/{x}/{y}) for a background, e.g. the farm's own orthophoto server; none: a plain background.</summary>
    public string? BackgroundTiles { get; set; }

    /// <summary>Free space on the runs' disk below which the operator is warned.</summary>
    [Range(0, long.MaxValue)]
    public long LowDiskMiB { get; set; } = 4096;

    /// <summary>Password and PIN attempts one device may make per minute (then it waits out the minute).</summary>
    [Range(1, 1000)]
    public int SignInAttemptsPerMinute { get; set; } = 10;

    /// <summary>How long a signed-in session lasts without use.</summary>
    [Range(typeof(TimeSpan), "00:05:00", "7.00:00:00")]
    public TimeSpan SessionExpiry { get; set; } = TimeSpan.FromHours(12);

    /// <summary>A worker whose last heartbeat is older than this is shown as down (a few heartbeat intervals).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:10:00")]
    public TimeSpan HeartbeatWindow { get; set; } = TimeSpan.FromSeconds(6);

    /// <summary>How often the live screen gets the pipeline's status.</summary>
    [Range(typeof(TimeSpan), "00:00:00.200", "00:01:00")]
    public TimeSpan LiveInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The run ledger is read again at least this often, a safety net besides the reads at start and whenever a worker
    /// instance, its run or a final map changes: every read goes through the whole stream and appends a marker the stream
    /// keeps for its retention (120 days), so reads stay rare.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan LedgerInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Reading needs a signed-in user once an accounts file is configured; without one the console is an open viewer on this machine.</summary>
    public bool RequiresSignIn => !string.IsNullOrWhiteSpace(Accounts);

    public string PlansFolder => string.IsNullOrWhiteSpace(Plans)
        ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "treescout", "plans")
        : Plans;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (!IPAddress.TryParse(BindAddress, out _))
        {
            yield return new ValidationResult($"Console:BindAddress '{BindAddress}' must be an IP address (127.0.0.1 on a laptop, the pod's 0.0.0.0 on the tractor)", [nameof(BindAddress)]);
        }
        if (IPAddress.TryParse(BindAddress, out var address) && !IPAddress.IsLoopback(address) && !RequiresSignIn)
        {
            yield return new ValidationResult($"Console:BindAddress {BindAddress} reaches beyond this machine: set Console:Accounts (an accounts file, docs/operations.md) so only signed-in users see the maps", [nameof(BindAddress), nameof(Accounts)]);
        }
        if (Central)
        {
            foreach (var problem in ValidateSeasonStore())
            {
                yield return problem;
            }
        }
        else if (string.IsNullOrWhiteSpace(Runs))
        {
            yield return new ValidationResult("Console:Runs (env TREESCOUT__Console__Runs, `treescout console --runs DIR`) is required: the folder of run folders", [nameof(Runs)]);
        }
        else if (!Directory.Exists(Runs))
        {
            yield return new ValidationResult($"Console:Runs {Runs}: no such folder", [nameof(Runs)]);
        }
        if (!string.IsNullOrWhiteSpace(StageReferences) && !Directory.Exists(StageReferences))
        {
            yield return new ValidationResult($"Console:StageReferences {StageReferences}: no such folder (a folder of bbch53 … bbch71 sub-folders of cluster crops)", [nameof(StageReferences)]);
        }
        if (BackgroundTiles is { Length: > 0 } tiles && !(tiles.Contains("{z}", StringComparison.Ordinal) && tiles.Contains("{x}", StringComparison.Ordinal) && tiles.Contains("{y}", StringComparison.Ordinal)))
        {
            yield return new ValidationResult($"Console:BackgroundTiles '{tiles}' must be an XYZ URL with {{z}}, {{x}} and {{y}}", [nameof(BackgroundTiles)]);
        }
    }

    private IEnumerable<ValidationResult> ValidateSeasonStore()
    {
        if (string.IsNullOrWhiteSpace(SeasonStore))
        {
            yield return new ValidationResult($"Console:Mode central needs {SeasonStoreSetting} (env TREESCOUT__Central__ConnectionString): the season store's connection string, e.g. Host=db;Database=treescout;Username=treescout_console;Password=...", [nameof(SeasonStore)]);
            yield break;
        }
        string? problem = null;
        try
        {
            _ = new Npgsql.NpgsqlConnectionStringBuilder(SeasonStore);
        }
        catch (ArgumentException ex)
        {
            problem = ex.Message;
        }
        if (problem is not null)
        {
            // The message never repeats the string: it holds a password.
            yield return new ValidationResult($"{SeasonStoreSetting} is not a connection string (Host=...;Database=...;Username=...;Password=...): {problem}", [nameof(SeasonStore)]);
        }
    }
}
