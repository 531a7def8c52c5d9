"""Small linear-algebra pieces of the active-set polish and the rescaling."""

from __future__ import annotations

import math

import numpy as np
import scipy.linalg

from theory._validation import as_index_array, as_real, as_real_array

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
        A finite size >= 0 (e.g. the largest row norm); 0 (all-zero rows, whose
        infeasibility a Farkas certificate reports later) gives 1.0, no rescaling.

    Returns
    -------
    float
        :math:`2^k` with :math:`k=\mathrm{round}(\log_2\text{size})` when :math:`|k|>` :data:`SCALE_BAND`, else 1.0.
    """
    size = as_real(size, "size", low=0.0)
    if size == 0.0:
        return 1.0
    k = int(round(math.log2(size)))
    return math.ldexp(1.0, k) if abs(k) > SCALE_BAND else 1.0


def min_norm_multipliers(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Multipliers ``mu`` of the active equality system ``gram @ mu = rhs``.

    Cholesky solve when ``gram`` is positive definite, else the minimum-norm least-squares
    solution (linearly dependent active rows).

    Parameters
    ----------
    gram : ndarray, shape (n, n)
        Gram matrix of the active rows (symmetric positive semidefinite, finite).
    rhs : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (n,)
    """
    gram = as_real_array(gram, "gram", ndim=2, nonempty=False, copy=False)
    n = gram.shape[0]
    if gram.shape != (n, n):
        raise ValueError(f"gram must be a square (n, n) matrix, got shape {gram.shape}")
    rhs = as_real_array(rhs, "rhs", nonempty=False, copy=False)
    if rhs.shape != (n,):
        raise ValueError(f"rhs must have shape (n,) = ({n},) to match gram {gram.shape}, got {rhs.shape}")
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
    # cheap entry checks (this runs in every polish round): types, shapes, index ranges,
    # and finiteness of the block of G actually used
    G = as_real_array(G, "G", ndim=2, finite=False, copy=False)
    N = G.shape[0]
    if G.shape != (N, N):
        raise ValueError(f"G must be a square (N, N) Gram matrix, got shape {G.shape}")
    i = as_index_array(i, "i", high=N)
    a = as_index_array(a, "a")
    b = as_index_array(b, "b")
    if not i.shape == a.shape == b.shape:
        raise ValueError(f"i, a and b must have the same length n, got shapes {i.shape}, {a.shape} and {b.shape}")
    block = G[np.ix_(i, i)]
    if not np.isfinite(block).all():
        raise ValueError("G must be finite (no NaN or inf) on the samples i it is indexed by")
    coef = (
        (a[:, None] == a[None, :]).astype(float)
        - (a[:, None] == b[None, :])
        - (b[:, None] == a[None, :])
        + (b[:, None] == b[None, :])
    )
    return coef * block
