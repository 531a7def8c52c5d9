"""Tests of the numba building blocks of the linear-softmax engine: exp, residual.

References: numpy's exp (libm) in ulps, 350-digit mpmath for the residual and
the loss gap at logit gaps up to 700.
"""

from __future__ import annotations

import numpy as np
import pytest

from sims.linear_softmax._chunks import residual_block
from sims.linear_softmax._constants import N_STAT
from sims.linear_softmax._exp import exp_scalar, exp_shift_row
from sims.linear_softmax._problem import sparse_support


def test_exp_kernel_accuracy():
    rng = np.random.default_rng(10)
    x = np.concatenate([rng.uniform(-745.0, 709.7, 100_000), [-746.0, -745.2, 0.0, 709.78, 710.0]])
    out = np.empty_like(x)
    exp_shift_row(x, np.zeros_like(x), out)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    assert out[-1] == np.inf and want[-2] < np.inf
    normal = (want > np.finfo(float).tiny) & np.isfinite(want)
    ulp = np.abs(out[normal] - want[normal]) / np.spacing(want[normal])
    assert ulp.max() <= 2  # documented bound of the degree-13 Estrin polynomial
    sub = (want <= np.finfo(float).tiny)
    assert np.all(np.abs(out[sub] - want[sub]) <= np.spacing(0.0))  # subnormals: one rounding
    assert np.isnan(exp_scalar(np.nan)) and exp_scalar(-np.inf) == 0.0


def test_exp_kernel_outside_its_range():
    """Arguments outside (-746, 710) are mapped by a select after the polynomial (no input clamp)."""
    x = np.array([-np.inf, -1e300, -800.0, -746.0, np.nextafter(-746.0, 0.0), -745.2,
                  np.nextafter(710.0, 0.0), 710.0, 800.0, 1e300, np.inf, np.nan])
    out = np.empty_like(x)
    exp_shift_row(x, np.zeros_like(x), out)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    assert np.all((want == 0.0) | np.isinf(want) | np.isnan(want))  # the premise: no rounding involved
    np.testing.assert_array_equal(out, want)


def test_residual_accurate_up_to_gap_700():
    """Split-form residual and KL vs 350-digit mpmath at logit gaps 1 .. 700 (paper, Sec. 'Numerics and solvers').

    Columns 0-7: one-hot contexts (support {0}), where the in-support residual is
    -pi eps / (1 + eps) and the textbook form p - y rounds it to exactly 0 once
    1 + eps == 1 (gap > ~37). Columns 8-15: support {0, 1} with q - p = O(1e-2).
    """
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 350  # 1 - e^-700 must be representable
    gaps = np.array([1.0, 10.0, 36.0, 40.0, 100.0, 300.0, 600.0, 700.0])
    V, mc = 5, 2 * gaps.size
    Lt = np.zeros((V, mc))
    inS = np.zeros((V, mc), dtype=np.bool_)
    Pt = np.zeros((V, mc))
    for jj in range(mc):
        g = gaps[jj % gaps.size]
        if jj < gaps.size:
            inS[0, jj], Pt[0, jj] = True, 1.0
            Lt[1:, jj] = -g - np.array([0.0, 0.5, 1.0, 1.5])
        else:
            inS[:2, jj] = True
            Pt[:2, jj] = 0.3, 0.7
            Lt[0, jj], Lt[1, jj] = np.log(0.3) + 0.05, np.log(0.7)
            Lt[2:, jj] = -g - np.array([0.0, 0.5, 1.0])
    logPt = np.where(inS, np.log(np.where(inS, Pt, 1.0)), 0.0)
    pi = np.full(mc, 1.0 / mc)
    Rt = np.zeros((V, mc))
    gap = np.zeros(mc)
    sup = sparse_support(Pt.T, logPt.T, np.float64)
    ctx = [np.zeros(mc) for _ in range(3)]
    residual_block(Lt, inS, sup, pi, Rt, 0, *ctx, np.zeros((N_STAT, mc)), gap, True)
    for jj in range(mc):
        ls = [mpmath.mpf(float(v)) for v in Lt[:, jj]]
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in ls))
        for v in range(V):
            want = float(mpmath.mpf(pi[jj]) * (mpmath.exp(ls[v] - lse) - mpmath.mpf(float(Pt[v, jj]))))
            # a handful of roundings, each relative to the residual itself (no cancellation
            # left in the split form); 1e-14 = ~50 ulp
            assert abs(Rt[v, jj] - want) <= 1e-14 * abs(want), (jj, v, Rt[v, jj], want)
        kl = mpmath.fsum(mpmath.mpf(float(Pt[v, jj])) * (mpmath.log(mpmath.mpf(float(Pt[v, jj]))) - (ls[v] - lse))
                         for v in range(V) if inS[v, jj])
        want_gap = float(mpmath.mpf(pi[jj]) * kl)
        # the KL is a sum of terms p_z (log p_z - log q_z) that cancel to O(q - p)^2;
        # its rounding scale is eps times the size of the inputs of those terms
        scale = pi[jj] * sum(Pt[v, jj] * (abs(logPt[v, jj]) + abs(float(ls[v] - lse))) for v in range(V) if inS[v, jj])
        assert abs(gap[jj] - want_gap) <= 1e-14 * want_gap + 20 * np.finfo(float).eps * scale, (jj, gap[jj], want_gap)
    # the textbook residual p - y is exactly 0 in-support for the one-hot contexts with gap >= 40
    L = Lt[:, :gaps.size] - Lt[:, :gaps.size].max(axis=0)
    naive = np.exp(L[0]) / np.exp(L).sum(axis=0) - 1.0
    assert np.all(naive[gaps >= 40] == 0.0) and np.all(Rt[0, :gaps.size][gaps >= 40] < 0)
