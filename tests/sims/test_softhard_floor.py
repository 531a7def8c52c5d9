"""The converged soft floor: the certified solver (``sims.twolayer.converge``), the random-feature bound
(``theory.ntk.soft_floor_bound``) and the ``softhard_floor`` experiment (check S.8, last bullet)."""

from __future__ import annotations

import numpy as np
import pytest

from sims import twolayer
from sims.experiments.softhard import fit_kernel_teacher
from sims.experiments.softhard_floor import FloorPoint, floor_data, run_floor, width_slope
from theory.ntk import first_layer_kernel, soft_floor_bound, soft_floor_neurons, two_clusters


@pytest.fixture(scope="module")
def small():
    """d = 3, a 32-point teacher sample and a 192-point student set (n >= 8 m d up to m = 8)."""
    Xt, yt, X, y = floor_data(0.4, 3, 192, 32, 0)
    kt = fit_kernel_teacher(Xt, yt)
    return X, y, kt, twolayer.kernel_teacher(kt, X)


def test_gauss_newton_product_is_the_derivative_of_the_gradient(small, rng):
    # the net is piecewise linear in W, so the Gauss-Newton matrix is the exact Hessian where no unit changes its
    # activation on a sample; central differences of the simulator's gradient with h = 1e-6 flip no mask at a
    # random W (the smallest |<w_s, x_i>| here is ~1e-3 >> h |v|), so they agree up to the O(h^2) truncation and
    # the rounding eps |grad| / h ~ 1e-10 relative
    X, _, _, teacher = small
    P = twolayer.init_two_layer(3, 8, 1, "standard")
    W = P.W + 0.3 * rng.standard_normal(P.W.shape)
    assert np.min(np.abs(X @ W.T)) > 1e-5
    V = rng.standard_normal(W.shape)
    h = 1e-6
    gp = twolayer.loss_and_grad(twolayer.TwoLayerParams(W + h * V, P.a), X, teacher, "soft")[1]
    gm = twolayer.loss_and_grad(twolayer.TwoLayerParams(W - h * V, P.a), X, teacher, "soft")[1]
    fd = (gp - gm) / (2 * h)
    hv = twolayer.gauss_newton_product(twolayer.TwoLayerParams(W, P.a), X, V)
    np.testing.assert_allclose(hv, fd, rtol=0, atol=1e-7 * np.abs(fd).max())
    # symmetric and positive semidefinite (a Gauss-Newton matrix): to rounding
    U = rng.standard_normal(W.shape)
    hu = twolayer.gauss_newton_product(twolayer.TwoLayerParams(W, P.a), X, U)
    assert abs(np.sum(U * hv) - np.sum(V * hu)) <= 1e-12 * np.linalg.norm(hv) * np.linalg.norm(U)
    assert np.sum(V * hv) >= 0


def test_converge_returns_its_certificate(small):
    X, _, _, teacher = small
    P = twolayer.init_two_layer(3, 8, 0, "coupled")
    fit = twolayer.converge(X, teacher, P, gtol=1e-8, max_iter=300)
    loss, grad = twolayer.loss_and_grad(fit.params, X, teacher, "soft")
    # the stored certificate is the simulator's loss and gradient at the returned W, bit for bit
    assert fit.loss == loss and fit.grad_norm == np.linalg.norm(grad)
    assert fit.converged == (fit.grad_norm <= fit.gtol)
    assert fit.initial_loss == twolayer.loss_and_grad(P, X, teacher, "soft")[0]
    assert 0 <= fit.loss < fit.initial_loss
    assert fit.distance == np.linalg.norm(fit.params.W - P.W)
    np.testing.assert_array_equal(fit.params.a, P.a)
    # the Newton decrement estimates the decrease left inside the final cell: below 1 % of the floor here
    assert 0 <= fit.decrement <= 0.01 * fit.loss


def test_converge_reaches_zero_gradient_on_a_smooth_cell():
    # one unit of a standard init whose activation pattern covers all samples (w . x > 0 for every x): the loss is
    # the convex KL of a linear model f = a <w, x> / 1 in every cell visited, and the target logit 2 x_1 ... lies
    # outside it, so the minimiser is interior and trust-ncg meets a tight gradient certificate
    rng = np.random.default_rng(4)
    X = np.column_stack([rng.uniform(0.2, 0.6, 50), rng.uniform(-0.3, 0.3, 50)])
    p = 1 / (1 + np.exp(-(0.5 * X[:, 0] + 0.2 * X[:, 1])))
    P = twolayer.TwoLayerParams(np.array([[1.0, 0.0]]), np.array([1.0]))
    fit = twolayer.converge(X, p, P, gtol=1e-12, max_iter=100)
    assert fit.converged and fit.grad_norm <= 1e-12
    # the minimiser w* = (0.5, 0.2) reproduces the teacher exactly (it stays in the all-active cell): KL = 0
    np.testing.assert_allclose(fit.params.W[0], [0.5, 0.2], rtol=0, atol=1e-9)
    assert fit.loss <= 1e-15


def test_gradient_descent_approaches_the_solver_floor_from_above(small):
    # GD (eta = 1) from the same W0 never goes below the solver's floor and comes down towards it: the gap to the
    # floor at T = 20000 is < 1/2 of the gap at T = 1000 for the median seed (a GD converging to the same point at
    # the 1/T rate of convex GD gives 1/20; a GD stuck at another stationary point gives ~1)
    X, _, _, teacher = small
    ratios = []
    for seed in (0, 1, 2):
        fit = twolayer.converge(X, teacher, twolayer.init_two_layer(3, 4, seed, "coupled"), max_iter=500)
        tr = twolayer.run(X, teacher, 4, 20000, 1.0, kind="soft", init="coupled", seed=seed,
                          record=[0, 1000, 5000, 20000], progress=False)
        np.testing.assert_array_equal(tr.loss[0], fit.initial_loss)  # the same W0
        assert np.all(tr.loss >= fit.loss * (1 - 1e-12))  # from above (relative rounding of the loss)
        assert np.all(np.diff(tr.loss) <= 0)
        ratios.append((tr.loss[-1] - fit.loss) / (tr.loss[1] - fit.loss))
    assert np.median(ratios) < 0.5


def test_floor_falls_with_width(small):
    # nested widths (the width-m net is the first m units of the width-2m one, and the width-2m net reproduces it
    # with W scaled by sqrt 2 on those units and the other pairs cancelling): the minimum cannot rise with m
    X, _, _, teacher = small
    floors = np.array([[twolayer.converge(X, teacher, twolayer.init_two_layer(3, m, s, "coupled"), max_iter=300).loss
                        for m in (2, 4, 8)] for s in (0, 1, 2)])
    med = np.median(floors, axis=0)
    assert med[0] > med[1] > med[2] > 0


def test_soft_floor_bound_formula_and_scaling():
    assert soft_floor_bound(0.1, 10) == pytest.approx(1 / (8 * 0.01 * 10), rel=1e-15)
    assert soft_floor_bound(0.1, 10, init="coupled") == pytest.approx(2 * soft_floor_bound(0.1, 10), rel=1e-15)
    assert soft_floor_bound(0.1, 10, input_norm=0.5) == pytest.approx(soft_floor_bound(0.1, 10) / 4, rel=1e-15)
    np.testing.assert_allclose(soft_floor_bound(np.array([0.1, 0.2]), 4.0), [1 / 0.32, 1 / 1.28], rtol=1e-15)
    # m*(eps) is where the bound meets eps
    assert soft_floor_bound(0.2, soft_floor_neurons(0.2, 0.01)) == pytest.approx(0.01, rel=1e-14)


def test_random_feature_construction_meets_the_bound(rng):
    # the derivation of theory.ntk._floor: with vbar(z) = sum_i c_i x_i 1[<z, x_i> > 0], E ||vbar||^2 = c^T K1 c
    # = 1/gamma_2^2, and the Monte-Carlo student f = (1/m) sum_s <vbar(w_s), x> 1[<w_s, x> > 0] has mean g and
    # E mean_i (f - g)^2 <= 1/(gamma_2^2 m). Checked over 400 draws of m = 16 directions: the MC standard error of
    # each mean is < 10 % here, so a 3-sigma slack of 30 % on the equalities
    Xt, yt = two_clusters(40, 0.4, 3, d=3)
    kt = fit_kernel_teacher(Xt, yt)
    X, _ = two_clusters(60, 0.4, 4, d=3)
    g = kt(X)
    c = kt.coef
    assert c @ first_layer_kernel(Xt) @ c == pytest.approx(1 / kt.gamma2 ** 2, rel=1e-6)
    m, draws = 16, 400
    sq, norms, means = [], [], []
    for _ in range(draws):
        Z = rng.standard_normal((m, 3))
        V = ((Z @ Xt.T > 0) * c) @ Xt  # (m, 3): vbar(z_s)
        f = np.mean((Z @ X.T > 0) * (V @ X.T), axis=0)
        sq.append(np.mean((f - g) ** 2))
        norms.append(np.mean(np.sum(V ** 2, axis=1)))
        means.append(f)
    assert np.mean(norms) == pytest.approx(1 / kt.gamma2 ** 2, rel=0.3)
    np.testing.assert_allclose(np.mean(means, axis=0), g, rtol=0, atol=0.3 * np.abs(g).max())
    assert np.mean(sq) <= 1 / (kt.gamma2 ** 2 * m)
    # and the KL of that student is below (f - g)^2 / 8, hence below soft_floor_bound
    kl = []
    for f in means[:50]:
        p, q = 1 / (1 + np.exp(-g)), 1 / (1 + np.exp(-f))
        kl.append(np.mean(p * np.log(p / q) + (1 - p) * np.log((1 - p) / (1 - q))))
        assert kl[-1] <= np.mean((f - g) ** 2) / 8 + 1e-15
    assert np.mean(kl) <= soft_floor_bound(kt.gamma2, m)


def test_width_slope_of_a_power_law_is_exact():
    w = np.array([4, 8, 16, 32])
    floors = np.vstack([3e-2 / w ** 1.5, 5e-2 / w ** 1.5, 4e-2 / w ** 1.5])
    fit = width_slope(w, floors, 8)
    assert fit.slope == pytest.approx(1.5, abs=1e-12) and fit.n_points == 3
    assert width_slope(w, floors, 16) is None


def test_floor_point_tiny():
    p = FloorPoint(gap=0.8, d=3, n=192, n_teacher=32, widths=(2, 4, 8), n_seeds=2, max_iter=200, gd_steps=300,
                   fit_min_width=2, n_features=2000, eps=(1e-2, 1e-3, 1e-4))
    res = run_floor(p, np.random.default_rng(0))
    assert res.floor.shape == res.grad_norm.shape == res.gd_loss.shape == (2, 3)
    np.testing.assert_array_equal(res.floor_median, np.median(res.floor, axis=0))
    # GD for 300 steps from the same W0 is above the converged floor; the floor is below the random-feature bound
    assert np.all(res.gd_loss >= res.floor)
    assert np.all(res.floor_median <= res.bound)
    np.testing.assert_array_equal(res.certified, res.decrement <= p.decrement_rtol * res.floor)
    assert res.gamma_lower <= res.gamma <= res.gamma_upper + 1e-9
    assert res.gamma2 ** 2 - 0.05 <= res.gamma <= res.gamma2 + 0.05  # sandwich, up to K^{-1/2} MC error


@pytest.mark.parametrize("kw, match", [
    (dict(n=100), "n: the floor"),
    (dict(widths=(4, 2, 8)), "increasing"),
    (dict(widths=(2, 3, 4), n=10_000), "even"),
])
def test_bad_floor_points(kw, match):
    with pytest.raises(ValueError, match=match):
        FloorPoint(**{"d": 3, "n": 384, "widths": (2, 4, 8), **kw})


def test_bad_input_of_the_solver_and_bound(small):
    X, _, _, teacher = small
    P = twolayer.init_two_layer(3, 4, 0)
    with pytest.raises(ValueError, match="gtol"):
        twolayer.converge(X, teacher, P, gtol=-1.0)
    with pytest.raises(ValueError, match="max_iter"):
        twolayer.converge(X, teacher, P, max_iter=0)
    with pytest.raises(ValueError, match="kind"):
        twolayer.converge(X, teacher, P, kind="soft-ish")
    with pytest.raises(TypeError, match="params"):
        twolayer.converge(X, teacher, P.W)
    with pytest.raises(ValueError, match="V must have the shape"):
        twolayer.gauss_newton_product(P, X, np.ones((3, 3)))
    with pytest.raises(ValueError, match="gamma2"):
        soft_floor_bound(0.0, 4)
    with pytest.raises(ValueError, match="width"):
        soft_floor_bound(0.1, -4)
    with pytest.raises(ValueError, match="init"):
        soft_floor_bound(0.1, 4, init="symmetric")
    with pytest.raises(ValueError, match="eps"):
        soft_floor_neurons(0.1, 1.5)


#: What the full softhard_floor protocol measured (the committed claims table has the current numbers).
_FLOOR_FINDING = (
    "measured on the full default protocol (two clusters in d = 4, 8 gaps 0.02..1.6, gamma_2 0.040..0.406, a factor "
    "10.2, n = 2048, widths 4..64, 5 seeds, floors by sims.twolayer.converge): the median floor falls faster than "
    "1/m, pooled slope 1.397 +- 0.048 over m in [8, 64] (per gap 1.24..1.58), and grows faster than 1/gamma_2^2, "
    "pooled slope 2.99 +- 0.07 at fixed m; a joint fit gives L ~ m^-1.41 gamma_2^-3.01, i.e. about a power 1.5 of "
    "the bound's variable 1/(gamma_2^2 m). Hence m* ~ gamma_2^-2 eps^(-1/1.5): the 1/eps slope of m* is "
    "0.632 +- 0.009, not 1, while its 1/gamma_2 slope is 2.03 +- 0.06 (reproduced, asserted below). The largest "
    "widths stop on kinks of the loss with Newton decrements up to ~20 % of the floor: those floors are upper "
    "estimates, so the true 1/m slopes are, if anything, steeper")


@pytest.fixture(scope="module")
def full_floor_store(tmp_path_factory):
    from sims.store import ResultStore
    from sims.sweep import run_experiment

    store = ResultStore(tmp_path_factory.mktemp("floor") / "store")
    run_experiment("softhard_floor", store=store, progress=False)
    return store


def _floor_status(store, cid):
    from sims.claims import claim_status
    from sims.claims.soft_labels import CLAIMS

    c = {c.id: c for c in CLAIMS}[cid]
    m = c.measure(store)
    assert not hasattr(m, "reason"), f"{cid}: {m.reason}"
    return claim_status(c, m, c.predict(m.inputs))


@pytest.mark.slow
def test_full_floor_below_the_random_feature_bound(full_floor_store):
    # derived upper bound (theory.ntk.soft_floor_bound), proven for the random-feature student in expectation; the
    # trained network's median floor must lie below it at every gap and width, with no slack
    assert _floor_status(full_floor_store, "m25.soft.floor_below_rf_bound").category == "reproduced"


@pytest.mark.slow
def test_full_floor_requirement_has_the_gamma_exponent_2(full_floor_store):
    # check S.8 / [M25]: m* ~ 1/gamma^2 at fixed eps; m* from the converged floors, slope in 1/gamma_2 per eps
    # (3 usable gaps at least), pooled by inverse variance, within the record's tolerance 0.3 (a hidden log factor
    # tilts a slope over one decade by up to 0.3, sims/claims/soft_labels.py), two-sided
    assert _floor_status(full_floor_store, "m25.soft.floor_mstar_gamma_exponent").category == "reproduced"


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=_FLOOR_FINDING)
@pytest.mark.parametrize("cid", ["m25.soft.floor_width_exponent", "m25.soft.floor_gamma_exponent",
                                 "m25.soft.floor_eps_exponent"])
def test_full_floor_exponents_match_the_order(full_floor_store, cid):
    # check S.8: L_inf(m) ~ 1/(gamma_2^2 m), so slopes 1 in 1/m and 2 in 1/gamma_2, and m* ~ 1/eps; measured
    # exactly as the claim records do (median over seeds, fits over m >= fit_min_width, usable m* only, pooled by
    # inverse variance); tolerance 0.3 of the records, two-sided
    assert _floor_status(full_floor_store, cid).category == "reproduced"
