using TreeScout.Tests;
using Xunit.Abstractions;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// deploy/central/postgis/20-console-reader.sh run as the PostGIS image runs it (after initdb, the database and the
/// postgis extension) on a throwaway PostgreSQL from Debian's packages: the console's login can read what the ingest
/// worker's login creates, and can neither write it nor create anything.
/// </summary>
[Trait("Category", "Integration")]
public sealed class PostgisInitScriptTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const string Bin = "/usr/lib/postgresql/15/bin";
    private const string Owner = "treescout";
    private const string Database = "treescout";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("treescout-postgis-");
    private bool _started;

    private string Socket => _dir.FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_started)
        {
            await AsPostgresAsync($"{Bin}/pg_ctl", ["-D", Data, "-m", "immediate", "-w", "stop"]);
        }
        _dir.Delete(recursive: true);
    }

    private string Data => Path.Combine(_dir.FullName, "data");

    [Fact]
    public async Task The_console_login_reads_the_owners_tables_and_can_neither_write_nor_create()
    {
        if (!DebianTool.IsInstalled($"{Bin}/initdb", "postgresql-15 postgresql-15-postgis-3", output))
        {
            return;
        }
        // What the image's entrypoint does before its init scripts: initdb with POSTGRES_USER, the database, PostGIS.
        if (Environment.UserName == "root")
        {
            await Tool.OutputAsync("chown", ["postgres:postgres", _dir.FullName]);
        }
        Check(await AsPostgresAsync($"{Bin}/initdb", ["-D", Data, "-U", Owner, "--auth=trust", "-E", "UTF8"]));
        Check(await AsPostgresAsync($"{Bin}/pg_ctl", ["-D", Data, "-l", Path.Combine(_dir.FullName, "server.log"), "-o", $"-k {Socket} -c listen_addresses=", "-w", "start"]));
        _started = true;
        Check(await AsPostgresAsync($"{Bin}/createdb", ["-h", Socket, "-U", Owner, Database]));
        await Psql(Owner, "CREATE EXTENSION postgis;");

        var script = Path.Combine(_dir.FullName, "20-console-reader.sh");
        File.Copy(Path.Combine(RepoPaths.Root, "deploy/central/postgis/20-console-reader.sh"), script);
        var missing = await AsPostgresAsync("sh", [script], ("POSTGRES_USER", Owner), ("POSTGRES_DB", Database), ("PGHOST", Socket));
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("CONSOLE_PASSWORD is not set", missing.Stderr, StringComparison.Ordinal);
        Check(await AsPostgresAsync("sh", [script], ("POSTGRES_USER", Owner), ("POSTGRES_DB", Database), ("PGHOST", Socket), ("CONSOLE_PASSWORD", "K7s9Xq2LmN4pR8tV1wY3zA5b")));

        // The ingest worker's login creates and fills a table after initialisation, as it will at its first start.
        await Psql(Owner, "CREATE TABLE tree_counts (tree_id text PRIMARY KEY, blossoms int, position geometry(Point, 4326)); INSERT INTO tree_counts VALUES ('B7-r3-t12', 41, ST_SetSRID(ST_MakePoint(5.71, 51.96), 4326));");

        Assert.Equal("B7-r3-t12|41|5.71", (await Psql("treescout_console", "SELECT tree_id, blossoms, ST_X(position) FROM tree_counts;")).Trim());
        Assert.Equal("on", (await Psql("treescout_console", "SHOW default_transaction_read_only;")).Trim());
        // Even in a transaction it declares read-write, the login has no right to write or to create.
        var write = await PsqlResult("treescout_console", "BEGIN READ WRITE; UPDATE tree_counts SET blossoms = 0; COMMIT;");
        Assert.Contains("permission denied for table tree_counts", write.Stderr, StringComparison.Ordinal);
        var create = await PsqlResult("treescout_console", "BEGIN READ WRITE; CREATE TABLE notes (t text); COMMIT;");
        Assert.Contains("permission denied for schema public", create.Stderr, StringComparison.Ordinal);
        Assert.Equal("41", (await Psql(Owner, "SELECT blossoms FROM tree_counts;")).Trim());
    }

    private async Task<string> Psql(string user, string sql)
    {
        var result = await PsqlResult(user, sql);
        Check(result);
        return result.Stdout;
    }

    private Task<ToolResult> PsqlResult(string user, string sql) =>
        AsPostgresAsync($"{Bin}/psql", ["-h", Socket, "-U", user, "-d", Database, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-c", sql]);

    private static void Check(ToolResult result) =>
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Stderr}{result.Stdout}");

    /// <summary>initdb and postgres refuse to run as root: as root, run as the packages' postgres user.</summary>
    private static Task<ToolResult> AsPostgresAsync(string tool, IEnumerable<string> args, params (string Name, string Value)[] environment)
    {
        var env = environment.Select(e => $"{e.Name}={e.Value}").ToList();
        var command = Environment.UserName == "root"
            ? ("runuser", (IEnumerable<string>)["-u", "postgres", "--", "env", .. env, tool, .. args])
            : ("env", (IEnumerable<string>)[.. env, tool, .. args]);
        return Tool.RunAsync(command.Item1, command.Item2, TimeSpan.FromMinutes(1), workingDirectory: "/tmp");
    }
}
