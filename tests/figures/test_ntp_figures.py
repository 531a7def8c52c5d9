"""The NTP experiments (sims/experiments/ntp_gd.py) and their figures, at quick scale (1e4 steps).

Thresholds come from the checks N.k (paper, appendix 'Checks') and the
theory of [T24]; the data instance is fixed (data_seed 0), so the runs are deterministic.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sims.store import ResultStore
from sims.experiment import load_runs
from sims.sweep import run_experiment


@pytest.fixture(scope="module")
def overparam(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntp")
    store = ResultStore(root / "store")
    run_experiment("ntp_overparam", quick=True, store=store, progress=False)
    _, runs = load_runs(store, "ntp_overparam")
    return root, store, {r.point.method: r for r in runs}


def test_all_methods_share_one_data_instance(overparam):
    _, _, runs = overparam
    assert set(runs) == {"gd", "ngd", "adam"}
    # same instance => same entropy, W* and W^mm norms bit for bit
    for key in ("entropy", "W_star_norm", "W_mm_norm"):
        vals = {getattr(runs[m].result, key) for m in runs}
        assert len(vals) == 1, (key, vals)
    assert runs["gd"].result.solvers == ["CLARABEL"]


def test_gd_gap_decreases_at_rate_one_over_k(overparam):
    _, _, runs = overparam
    res = runs["gd"].result
    k, gap = res.steps, res.metrics.gap
    # GD with eta below 2/L is a descent method: the gap decreases at every checkpoint
    assert np.all(np.diff(gap) < 0)
    from theory.fitting import loglog_slope

    fit = loglog_slope(k[k > 0], gap[k > 0], window=(1e3, 1e4))
    # check N.5: slope in [-1.15, -0.9] (stated there for [1e4, 1e5]; measured -0.917 on [1e3, 1e4])
    assert -1.15 <= fit.slope <= -0.9, fit


def test_directional_convergence_and_invariants(overparam):
    _, _, runs = overparam
    # Check N.7's thresholds on this instance (data seed 0) and over 20 draws are measured by the
    # claims t24.a2.* and t24.a2.seeds.* (seed 0 misses 0.95 at 1e4: 0.949); here only the
    # threshold-free statements: the corrected cosine rises ([T24] Thm 2) and beats the raw one.
    level = float(runs["gd"].result.metrics.cos_mm_corrected[-1])
    first_at = {}
    for method, run in runs.items():
        met = dataclasses.asdict(run.result.metrics)
        assert met["cos_mm_corrected"][-1] > met["cos_mm"][-1], method
        k = run.result.steps
        reached = met["cos_mm_corrected"] >= level
        first_at[method] = int(k[np.argmax(reached)]) if reached.any() else np.inf
        if method in ("gd", "ngd"):
            # check N.3: 1^T W_k = 1^T W_0 under (normalised) GD; 1e-10 = rounding over 1e4 steps
            assert met["colsum_drift"].max() < 1e-10, method
    gd_cos = runs["gd"].result.metrics.cos_mm_corrected
    assert np.all(np.diff(gd_cos[1:]) > 0)  # GD's corrected cosine rises: it first reaches `level` at its end
    # check N.10: NGD and Adam reach the cosine GD ends with in fewer iterations than GD
    assert first_at["ngd"] < first_at["gd"] and first_at["adam"] < first_at["gd"], first_at


def test_figures_are_drawn_with_numbers(overparam):
    from figures import make_figure

    root, store, runs = overparam
    outdir = root / "paper" / "figures"
    paths = make_figure("ntp_overparam", store=store, outdir=outdir)
    assert {p.suffix for p in paths} == {".png", ".pdf"}
    assert all(p.stat().st_size > 0 for p in paths)
    numbers = json.loads((root / "paper" / "numbers" / "ntp_overparam.json").read_text())
    gd = numbers["gd"]
    assert gd["window"] == [1e3, 1e4]
    # the written slope is the same fit as an independent np.polyfit on the same window
    res = runs["gd"].result
    k, gap = np.asarray(res.steps, float), res.metrics.gap
    sel = (k >= 1e3) & (k <= 1e4)
    slope = np.polyfit(np.log(k[sel]), np.log(gap[sel]), 1)[0]
    assert gd["gap_loglog_slope"]["slope"] == pytest.approx(slope, rel=1e-9)  # same OLS, rounding only


def test_toy_experiment_and_figure(tmp_path):
    from figures import make_figure

    store = ResultStore(tmp_path / "store")
    run_experiment("ntp_toy", quick=True, store=store, progress=False)
    _, runs = load_runs(store, "ntp_toy")
    res = runs[0].result
    H, P, Wmm = res.H, res.P, res.W_mm
    L = H @ Wmm.T
    S = P > 0
    # [T24] Def. 3 feasibility: equal logits in-support, margin >= 1 to every off-support token
    for j in range(H.shape[0]):
        assert np.ptp(L[j, S[j]]) < 1e-7  # solver tolerance (Clarabel + polishing)
        assert L[j, S[j]].min() - L[j, ~S[j]].max() > 1 - 1e-7
    paths = make_figure("ntp_toy", store=store, outdir=tmp_path / "paper" / "figures")
    assert all(p.exists() for p in paths)


def test_theory_f_metrics_match_the_engine():
    """The text experiment's F-metrics (theory.ntp projection of recorded W_k) vs the engine's own
    (Gram of F's generators) on an instance small enough for both."""
    from sims import gd
    from sims.experiments.ntp_gd import f_metrics
    from theory.ntp import NTPData, finite_component
    from theory.ntp_svm import max_margin_direction

    data = NTPData.synthetic(12, 15, 6, 3, 4)
    W_star, W_mm = finite_component(data).W, max_margin_direction(data, solver="dual").W
    tr = gd.run(data, 2000, 0.5, W_star=W_star, W_mm=W_mm, record=[0, 10, 100, 2000], record_W=True)
    mine = f_metrics(data, tr.steps, tr.W_records, W_star, W_mm)
    # two exact projections onto F: agreement to rounding (cond(Gram) * eps)
    np.testing.assert_allclose(mine["dist_F"], tr.dist_F, rtol=1e-9)
    np.testing.assert_allclose(mine["perp_residual"][1:], tr.perp_residual[1:], rtol=1e-9)


def test_text_experiment_and_figure(tmp_path):
    from figures import make_figure

    store = ResultStore(tmp_path / "store")
    run_experiment("ntp_text", quick=True, store=store, progress=False)
    _, runs = load_runs(store, "ntp_text")
    runs = {r.point.method: r for r in runs}
    assert runs["gd"].result.solvers == ["dual-fista-pdas"]
    assert len({r.result.data_digest for r in runs.values()}) == 1
    met = {m: dataclasses.asdict(r.result.metrics) for m, r in runs.items()}
    # F-metrics computed from the recorded iterates (> 2000 generators of F): finite everywhere
    assert all(np.all(np.isfinite(met[m]["dist_F"])) for m in met)
    gd_met = met["gd"]
    assert np.all(np.diff(gd_met["gap"]) < 0)  # eta = 0.5 < 2/L = 0.81: descent
    assert np.all(np.diff(gd_met["cos_mm_corrected"][1:]) > 0)  # [T24] Thm 2, measured 0.82 at 1e4
    assert gd_met["colsum_drift"].max() < 1e-10  # 1^T W_k constant under GD (rounding only)
    # check N.10 on real text: normalised GD ends with the higher corrected cosine (0.88 vs 0.82)
    assert met["ngd"]["cos_mm_corrected"][-1] > gd_met["cos_mm_corrected"][-1]
    paths = make_figure("ntp_text", store=store, outdir=tmp_path / "paper" / "figures")
    assert all(p.exists() for p in paths)
    numbers = json.loads((tmp_path / "paper" / "numbers" / "ntp_text.json").read_text())
    assert set(numbers) >= {"gd", "ngd", "adam", "solvers"}


def test_w_tilde_experiment_and_figure(tmp_path):
    from figures import make_figure

    store = ResultStore(tmp_path / "store")
    run_experiment("ntp_w_tilde", quick=True, store=store, progress=False)
    paths = make_figure("ntp_w_tilde", store=store, outdir=tmp_path / "paper" / "figures")
    assert all(p.exists() for p in paths)
    numbers = json.loads((tmp_path / "paper" / "numbers" / "ntp_w_tilde.json").read_text())
    orth = numbers["orthonormal"]
    # spanning instance: the determined residual decays like k^-nu, nu = 1/3 (measured -0.330 on
    # [1e3, 1e5]); the local slope approaches -nu from above (tests/theory/test_ntp_asymptotics.py)
    assert orth["spanning"] and abs(orth["determined_slope"]["slope"] - orth["predicted_slope"]) < 0.05
    gauss = numbers["gaussian"]
    assert not gauss["spanning"] and gauss["final_residual"] > 10 * gauss["final_determined_residual"]
    # measured 0.45 vs 9e-3 at 1e5
    assert max(abs(r - 1) for r in gauss["final_mass_ratio_range"]) < 0.02  # measured 6.7e-3 at 1e5
