"""The margin-program teacher (theory.ntk.margin_predictor): unit functional margin on the training
set, the same program as ntk_margin, and its predictor against a plain loop over the directions."""

from __future__ import annotations

import numpy as np
import pytest

from theory.ntk import circle_sectors, margin_predictor, ntk_margin, two_clusters

#: Certified primal-dual gap of the Clarabel SOCP at tolerance 1e-10 (test_ntk_margin: measured <= 3.5e-9).
GAP_TOL = 1e-7


def test_unit_margin_and_same_program_as_ntk_margin():
    X, y = circle_sectors(40, 2, placement="even")
    p = margin_predictor(X, y, 3000, 5)
    g = p(X)
    # g = h / gamma_K and gamma_K is the min of y h over the training set: min y g = 1 (rounding only)
    assert np.min(y * g) == pytest.approx(1.0, abs=1e-12)
    assert 0.0 <= p.gap <= GAP_TOL
    # the same K directions from the same seed: the certified bracket of ntk_margin contains p.margin
    m = ntk_margin(X, y, 3000, 5, kernel_bounds=False, linear_bound=False)
    assert m.rf_primal - GAP_TOL <= p.margin <= m.rf_dual + GAP_TOL
    assert p.n_patterns == m.n_patterns


def test_predictor_against_a_loop_over_directions(rng):
    X, y = two_clusters(30, 0.3, rng, d=3)
    p = margin_predictor(X, y, 500, rng)
    Xn = rng.standard_normal((7, 3))
    Xn /= 2 * np.linalg.norm(Xn, axis=1, keepdims=True)
    want = np.zeros(7)
    for z, v in zip(p.directions, p.separator):
        want += (Xn @ z > 0) * (Xn @ v)
    want /= len(p.directions)
    np.testing.assert_allclose(p.margin_function(Xn), want, rtol=1e-12, atol=1e-15)
    # the separator is feasible: every row inside the unit ball
    assert np.all(np.linalg.norm(p.separator, axis=1) <= 1.0 + 1e-12)


def test_contradictory_data_is_refused():
    X = np.array([[0.6, 0.0], [0.6, 0.0], [0.0, 0.5]])
    with pytest.raises(ValueError, match="contradictory"):
        margin_predictor(X, [1, -1, 1], 100, 0)
    with pytest.raises(ValueError, match="n_features"):
        margin_predictor(X[1:], [1, -1], 0, 0)
