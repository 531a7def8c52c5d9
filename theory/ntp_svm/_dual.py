"""The dual NTP-SVM solver: FISTA on the dual, then primal-dual active-set iterations."""

from __future__ import annotations

import numpy as np
import scipy.linalg

from theory.margin import ACCEPT_KKT_TOL, MarginSolverError
from theory.ntp_svm._equality import equality_solve
from theory.ntp_svm._problem import LP_PRECHECK_NNZ, RANK_RTOL, Problem, reduce_rank
from theory.ntp_svm._result import NTPMaxMarginResult, make_result
from theory.ntp_svm._separability import check_separability, nonseparable_error


def project_dual(Y: np.ndarray, sup: np.ndarray, n_in: np.ndarray) -> np.ndarray:
    r"""Row-wise Euclidean projection onto :math:`\{r:\ \mathbf 1^\top r=0,\ r_v\le0\ (v\notin\mathcal S_j)\}`.

    The projection is :math:`r=y-\mu` in-support and :math:`\min(y-\mu,0)` off-support, with
    :math:`\mu` the root of the decreasing piecewise-linear
    :math:`\sum_{\rm in}(y_z-\mu)+\sum_{\rm off}\min(y_v-\mu,0)`; found exactly by sorting.
    """
    m, V = Y.shape
    A = np.where(sup, Y, 0.0).sum(axis=1)
    U = np.where(sup, np.inf, Y)
    U.sort(axis=1)
    n_off = V - n_in
    finite = np.where(np.isinf(U), 0.0, U)
    cs = np.zeros((m, V + 1))
    np.cumsum(finite, axis=1, out=cs[:, 1:])
    k = np.arange(V + 1)[None, :]
    mu = (A[:, None] + cs) / (n_in[:, None] + k)
    lo = np.empty((m, V + 1))
    lo[:, 0] = -np.inf
    lo[:, 1:] = U
    hi = np.empty((m, V + 1))
    hi[:, :V] = U
    hi[:, V] = np.inf
    valid = (lo <= mu) & (mu <= hi) & (k <= n_off[:, None])
    kk = np.argmax(valid, axis=1)
    muj = mu[np.arange(m), kk]
    Z = Y - muj[:, None]
    return np.where(sup, Z, np.minimum(Z, 0.0))


def dual_guess(G, R, sup, off):
    L = G @ R
    c = np.where(sup, L, 0.0).sum(axis=1) / sup.sum(axis=1)
    s = c[:, None] - 1.0 - L
    obj = 0.5 * float(np.sum(R * L)) + float(R[off].sum())
    return off & ((R < 0) | (s < 0)), obj


def fista(G, sup, off, lip, max_iter, R0=None, check_every=10):
    """Accelerated projected gradient (FISTA, gradient restart) on the NTP-SVM dual."""
    m, V = sup.shape
    n_in = sup.sum(axis=1)
    E = off.astype(float)
    R = np.zeros((m, V)) if R0 is None else R0.copy()
    Zk = R.copy()
    t = 1.0
    prev_guess, prev_obj, stable = None, np.inf, 0
    it = 0
    for it in range(1, max_iter + 1):
        Rn = project_dual(Zk - (G @ Zk + E) / lip, sup, n_in)
        if np.sum((Zk - Rn) * (Rn - R)) > 0:  # O'Donoghue-Candes gradient restart
            t, Zk = 1.0, Rn.copy()
        else:
            tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            Zk = Rn + ((t - 1.0) / tn) * (Rn - R)
            t = tn
        R = Rn
        if it % check_every == 0:
            guess, obj = dual_guess(G, R, sup, off)
            same = prev_guess is not None and np.array_equal(guess, prev_guess)
            small = abs(prev_obj - obj) <= 1e-9 * max(abs(obj), 1.0)
            stable = stable + 1 if (same and small) else 0
            prev_guess, prev_obj = guess, obj
            if stable >= 2:
                break
    guess, _ = dual_guess(G, R, sup, off)
    return R, guess, it


def pdas(G, sup, off, act, X=None, max_iter=40, patience=8):
    """Primal-dual active-set iterations from the working set ``act``; returns best (R, c).

    Stops on convergence (no wrong-sign multiplier, no violated constraint), on a repeated
    working set (cycle), or when the number of KKT violations has not improved for
    ``patience`` iterations.
    """
    seen = set()
    best = None
    best_count, stall = np.inf, 0
    it = 0
    for it in range(1, max_iter + 1):
        R, c = equality_solve(G, sup, act, X)
        L = G @ R
        s = c[:, None] - 1.0 - L
        rscale = max(1.0, float(np.abs(R).max()))
        wrong = act & (R > 1e-11 * rscale)
        viol = off & ~act & (s < -1e-11)
        score = max(float(np.max(np.where(act, R, 0.0))) / rscale, float(-np.min(np.where(off, s, 0.0))), 0.0)
        if best is None or score < best[0]:
            best = (score, R, c)
        if not wrong.any() and not viol.any():
            return R, c, it, True
        count = int(wrong.sum() + viol.sum())
        stall = 0 if count < best_count else stall + 1
        best_count = min(best_count, count)
        key = np.packbits(act).tobytes()
        if key in seen or stall >= patience:
            break
        seen.add(key)
        act = (act & ~wrong) | viol
    return best[1], best[2], it, False


def solve_dual(pb: Problem, max_iter: int, t0: float) -> NTPMaxMarginResult:
    H, sup, off = pb.H, pb.support, pb.off
    m = H.shape[0]
    G = H @ H.T
    evals = scipy.linalg.eigvalsh(G)
    lip = float(evals[-1]) * (1.0 + 1e-10)
    if lip <= 0:
        raise ValueError("data.H is zero: no direction separates the supports")
    notes = []
    full_rank = evals[0] > RANK_RTOL * evals[-1]
    checked = full_rank
    X = None if full_rank else reduce_rank(H)[0]
    if not full_rank and m * sup.shape[1] * (min(H.shape) + 1) <= LP_PRECHECK_NNZ:
        # rank(H) < m: Lemma 1 does not apply; a small LP decides before iterating
        sep = check_separability(pb)
        if not sep.separable:
            raise nonseparable_error(sep)
        notes.append(f"rank(H) < m = {m}: separability verified by LP")
        checked = True
    iters = 0
    R = None
    converged = False
    budget = max_iter
    for attempt in range(2):
        R, guess, k = fista(G, sup, off, lip, budget, R0=R)
        iters += k
        Rp, c, kp, converged = pdas(G, sup, off, guess, X)
        iters += kp
        if converged:
            R = Rp
            break
        notes.append(f"active-set attempt {attempt + 1} did not converge; more FISTA iterations")
        if attempt == 0 and not full_rank and not checked:
            # the dual may be unbounded (no separating W): decide by LP before iterating on
            sep = check_separability(pb)
            if not sep.separable:
                raise nonseparable_error(sep)
            checked = True
        budget = max(budget, 200)
    if not converged:
        R = Rp
    W = R.T @ H
    res = make_result(
        pb, W, R, solver="dual-fista-pdas", method="dual", t0=t0, iterations=iters, polished=converged,
        notes="; ".join(notes),
    )
    if not res.certificate.check(ACCEPT_KKT_TOL):
        if not checked:
            sep = check_separability(pb)
            if not sep.separable:
                raise nonseparable_error(sep)
        raise MarginSolverError(
            f"the dual NTP-SVM solver did not reach a valid KKT point (residuals "
            f"{res.certificate.describe()}); try solver='clarabel'"
        )
    return res
