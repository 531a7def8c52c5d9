r"""Hard-margin SVMs without bias, their KKT certificates, and Soudry et al.'s :math:`\tilde w`.

Implements the one-hot side of the max-margin theory:

    [S18] D. Soudry, E. Hoffer, M. S. Nacson, S. Gunasekar, N. Srebro, *The Implicit Bias
    of Gradient Descent on Separable Data*, JMLR 19(70), 2018, arXiv 1710.10345.

* :func:`binary_svm`: :math:`\hat w=\arg\min\|w\|^2` s.t. :math:`y_i w^\top x_i\ge1`
  ([S18] eq. 4, no bias), the limit direction of GD on the logistic / exponential loss.
* :func:`multiclass_svm`: the K-class hard-margin SVM of [S18] §4 (Thm 7),
  :math:`\min\sum_k\|w_k\|^2` s.t. :math:`(w_{y_i}-w_k)^\top x_i\ge1` for all
  :math:`k\ne y_i`; the hard-margin Crammer-Singer / Weston-Watkins machine without bias.
* :func:`binary_w_tilde`, :func:`multiclass_w_tilde`: the finite offset :math:`\tilde w` in
  :math:`w(t)=\hat w\log t+\tilde w+o(1)` ([S18] Thm 3 and its multiclass analogue).
* :class:`KKTCertificate`: primal feasibility, dual sign, complementarity, stationarity
  and duality gap of a max-margin solution, shared with :mod:`theory.ntp_svm`.

Both SVMs are solved with cvxpy + Clarabel (named explicitly, tight tolerances), then
**polished** on the active set (numerics spec §1): constraints with slack below
:data:`ACTIVE_SLACK` become equalities and the minimum-norm solution of that equality
system is computed from the Gram matrix of the active constraint generators. The
polished point is kept only if its multipliers are nonnegative and every constraint
holds; otherwise the solver's point is returned with ``polished=False``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse

__all__ = [
    "ACTIVE_SLACK",
    "CLARABEL_OPTIONS",
    "DEFAULT_KKT_TOL",
    "KKTCertificate",
    "BinarySVMResult",
    "MulticlassSVMResult",
    "WTildeResult",
    "binary_svm",
    "multiclass_svm",
    "binary_w_tilde",
    "multiclass_w_tilde",
    "constraint_generators",
    "soudry_predictions",
]

#: Constraints whose slack (margin minus 1) is below this are treated as active when
#: polishing a Clarabel solution (numerics spec §1: "slack below ~1e-6").
ACTIVE_SLACK = 1e-6

#: Default tolerance of :meth:`KKTCertificate.check` (relative residuals; see there).
DEFAULT_KKT_TOL = 1e-8

#: Clarabel settings used by every cvxpy solve in this package's max-margin code.
#: Much tighter than the defaults (1e-8) because the objective is flat to second order at
#: the optimum: an objective accurate to eps leaves W only ~sqrt(eps) accurate (numerics
#: §1). Measured on the NTP-SVM: 1e-10 left W up to 1.3e-6 (relative) from the exact
#: solution at (m, d, V) = (200, 201, 100), 1e-12 about 100x less.
CLARABEL_OPTIONS: dict[str, Any] = dict(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)


# --------------------------------------------------------------------------------------
# KKT certificate
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class KKTCertificate:
    r"""KKT residuals of a hard-margin (max-margin) QP solution.

    For :math:`\min\tfrac12\|W\|^2` s.t. :math:`\langle A_i,W\rangle\ge1` (margin
    constraints) and :math:`\langle B_k,W\rangle=0` (equalities), a point W with
    multipliers :math:`\lambda\ge0`, :math:`\beta` is optimal iff

    .. math::

        \langle B_k,W\rangle=0,\quad \langle A_i,W\rangle\ge1,\quad \lambda\ge0,\quad
        \lambda_i(\langle A_i,W\rangle-1)=0,\quad W=\sum_i\lambda_iA_i+\sum_k\beta_kB_k.

    Attributes
    ----------
    primal_equality : float
        Largest equality residual :math:`|\langle B_k,W\rangle|` (0 if there are no
        equalities). For the NTP-SVM: the largest spread of in-support logits of one
        context.
    primal_inequality : float
        Largest margin violation :math:`\max(0,\max_i 1-\langle A_i,W\rangle)`, in margin
        units (the margin constraint's right-hand side is 1).
    dual_sign : float
        Smallest inequality multiplier :math:`\min_i\lambda_i` (should be :math:`\ge0`).
    complementarity : float
        :math:`\max_i|\lambda_i(\langle A_i,W\rangle-1)|`.
    stationarity : float
        :math:`\|W-\sum\lambda_iA_i-\sum\beta_kB_k\|_F/\|W\|_F`.
    duality_gap : float
        :math:`|P-D|/P` with :math:`P=\tfrac12\|W\|^2` and dual value
        :math:`D=\sum\lambda_i-\tfrac12\|\sum\lambda_iA_i+\sum\beta_kB_k\|^2`.
    multiplier_scale : float
        :math:`\max(1,\max_i\lambda_i)`, used to make ``dual_sign`` and
        ``complementarity`` relative.
    equality_scale : float
        :math:`\max(1,\max|\text{logit}|)`, used to make ``primal_equality`` relative.

    Notes
    -----
    :meth:`residuals` gives the scaled, nonnegative residuals that :meth:`check`
    compares with a tolerance.
    """

    primal_equality: float
    primal_inequality: float
    dual_sign: float
    complementarity: float
    stationarity: float
    duality_gap: float
    multiplier_scale: float = 1.0
    equality_scale: float = 1.0

    def residuals(self) -> dict[str, float]:
        """Scaled nonnegative residuals, keyed by KKT condition."""
        return {
            "primal_equality": float(self.primal_equality / self.equality_scale),
            "primal_inequality": float(max(self.primal_inequality, 0.0)),
            "dual_sign": float(max(-self.dual_sign, 0.0) / self.multiplier_scale),
            "complementarity": float(self.complementarity / self.multiplier_scale),
            "stationarity": float(self.stationarity),
            "duality_gap": float(self.duality_gap),
        }

    def failures(self, tol: float = DEFAULT_KKT_TOL) -> tuple[str, ...]:
        """Names of the conditions whose scaled residual exceeds ``tol``."""
        tol = _positive_float(tol, "tol")
        return tuple(k for k, v in self.residuals().items() if not v <= tol)

    def check(self, tol: float = DEFAULT_KKT_TOL) -> bool:
        """True if every scaled residual (see :meth:`residuals`) is at most ``tol``."""
        return not self.failures(tol)

    @property
    def ok(self) -> bool:
        """``check(DEFAULT_KKT_TOL)``."""
        return self.check(DEFAULT_KKT_TOL)

    @property
    def max_residual(self) -> float:
        """Largest scaled residual."""
        return max(self.residuals().values())


def _certificate(
    margins: np.ndarray,
    lam: np.ndarray,
    W: np.ndarray,
    W_gen: np.ndarray,
    *,
    eq_residual: float = 0.0,
    eq_scale: float = 1.0,
) -> KKTCertificate:
    """KKT certificate from margins <A_i, W>, multipliers, W and the generator sum."""
    nW = float(np.linalg.norm(W))
    slack = margins - 1.0
    primal = 0.5 * nW**2
    dual = float(np.sum(lam)) - 0.5 * float(np.sum(W_gen * W_gen))
    return KKTCertificate(
        primal_equality=float(eq_residual),
        primal_inequality=float(max(0.0, -float(slack.min()))) if slack.size else 0.0,
        dual_sign=float(lam.min()) if lam.size else 0.0,
        complementarity=float(np.max(np.abs(lam * slack))) if lam.size else 0.0,
        stationarity=float(np.linalg.norm(W - W_gen) / max(nW, np.finfo(float).tiny)),
        duality_gap=float(abs(primal - dual) / max(primal, np.finfo(float).tiny)),
        multiplier_scale=float(max(1.0, float(lam.max()) if lam.size else 0.0)),
        equality_scale=float(eq_scale),
    )


# --------------------------------------------------------------------------------------
# input helpers
# --------------------------------------------------------------------------------------
def _positive_float(x: Any, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive real number, got {type(x).__name__} {x!r}")
    x = float(x)
    if not (np.isfinite(x) and x > 0):
        raise ValueError(f"{name} must be a positive finite number, got {x!r}")
    return x


def _as_matrix(x: Any, name: str) -> np.ndarray:
    """Finite float64 2-D array or an error naming ``name``."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a real 2-D numeric array, got {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists
        raise TypeError(f"{name} must be a real numeric array; conversion failed: {exc}") from exc
    if np.iscomplexobj(arr) or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (n, d), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        i, k = (int(t) for t in bad[0])
        raise ValueError(f"{name} must be finite (no NaN or inf); {name}[{i}, {k}] = {arr[i, k]!r}")
    return arr


def _binary_labels(y: Any, n: int) -> np.ndarray:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y must have shape (n,) = ({n},) to match X, got {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"y must contain the numbers -1 and +1, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    bad = np.flatnonzero(~np.isin(arr, (-1.0, 1.0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"binary labels y must be -1 or +1 (no 0/1 coding); y[{i}] = {arr[i]!r}"
            + (f" ({bad.size} bad labels)" if bad.size > 1 else "")
        )
    return arr


def _class_labels(y: Any, n: int, K: Any) -> tuple[np.ndarray, int]:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"y must have shape (n,) = ({n},) to match X, got {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"y must contain integer class labels 0..K-1, got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr) | (arr != np.round(arr)))[0])
            raise ValueError(f"y must contain integer class labels; y[{i}] = {arr[i]!r}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        i = int(np.argmin(arr))
        raise ValueError(f"class labels must be in 0..K-1; y[{i}] = {arr[i]}")
    if K is None:
        K = max(int(arr.max()) + 1, 2)
    else:
        if isinstance(K, bool) or not isinstance(K, (int, np.integer)):
            raise TypeError(f"K must be an int >= 2 or None, got {type(K).__name__} {K!r}")
        K = int(K)
        if K < 2:
            raise ValueError(f"K must be >= 2 (number of classes), got {K}")
        if arr.max() >= K:
            i = int(np.argmax(arr))
            raise ValueError(f"class labels must be in 0..K-1 = 0..{K - 1}; y[{i}] = {arr[i]}")
    return arr, K


def _solve_clarabel(prob: Any, **overrides: Any) -> tuple[str, str, float]:
    """Solve a cvxpy problem with Clarabel (named explicitly); return status, name, time."""
    import cvxpy as cp

    t0 = time.perf_counter()
    try:
        prob.solve(solver=cp.CLARABEL, **{**CLARABEL_OPTIONS, **overrides})
    except cp.error.SolverError as exc:
        raise RuntimeError(f"Clarabel failed on the max-margin QP: {exc}") from exc
    name = getattr(prob.solver_stats, "solver_name", None) or "CLARABEL"
    return str(prob.status), str(name), time.perf_counter() - t0


def _min_norm_on_active(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Minimum-norm multipliers mu of the active equality system ``gram @ mu = rhs``."""
    try:
        return scipy.linalg.solve(gram, rhs, assume_a="pos", check_finite=False)
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        return scipy.linalg.lstsq(gram, rhs, check_finite=False)[0]


# --------------------------------------------------------------------------------------
# Farkas certificates (shared with theory.ntp_svm)
# --------------------------------------------------------------------------------------
def _support_farkas(X: np.ndarray, support: np.ndarray) -> np.ndarray | None:
    r"""Farkas certificate of non-separability of support-constrained margin constraints.

    The system (in :math:`Y\in\mathbb R^{V\times r}`, :math:`c\in\mathbb R^m`)
    :math:`x_j^\top y_z=c_j` (:math:`z\in\mathcal S_j`), :math:`x_j^\top y_v\le c_j-1`
    (:math:`v\notin\mathcal S_j`) is infeasible iff there is :math:`R\in\mathbb R^{m\times V}`
    with :math:`R_{jv}\le0` off-support, free in-support, zero row sums,
    :math:`X^\top R=0` and :math:`\sum_{\rm off}(-R_{jv})=1` (then
    :math:`\sum_j r_jh_j^\top=0` combines margin generators with nonnegative weights and
    equality generators with free weights into zero while the weighted right-hand sides
    sum to 1 > 0). Solved as an LP with HiGHS, minimising :math:`\sum_{\rm in}|R_{jz}|`
    so that few contexts are involved.

    Returns
    -------
    R : ndarray, shape (m, V), or None if the LP finds no certificate (separable).
    """
    m, r = X.shape
    V = support.shape[1]
    sup = support.ravel()
    idx_off = np.flatnonzero(~sup)
    idx_in = np.flatnonzero(sup)
    n_off, n_in = idx_off.size, idx_in.size
    # variable layout: [R_off (n_off), p (n_in), n (n_in)], R_in = p - n
    nvar = n_off + 2 * n_in

    def cols(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        j, v = np.divmod(flat, V)
        return j, v, np.arange(flat.size)

    rows, colsi, vals = [], [], []
    # X^T R = 0 -> row (v, k): sum_j X[j, k] R[j, v]
    for block, sign, offset, flat in ((0, 1.0, 0, idx_off), (1, 1.0, n_off, idx_in), (2, -1.0, n_off + n_in, idx_in)):
        j, v, t = cols(flat)
        rr = (v[:, None] * r + np.arange(r)[None, :]).ravel()
        cc = np.repeat(offset + t, r)
        vv = (sign * X[j, :]).ravel()
        rows.append(rr)
        colsi.append(cc)
        vals.append(vv)
        # row sums: row V*r + j
        rows.append(V * r + j)
        colsi.append(offset + t)
        vals.append(np.full(t.size, sign))
    # normalisation sum_off R = -1
    rows.append(np.full(n_off, V * r + m))
    colsi.append(np.arange(n_off))
    vals.append(np.ones(n_off))
    A = scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(colsi))), shape=(V * r + m + 1, nvar)
    )
    b = np.zeros(V * r + m + 1)
    b[-1] = -1.0
    cost = np.concatenate([np.zeros(n_off), np.ones(2 * n_in)])
    bounds = [(None, 0.0)] * n_off + [(0.0, None)] * (2 * n_in)
    res = scipy.optimize.linprog(cost, A_eq=A, b_eq=b, bounds=bounds, method="highs-ipm")
    if res.status != 0:
        return None
    x = res.x
    R = np.zeros(m * V)
    R[idx_off] = x[:n_off]
    R[idx_in] = x[n_off : n_off + n_in] - x[n_off + n_in :]
    return R.reshape(m, V)


def _involved(R: np.ndarray, rtol: float = 1e-9) -> tuple[int, ...]:
    scale = float(np.abs(R).max())
    return tuple(int(j) for j in np.flatnonzero(np.abs(R).max(axis=1) > rtol * scale))


# --------------------------------------------------------------------------------------
# binary SVM
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BinarySVMResult:
    r"""Hard-margin binary SVM without bias.

    Attributes
    ----------
    w : ndarray, shape (d,)
        :math:`\hat w`.
    margin : float
        :math:`1/\|\hat w\|`, the geometric margin.
    alpha : ndarray, shape (n,)
        Dual variables: :math:`\hat w=\sum_i\alpha_iy_ix_i`, :math:`\alpha\ge0`.
    active : ndarray of int
        Indices with :math:`y_i\hat w^\top x_i-1\le` :data:`ACTIVE_SLACK`.
    support_vectors : ndarray of int
        Indices with :math:`\alpha_i>10^{-9}\max\alpha`.
    solver : str
        ``prob.solver_stats.solver_name`` of the cvxpy solve (``"CLARABEL"``).
    status : str
        cvxpy status.
    solve_time : float
        Wall time of the whole call in seconds.
    polished : bool
        Whether the active-set polish was accepted.
    certificate : KKTCertificate
    """

    w: np.ndarray
    margin: float
    alpha: np.ndarray
    active: np.ndarray
    support_vectors: np.ndarray
    solver: str
    status: str
    solve_time: float
    polished: bool
    certificate: KKTCertificate


def binary_svm(X: Any, y: Any) -> BinarySVMResult:
    r"""Hard-margin SVM through the origin ([S18] eq. 4), with a KKT certificate.

    .. math::

        \hat w=\arg\min_w\ \tfrac12\|w\|^2\quad\text{s.t.}\quad y_i\,w^\top x_i\ge1,\ i\in[n].

    Parameters
    ----------
    X : array_like, shape (n, d)
        Samples as rows.
    y : array_like, shape (n,)
        Labels in {-1, +1}.

    Returns
    -------
    BinarySVMResult

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, labels other than ±1, or data not linearly separable through
        the origin (the message lists the samples of a Farkas certificate: nonnegative
        weights, summing to 1, with :math:`\sum_i\lambda_iy_ix_i=0`).

    Notes
    -----
    Solved with cvxpy + Clarabel (:data:`CLARABEL_OPTIONS`), then polished on the active
    set: with :math:`Z_A` the active rows of :math:`Z=\mathrm{diag}(y)X`,
    :math:`\alpha_A=(Z_AZ_A^\top)^{-1}\mathbf 1` and :math:`\hat w=Z_A^\top\alpha_A`.
    """
    t0 = time.perf_counter()
    X = _as_matrix(X, "X")
    n, d = X.shape
    y = _binary_labels(y, n)
    Z = y[:, None] * X
    import cvxpy as cp

    w = cp.Variable(d)
    con = Z @ w >= 1
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(w)), [con])
    status, solver, _ = _solve_clarabel(prob)
    if status in ("infeasible", "infeasible_inaccurate") or w.value is None:
        _raise_nonseparable_binary(X, y, status)
    if status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"Clarabel returned status {status!r} on the binary SVM")
    w_raw = np.asarray(w.value, dtype=float)
    a_raw = np.maximum(np.asarray(con.dual_value, dtype=float), 0.0)
    w_fin, alpha, polished = w_raw, a_raw, False
    act = np.flatnonzero(Z @ w_raw - 1.0 <= ACTIVE_SLACK)
    if act.size:
        ZA = Z[act]
        mu = _min_norm_on_active(ZA @ ZA.T, np.ones(act.size))
        w_pol = ZA.T @ mu
        scale = max(1.0, float(np.abs(mu).max()))
        if mu.min() >= -1e-9 * scale and (Z @ w_pol).min() >= 1.0 - 1e-9:
            alpha = np.zeros(n)
            alpha[act] = np.maximum(mu, 0.0)
            w_fin, polished = w_pol, True
    margins = Z @ w_fin
    cert = _certificate(margins, alpha, w_fin, Z.T @ alpha)
    active = np.flatnonzero(margins - 1.0 <= ACTIVE_SLACK)
    sv = np.flatnonzero(alpha > 1e-9 * max(float(alpha.max()), np.finfo(float).tiny))
    return BinarySVMResult(
        w=w_fin,
        margin=1.0 / float(np.linalg.norm(w_fin)),
        alpha=alpha,
        active=active,
        support_vectors=sv,
        solver=solver,
        status=status,
        solve_time=time.perf_counter() - t0,
        polished=polished,
        certificate=cert,
    )


def _raise_nonseparable_binary(X: np.ndarray, y: np.ndarray, status: str) -> None:
    support = np.zeros((X.shape[0], 2), dtype=bool)
    support[np.arange(X.shape[0]), (y > 0).astype(int)] = True
    R = _support_farkas(X, support)
    detail = ""
    if R is not None:
        lam = np.abs(R).max(axis=1)
        idx = _involved(R)
        lam = lam / lam[list(idx)].sum()
        detail = (
            f"; Farkas certificate: samples {list(idx)} with weights "
            f"{[round(float(lam[i]), 6) for i in idx]} satisfy sum_i lambda_i y_i x_i = 0"
        )
    raise ValueError(
        f"X, y are not linearly separable through the origin (no w with y_i w^T x_i >= 1; "
        f"Clarabel status {status!r}){detail}"
    )


# --------------------------------------------------------------------------------------
# multiclass SVM
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MulticlassSVMResult:
    r"""K-class hard-margin SVM without bias ([S18] §4).

    Attributes
    ----------
    W : ndarray, shape (K, d)
        :math:`\hat W` (row k is :math:`\hat w_k`).
    margin : float
        :math:`1/\|\hat W\|_F`.
    alpha : ndarray, shape (n, K)
        Dual variables :math:`\alpha_{ik}\ge0` of the constraints
        :math:`(w_{y_i}-w_k)^\top x_i\ge1` (0 at :math:`k=y_i`):
        :math:`\hat W=\sum_{i,k}\alpha_{ik}(e_{y_i}-e_k)x_i^\top`.
    active : ndarray of int, shape (n_active, 2)
        Pairs (i, k) with slack at most :data:`ACTIVE_SLACK`.
    solver, status, solve_time, polished, certificate
        As in :class:`BinarySVMResult`.
    """

    W: np.ndarray
    margin: float
    alpha: np.ndarray
    active: np.ndarray
    solver: str
    status: str
    solve_time: float
    polished: bool
    certificate: KKTCertificate


def _pair_gram(i: np.ndarray, a: np.ndarray, b: np.ndarray, G: np.ndarray) -> np.ndarray:
    r"""Gram matrix of generators :math:`(e_a-e_b)x_i^\top`: :math:`(e_a-e_b)^\top(e_{a'}-e_{b'})\,G_{ii'}`."""
    coef = (
        (a[:, None] == a[None, :]).astype(float)
        - (a[:, None] == b[None, :])
        - (b[:, None] == a[None, :])
        + (b[:, None] == b[None, :])
    )
    return coef * G[np.ix_(i, i)]


def multiclass_svm(X: Any, y: Any, K: int | None = None) -> MulticlassSVMResult:
    r"""K-class hard-margin SVM without bias ([S18] §4, Thm 7), with a KKT certificate.

    .. math::

        \hat W=\arg\min_{W\in\mathbb R^{K\times d}}\ \tfrac12\|W\|_F^2\quad\text{s.t.}\quad
        (w_{y_i}-w_k)^\top x_i\ge1\quad\forall i,\ \forall k\ne y_i.

    This is [T24]'s NTP-SVM with one-hot supports, and the hard-margin limit of
    Crammer-Singer's multiclass SVM (scikit-learn ``LinearSVC(multi_class="crammer_singer",
    fit_intercept=False)`` with large C).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Samples as rows.
    y : array_like of int, shape (n,)
        Labels in ``0..K-1``.
    K : int, optional
        Number of classes (>= 2); default ``max(y) + 1`` (at least 2). Classes without
        samples still get constraints (every sample must beat them by 1).

    Returns
    -------
    MulticlassSVMResult

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, labels outside ``0..K-1``, or data not multiclass-separable
        through the origin (the message names the samples of a Farkas certificate).
    """
    t0 = time.perf_counter()
    X = _as_matrix(X, "X")
    n, d = X.shape
    y, K = _class_labels(y, n, K)
    import cvxpy as cp

    ii, kk = np.nonzero(np.arange(K)[None, :] != y[:, None])
    W = cp.Variable((K, d))
    Lg = X @ W.T
    con = Lg[ii, y[ii]] - Lg[ii, kk] >= 1
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(W)), [con])
    status, solver, _ = _solve_clarabel(prob)
    if status in ("infeasible", "infeasible_inaccurate") or W.value is None:
        support = np.zeros((n, K), dtype=bool)
        support[np.arange(n), y] = True
        R = _support_farkas(X, support)
        detail = ""
        if R is not None:
            detail = (
                f"; a Farkas certificate combines the margin constraints of samples {list(_involved(R))} "
                f"into 0 >= 1"
            )
        raise ValueError(
            f"X, y are not multiclass-separable through the origin (no W with (w_y - w_k)^T x_i >= 1; "
            f"Clarabel status {status!r}){detail}"
        )
    if status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"Clarabel returned status {status!r} on the multiclass SVM")
    W_raw = np.asarray(W.value, dtype=float)
    a_raw = np.maximum(np.asarray(con.dual_value, dtype=float), 0.0)

    def margins_of(Wm: np.ndarray) -> np.ndarray:
        L = X @ Wm.T
        return L[ii, y[ii]] - L[ii, kk]

    def gen_sum(lam: np.ndarray) -> np.ndarray:
        A = np.zeros((n, K))
        np.add.at(A, (ii, y[ii]), lam)
        np.add.at(A, (ii, kk), -lam)
        return A.T @ X

    W_fin, lam, polished = W_raw, a_raw, False
    act = np.flatnonzero(margins_of(W_raw) - 1.0 <= ACTIVE_SLACK)
    if act.size:
        G = X @ X.T
        gram = _pair_gram(ii[act], y[ii[act]], kk[act], G)
        mu = _min_norm_on_active(gram, np.ones(act.size))
        lam_pol = np.zeros(ii.size)
        lam_pol[act] = mu
        W_pol = gen_sum(lam_pol)
        scale = max(1.0, float(np.abs(mu).max()))
        if mu.min() >= -1e-9 * scale and margins_of(W_pol).min() >= 1.0 - 1e-9:
            W_fin, lam, polished = W_pol, np.maximum(lam_pol, 0.0), True
    marg = margins_of(W_fin)
    cert = _certificate(marg, lam, W_fin, gen_sum(lam))
    alpha = np.zeros((n, K))
    alpha[ii, kk] = lam
    sel = marg - 1.0 <= ACTIVE_SLACK
    return MulticlassSVMResult(
        W=W_fin,
        margin=1.0 / float(np.linalg.norm(W_fin)),
        alpha=alpha,
        active=np.stack([ii[sel], kk[sel]], axis=1),
        solver=solver,
        status=status,
        solve_time=time.perf_counter() - t0,
        polished=polished,
        certificate=cert,
    )


# --------------------------------------------------------------------------------------
# second-order term w-tilde
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WTildeResult:
    r"""The finite offset :math:`\tilde w` of GD on separable data ([S18] Thm 3).

    Attributes
    ----------
    w_tilde : ndarray, shape (d,) (binary) or (K, d) (multiclass)
        :math:`\tilde w=\tilde w_{\mathcal S}+\tilde w_0`, the limit of
        :math:`w(t)-\hat w\log t`.
    w_hat : ndarray, same shape
        The hard-margin SVM solution.
    determined : ndarray, same shape
        :math:`\tilde w_{\mathcal S}`: the part fixed by the support-vector equations (in the
        span of the support-vector generators).
    from_init : ndarray, same shape
        :math:`\tilde w_0`: the projection of the initialisation onto the orthogonal
        complement of the span of all constraint generators (GD never moves it).
    alpha : ndarray
        SVM dual variables ((n,) binary, (n, K) multiclass).
    support : ndarray of int
        Support-vector indices (binary) or (i, k) pairs (multiclass, shape (s, 2)).
    lr : float
        Step size the offset refers to (GD on the **summed** loss).
    equation_residual : float
        :math:`\max_{\mathcal S}|\eta\exp(-\langle g_s,\tilde w\rangle)/\alpha_s-1|`.
    """

    w_tilde: np.ndarray
    w_hat: np.ndarray
    determined: np.ndarray
    from_init: np.ndarray
    alpha: np.ndarray
    support: np.ndarray
    lr: float
    equation_residual: float


def _rank(A: np.ndarray, rtol: float = 1e-10) -> int:
    if A.size == 0:
        return 0
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s[0] > 0 else 0


def _wtilde_checks(gens: np.ndarray, alpha_s: np.ndarray, n_active: int, full_dim: int, what: str) -> None:
    if n_active != alpha_s.size:
        raise ValueError(
            f"strict complementarity fails: {n_active} {what} constraints are active but only "
            f"{alpha_s.size} have a positive SVM multiplier (a degenerate, measure-zero data set); "
            f"[S18]'s almost-every-data formula for w_tilde does not apply"
        )
    r = _rank(gens)
    if r != gens.shape[0]:
        raise ValueError(
            f"the {gens.shape[0]} support-vector generators are linearly dependent (rank {r}); the "
            f"equations eta*exp(-<g_s, w_tilde>) = alpha_s need not have a solution (not almost-every data)"
        )
    if r != full_dim:
        raise ValueError(
            f"the support vectors span a subspace of dimension {r} < {full_dim}, the span of the data's "
            f"constraint generators: the component of lim(w(t) - w_hat log t) outside the support-vector "
            f"span is fixed by the whole GD trajectory (summed non-support-vector gradients), not by a "
            f"closed form. w_tilde is only implemented when the support vectors span the data ([S18] Thm 3)"
        )


def binary_w_tilde(X: Any, y: Any, lr: float, w0: Any = None) -> WTildeResult:
    r"""Second-order term :math:`\tilde w` of GD on separable binary data ([S18] Thm 3).

    For GD :math:`w(t+1)=w(t)-\eta\nabla\mathcal L(w(t))` on the **summed** loss
    :math:`\mathcal L(w)=\sum_i\ell(y_iw^\top x_i)` with an exponential tail
    :math:`-\ell'(u)\sim e^{-u}` (logistic :math:`\log(1+e^{-u})` and exponential
    :math:`e^{-u}` alike), [S18] Thm 3 states :math:`w(t)=\hat w\log t+\rho(t)` with
    :math:`\rho` bounded for almost every data set; its proof works with the vector
    :math:`\tilde w` defined by

    .. math::

        \eta\,\exp(-y_s x_s^\top\tilde w)=\alpha_s\quad\text{for every support vector }s,

    with :math:`\alpha` the SVM dual variables (:math:`\hat w=\sum_s\alpha_sy_sx_s`), and
    :math:`\rho(t)\to\tilde w` when the support vectors span the data. [The exact
    theorem text could not be retrieved here; the equations below were re-derived (Notes)
    and are confirmed numerically by GD in ``tests/theory/test_maxmargin.py``, where
    :math:`\|w(t)-\hat w\log t-\tilde w\|` decays at the predicted rate.]

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    lr : float
        GD step size :math:`\eta` on the summed loss. For the **mean** loss
        :math:`\frac1n\sum_i\ell` pass ``lr / n``.
    w0 : array_like, shape (d,), optional
        GD initialisation (default 0). Only its component orthogonal to the span of the
        data enters :math:`\tilde w` (GD never changes it).

    Returns
    -------
    WTildeResult

    Raises
    ------
    ValueError
        Bad input, non-separable data, or a violated almost-every-data assumption:
        strict complementarity (every active constraint has :math:`\alpha_s>0`),
        linearly independent support vectors, support vectors spanning the data.

    Notes
    -----
    Derivation sketch [derived, matching [S18] §3]: inserting
    :math:`w(t)=\hat w\log t+\tilde w+r(t)` in the GD update, the support-vector terms of
    the gradient are :math:`\eta e^{-y_sx_s^\top\tilde w}y_sx_s/t` and must equal
    :math:`\hat w/t=\sum_s\alpha_sy_sx_s/t`; non-support vectors contribute
    :math:`O(t^{-\theta})`, :math:`\theta>1`, which is summable. The logistic loss's
    :math:`-\ell'(u)=e^{-u}+O(e^{-2u})` differs from the exponential's by :math:`O(t^{-2})`,
    also summable, so both losses share :math:`\tilde w`. The equations fix
    :math:`\tilde w` only inside the support-vector span; this function requires that
    span to be the whole span of the data, so the remaining part is the initialisation's
    component orthogonal to the data, which GD never moves. Convergence
    :math:`r(t)\to0` is polynomial in t (linearising, :math:`r` decays like
    :math:`t^{-\lambda}` with :math:`\lambda` the smallest eigenvalue of
    :math:`\sum_s\alpha_s z_sz_s^\top` on the span, and like :math:`t^{1-\theta}`).
    """
    lr = _positive_float(lr, "lr")
    X = _as_matrix(X, "X")
    n, d = X.shape
    svm = binary_svm(X, y)
    yy = _binary_labels(y, n)
    Z = yy[:, None] * X
    w0 = np.zeros(d) if w0 is None else _as_vector(w0, "w0", d)
    sv = svm.support_vectors
    _wtilde_checks(Z[sv], svm.alpha[sv], svm.active.size, _rank(Z), "margin")
    rhs = np.log(lr / svm.alpha[sv])
    det = Z[sv].T @ scipy.linalg.solve(Z[sv] @ Z[sv].T, rhs, assume_a="pos")  # min-norm: in the span
    U = scipy.linalg.orth(Z.T)
    init = w0 - U @ (U.T @ w0)
    w_t = det + init
    res = float(np.max(np.abs(lr * np.exp(-(Z[sv] @ w_t)) / svm.alpha[sv] - 1.0)))
    return WTildeResult(
        w_tilde=w_t,
        w_hat=svm.w,
        determined=det,
        from_init=init,
        alpha=svm.alpha,
        support=sv,
        lr=lr,
        equation_residual=res,
    )


def _as_vector(x: Any, name: str, d: int) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.shape != (d,):
        raise ValueError(f"{name} must have shape ({d},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def multiclass_w_tilde(X: Any, y: Any, lr: float, K: int | None = None, W0: Any = None) -> WTildeResult:
    r"""Second-order term :math:`\tilde W` of GD on multiclass cross-entropy ([S18] §4 analogue).

    GD :math:`W(t+1)=W(t)-\eta\nabla\mathcal L(W(t))` on the **summed** cross-entropy
    :math:`\mathcal L(W)=\sum_i\log\big(1+\sum_{k\ne y_i}e^{-(w_{y_i}-w_k)^\top x_i}\big)`
    satisfies :math:`W(t)=\hat W\log t+\rho(t)` with :math:`\hat W` the K-class SVM
    ([S18] Thm 7). With generators :math:`g_{ik}=(e_{y_i}-e_k)x_i^\top` the gradient is
    :math:`-\sum_{i,k}\mathbb S_k(Wx_i)g_{ik}`, and :math:`\mathbb S_k(Wx_i)=
    e^{-\langle g_{ik},W\rangle}(1+O(1/t))` in the tail, so Kesler's construction turns the
    binary argument into

    .. math::

        \eta\,\exp(-\langle g_{ik},\tilde W\rangle)=\alpha_{ik}\quad\text{for every support
        pair }(i,k),

    with :math:`\alpha` the multiclass SVM multipliers. [derived: [S18] state Thm 7 for the
    direction and a bounded residual; the explicit :math:`\tilde W` is the Kesler analogue of
    their binary equation.]

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like of int, shape (n,)
        Labels in ``0..K-1``.
    lr : float
        Step size on the summed loss (``lr / n`` for the mean loss).
    K : int, optional
        Number of classes.
    W0 : array_like, shape (K, d), optional
        Initialisation (default 0). Its part outside
        :math:`\{W:\mathbf 1^\top W=0,\ \text{rows in span}(X)\}` (the span of all
        generators) is never changed by GD and is added to :math:`\tilde W`.

    Returns
    -------
    WTildeResult
        ``support`` holds the (i, k) support pairs, ``alpha`` the (n, K) multipliers.

    Raises
    ------
    ValueError
        As :func:`binary_w_tilde`; the spanning condition reads: the support-pair generators
        span the :math:`(K-1)\,\mathrm{rank}(X)`-dimensional span of all generators.
    """
    lr = _positive_float(lr, "lr")
    X = _as_matrix(X, "X")
    n, d = X.shape
    yy, K = _class_labels(y, n, K)
    svm = multiclass_svm(X, yy, K)
    W0 = np.zeros((K, d)) if W0 is None else _as_matrix(W0, "W0")
    if W0.shape != (K, d):
        raise ValueError(f"W0 must have shape (K, d) = ({K}, {d}), got {W0.shape}")
    a = svm.alpha
    scale = max(float(a.max()), np.finfo(float).tiny)
    si, sk = np.nonzero(a > 1e-9 * scale)
    gens = np.zeros((si.size, K, d))
    gens[np.arange(si.size), yy[si], :] += X[si]
    gens[np.arange(si.size), sk, :] -= X[si]
    gens = gens.reshape(si.size, K * d)
    rX = _rank(X)
    _wtilde_checks(gens, a[si, sk], svm.active.shape[0], (K - 1) * rX, "pair")
    rhs = np.log(lr / a[si, sk])
    mu = scipy.linalg.solve(gens @ gens.T, rhs, assume_a="pos")
    det = (gens.T @ mu).reshape(K, d)
    U = scipy.linalg.orth(X.T)
    C = np.eye(K) - 1.0 / K
    init = W0 - C @ W0 @ U @ U.T
    W_t = det + init
    res = float(np.max(np.abs(lr * np.exp(-(gens @ W_t.ravel())) / a[si, sk] - 1.0)))
    return WTildeResult(
        w_tilde=W_t,
        w_hat=svm.W,
        determined=det,
        from_init=init,
        alpha=a,
        support=np.stack([si, sk], axis=1),
        lr=lr,
        equation_residual=res,
    )


def constraint_generators(X: np.ndarray, y: np.ndarray, K: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All margin-constraint generators as flat vectors.

    Returns
    -------
    G : ndarray, shape (n_con, p)
        Binary (K None): rows :math:`y_nx_n` (p = d). Multiclass: rows
        :math:`\\mathrm{vec}((e_{y_n}-e_k)x_n^\\top)` for k ≠ y_n (p = K d).
    sample : ndarray of int, shape (n_con,)
        Sample index n of each constraint.
    cls : ndarray of int, shape (n_con,)
        The competing class k (-1 for binary).
    """
    n, d = X.shape
    if K is None:
        return y[:, None] * X, np.arange(n), np.full(n, -1)
    ii, kk = np.nonzero(np.arange(K)[None, :] != y[:, None])
    G = np.zeros((ii.size, K, d))
    G[np.arange(ii.size), y[ii]] += X[ii]
    G[np.arange(ii.size), kk] -= X[ii]
    return G.reshape(ii.size, K * d), ii, kk


def soudry_predictions(G: np.ndarray, alpha: np.ndarray, W_hat: np.ndarray, W_tilde: np.ndarray,
                       lr_eff: float) -> dict:
    r"""Leading constants and the residual rate of GD on separable one-hot data ([S18] asymptotics).

    [derived] Inserting :math:`W_k=\hat W\log k+\tilde W` into the loss, the direction, the
    margin and the norm, with :math:`\eta_\Sigma e^{-\langle g_s,\tilde W\rangle}=\alpha_s` on the
    support constraints and :math:`\hat W=\sum_s\alpha_sg_s`:

    * :math:`k\,\mathcal L(W_k)\to\|\hat W\|^2/\eta` (mean loss, step :math:`\eta`);
    * :math:`\log k\,\|W_k/\|W_k\|-\hat W/\|\hat W\|\|\to\|P_\perp\tilde W\|/\|\hat W\|`;
    * :math:`\log k\,(1/\|\hat W\|-\min_n\langle g_n,W_k\rangle/\|W_k\|)\to
      (\max_s\log\alpha_s-\sum_s\alpha_s\log\alpha_s/\sum_s\alpha_s)/\|\hat W\|`;
    * :math:`\|W_k\|-\|\hat W\|\log k\to\langle\hat W,\tilde W\rangle/\|\hat W\|`;
    * :math:`\|W_k-\hat W\log k-\tilde W\|=O(k^{-\rho})`,
      :math:`\rho=\min(\lambda_{\min}(M),\theta-1,1)`, :math:`M=\sum_s\alpha_sg_sg_s^\top`,
      :math:`\theta` the smallest non-support margin (the one-hot case of
      :func:`theory.ntp_asymptotics.ntp_w_tilde`'s exponent).

    Parameters
    ----------
    G : ndarray, shape (n_con, p)
        Constraint generators (:func:`constraint_generators`).
    alpha : ndarray, shape (n_con,)
        SVM multipliers of those constraints.
    W_hat : ndarray, p entries in any shape
        The hard-margin SVM solution.
    W_tilde : ndarray, same shape as ``W_hat``
        The second-order term for step ``lr_eff`` on the mean loss.
    lr_eff : float
        GD step on the mean loss in the panel's units.

    Returns
    -------
    dict of float and lists
        ``loss_times_k`` (:math:`\\|\\hat W\\|^2/\\eta`), ``direction_times_log_k``,
        ``one_minus_cos_times_log2_k``, ``margin_gap_times_log_k``, ``norm_offset``,
        ``M_eigenvalues``, ``lambda_min``, ``theta`` (smallest inactive margin),
        ``residual_rate`` :math:`\\rho`.
    """
    G = np.asarray(G, dtype=np.float64)
    w = np.asarray(W_hat, dtype=np.float64).ravel()
    wt = np.asarray(W_tilde, dtype=np.float64).ravel()
    nw = float(np.linalg.norm(w))
    u = w / nw
    a = np.asarray(alpha, dtype=np.float64)
    if G.ndim != 2 or G.shape[1] != w.size or a.shape != (G.shape[0],):
        raise ValueError(f"G must be (n_con, {w.size}) and alpha (n_con,), got {G.shape} and {a.shape}")
    sup = a > 1e-9 * a.max()
    a_s, G_s = a[sup], G[sup]
    perp = wt - (u @ wt) * u
    c_dir = float(np.linalg.norm(perp)) / nw
    c_margin = float(np.log(a_s).max() - (a_s @ np.log(a_s)) / a_s.sum()) / nw
    sq = np.sqrt(a_s)
    lam = np.linalg.eigvalsh((sq[:, None] * (G_s @ G_s.T)) * sq[None, :])
    inactive = (G @ w)[~sup]
    theta = float(inactive.min()) if inactive.size else float("inf")
    lam_min = float(lam.min())
    return {
        "loss_times_k": nw**2 / lr_eff,
        "direction_times_log_k": c_dir,
        "one_minus_cos_times_log2_k": 0.5 * c_dir**2,
        "margin_gap_times_log_k": c_margin,
        "norm_offset": float(u @ wt),
        "M_eigenvalues": lam.tolist(),
        "lambda_min": lam_min,
        "theta": theta,
        "residual_rate": float(min(lam_min, theta - 1.0, 1.0)),
    }
