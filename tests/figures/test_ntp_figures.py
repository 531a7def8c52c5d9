"""The NTP experiments (sims/experiments/ntp_gd.py) and their figures, at quick scale (1e4 steps).

Thresholds come from the NTP spec (shared/spec/ntp_implicit_bias.md, section 5) and the
theory of [T24]; the data instance is fixed (data_seed 0), so the runs are deterministic.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from sims.store import ResultStore
from sims.sweep import load_sweep_runs, run_experiment


@pytest.fixture(scope="module")
def overparam(tmp_path_factory):
    root = tmp_path_factory.mktemp("ntp")
    store = ResultStore(root / "store")
    run_experiment("ntp_overparam", quick=True, store=store, progress=False)
    _, runs = load_sweep_runs(store, "ntp_overparam")
    return root, store, {r.params["method"]: r for r in runs}


def test_all_methods_share_one_data_instance(overparam):
    _, _, runs = overparam
    assert set(runs) == {"gd", "ngd", "adam"}
    # same instance => same entropy, W* and W^mm norms bit for bit
    for key in ("entropy", "W_star_norm", "W_mm_norm"):
        vals = {runs[m].result[key] for m in runs}
        assert len(vals) == 1, (key, vals)
    assert runs["gd"].result["solvers"] == ["CLARABEL"]


def test_gd_gap_decreases_at_rate_one_over_k(overparam):
    _, _, runs = overparam
    res = runs["gd"].result
    k, gap = np.asarray(res["steps"]), np.asarray(res["metrics"]["gap"])
    # GD with eta below 2/L is a descent method: the gap decreases at every checkpoint
    assert np.all(np.diff(gap) < 0)
    from theory.fitting import loglog_slope

    fit = loglog_slope(k[k > 0], gap[k > 0], window=(1e3, 1e4))
    # spec §5.5: slope in [-1.15, -0.9] (stated there for [1e4, 1e5]; measured -0.917 on [1e3, 1e4])
    assert -1.15 <= fit.slope <= -0.9, fit


def test_directional_convergence_and_invariants(overparam):
    _, _, runs = overparam
    first_above = {}
    for method, run in runs.items():
        met = {n: np.asarray(v) for n, v in run.result["metrics"].items()}
        # spec §5.7 / [T24] Thm 2: corrected cosine above 0.9 by 1e4 steps and above the raw one
        assert met["cos_mm_corrected"][-1] > 0.9, (method, met["cos_mm_corrected"][-1])
        assert met["cos_mm_corrected"][-1] > met["cos_mm"][-1], method
        k = np.asarray(run.result["steps"])
        first_above[method] = int(k[np.argmax(met["cos_mm_corrected"] > 0.9)])
        if method in ("gd", "ngd"):
            # spec §5.3: 1^T W_k = 1^T W_0 under (normalised) GD; 1e-10 = rounding over 1e4 steps
            assert met["colsum_drift"].max() < 1e-10, method
    # spec §5.10: NGD and Adam reach the cosine in fewer iterations than GD
    assert first_above["ngd"] < first_above["gd"]
    assert first_above["adam"] < first_above["gd"]


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
    k, gap = np.asarray(res["steps"], float), np.asarray(res["metrics"]["gap"])
    sel = (k >= 1e3) & (k <= 1e4)
    slope = np.polyfit(np.log(k[sel]), np.log(gap[sel]), 1)[0]
    assert gd["gap_loglog_slope"]["slope"] == pytest.approx(slope, rel=1e-9)  # same OLS, rounding only


def test_toy_experiment_and_figure(tmp_path):
    from figures import make_figure

    store = ResultStore(tmp_path / "store")
    run_experiment("ntp_toy", quick=True, store=store, progress=False)
    _, runs = load_sweep_runs(store, "ntp_toy")
    res = runs[0].result
    H, P, Wmm = (np.asarray(res[k]) for k in ("H", "P", "W_mm"))
    L = H @ Wmm.T
    S = P > 0
    # [T24] Def. 3 feasibility: equal logits in-support, margin >= 1 to every off-support token
    for j in range(H.shape[0]):
        assert np.ptp(L[j, S[j]]) < 1e-7  # solver tolerance (Clarabel + polishing)
        assert L[j, S[j]].min() - L[j, ~S[j]].max() > 1 - 1e-7
    paths = make_figure("ntp_toy", store=store, outdir=tmp_path / "paper" / "figures")
    assert all(p.exists() for p in paths)
