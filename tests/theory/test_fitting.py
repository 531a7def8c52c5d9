import numpy as np
import pytest
from scipy import stats

from theory.fitting import loglog_slope


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


@pytest.mark.parametrize(
    "x, y, kw, match",
    [
        ([1, 2, 3], [1, 0, 1], {}, "positive"),
        ([1, 2], [1, 2], {}, "at least 3"),
        ([1, 2, 3], [1, 2], {}, "equal length"),
        ([1, 2, 3], [1, 2, 3], {"level": 1.5}, "level"),
    ],
)
def test_bad_input(x, y, kw, match):
    with pytest.raises(ValueError, match=match):
        loglog_slope(x, y, **kw)
