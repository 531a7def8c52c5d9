r"""Rate fitting: least-squares lines with Student-t confidence intervals.

The one place where figures and experiments fit lines (no ``np.polyfit`` elsewhere):

* :func:`loglog_slope`: :math:`\log y = a + \beta\log x` (power laws: risks vs n, loss
  gaps vs steps);
* :func:`semilog_slope`: :math:`y = a + b\log x` (logarithmic growth: :math:`\|W_k\|`
  vs :math:`\log k`);
* :func:`linear_fit`: :math:`y = a + bx` (e.g. against :math:`1/\log k`).

All use ordinary least squares (:func:`scipy.stats.linregress`) on the points whose x
lies in an inclusive ``window``, and two-sided Student-t intervals with ``n_points - 2``
degrees of freedom. The intervals assume independent, homoscedastic residuals; points
of one trajectory are correlated, so read them as a measure of how well a line fits,
not as a coverage guarantee.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from theory._validation import as_real, as_real_array

__all__ = ["SlopeFit", "LinearFit", "loglog_slope", "semilog_slope", "linear_fit"]


@dataclass(frozen=True)
class SlopeFit:
    r"""Result of :func:`loglog_slope`.

    Attributes
    ----------
    slope, intercept : float
        :math:`\log y \approx \text{intercept} + \text{slope}\,\log x` (natural logs).
    stderr : float
        Standard error of the slope (ordinary least squares).
    ci_low, ci_high : float
        Two-sided confidence interval of the slope (Student t, ``n_points - 2`` dof).
    level : float
    n_points : int
    window : tuple of float
        The ``(x_min, x_max)`` actually used.
    """

    slope: float
    intercept: float
    stderr: float
    ci_low: float
    ci_high: float
    level: float
    n_points: int
    window: tuple[float, float]

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class LinearFit:
    r"""Result of :func:`linear_fit` and :func:`semilog_slope`: :math:`y\approx a+b\,t`.

    ``t`` is x itself (:func:`linear_fit`) or :math:`\log x` (:func:`semilog_slope`).

    Attributes
    ----------
    slope, intercept : float
        b and a.
    stderr, intercept_stderr : float
        Their OLS standard errors.
    ci_low, ci_high : float
        Confidence interval of the slope.
    intercept_ci_low, intercept_ci_high : float
        Confidence interval of the intercept.
    level : float
    n_points : int
    window : tuple of float
        The ``(x_min, x_max)`` actually used (in x, not t).
    """

    slope: float
    intercept: float
    stderr: float
    intercept_stderr: float
    ci_low: float
    ci_high: float
    intercept_ci_low: float
    intercept_ci_high: float
    level: float
    n_points: int
    window: tuple[float, float]

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _select(x: Any, y: Any, window: Any, level: Any, *, x_positive: bool, y_positive: bool):
    """Validated (x, y) inside the window, and the level."""
    x = as_real_array(x, "x", ndim=1, finite=False, nonempty=False)
    y = as_real_array(y, "y", ndim=1, finite=False, nonempty=False)
    if x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D arrays of equal length, got shapes {x.shape} and {y.shape}")
    level = as_real(level, "level", low=0.0, high=1.0, low_open=True, high_open=True)
    mask = np.ones(x.shape, dtype=bool)
    if window is not None:
        if isinstance(window, (str, bytes)) or np.ndim(window) != 1 or len(window) != 2:
            raise ValueError(f"window must be a pair (x_min, x_max), got {window!r}")
        lo = as_real(window[0], "window[0]", allow_inf=True)
        hi = as_real(window[1], "window[1]", allow_inf=True)
        if not lo <= hi:
            raise ValueError(f"window must have x_min <= x_max, got {window!r}")
        with np.errstate(invalid="ignore"):
            mask &= (x >= lo) & (x <= hi)
    x, y = x[mask], y[mask]
    if not np.all(np.isfinite(x) & np.isfinite(y)):
        raise ValueError("x and y must be finite inside the window")
    if x_positive and np.any(x <= 0):
        raise ValueError(f"x must be positive inside the window (it is fitted on a log scale); min x = {x.min()!r}")
    if y_positive and np.any(y <= 0):
        raise ValueError(f"y must be positive inside the window (a log-log fit); min y = {y.min()!r}")
    if x.size < 3:
        raise ValueError(f"need at least 3 points inside the window {window}, got {x.size}")
    return x, y, level


def _ols(t: np.ndarray, y: np.ndarray, level: float):
    if np.ptp(t) == 0:
        raise ValueError("the abscissae inside the window are all equal; a slope is undefined")
    res = stats.linregress(t, y)
    q = stats.t.ppf(0.5 + level / 2, t.size - 2)
    return res, q


def loglog_slope(x, y, window=None, level: float = 0.95) -> SlopeFit:
    r"""Fit :math:`\log y = a + \beta \log x` by ordinary least squares on a window of x.

    Parameters
    ----------
    x, y : array_like, shape (k,)
        Positive abscissae (e.g. sample sizes or step counts) and values (e.g. risks);
        positive and finite inside the window (points outside it are ignored).
    window : (float, float), optional
        Inclusive range of x used for the fit; default: all points.
    level : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    SlopeFit
    """
    x, y, level = _select(x, y, window, level, x_positive=True, y_positive=True)
    res, q = _ols(np.log(x), np.log(y), level)
    return SlopeFit(
        slope=float(res.slope),
        intercept=float(res.intercept),
        stderr=float(res.stderr),
        ci_low=float(res.slope - q * res.stderr),
        ci_high=float(res.slope + q * res.stderr),
        level=level,
        n_points=int(x.size),
        window=(float(x.min()), float(x.max())),
    )


def _linear(t: np.ndarray, x: np.ndarray, y: np.ndarray, level: float) -> LinearFit:
    res, q = _ols(t, y, level)
    return LinearFit(
        slope=float(res.slope),
        intercept=float(res.intercept),
        stderr=float(res.stderr),
        intercept_stderr=float(res.intercept_stderr),
        ci_low=float(res.slope - q * res.stderr),
        ci_high=float(res.slope + q * res.stderr),
        intercept_ci_low=float(res.intercept - q * res.intercept_stderr),
        intercept_ci_high=float(res.intercept + q * res.intercept_stderr),
        level=level,
        n_points=int(x.size),
        window=(float(x.min()), float(x.max())),
    )


def semilog_slope(x, y, window=None, level: float = 0.95) -> LinearFit:
    r"""Fit :math:`y = a + b\log x` by ordinary least squares on a window of x.

    For logarithmic growth, e.g. :math:`\|W_k\|\approx\|W^{mm}\|\log k` along GD on
    separable data ([S18], [T24] Thm 2): the slope estimates the coefficient of
    :math:`\log k`.

    Parameters
    ----------
    x : array_like, shape (k,)
        Positive abscissae (e.g. step counts) inside the window.
    y : array_like, shape (k,)
        Values (any sign), finite inside the window.
    window : (float, float), optional
        Inclusive range of x used; default all points.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    LinearFit
    """
    x, y, level = _select(x, y, window, level, x_positive=True, y_positive=False)
    return _linear(np.log(x), x, y, level)


def linear_fit(x, y, window=None, level: float = 0.95) -> LinearFit:
    r"""Fit :math:`y = a + bx` by ordinary least squares on a window of x.

    Parameters
    ----------
    x, y : array_like, shape (k,)
        Finite inside the window.
    window : (float, float), optional
        Inclusive range of x used; default all points.
    level : float
        Confidence level in (0, 1).

    Returns
    -------
    LinearFit
    """
    x, y, level = _select(x, y, window, level, x_positive=False, y_positive=False)
    return _linear(x, x, y, level)
