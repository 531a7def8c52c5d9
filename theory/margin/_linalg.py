"""Small linear-algebra pieces of the active-set polish and the rescaling."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

__all__ = ["SCALE_BAND", "min_norm_multipliers", "pair_gram", "power_of_two_scale"]

#: Data whose size (largest constraint-row norm) lies within [2**-SCALE_BAND, 2**SCALE_BAND]
#: is solved as given; outside it is first divided by the nearest power of two. Clarabel's
#: tolerances are partly absolute, so far from unit size it stops with
#: ``optimal_inaccurate`` (measured: rows of norm ~1e4..1e8) or declares a feasible
#: problem infeasible (norm <= ~1e-6); within a factor 16 of 1 it is unaffected, and
#: leaving that band untouched keeps previously stored results bit-identical.
SCALE_BAND = 4


def power_of_two_scale(size: float) -> float:
    r"""The power of two :math:`2^k` nearest to ``size`` if ``size`` is outside the band, else 1.

    Dividing data by a power of two is exact in floating point (no rounding, barring
    under/overflow), so a problem solved on rescaled data maps back exactly
    (:math:`w=w_s/f`, :math:`\lambda=\lambda_s/f^2` for rows multiplied by :math:`f=2^{-k}`).

    Parameters
    ----------
    size : float
        A positive finite size (e.g. the largest row norm).

    Returns
    -------
    float
        :math:`2^k` with :math:`k=\mathrm{round}(\log_2\text{size})` when :math:`|k|>` :data:`SCALE_BAND`, else 1.0.
    """
    if not (size > 0 and math.isfinite(size)):
        return 1.0
    k = int(round(math.log2(size)))
    return math.ldexp(1.0, k) if abs(k) > SCALE_BAND else 1.0


def min_norm_multipliers(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Multipliers ``mu`` of the active equality system ``gram @ mu = rhs``.

    Cholesky solve when ``gram`` is positive definite, else the minimum-norm least-squares
    solution (linearly dependent active rows).
    """
    try:
        return scipy.linalg.solve(gram, rhs, assume_a="pos", check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return scipy.linalg.lstsq(gram, rhs, check_finite=False)[0]


def pair_gram(i: np.ndarray, a: np.ndarray, b: np.ndarray, G: np.ndarray) -> np.ndarray:
    r"""Gram matrix of generators :math:`(e_a-e_b)x_i^\top`: :math:`(e_a-e_b)^\top(e_{a'}-e_{b'})\,G_{ii'}`.

    Parameters
    ----------
    i, a, b : ndarray of int, shape (n,)
        Sample index and the two classes/tokens of each generator.
    G : ndarray, shape (N, N)
        Gram matrix :math:`XX^\top` of the samples.

    Returns
    -------
    ndarray, shape (n, n)
    """
    coef = (
        (a[:, None] == a[None, :]).astype(float)
        - (a[:, None] == b[None, :])
        - (b[:, None] == a[None, :])
        + (b[:, None] == b[None, :])
    )
    return coef * G[np.ix_(i, i)]
