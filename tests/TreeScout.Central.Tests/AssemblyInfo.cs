// The brokers and PostgreSQL these tests run against are Debian's; the uplink's definitions import sets Unix file modes.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
