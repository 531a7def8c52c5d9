"""Bad input to theory.ntk: each gives a ValueError/TypeError naming the argument and what
is accepted (issue 9); the soft/hard conditions (labels in {-1, +1}, ||x|| <= 1 unless
normalised, eps in (0, 1), gamma in (0, 1]) are checked by every public entry point."""

from __future__ import annotations

import numpy as np
import pytest

from theory import ntk

X = np.array([[0.8, 0.2], [0.3, 0.9], [-0.8, -0.1], [-0.2, -0.9]])
Y = np.array([1.0, 1.0, -1.0, -1.0])
P = np.array([[1, 0, 1, 0], [0, 1, 0, 1]], dtype=float)
W = np.array([0.5, 0.5])
YX = Y[:, None] * X


@pytest.mark.parametrize("call, err, pattern", [
    # labels outside {-1, +1}, named with the first offending index
    (lambda: ntk.ntk_margin(X, [1, 0, -1, -1], 10, 0), ValueError,
     r"y must contain only the labels -1 and \+1; y\[1\] = 0.0"),
    (lambda: ntk.kernel_margin(X, [1, 2, -1, -1]), ValueError, r"y must contain only the labels.*y\[1\] = 2.0"),
    (lambda: ntk.linear_margin(X, [1, 1, -1, 0.5]), ValueError, r"y\[3\] = 0.5"),
    (lambda: ntk.contradictory_pairs(X, [0, 1, -1, -1]), ValueError, r"y\[0\] = 0.0"),
    (lambda: ntk.kernel_margin(X, Y[:3]), ValueError, r"y must have shape \(4,\)"),
    (lambda: ntk.linear_margin(X, Y[:, None]), ValueError, "y must be 1-dimensional"),
    # ||x|| > 1 without normalize (the [JT20] setting), named with the row and its norm
    (lambda: ntk.ntk_margin(3 * X, Y, 10, 0), ValueError, r"row 1 has norm 2.846.*normalize=True"),
    (lambda: ntk.check_ntk_data(3 * X, Y), ValueError, r"X must have rows of Euclidean norm <= 1"),
    (lambda: ntk.uniform_dual_mc(3 * X, Y, 10, 0), ValueError, r"norm <= 1"),
    # eps outside (0, 1) and gamma outside (0, 1], for scalars and arrays; strings are not numbers
    (lambda: ntk.soft_label_neurons(0.1, 1.0), ValueError, r"eps must be in \(0, 1\), got 1.0"),
    (lambda: ntk.hard_label_neurons(0.1, [0.5, 0.0]), ValueError, r"eps must be in \(0, 1\)"),
    (lambda: ntk.crossover_gamma(-0.1), ValueError, r"eps must be in \(0, 1\)"),
    (lambda: ntk.crossover_gamma(np.nan), ValueError, r"eps must be finite"),
    (lambda: ntk.jt_width_bound(0.1, 1.5, 10, 0.1), ValueError, r"eps must be a finite number in \(0, 1\)"),
    (lambda: ntk.hard_label_budget(0.1, 1.5, 10, 0.1), ValueError, r"eps must be a finite number in \(0, 1\)"),
    (lambda: ntk.hard_label_budget(0.0, 0.1, 10, 0.1), ValueError, r"gamma must be a finite number in \(0, 1\]"),
    (lambda: ntk.hard_label_budget(0.1, 0.1, 10, 0.1, budget_constant=0), ValueError,
     r"budget_constant must be a finite number > 0, got 0"),
    (lambda: ntk.hard_label_budget(0.1, 0.1, 10.5, 0.1), TypeError, r"n must be an integer"),
    (lambda: ntk.soft_label_neurons("0.1", 0.1), TypeError, "gamma must be a real numeric array, got the string"),
    (lambda: ntk.hard_label_neurons(0.1 + 1j, 0.1), TypeError, "gamma must be real, got complex"),
    (lambda: ntk.crossover_eps(1.5), ValueError, r"gamma must be in \(0, 1\]"),
    (lambda: ntk.crossover_eps("0.1"), TypeError, "gamma must be a real numeric array"),
    # flags and options are not truthy stand-ins
    (lambda: ntk.digits_pair(center="no"), TypeError, "center must be True or False, got 'no'"),
    (lambda: ntk.breast_cancer(standardize=None), TypeError, "standardize must be True or False, got None"),
    (lambda: ntk.ntk_margin(X, Y, 10, 0, kernel_bounds=1), TypeError, "kernel_bounds must be True or False"),
    (lambda: ntk.ntk_margin(X, Y, 10, 0, solver_options="fast"), TypeError,
     "solver_options must be None or a dict of solver settings"),
    (lambda: ntk.linear_margin(X, Y, solver_options={1: 2}), TypeError, "solver_options must have string keys"),
    (lambda: ntk.noisy_two_xor(3, seed="abc"), TypeError, "seed must be an int >= 0"),
])
def test_soft_hard_conditions_and_flags(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


@pytest.mark.parametrize("call, err, pattern", [
    (lambda: ntk.primal_value(P, W, YX, np.zeros((3, 2))), ValueError, r"V must have shape \(2, 2\), got \(3, 2\)"),
    (lambda: ntk.primal_value(P, W, YX[:3], np.zeros((2, 2))), ValueError, r"Y must have shape \(4, any\)"),
    (lambda: ntk.primal_value(P, [0.5, -0.5], YX, np.zeros((2, 2))), ValueError,
     r"w must be nonnegative.*w\[1\] = -0.5"),
    (lambda: ntk.dual_value(P, W, YX, np.full(3, 1 / 3)), ValueError, r"q must have shape \(4,\)"),
    (lambda: ntk.dual_value(P[:, :0], W, YX, np.full(4, 0.25)), ValueError, "P must not be empty"),
    (lambda: ntk.project_simplex([]), ValueError, "q must not be empty"),
    (lambda: ntk.project_simplex([0.2, np.inf]), ValueError, r"q must be finite.*q\[1\] = inf"),
    (lambda: ntk.solve_margin_program(P, W[:1], YX), ValueError, r"w must have shape \(2,\)"),
    (lambda: ntk.unique_patterns(P, np.ones(3)), ValueError, r"weights must have shape \(2,\)"),
    (lambda: ntk.unique_patterns(P[0], np.ones(1)), ValueError, "A must be 2-dimensional"),
    (lambda: ntk.random_feature_patterns(X, 10, None), TypeError, "rng must be an int >= 0"),
    (lambda: ntk.random_feature_patterns(X, 10, 0, block=0), ValueError, "block must be an integer >= 1, got 0"),
    (lambda: ntk.random_feature_patterns(X, 2.5, 0), TypeError, "n_features must be an integer"),
    (lambda: ntk.arc_cells_2d(X[:0]), ValueError, "X must not be empty"),
    (lambda: ntk.arc_cells_2d(np.c_[X, X]), ValueError, r"X must have shape \(n, 2\)"),
    (lambda: ntk.half_line_cells_1d([[0.5], [np.nan]]), ValueError, r"X\[1, 0\] = nan"),
])
def test_program_pieces_check_their_arrays(call, err, pattern):
    with pytest.raises(err, match=pattern):
        call()


def test_program_values_unchanged_by_the_checks():
    # the public (checked) values equal the solver's certified bracket, and a bool pattern
    # matrix is the same as its 0/1 float copy
    res = ntk.solve_margin_program(P, W, YX)
    assert ntk.primal_value(P, W, YX, res.V) == res.primal
    # res.q is already on the simplex; projecting it again moves it by rounding only
    assert ntk.dual_value(P, W, YX, res.q) == pytest.approx(res.dual, rel=4 * np.finfo(float).eps)
    Pb, wb = ntk.unique_patterns(P.astype(bool), W)
    Pf, wf = ntk.unique_patterns(P, W)
    assert np.array_equal(Pb, Pf) and np.array_equal(wb, wf)
    # gamma and eps broadcast as before (arrays in, array out; scalars in, float out)
    assert isinstance(ntk.soft_label_neurons(0.5, 0.5), float)
    assert ntk.hard_label_neurons(np.array([0.5, 0.25]), 0.5).shape == (2,)
