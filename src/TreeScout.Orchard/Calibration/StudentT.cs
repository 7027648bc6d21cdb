namespace TreeScout.Orchard.Calibration;

/// <summary>
/// Student's t distribution with ν degrees of freedom (any real ν &gt; 0): the cumulative distribution through the
/// regularized incomplete beta function, and its quantile by bisection on the upper tail, which keeps full relative
/// precision at the quantiles prediction intervals use (0.95, 0.975).
/// </summary>
public static class StudentT
{
    /// <summary>P(T ≤ t).</summary>
    public static double Cdf(double t, double degreesOfFreedom)
    {
        CheckDegreesOfFreedom(degreesOfFreedom);
        if (double.IsNaN(t))
        {
            throw new ArgumentOutOfRangeException(nameof(t), "t is not a number");
        }
        var tail = UpperTail(Math.Abs(t), degreesOfFreedom);
        return t >= 0 ? 1 - tail : tail;
    }

    /// <summary>The t with P(T ≤ t) = <paramref name="p"/>, 0 &lt; p &lt; 1.</summary>
    public static double Quantile(double p, double degreesOfFreedom)
    {
        CheckDegreesOfFreedom(degreesOfFreedom);
        if (!(p is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "probability must be strictly between 0 and 1");
        }
        if (p == 0.5)
        {
            return 0;
        }
        if (p < 0.5)
        {
            return -Quantile(1 - p, degreesOfFreedom);
        }
        var target = 1 - p;
        double lo = 0, hi = 1;
        while (UpperTail(hi, degreesOfFreedom) > target)
        {
            (lo, hi) = (hi, hi * 2);
        }
        // The tail falls monotonically in t: halve the bracket until it is one or two doubles wide.
        for (var i = 0; i < 2000 && hi - lo > 2 * double.Epsilon && hi - lo > 1e-15 * hi; i++)
        {
            var mid = 0.5 * (lo + hi);
            if (UpperTail(mid, degreesOfFreedom) > target)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }
        return 0.5 * (lo + hi);
    }

    /// <summary>P(T &gt; t) for t ≥ 0: ½·I_{ν/(ν+t²)}(ν/2, ½).</summary>
    private static double UpperTail(double t, double nu) =>
        double.IsPositiveInfinity(t) ? 0 : 0.5 * RegularizedIncompleteBeta(nu / (nu + (t * t)), nu / 2, 0.5);

    private static void CheckDegreesOfFreedom(double nu)
    {
        if (!(nu > 0) || double.IsInfinity(nu))
        {
            throw new ArgumentOutOfRangeException(nameof(nu), nu, "degrees of freedom must be a positive number");
        }
    }

    /// <summary>I_x(a, b) by its continued fraction (modified Lentz), on the side of x where the fraction converges fast.</summary>
    public static double RegularizedIncompleteBeta(double x, double a, double b)
    {
        if (x <= 0)
        {
            return 0;
        }
        if (x >= 1)
        {
            return 1;
        }
        var logFront = LogGamma(a + b) - LogGamma(a) - LogGamma(b) + (a * Math.Log(x)) + (b * Math.Log(1 - x));
        return x < (a + 1) / (a + b + 2)
            ? Math.Exp(logFront) * BetaContinuedFraction(x, a, b) / a
            : 1 - (Math.Exp(logFront) * BetaContinuedFraction(1 - x, b, a) / b);
    }

    private static double BetaContinuedFraction(double x, double a, double b)
    {
        const double tiny = 1e-300;
        var c = 1.0;
        var d = 1 - ((a + b) * x / (a + 1));
        d = 1 / (Math.Abs(d) < tiny ? tiny : d);
        var result = d;
        for (var m = 1; m <= 10_000; m++)
        {
            var m2 = 2 * m;
            // Even step, then odd step of the fraction.
            var even = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
            d = 1 + (even * d);
            d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + (even / c);
            c = Math.Abs(c) < tiny ? tiny : c;
            result *= d * c;
            var odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
            d = 1 + (odd * d);
            d = 1 / (Math.Abs(d) < tiny ? tiny : d);
            c = 1 + (odd / c);
            c = Math.Abs(c) < tiny ? tiny : c;
            var step = d * c;
            result *= step;
            if (Math.Abs(step - 1) < 1e-15)
            {
                return result;
            }
        }
        throw new ArithmeticException($"incomplete beta I_{x}({a}, {b}): continued fraction did not converge");
    }

    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9: about 15 significant digits).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5)
        {
            // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
            return Math.Log(Math.PI / Math.Sin(Math.PI * x)) - LogGamma(1 - x);
        }
        x -= 1;
        var sum = Lanczos[0];
        for (var i = 1; i < Lanczos.Length; i++)
        {
            sum += Lanczos[i] / (x + i);
        }
        var t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }
}
