using System.Text.Json.Nodes;
using TreeScout.Deploy.Tests.Support;

namespace TreeScout.Deploy.Tests;

/// <summary>The Go template subset the fleet ApplicationSet tests evaluate its templates with behaves as Go's does.</summary>
[Trait("Category", "Unit")]
public sealed class GoTemplateTests
{
    private static readonly JsonObject Cluster = new()
    {
        ["name"] = "tractor-t017",
        ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["treescout.io/gpu"] = "nvidia", ["treescout.io/tractor-id"] = "t017" } },
    };

    [Theory]
    [InlineData("treescout-{{ index .metadata.labels \"treescout.io/tractor-id\" }}", "treescout-t017")]
    [InlineData("{{ .name }}", "tractor-t017")]
    [InlineData("{{ if eq (index .metadata.labels \"treescout.io/gpu\") \"nvidia\" }}gpu{{ else }}cpu{{ end }}", "gpu")]
    [InlineData("{{ if eq (index .metadata.labels \"treescout.io/gnss\") \"gpsd\" }}gpsd{{ else }}other{{ end }}", "other")]
    [InlineData("a:\n  - x\n  {{- if eq .name \"tractor-t017\" }}\n  - y\n  {{- end }}\n", "a:\n  - x\n  - y\n")]
    [InlineData("a:\n  - x\n  {{- if eq .name \"tractor-t999\" }}\n  - y\n  {{- end }}\n", "a:\n  - x\n")]
    [InlineData("[ {{- .name -}} ]", "[tractor-t017]")]
    public void Renders_as_go_does(string template, string expected) =>
        Assert.Equal(expected, GoTemplate.Render(template, Cluster));

    [Fact]
    public void A_missing_field_is_an_error_but_a_missing_label_through_index_is_empty()
    {
        // missingkey=error applies to field access; index on a map returns the zero value.
        var error = Assert.Throws<KeyNotFoundException>(() => GoTemplate.Render("{{ .metadata.annotations }}", Cluster));
        Assert.Contains("annotations", error.Message, StringComparison.Ordinal);
        Assert.Equal("x", GoTemplate.Render("x{{ index .metadata.labels \"treescout.io/rollout\" }}", Cluster));
    }

    [Theory]
    [InlineData("{{ .name | upper }}")]
    [InlineData("{{ range .metadata.labels }}x{{ end }}")]
    [InlineData("{{ if eq .name \"x\" }}open")]
    [InlineData("{{ end }}")]
    [InlineData("{{ printf \"%s\" .name }}")]
    [InlineData("{{ .name ")]
    public void Anything_beyond_the_subset_is_refused_rather_than_rendered_wrongly(string template) =>
        Assert.Throws<NotSupportedException>(() => GoTemplate.Render(template, Cluster));
}
