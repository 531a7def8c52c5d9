"""Logit space ([Z24]): centred support matrix, nuclear-norm max-margin logits, sparse + low-rank split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from theory._validation import as_probability_rows, as_real_array
from theory.margin import solve_clarabel
from theory.ntp_svm._problem import SDP_OPTIONS, support_arg


def centered_support_matrix(support: Any) -> np.ndarray:
    r"""The centred support matrix :math:`\tilde S=S(I-\mathbf 1\mathbf 1^\top/V)` ([Z24]).

    Entries :math:`1-S_j/V` in-support and :math:`-S_j/V` off-support: every margin
    constraint holds with equality, in-support entries are equal, rows sum to 0. For
    orthonormal context embeddings it is exactly the logit matrix of :math:`W^{mm}`
    (derived here; check N.2).

    Parameters
    ----------
    support : array_like, shape (m, V), or object with attribute ``P``
        Boolean / 0-1 support pattern, or probabilities (support = entries > 0).

    Returns
    -------
    ndarray, shape (m, V)
    """
    S = support_arg(support).astype(float)
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
    whenever :math:`d\ge\operatorname{rank}L` (derived here). Solved as an SDP with cvxpy and
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
    S = support_arg(support)
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

    Definition (not in the sources; chosen here). Softmax ignores row shifts, so first
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
        Next-token probabilities (supports and log-odds): rows nonnegative, summing to 1.
    reference : {None, "centered", "nuclear"} or array_like (m, V), optional
        Max-margin logits to compare ``L_perp`` with: the centred support matrix, the
        nuclear-norm solution (:func:`nuclear_norm_max_margin_logits`, an SDP), or a given
        matrix (e.g. ``H @ W_mm.T``). Default: no comparison.

    Returns
    -------
    LogitSplit
    """
    Pm = as_probability_rows(P.P if hasattr(P, "P") else P, "P", ndim=2)
    S = support_arg(Pm, "P")
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
