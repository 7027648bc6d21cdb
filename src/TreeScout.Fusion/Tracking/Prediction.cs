namespace TreeScout.Fusion.Tracking;

/// <summary>Where a track's cluster should appear in the frame, and how its depth uncertainty stretches that along a segment.</summary>
internal readonly record struct Prediction(double U, double V, double Depth, double AlongU, double AlongV, double SegmentLength, double ExpectedSize, bool Settled);
