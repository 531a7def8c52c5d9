"""The closed-form first-layer NTK K1 against Monte Carlo, its PSD-ness and its inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers.ntk import mc_kernel
from theory.ntk import activation_overlap, activation_pattern, first_layer_kernel, gaussian_directions

# angles covering the whole range, including nearly parallel and nearly opposite pairs
ANGLES = np.array([0.0, 1e-3, 0.3, 1.0, np.pi / 2, 2.0, 3.0, np.pi - 1e-3])


def _pairs(d, rng):
    """Pairs (x, x') in R^d at the angles above, with random norms <= 1 and random orientation."""
    Qm, _ = np.linalg.qr(rng.standard_normal((d, d)))
    e1, e2 = Qm[:, 0], Qm[:, 1]
    X = np.outer(rng.uniform(0.2, 1.0, ANGLES.size), e1)
    X2 = rng.uniform(0.2, 1.0, ANGLES.size)[:, None] * (np.outer(np.cos(ANGLES), e1) + np.outer(np.sin(ANGLES), e2))
    return X, X2


@pytest.mark.seeds(3)
@pytest.mark.parametrize("d", [2, 5])
def test_kernel_matches_monte_carlo_within_standard_error(rng, d):
    X, X2 = _pairs(d, rng)
    closed = np.diag(first_layer_kernel(X, X2))
    mc, se = mc_kernel(X, X2, 200_000, rng)
    mc, se = np.diag(mc), np.diag(se)
    # two-sided: |MC - closed| <= 4.5 MC standard errors (tail 7e-6 per entry, 8 entries x 6
    # tests); entries with p in {0, 1/2} up to rounding get an absolute floor of 1e-12
    assert np.all(np.abs(mc - closed) <= 4.5 * se + 1e-12), np.c_[ANGLES, mc, closed, se]
    # the test can fail: a plausible wrong closed form, (pi - theta)/pi, is rejected
    wrong = closed * 2.0
    informative = np.abs(wrong - closed) > 20 * se
    assert informative.sum() >= 5
    assert np.all(np.abs(mc - wrong)[informative] > 4.5 * se[informative])


def test_gram_matrix_matches_monte_carlo_entrywise(rng):
    X = rng.standard_normal((12, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True) * rng.uniform(1.0, 3.0, (12, 1))
    mc, se = mc_kernel(X, X, 200_000, rng)
    K = first_layer_kernel(X)
    # 4.5 MC standard errors per entry (78 distinct entries); diagonal p = 1/2 exactly
    assert np.all(np.abs(mc - K) <= 4.5 * se + 1e-12)
    # the same through the package's own feature sampler: (A^T A / N) * (X X^T)
    Z = gaussian_directions(100_000, 4, rng)
    A = activation_pattern(Z, X)
    K_rf = (A.T @ A / Z.shape[0]) * (X @ X.T)
    assert np.all(np.abs(K_rf - K) <= 4.5 * np.abs(X @ X.T) * np.sqrt(0.25 / Z.shape[0]) + 1e-12)


@pytest.mark.seeds(3)
def test_kernel_is_positive_semidefinite(rng):
    X = rng.standard_normal((60, 3)) * rng.uniform(0, 1, (60, 1))
    X[5] = 0.0  # a zero input gives a zero row
    K = first_layer_kernel(X)
    assert np.array_equal(K, K.T)
    ev = np.linalg.eigvalsh(K)
    # eigenvalues >= -(rounding): eps * n * largest eigenvalue
    assert ev[0] >= -60 * np.finfo(float).eps * ev[-1]
    assert np.all(K[5] == 0.0)
    # no two inputs parallel -> strictly positive definite (the features are independent)
    Xs = np.delete(X, 5, axis=0)
    assert np.linalg.eigvalsh(first_layer_kernel(Xs))[0] > 0


def test_special_values_and_homogeneity(rng):
    x = rng.standard_normal(3)
    x2 = rng.standard_normal(3)
    X = np.stack([x, -x, x2])
    K = first_layer_kernel(X)
    assert K[0, 0] == pytest.approx(x @ x / 2, rel=1e-15)  # theta = 0: half the neurons fire
    assert K[0, 1] == 0.0  # theta = pi: never both active
    a, b = 0.3, 2.5
    assert first_layer_kernel(a * x[None], b * x2[None])[0, 0] == pytest.approx(a * b * K[0, 2], rel=1e-13)
    assert np.allclose(activation_overlap(X)[0, 0], 0.5)
    e = np.eye(2)
    assert first_layer_kernel(e)[0, 1] == 0.0
    assert first_layer_kernel(e[:1], e[1:] + e[:1])[0, 0] == pytest.approx((np.pi - np.pi / 4) / (2 * np.pi))


def test_shapes_and_bad_input():
    X = np.ones((4, 3)) / 3
    assert first_layer_kernel(X, np.ones((7, 3)) / 3).shape == (4, 7)
    with pytest.raises(ValueError, match=r"X2 must have shape \(n2, 3\)"):
        first_layer_kernel(X, np.ones((2, 4)))
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        first_layer_kernel(np.ones(3))
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"X\[1, 2\]"):
        first_layer_kernel(bad)
    with pytest.raises(TypeError, match="X must be a real numeric array"):
        first_layer_kernel([["a", "b"]])
    with pytest.raises(ValueError, match="n_features must be an integer >= 1"):
        gaussian_directions(0, 3, 0)
