"""Tests of the linear-softmax engine (sims.linear_softmax, public as sims.gd): runs, metrics, resume.

Reference quantities come from independent methods: closed forms for orthonormal
embeddings (check N.2) and for Soudry et al.'s w_tilde when every point
is a support vector, theory.ntp_svm / theory.maxmargin (cross-checked against a
direct cvxpy + Clarabel solve in this file) for W^mm and the multiclass SVM,
theory.ntp.finite_component for W*, a plain NumPy loop for the iterates, mpmath
for the residual at large logit gaps.
"""

from __future__ import annotations

import types

import numpy as np
import pytest

from sims import gd
from sims.linear_softmax import _drivers, _problem, _references, _run
from tests.helpers.instances import overparameterised_ntp as _overparameterised
from tests.helpers.instances import random_ntp as _random_ntp
from tests.helpers.numeric import rel_err as _rel
from theory.ntp import NTPData, finite_component, loss_gap, smoothness_bound
from theory.ntp_svm import max_margin_direction

# ----------------------------------------------------------------------------
# helpers


def _ntp_svm(H, S):
    """W^mm by cvxpy/Clarabel with tight tolerances (paper, Sec. 'Implicit bias of next-token prediction in linear
    models')."""
    import cvxpy as cp

    m, d = H.shape
    V = S.shape[1]
    W = cp.Variable((V, d))
    L = H @ W.T
    ej, ea, eb, ij, iz, iv = [], [], [], [], [], []
    for j in range(m):
        sup = np.flatnonzero(S[j])
        off = np.flatnonzero(~S[j])
        for b in sup[1:]:
            ej.append(j)
            ea.append(sup[0])
            eb.append(b)
        for z in sup:
            for v in off:
                ij.append(j)
                iz.append(z)
                iv.append(v)
    cons = [L[ij, iz] - L[ij, iv] >= 1]
    if ej:
        cons.append(L[ej, ea] - L[ej, eb] == 0)
    prob = cp.Problem(cp.Minimize(cp.sum_squares(W)), cons)
    prob.solve(solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12)
    assert prob.status == "optimal", prob.status
    return W.value


def _W_mm(data):
    """W^mm from theory.ntp_svm.max_margin_direction, checked against _ntp_svm.

    Tolerance 1e-6: Clarabel at 1e-12 gap tolerances leaves W accurate to ~1e-10
    (measured 1e-10 on the App. A.2 instance; paper, Sec. 'Numerics and solvers').
    """
    W_cvx = _ntp_svm(data.H, data.P > 0)
    W = max_margin_direction(data).W
    assert _rel(W, W_cvx) < 1e-6
    return W


# ----------------------------------------------------------------------------
# agreement with plain NumPy


@pytest.mark.parametrize("shape", [(8, 12, 6, 3), (12, 8, 6, 3)], ids=["d>m", "d<m"])
@pytest.mark.parametrize(
    "method, lr, algorithm",
    [("gd", 0.5, "primal"), ("gd", 0.5, "dual"), ("ngd", 0.01, "primal"), ("ngd", 0.01, "dual"),
     ("adam", 3e-3, "auto")],
)
def test_matches_numpy_reference(shape, method, lr, algorithm):
    data = _random_ntp(*shape, seed=1)
    W0 = 0.3 * np.random.default_rng(2).standard_normal((shape[2], shape[1]))
    tr = gd.run(data, 1000, lr, method, W0=W0, algorithm=algorithm, references=False, record=3)
    ref = gd.reference_numpy_run(data, 1000, lr, method, W0=W0)
    # Premise: the trajectory is not chaotic, i.e. the NumPy loop itself moves by
    # < 1e-13 when W0 moves by 1e-15. Constant-step NGD and Adam become chaotic
    # at larger steps (NGD lr = 0.05 here: 5e-4 after 300 steps; Adam lr = 0.01 on
    # the (50, 60, 10) problem: 3e-3 after 1000 steps), where no two
    # implementations can agree to 1e-12; hence NGD 0.01 ([T24]'s value), Adam 3e-3.
    assert _rel(gd.reference_numpy_run(data, 1000, lr, method, W0=W0 + 1e-15), ref) < 1e-13
    # both accumulate ~1e-16 relative rounding per step (measured <= 4e-15 after
    # 1000 steps); 1e-12 is the bound
    assert _rel(tr.W, ref) < 1e-12
    if shape[1] > shape[0] and method != "adam":
        assert tr.config["space"] == "rowspace" and tr.config["rank"] == shape[0]
    if algorithm != "auto":
        assert tr.config["algorithm"] == algorithm


@pytest.mark.parametrize("schedule, power, lr", [("power", 0.5, 0.4), ("power", 1.0, 0.4), ("loss", 0.5, 0.01)])
def test_schedules_match_numpy_reference(schedule, power, lr):
    data = _random_ntp(6, 9, 5, 2, seed=3)
    tr = gd.run(data, 1000, lr, schedule=schedule, power=power, references=False, record=np.arange(0, 1001, 100))
    ref = gd.reference_numpy_run(data, 1000, lr, schedule=schedule, power=power)
    # non-chaotic premise as in test_matches_numpy_reference (the loss-adaptive step
    # eta / gap is chaotic on NTP data from eta ~ 0.05: the steps grow as the gap shrinks)
    assert _rel(gd.reference_numpy_run(data, 1000, lr, schedule=schedule, power=power, W0=np.full((5, 9), 1e-15)),
                ref) < 1e-13
    assert _rel(tr.W, ref) < 1e-12  # as in test_matches_numpy_reference
    k = tr.steps
    if schedule == "power":
        np.testing.assert_allclose(tr.lr, lr / (k + 1.0) ** power, rtol=1e-15)  # the documented formula
    else:
        np.testing.assert_allclose(tr.lr, lr / tr.gap, rtol=1e-15)


def test_loss_schedule_on_one_hot_data_reaches_gap_700_without_nan():
    """eta / loss on separable one-hot data ([N19]): the loss falls super-exponentially."""
    rng = np.random.default_rng(0)
    y = np.arange(8) % 3
    X = rng.standard_normal((8, 4)) + 3 * np.eye(3, 4)[y]
    tr = gd.run(gd.classification_data(X, y), 3000, 0.5, schedule="loss", references=False)
    assert np.all(np.isfinite(tr.W)) and np.all(np.isfinite(tr.gap))
    assert tr.gap[-1] < 1e-300  # logit gaps ~ 700: still a nonzero, finite gap and step
    assert tr.margin[-1] > 0 and np.isfinite(tr.lr[-1])


# ----------------------------------------------------------------------------
# kernel paths: bitwise the same iterates


def test_kernel_paths_are_bitwise_identical(monkeypatch):
    """tiny fused kernel == blocked loops; chunked parallel == chunked serial (any threads)."""
    data = _random_ntp(5, 4, 6, 2, seed=4)
    tiny = gd.run(data, 300, 0.5, references=False)
    assert tiny.config["tiny_kernel"]
    monkeypatch.setattr(_problem, "TINY_MAX", 0)
    blocked = gd.run(data, 300, 0.5, references=False)
    assert not blocked.config["tiny_kernel"] and not blocked.config["use_blas"]
    assert np.array_equal(tiny.W, blocked.W)  # same operations in the same order
    assert np.array_equal(tiny.metrics["gap"], blocked.metrics["gap"])

    # chunked kernels (m = V = 260 give 2 context and 2 vocabulary chunks)
    monkeypatch.setattr(_problem, "CHUNK_MIN", 0)
    big = _random_ntp(260, 20, 260, 3, seed=5)
    runs = [gd.run(big, 50, 1.0, method, references=False, threads=t, record=2)
            for method in ("gd", "ngd") for t in (1, 2)]
    assert runs[0].config["chunks"] == [2, 2]
    assert runs[1].info["segments"][0]["parallel_chunks"]
    assert np.array_equal(runs[0].W, runs[1].W) and np.array_equal(runs[2].W, runs[3].W)
    ref = gd.reference_numpy_run(big, 50, 1.0)
    assert _rel(runs[0].W, ref) < 1e-12  # as in test_matches_numpy_reference
    wide = _random_ntp(260, 300, 260, 3, seed=6)  # d > m: row-space features, dual (logit-space) kernel
    duals = [gd.run(wide, 30, 1.0, references=False, threads=t, record=2) for t in (1, 2)]
    assert duals[0].config["algorithm"] == "dual" and duals[0].config["chunks"] == [2, 2]
    assert np.array_equal(duals[0].W, duals[1].W)
    assert _rel(duals[0].W, gd.reference_numpy_run(wide, 30, 1.0)) < 1e-12


@pytest.mark.parametrize(
    "method, schedule, lr", [("gd", "constant", 0.5), ("ngd", "power", 0.05), ("adam", "constant", 0.01),
                             ("gd", "loss", 0.01)])
def test_size_specialised_tiny_kernel_is_bitwise_the_generic_one(monkeypatch, method, schedule, lr):
    """drive_tiny compiled for fixed (m, V, r) (long runs) == generic drive_tiny == blocked loops.

    W0 puts an out-of-support logit of context 0 ~650 above its support, so the
    plain-softmax fallback of the residual is exercised too.
    """
    data = _random_ntp(5, 4, 6, 2, seed=4)
    h0 = data.H[0]
    v_out = int(np.flatnonzero(data.P[0] == 0)[0])
    W0 = 0.1 * np.random.default_rng(12).standard_normal((6, 4))
    W0[v_out] += 650.0 * h0 / (h0 @ h0)
    used = []
    choose = _run.serial_kernel
    monkeypatch.setattr(_run, "serial_kernel", lambda prob, steps: used.append(choose(prob, steps)) or used[-1])
    runs = {}
    for name, fixed_steps, tiny_max in (("fixed", 0, _problem.TINY_MAX), ("generic", 10**18, _problem.TINY_MAX),
                                        ("blocked", 10**18, 0)):
        monkeypatch.setattr(_run, "TINY_FIXED_STEPS", fixed_steps)
        monkeypatch.setattr(_problem, "TINY_MAX", tiny_max)
        if name != "fixed":  # a fixed-size kernel once built is reused: hide it
            monkeypatch.setattr(_run, "has_drive_tiny_fixed", lambda m, V, r: False)
        runs[name] = gd.run(data, 300, lr, method, schedule=schedule, W0=W0, references=False, record=10)
    assert used[0] is _drivers.drive_tiny_fixed(5, 6, 4) and used[1] is _drivers.drive_tiny
    assert used[2] is _drivers.drive_serial
    assert runs["fixed"].config["tiny_kernel"] and not runs["blocked"].config["tiny_kernel"]
    for name in ("generic", "blocked"):
        assert np.array_equal(runs["fixed"].W, runs[name].W), name  # same operations in the same order
        for metric in gd.METRIC_NAMES:
            assert np.array_equal(runs["fixed"].metrics[metric], runs[name].metrics[metric], equal_nan=True), metric
    if method == "gd" and schedule == "constant":
        # as in test_matches_numpy_reference (the plain softmax is accurate here: the
        # out-of-support logit dominates)
        assert _rel(runs["fixed"].W, gd.reference_numpy_run(data, 300, lr, W0=W0)) < 1e-12


@pytest.mark.parametrize("method, lr", [("gd", 1.0), ("ngd", 0.05), ("adam", 0.01)])
def test_checkpoint_gradient_norm_of_chunked_kernels(monkeypatch, method, lr):
    """Primal BLAS runs take the checkpoint's ||grad|| from the step's own (chunked)
    gradient phase: it matches NumPy, and every metric is bitwise the same for 1 or 2 threads."""
    monkeypatch.setattr(_problem, "CHUNK_MIN", 0)
    data = _random_ntp(260, 20, 260, 3, seed=5)
    runs = [gd.run(data, 40, lr, method, references=False, threads=t, record=4, record_W=True) for t in (1, 2)]
    cfg = runs[0].config
    assert cfg["algorithm"] == "primal" and cfg["use_blas"] and cfg["chunks"] == [2, 2]
    for name in gd.METRIC_NAMES:
        assert np.array_equal(runs[0].metrics[name], runs[1].metrics[name], equal_nan=True), name
    for i, W in enumerate(runs[0].W_records):
        L = data.H @ W.T
        E = np.exp(L - L.max(axis=1, keepdims=True))
        G = (data.pi[:, None] * (E / E.sum(axis=1, keepdims=True) - data.P)).T @ data.H
        # two summation orders of the same O(1e-2) gradient: ~1e-15 relative measured
        np.testing.assert_allclose(runs[0].grad_norm[i], np.linalg.norm(G), rtol=1e-12)


# ----------------------------------------------------------------------------
# invariants and metrics


@pytest.mark.parametrize("method, lr", [("gd", 0.5), ("ngd", 0.01)])
def test_column_sums_constant(method, lr):
    data = _random_ntp(8, 12, 6, 3, seed=6)
    W0 = np.random.default_rng(7).standard_normal((6, 12))
    tr = gd.run(data, 1000, lr, method, W0=W0, references=False)
    drift = np.abs((tr.W - W0).sum(axis=0)).max()
    # 1^T grad = 0 exactly; rounding adds ~1e-16 * ||step|| per step, |W| = O(1)
    assert drift < 1e-12
    assert tr.colsum_drift.max() < 1e-12
    np.testing.assert_allclose(tr.colsum_maxabs[0], np.abs(W0.sum(axis=0)).max(), rtol=1e-14)


def test_gap_positive_and_decreasing_at_one_over_L():
    data = _random_ntp(10, 15, 7, 3, seed=8)
    lr = 1.0 / smoothness_bound(data)
    tr = gd.run(data, 2000, lr, references=False, record=np.arange(2001))
    assert np.all(tr.gap > 0)
    assert np.all(np.diff(tr.gap) < 0)  # descent lemma with eta <= 1/L
    # independent implementation of the KL form (theory.ntp.loss_gap)
    np.testing.assert_allclose(tr.gap[-1], loss_gap(tr.W, data), rtol=1e-10)  # O(eps / gap) cancellation there
    np.testing.assert_allclose(tr.loss, tr.entropy + tr.gap, rtol=1e-15)


def test_metrics_against_numpy_on_orthonormal_data():
    """Every metric recomputed with NumPy from recorded W_k; closed-form W* and W^mm."""
    rng = np.random.default_rng(3)
    m, d, V, S = 6, 9, 7, 3
    Q, _ = np.linalg.qr(rng.standard_normal((d, m)))
    H = Q.T  # orthonormal rows
    P = np.zeros((m, V))
    for j in range(m):
        P[j, rng.choice(V, S, replace=False)] = rng.dirichlet(np.ones(S))
    data = NTPData(H, P, rng.dirichlet(np.ones(m)))
    Sm = data.P > 0
    # check N.2: W^mm h_j = centred support column, W* logits = centred in-support log-probs
    W_mm = (Sm - Sm.sum(1, keepdims=True) / V).T @ H
    logP = np.log(np.where(Sm, data.P, 1.0))
    W_star = np.where(Sm, logP - (logP * Sm).sum(1, keepdims=True) / S, 0.0).T @ H
    np.testing.assert_allclose((W_mm**2).sum(), (S * (V - S) / V) * m, rtol=1e-13)
    W0 = rng.standard_normal((V, d))  # has a component outside the row space
    tr = gd.run(data, 3000, 0.5, W0=W0, W_star=W_star, W_mm=W_mm, record_W=True)
    gens = []
    for j in range(m):
        sup = np.flatnonzero(Sm[j])
        for b in sup[1:]:
            e = np.zeros(V)
            e[sup[0]], e[b] = 1.0, -1.0
            gens.append(np.outer(e, H[j]).ravel())
    _, s, vt = np.linalg.svd(np.array(gens), full_matrices=False)
    QF = vt[s > 1e-10 * s[0]]

    def PF(W):
        return (QF.T @ (QF @ W.ravel())).reshape(W.shape)

    def cos(a, b):
        return (a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b)

    for i, k in enumerate(tr.steps):
        W = tr.W_records[i]
        L = H @ W.T
        lsm = L - L.max(1, keepdims=True)
        lsm -= np.log(np.exp(lsm).sum(1, keepdims=True))
        want = dict(
            gap=(data.pi * np.where(Sm, data.P * (logP - lsm), 0).sum(1)).sum(),
            norm=np.linalg.norm(W), cos_mm=cos(W, W_mm), cos_mm_corrected=cos(W - W_star, W_mm),
            dist_F=np.linalg.norm(PF(W) - W_star), norm_F=np.linalg.norm(PF(W)),
            norm_perp=np.linalg.norm(W - PF(W)), cos_perp_mm=cos(W - PF(W), W_mm),
            colsum_maxabs=np.abs(W.sum(0)).max(),
            margin=min(L[j][Sm[j]].min() - L[j][~Sm[j]].max() for j in range(m)) / np.linalg.norm(W),
            grad_norm=np.linalg.norm((data.pi[:, None] * (np.exp(lsm) - data.P)).T @ H),
        )
        want["margin_gap"] = 1 / np.linalg.norm(W_mm) - want["margin"]
        if k >= 1:
            want["perp_residual"] = np.linalg.norm(W - PF(W) - np.log(k) * W_mm)
        for name, value in want.items():
            # all are O(1) quantities computed by different formulas (feature-space
            # split, logit-difference Gram for P_F): agreement to ~1e-14 measured
            np.testing.assert_allclose(tr.metrics[name][i], value, rtol=1e-11, atol=1e-13, err_msg=name)
    np.testing.assert_allclose(tr.W_records[-1], tr.W, rtol=0, atol=1e-13)


def test_references_computed_lazily_through_theory():
    data = _random_ntp(6, 9, 5, 2, seed=9)
    tr = gd.run(data, 10, 0.5, W_mm=np.zeros((5, 9)) + 1.0)  # W_mm given, W* lazily
    assert tr.info["references"]["W_star"] == "theory.ntp.finite_component"
    np.testing.assert_array_equal(tr.W_star, finite_component(data).W)
    one_hot = gd.classification_data(np.eye(3), np.array([0, 1, 2]))
    tr1 = gd.run(one_hot, 10, 0.5, W_mm=np.ones((3, 3)))
    assert np.array_equal(tr1.W_star, np.zeros((3, 3)))  # F = {0}
    np.testing.assert_allclose(tr1.dist_F, 0.0, atol=1e-15)


# ----------------------------------------------------------------------------
# rates on the overparameterised set-up (checks N.5-N.8)


def test_rates_overparameterised():
    """Seed 8 of _overparameterised, GD eta = 0.5 from W0 = 0, 3e5 steps.

    Windows as in checks N.5-N.8. Over seeds 0-11 of this generator the slope
    checks and the monotone cosine held for all 12 (see the slow test). The
    thresholds of checks 7-8 are not asserted on one seed: they hold on some draws
    only (pass rates: claims t24.a2.seeds.*); the slow mode is an in-support token
    with tiny probability (p ~ 1e-4), whose logit relaxes at a rate
    ~ eta pi_j p_jz ||h_j||^2 per step. What is asserted instead holds on every draw:
    the finite part is at its quasi-static balance within the derived bound.
    """
    data = _overparameterised(8)
    W_mm = _W_mm(data)
    W_star = finite_component(data).W
    rec = np.unique(np.r_[np.rint(np.geomspace(1, 3e5, 60)).astype(int), 10_000, 100_000, 300_000])
    tr = gd.run(data, 300_000, 0.5, W_star=W_star, W_mm=W_mm, record=rec, record_W=True)
    at = {k: i for i, k in enumerate(tr.steps)}
    # check 5: loss gap ~ 1/k, log-log slope in [-1.15, -0.9] on k in [1e4, 1e5]
    slope = np.log(tr.gap[at[100_000]] / tr.gap[at[10_000]]) / np.log(10.0)
    assert -1.15 <= slope <= -0.9, slope
    # check 6: ||W_k|| grows like ||W^mm|| log k, within 5% between 1e5 and 3e5
    growth = (tr.norm[at[300_000]] - tr.norm[at[100_000]]) / np.log(3.0)
    assert abs(growth / np.linalg.norm(W_mm) - 1) < 0.05, growth / np.linalg.norm(W_mm)
    # check 7: corrected cosine increasing on log-spaced checkpoints and above the raw one. Its
    # thresholds (0.95 by 1e4, 0.97 by 1e5) and check 8's (1e-2 by 1e5) hold on some draws only:
    # their pass rates over 20 App. A.2 draws are claims t24.a2.seeds.* (ntp_overparam_seeds)
    c = tr.cos_mm_corrected
    assert np.all(np.diff(c[1:]) > 0)
    late = tr.steps >= 1000
    assert np.all(c[late] > tr.cos_mm[late])  # the corrected one is higher (check N.7)
    # check 8's mechanism, seed-free: k (P_F W_k - W*) is the quasi-static balance E(W_k) of the
    # off-support masses, within its next-order terms (sims.experiments.ntp_gd.BalanceMetrics)
    from sims.experiments.ntp_gd import balance_metrics
    from theory.ntp_asymptotics import ntp_w_tilde

    pred = ntp_w_tilde(data, 0.5)
    idx = [at[100_000], at[300_000]]
    b = balance_metrics(data, pred, 0.5, tr.steps[idx], tr.W_records[idx])
    assert np.all(b.error <= b.bound), (b.error, b.bound)
    # check N.6: ||P_perp W_k - log k W^mm|| stays bounded (flat from 3e3 to 3e5)
    pr = tr.perp_residual[tr.steps >= 3000]
    assert pr.max() - pr.min() < 0.05 * pr.mean()
    assert np.abs(tr.colsum_drift).max() < 1e-10  # 1^T W_k = 1^T W_0 = 0 (rounding over 3e5 steps)


def test_ngd_and_adam_are_faster_than_gd():
    """Check N.10 ([T24] Fig. 5: NGD, Adam with eta = 0.01, beta = (0.9, 0.99))."""
    data = _overparameterised(8)
    W_mm = _W_mm(data)
    W_star = finite_component(data).W
    rec = np.unique(np.rint(np.geomspace(1, 1e4, 120)).astype(int))
    runs = {m: gd.run(data, 10_000, lr, m, W_star=W_star, W_mm=W_mm, record=rec)
            for m, lr in (("gd", 0.5), ("ngd", 0.01), ("adam", 0.01))}

    def first(tr, name, pred):
        ok = pred(tr.metrics[name])
        return tr.steps[np.argmax(ok)] if ok.any() else np.inf

    def cos_at(c):
        return c >= 0.93

    def gap_at(g):
        return g <= 3e-3

    for m in ("ngd", "adam"):
        # measured steps to cos(W - W*, W^mm) >= 0.93: GD 1561, NGD 1145, Adam 1060;
        # to gap <= 3e-3: GD 6285, NGD 2127, Adam 419
        assert first(runs[m], "cos_mm_corrected", cos_at) < first(runs["gd"], "cos_mm_corrected", cos_at)
        assert first(runs[m], "gap", gap_at) < first(runs["gd"], "gap", gap_at)
    # Not every threshold: NGD's fixed-length steps start slowly from W0 = 0 (cos 0.9:
    # NGD 908 vs GD 778 steps), and Adam stalls below 0.96 (0.9546 at 1e4 vs GD
    # 0.9646): [T24] reports Adam only empirically, and for one-hot data Adam is known
    # to prefer another (l-inf type) margin. NGD at 1e4: reference simulation 0.971 vs GD 0.952.
    assert runs["ngd"].cos_mm_corrected[-1] > runs["gd"].cos_mm_corrected[-1]


# ----------------------------------------------------------------------------
# one-hot data


def test_one_hot_direction_converges_to_multiclass_svm():
    rng = np.random.default_rng(5)
    V, d, n = 4, 6, 40
    y = np.arange(n) % V
    X = 3 * rng.standard_normal((V, d))[y] + rng.standard_normal((n, d))
    data = gd.classification_data(X, y)
    W_mm = _ntp_svm(data.H, data.P > 0)  # all S_j = 1: the hard-margin multiclass SVM of [S18]
    try:
        from theory.maxmargin import multiclass_svm
    except ImportError:
        pass
    else:  # the package's K-class SVM; Clarabel + polishing, 1e-6 as in _W_mm (measured 2e-11)
        W_svm = multiclass_svm(X, y).W
        assert _rel(W_svm, W_mm) < 1e-6
        W_mm = W_svm
    tr = gd.run(data, 100_000, 1.0 / smoothness_bound(data), W_mm=W_mm,
                record=np.array([10, 100, 1000, 10_000, 100_000]))
    assert np.all(np.diff(tr.cos_mm) > 0) and np.all(np.diff(tr.margin_gap) < 0)
    # measured 0.9727 at 1e4 and 0.9807 at 1e5; 1 - cos = O(1/log^2 k) ([S18] Thm 5)
    assert tr.cos_mm[3] > 0.97 and tr.cos_mm[4] > 0.98
    assert np.all(tr.dist_F == 0.0) and np.all(tr.gap > 0)


def test_binary_w_tilde_residual_shrinks():
    """w(t) - w_hat log t -> w_tilde ([S18] Thm 3), in the 2-class form of binary_data.

    Three linearly independent points, all support vectors: the SVM duals solve
    G alpha = 1 (G the Gram matrix of the generators (e_y - e_k) x_n^T), and
    eta pi_n exp(-(e_y - e_k)^T W~ x_n) = alpha_n fixes W~ in their span, which
    is where W moves (W0 = 0).
    """
    rng = np.random.default_rng(2)
    y = np.array([1, -1, 1])
    X = y[:, None] * (np.eye(3, 4) + 0.3 * rng.standard_normal((3, 4)))
    data = gd.binary_data(X, y)
    c = np.where(y == 1, 0, 1)
    E = np.zeros((3, 2))
    E[np.arange(3), c], E[np.arange(3), 1 - c] = 1.0, -1.0
    G = (E @ E.T) * (X @ X.T)
    alpha = np.linalg.solve(G, np.ones(3))
    assert np.all(alpha > 0)  # all constraints active: KKT holds, W_hat is the SVM
    gens = np.einsum("nv,nd->nvd", E, X)
    W_hat = np.einsum("n,nvd->vd", alpha, gens)
    lr = 0.5
    W_tilde = np.einsum("n,nvd->vd", np.linalg.solve(G, np.log(lr * data.pi / alpha)), gens)
    try:
        from theory.maxmargin import multiclass_w_tilde
    except ImportError:
        pass
    else:  # the package's W~ for the summed loss: step lr / n on the mean loss (pi = 1/n)
        wt = multiclass_w_tilde(X, c, lr / 3, K=2)
        np.testing.assert_allclose(wt.w_tilde, W_tilde, atol=1e-12)  # same linear system (measured 1e-16)
        np.testing.assert_allclose(wt.w_hat, W_hat, atol=1e-8)  # SVM by Clarabel vs G alpha = 1
    rec = np.array([10, 100, 1000, 10_000, 100_000])
    tr = gd.run(data, 100_000, lr, W_mm=W_hat, w_tilde=W_tilde, record=rec)
    assert np.all(np.diff(tr.tilde_residual) < 0)
    assert tr.tilde_residual[-1] < 1e-3  # measured 1.1e-4 at 1e5 (about 1/k)
    # the 2-class form is logistic regression: w = w_0 - w_1, ||W_hat|| = ||w_hat|| / sqrt 2
    w_hat = gd.logistic_weights(W_hat)
    np.testing.assert_allclose(y * (X @ w_hat), 1.0, rtol=1e-12)


def test_binary_data_is_logistic_regression_with_double_step():
    rng = np.random.default_rng(11)
    X = rng.standard_normal((7, 3))
    y = np.where(rng.random(7) < 0.5, -1, 1)
    data = gd.binary_data(X, y)
    tr = gd.run(data, 500, 0.3, references=False)
    w = np.zeros(3)
    for _ in range(500):  # GD on the mean logistic loss with step 2 * 0.3
        u = y * (X @ w)
        w -= 0.6 * (-(y / (1 + np.exp(u))) @ X) / 7
    np.testing.assert_allclose(gd.logistic_weights(tr.W), w, rtol=1e-12)  # as the NumPy agreement
    np.testing.assert_allclose(tr.W.sum(axis=0), 0.0, atol=1e-14)


# ----------------------------------------------------------------------------
# resume, serialisation, ensembles, float32


@pytest.mark.parametrize("method, lr", [("gd", 0.5), ("ngd", 0.05), ("adam", 0.01)])
def test_resume_and_extend_bitwise(tmp_path, method, lr):
    from sims.store import ResultStore

    data = _random_ntp(8, 12, 6, 3, seed=12)
    once = gd.run(data, 2000, lr, method, references=False)
    half = gd.run(data, 1000, lr, method, references=False)
    assert np.array_equal(gd.run(data, 1000, lr, method, resume=half).W, once.W)
    assert np.array_equal(half.extend(1000).W, once.W)
    # through the result store (JSON + base64 arrays) and back
    store = ResultStore(tmp_path)
    store.save_run("gd", "k", {}, half.to_dict(), {})
    back = gd.Trajectory.from_dict(store.load_run("gd", "k").result)
    ext = back.extend(1000, data)
    assert np.array_equal(ext.W, once.W)
    assert ext.step == 2000 and ext.steps[-1] == 2000 and np.all(np.diff(ext.steps) > 0)
    common = np.intersect1d(ext.steps, once.steps)
    i1, i2 = np.searchsorted(ext.steps, common), np.searchsorted(once.steps, common)
    assert np.array_equal(ext.gap[i1], once.gap[i2])


def test_ensemble_members_equal_single_runs():
    data = _random_ntp(8, 12, 6, 3, seed=13)
    rng = np.random.default_rng(14)
    W0s = rng.standard_normal((3, 6, 12))
    lrs = [0.5, 0.2, 0.1]
    singles = [gd.run(data, 500, lr, W0=w, references=False) for lr, w in zip(lrs, W0s)]
    for threads in (1, 2):
        ens = gd.run_ensemble(data, 500, lrs=lrs, W0s=W0s, references=False, threads=threads)
        for a, b in zip(ens, singles):
            assert np.array_equal(a.W, b.W) and np.array_equal(a.gap, b.gap)
    # one member resumes like a single run
    assert np.array_equal(gd.run(data, 100, 0.5, resume=ens[0]).W, singles[0].extend(100).W)


def test_float32_warns_and_stays_close():
    data = _random_ntp(6, 9, 5, 2, seed=15)
    with pytest.warns(UserWarning, match="float32"):
        tr32 = gd.run(data, 200, 0.5, references=False, dtype=np.float32)
    tr64 = gd.run(data, 200, 0.5, references=False)
    err = _rel(tr32.W, tr64.W)
    assert 0 < err < 1e-4  # float32 rounding (6e-8) accumulated over 200 steps
    assert tr32.config["dtype"] == "float32"


# ----------------------------------------------------------------------------
# validation


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(lr=0.0), ValueError, "lr"),
        (dict(lr=-1.0), ValueError, "lr"),
        (dict(lr=np.nan), ValueError, "lr"),
        (dict(lr=np.inf), ValueError, "lr"),
        (dict(lr="0.1"), TypeError, "lr"),
        (dict(steps=-1), ValueError, "steps"),
        (dict(steps=1.5), ValueError, "steps"),
        (dict(steps="10"), TypeError, "steps"),
        (dict(method="sgd"), ValueError, "method"),
        (dict(schedule="cosine"), ValueError, "schedule"),
        (dict(W0=np.zeros((4, 3))), ValueError, "W0"),
        (dict(W0=np.full((5, 3), np.nan)), ValueError, "W0"),
        (dict(dtype=np.int64), ValueError, "dtype"),
        (dict(beta1=1.0), ValueError, "beta1"),
        (dict(record=np.array([5, 100])), ValueError, "record"),
        (dict(W_mm=np.zeros((3, 5))), ValueError, "W_mm"),
    ],
)
def test_bad_inputs(kwargs, exc, match):
    data = _random_ntp(4, 3, 5, 2, seed=16)
    args = dict(data=data, steps=10, lr=0.1)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        gd.run(**args)


def test_reference_solver_choice_and_record():
    """W^mm's solver is recorded; by default theory picks it by size ("auto": Clarabel
    took > 10 min at (600, 300, 400) before the engine even started, the dual seconds)."""
    data = _random_ntp(6, 9, 5, 2, seed=9)
    tr = gd.run(data, 10, 0.5, progress=False)
    refs = tr.info["references"]
    assert refs["W_mm"] == "theory.ntp_svm.max_margin_direction" and refs["W_mm_solver"] == "clarabel"
    assert refs["W_mm_solver_name"] == "CLARABEL"
    # the size rule lives in theory (max_margin_direction(solver="auto"), tested there)
    assert _references.choose_solver(None) == "auto"
    assert _references.choose_solver("clarabel") == "clarabel"
    with pytest.raises(ValueError, match="reference_solver"):
        gd.run(data, 10, 0.5, reference_solver="scs")
    with pytest.raises(ValueError, match="reference_solver"):
        gd.run_ensemble(data, 10, lr=0.5, reference_solver="scs")


def test_bad_data_and_ensemble_inputs():
    good = _random_ntp(4, 3, 5, 2, seed=17)
    with pytest.raises(TypeError, match="data"):
        gd.run(types.SimpleNamespace(H=good.H, P=good.P), 10, 0.1)
    bad_P = good.P.copy()
    bad_P[0, 0] += 0.1
    with pytest.raises(ValueError, match="data.P"):
        gd.run(types.SimpleNamespace(H=good.H, P=bad_P, pi=good.pi), 10, 0.1)
    with pytest.raises(ValueError, match="same length"):
        gd.run_ensemble(good, 10, lrs=[0.1, 0.2], W0s=np.zeros((3, 5, 3)))
    with pytest.raises(ValueError, match="lr"):
        gd.run_ensemble(good, 10, lrs=[0.1, -0.2])
    half = gd.run(good, 5, 0.1, references=False)
    with pytest.raises(ValueError, match="method"):
        gd.run(good, 5, 0.1, "adam", resume=half)
    with pytest.raises(ValueError, match="W0"):
        gd.run(good, 5, 0.1, W0=np.zeros((5, 3)), resume=half)
    other = _random_ntp(4, 3, 5, 2, seed=18)
    with pytest.raises(ValueError, match="data differs"):
        gd.run(other, 5, 0.1, resume=half)


# ----------------------------------------------------------------------------
# long horizons (slow tier)


@pytest.mark.slow
def test_rates_over_seeds():
    """The seed-robust part of the rate checks, seeds 0-11 (see test_rates_overparameterised)."""
    for seed in range(12):
        data = _overparameterised(seed)
        W_mm = _W_mm(data)
        W_star = finite_component(data).W
        rec = np.unique(np.r_[np.rint(np.geomspace(1, 3e5, 40)).astype(int), 10_000, 100_000, 300_000])
        tr = gd.run(data, 300_000, 0.5, W_star=W_star, W_mm=W_mm, record=rec, record_W=True)
        at = {k: i for i, k in enumerate(tr.steps)}
        slope = np.log(tr.gap[at[100_000]] / tr.gap[at[10_000]]) / np.log(10.0)
        assert -1.15 <= slope <= -0.9, (seed, slope)
        growth = (tr.norm[at[300_000]] - tr.norm[at[100_000]]) / np.log(3.0) / np.linalg.norm(W_mm)
        assert abs(growth - 1) < 0.05, (seed, growth)
        assert np.all(np.diff(tr.cos_mm_corrected[1:]) > 0), seed
        # the cosine threshold is not asserted per seed (pass rates: claims t24.a2.seeds.*); the
        # finite part's quasi-static balance holds on every draw within its derived bound
        from sims.experiments.ntp_gd import balance_metrics
        from theory.ntp_asymptotics import ntp_w_tilde

        idx = [at[100_000], at[300_000]]
        b = balance_metrics(data, ntp_w_tilde(data, 0.5), 0.5, tr.steps[idx], tr.W_records[idx])
        assert np.all(b.error <= b.bound), (seed, b.error, b.bound)


@pytest.mark.slow
def test_long_horizon_resume_1e6():
    """1e5 steps, stored, resumed to 1e6: bitwise equal to one 1e6 run; P_F(W) -> W*."""
    data = _overparameterised(8)
    W_mm = _W_mm(data)
    W_star = finite_component(data).W
    rec = np.array([3000, 10_000, 100_000, 300_000, 1_000_000])
    once = gd.run(data, 1_000_000, 0.5, W_star=W_star, W_mm=W_mm, record=rec)
    part = gd.Trajectory.from_dict(gd.run(data, 100_000, 0.5, W_star=W_star, W_mm=W_mm).to_dict())
    full = part.extend(900_000, data)
    assert np.array_equal(full.W, once.W)
    # P_F(W_k) - W* keeps shrinking, roughly like 1/k after the transient (check N.8)
    assert once.dist_F[-1] < 0.2 * once.dist_F[2]
    # ||P_perp W_k - log k W^mm|| stays bounded (check N.6)
    assert np.ptp(once.perp_residual) < 0.05 * once.perp_residual.mean()
    assert np.all(np.diff(once.cos_mm_corrected) > 0)


def test_default_references_skip_w_star_when_F_is_too_large():
    """references="auto": above F_MAX generators of F, W* is not computed by default
    (at (600, 300, 400) it took 192-713 s before the first step); True still computes it."""
    data = _random_ntp(420, 6, 12, 6, seed=21)  # 420 contexts x (6 - 1) = 2100 generators > F_MAX
    tr = gd.run(data, 5, 0.1, W_mm=np.zeros((12, 6)), progress=False)  # (not separable: W^mm given)
    src = tr.info["references"]["W_star"]
    assert src.startswith("skipped") and "references=True" in src
    assert tr.W_star is None
    small = _random_ntp(6, 9, 5, 2, seed=9)
    assert gd.run(small, 5, 0.5, progress=False).info["references"]["W_star"] == "theory.ntp.finite_component"
    with pytest.raises(ValueError, match="references must be 'auto', True or False"):
        gd.run(small, 5, 0.5, references="yes")


def test_default_references_skip_an_expensive_dense_w_star():
    """rank H < m: W* is the dense solve; above W_STAR_MAX_FLOPS references="auto" skips it."""
    data = _random_ntp(60, 10, 8, 3, seed=5)  # rank H = 10 < m = 60: dense path, 120 generators
    n_gen, V, r = 120, 8, 10  # N = 120 >= V r = 80: the SVD of the generators, N (V r)^2 flops
    cheap = gd.run(data, 3, 0.1, W_mm=np.zeros((8, 10)), progress=False)
    assert cheap.info["references"]["W_star"] == "theory.ntp.finite_component"  # 7.7e5 flops
    old = _references.W_STAR_MAX_FLOPS
    try:
        _references.W_STAR_MAX_FLOPS = n_gen * (V * r) ** 2 - 1  # just below this problem's estimate
        tr = gd.run(data, 3, 0.1, W_mm=np.zeros((8, 10)), progress=False)
    finally:
        _references.W_STAR_MAX_FLOPS = old
    assert tr.info["references"]["W_star"].startswith("skipped: the dense W* solve needs ~7.7e+05 flops")
