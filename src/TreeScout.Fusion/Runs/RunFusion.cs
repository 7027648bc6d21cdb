using TreeScout.Contracts;
using TreeScout.Fusion.Attribution;
using TreeScout.Fusion.Geometry;
using TreeScout.Fusion.Tracking;
using TreeScout.Messaging;
using TreeScout.Orchard;

namespace TreeScout.Fusion.Runs;

/// <summary>Per-run progress, reported in <see cref="RunFused"/> and the worker counters.</summary>
public sealed class RunProgress
{
    public long FramesReceived { get; set; }

    public long FramesFused { get; set; }

    public long FramesWithoutPose { get; set; }

    public long FramesLate { get; set; }

    public long ObservationsPublished { get; set; }

    public long ObservationsLowConfidence { get; set; }

    public long TracksUnconfirmed { get; set; }

    public long Fixes { get; set; }

    /// <summary>Frames with canopy in view (several detections) taken farther than <see cref="FusionOptions.PlanMismatchDistanceM"/> from every planned row.</summary>
    public long FramesOffPlan { get; set; }

    /// <summary>The tractor's distance from the plan's nearest row at the last such frame, metres.</summary>
    public double LastOffPlanDistanceM { get; set; }
}

/// <summary>
/// One run's fusion: frames are put back in sequence order per camera, wait (bounded) until fixes on both sides exist,
/// get a pose at their GNSS time (camera clock corrected by the estimated offset), feed the camera's cluster tracker, and
/// finished tracks become observations. Acknowledgements are deferred: a frame is acknowledged once every track it
/// contributed to is published (and every earlier frame of its camera is), a fix once no unacknowledged frame can need
/// it. The run's start and stop are facts in the run ledger (docs/adr/0007), so they are never held. A crash therefore
/// replays exactly what is not yet durable.
/// Not thread-safe: <see cref="FusionEngine"/> serialises calls.
/// </summary>
public sealed class RunFusion
{
    private readonly FusionOptions _options;
    private readonly Dictionary<string, CameraLane> _lanes;
    private readonly Trajectory _trajectory;
    private readonly ClockOffsetEstimator _clock;
    private readonly ObservationBuilder _builder;
    private readonly SortedDictionary<DateTimeOffset, List<IDeferredAcknowledgement>> _fixAcks = [];
    private readonly List<Pending> _ready = [];
    private readonly List<ClusterTrack> _ended = [];

    // Provisional observations (docs/adr/0073): what each open track shows on the map (its parts' ids), and the last
    // revision published of every observation not final yet (a retracted one too: a later revision may take its id up).
    private readonly List<(Guid Root, List<ClusterTrack> Parts)> _provisional = [];
    private readonly Dictionary<Guid, List<Guid>> _shownByTrack = [];
    private readonly Dictionary<Guid, BlossomClusterObservation> _shown = [];
    private RunStopped? _stopped;

    // The run's account in the run ledger (RunFusionProgress): fixes due for acknowledgement at the next checkpoint, fixes
    // this process has not accounted for yet (by time), and what earlier checkpoints accounted for.
    private readonly List<IDeferredAcknowledgement> _fixesDue = [];
    private DateTimeOffset? _fixesDueBefore;
    private readonly SortedDictionary<DateTimeOffset, GnssQuality> _fixQualities = [];
    private GnssQualitySummary _fixesAccounted = new(0, 0, 0, 0, 0, 0);
    private DateTimeOffset? _fixesAccountedBefore;
    private DateTimeOffset _lastCheckpointAt;

    /// <summary>Distinct fix messages received (redeliveries count once), to recognise a replay's last fix.</summary>
    private readonly HashSet<long> _fixSequences = [];
    private DateTimeOffset _lastFrameAt;
    private DateTimeOffset _lastFixAt;
    private DateTimeOffset? _stoppedAt;

    public RunFusion(RunStarted started, FusionOptions options, RowMap rows, UtmProjection? projection, DateTimeOffset now)
    {
        Started = started;
        _options = options;
        Rows = rows;
        _trajectory = new Trajectory(projection, options.Trajectory());
        _clock = new ClockOffsetEstimator(options.NominalReceiverLatency, options.ClockOffsetWindow);
        _builder = new ObservationBuilder(rows, () => _trajectory.Projection!, options.CalibrationSigmaM);
        _lanes = started.Cameras.ToDictionary(c => c.CameraId, c => new CameraLane(new ClusterTracker(new CameraModel(c), rows, options.Tracker), options.Registration), StringComparer.Ordinal);
        _lastFrameAt = now;
        _lastFixAt = now;
    }

    public RunStarted Started { get; }

    public string RunId => Started.RunId;

    public RowMap Rows { get; }

    public RunProgress Progress { get; } = new();

    public bool IsStopped => _stopped is not null;

    /// <summary>Estimated camera-host clock minus GNSS time; null while no fix carried a host receive time.</summary>
    public TimeSpan? ClockOffset => _clock.Estimate;

    public int HeldFrames => _lanes.Values.Sum(l => l.Held);

    /// <summary>"stopped" (by capture or the operator) or "idle" (no frame for <see cref="FusionOptions.RunIdleTimeout"/>); null while running.</summary>
    public string? EndReason { get; private set; }

    public void Stop(RunStopped stopped, DateTimeOffset now)
    {
        _stopped ??= stopped;
        _stoppedAt ??= now;
    }

    /// <summary>Takes a fix; returns false for a duplicate (already known: only its acknowledgement is kept).</summary>
    public bool AddFix(GnssFix fix, IDeferredAcknowledgement ack, DateTimeOffset now)
    {
        _lastFixAt = now;
        _fixSequences.Add(fix.Sequence);
        if (!_fixAcks.TryGetValue(fix.TimeUtc, out var acks))
        {
            _fixAcks[fix.TimeUtc] = acks = [];
        }
        acks.Add(ack);
        if (!_trajectory.Add(fix))
        {
            return false;
        }
        _clock.Add(fix.ReceivedAtUtc, fix.TimeUtc);
        Progress.Fixes++;
        if (_fixesAccountedBefore is not { } before || fix.TimeUtc >= before)
        {
            _fixQualities[fix.TimeUtc] = fix.Quality;
        }
        return true;
    }

    /// <summary>Takes a frame's detections. Throws <see cref="MalformedMessageException"/> for a camera the run does not have.</summary>
    public void AddFrame(FrameDetections frame, IDeferredAcknowledgement ack, DateTimeOffset now)
    {
        if (!_lanes.TryGetValue(frame.CameraId, out var lane))
        {
            throw new MalformedMessageException($"detections of frame {frame.Sequence} come from camera '{frame.CameraId}', which run {RunId} does not have (cameras: {string.Join(", ", _lanes.Keys)})");
        }
        _lastFrameAt = now;
        switch (lane.Add(frame, ack))
        {
            case FrameArrival.New:
                Progress.FramesReceived++;
                NoteModel(frame.Detector);
                NoteModel(frame.StageClassifier);
                break;
            case FrameArrival.Late:
                // Its slot was given up as missing; the clusters it shows were seen in the neighbouring frames.
                // Acknowledged with the next progress checkpoint, which counts it.
                Progress.FramesReceived++;
                Progress.FramesLate++;
                break;
            case FrameArrival.Duplicate:
                break;
        }
    }

    /// <summary>
    /// Moves everything forward that can move: orders frames, places those whose fixes exist, reports ended tracks,
    /// acknowledges what is durable. Returns true when the run is complete and <see cref="RunFused"/> was published.
    /// </summary>
    public async Task<bool> AdvanceAsync(IMessagePublisher publisher, DateTimeOffset now, Action<string, long> count, CancellationToken cancellationToken)
    {
        var newestFrame = _lanes.Values.Select(l => l.NewestCapture).Max();
        // Fixes travel on their own queue and may lag the frames: the run ends once its frames are in and either the
        // fixes cover the newest frame or no fix has come for the quiet timeout.
        var fixesCover = newestFrame is not { } latest || _trajectory.LastTime >= _clock.ToGnssTime(latest) + _options.MaxExtrapolation;
        var gnssQuiet = now - _lastFixAt >= _options.QuietTimeout;
        // A replay says how many fixes it published (then it waits for all of them: a fix queue that is merely slow, on a
        // busy machine, must not end the run and stretch the last frames' poses); live, the receiver's fixes have no last one.
        var fixesAllIn = _stopped?.GnssFixesPublished is { } published && _fixSequences.Count >= published;
        var fixesDone = fixesCover || fixesAllIn || (_stopped?.GnssFixesPublished is null && gnssQuiet);
        var ending = _stopped is { } stopped
            && ((stopped.CountsCoverRun && FramesReceived >= stopped.FramesPublished && fixesDone)
                || (now - _lastFrameAt >= _options.QuietTimeout && now - _stoppedAt >= _options.QuietTimeout && gnssQuiet));
        var idle = _stopped is null && now - _lastFrameAt >= _options.RunIdleTimeout;
        EndReason ??= ending ? "stopped" : idle ? "idle" : null;
        ending |= idle;

        foreach (var (cameraId, lane) in _lanes)
        {
            lane.Order(ending ? 0 : _options.ReorderWindow);
            var split = lane.Tracker.SplitTracks;
            while (lane.NextAwaitingPose() is { } entry)
            {
                if (entry.Frame.Decimated)
                {
                    // Skipped by capture's frame plan (docs/adr/0065), not a frame in which every visible cluster was
                    // missed: it keeps the run's count and order (the lane counts it with the fused frames), and no
                    // track ages by it.
                    lane.MarkProcessed(entry);
                    count("frames_decimated", 1);
                    continue;
                }
                var gnssTime = _clock.ToGnssTime(entry.Frame.CapturedAtUtc);
                // Frames wait for fixes (an outage, or the fix queue behind the frames) until the run ends or the held
                // window is full; only then is a pose stretched (and flagged) to release them.
                var force = ending || HeldFrames > _options.MaxHeldFrames;
                var (status, pose) = _trajectory.PoseAt(gnssTime, force);
                if (status == PoseStatus.Awaiting)
                {
                    break;
                }
                lane.MarkProcessed(entry);
                if (status == PoseStatus.NoFix)
                {
                    entry.WithoutPose = true;
                    Progress.FramesWithoutPose++;
                    count("frames_without_pose", 1);
                    lane.Tracker.Skip(_ended);
                    continue;
                }
                if (pose.IsFlagged)
                {
                    entry.WithoutPose = true;
                    Progress.FramesWithoutPose++;
                    count("frames_without_pose", 1);
                }
                else
                {
                    Progress.FramesFused++;
                    count("frames_fused", 1);
                }
                if (entry.Frame.KeptForReview)
                {
                    await publisher.PublishAsync(ReviewPose(entry.Frame, pose), cancellationToken);
                }
                var far = lane.Tracker.FarDetections;
                var detections = Upright(entry.Frame, lane.Tracker.Camera.Mounting);
                CheckPlanFits(pose, detections.Count, count);
                lane.Tracker.Step(entry.Ticket, pose, detections, _ended);
                count("detections_far_row", lane.Tracker.FarDetections - far);
                lane.Passes.Frame(entry.Frame.Sequence, Rows.FromPlan ? lane.Tracker.FacedRow : null);
            }
            if (ending)
            {
                lane.Tracker.EndAll(_ended);
            }
            else if (lane.Held > _options.MaxHeldFrames / Math.Max(1, _lanes.Count) && lane.OldestUnacknowledged is { } oldest)
            {
                // Bound the acknowledgement window: end the tracks that hold the oldest frames.
                lane.Tracker.EndAll(_ended, oldest + 1);
            }
            count("tracks_split", lane.Tracker.SplitTracks - split);
            // Tracks that left the view are shown before the re-acquisition window and their pass's registration are over.
            lane.Tracker.TakeProvisional(_provisional);
            foreach (var (root, parts) in _provisional)
            {
                Reconcile(root, parts);
                foreach (var part in parts)
                {
                    if (lane.Tracker.IsConfirmed(part) && !IsSeenThroughFacedRow(part, lane.Tracker))
                    {
                        Report(_builder.Build(part, cameraId, ClockSigma(part), provisional: true), null, final: false);
                    }
                    else
                    {
                        Retract(part.Id, null);
                    }
                }
                if (parts.Count > 0)
                {
                    _shownByTrack[root] = [.. parts.Select(p => p.Id)];
                }
            }
            _provisional.Clear();
            foreach (var parts in _ended.GroupBy(t => t.RootId))
            {
                Reconcile(parts.Key, [.. parts]);
            }
            foreach (var track in _ended)
            {
                if (!lane.Tracker.IsConfirmed(track))
                {
                    Progress.TracksUnconfirmed++;
                    count("tracks_unconfirmed", 1);
                    Retract(track.Id, track);
                }
                else if (IsSeenThroughFacedRow(track, lane.Tracker))
                {
                    // Seen through the faced row: that row's own pass counts it.
                    count("clusters_far_row", 1);
                    Retract(track.Id, track);
                }
                else
                {
                    // A track held until its pass is registered is shown now, at the position GNSS gives.
                    var held = lane.Passes.Hold(track);
                    Report(_builder.Build(track, cameraId, ClockSigma(track), provisional: held), track, final: !held);
                }
            }
            _ended.Clear();
            foreach (var (tracks, offset) in lane.Passes.Completed(lane.Tracker.OldestOpenTrackStart, ending, PassPointOf))
            {
                count(offset.GnssSigmaM is null ? "passes_unregistered" : "passes_registered", 1);
                foreach (var track in tracks)
                {
                    Report(_builder.Build(track, cameraId, ClockSigma(track), offset), track, final: true);
                }
            }
        }

        await PublishReadyAsync(publisher, count, cancellationToken);
        foreach (var lane in _lanes.Values)
        {
            lane.Complete();
        }
        ReleaseFixes();
        var finished = ending && _lanes.Values.All(l => l.Held == 0);
        if (finished || now - _lastCheckpointAt >= _options.ProgressInterval)
        {
            await CheckpointAsync(publisher, now, cancellationToken);
        }
        if (!finished)
        {
            return false;
        }
        await publisher.PublishAsync(Fused(), cancellationToken);
        foreach (var acks in _fixAcks.Values)
        {
            acks.ForEach(a => a.Acknowledge());
        }
        _fixAcks.Clear();
        return true;
    }

    /// <summary>Frames received over every fusion process of the run (an earlier process's from its last checkpoint).</summary>
    private long FramesReceived => _lanes.Values.Sum(l => l.Received);

    /// <summary>
    /// Takes up the account of an earlier fusion process of this run (after a crash): its frames and fixes are counted
    /// once, and redeliveries of what it had acknowledged are duplicates.
    /// </summary>
    public void Restore(RunFusionProgress progress)
    {
        foreach (var camera in progress.Cameras)
        {
            if (_lanes.TryGetValue(camera.CameraId, out var lane))
            {
                lane.Restore(camera);
            }
        }
        _fixesAccounted = progress.Fixes;
        _fixesAccountedBefore = progress.FixesBefore;
    }

    /// <summary>
    /// Appends the run's account to the run ledger (confirmed), then acknowledges the frames and fixes it counts: a crash
    /// at any point leaves every frame and fix either counted and acknowledged, or uncounted and redelivered.
    /// </summary>
    private async Task CheckpointAsync(IMessagePublisher publisher, DateTimeOffset now, CancellationToken cancellationToken)
    {
        _lastCheckpointAt = now;
        if (!_lanes.Values.Any(l => l.HasUnacknowledged) && _fixesDue.Count == 0)
        {
            return;
        }
        await publisher.PublishAsync(new RunFusionProgress
        {
            MessageId = Guid.NewGuid(),
            RunId = RunId,
            Cameras = [.. _lanes.Select(l => l.Value.ProgressAfterAcknowledgement(l.Key))],
            FixesBefore = _fixesDueBefore ?? _fixesAccountedBefore,
            Fixes = FixSummary(_fixesDueBefore ?? _fixesAccountedBefore ?? DateTimeOffset.MinValue),
        }, cancellationToken);
        foreach (var lane in _lanes.Values)
        {
            lane.AcknowledgePending();
        }
        if (_fixesDueBefore is { } before)
        {
            var accounted = _fixQualities.Where(q => q.Key < before).ToList();
            _fixesAccounted = Tally(_fixesAccounted, accounted.Select(q => q.Value));
            accounted.ForEach(q => _fixQualities.Remove(q.Key));
            _fixesAccountedBefore = before;
        }
        _fixesDue.ForEach(a => a.Acknowledge());
        _fixesDue.Clear();
        _fixesDueBefore = null;
    }

    /// <summary>Fixes by quality over every process: those accounted for, plus this process's before <paramref name="before"/>.</summary>
    private GnssQualitySummary FixSummary(DateTimeOffset before) =>
        Tally(_fixesAccounted, _fixQualities.Where(q => q.Key < before).Select(q => q.Value)) with
        {
            MalformedNmeaLines = _stopped?.MalformedNmeaLines ?? _fixesAccounted.MalformedNmeaLines + MalformedNmeaLines,
        };

    private static GnssQualitySummary Tally(GnssQualitySummary counts, IEnumerable<GnssQuality> qualities) =>
        qualities.Aggregate(counts, (c, quality) => quality switch
        {
            GnssQuality.RtkFixed => c with { RtkFixed = c.RtkFixed + 1 },
            GnssQuality.RtkFloat => c with { RtkFloat = c.RtkFloat + 1 },
            GnssQuality.Dgps => c with { Dgps = c.Dgps + 1 },
            GnssQuality.Autonomous => c with { Autonomous = c.Autonomous + 1 },
            _ => c with { Other = c.Other + 1 },
        });

    private RunFused Fused()
    {
        var frames = _lanes.Select(l => l.Value.ProgressAfterAcknowledgement(l.Key)).ToList();
        var received = frames.Sum(f => f.FramesFused + f.FramesWithoutPose + f.FramesLate);
        return new RunFused
        {
            MessageId = MessageIds.For(RunId, "run-fused", 0),
            RunId = RunId,
            ObservationsPublished = Progress.ObservationsPublished,
            FramesFused = frames.Sum(f => f.FramesFused),
            FramesWithoutPose = frames.Sum(f => f.FramesWithoutPose),
            FramesMissing = _stopped is { CountsCoverRun: true } covered ? Math.Max(0, covered.FramesPublished - received) : 0,
            EndReason = EndReason ?? "stopped",
            Gnss = FixSummary(DateTimeOffset.MaxValue),
            ClockOffsetMs = _clock.Estimate?.TotalMilliseconds,
            Models = [.. _models],
            PlanMismatch = PlanDoesNotFit ? new PlanMismatch(Progress.FramesOffPlan, Progress.LastOffPlanDistanceM) : null,
        };
    }

    // Distinct, in order of first use: the detector and stage classifier of the run (more if a model changed mid-run).
    private readonly List<ModelIdentity> _models = [];

    private void NoteModel(ModelIdentity model)
    {
        if (!_models.Contains(model))
        {
            _models.Add(model);
        }
    }

    /// <summary>Malformed NMEA lines the live reader counted during this run (a replay's own count comes with its RunStopped).</summary>
    public long MalformedNmeaLines { get; set; }

    /// <summary>Enough frames saw canopy far from every row of the plan to say the plan does not fit the block scanned.</summary>
    public bool PlanDoesNotFit => Progress.FramesOffPlan >= _options.PlanMismatchFrames;

    /// <summary>
    /// An observation, whether to publish it (not when the map already shows it as it is), and the track whose frames it
    /// releases once it and everything queued before it is published; <see cref="Final"/>: the track's last word, counted
    /// in <see cref="RunProgress.ObservationsPublished"/>.
    /// </summary>
    private sealed record Pending(BlossomClusterObservation? Observation, bool Publish, ClusterTrack? Track, bool Final);

    /// <summary>
    /// Queues a track's observation: published as the next revision of its id unless the map already shows exactly this;
    /// a final one forgets the id (its track is over) and releases the track's frames after it is published.
    /// </summary>
    private void Report(BlossomClusterObservation built, ClusterTrack? track, bool final)
    {
        var id = built.ObservationId;
        var last = _shown.GetValueOrDefault(id);
        var publish = last is null || last.Retracted || !SameContent(last, built);
        var observation = publish ? built with { Revision = (last?.Revision ?? 0) + 1 } : last!;
        if (final)
        {
            _shown.Remove(id);
        }
        else
        {
            _shown[id] = observation;
        }
        if (publish || final)
        {
            _ready.Add(new Pending(observation, publish, final ? track : null, final));
        }
    }

    /// <summary>Takes a shown observation off the map (next revision, retracted); a dropped track's frames are released after that.</summary>
    private void Retract(Guid id, ClusterTrack? track)
    {
        if (_shown.GetValueOrDefault(id) is { Retracted: false } last)
        {
            _shown[id] = last with { Revision = last.Revision + 1, Retracted = true };
            _ready.Add(new Pending(_shown[id], true, track, false));
        }
        else if (track is not null)
        {
            _ready.Add(new Pending(null, false, track, false));
        }
    }

    /// <summary>A track now shows <paramref name="parts"/> (none: it was joined to an older one): what it showed before and shows no more is retracted.</summary>
    private void Reconcile(Guid root, List<ClusterTrack> parts)
    {
        if (_shownByTrack.Remove(root, out var before))
        {
            foreach (var id in before.Where(id => !parts.Exists(p => p.Id == id)))
            {
                Retract(id, null);
            }
        }
    }

    /// <summary>Everything but the revision is the same (the stage probabilities element by element).</summary>
    private static bool SameContent(BlossomClusterObservation shown, BlossomClusterObservation built) =>
        shown.StageProbabilities.AsSpan().SequenceEqual(built.StageProbabilities)
        && shown with { StageProbabilities = built.StageProbabilities, Revision = built.Revision } == built;

    private async Task PublishReadyAsync(IMessagePublisher publisher, Action<string, long> count, CancellationToken cancellationToken)
    {
        while (_ready.Count > 0)
        {
            // Up to MaxBatch observations, with the entries between them that only release a track.
            var (take, observations) = (0, new List<BlossomClusterObservation>());
            for (; take < _ready.Count && (observations.Count < _options.MaxBatch || !_ready[take].Publish); take++)
            {
                if (_ready[take] is { Publish: true, Observation: { } observation })
                {
                    observations.Add(observation);
                }
            }
            if (observations.Count > 0)
            {
                await publisher.PublishAsync(new TreeObservations
                {
                    MessageId = BatchId(observations),
                    RunId = RunId,
                    Observations = observations,
                }, cancellationToken);
            }
            foreach (var (observation, publish, track, final) in _ready.Take(take))
            {
                if (final)
                {
                    Progress.ObservationsPublished++;
                    count("observations_published", 1);
                    Progress.ObservationsLowConfidence += observation!.LowConfidence ? 1 : 0;
                }
                if (publish && (!final || observation!.Revision > 1))
                {
                    count(observation!.Retracted ? "observations_retracted" : final ? "observations_corrected" : "observations_provisional", 1);
                }
                if (track is not null)
                {
                    Release(track);
                }
            }
            _ready.RemoveRange(0, take);
        }
    }

    /// <summary>
    /// A batch's id follows from its content (ids and revisions), so a replay that batches differently never collides
    /// with an earlier batch's id.
    /// </summary>
    private static Guid BatchId(List<BlossomClusterObservation> observations) =>
        MessageIds.Derive(observations[0].ObservationId, "batch/" + string.Join(",", observations.Select(o => o.Revision == 1 ? o.ObservationId.ToString("N") : $"{o.ObservationId:N}.{o.Revision}")));

    private TimeSpan ClockSigma(ClusterTrack track) => _clock.SigmaAt(track.Sightings[^1].Frame.CapturedAtUtc);

    /// <summary>
    /// Where a held track lies along its pass's row and how uncertain its poses were; null when it is off that row,
    /// beyond its trees, or poorly triangulated (far boxes seen from a headland turn): those must not mark the row's ends.
    /// </summary>
    private PassPoint? PassPointOf(ClusterTrack track, MappedRow row)
    {
        var placed = row.Project(track.Estimate.X, track.Estimate.Y);
        var spacing = row.TreeSpacingM ?? _options.DefaultTreeSpacingM;
        if (Math.Abs(placed.LateralM) > 1.0 || track.TriangulationSigmaM > _options.Registration.MaxTrackSigmaM
            || placed.AlongM < row.Trees[0].AlongM - spacing || placed.AlongM > row.Trees[^1].AlongM + spacing)
        {
            return null;
        }
        var camera = row.Project(track.Sightings[0].Origin.X, track.Sightings[0].Origin.Y);
        var side = camera.LateralM >= 0 ? 1 : -1;
        return new PassPoint(placed.AlongM, side * placed.LateralM, side, track.Sightings.Average(s => s.Pose.PositionSigmaM));
    }

    /// <summary>Seen through the faced row (by where it lies, its rays or its boxes): that row's own pass counts it.</summary>
    private bool IsSeenThroughFacedRow(ClusterTrack track, ClusterTracker tracker) =>
        IsBeyondFacedRow(track, tracker.Camera) || tracker.IsFarByItsRays(track) || tracker.IsFarByItsBoxes(track);

    /// <summary>True when the cluster lies on another row than the one the camera was driving alongside when it saw it best.</summary>
    private bool IsBeyondFacedRow(ClusterTrack track, CameraModel camera)
    {
        var best = track.Sightings.MaxBy(s => s.Detection.Score)!;
        var (forward, _, _) = camera.Axes(best.Pose);
        return Rows.AlongsideRow(best.Origin, forward) is { } faced
            && Rows.Nearest(track.Estimate) is { } placed
            && placed.Row != faced;
    }

    private static void Release(ClusterTrack track)
    {
        foreach (var s in track.Sightings)
        {
            s.Frame.OpenTracks--;
        }
    }

    /// <summary>Counts a frame that sees canopy far from every row of the plan (the plan does not fit this block).</summary>
    /// <summary>The pose of a frame detection kept for review, for its review sample; the id derived from the frame's, so a replay re-sends the same one.</summary>
    private ReviewFramePose ReviewPose(FrameDetections frame, in Pose pose)
    {
        var (latitude, longitude) = _trajectory.Projection!.ToWgs84(pose.Easting, pose.Northing);
        return new ReviewFramePose
        {
            MessageId = MessageIds.Derive(frame.FrameMessageId, "review-pose"),
            RunId = frame.RunId,
            CameraId = frame.CameraId,
            Sequence = frame.Sequence,
            Latitude = latitude,
            Longitude = longitude,
            HeadingDeg = (pose.HeadingRad * 180 / Math.PI % 360 + 360) % 360,
            PositionSigmaM = pose.PositionSigmaM,
            Quality = pose.Quality,
            Flag = pose.Flag,
        };
    }

    private void CheckPlanFits(in Pose pose, int detections, Action<string, long> count)
    {
        if (Rows is not PlanRowMap plan || detections < InferredRowMap.MinCanopyDetections)
        {
            return;
        }
        var distance = plan.DistanceM(pose.Easting, pose.Northing);
        if (distance > _options.PlanMismatchDistanceM)
        {
            Progress.FramesOffPlan++;
            Progress.LastOffPlanDistanceM = distance;
            count("frames_off_plan", 1);
        }
    }

    /// <summary>
    /// Fixes older than the oldest frame that may still need them (minus the retention for heading windows and stops) are
    /// durable history: they are acknowledged with the next progress checkpoint. Before any frame has come nothing is released: the fix queue can be far ahead of the frames (a
    /// replay, a restart), and fixes released then would be missing for the frames still to come.
    /// </summary>
    private void ReleaseFixes()
    {
        // A camera that has sent nothing yet is not waited for once another has: a dead camera must not hold every fix.
        if (_lanes.Values.Select(l => l.OldestCaptureNeedingFixes).Where(t => t is not null).Min() is not { } oldestCapture)
        {
            return;
        }
        var cutoff = _clock.ToGnssTime(oldestCapture) - _options.FixRetention;
        while (_fixAcks.Count > 0 && _fixAcks.First() is var first && first.Key < cutoff)
        {
            _fixesDue.AddRange(first.Value);
            _fixAcks.Remove(first.Key);
            _fixesDueBefore = first.Key.AddTicks(1);
        }
        _trajectory.PruneBefore(cutoff);
        _clock.PruneBefore(oldestCapture);
    }

    /// <summary>Boxes in the camera's intrinsics' pixel grid (detection may have run on a resized frame).</summary>
    private static IReadOnlyList<BlossomDetection> Upright(FrameDetections frame, CameraMounting camera)
    {
        if (frame.Width == camera.ImageWidth && frame.Height == camera.ImageHeight || frame.Width <= 0 || frame.Height <= 0)
        {
            return frame.Detections;
        }
        var (sx, sy) = ((float)camera.ImageWidth / frame.Width, (float)camera.ImageHeight / frame.Height);
        return frame.Detections.Select(d => d with { X = d.X * sx, Y = d.Y * sy, W = d.W * sx, H = d.H * sy }).ToList();
    }
}
