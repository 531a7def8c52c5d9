import numpy as np
import pytest
from scipy import stats

from theory.fitting import linear_fit, loglog_slope, semilog_slope


def test_exact_power_law_and_window():
    x = np.geomspace(1, 1e6, 13)
    y = 3.0 * x**-0.5
    y[x < 10] = 1.0  # a pre-asymptotic regime the window must exclude
    fit = loglog_slope(x, y, window=(10, np.inf))
    assert fit.slope == pytest.approx(-0.5, abs=1e-12)
    assert fit.intercept == pytest.approx(np.log(3.0), abs=1e-12)
    assert fit.window[0] >= 10 and fit.n_points == 11


def test_ci_matches_textbook_formula():
    rng = np.random.default_rng(3)
    x = np.geomspace(1e2, 1e6, 9)
    y = x**-1.0 * np.exp(0.05 * rng.standard_normal(9))
    fit = loglog_slope(x, y)
    lx, ly = np.log(x), np.log(y)
    b, a = np.polyfit(lx, ly, 1)
    resid = ly - (a + b * lx)
    se = np.sqrt(resid @ resid / (9 - 2) / ((lx - lx.mean()) @ (lx - lx.mean())))
    t = stats.t.ppf(0.975, 7)
    assert fit.slope == pytest.approx(b, rel=1e-12)
    assert fit.ci_low == pytest.approx(b - t * se, rel=1e-10)
    assert fit.ci_high == pytest.approx(b + t * se, rel=1e-10)


def test_semilog_slope_exact_and_against_polyfit():
    k = np.geomspace(1, 1e6, 25)
    norm = 0.7 + 2.5 * np.log(k)
    norm[k < 100] = 0.0  # transient outside the window
    fit = semilog_slope(k, norm, window=(100, np.inf))
    assert fit.slope == pytest.approx(2.5, rel=1e-12) and fit.intercept == pytest.approx(0.7, rel=1e-10)
    assert fit.window[0] >= 100 and fit.n_points == 17
    rng = np.random.default_rng(5)
    noisy = 0.7 + 2.5 * np.log(k) + 0.1 * rng.standard_normal(k.size)
    fit = semilog_slope(k, noisy)
    b, a = np.polyfit(np.log(k), noisy, 1)  # independent method: numpy's least squares
    assert fit.slope == pytest.approx(b, rel=1e-12) and fit.intercept == pytest.approx(a, rel=1e-10)
    assert fit.ci_low < 2.5 < fit.ci_high  # a 95% interval; this seed is not tuned (the check is two-sided)


def test_linear_fit_intercept_interval_matches_textbook_formula():
    rng = np.random.default_rng(4)
    x = np.linspace(0.1, 1.0, 12)
    y = 1.5 - 0.8 * x + 0.02 * rng.standard_normal(12)
    fit = linear_fit(x, y, level=0.9)
    b, a = np.polyfit(x, y, 1)
    resid = y - (a + b * x)
    s2 = resid @ resid / (12 - 2)
    sxx = (x - x.mean()) @ (x - x.mean())
    se_a = np.sqrt(s2 * (1 / 12 + x.mean() ** 2 / sxx))
    t = stats.t.ppf(0.95, 10)
    assert fit.intercept_ci_low == pytest.approx(a - t * se_a, rel=1e-10)
    assert fit.intercept_ci_high == pytest.approx(a + t * se_a, rel=1e-10)
    assert fit.ci_high - fit.ci_low == pytest.approx(2 * t * np.sqrt(s2 / sxx), rel=1e-10)
    assert set(fit.as_dict()) >= {"slope", "intercept", "ci_low", "ci_high", "intercept_ci_low", "n_points"}


@pytest.mark.parametrize(
    "fn, x, y, kw, exc, match",
    [
        (loglog_slope, [1, 2, 3], [1, 0, 1], {}, ValueError, "y must be positive"),
        (loglog_slope, [1, 2], [1, 2], {}, ValueError, "at least 3"),
        (loglog_slope, [1, 2, 3], [1, 2], {}, ValueError, "equal length"),
        (loglog_slope, [1, 2, 3], [1, 2, 3], {"level": 1.5}, ValueError, r"level must be a finite number in \(0, 1\)"),
        (loglog_slope, [1, 2, 3], [1, 2, 3], {"level": np.nan}, ValueError, "level must be"),
        (loglog_slope, [1, 2, 3], [1, np.nan, 3], {}, ValueError, "finite inside the window"),
        (loglog_slope, [1, 2, 3], [1, 2, 3j], {}, TypeError, "y must be real"),
        (loglog_slope, [1, 2, 3], [1, 2, 3], {"window": (5, 1)}, ValueError, "x_min <= x_max"),
        (loglog_slope, [1, 2, 3], [1, 2, 3], {"window": 5}, ValueError, "window must be a pair"),
        (semilog_slope, [0, 1, 2, 3], [1, 2, 3, 4], {}, ValueError, "x must be positive"),
        (linear_fit, [2, 2, 2], [1, 2, 3], {}, ValueError, "all equal"),
        (linear_fit, "abc", [1, 2, 3], {}, TypeError, "x must be a real numeric array"),
    ],
)
def test_bad_input(fn, x, y, kw, exc, match):
    with pytest.raises(exc, match=match):
        fn(x, y, **kw)
