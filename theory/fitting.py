"""Rate fitting: least-squares slopes of log y on log x with confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SlopeFit", "loglog_slope"]


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


def loglog_slope(x, y, window=None, level: float = 0.95) -> SlopeFit:
    r"""Fit :math:`\log y = a + \beta \log x` by ordinary least squares on a window of x.

    Parameters
    ----------
    x, y : array_like, shape (k,)
        Positive abscissae (e.g. sample sizes or step counts) and values (e.g. risks).
    window : (float, float), optional
        Inclusive range of x used for the fit; default: all points.
    level : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    SlopeFit
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"x and y must be 1-D arrays of equal length, got shapes {x.shape} and {y.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    mask = np.ones(x.shape, dtype=bool)
    if window is not None:
        lo, hi = window
        mask &= (x >= lo) & (x <= hi)
    x, y = x[mask], y[mask]
    if np.any(x <= 0) or np.any(y <= 0) or not np.all(np.isfinite(x) & np.isfinite(y)):
        raise ValueError("x and y must be finite and positive inside the window (a log-log fit)")
    if x.size < 3:
        raise ValueError(f"need at least 3 points inside the window {window}, got {x.size}")
    res = stats.linregress(np.log(x), np.log(y))
    t = stats.t.ppf(0.5 + level / 2, x.size - 2)
    return SlopeFit(
        slope=float(res.slope),
        intercept=float(res.intercept),
        stderr=float(res.stderr),
        ci_low=float(res.slope - t * res.stderr),
        ci_high=float(res.slope + t * res.stderr),
        level=level,
        n_points=int(x.size),
        window=(float(x.min()), float(x.max())),
    )
