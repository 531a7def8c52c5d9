r"""NTP-separability and the NTP-SVM max-margin direction :math:`W^{mm}`, with certificates.

Implements the max-margin side of

    [T24] C. Thrampoulidis, *Implicit Optimization Bias of Next-Token Prediction in Linear
    Models*, NeurIPS 2024, arXiv 2402.18551 (Defs. 2-3, Lemma 1),

and the logit-space ("unconstrained features") view of

    [Z24] Y. Zhao, T. Behnia, V. Vakilian, C. Thrampoulidis, *Implicit Geometry of
    Next-token Prediction*, arXiv 2408.15417.

Conventions (spec ``ntp_implicit_bias.md`` §1): the functions accept any object ``data``
with attributes ``H`` (shape (m, d), rows :math:`\bar h_j`) and ``P`` (shape (m, V),
supports :math:`\mathcal S_j=\{z:P_{jz}>0\}`), e.g. :class:`theory.ntp.NTPData`; only the
supports matter here. ``W`` has shape (V, d) and the logits are ``H @ W.T`` (m, V).
The anchor :math:`z_j` of context j is its most probable token (smallest id on ties), as
in :class:`theory.ntp.NTPData`.

Dual representation used throughout. Every feasible direction of the NTP-SVM dual is a
matrix :math:`R\in\mathbb R^{m\times V}` with

.. math::

    W=\sum_j r_j\bar h_j^\top=R^\top H,\qquad R_{jv}=-\lambda_{jv}\le0\ (v\notin\mathcal S_j),
    \qquad \sum_v R_{jv}=0,

i.e. the combination :math:`\sum_{j,v}\lambda_{jv}(e_{z_j}-e_v)\bar h_j^\top+
\sum_{j,z\ne z_j}\beta_{jz}(e_{z_j}-e_z)\bar h_j^\top` of margin generators (multipliers
:math:`\lambda\ge0`) and anchored equality generators (free :math:`\beta_{jz}=-R_{jz}`).
The dual of the NTP-SVM is :math:`\max_R\ \sum_{\rm off}\lambda_{jv}-\tfrac12\|R^\top H\|^2`
over that cone [derived]; it only involves :math:`G=HH^\top`.

Module map: :func:`max_margin_direction` (two independent solvers),
:func:`check_separability`, :func:`nonseparable_instance`, and the logit-space
functions :func:`centered_support_matrix`, :func:`nuclear_norm_max_margin_logits`,
:func:`sparse_plus_low_rank`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse
from threadpoolctl import threadpool_limits

from theory._validation import as_choice, as_int, as_real_array, check_memory
from theory.margin import (
    ACCEPT_KKT_TOL,
    ACTIVE_SLACK,
    ClarabelPoint,
    KKTCertificate,
    MarginSolverError,
    NotSeparableError,
    PairRows,
    involved_rows,
    kkt_certificate,
    power_of_two_scale,
    solve_clarabel,
    solve_margin,
    support_farkas,
)

__all__ = [
    "SOLVERS",
    "AUTO_CLARABEL_MAX_NNZ",
    "NTPRows",
    "NTPMaxMarginResult",
    "FarkasCertificate",
    "SeparabilityResult",
    "SupportData",
    "NuclearMaxMarginResult",
    "LogitSplit",
    "max_margin_direction",
    "check_separability",
    "nonseparable_instance",
    "centered_support_matrix",
    "nuclear_norm_max_margin_logits",
    "sparse_plus_low_rank",
]

#: Accepted values of ``solver`` in :func:`max_margin_direction`.
SOLVERS = ("auto", "clarabel", "dual")

#: ``solver="auto"`` runs Clarabel while the primal's constraint matrix has at most this
#: many nonzeros, estimated as m V min(m, d) / 2 (the solver writes L = X Y^T with
#: triangular X), and the dual solver above. Measured (bench/results/ntp_svm.md and the
#: ntp_text experiment): Clarabel takes 0.7 s at (m, d, V) = (50, 60, 10) (1.25e4
#: nonzeros), 11 s at (100, 101, 69) (3.5e5) and 71 s at (200, 201, 100) (2.0e6), where
#: the dual solver takes 0.02-0.2 s. 5e5 keeps Clarabel (the reference solver of every
#: stored experiment that relies on the default) up to ~15 s.
AUTO_CLARABEL_MAX_NNZ = 5e5

#: When one solver fails its certificate the other is tried; Clarabel only up to this many
#: estimated nonzeros (beyond it cvxpy's problem alone needs gigabytes).
RETRY_CLARABEL_MAX_NNZ = 5e6

#: Largest number of active rows for which the Clarabel polish forms the dense Gram
#: matrix of the active generators (memory ~ 8 * GRAM_LIMIT**2 bytes); above it the
#: structured equality solve of the dual solver is used.
GRAM_LIMIT = 6000

#: Clarabel tolerances for the nuclear-norm SDP (tighter ones end "inaccurate").
SDP_OPTIONS = dict(tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)

#: Largest LP (nonzeros ~ m V (rank + 1)) that the dual solver runs up front to decide
#: separability when rank(H) < m; larger rank-deficient problems are attempted directly
#: (a valid KKT point proves separability) and the LP only runs if the solver fails.
LP_PRECHECK_NNZ = 2e6

#: Relative eigenvalue threshold below which G = H H^T is treated as singular
#: (rank(H) < m), so that separability is not implied by Lemma 1 and is checked by LP.
RANK_RTOL = 1e-10


# --------------------------------------------------------------------------------------
# problem set-up
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Problem:
    H: np.ndarray
    support: np.ndarray
    anchors: np.ndarray

    @property
    def off(self) -> np.ndarray:
        return ~self.support


def _problem(data: Any, name: str = "data") -> _Problem:
    """Validate a duck-typed data object (attributes H, P) and extract the supports."""
    if not (hasattr(data, "H") and hasattr(data, "P")):
        raise TypeError(
            f"{name} must have attributes H (shape (m, d), context embeddings as rows) and P "
            f"(shape (m, V), next-token probabilities), e.g. theory.ntp.NTPData; got {type(data).__name__}"
        )
    H = as_real_array(data.H, f"{name}.H", ndim=2)
    P = as_real_array(data.P, f"{name}.P", ndim=2)
    m = H.shape[0]
    if P.shape[0] != m:
        raise ValueError(
            f"{name}.P has {P.shape[0]} rows but {name}.H has {m}; P must have shape (m, V) = ({m}, V)"
        )
    if P.shape[1] < 2:
        raise ValueError(f"{name}.P must have at least 2 columns (V >= 2), got shape {P.shape}")
    neg = np.argwhere(P < 0)
    if neg.size:
        j, v = (int(t) for t in neg[0])
        raise ValueError(f"{name}.P must be nonnegative; {name}.P[{j}, {v}] = {P[j, v]!r}")
    support = P > 0
    empty = np.flatnonzero(~support.any(axis=1))
    if empty.size:
        raise ValueError(f"row {int(empty[0])} of {name}.P has no positive entry (empty support)")
    if support.all():
        raise ValueError(
            f"every context of {name} has the whole vocabulary as support: there are no margin "
            f"constraints (6b) and no max-margin direction; some S_j < V is required"
        )
    anchors = np.argmax(np.where(support, P, -1.0), axis=1)
    return _Problem(H=H, support=support, anchors=anchors)


def _support_arg(support: Any, name: str = "support") -> np.ndarray:
    """Boolean (m, V) support from a bool/0-1 array, a probability array, or an object with P."""
    if hasattr(support, "P"):
        support = np.asarray(support.P) > 0
    arr = np.asarray(support)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (m, V) array (or an object with attribute P), got shape {arr.shape}")
    if arr.dtype == bool:
        S = arr.copy()
    else:
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be boolean or numeric, got dtype {arr.dtype}")
        if not np.all(np.isfinite(arr)) or (arr < 0).any():
            raise ValueError(f"{name} must be finite and nonnegative (a 0/1 pattern or probabilities)")
        S = arr > 0
    if S.shape[1] < 2:
        raise ValueError(f"{name} must have V >= 2 columns, got shape {S.shape}")
    if not S.any(axis=1).all():
        raise ValueError(f"row {int(np.flatnonzero(~S.any(axis=1))[0])} of {name} is empty")
    if S.all():
        raise ValueError(f"{name} covers the whole vocabulary in every row: no margin constraints")
    return S


# --------------------------------------------------------------------------------------
# certificates
# --------------------------------------------------------------------------------------
def _anchored(R: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """R with each anchor entry rebuilt from the others (the anchored-generator combination)."""
    Rg = R.copy()
    rows = np.arange(R.shape[0])
    Rg[rows, anchors] = 0.0
    Rg[rows, anchors] = -Rg.sum(axis=1)
    return Rg


def _ntp_certificate(pb: _Problem, W: np.ndarray, R: np.ndarray) -> KKTCertificate:
    r"""KKT certificate of (W, R) for the NTP-SVM (anchored form, see module docstring)."""
    H, sup = pb.H, pb.support
    L = H @ W.T
    hi = np.where(sup, L, -np.inf).max(axis=1)
    lo = np.where(sup, L, np.inf).min(axis=1)
    off = pb.off
    jo, vo = np.nonzero(off)
    margins = lo[jo] - L[jo, vo]  # worst in-support token against v
    lam = -R[jo, vo]
    W_gen = _anchored(R, pb.anchors).T @ H
    return kkt_certificate(
        margins,
        lam,
        W,
        W_gen,
        equality_residual=float(np.max(hi - lo)),
        equality_scale=max(1.0, float(np.abs(L).max())),
    )


# --------------------------------------------------------------------------------------
# result object
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NTPMaxMarginResult:
    r"""The NTP-SVM solution :math:`W^{mm}` ([T24] Def. 3) with duals and a KKT certificate.

    Attributes
    ----------
    W : ndarray, shape (V, d)
        :math:`W^{mm}`.
    margin : float
        NTP-margin :math:`1/\|W^{mm}\|_F`.
    norm : float
        :math:`\|W^{mm}\|_F`.
    active : ndarray of int, shape (n_active, 2)
        Pairs (j, v), :math:`v\notin\mathcal S_j`, whose margin constraints are tight
        (slack :math:`\le` :data:`theory.maxmargin.ACTIVE_SLACK`). Given the equalities
        (6a), (j, v) is tight for every :math:`z\in\mathcal S_j` at once; see
        :attr:`active_triples`.
    ineq_multipliers : ndarray, shape (m, V)
        :math:`\lambda_{jv}\ge0` of the margin constraints in anchored form
        :math:`(e_{z_j}-e_v)^\top W\bar h_j\ge1` (0 in-support). The multipliers of the
        redundant triples (j, z, v) are not unique; :math:`\lambda_{jv}` is their sum over
        :math:`z\in\mathcal S_j` (equivalently the anchored choice
        :math:`\alpha_{j,z_j,v}=\lambda_{jv}`, :math:`\alpha_{j,z,v}=0` for
        :math:`z\ne z_j`).
    eq_multipliers : ndarray, shape (m, V)
        :math:`\beta_{jz}` of the anchored equalities :math:`(e_{z_j}-e_z)^\top W\bar h_j=0`,
        :math:`z\in\mathcal S_j\setminus\{z_j\}` (0 elsewhere).
    anchors : ndarray of int, shape (m,)
        Anchor tokens :math:`z_j`.
    coefficients : ndarray, shape (m, V)
        :math:`R` with :math:`W=R^\top H` (stationarity), :math:`R_{jv}=-\lambda_{jv}`
        off-support, :math:`R_{jz}=-\beta_{jz}` in-support, zero row sums.
    common_logits : ndarray, shape (m,)
        The common in-support logit :math:`c_j` of each context.
    solver : str
        ``"CLARABEL"`` (``prob.solver_stats.solver_name``) or ``"dual-fista-pdas"``.
    method : str
        The method that produced W: ``"clarabel"`` or ``"dual"``.
    solve_time : float
        Wall time of the call in seconds.
    iterations : int
        Interior-point iterations (Clarabel) or FISTA + active-set iterations (dual).
    polished : bool
        Whether the returned point comes from the active-set equality solve.
    certificate : KKTCertificate
    support : ndarray of bool, shape (m, V)
        ``P > 0``.
    W_unpolished : ndarray or None
        Clarabel's own solution before polishing (``None`` for the dual solver).
    notes : str
    choice : str
        Which solver ran and why (``solver="auto"``'s size rule, or a retry after the
        other solver failed its certificate).
    scale : float
        Power of two H was divided by before solving (1.0: as given); W, multipliers and
        margin are mapped back, the certificate is that of the problem solved (all its
        residuals are relative).
    """

    W: np.ndarray
    margin: float
    norm: float
    active: np.ndarray
    ineq_multipliers: np.ndarray
    eq_multipliers: np.ndarray
    anchors: np.ndarray
    coefficients: np.ndarray
    common_logits: np.ndarray
    solver: str
    method: str
    solve_time: float
    iterations: int
    polished: bool
    certificate: KKTCertificate
    support: np.ndarray
    W_unpolished: np.ndarray | None = None
    notes: str = ""
    choice: str = ""
    scale: float = 1.0

    @property
    def active_triples(self) -> np.ndarray:
        """Tight margin constraints as (j, z, v) triples, shape (n, 3), one per z in S_j."""
        r, z = np.nonzero(self.support[self.active[:, 0]])
        return np.stack([self.active[r, 0], z, self.active[r, 1]], axis=1).astype(np.int64)

    def __post_init__(self) -> None:
        for name in (
            "W", "active", "ineq_multipliers", "eq_multipliers", "anchors", "coefficients", "common_logits",
            "support", "W_unpolished",
        ):
            arr = getattr(self, name)
            if isinstance(arr, np.ndarray):
                arr.setflags(write=False)


def _result(
    pb: _Problem,
    W: np.ndarray,
    R: np.ndarray,
    *,
    solver: str,
    method: str,
    t0: float,
    iterations: int,
    polished: bool,
    W_unpolished: np.ndarray | None = None,
    notes: str = "",
    certificate: KKTCertificate | None = None,
) -> NTPMaxMarginResult:
    sup, off = pb.support, pb.off
    L = pb.H @ W.T
    c = np.where(sup, L, 0.0).sum(axis=1) / sup.sum(axis=1)
    slack = c[:, None] - 1.0 - L
    act = np.argwhere(off & (slack <= ACTIVE_SLACK))
    lam = np.where(off, -R, 0.0)
    beta = np.where(sup, -R, 0.0)
    beta[np.arange(pb.H.shape[0]), pb.anchors] = 0.0
    cert = _ntp_certificate(pb, W, R) if certificate is None else certificate
    nrm = float(np.linalg.norm(W))
    res = NTPMaxMarginResult(
        W=W,
        margin=1.0 / nrm,
        norm=nrm,
        active=act,
        ineq_multipliers=lam,
        eq_multipliers=beta,
        anchors=pb.anchors.copy(),
        coefficients=R,
        common_logits=c,
        solver=solver,
        method=method,
        solve_time=time.perf_counter() - t0,
        iterations=int(iterations),
        polished=bool(polished),
        certificate=cert,
        support=sup.copy(),
        W_unpolished=W_unpolished,
        notes=notes,
    )
    return res


# --------------------------------------------------------------------------------------
# structured equality solve (active-set step)
# --------------------------------------------------------------------------------------
def _equality_solve(
    G: np.ndarray, sup: np.ndarray, act: np.ndarray, X: np.ndarray | None = None, store_limit: float = 4e7
):
    r"""Solve the NTP-SVM with the working set ``act`` of margin constraints as equalities.

    With :math:`K_v=\{j: v\in\mathcal S_j\}\cup\{j:(j,v)\in\texttt{act}\}` and
    :math:`\delta_{jv}=1` on ``act``, the stationarity and feasibility equations are, per
    token v, :math:`G_{K_vK_v}R_{K_v,v}=c_{K_v}-\delta_{K_v,v}` (logits of the working
    constraints), :math:`R_{jv}=0` for :math:`j\notin K_v`, and :math:`R\mathbf 1=0`.
    Eliminating R column by column gives the m x m Schur system
    :math:`M c=b`, :math:`M=\sum_vE_vG_{K_v}^{-1}E_v^\top`,
    :math:`b=\sum_vE_vG_{K_v}^{-1}\delta_v` (Cholesky per block; columns with equal
    :math:`K_v` share one factorisation).

    Singular blocks (rank(H) < m; ``X`` with :math:`H=XQ^\top` is then used for an SVD
    :math:`X_{K_v}=U_vs_vV_v^\top`): :math:`G_{K_v}^{-1}` becomes the pseudo-inverse, and
    solvability requires :math:`(I-U_vU_v^\top)(c_{K_v}-\delta_v)=0`. Summed over v these
    are the m x m conditions :math:`A c=a` with :math:`A=\sum_vE_v(I-U_vU_v^\top)E_v^\top`;
    c minimises :math:`\tfrac12c^\top Mc-b^\top c` on that affine set (null-space
    method), and R gets the null-space part :math:`(I-U_vU_v^\top)\lambda_{K_v}` with
    :math:`A\lambda=b-Mc`, which restores :math:`R\mathbf 1=0`.

    Returns
    -------
    R : ndarray, shape (m, V)
    c : ndarray, shape (m,)
    """
    m, V = sup.shape
    K = sup | act
    delta = act.astype(float)
    keys = np.packbits(K, axis=0).T
    groups: dict[bytes, list[int]] = {}
    for v in range(V):
        groups.setdefault(keys[v].tobytes(), []).append(v)
    M = np.zeros((m, m))
    b = np.zeros(m)
    A = np.zeros((m, m))
    a = np.zeros(m)
    singular = False
    blocks = []
    total = sum(int(K[:, cols[0]].sum()) ** 2 for cols in groups.values())
    store = total <= store_limit

    def factor(idx: np.ndarray):
        """(pseudo-)inverse of G_KK and, if singular, the orthonormal range basis U."""
        Gk = G[np.ix_(idx, idx)]
        try:
            cf = scipy.linalg.cho_factor(Gk, lower=True, check_finite=False)
            if np.diag(cf[0]).min() ** 2 >= 1e-13 * max(float(np.diag(Gk).max()), np.finfo(float).tiny):
                return scipy.linalg.cho_solve(cf, np.eye(idx.size), check_finite=False), None
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            pass
        if X is not None:
            U, sv, _ = np.linalg.svd(X[idx], full_matrices=False)
            keep = sv > np.sqrt(RANK_RTOL) * max(float(sv.max()), np.finfo(float).tiny)
            U, w = U[:, keep], sv[keep] ** 2
        else:
            w, U = np.linalg.eigh(Gk)
            keep = w > RANK_RTOL * max(float(w.max()), np.finfo(float).tiny)
            U, w = U[:, keep], w[keep]
        return (U / w) @ U.T, U

    with threadpool_limits(limits=1, user_api="blas"):
        for cols in groups.values():
            idx = np.flatnonzero(K[:, cols[0]])
            if idx.size == 0:
                continue
            Ginv, U = factor(idx)
            dsum = delta[np.ix_(idx, cols)].sum(axis=1)
            M[np.ix_(idx, idx)] += len(cols) * Ginv
            b[idx] += Ginv @ dsum
            if U is not None and U.shape[1] < idx.size:
                singular = True
                Pn = np.eye(idx.size) - U @ U.T  # projector onto null(G_KK)
                A[np.ix_(idx, idx)] += len(cols) * Pn
                a[idx] += Pn @ dsum
            else:
                U = None
            blocks.append((cols, idx, Ginv if store else None, U))
    if not singular:
        try:
            c = scipy.linalg.solve(M, b, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            c = scipy.linalg.lstsq(M, b, check_finite=False)[0]
        lam = None
    else:
        wA, VA = np.linalg.eigh(A)
        rng_ = wA > RANK_RTOL * max(float(wA.max()), np.finfo(float).tiny)
        Ar, Z = VA[:, rng_], VA[:, ~rng_]
        c0 = Ar @ ((Ar.T @ a) / wA[rng_])  # minimum-norm solution of A c = a
        if Z.shape[1]:
            t = scipy.linalg.lstsq(Z.T @ M @ Z, Z.T @ (b - M @ c0), check_finite=False)[0]
            c = c0 + Z @ t
        else:
            c = c0
        lam = Ar @ ((Ar.T @ (b - M @ c)) / wA[rng_])
    R = np.zeros((m, V))
    with threadpool_limits(limits=1, user_api="blas"):
        for cols, idx, Ginv, U in blocks:
            if Ginv is None:
                Ginv, U = factor(idx)
                if U is not None and U.shape[1] >= idx.size:
                    U = None
            Rb = Ginv @ (c[idx, None] - delta[np.ix_(idx, cols)])
            if U is not None and lam is not None:
                Rb += (lam[idx] - U @ (U.T @ lam[idx]))[:, None]
            R[np.ix_(idx, cols)] = Rb
    return R, c


# --------------------------------------------------------------------------------------
# dual solver: FISTA on the dual + primal-dual active set
# --------------------------------------------------------------------------------------
def _project_dual(Y: np.ndarray, sup: np.ndarray, n_in: np.ndarray) -> np.ndarray:
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


def _dual_guess(G, R, sup, off):
    L = G @ R
    c = np.where(sup, L, 0.0).sum(axis=1) / sup.sum(axis=1)
    s = c[:, None] - 1.0 - L
    obj = 0.5 * float(np.sum(R * L)) + float(R[off].sum())
    return off & ((R < 0) | (s < 0)), obj


def _fista(G, sup, off, lip, max_iter, R0=None, check_every=10):
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
        Rn = _project_dual(Zk - (G @ Zk + E) / lip, sup, n_in)
        if np.sum((Zk - Rn) * (Rn - R)) > 0:  # O'Donoghue-Candes gradient restart
            t, Zk = 1.0, Rn.copy()
        else:
            tn = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
            Zk = Rn + ((t - 1.0) / tn) * (Rn - R)
            t = tn
        R = Rn
        if it % check_every == 0:
            guess, obj = _dual_guess(G, R, sup, off)
            same = prev_guess is not None and np.array_equal(guess, prev_guess)
            small = abs(prev_obj - obj) <= 1e-9 * max(abs(obj), 1.0)
            stable = stable + 1 if (same and small) else 0
            prev_guess, prev_obj = guess, obj
            if stable >= 2:
                break
    guess, _ = _dual_guess(G, R, sup, off)
    return R, guess, it


def _pdas(G, sup, off, act, X=None, max_iter=40, patience=8):
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
        R, c = _equality_solve(G, sup, act, X)
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


def _solve_dual(pb: _Problem, max_iter: int, t0: float) -> NTPMaxMarginResult:
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
    X = None if full_rank else _reduce(H)[0]
    if not full_rank and m * sup.shape[1] * (min(H.shape) + 1) <= LP_PRECHECK_NNZ:
        # rank(H) < m: Lemma 1 does not apply; a small LP decides before iterating
        sep = check_separability(pb)
        if not sep.separable:
            raise _nonseparable_error(sep)
        notes.append(f"rank(H) < m = {m}: separability verified by LP")
        checked = True
    iters = 0
    R = None
    converged = False
    budget = max_iter
    for attempt in range(2):
        R, guess, k = _fista(G, sup, off, lip, budget, R0=R)
        iters += k
        Rp, c, kp, converged = _pdas(G, sup, off, guess, X)
        iters += kp
        if converged:
            R = Rp
            break
        notes.append(f"active-set attempt {attempt + 1} did not converge; more FISTA iterations")
        if attempt == 0 and not full_rank and not checked:
            # the dual may be unbounded (no separating W): decide by LP before iterating on
            sep = check_separability(pb)
            if not sep.separable:
                raise _nonseparable_error(sep)
            checked = True
        budget = max(budget, 200)
    if not converged:
        R = Rp
    W = R.T @ H
    res = _result(
        pb, W, R, solver="dual-fista-pdas", method="dual", t0=t0, iterations=iters, polished=converged,
        notes="; ".join(notes),
    )
    if not res.certificate.check(ACCEPT_KKT_TOL):
        if not checked:
            sep = check_separability(pb)
            if not sep.separable:
                raise _nonseparable_error(sep)
        raise MarginSolverError(
            f"the dual NTP-SVM solver did not reach a valid KKT point (residuals "
            f"{res.certificate.describe()}); try solver='clarabel'"
        )
    return res


# --------------------------------------------------------------------------------------
# Clarabel solver
# --------------------------------------------------------------------------------------
class NTPRows(PairRows):
    r"""The NTP-SVM's constraint generators in anchored form, for :func:`theory.margin.solve_margin`.

    Inequalities :math:`(e_{z_j}-e_v)\bar h_j^\top` (:math:`v\notin\mathcal S_j`) and
    equalities :math:`(e_{z_j}-e_z)\bar h_j^\top` (:math:`z\in\mathcal S_j\setminus\{z_j\}`),
    both in row-major (j, token) order. Clarabel gets the common-logit formulation (see
    :func:`max_margin_direction`); the polish switches to the structured equality solve
    above :data:`GRAM_LIMIT` rows; infeasibility is certified by :func:`check_separability`.
    """

    def __init__(self, pb: _Problem):
        sup, anchors = pb.support, pb.anchors
        eq = sup.copy()
        eq[np.arange(sup.shape[0]), anchors] = False
        je, ze = np.nonzero(eq)
        jo, vo = np.nonzero(pb.off)
        super().__init__(pb.H, (jo, anchors[jo], vo), sup.shape[1], eq=(je, anchors[je], ze))
        self.pb = pb

    def scaled(self, factor):
        return NTPRows(_Problem(H=self.pb.H * factor, support=self.pb.support, anchors=self.pb.anchors))

    def coefficients_matrix(self, lam, beta) -> np.ndarray:
        """R (m, V) with W = R^T H."""
        return self.coefficients(lam, beta)

    def certificate(self, w, lam, beta):
        return _ntp_certificate(self.pb, w, self.coefficients(lam, beta))

    def equality_solve(self, active):
        if _n_rows(self.pb, self._act_matrix(active)) <= GRAM_LIMIT:
            return super().equality_solve(active)
        pb = self.pb
        X = _reduce(pb.H)[0] if pb.H.shape[1] < pb.H.shape[0] else None
        R, _ = _equality_solve(self.G, pb.support, self._act_matrix(active), X)
        (jo, _, vo), (je, _, ze) = self.ineq, self.eq
        return -R[jo, vo], -R[je, ze]

    def _act_matrix(self, active) -> np.ndarray:
        act = np.zeros(self.pb.support.shape, dtype=bool)
        jo, _, vo = self.ineq
        act[jo[active], vo[active]] = True
        return act

    def clarabel(self):
        import cvxpy as cp

        pb = self.pb
        H, sup, off = pb.H, pb.support, pb.off
        m = H.shape[0]
        js, zs = np.nonzero(sup)
        jo, vo = np.nonzero(off)
        # W^mm lies in the row space of H: write H = X Q^T with Q^T from the QR factorisation of
        # H^T (X = R^T lower-trapezoidal, half the nonzeros of a dense basis) and W = Y Q^T, so
        # that L = H @ W.T = X @ Y.T; measured ~3x faster in Clarabel than the dense W form.
        Q, Rq = np.linalg.qr(H.T)
        X = Rq.T
        Y = cp.Variable((sup.shape[1], X.shape[1]))
        c = cp.Variable(m)
        L = X @ Y.T
        cons = [L[js, zs] - c[js] == 0, L[jo, vo] - c[jo] <= -1]
        prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Y)), cons)
        status, name, _ = solve_clarabel(prob)
        iters = int(getattr(prob.solver_stats, "num_iters", 0) or 0)
        if Y.value is None:
            return ClarabelPoint(None, None, None, status, name, iters)
        W = np.asarray(Y.value, dtype=float) @ Q.T
        y_in = np.zeros(sup.shape)
        y_in[js, zs] = np.asarray(cons[0].dual_value, dtype=float)
        lam = np.maximum(np.asarray(cons[1].dual_value, dtype=float), 0.0)
        (je, _, ze) = self.eq
        # the common-logit equalities' duals y_jz are the anchored beta_jz (z != anchor)
        return ClarabelPoint(W, lam, y_in[je, ze], status, name, iters)

    def farkas(self):
        sep = check_separability(self.pb)
        return None if sep.separable else sep

    def describe_infeasible(self, sep):
        return str(_nonseparable_error(sep))


def _solve_clarabel_ntp(pb: _Problem, t0: float) -> NTPMaxMarginResult:
    r"""Clarabel + active-set polish through :func:`theory.margin.solve_margin`."""
    rows = NTPRows(pb)
    try:
        pt = solve_margin(rows, what="the NTP-SVM")
    except NotSeparableError as exc:
        raise _nonseparable_error(exc.certificate) from None
    R = rows.coefficients(pt.ineq_multipliers, pt.eq_multipliers)
    return _result(
        pb, pt.w, R, solver=pt.solver, method="clarabel", t0=t0, iterations=pt.iterations, polished=pt.polished,
        W_unpolished=pt.w_unpolished, notes=pt.notes, certificate=pt.certificate,
    )


def _n_rows(pb: _Problem, act: np.ndarray) -> int:
    return int(pb.support.sum() - pb.support.shape[0] + act.sum())


# --------------------------------------------------------------------------------------
# public: max-margin direction
# --------------------------------------------------------------------------------------
def max_margin_direction(data: Any, solver: str = "auto", *, max_iter: int = 5000) -> NTPMaxMarginResult:
    r"""The NTP-SVM max-margin direction :math:`W^{mm}` ([T24] Def. 3, eq. 6).

    .. math::

        W^{mm}=\arg\min_W\ \tfrac12\|W\|_F^2\quad\text{s.t.}\quad
        (e_z-e_{z'})^\top W\bar h_j=0,\quad (e_z-e_v)^\top W\bar h_j\ge1
        \qquad(j\in[m],\ z,z'\in\mathcal S_j,\ v\notin\mathcal S_j).

    :math:`W^{mm}` depends only on H and the supports (not on :math:`\hat p`,
    :math:`\hat\pi`), lies in :math:`F^\perp`, and :math:`\mathbf 1^\top W^{mm}=0`.

    Parameters
    ----------
    data : object with attributes ``H`` (m, d) and ``P`` (m, V)
        E.g. :class:`theory.ntp.NTPData`; supports are ``P > 0``.
    solver : {"auto", "clarabel", "dual"}
        ``"auto"`` (default): ``"clarabel"`` while Clarabel's constraint matrix has at most
        :data:`AUTO_CLARABEL_MAX_NNZ` nonzeros (estimated by :func:`clarabel_size`,
        :math:`mV\min(m,d)/2`; e.g. [T24] App. A.2's (50, 60, 10) and every one-hot toy),
        ``"dual"`` above; ``result.choice`` says which ran and why.
        ``"clarabel"``: the shared pipeline :func:`theory.margin.solve_margin` on
        :class:`NTPRows`: cvxpy with ``solver=cp.CLARABEL`` (tight tolerances
        :data:`theory.margin.CLARABEL_OPTIONS`) on the primal, written with index arrays
        on the logits ``L = H @ W.T`` and the common in-support logit :math:`c_j` as
        auxiliary variable (:math:`L_{jz}=c_j` in-support, :math:`L_{jv}\le c_j-1`
        off-support). W is parametrised as :math:`W=YQ^\top` with :math:`H^\top=QR` (QR),
        so ``L = X @ Y.T`` with the triangular :math:`X=R^\top` (same problem, as
        :math:`W^{mm}` lies in the row space of H; ~3x faster in Clarabel). Then active-set
        polishing (numerics spec §1, :func:`theory.margin.polish_active_set`): the
        constraints with slack or multiplier above/below :data:`theory.margin.ACTIVE_SLACK`,
        plus the equalities, are solved for the minimum-norm W (Gram matrix of their
        anchored generators, or the structured solve below for more than
        :data:`GRAM_LIMIT` rows); wrong-sign multipliers / violated constraints are
        swapped out and the solve repeated (at most 10 rounds). If the polish is
        rejected, Clarabel's point is kept only if its KKT certificate passes
        :data:`theory.margin.ACCEPT_KKT_TOL`. Practical up to ~2e4 constraints (about
        1-7 minutes at (200, 201, 100) on 2 shared cores; see ``bench/ntp_svm.py``).
        ``"dual"``: the package's own solver, see Notes; scales to m = V = 1000, d = 1001.

        Whichever runs, H is first divided by a power of two when its largest row norm is
        far from 1 (:func:`theory.margin.power_of_two_scale`, exact) and the answer mapped
        back, so the result does not depend on the scale of H. If the solver's certificate
        fails, the other solver is tried (Clarabel only up to
        :data:`RETRY_CLARABEL_MAX_NNZ`); if both fail, ``MarginSolverError``.
    max_iter : int, keyword-only
        Iteration cap of the dual solver's FISTA phase (per attempt).

    Returns
    -------
    NTPMaxMarginResult

    Raises
    ------
    TypeError
        ``data`` without ``H``/``P``, non-numeric arrays, ``solver`` not a string.
    ValueError
        Unknown ``solver``; mismatched shapes, NaN/inf, negative probabilities, empty
        supports, no out-of-support token at all; **data not NTP-separable**: the
        message names the contexts (and tokens) of a Farkas certificate from
        :func:`check_separability`.
    theory.margin.MarginSolverError
        (a ``RuntimeError``) no solver produced a point with a valid KKT certificate; the
        message gives each solver's status and residuals.

    Notes
    -----
    **Dual solver** [derived, see module docstring]. The dual is the bound- and
    row-sum-constrained QP

    .. math::

        \min_R\ \tfrac12\operatorname{tr}(R^\top GR)+\sum_{v\notin\mathcal S_j}R_{jv}
        \quad\text{s.t.}\quad R\mathbf 1=0,\ R_{jv}\le0\ (v\notin\mathcal S_j),

    with :math:`G=HH^\top`: merging the in-support tokens of context j into one "true
    class" (the common logit :math:`c_j`) makes it a Crammer-Singer-like multiclass dual
    with :math:`V-S_j` competitors per context. (1) FISTA with gradient restarts on this
    dual, using an exact sort-based projection onto the constraint set, until the
    predicted active set and the dual objective are stable (typically 50-150
    iterations, each one m x m x V GEMM); (2) primal-dual active-set (semismooth Newton)
    iterations: the working set is solved exactly as an equality-constrained QP
    (per-token Cholesky factorisations of :math:`G_{K_vK_v}` and an m x m Schur system for
    the common logits :math:`c`, see ``_equality_solve``), constraints with wrong-sign
    multipliers leave and violated ones enter, until the KKT conditions hold; this is the
    active-set polish. If the active-set phase cycles or stalls, FISTA resumes from its
    iterate once more. When :math:`\operatorname{rank}(H)<m`, separability is checked by
    LP up front for small problems (:data:`LP_PRECHECK_NNZ`), otherwise only if the
    iterations fail (a valid KKT point proves separability).

    Scope: the dual solver is fast when the margin is not tiny (e.g. generic H with
    d >= m: 8 s at m = V = 1000, d = 1001, S_j = 6). On nearly non-separable data
    (rank(H) << m, :math:`\|W^{mm}\|` in the thousands) FISTA needs more than
    ``max_iter`` iterations and the active-set phase can cycle; it then raises
    ``RuntimeError`` (use ``solver="clarabel"``), never returns an unverified point.
    """
    t0 = time.perf_counter()
    if not isinstance(solver, str):
        raise TypeError(f"solver must be a string, one of {SOLVERS}, got {type(solver).__name__} {solver!r}")
    key = as_choice(solver.lower(), "solver", SOLVERS)
    max_iter = as_int(max_iter, "max_iter", low=1)
    pb = _problem(data)
    m, d = pb.H.shape
    V = pb.support.shape[1]
    nnz = clarabel_size(m, d, V)
    check_memory(8.0 * (3 * m * m + 10 * m * V), f"max_margin_direction(m={m}, d={d}, V={V})")
    if key == "auto":
        key = "clarabel" if nnz <= AUTO_CLARABEL_MAX_NNZ else "dual"
        choice = (f"auto: {key} (Clarabel's constraint matrix ~m V min(m, d) / 2 = {nnz:.3g} nonzeros "
                  f"{'<=' if key == 'clarabel' else '>'} AUTO_CLARABEL_MAX_NNZ = {AUTO_CLARABEL_MAX_NNZ:.3g})")
    else:
        choice = f"{key} (requested)"
    s = power_of_two_scale(float(np.linalg.norm(pb.H, axis=1).max()))
    pb_s = pb if s == 1.0 else _Problem(H=pb.H / s, support=pb.support, anchors=pb.anchors)
    order = [key, "dual" if key == "clarabel" else "clarabel"]
    errors = []
    res = None
    for k, method in enumerate(order):
        if k and method == "clarabel" and nnz > RETRY_CLARABEL_MAX_NNZ:
            errors.append(f"clarabel not tried: ~{nnz:.3g} nonzeros > RETRY_CLARABEL_MAX_NNZ")
            break
        try:
            res = _solve_clarabel_ntp(pb_s, t0) if method == "clarabel" else _solve_dual(pb_s, int(max_iter), t0)
            break
        except MarginSolverError as exc:
            errors.append(f"{method}: {exc}")
    if res is None:
        raise MarginSolverError("no verified NTP-SVM solution; " + " | ".join(errors))
    if errors:
        choice += f"; retried with {res.method} after: " + " | ".join(errors)
    return _rescaled(res, s, choice)


def clarabel_size(m: int, d: int, V: int) -> float:
    """Estimated nonzeros of Clarabel's constraint matrix for the NTP-SVM: m V min(m, d) / 2."""
    return 0.5 * m * V * min(m, d)


def _rescaled(res: NTPMaxMarginResult, s: float, choice: str) -> NTPMaxMarginResult:
    """Map a result computed on H / s back to H (exact for a power of two s)."""
    import dataclasses

    if s == 1.0:
        return dataclasses.replace(res, choice=choice)
    s2 = s * s
    note = f"H divided by 2^{int(np.log2(s))} before solving"
    return dataclasses.replace(
        res, W=res.W / s, margin=res.margin * s, norm=res.norm / s, ineq_multipliers=res.ineq_multipliers / s2,
        eq_multipliers=res.eq_multipliers / s2, coefficients=res.coefficients / s2,
        W_unpolished=None if res.W_unpolished is None else res.W_unpolished / s,
        notes=f"{note}; {res.notes}" if res.notes else note, choice=choice, scale=s,
    )


# --------------------------------------------------------------------------------------
# separability
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FarkasCertificate:
    r"""Certificate that (6a)+(6b) has no solution (Farkas' lemma).

    Nonnegative weights :math:`\lambda_{jv}` on the anchored margin generators
    :math:`(e_{z_j}-e_v)\bar h_j^\top` and free weights :math:`\beta_{jz}` on the anchored
    equality generators :math:`(e_{z_j}-e_z)\bar h_j^\top` whose combination is zero while
    the weighted right-hand sides sum to :math:`\sum\lambda_{jv}=1>0`; a solution W would
    give :math:`0=\langle\text{combination},W\rangle\ge1`.

    Attributes
    ----------
    coefficients : ndarray, shape (m, V)
        R with combination :math:`R^\top H` (anchored form), :math:`R_{jv}=-\lambda_{jv}`
        off-support, :math:`R_{jz}=-\beta_{jz}` in-support (z not the anchor).
    ineq_multipliers, eq_multipliers : ndarray, shape (m, V)
        :math:`\lambda` (0 in-support) and :math:`\beta` (0 off-support and at anchors).
    anchors : ndarray of int, shape (m,)
    combination_residual : float
        :math:`\|\sum\lambda A+\sum\beta B\|_F/\sum_j\|r_j\|\|\bar h_j\|` (relative to the
        size of the terms).
    min_multiplier : float
        :math:`\min\lambda/\max|R|` (should be :math:`\ge0`).
    objective : float
        :math:`\sum\lambda_{jv}` (= 1 by normalisation; must be > 0).
    contexts : tuple of int
        Contexts with a nonzero weight.
    tokens : tuple of tuple of int
        For each context in ``contexts``, the tokens with a nonzero weight.
    """

    coefficients: np.ndarray
    ineq_multipliers: np.ndarray
    eq_multipliers: np.ndarray
    anchors: np.ndarray
    combination_residual: float
    min_multiplier: float
    objective: float
    contexts: tuple[int, ...]
    tokens: tuple[tuple[int, ...], ...]

    def check(self, tol: float = 1e-8) -> bool:
        """Combination ~ 0, multipliers >= 0 and objective > 0, to ``tol``."""
        return self.combination_residual <= tol and self.min_multiplier >= -tol and self.objective > tol

    @property
    def ok(self) -> bool:
        return self.check()


@dataclass(frozen=True)
class SeparabilityResult:
    r"""NTP-compatibility ([T24] Def. 1) and NTP-separability (Def. 2) of a data set.

    Attributes
    ----------
    compatible : bool
        The log-odds equations (4) have a solution.
    compatibility_residual : float
        :math:`\min_{W,c}\big(\sum_j\sum_{z\in\mathcal S_j}(e_z^\top W\bar h_j-c_j-
        \log\hat p_{jz})^2\big)^{1/2}`: the least-squares residual of the log-odds
        equations written as "in-support logits = log-probabilities + a per-context shift"
        (0 when rank(H) = m; NaN if ``data`` has no usable ``P``).
    separable : bool
        (6a)+(6b) has a solution.
    method : str
        ``"rank"`` (rank(H) = m, separable by [T24] Lemma 1; witness by lstsq) or
        ``"lp"`` (HiGHS LP feasibility via ``scipy.optimize.linprog``).
    rank : int
        Numerical rank of H.
    witness : ndarray, shape (V, d), or None
        A W satisfying (6a)+(6b) when separable (the rank path returns the W whose logits
        are the centred support matrix).
    witness_residual : float
        max(in-support logit spread, margin violation) of the witness (NaN if none).
    certificate : FarkasCertificate or None
        When not separable.
    contexts : tuple of int
        Contexts involved in the certificate (empty if separable).
    tokens : tuple of tuple of int
        Their tokens (see :class:`FarkasCertificate`).
    solver : str
    """

    compatible: bool
    compatibility_residual: float
    separable: bool
    method: str
    rank: int
    witness: np.ndarray | None
    witness_residual: float
    certificate: FarkasCertificate | None
    contexts: tuple[int, ...]
    tokens: tuple[tuple[int, ...], ...]
    solver: str


def _reduce(H: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """H = X Q^T with Q (d x r) orthonormal, X (m x r), r = numerical rank."""
    U, s, Vt = np.linalg.svd(H, full_matrices=False)
    r = int(np.sum(s > max(H.shape) * np.finfo(float).eps * s[0])) if s[0] > 0 else 0
    return U[:, :r] * s[:r], Vt[:r].T, r


def _compatibility(X: np.ndarray, sup: np.ndarray, logP: np.ndarray) -> float:
    r"""Residual of :math:`x_j^\top y_z=\log p_{jz}+c_j` (in-support) minimised over Y, c."""
    m, V = sup.shape
    A = np.zeros((m, m))
    g = np.zeros(m)
    projs = []
    for z in range(V):
        J = np.flatnonzero(sup[:, z])
        if J.size == 0:
            continue
        Uz = scipy.linalg.orth(X[J]) if X.shape[1] else np.zeros((J.size, 0))
        if Uz.shape[1] == J.size:
            continue
        Pi = np.eye(J.size) - Uz @ Uz.T
        A[np.ix_(J, J)] += Pi
        g[J] += Pi @ logP[J, z]
        projs.append((J, z, Pi))
    if not projs:
        return 0.0
    c = -scipy.linalg.lstsq(A, g)[0]
    return float(np.sqrt(sum(np.sum((Pi @ (logP[J, z] + c[J])) ** 2) for J, z, Pi in projs)))


def check_separability(data: Any) -> SeparabilityResult:
    r"""NTP-compatibility and NTP-separability of ``data``, with a witness or a certificate.

    * Compatible ([T24] Def. 1): some W satisfies :math:`(e_z-e_{z'})^\top W\bar h_j=
      \log(\hat p_{jz}/\hat p_{jz'})`; checked by least squares (residual at most
      :math:`10^{-8}(1+\|\log\hat p\|)`).
    * Separable (Def. 2): some W satisfies (6a) :math:`(e_z-e_{z'})^\top W\bar h_j=0` and
      (6b) :math:`(e_z-e_v)^\top W\bar h_j\ge1`. If rank(H) = m this holds
      ([T24] Lemma 1; witness: the minimum-norm W with logits equal to the centred
      support matrix). Otherwise an LP (HiGHS) decides; when it is infeasible, a second LP
      returns a Farkas certificate (see :class:`FarkasCertificate`), verified numerically.

    Parameters
    ----------
    data : object with attributes ``H`` (m, d) and ``P`` (m, V)

    Returns
    -------
    SeparabilityResult
    """
    pb = data if isinstance(data, _Problem) else _problem(data)
    H, sup = pb.H, pb.support
    m, d = H.shape
    V = sup.shape[1]
    check_memory(8.0 * (m * d + 3 * m * V * (min(m, d) + 1)), f"check_separability(m={m}, d={d}, V={V})")
    # the LPs' tolerances are absolute: solve on H divided by a power of two (exact) when
    # H is far from unit size; witness W maps back as W / s, certificates are scale-free
    scale = power_of_two_scale(float(np.linalg.norm(H, axis=1).max()))
    X, Q, r = _reduce(H / scale if scale != 1.0 else H)
    P = getattr(data, "P", None)
    if P is not None and not isinstance(data, _Problem):
        Pa = np.asarray(P, dtype=float)
        logP = np.where(sup, np.log(np.where(sup, Pa, 1.0)), 0.0)
        comp_res = _compatibility(X, sup, logP) if r < m else 0.0
        compatible = comp_res <= 1e-8 * (1.0 + float(np.linalg.norm(logP)))
    else:
        comp_res, compatible = float("nan"), True
    if r == m:
        Lt = centered_support_matrix(sup)
        W = scipy.linalg.lstsq(H, Lt)[0].T
        return SeparabilityResult(
            compatible=bool(compatible), compatibility_residual=float(comp_res), separable=True, method="rank",
            rank=r, witness=W, witness_residual=_witness_residual(pb, W), certificate=None, contexts=(),
            tokens=(), solver="numpy-lstsq",
        )
    # LP feasibility in reduced coordinates: W = Y Q^T, variables [vec(Y) (V*r, row-major), c (m)]
    js, zs = np.nonzero(sup)
    jo, vo = np.nonzero(~sup)

    def block(j, v):
        n = j.size
        rows = np.repeat(np.arange(n), r + 1)
        cols = np.concatenate([(v[:, None] * r + np.arange(r)[None, :]), (V * r + j)[:, None]], axis=1).ravel()
        vals = np.concatenate([X[j], -np.ones((n, 1))], axis=1).ravel()
        return scipy.sparse.csr_matrix((vals, (rows, cols)), shape=(n, V * r + m))

    res = scipy.optimize.linprog(
        np.zeros(V * r + m), A_ub=block(jo, vo), b_ub=-np.ones(jo.size), A_eq=block(js, zs), b_eq=np.zeros(js.size),
        bounds=[(None, None)] * (V * r + m), method="highs-ipm",
    )
    if res.status == 0:
        W = res.x[: V * r].reshape(V, r) @ Q.T / scale
        return SeparabilityResult(
            compatible=bool(compatible), compatibility_residual=float(comp_res), separable=True, method="lp",
            rank=r, witness=W, witness_residual=_witness_residual(pb, W), certificate=None, contexts=(),
            tokens=(), solver="HiGHS (scipy.optimize.linprog)",
        )
    if res.status != 2:
        raise RuntimeError(f"HiGHS separability LP failed with status {res.status}: {res.message}")
    R = support_farkas(X, sup)
    if R is None:
        raise RuntimeError("the separability LP is infeasible but no Farkas certificate was found")
    cert = _farkas(pb, R)
    return SeparabilityResult(
        compatible=bool(compatible), compatibility_residual=float(comp_res), separable=False, method="lp",
        rank=r, witness=None, witness_residual=float("nan"), certificate=cert, contexts=cert.contexts,
        tokens=cert.tokens, solver="HiGHS (scipy.optimize.linprog)",
    )


def _witness_residual(pb: _Problem, W: np.ndarray) -> float:
    L = pb.H @ W.T
    sup = pb.support
    hi = np.where(sup, L, -np.inf).max(axis=1)
    lo = np.where(sup, L, np.inf).min(axis=1)
    jo, vo = np.nonzero(pb.off)
    viol = max(0.0, float(np.max(1.0 - (lo[jo] - L[jo, vo]))))
    return max(float(np.max(hi - lo)), viol)


def _farkas(pb: _Problem, R: np.ndarray) -> FarkasCertificate:
    sup, H = pb.support, pb.H
    off = ~sup
    scale = float(np.abs(R).max())
    R = np.where(np.abs(R) > 1e-12 * scale, R, 0.0)
    Rg = _anchored(R, pb.anchors)
    comb = Rg.T @ H
    denom = float(np.sum(np.linalg.norm(Rg, axis=1) * np.linalg.norm(H, axis=1)))
    lam = np.where(off, -R, 0.0)
    beta = np.where(sup, -R, 0.0)
    beta[np.arange(sup.shape[0]), pb.anchors] = 0.0
    ctx = involved_rows(R)
    toks = tuple(tuple(int(v) for v in np.flatnonzero(np.abs(R[j]) > 1e-9 * scale)) for j in ctx)
    return FarkasCertificate(
        coefficients=R,
        ineq_multipliers=lam,
        eq_multipliers=beta,
        anchors=pb.anchors.copy(),
        combination_residual=float(np.linalg.norm(comb) / max(denom, np.finfo(float).tiny)),
        min_multiplier=float(lam[off].min() / scale),
        objective=float(lam[off].sum()),
        contexts=ctx,
        tokens=toks,
    )


def _nonseparable_error(sep: SeparabilityResult) -> ValueError:
    parts = [f"context {j} (tokens {list(t)})" for j, t in zip(sep.contexts, sep.tokens)]
    return ValueError(
        "the data are not NTP-separable: no W satisfies the equalities (6a) and margins (6b), so W^mm "
        "does not exist. A Farkas certificate (check_separability(data).certificate, verified: "
        f"combination residual {sep.certificate.combination_residual:.1e}) combines the constraints of "
        + ", ".join(parts)
    )


@dataclass(frozen=True)
class SupportData:
    """Minimal data object (H, P, pi) accepted by this module; see :func:`nonseparable_instance`."""

    H: np.ndarray
    P: np.ndarray
    pi: np.ndarray


def nonseparable_instance() -> SupportData:
    r"""A small NTP instance that is compatible but **not** NTP-separable.

    Contexts 0 and 1 share the embedding :math:`h=(1,0)` but have supports {0} and {1}
    (V = 3), so (6b) asks for :math:`(e_0-e_1)^\top Wh\ge1` and :math:`(e_1-e_0)^\top Wh\ge1`;
    their sum reads 0 >= 2. Context 2, :math:`h=(0,1)` with support {0, 2}, is harmless.
    A Farkas certificate puts weight 1/2 on each of the two conflicting margins (plus
    any weights on the other tokens' constraints that cancel).

    Returns
    -------
    SupportData
        ``H`` (3, 2), ``P`` (3, 3) with rows summing to 1, ``pi`` uniform; usable as
        ``theory.ntp.NTPData(inst.H, inst.P, inst.pi)``.
    """
    H = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    P = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.3, 0.0, 0.7]])
    return SupportData(H=H, P=P, pi=np.full(3, 1.0 / 3.0))


# --------------------------------------------------------------------------------------
# logit space ([Z24])
# --------------------------------------------------------------------------------------
def centered_support_matrix(support: Any) -> np.ndarray:
    r"""The centred support matrix :math:`\tilde S=S(I-\mathbf 1\mathbf 1^\top/V)` ([Z24]).

    Entries :math:`1-S_j/V` in-support and :math:`-S_j/V` off-support: every margin
    constraint holds with equality, in-support entries are equal, rows sum to 0. For
    orthonormal context embeddings it is exactly the logit matrix of :math:`W^{mm}`
    (spec §2 [derived]).

    Parameters
    ----------
    support : array_like, shape (m, V), or object with attribute ``P``
        Boolean / 0-1 support pattern, or probabilities (support = entries > 0).

    Returns
    -------
    ndarray, shape (m, V)
    """
    S = _support_arg(support).astype(float)
    return S - S.sum(axis=1, keepdims=True) / S.shape[1]


@dataclass(frozen=True)
class NuclearMaxMarginResult:
    r"""Nuclear-norm max-margin logits :math:`L^{mm}` ([Z24]).

    Attributes
    ----------
    L : ndarray, shape (m, V)
        Rows = contexts.
    nuclear_norm : float
    singular_values : ndarray
    rank : int
        Number of singular values above :math:`10^{-6}\sigma_1` (interior-point accuracy).
    min_margin : float
        :math:`\min_{j,v}(\min_{z\in\mathcal S_j}L_{jz}-L_{jv})` (should be 1).
    equality_residual : float
        Largest in-support spread of a row.
    solver, status : str
    solve_time : float
    """

    L: np.ndarray
    nuclear_norm: float
    singular_values: np.ndarray
    rank: int
    min_margin: float
    equality_residual: float
    solver: str
    status: str
    solve_time: float


def nuclear_norm_max_margin_logits(support: Any) -> NuclearMaxMarginResult:
    r"""Minimum-nuclear-norm logit matrix satisfying the NTP margin constraints ([Z24]).

    .. math::

        L^{mm}=\arg\min_{L\in\mathbb R^{m\times V}}\|L\|_*\quad\text{s.t.}\quad
        L_{jz}=L_{jz'}\ (z,z'\in\mathcal S_j),\quad L_{jz}-L_{jv}\ge1\ (z\in\mathcal S_j,
        v\notin\mathcal S_j).

    With both factors free ("unconstrained features"), :math:`\|L\|_*=\min_{L=HW^\top}
    \tfrac12(\|H\|_F^2+\|W\|_F^2)`, so this is the max-margin problem of the NTP-UFM
    whenever :math:`d\ge\operatorname{rank}L` [derived]. Solved as an SDP with cvxpy and
    Clarabel (named explicitly); the minimiser need not be unique (the nuclear norm is
    not strictly convex). Intended for small m, V (say up to ~50).

    Parameters
    ----------
    support : array_like, shape (m, V), or object with attribute ``P``

    Returns
    -------
    NuclearMaxMarginResult
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    S = _support_arg(support)
    m, V = S.shape
    js, zs = np.nonzero(S)
    jo, vo = np.nonzero(~S)
    L = cp.Variable((m, V))
    c = cp.Variable(m)
    prob = cp.Problem(cp.Minimize(cp.normNuc(L)), [L[js, zs] == c[js], L[jo, vo] <= c[jo] - 1])
    # interior-point SDPs stall before 1e-12; 1e-9 is reached reliably
    status, name, _ = solve_clarabel(prob, **SDP_OPTIONS)
    if status not in ("optimal", "optimal_inaccurate"):
        raise RuntimeError(f"Clarabel returned status {status!r} on the nuclear-norm max-margin SDP")
    Lv = np.asarray(L.value, dtype=float)
    s = np.linalg.svd(Lv, compute_uv=False)
    hi = np.where(S, Lv, -np.inf).max(axis=1)
    lo = np.where(S, Lv, np.inf).min(axis=1)
    return NuclearMaxMarginResult(
        L=Lv,
        nuclear_norm=float(s.sum()),
        singular_values=s,
        rank=int(np.sum(s > 1e-6 * s[0])),
        min_margin=float(np.min(lo[jo] - Lv[jo, vo])),
        equality_residual=float(np.max(hi - lo)),
        solver=name,
        status=status,
        solve_time=time.perf_counter() - t0,
    )


@dataclass(frozen=True)
class LogitSplit:
    r"""Sparse + low-rank split of a logit matrix (see :func:`sparse_plus_low_rank`).

    Attributes
    ----------
    L_in : ndarray, shape (m, V)
        Sparse in-support component (zero off-support, zero in-support row sums).
    L_perp : ndarray, shape (m, V)
        Complementary component (equal in-support entries in each row, rows summing to 0).
    log_odds : ndarray, shape (m, V)
        Target of ``L_in``: centred in-support :math:`\log\hat p` (0 off-support).
    in_support_error : float
        :math:`\|L^{in}-\text{log\_odds}\|_F`.
    reference : ndarray or None
        The max-margin logits ``L_perp`` is compared with.
    scale : float
        :math:`\gamma=\langle L^\perp,\text{ref}\rangle/\|\text{ref}\|^2` (NaN without reference).
    cosine : float
        Cosine between ``L_perp`` and the reference (NaN without reference).
    singular_values : ndarray
        Of ``L_perp``.
    """

    L_in: np.ndarray
    L_perp: np.ndarray
    log_odds: np.ndarray
    in_support_error: float
    reference: np.ndarray | None
    scale: float
    cosine: float
    singular_values: np.ndarray


def sparse_plus_low_rank(logits: Any, P: Any, reference: Any = None) -> LogitSplit:
    r"""Split logits into a sparse in-support part and a (low-rank) max-margin part ([Z24]).

    Definition [open in the sources; chosen here]. Softmax ignores row shifts, so first
    centre the rows: :math:`\bar L=L(I-\mathbf 1\mathbf 1^\top/V)`. The space of logit
    matrices splits orthogonally into

    * :math:`T_F=\{A:\ A_{jv}=0\ (v\notin\mathcal S_j),\ \sum_{z\in\mathcal S_j}A_{jz}=0\}`,
      the logit-space image of F (in-support log-odds directions), and
    * :math:`T_\perp=\{A:\ A_{jz}=A_{jz'}\ (z,z'\in\mathcal S_j)\}`, the directions allowed
      by the equalities (6a).

    :math:`L^{in}=\Pi_{T_F}\bar L` (each row's in-support entries minus their mean, zero
    off-support) is **sparse**; :math:`L^\perp=\bar L-L^{in}` (in-support entries replaced
    by their mean) carries the margins. Along the regularisation path / GD of the NTP-UFM,
    :math:`L^{in}\to` the centred in-support :math:`\log\hat p` (``log_odds``, the logit
    matrix of :math:`W^\star` for orthonormal embeddings) and :math:`L^\perp\approx\gamma
    L^{mm}` with :math:`\gamma\to\infty` and :math:`L^{mm}` low-rank (nuclear-norm
    max-margin logits) [Z24, paper-level claim; the exact statement is unverified]. For a
    fixed-embedding model :math:`L=HW^\top` (T24) the reference is instead
    :math:`HW^{mm\top}`.

    Parameters
    ----------
    logits : array_like, shape (m, V)
        Logit matrix (rows = contexts), e.g. ``H @ W.T``.
    P : array_like, shape (m, V), or object with attribute ``P``
        Next-token probabilities (supports and log-odds).
    reference : {None, "centered", "nuclear"} or array_like (m, V), optional
        Max-margin logits to compare ``L_perp`` with: the centred support matrix, the
        nuclear-norm solution (:func:`nuclear_norm_max_margin_logits`, an SDP), or a given
        matrix (e.g. ``H @ W_mm.T``). Default: no comparison.

    Returns
    -------
    LogitSplit
    """
    Pm = np.asarray(P.P if hasattr(P, "P") else P)
    Pm = as_real_array(Pm, "P", ndim=2)
    if (Pm < 0).any():
        raise ValueError("P must be nonnegative")
    S = _support_arg(Pm, "P")
    L = as_real_array(logits, "logits", ndim=2)
    if L.shape != S.shape:
        raise ValueError(f"logits must have the shape of P, {S.shape}, got {L.shape}")
    n_in = S.sum(axis=1, keepdims=True)
    Lc = L - L.mean(axis=1, keepdims=True)
    mean_in = np.where(S, Lc, 0.0).sum(axis=1, keepdims=True) / n_in
    L_in = np.where(S, Lc - mean_in, 0.0)
    L_perp = Lc - L_in
    logP = np.where(S, np.log(np.where(S, Pm, 1.0)), 0.0)
    target = np.where(S, logP - logP.sum(axis=1, keepdims=True) / n_in, 0.0)
    ref = None
    if isinstance(reference, str):
        if reference == "centered":
            ref = centered_support_matrix(S)
        elif reference == "nuclear":
            ref = nuclear_norm_max_margin_logits(S).L
        else:
            raise ValueError(f"reference must be None, 'centered', 'nuclear' or an (m, V) array, got {reference!r}")
    elif reference is not None:
        ref = as_real_array(reference, "reference", ndim=2)
        if ref.shape != S.shape:
            raise ValueError(f"reference must have shape {S.shape}, got {ref.shape}")
    if ref is not None:
        nr = float(np.linalg.norm(ref))
        npp = float(np.linalg.norm(L_perp))
        scale = float(np.sum(L_perp * ref) / nr**2)
        cosine = float(np.sum(L_perp * ref) / (nr * npp)) if npp > 0 else float("nan")
    else:
        scale = cosine = float("nan")
    return LogitSplit(
        L_in=L_in,
        L_perp=L_perp,
        log_odds=target,
        in_support_error=float(np.linalg.norm(L_in - target)),
        reference=ref,
        scale=scale,
        cosine=cosine,
        singular_values=np.linalg.svd(L_perp, compute_uv=False),
    )
