r"""Lazy (NTK) regime of sims.twolayer, check S.5.

For f = m^{-1/2} sum_s a_s relu(<w_s, x>), GD from a standard initialisation converges,
as m -> infinity, to the kernel (NTK) dynamics: the trajectory of the outputs has a limit
and the weight displacement D_m(T) = ||W_T - W_0||_F tends to a finite limit D(T), with
D_m = D (1 + O(m^{-1/2})). Hence, across widths m = 512 ... 8192:
* the log-log slope of D_m(T) in m is O(m^{-1/2}) ~ 0.05 in size: |slope| < 0.1;
* the relative movement D_m / ||W_0||_F, with ||W_0||_F ~ sqrt(m d), has slope -1/2 (+-0.1).
"""

from __future__ import annotations

import numpy as np
import pytest

from sims import twolayer as tl

WIDTHS = [512, 2048, 8192]


@pytest.mark.slow
def test_displacement_tends_to_a_limit_and_relative_movement_vanishes():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((40, 5))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)
    ens = tl.run_ensemble(X, y, WIDTHS, [0, 1, 2, 3], 500, 1.0, record=[500])
    dist = ens.stack("distance")[:, :, -1].mean(axis=0)  # (widths,), seed-averaged
    w0 = np.array([np.mean([np.linalg.norm(ens.member(s, m).W0) for s in ens.seeds]) for m in WIDTHS])
    slope = np.polyfit(np.log(WIDTHS), np.log(dist), 1)[0]
    rel_slope = np.polyfit(np.log(WIDTHS), np.log(dist / w0), 1)[0]
    # finite-width corrections are O(m^{-1/2}) relative (see the module docstring)
    assert abs(slope) < 0.1, (dist, slope)
    assert abs(rel_slope + 0.5) < 0.1, rel_slope
    # the loss still fell: the movement is the training, not noise
    assert np.all(ens.stack("loss")[:, :, -1] < np.log(2) - 0.05)
