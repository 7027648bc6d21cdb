using System.Text.RegularExpressions;
using k8s.Models;
using TreeScout.Deploy.Tests.Support;
using TreeScout.Tests.Uplink;
using TreeScout.Messaging;

namespace TreeScout.Deploy.Tests;

/// <summary>
/// The central site's manifests (deploy/central): the central broker boots from the Secret ops render and takes the
/// tractors over AMQPS only; the ingest worker reads the central vhost and writes PostGIS; the console reads PostGIS
/// with a read-only login and never talks to a broker. The policies every deployment meets are in PolicyTests.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class CentralSiteTests
{
    [Fact]
    public async Task The_broker_boots_from_the_rendered_definitions_secret_and_takes_tractors_over_amqps_only()
    {
        var site = await Overlay.RenderAsync(Overlay.Central);
        var config = site.OfType<V1ConfigMap>().Single(c => c.Metadata.Name.StartsWith("treescout-central-broker-", StringComparison.Ordinal));
        var conf = config.Data["rabbitmq.conf"];
        var pod = site.Single<V1StatefulSet>("treescout-central-rabbitmq").Spec.Template.Spec;
        var rabbit = pod.Containers.Single();

        // load_definitions names the file the definitions Secret is mounted as.
        var definitions = pod.Volumes.Single(v => v.Secret?.SecretName == "treescout-central-definitions");
        var mount = rabbit.VolumeMounts.Single(m => m.Name == definitions.Name);
        Assert.True(mount.ReadOnlyProperty);
        Assert.Equal($"{mount.MountPath}/{definitions.Secret.Items.Single(i => i.Key == "definitions.json").Path}", Setting(conf, "load_definitions"));
        Assert.Contains("loopback_users.guest = true", conf, StringComparison.Ordinal);

        // The certificate and key AMQPS needs are in the TLS Secret's mount.
        var tls = rabbit.VolumeMounts.Single(m => m.Name == pod.Volumes.Single(v => v.Secret?.SecretName == "treescout-central-amqps-tls").Name);
        Assert.Equal($"{tls.MountPath}/tls.crt", Setting(conf, "ssl_options.certfile"));
        Assert.Equal($"{tls.MountPath}/tls.key", Setting(conf, "ssl_options.keyfile"));
        Assert.Equal("5671", Setting(conf, "listeners.ssl.default"));
        Assert.Contains(rabbit.Ports, p => p.Name == "amqps" && p.ContainerPort == 5671);

        // Outside the cluster: AMQPS and nothing else. Plain AMQP and management stay inside.
        var exposed = site.OfType<V1Service>().Where(s => s.Spec.Type is "LoadBalancer" or "NodePort").ToList();
        var amqps = Assert.Single(exposed);
        Assert.Equal("treescout-central-amqps", amqps.Metadata.Name);
        var port = Assert.Single(amqps.Spec.Ports);
        Assert.Equal((5671, "amqps"), (port.Port, (string)port.TargetPort));
        Assert.Contains(site.Single<V1Service>("treescout-central-rabbitmq").Spec.Ports, p => p.Port == 5672);
    }

    [Fact]
    public async Task Ingest_reads_the_central_vhost_as_its_own_user_and_writes_the_season_store()
    {
        var site = await Overlay.RenderAsync(Overlay.Central);
        var ingest = site.Single<V1Deployment>("treescout-central-ingest");
        var worker = ingest.Spec.Template.Spec.Containers.Single();
        Assert.Equal(["central-ingest"], worker.Args);
        var env = worker.Env.ToDictionary(e => e.Name);
        Assert.Equal($"amqp://treescout-central-ingest:$(BROKER_PASSWORD)@treescout-central-rabbitmq:5672/{CentralTopology.VirtualHost}", env["TREESCOUT__Central__Broker"].Value);
        Assert.Equal("false", env["TREESCOUT__Central__DeclareTopology"].Value);
        Assert.Equal("treescout-central-credentials", env["BROKER_PASSWORD"].ValueFrom.SecretKeyRef.Name);

        var store = ConnectionString(env["TREESCOUT__Central__Database"].Value);
        AssertReachesPostgis(site, store);
        Assert.Equal(PostgisEnv(site)["POSTGRES_USER"].Value, store["Username"]);
        Assert.Equal(PostgisEnv(site)["POSTGRES_PASSWORD"].ValueFrom.SecretKeyRef.Key, env[PasswordVariable(store)].ValueFrom.SecretKeyRef.Key);
        Assert.True(ingest.Spec.Template.Spec.TerminationGracePeriodSeconds >= 30, "the batch in flight needs the host's 25 s shutdown timeout and its ack");

        // Scraped where the worker serves /metrics: its health port (CentralMetricsTests reads the values there).
        var scrape = ingest.Spec.Template.Metadata.Annotations;
        Assert.Equal(("true", "/metrics"), (scrape["prometheus.io/scrape"], scrape["prometheus.io/path"]));
        Assert.Equal(env["TREESCOUT__Health__Port"].Value, scrape["prometheus.io/port"]);
        Assert.Equal(int.Parse(scrape["prometheus.io/port"], System.Globalization.CultureInfo.InvariantCulture), worker.Ports.Single(p => p.Name == "http").ContainerPort);
    }

    [Fact]
    public async Task The_console_runs_in_central_mode_reading_postgis_with_the_read_only_login_and_no_broker()
    {
        var site = await Overlay.RenderAsync(Overlay.Central);
        var console = site.Single<V1Deployment>("treescout-central-console").Spec.Template.Spec;
        var container = console.Containers.Single();
        Assert.Equal(["console"], container.Args);
        var env = container.Env.ToDictionary(e => e.Name);
        Assert.Equal("central", env["TREESCOUT__Console__Mode"].Value);
        Assert.DoesNotContain(env.Keys, k => k.StartsWith("TREESCOUT__Broker__", StringComparison.Ordinal) || k == "BROKER_PASSWORD");
        Assert.DoesNotContain(console.Volumes, v => v.PersistentVolumeClaim is not null);

        var store = ConnectionString(env["TREESCOUT__Central__ConnectionString"].Value);
        AssertReachesPostgis(site, store);
        // The login PostGIS's init script creates read-only, with the password PostGIS gives it.
        var init = site.OfType<V1ConfigMap>().Single(c => c.Metadata.Name.StartsWith("treescout-postgis-init-", StringComparison.Ordinal)).Data["20-console-reader.sh"];
        Assert.Contains($"CREATE ROLE {store["Username"]} LOGIN PASSWORD :'console_password';", init, StringComparison.Ordinal);
        Assert.Contains($"ALTER ROLE {store["Username"]} SET default_transaction_read_only = on;", init, StringComparison.Ordinal);
        Assert.Equal(PostgisEnv(site)["CONSOLE_PASSWORD"].ValueFrom.SecretKeyRef.Key, env[PasswordVariable(store)].ValueFrom.SecretKeyRef.Key);
    }

    [Fact]
    public async Task PostGIS_keeps_its_data_on_a_claim_and_runs_the_console_login_script_beside_the_images_own()
    {
        var site = await Overlay.RenderAsync(Overlay.Central);
        var postgis = site.Single<V1StatefulSet>("treescout-postgis");
        var container = postgis.Spec.Template.Spec.Containers.Single();
        var data = postgis.Spec.VolumeClaimTemplates.Single();
        var dataMount = container.VolumeMounts.Single(m => m.Name == data.Metadata.Name);
        Assert.StartsWith(dataMount.MountPath + "/", PostgisEnv(site)["PGDATA"].Value, StringComparison.Ordinal);
        Assert.Matches(@"^ghcr\.io/treescout/mirror/postgis:\d+\.\d+\.\d+-pg\d+\.\d+$", container.Image);

        // Mounted as one file: a folder mount would hide the image's 10_postgis.sh, and the database would lack PostGIS.
        var init = container.VolumeMounts.Single(m => m.MountPath.StartsWith("/docker-entrypoint-initdb.d", StringComparison.Ordinal));
        Assert.Equal($"/docker-entrypoint-initdb.d/{init.SubPath}", init.MountPath);
        var volume = postgis.Spec.Template.Spec.Volumes.Single(v => v.Name == init.Name);
        Assert.Equal(Convert.ToInt32("555", 8), volume.ConfigMap.DefaultMode);
        Assert.Contains(site.OfType<V1ConfigMap>(), c => c.Metadata.Name.StartsWith(volume.ConfigMap.Name, StringComparison.Ordinal) && c.Data.ContainsKey(init.SubPath));
    }

    [Fact]
    public async Task Sync_waves_bring_up_config_then_the_broker_and_postgis_then_ingest_and_console()
    {
        var site = await Overlay.RenderAsync(Overlay.Central);
        static int Wave(IMetadata<V1ObjectMeta> o) => int.Parse(o.Metadata.Annotations?["argocd.argoproj.io/sync-wave"] ?? "0", System.Globalization.CultureInfo.InvariantCulture);
        var stores = site.OfType<V1StatefulSet>().Select(Wave).ToList();
        Assert.Equal(2, stores.Count);
        Assert.True(Wave(site.Single<V1Namespace>("treescout-central")) < stores.Min());
        Assert.All(site.OfType<V1ConfigMap>(), c => Assert.True(Wave(c) < stores.Min(), $"ConfigMap {c.Metadata.Name} is not before the broker and PostGIS"));
        Assert.All(site.OfType<V1Deployment>(), d => Assert.True(Wave(d) > stores.Max(), $"{d.Metadata.Name} does not wait for the broker and PostGIS"));
    }

    [Fact]
    public async Task The_site_runs_the_release_the_tractors_run()
    {
        var site = await Overlay.RenderAsync(Overlay.Central);
        var tractor = await Overlay.RenderAsync(Overlay.Tractor);
        var release = tractor.Single<V1Deployment>("treescout-capture").Spec.Template.Spec.Containers.Single().Image;
        Assert.All(site.OfType<V1Deployment>(), d => Assert.Equal(release, d.Spec.Template.Spec.Containers.Single().Image));
        Assert.Equal(
            tractor.Single<V1StatefulSet>("treescout-rabbitmq").Spec.Template.Spec.Containers.Single().Image,
            site.Single<V1StatefulSet>("treescout-central-rabbitmq").Spec.Template.Spec.Containers.Single().Image);
    }

    private static void AssertReachesPostgis(Overlay site, Dictionary<string, string> store)
    {
        var service = site.Single<V1Service>(store["Host"]);
        Assert.Contains(service.Spec.Ports, p => p.Port.ToString(System.Globalization.CultureInfo.InvariantCulture) == store["Port"]);
        Assert.Equal("treescout-postgis", service.Spec.Selector["app.kubernetes.io/name"]);
        Assert.Equal(PostgisEnv(site)["POSTGRES_DB"].Value, store["Database"]);
    }

    private static Dictionary<string, V1EnvVar> PostgisEnv(Overlay site) =>
        site.Single<V1StatefulSet>("treescout-postgis").Spec.Template.Spec.Containers.Single().Env.ToDictionary(e => e.Name);

    private static Dictionary<string, string> ConnectionString(string value) =>
        value.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);

    private static string PasswordVariable(Dictionary<string, string> store) => Variable().Match(store["Password"]).Groups[1].Value;

    private static string Setting(string conf, string key) =>
        Regex.Match(conf, $@"(?m)^{Regex.Escape(key)}\s*=\s*(\S+)\s*$") is { Success: true } m ? m.Groups[1].Value : throw new KeyNotFoundException($"rabbitmq.conf has no {key}");

    [GeneratedRegex(@"^\$\(([A-Z_]+)\)$")]
    private static partial Regex Variable();
}
