r"""Initialisation of sims.twolayer: exact zero output for coupled pairs, and the
distribution of f(x; W_0) for the standard initialisation.

For the standard initialisation f(x; W_0) = m^{-1/2} sum_s u_s with u_s = a_s relu(z_s)
i.i.d., z_s ~ N(0, rho^2), rho = ||x||, a_s = +-1 independent:
E u = 0, E u^2 = rho^2 / 2, E u^4 = 3 rho^4 / 2, hence E f = 0, E f^2 = rho^2 / 2 (any m),
E f^4 = 3 rho^4 / (2m) + 3 (m - 1) rho^4 / (4m).
Tail: E e^{lambda u} = (1 + e^{lambda^2 rho^2 / 2}) / 2 <= e^{lambda^2 rho^2 / 2}, so u and f
are rho^2-sub-Gaussian and P(|f(x_i; W_0)| > t) <= 2 e^{-t^2/2} for ||x_i|| <= 1; a union
over n points gives P(max_i |f(x_i; W_0)| > sqrt(2 ln(4n/delta))) <= delta / 2 <= delta, the
bound of check S.3.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from sims import twolayer as tl

N_SEEDS = 400


def _points(rng, n, d):
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return X * rng.uniform(0.3, 1.0, size=(n, 1))


@pytest.mark.parametrize("width", [2, 10, 64, 257 * 2])
def test_coupled_output_is_exactly_zero(width, rng):
    X = _points(rng, 50, 7)
    for s in range(5):
        p = tl.init_two_layer(7, width, s, "coupled")
        assert np.array_equal(p.W[0::2], p.W[1::2]) and np.array_equal(p.a[0::2], -p.a[1::2])
        assert np.all(tl.forward(p, X) == 0.0)
    y = np.where(X[:, 0] > 0, 1.0, -1.0)
    traj = tl.run(X, y, width, 0, 1.0, init="coupled", seed=3)
    assert np.all(traj.outputs == 0.0) and traj.min_margin[0] == 0.0
    # the mean of 50 equal terms ln 2: rounding <= 50 eps
    assert traj.loss[0] == pytest.approx(np.log(2.0), rel=50 * np.finfo(float).eps)


def test_coupled_width_must_be_even():
    with pytest.raises(ValueError, match="width must be even"):
        tl.init_two_layer(3, 7, 0, "coupled")


@pytest.mark.parametrize("width", [1, 8, 200])
def test_standard_output_mean_and_variance(width, seed):
    rng = np.random.default_rng(seed)
    d = 6
    X = _points(rng, 3, d)
    F = np.array([tl.forward(tl.init_two_layer(d, width, 1000 * seed + s), X) for s in range(N_SEEDS)])
    rho2 = np.sum(X * X, axis=1)
    ef2 = rho2 / 2
    ef4 = 3 * rho2**2 / (2 * width) + 3 * (width - 1) * rho2**2 / (4 * width)
    # two-sided z-tests with the exact standard errors; |z| < 4.5 fails a correct
    # implementation with probability ~7e-6 per point (normal approximation, N = 400)
    z_mean = F.mean(axis=0) / np.sqrt(ef2 / N_SEEDS)
    z_var = (np.mean(F**2, axis=0) - ef2) / np.sqrt((ef4 - ef2**2) / N_SEEDS)
    assert np.all(np.abs(z_mean) < 4.5), z_mean
    assert np.all(np.abs(z_var) < 4.5), z_var


@pytest.mark.parametrize("delta", [0.1, 0.5])
def test_initial_output_bound_holds(delta, seed):
    rng = np.random.default_rng(seed)
    n, d, width = 30, 5, 64
    X = _points(rng, n, d)
    X[0] /= np.linalg.norm(X[0])  # a point on the unit sphere, where the bound is tightest
    bound = np.sqrt(2 * np.log(4 * n / delta))
    exceed = sum(np.abs(tl.forward(tl.init_two_layer(d, width, 1000 * seed + s), X)).max() > bound
                 for s in range(N_SEEDS))
    # one-sided (it is a bound): the count is Binomial(N, p) with p <= delta / 2; allow the
    # 1 - 1e-6 quantile at p = delta / 2
    assert exceed <= binom.ppf(1 - 1e-6, N_SEEDS, delta / 2), exceed


def test_widths_are_nested_for_one_seed():
    small = tl.init_two_layer(4, 10, 5)
    big = tl.init_two_layer(4, 40, 5)
    assert np.array_equal(big.W[:10], small.W) and np.array_equal(big.a[:10], small.a)
    other = tl.init_two_layer(4, 10, 6)
    assert not np.array_equal(other.W, small.W)
    assert set(np.unique(big.a)) <= {-1.0, 1.0}
