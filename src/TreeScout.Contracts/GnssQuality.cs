namespace TreeScout.Contracts;

/// <summary>What kind of position solution a fix is; drives the uncertainty the fusion assumes when GST is absent.</summary>
public enum GnssQuality
{
    NoFix = 0,
    Autonomous = 1,
    Dgps = 2,
    RtkFloat = 3,
    RtkFixed = 4,
    DeadReckoning = 5,
    Manual = 6,
    Simulation = 7,
    Pps = 8,
}
