using TreeScout.Fusion.Geometry;

namespace TreeScout.Fusion.Tracking;

/// <summary>
/// Weighted least-squares point nearest to a set of rays, with an optional plane prior (the row's vertical plane) that
/// holds the depth while the rays are still nearly parallel: minimises Σ wᵢ|(I − dᵢdᵢᵀ)(p − oᵢ)|² + w|nᵀ(p − q)|².
/// </summary>
public sealed class Triangulation
{
    // Symmetric normal matrix (upper triangle) and right-hand side.
    private double _a11, _a12, _a13, _a22, _a23, _a33;
    private double _b1, _b2, _b3;

    public void AddRay(Vec3 origin, Vec3 direction, double weight)
    {
        var (x, y, z) = (direction.X, direction.Y, direction.Z);
        // M = w (I − d dᵀ)
        double m11 = weight * (1 - x * x), m12 = -weight * x * y, m13 = -weight * x * z;
        double m22 = weight * (1 - y * y), m23 = -weight * y * z, m33 = weight * (1 - z * z);
        Add(m11, m12, m13, m22, m23, m33, origin);
    }

    /// <summary>Pulls the point towards the plane through <paramref name="point"/> with unit normal <paramref name="normal"/>.</summary>
    public void AddPlane(Vec3 point, Vec3 normal, double weight)
    {
        var (x, y, z) = (normal.X, normal.Y, normal.Z);
        Add(weight * x * x, weight * x * y, weight * x * z, weight * y * y, weight * y * z, weight * z * z, point);
    }

    /// <summary>A weak pull towards a point in every direction, so the system is never singular.</summary>
    public void AddAnchor(Vec3 point, double weight) => Add(weight, 0, 0, weight, 0, weight, point);

    private void Add(double m11, double m12, double m13, double m22, double m23, double m33, Vec3 p)
    {
        _a11 += m11;
        _a12 += m12;
        _a13 += m13;
        _a22 += m22;
        _a23 += m23;
        _a33 += m33;
        _b1 += m11 * p.X + m12 * p.Y + m13 * p.Z;
        _b2 += m12 * p.X + m22 * p.Y + m23 * p.Z;
        _b3 += m13 * p.X + m23 * p.Y + m33 * p.Z;
    }

    /// <summary>The solution and the 1-sigma of its horizontal position (largest axis of the horizontal error ellipse).</summary>
    public (Vec3 Point, double HorizontalSigmaM)? Solve()
    {
        // Cofactors of the symmetric matrix give its inverse, which is also the covariance of the estimate.
        var c11 = _a22 * _a33 - _a23 * _a23;
        var c12 = _a13 * _a23 - _a12 * _a33;
        var c13 = _a12 * _a23 - _a13 * _a22;
        var c22 = _a11 * _a33 - _a13 * _a13;
        var c23 = _a12 * _a13 - _a11 * _a23;
        var c33 = _a11 * _a22 - _a12 * _a12;
        var det = _a11 * c11 + _a12 * c12 + _a13 * c13;
        if (Math.Abs(det) < 1e-18)
        {
            return null;
        }
        var point = new Vec3(
            (c11 * _b1 + c12 * _b2 + c13 * _b3) / det,
            (c12 * _b1 + c22 * _b2 + c23 * _b3) / det,
            (c13 * _b1 + c23 * _b2 + c33 * _b3) / det);
        // Largest eigenvalue of the horizontal 2×2 block of the covariance.
        double s11 = c11 / det, s12 = c12 / det, s22 = c22 / det;
        var half = (s11 + s22) / 2;
        var lambda = half + Math.Sqrt(Math.Max(0, (s11 - s22) * (s11 - s22) / 4 + s12 * s12));
        return (point, Math.Sqrt(Math.Max(0, lambda)));
    }
}
