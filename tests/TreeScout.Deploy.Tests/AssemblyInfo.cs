// The deployment targets Linux nodes; these tests drive Linux tools (kubectl, rabbitmqctl, sh, readelf, dpkg).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
