"""Losses and gradients of sims.twolayer: finite differences, an arbitrary-precision KL,
and an independent loss formula."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
from scipy.special import rel_entr

from sims import twolayer as tl
from sims.twolayer._kernels import kl_bernoulli_logit
from tests.helpers.numeric import rel_err


def _data(rng, n=20, d=4):
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True) * rng.uniform(1.0, 2.0, size=(n, 1))
    y = np.where(rng.standard_normal(n) > 0, 1.0, -1.0)
    return X, y


def _fd_gradient(params, X, targets, kind, tau, h):
    W = params.W
    G = np.empty_like(W)
    for s in range(W.shape[0]):
        for j in range(W.shape[1]):
            Wp = W.copy()
            Wm = W.copy()
            Wp[s, j] += h
            Wm[s, j] -= h
            lp, _ = tl.loss_and_grad(tl.TwoLayerParams(Wp, params.a), X, targets, kind, tau)
            lm, _ = tl.loss_and_grad(tl.TwoLayerParams(Wm, params.a), X, targets, kind, tau)
            G[s, j] = (lp - lm) / (2 * h)
    return G


@pytest.mark.seeds(3)
@pytest.mark.parametrize("kind", ["hard", "soft"])
@pytest.mark.parametrize("tau", [1.0, 0.4, 3.0])
def test_gradient_matches_central_differences(kind, tau, rng):
    X, y = _data(rng)
    params = tl.init_two_layer(X.shape[1], 8, int(rng.integers(2**31)))
    # move W away from the initialisation so the soft residuals are not tiny
    params = tl.TwoLayerParams(params.W + 0.3 * rng.standard_normal(params.W.shape), params.a)
    if kind == "hard":
        targets = y
    else:  # include the extreme teachers p = 0 and p = 1
        targets = rng.uniform(0, 1, size=y.size)
        targets[:2] = [0.0, 1.0]
    loss, grad = tl.loss_and_grad(params, X, targets, kind, tau)
    # the step must not cross a ReLU kink: keep h below a tenth of the smallest |<w_s, x_i>|
    zmin = np.abs(X @ params.W.T).min()
    h = min(1e-6, zmin / 10)
    fd = _fd_gradient(params, X, targets, kind, tau, h)
    # central differences: truncation ~h^2 |L'''| plus rounding ~eps |L| / h, both < 1e-9 here
    assert rel_err(grad, fd) < 1e-7
    assert np.linalg.norm(grad) > 1e-3  # not a vacuous comparison of two zeros


def test_loss_matches_independent_formula(rng):
    X, y = _data(rng, n=30)
    params = tl.init_two_layer(X.shape[1], 16, 5)
    f = tl.forward(params, X)
    for tau in (1.0, 2.5):
        loss, _ = tl.loss_and_grad(params, X, y, "hard", tau)
        # logaddexp is an independent stable softplus; rounding ~eps
        assert loss == pytest.approx(np.mean(np.logaddexp(0.0, -y * f / tau)), rel=1e-14)
        p = rng.uniform(0.05, 0.95, size=y.size)
        loss, _ = tl.loss_and_grad(params, X, p, "soft", tau)
        qs = 1 / (1 + np.exp(-f / tau))
        kl = rel_entr(p, qs) + rel_entr(1 - p, 1 - qs)
        # the naive KL (scipy rel_entr) loses ~eps/KL relative; KL ~ 1e-2 here
        assert loss == pytest.approx(np.mean(kl), rel=1e-12)


def test_forward_matches_definition(rng):
    X, _ = _data(rng, n=25, d=6)
    params = tl.init_two_layer(6, 33, 2)
    f_ref = np.maximum(X @ params.W.T, 0.0) @ params.a / np.sqrt(33)
    # summation order differs from BLAS (rounding ~ m eps |terms|)
    np.testing.assert_allclose(tl.forward(params, X), f_ref, rtol=1e-13, atol=1e-14)


def _kl_exact(t, d):
    """KL(Ber(sigma(t)) || Ber(sigma(t + d))) as the Bregman divergence of softplus, 60 digits."""
    with mp.workdps(60):
        t = mp.mpf(t)
        g = t + mp.mpf(d)

        def sp(x):
            return mp.log1p(mp.e ** x)

        return sp(g) - sp(t) - (g - t) / (1 + mp.e ** (-t))


@pytest.mark.parametrize("t", [-30.0, -5.0, -1.0, 0.0, 0.3, 2.0, 8.0, 25.0])
def test_kl_relative_accuracy(t):
    p = 1.0 / (1.0 + np.exp(-t))
    q = 1.0 / (1.0 + np.exp(t))
    for d in [1e-9, -3e-7, 1e-5, -2e-4, 9.9e-4, 1.01e-3, -1.01e-3, 5e-3, 0.1, -0.7, 3.0, -12.0, 40.0, -200.0,
              800.0, -800.0]:
        d = float(np.float64(t + d) - t)  # the difference the kernel actually sees
        got = kl_bernoulli_logit(p, q, t, t + d)
        exact = _kl_exact(t, d)
        # rounding bound of the log1p forms: 8 eps / |delta| at the series switch |delta| = 1e-3
        # (about 1.8e-12); the series truncation is ~1e-15 relative
        assert abs(got - exact) <= 2e-12 * abs(exact), (t, d, got, float(exact))


def test_kl_is_exactly_the_degenerate_cases():
    for g in (-40.0, -1.0, 0.0, 3.0, 50.0):
        assert kl_bernoulli_logit(1.0, 0.0, np.inf, g) == pytest.approx(np.logaddexp(0.0, -g), rel=1e-15)
        assert kl_bernoulli_logit(0.0, 1.0, -np.inf, g) == pytest.approx(np.logaddexp(0.0, g), rel=1e-15)
    assert kl_bernoulli_logit(0.25, 0.75, np.log(1 / 3), np.log(1 / 3)) == 0.0


@pytest.mark.parametrize("kind", ["hard", "soft"])
def test_gradient_of_sample_blocks_matches_central_differences(kind, rng):
    # n = 800: a narrow network's samples are cut into blocks whose partial
    # gradients the kernel sums (the path of narrow networks at realistic n)
    from sims.twolayer._kernels import member_blocks

    X, y = _data(rng, n=1200)
    params = tl.init_two_layer(X.shape[1], 8, int(rng.integers(2**31)))
    params = tl.TwoLayerParams(params.W + 0.3 * rng.standard_normal(params.W.shape), params.a)
    # keep 800 samples at least 1e-5 from every ReLU kink, so that h = 1e-6 crosses none
    keep = np.flatnonzero(np.abs(X @ params.W.T).min(axis=1) > 1e-5)[:800]
    X, y = X[keep], y[keep]
    assert len(member_blocks(8, X.shape[0])) == 2
    targets = y if kind == "hard" else rng.uniform(0, 1, size=y.size)
    loss, grad = tl.loss_and_grad(params, X, targets, kind, 1.0)
    fd = _fd_gradient(params, X, targets, kind, 1.0, 1e-6)
    # as above: truncation ~h^2 |L'''| plus rounding ~eps |L| / h, both < 1e-9
    assert rel_err(grad, fd) < 1e-7
    assert np.linalg.norm(grad) > 1e-3
