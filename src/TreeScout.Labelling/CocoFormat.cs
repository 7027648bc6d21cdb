using System.Text.Json.Serialization;

namespace TreeScout.Labelling;

/// <summary>
/// A dataset in the COCO object-detection format (cocodataset.org/#format-data): <c>annotations.json</c> next to an
/// <c>images/</c> folder that every <see cref="CocoImage.FileName"/> is relative to. TreeScout's own fields (camera, run,
/// block, models, BBCH stage) are extra members, which COCO readers ignore (docs/labelling.md).
/// </summary>
public sealed record CocoDataset(
    CocoInfo Info,
    IReadOnlyList<CocoLicense> Licenses,
    IReadOnlyList<CocoImage> Images,
    IReadOnlyList<CocoAnnotation> Annotations,
    IReadOnlyList<CocoCategory> Categories);

/// <summary><see cref="DateCreated"/> is the newest label save in the dataset, so a re-export of the same labels is the same file.</summary>
public sealed record CocoInfo(string Description, string Version, int Year, string Contributor, string Url, string DateCreated, string Exporter);

public sealed record CocoLicense(int Id, string Name, string Url);

public sealed record CocoCategory(int Id, string Name, string Supercategory);

/// <summary>A model as named in a sample (<see cref="TreeScout.Contracts.ModelIdentity"/>).</summary>
public sealed record CocoModel(string Name, string Version, string Sha256);

public sealed record CocoImage
{
    public required long Id { get; init; }

    /// <summary>Relative to the dataset's <c>images/</c> folder: <c>{run id}/{sample id}.jpg</c>.</summary>
    public required string FileName { get; init; }

    public required int Width { get; init; }

    public required int Height { get; init; }

    /// <summary>ISO 8601, UTC.</summary>
    public required string DateCaptured { get; init; }

    public int License { get; init; } = 1;

    public required string SampleId { get; init; }

    public required string RunId { get; init; }

    public required string CameraId { get; init; }

    public required long Sequence { get; init; }

    public string? BlockId { get; init; }

    /// <summary>The detector that proposed the boxes the reviewer started from.</summary>
    public required CocoModel Detector { get; init; }

    public required CocoModel StageClassifier { get; init; }

    public required string SampleReason { get; init; }

    public required double Uncertainty { get; init; }

    public required string Reviewer { get; init; }

    public required int LabelRevision { get; init; }

    public IReadOnlyList<string> TreeIds { get; init; } = [];
}

public sealed record CocoAnnotation
{
    public required long Id { get; init; }

    public required long ImageId { get; init; }

    public required int CategoryId { get; init; }

    /// <summary>[x, y, width, height] in pixels of the image, x and y its top-left corner.</summary>
    public required IReadOnlyList<double> Bbox { get; init; }

    public required double Area { get; init; }

    public int Iscrowd { get; init; }

    public required CocoBoxAttributes Attributes { get; init; }
}

/// <summary>
/// Per box: the BBCH stage the reviewer gave (null: not judged), how the box came to be, and the proposal's detector
/// score when it started from one.
/// </summary>
public sealed record CocoBoxAttributes(string? BbchStage, string Origin, double? ProposalScore);

/// <summary>COCO's spelling: snake_case members; nulls written (a reader sees "not judged" as null, not a missing key).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(CocoDataset))]
public sealed partial class CocoJsonContext : JsonSerializerContext;
