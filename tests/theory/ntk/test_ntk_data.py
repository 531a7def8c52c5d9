"""Data families of theory.ntk.data: unit ball, labels, determinism, controllable margin."""

from __future__ import annotations

import numpy as np
import pytest

from theory.ntk import linear_margin, ntk_margin
from theory.ntk.data import (
    breast_cancer,
    circle_sectors,
    digits_pair,
    flip_labels,
    noisy_two_xor,
    scale_to_unit_ball,
    two_clusters,
)


def _check(X, y, n, d):
    assert X.shape == (n, d) and y.shape == (n,)
    assert X.dtype == np.float64
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-12)
    assert set(np.unique(y)) <= {-1.0, 1.0}


def test_circle_sectors(seed):
    X, y = circle_sectors(50, 3, seed)
    _check(X, y, 50, 3)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-15)
    # labels are sign(sin k theta) of the angle in the first two coordinates
    theta = np.arctan2(X[:, 1], X[:, 0])
    assert np.array_equal(y, np.where(np.sin(3 * theta) >= 0, 1.0, -1.0))
    X2, y2 = circle_sectors(50, 3, seed)
    assert np.array_equal(X, X2) and np.array_equal(y, y2)  # a pure function of the seed
    Xe, _ = circle_sectors(8, 1, placement="even", bias=0)
    _check(Xe, _, 8, 2)
    assert np.allclose(np.arctan2(Xe[:, 1], Xe[:, 0]) % (2 * np.pi), 2 * np.pi * (np.arange(8) + 0.5) / 8)
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        circle_sectors(10, 0, seed)
    with pytest.raises(ValueError, match="placement must be one of"):
        circle_sectors(10, 1, seed, placement="grid")


@pytest.mark.seeds(3)
def test_two_clusters_have_the_stated_linear_margin(seed):
    X, y = two_clusters(40, 0.4, seed, d=5)
    _check(X, y, 40, 5)
    assert y.sum() == 0
    # the slab of width gap around e1-perp is empty: margin along e1 >= gap/2, so the
    # max-min linear margin (Clarabel, certified point) is at least gap/2
    assert np.min(y * X[:, 0]) >= 0.2
    assert linear_margin(X, y) >= 0.2 - 1e-9
    with pytest.raises(ValueError, match="gap must be"):
        two_clusters(10, 0.0, seed)


def test_two_clusters_gamma_grows_with_gap():
    # gamma >= gap/4 from the linear bound, exactly computed in d = 2 (same seed, same shape)
    gs = [ntk_margin(*two_clusters(30, gap, 5), 10, 0, kernel_bounds=False).gamma for gap in (0.1, 0.4, 1.0)]
    assert gs[0] >= 0.1 / 4 and gs[1] >= 0.4 / 4 and gs[2] >= 1.0 / 4
    assert gs[0] < gs[1] < gs[2]


@pytest.mark.parametrize("variant", ["axes", "signs"])
def test_noisy_two_xor_support_and_samples(variant, seed):
    X, y = noisy_two_xor(6, variant=variant)
    _check(X, y, 64, 6)
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-15)  # exactly on the sphere
    assert len({tuple(r) for r in X.round(12)}) == 64  # the whole support, no repeats
    assert y.sum() == 0
    if variant == "signs":
        assert np.array_equal(y, np.sign(X[:, 0] * X[:, 1]))
    else:
        assert np.array_equal(y, np.where(X[:, 0] != 0, 1.0, -1.0))
    Xs, ys = noisy_two_xor(30, n=200, seed=seed, variant=variant)
    _check(Xs, ys, 200, 30)
    with pytest.raises(ValueError, match="pass n"):
        noisy_two_xor(25)


@pytest.mark.seeds(3)
def test_flip_labels_rate(seed):
    y = np.ones(20_000)
    f = flip_labels(y, 0.2, seed)
    # binomial: 4.5 standard errors of the flipped fraction
    assert abs(np.mean(f == -1) - 0.2) <= 4.5 * np.sqrt(0.2 * 0.8 / 20_000)
    assert np.array_equal(flip_labels(y, 0.0, seed), y)
    with pytest.raises(ValueError, match="rate must be"):
        flip_labels(y, 0.7, seed)


def test_scale_to_unit_ball():
    X = np.array([[3.0, 4.0], [0.3, 0.4]])
    S = scale_to_unit_ball(X)
    assert np.allclose(S, X / 5)
    assert np.array_equal(scale_to_unit_ball(np.zeros((2, 2))), np.zeros((2, 2)))


def test_real_data_loaders():
    pytest.importorskip("sklearn")
    X, y = digits_pair(3, 8)
    _check(X, y, X.shape[0], 64)
    assert np.isclose(np.linalg.norm(X, axis=1).max(), 1.0)
    assert 300 < X.shape[0] < 400 and set(np.unique(y)) == {-1.0, 1.0}
    Xb, yb = digits_pair(0, 1, bias=1.0, center=False)
    assert Xb.shape[1] == 65
    with pytest.raises(ValueError, match="two different digits"):
        digits_pair(4, 4)
    Xc, yc = breast_cancer()
    _check(Xc, yc, 569, 30)
    assert (yc == 1).sum() == 357  # benign


@pytest.mark.slow
def test_digits_pair_margin_sandwich():
    pytest.importorskip("sklearn")
    X, y = digits_pair(3, 8)
    r = ntk_margin(X, y, 200, 0)
    # real data: 3 vs 8 is linearly separable, so gamma >= gamma_lin/2 > 0; the kernel
    # sandwich (certified) and the random-feature estimate within its stated error
    assert r.linear_bound > 0
    assert r.lower <= r.upper
    assert r.gamma2 ** 2 - r.rf_error <= r.gamma <= r.gamma2 + r.rf_error
    assert r.rf_gap <= 1e-6
