"""The soft- vs hard-label experiments (``sims.experiments.softhard``) against the theory of the
paper's Sec. 'Soft- versus hard-label training of two-layer ReLU networks'."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sims import twolayer
from sims.experiment import get_experiment, make_config
from sims.experiments.softhard import (
    AccuracyPoint,
    CoupledWidthConfig,
    ProjectedWidthConfig,
    WidthConfig,
    WidthPoint,
    budgets,
    fit_kernel_teacher,
    make_dataset,
    neuron_requirement,
    run_accuracy,
    run_width,
    trivial_loss,
    width_budgets,
    width_points,
)
from theory.ntk import circle_sectors, crossover_gamma, first_layer_kernel, hard_label_budget, two_clusters


#: What the full protocol measured (the committed claims table has the current numbers).
_FULL_PROTOCOL_FINDING = (
    "measured on the full default protocol (circle k = 1..4 and two clusters, gap 0.05..1.6, widths 2..512, 5 seeds, "
    "eps 0.1..0.01, T = 1/(gamma_2^2 eps) capped at 4e4; m* interpolated, censored and capped points dropped): the "
    "pooled 1/eps slope is 0.174 +- 0.005 (95% CI; per dataset 0.11..0.50, window 1/eps in [10, 100]) and the 1/gamma "
    "slope over gamma 0.031..0.403 (factor 13) is 0.02 +- 0.03, not 1 and 2. The average loss at T(eps) is flat in "
    "the width above 4 neurons (optimisation-limited; the widths fit the n = 64 targets once m d >~ n), so m* is the "
    "width-2-to-4 cliff for every eps and gamma: the O(1/(gamma^2 eps)) bound is sufficient, not binding here")


def test_kernel_teacher_is_the_unit_margin_max_margin_function():
    # the kernel teacher: functional margin 1 on the training set (attained: support vectors) and RKHS norm 1/gamma_2
    X, y = circle_sectors(48, 2, placement="even")
    kt = fit_kernel_teacher(X, y)
    m = y * kt(X)
    # 1e-6: accuracy of the Clarabel QP of theory.margin.hard_margin_svm (polished dual)
    assert m.min() == pytest.approx(1.0, abs=1e-6)
    assert np.all(m >= 1.0 - 1e-6)
    norm2 = kt.coef @ first_layer_kernel(X) @ kt.coef
    assert norm2 == pytest.approx(1.0 / kt.gamma2 ** 2, rel=1e-6)
    # on new points it is the same kernel expansion (K_1 evaluated against the training inputs)
    Xn, _ = circle_sectors(7, 2, seed=1)
    np.testing.assert_allclose(kt(Xn), first_layer_kernel(Xn, X) @ kt.coef, rtol=0, atol=0)


def test_budgets_formula():
    T = budgets(0.05, [0.2, 0.1, 0.01], 1.0, 10_000)
    # T = ceil(c / (gamma^2 eps)) = 2000, 4000, 40000 -> capped at 10000
    assert T.tolist() == [2000, 4000, 10_000]
    assert budgets(0.5, [0.5], 1e-6, 10).tolist() == [1]


def test_hard_budget_rule():
    eps = [0.1, 0.05, 0.01]
    T, cap = width_budgets("hard", 0.05, eps, rule="jt", hard_constant=0.03, n=64, delta=0.1, steps_max=10 ** 9)
    assert T.tolist() == [hard_label_budget(0.05, e, 64, 0.1, budget_constant=0.03) for e in eps]
    assert not cap.any()
    # against the common budget the ratio is c_H lambda_bar^2 (two-sided, to the ceiling's 1/T)
    common, _ = width_budgets("hard", 0.05, eps, rule="common", steps_max=10 ** 9)
    lam_bar = np.sqrt(2 * np.log(4 * 64 / 0.1)) + np.log(4 / np.asarray(eps))
    np.testing.assert_allclose(T / common, 0.03 * lam_bar ** 2, rtol=1 / common.min())
    # the cap: budgets above steps_max are cut and flagged
    Tc, capc = width_budgets("hard", 0.05, eps, rule="jt", hard_constant=0.03, steps_max=int(T[1]))
    assert Tc.tolist() == [T[0], T[1], T[1]] and capc.tolist() == [False, False, True]
    # a soft point ignores the hard rule
    for rule in ("common", "jt"):
        Ts, _ = width_budgets("soft", 0.05, eps, rule=rule, hard_constant=0.03, steps_max=10 ** 9)
        assert Ts.tolist() == budgets(0.05, eps, 1.0, 10 ** 9).tolist()


def test_hard_budget_plumbing_on_a_tiny_run():
    # a tiny hard point under each rule: the stored budgets are the rule's, and the stored average losses are the
    # members' averages at those budgets (so the jt budget is what the run used, not only what it reports)
    p = WidthPoint(family="clusters", gap=0.8, kind="hard", n=16, widths=(2, 4), n_seeds=2, eps=(0.2, 0.1),
                   n_features=300, hard_budget="jt", hard_budget_constant=0.03, hard_steps_max=5000)
    res = run_width(p, np.random.default_rng(4))
    T, cap = width_budgets("hard", res.gamma2, p.eps, rule="jt", hard_constant=0.03, n=16, delta=p.delta,
                           steps_max=5000)
    assert res.budgets.tolist() == T.tolist() and res.budget_capped.tolist() == cap.tolist()
    X, y = two_clusters(16, 0.8, 0, d=2)
    traj = twolayer.run(X, y, 4, int(T[1]), 1.0, kind="hard", seed=int(res.seeds[0]), labels=y, record=[int(T[1])])
    assert traj.avg_loss[-1] == pytest.approx(res.avg_loss[0, 1, 1], rel=1e-12)
    common = run_width(dataclasses.replace(p, hard_budget="common"), np.random.default_rng(4))
    assert common.budgets.tolist() == budgets(res.gamma2, p.eps, 1.0, 5000).tolist()
    assert np.all(common.budgets < res.budgets)  # c_H lambda_bar^2 = 0.03 x (58..70) > 1 here


def test_width_points_carry_the_hard_rule_to_hard_points_only():
    cfg = WidthConfig(ks=(1,), gaps=(0.4,), hard_budget="common", hard_budget_constant=0.5, hard_steps_max=777)
    pts = width_points(cfg)
    hard = [p for p in pts if p.kind == "hard"]
    soft = [p for p in pts if p.kind == "soft"]
    assert len(hard) == len(soft) == 2
    assert all(p.hard_budget == "common" and p.hard_budget_constant == 0.5 and p.hard_steps_max == 777 for p in hard)
    # soft points keep the defaults: their store keys do not depend on the hard rule
    assert soft == [p for p in width_points(WidthConfig(ks=(1,), gaps=(0.4,))) if p.kind == "soft"]
    # the other settings' experiments: the same points with one setting changed
    coupled = width_points(CoupledWidthConfig(ks=(1,), gaps=(0.4,)))
    assert [dataclasses.replace(p, init="standard") for p in coupled] == width_points(WidthConfig(ks=(1,), gaps=(0.4,)))
    projected = width_points(ProjectedWidthConfig(ks=(1,), gaps=(0.4,)))
    assert [p.kind for p in projected] == ["soft", "soft"] and all(p.project_constant == 1.0 for p in projected)


def test_neuron_requirement_against_a_loop(rng):
    widths = np.array([4, 8, 16, 32])
    loss = rng.uniform(0.0, 1.0, (5, 4, 3))
    eps = np.array([0.3, 0.5, 0.01])
    got = neuron_requirement(widths, loss, eps)
    inter, grid, censored = neuron_requirement(widths, loss, eps, interpolate=True)
    np.testing.assert_equal(grid, got)
    for j, e in enumerate(eps):
        med = [np.median(loss[:, i, j]) for i in range(len(widths))]
        ok = [i for i in range(len(widths)) if med[i] <= e]
        want = widths[ok[0]] if ok else np.nan
        np.testing.assert_equal(got[j], want)
        assert censored[j] == (bool(ok) and ok[0] == 0)
        if ok and ok[0] > 0 and med[ok[0] - 1] > med[ok[0]]:
            # the straight line through (log m, log L) of the two grid widths around the crossing hits log eps
            i = ok[0]
            slope = (np.log(med[i]) - np.log(med[i - 1])) / (np.log(widths[i]) - np.log(widths[i - 1]))
            assert np.log(med[i - 1]) + slope * (np.log(inter[j]) - np.log(widths[i - 1])) == pytest.approx(
                np.log(e), abs=1e-12)
            assert widths[i - 1] < inter[j] <= widths[i]


def test_interpolated_requirement_of_a_power_law_is_exact():
    # median loss L(m) = 4 / m exactly on the grid: m*(eps) = 4 / eps by log-log interpolation (exact for a power law)
    widths = np.array([2, 4, 8, 16, 32, 64])
    eps = np.array([0.5, 0.3, 0.2, 0.1])
    loss = np.broadcast_to((4.0 / widths)[None, :, None], (3, 6, 4))
    inter, grid, censored = neuron_requirement(widths, loss, eps, interpolate=True)
    np.testing.assert_allclose(inter, 4.0 / eps, rtol=1e-12)
    np.testing.assert_array_equal(grid, [8, 16, 32, 64])
    assert not censored.any()
    assert neuron_requirement(widths, 0.1 * loss[:, :, :1], [0.9], interpolate=True)[2].tolist() == [True]


def test_trivial_loss():
    assert trivial_loss("hard") == pytest.approx(np.log(2.0), rel=1e-15)
    assert trivial_loss("soft", np.full(5, 0.5)) == 0.0
    # KL(Ber(1) || Ber(1/2)) = ln 2; KL(Ber(p) || Ber(1/2)) = ln 2 - H(p)
    assert trivial_loss("soft", np.array([1.0, 0.0])) == pytest.approx(np.log(2.0), rel=1e-15)
    p = 0.8
    assert trivial_loss("soft", np.array([p])) == pytest.approx(np.log(2) + p * np.log(p) + (1 - p) * np.log(1 - p))


def test_dataset_noise_and_clean_test_labels():
    X, y, Xt, yt, yc = make_dataset("circle", 3, 2000, 500, 0, label_noise=0.2)
    theta = np.arctan2(X[:, 1], X[:, 0])
    np.testing.assert_array_equal(yc, np.where(np.sin(3 * theta) >= 0, 1.0, -1.0))
    tt = np.arctan2(Xt[:, 1], Xt[:, 0])
    np.testing.assert_array_equal(yt, np.where(np.sin(3 * tt) >= 0, 1.0, -1.0))
    rate = np.mean(y != yc)
    # 4 binomial standard errors: sqrt(0.2 * 0.8 / 2000) ~ 0.009
    assert abs(rate - 0.2) < 4 * np.sqrt(0.2 * 0.8 / 2000)
    Xd, yd, Xdt, ydt, _ = make_dataset("digits", 38, 0, 0, 0)
    assert Xd.shape[1] == 65 and np.max(np.linalg.norm(Xd, axis=1)) <= 1.0 + 1e-12
    assert set(np.unique(yd)) == {-1.0, 1.0} and len(yd) + len(ydt) > 300


def test_projected_coupled_point_with_network_teacher():
    # the protocol's settings in one small point: coupled init, projection R = c'/gamma_2, a network teacher
    p = WidthPoint(family="clusters", gap=0.4, kind="soft", teacher="network", init="coupled", project_constant=0.5,
                   n=24, widths=(2, 8), n_seeds=2, eps=(0.2, 0.1), steps_max=300, n_features=500,
                   teacher_width=64, teacher_steps=200)
    res = run_width(p, np.random.default_rng(1))
    assert res.radius == pytest.approx(0.5 / res.gamma2, rel=1e-15)
    # every member stays in the ball ||W - W0||_F <= R (the kernel's projection; rounding only)
    assert np.all(res.distance <= res.radius * (1 + 1e-12))
    # the ball binds: unprojected GD from the same start moves further (R is about 1/gamma_2 / 2)
    free = run_width(dataclasses.replace(p, project_constant=0.0), np.random.default_rng(1))
    assert np.max(free.distance) > res.radius
    assert np.isfinite(res.teacher_margin) and res.trivial_loss > 0
    with pytest.raises(ValueError, match="even"):
        WidthPoint(init="coupled", widths=(3, 4))


def test_margin_program_teacher_point():
    p = WidthPoint(k=1, kind="soft", teacher="program", n=16, widths=(2, 4), n_seeds=1, eps=(0.3, 0.2),
                   steps_max=100, n_features=400)
    res = run_width(p, np.random.default_rng(2))
    # the program teacher is scaled to functional margin 1 on the training set (theory.ntk.margin_predictor)
    assert res.teacher_margin == pytest.approx(1.0, abs=1e-12)


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="widths"):
        WidthPoint(widths=(8, 4))
    with pytest.raises(ValueError, match="kind"):
        WidthPoint(kind="medium")
    with pytest.raises(ValueError, match="family"):
        make_dataset("mnist", 1, 10, 10, 0)
    with pytest.raises(ValueError, match="hard_budget.*'common', 'jt'"):
        WidthPoint(hard_budget="jt20")
    with pytest.raises(ValueError, match="hard_budget_constant"):
        WidthPoint(hard_budget_constant=0.0)
    with pytest.raises(ValueError, match="hard_steps_max"):
        WidthConfig(hard_steps_max=0)
    with pytest.raises(ValueError, match="kinds"):
        WidthConfig(kinds=("soft", "medium"))
    with pytest.raises(ValueError, match="rule must be one of"):
        width_budgets("hard", 0.1, [0.1], rule="jt20")
    with pytest.raises(ValueError, match="kind must be one of"):
        width_budgets("both", 0.1, [0.1])


@pytest.fixture(scope="module")
def quick_k1():
    """The quick config's k = 1 points (soft, hard) of softhard_width."""
    cfg = make_config(get_experiment("softhard_width"), quick=True)
    pts = [p for p in width_points(cfg) if p.k == 1]
    return {p.kind: run_width(p, np.random.default_rng(7)) for p in pts}


def test_width_quick_soft_needs_no_more_neurons_than_hard(quick_k1):
    soft, hard = quick_k1["soft"], quick_k1["hard"]
    # the data are on the soft side of the predicted crossover gamma_x(eps) (check S.9) ...
    assert soft.gamma < np.min(crossover_gamma(soft.eps))
    # ... so m*_soft <= m*_hard at every eps (NaN = not reached on the grid = +inf)
    s = np.where(np.isnan(soft.m_star), np.inf, soft.m_star)
    h = np.where(np.isnan(hard.m_star), np.inf, hard.m_star)
    assert np.all(s <= h)
    assert np.isfinite(s).any()
    # cheap version of the exponent check: m* cannot fall as eps falls (eps are decreasing; slope >= 0 in 1/eps)
    for m in (s, h):
        assert np.all(m[1:] >= m[:-1])


def test_width_quick_lazy_movement_below_jt_bound(quick_k1):
    # [JT20] Thm 2.2: sqrt(m) max_s ||w_s(t) - w_s(0)|| <= 4 lambda / gamma (proven for m >= M ~ 1e15, far above
    # these widths; measured ratio ~1e-4, so this one-sided check is the figure's claim, not a sharp test)
    for res in quick_k1.values():
        assert np.all(res.lazy_max <= res.lazy_bound.min())
        # the margin brackets its estimate
        assert res.gamma_lower <= res.gamma <= res.gamma_upper


def test_width_quick_losses_are_the_members_average_losses(quick_k1):
    # independent re-run of one member with sims.twolayer.run up to the first budget: avg_loss must match
    # (the ensemble is bitwise the lone run, sims.twolayer docs) -- checks the checkpoint indexing of T(eps)
    X, y = circle_sectors(64, 1, placement="even")
    for kind, res in quick_k1.items():
        targets = twolayer.kernel_teacher(fit_kernel_teacher(X, y), X) if kind == "soft" else y
        i, j = len(res.seeds) - 1, 1
        traj = twolayer.run(X, targets, int(res.widths[j]), int(res.budgets[0]), 1.0, kind=kind,
                            seed=int(res.seeds[i]), labels=y, record=[int(res.budgets[0])])
        assert traj.avg_loss[-1] == pytest.approx(res.avg_loss[i, j, 0], rel=1e-12)
        # average losses fall with the budget at every width (the [JT20] average-risk rate lambda^2/(eta T));
        # budgets cut to steps_max are equal (flagged budget_capped), so compare the distinct ones
        med = np.median(res.avg_loss, axis=0)
        distinct = np.sort(np.unique(res.budgets, return_index=True)[1])
        assert np.all(np.diff(med[:, distinct], axis=1) < 0)
        cap = make_config(get_experiment("softhard_width"), quick=True).steps_max
        assert res.budget_capped.tolist() == (res.budgets == cap).tolist()


def test_accuracy_point_tiny():
    p = AccuracyPoint(family="circle", difficulty=1, teacher="kernel", steps=200, n_train=40, n_test=400,
                      widths=(4, 16), n_seeds=2)
    res = run_accuracy(p, np.random.default_rng(3))
    assert res.soft_accuracy.shape == res.hard_accuracy.shape == (2, 2)
    np.testing.assert_allclose(res.gap_mean, res.soft_accuracy.mean(0) - res.hard_accuracy.mean(0), rtol=0,
                               atol=0)
    # the kernel teacher separates the training set with functional margin 1; on k = 1 (two half-circles, a
    # linear boundary through the bias coordinate) its test error is at most the fraction of test points
    # within one training gap 2 pi / 40 of the two boundaries: 4 * (pi / 40) / (2 pi) = 5 % (+3 SE of 400 draws)
    assert res.teacher_accuracy >= 1.0 - 0.05 - 3 * np.sqrt(0.05 * 0.95 / 400)
    assert dataclasses.is_dataclass(res)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason=_FULL_PROTOCOL_FINDING)
def test_soft_requirement_exponents_full_protocol(tmp_path):
    # check S.8: soft m* ~ 1/(gamma^2 eps): slope 1 in 1/eps and 2 in 1/gamma. Measured exactly as the claim records
    # m25.soft.eps_exponent / m25.soft.gamma_exponent do (usable m* only: finite, uncensored, budget not capped;
    # per-dataset fits pooled by inverse variance, 95% CI), on a fresh full-mode sweep; the tolerance 0.3 of the
    # records is the tilt a hidden ln(1/eps) factor gives a slope over one decade (sims/claims/soft_labels.py)
    from sims.claims import claim_status
    from sims.claims.soft_labels import CLAIMS
    from sims.store import ResultStore
    from sims.sweep import run_experiment

    store = ResultStore(tmp_path / "store")
    run_experiment("softhard_width", store=store, progress=False)
    by = {c.id: c for c in CLAIMS}
    for cid in ("m25.soft.eps_exponent", "m25.soft.gamma_exponent"):
        c = by[cid]
        m = c.measure(store)
        assert not hasattr(m, "reason"), f"{cid}: {m.reason}"
        status = claim_status(c, m, c.predict(m.inputs))
        assert status.category == "reproduced", f"{cid}: {status}"


def test_settings_rows_compare_each_point_with_its_standard_twin(tmp_path):
    # the coupled / projected claim rows pair each point with the standard point that differs only in init or
    # projection: recompute their values from the stored m* and losses, pair by pair (tiny sweeps, 2 datasets)
    from sims.claims.soft_labels import CLAIMS
    from sims.experiment import load_runs
    from sims.store import ResultStore
    from sims.sweep import run_experiment

    store = ResultStore(tmp_path / "store")
    tiny = {"ks": (1,), "gaps": (0.8,), "widths": (2, 4, 8), "n_seeds": 2, "eps": (0.4, 0.2, 0.1), "steps_max": 300,
            "hard_steps_max": 300, "n_features": 300, "n": 16}
    for name in ("softhard_width", "softhard_width_coupled", "softhard_width_projected"):
        run_experiment(name, overrides=tiny, store=store, progress=False)
    _, base = load_runs(store, "softhard_width")
    by = {c.id: c for c in CLAIMS}
    for cid, exp, kind, field in [("mosw22.coupled.hard_loss", "softhard_width_coupled", "hard", "loss"),
                                  ("m25.coupled.soft_loss", "softhard_width_coupled", "soft", "loss"),
                                  ("m25.projected.soft_width", "softhard_width_projected", "soft", "m_star")]:
        _, var = load_runs(store, exp)
        expect = []
        for r in (r for r in var if r.point.kind == kind):
            (b,) = [x for x in base if x.point == dataclasses.replace(r.point, init="standard", project_constant=0.0)]
            if field == "loss":
                lv, lb = np.median(r.result.avg_loss, axis=0), np.median(b.result.avg_loss, axis=0)
                expect += list(np.mean(np.log2(lv / lb), axis=0))
            else:
                for j in range(len(r.result.eps)):
                    mv, mb = r.result.m_star[j], b.result.m_star[j]
                    if np.isfinite(mv) and np.isfinite(mb) and not (r.result.censored[j] and b.result.censored[j]):
                        expect.append(np.log2(mv / mb))
        m = by[cid].measure(store)
        if len(expect) < 2:  # nothing (or one pair, no spread) to compare: the row says so
            assert field == "m_star" and hasattr(m, "reason"), cid  # the loss rows always pair every point
            continue
        assert m.value == pytest.approx(np.mean(expect), rel=1e-12, abs=1e-15), cid
        assert len(m.per_seed) == len(expect)
