using System.ComponentModel.DataAnnotations;

namespace TreeScout.MapWriter;

/// <summary>Settings of the thinning-map writer (section "MapWriter").</summary>
public sealed class MapWriterOptions
{
    public const string Section = "MapWriter";

    /// <summary>Folder holding one sub-folder per run ({StoreRoot}/{runId}/store.gpkg); env TREESCOUT__MapWriter__StoreRoot.</summary>
    [Required]
    public string StoreRoot { get; set; } = "/var/lib/treescout/runs";

    /// <summary>A variety profile file, or a folder of them (*.yaml, *.yml, *.json); relative paths are from the app folder.</summary>
    [Required]
    public string Varieties { get; set; } = "Varieties";

    /// <summary>How often, at most, a live (non-final) MapUpdated is published while observations arrive.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:10:00")]
    public TimeSpan LiveUpdateInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Cell size of the ISOXML prescription grid, metres (the sprayer's smallest section switching length is a good choice).</summary>
    [Range(0.25, 20)]
    public double IsoGridCellM { get; set; } = 0.5;

    /// <summary>Width of a tree's canopy zone across the row when neither the plan nor the run gives a row spacing, metres.</summary>
    [Range(0.5, 10)]
    public double DefaultRowSpacingM { get; set; } = 3.5;

    /// <summary>Along-row length of a tree's zone when a row has a single tree and no spacing is known, metres.</summary>
    [Range(0.2, 10)]
    public double DefaultTreeSpacingM { get; set; } = 1.0;

    /// <summary>
    /// Free space on the run stores' filesystem below which the writer warns (status heartbeat, /healthz, log), MiB; 0 = never.
    /// A scan at full bloom adds about 0.6 GB an hour. The default lies above the broker's 2 GB disk alarm, which on the
    /// tractor watches the same node disk and stops every publisher when it trips.
    /// </summary>
    [Range(0, 1_048_576)]
    public long LowDiskWarningMiB { get; set; } = 4096;

    /// <summary>
    /// Disk a run's frames kept for review may take, MiB (review/ in the run folder, docs/labelling.md). At the detection
    /// defaults a 4 frames/s camera keeps 288 every-Nth frames an hour and at most as many uncertain ones, ~110 KiB each
    /// at 1280×720: 30-60 MiB a camera-hour, so the default holds a two-camera run of two to four hours before pruning.
    /// </summary>
    [Range(1, 1_048_576)]
    public long MaxReviewMiB { get; set; } = 256;

    /// <summary>Longest pause between two attempts of a write that waits for disk space (the pause doubles from 0.1 s up to this).</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:05:00")]
    public TimeSpan DiskFullRetryInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a write waits for disk space before it fails. Unset (a worker process): until space returns, however
    /// long. `treescout scan` sets one minute, then stops with exit code 1.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.100", "7.00:00:00")]
    public TimeSpan? DiskFullGiveUpAfter { get; set; }
}
