namespace TreeScout.Fusion.Tracking;

/// <summary>How clusters are followed from frame to frame.</summary>
public sealed record TrackerOptions
{
    /// <summary>
    /// A track seen in fewer frames is not reported (a box seen once or twice is most likely a false detection). 3, not 2:
    /// with the committed detector it halves the false clusters of the bundled sample (1,122 → 530; per-tree count MAPE
    /// 234 % → 113 %) for 8 points of recall; on the simulator's truth boxes it costs under 1 point (docs/fusion.md).
    /// Frames are counted as <see cref="ClusterTrack.FramesCovered"/>: with capture's frame plan decimating, a sighting in
    /// the kept frame after the track's previous one also counts the decimated frames between them.
    /// </summary>
    public int MinSightings { get; init; } = 3;

    /// <summary>Frames a visible track may go undetected before it ends.</summary>
    public int MaxMisses { get; init; } = 3;

    /// <summary>
    /// Frames a well-triangulated track (see <see cref="SettledSigmaM"/>) may stay undetected while it is predicted in view:
    /// clusters hide behind leaves for a while, and its position predicts where it reappears.
    /// </summary>
    public int MaxOccludedFrames { get; init; } = 15;

    public double SettledSigmaM { get; init; } = 0.1;

    /// <summary>
    /// An ended track is kept this many frames: if a new track turns out to be the same cluster (its rays and the old
    /// track's meet in one point), they are joined, so a cluster that was hidden for a while is still counted once.
    /// </summary>
    public int ReacquireFrames { get; init; } = 40;

    /// <summary>Matching gate around the predicted box centre, pixels (at least; larger boxes get a larger gate).</summary>
    public double GatePx { get; init; } = 8;

    /// <summary>Gate as a share of the box size: a cluster's box moves by less than its size between predictions.</summary>
    public double GateBoxFactor { get; init; } = 1.0;

    /// <summary>Largest matching cost (normalised distance to the prediction, ~3 sigma) a track seen in the previous frame accepts.</summary>
    public const double MatchGate = 3;

    /// <summary>
    /// Largest matching cost (normalised distance to the prediction; <see cref="MatchGate"/> for a track seen in the previous frame) a track
    /// that missed its cluster in the previous frame accepts. Its cluster is usually hidden behind a neighbour a few
    /// centimetres away, whose box then turns up near the prediction: on the simulator's RTK runs, 60 of the 74 such
    /// matches above 2 and 35 of 58 between 1.5 and 2 were another cluster (docs/fusion.md, "Tracking").
    /// </summary>
    public double AfterMissGate { get; init; } = 2;

    /// <summary>1-sigma error of a box centre, pixels: weighs the rays in triangulation.</summary>
    public double PixelSigma { get; init; } = 2;

    /// <summary>How far clusters hang in front of or behind the row line (canopy half depth): the depth prior's sigma.</summary>
    public double CanopyHalfDepthM { get; init; } = 0.35;

    /// <summary>Rows farther along the ray than this are not the row the camera faces.</summary>
    public double MaxRangeM { get; init; } = 8;

    /// <summary>Depth prior when no row is known yet (no plan, first clusters of a pass).</summary>
    public double DefaultRowDistanceM { get; init; } = 2.0;

    /// <summary>Typical blossom cluster diameter: with the box size it tells how far away a cluster is.</summary>
    public double ClusterDiameterM { get; init; } = 0.09;

    /// <summary>
    /// A box whose size puts its cluster more than this beyond the row the camera faces shows a farther row (seen through
    /// the scanned one): that row's face is counted on its own pass, so such boxes are not tracked.
    /// </summary>
    public double FarRowMarginM { get; init; } = 2.0;

    /// <summary>
    /// A finished track whose rays alone (without the row plane's depth prior) meet more than this beyond the faced row's
    /// line is a farther row's cluster and is not reported; the canopy reaches about <see cref="CanopyHalfDepthM"/> beyond it.
    /// </summary>
    public double FarRowRayMarginM { get; init; } = 1.0;

    /// <summary>
    /// A finished track seen over at most <see cref="FarRowTrackMaxTravelM"/> of the camera's travel whose boxes' median
    /// size puts its cluster more than this beyond the faced row is a farther row's cluster glimpsed through a gap, and is
    /// not reported.
    /// </summary>
    public double FarRowTrackMarginM { get; init; } = 0.75;

    /// <summary>
    /// Longest camera travel between a track's first and last box that <see cref="FarRowTrackMarginM"/> applies to, metres
    /// (five frames at 10 fps and 6 km/h): a near cluster, however small, stays in view longer.
    /// </summary>
    public double FarRowTrackMaxTravelM { get; init; } = 0.7;

    /// <summary>Largest image shift of a whole frame against its prediction that is looked for (heading error × focal length).</summary>
    public double MaxCommonShiftPx { get; init; } = 80;

    /// <summary>Offsets closer than this support the same common shift.</summary>
    public double CommonShiftTolerancePx { get; init; } = 3;

    /// <summary>Settled tracks that must agree before a common shift is applied.</summary>
    public int MinCommonShiftTracks { get; init; } = 8;

    /// <summary>
    /// Share, per frame, of the drift between the tracks' match points and their reported points that is taken out of
    /// the common shift the new rays are corrected by. Without it the shift drifted along every pass (to −50..−78 px on the
    /// simulator's RTK runs, where the search limit made every track lose its boxes at once); 0.3 and more also pull
    /// float passes onto their drifting fixes (docs/fusion.md, "common shift's drift").
    /// </summary>
    public double MatchFrameAnchoring { get; init; } = 0.05;

    /// <summary>A track whose boxes sit farther than this (RMS, pixels) from its point is checked for being two clusters.</summary>
    public double SplitMinRmsPx { get; init; } = 4;

    /// <summary>Two clusters explain the boxes when their squared residuals are at most this share of one cluster's.</summary>
    public double SplitMaxResidualShare { get; init; } = 0.25;

    /// <summary>Tracks longer than this are ended (bounds how long a frame's acknowledgement can wait).</summary>
    public int MaxTrackFrames { get; init; } = 150;
}
