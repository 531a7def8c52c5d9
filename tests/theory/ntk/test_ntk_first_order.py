"""The first-order solver of the NTK margin program against Clarabel on small problems.

Both solvers return a bracket [primal, dual] evaluated in numpy at feasible points, so
each contains the program's value gamma_w. The checks: the first-order bracket closes to
its stated relative gap, and the two brackets are consistent (each lower end is at most
the other's upper end, two-sided) and agree to the first-order gap plus Clarabel's.
"""

from __future__ import annotations

import numpy as np
import pytest

from theory.ntk import (FIRST_ORDER_OPTIONS, circle_sectors, ntk_margin, random_feature_patterns,
                        solve_margin_program, two_clusters)

#: Rounding slack of two numpy evaluations of the same value (margins ~1e-2 .. 1e-1).
ROUND = 1e-12


def _problem(name):
    if name == "circle":
        X, y = circle_sectors(30, 2, 0)                     # d = 3, gamma ~ 0.012
        K = 500
    else:
        X, y = two_clusters(40, 0.1, 2, d=5)                # d = 5, gamma ~ 0.13
        K = 1000
    P, w = random_feature_patterns(X, K, np.random.default_rng(0))
    return P, w, y[:, None] * X


@pytest.mark.parametrize("name, rel_gap", [("circle", 1e-3), ("clusters", 1e-4)])
def test_first_order_bracket_matches_clarabel(name, rel_gap):
    P, w, Yx = _problem(name)
    ref = solve_margin_program(P, w, Yx)
    fo = solve_margin_program(P, w, Yx, {"rel_gap": rel_gap}, solver="first-order")
    assert fo.solver == "first-order" and fo.status[0] == "converged"
    # the stopping rule, on the certified (numpy) bracket
    assert 0.0 <= fo.gap <= rel_gap * fo.dual
    # weak duality across the two solvers: each primal point is below each dual point
    assert fo.primal <= ref.dual + ROUND and ref.primal <= fo.dual + ROUND
    # both brackets contain gamma_w, so their ends differ by at most the two gaps
    assert abs(fo.dual - ref.dual) <= fo.gap + ref.gap + ROUND
    assert abs(fo.primal - ref.primal) <= fo.gap + ref.gap + ROUND
    # and the bracket is not trivially wide: the dual end is within the gap of Clarabel's value
    assert ref.gap <= 1e-7 * ref.dual  # Clarabel at tolerance 1e-10 (CLARABEL_SOCP_OPTIONS)
    assert np.all(fo.q >= 0) and fo.q.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.linalg.norm(fo.V, axis=1) <= 1.0 + 1e-12)


def test_an_unconverged_run_still_returns_a_valid_bracket():
    P, w, Yx = _problem("circle")
    ref = solve_margin_program(P, w, Yx)
    fo = solve_margin_program(P, w, Yx, {"max_iter": 3, "rel_gap": 1e-9}, solver="first-order")
    assert fo.status == ("max_iter", "3 iterations")
    assert fo.primal <= ref.primal + ref.gap + ROUND and ref.dual - ref.gap - ROUND <= fo.dual
    assert fo.gap > ref.gap  # three steps do not close it


def test_ntk_margin_with_the_first_order_solver():
    X, y = two_clusters(40, 0.1, 2, d=5)
    a = ntk_margin(X, y, 1000, 0, kernel_bounds=False, linear_bound=False)
    b = ntk_margin(X, y, 1000, 0, kernel_bounds=False, linear_bound=False, rf_solver="first-order")
    # same seed, same K directions: the same program, solved two ways
    assert b.n_patterns == a.n_patterns and b.solver == "first-order" and "(first-order)" in b.message
    assert b.rf_gap <= FIRST_ORDER_OPTIONS["rel_gap"] * b.rf_dual
    assert b.rf_primal <= a.rf_dual + ROUND and a.rf_primal <= b.rf_dual + ROUND
    assert abs(b.gamma - a.gamma) <= b.rf_gap + a.rf_gap


@pytest.mark.parametrize("kwargs, err, pattern", [
    (dict(solver="fista"), ValueError, "solver must be one of 'clarabel', 'first-order'"),
    (dict(solver="first-order", solver_options={"tol": 1e-3}), ValueError,
     r"solver_options for solver='first-order' may set \['max_iter', 'rel_gap'\]; got the unknown key\(s\) \['tol'\]"),
    (dict(solver="first-order", solver_options={"rel_gap": 0.0}), ValueError,
     r"solver_options\['rel_gap'\] must be a finite number in \(0, 1\)"),
    (dict(solver="first-order", solver_options={"max_iter": 0}), ValueError,
     r"solver_options\['max_iter'\] must be an integer >= 1"),
])
def test_bad_solver_settings(kwargs, err, pattern):
    P, w, Yx = _problem("circle")
    with pytest.raises(err, match=pattern):
        solve_margin_program(P, w, Yx, **kwargs)


def test_ntk_margin_names_bad_solver_settings():
    X, y = two_clusters(10, 0.1, 2, d=3)
    with pytest.raises(ValueError, match="rf_solver must be one of"):
        ntk_margin(X, y, 10, 0, rf_solver="sgd")
    with pytest.raises(TypeError, match="rf_options must be None or a dict"):
        ntk_margin(X, y, 10, 0, rf_solver="first-order", rf_options="fast")
