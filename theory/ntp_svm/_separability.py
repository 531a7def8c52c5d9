"""NTP-compatibility and NTP-separability, with witnesses and Farkas certificates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.sparse

from theory._validation import as_probability_rows, as_real_array, check_memory
from theory.margin import involved_rows, power_of_two_scale, support_farkas
from theory.ntp_svm._logits import centered_support_matrix
from theory.ntp_svm._problem import Problem, anchored, as_problem, reduce_rank


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


def compatibility_residual(X: np.ndarray, sup: np.ndarray, logP: np.ndarray) -> float:
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
    pb = data if isinstance(data, Problem) else as_problem(data)
    H, sup = pb.H, pb.support
    m, d = H.shape
    V = sup.shape[1]
    check_memory(8.0 * (m * d + 3 * m * V * (min(m, d) + 1)), f"check_separability(m={m}, d={d}, V={V})")
    # the LPs' tolerances are absolute: solve on H divided by a power of two (exact) when
    # H is far from unit size; witness W maps back as W / s, certificates are scale-free
    scale = power_of_two_scale(float(np.linalg.norm(H, axis=1).max()))
    X, Q, r = reduce_rank(H / scale if scale != 1.0 else H)
    P = getattr(data, "P", None)
    if P is not None and not isinstance(data, Problem):
        Pa = np.asarray(P, dtype=float)
        logP = np.where(sup, np.log(np.where(sup, Pa, 1.0)), 0.0)
        comp_res = compatibility_residual(X, sup, logP) if r < m else 0.0
        compatible = comp_res <= 1e-8 * (1.0 + float(np.linalg.norm(logP)))
    else:
        comp_res, compatible = float("nan"), True
    if r == m:
        Lt = centered_support_matrix(sup)
        W = scipy.linalg.lstsq(H, Lt)[0].T
        return SeparabilityResult(
            compatible=bool(compatible), compatibility_residual=float(comp_res), separable=True, method="rank",
            rank=r, witness=W, witness_residual=witness_residual(pb, W), certificate=None, contexts=(),
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
            rank=r, witness=W, witness_residual=witness_residual(pb, W), certificate=None, contexts=(),
            tokens=(), solver="HiGHS (scipy.optimize.linprog)",
        )
    if res.status != 2:
        raise RuntimeError(f"HiGHS separability LP failed with status {res.status}: {res.message}")
    R = support_farkas(X, sup)
    if R is None:
        raise RuntimeError("the separability LP is infeasible but no Farkas certificate was found")
    cert = farkas_certificate(pb, R)
    return SeparabilityResult(
        compatible=bool(compatible), compatibility_residual=float(comp_res), separable=False, method="lp",
        rank=r, witness=None, witness_residual=float("nan"), certificate=cert, contexts=cert.contexts,
        tokens=cert.tokens, solver="HiGHS (scipy.optimize.linprog)",
    )


def witness_residual(pb: Problem, W: np.ndarray) -> float:
    L = pb.H @ W.T
    sup = pb.support
    hi = np.where(sup, L, -np.inf).max(axis=1)
    lo = np.where(sup, L, np.inf).min(axis=1)
    jo, vo = np.nonzero(pb.off)
    viol = max(0.0, float(np.max(1.0 - (lo[jo] - L[jo, vo]))))
    return max(float(np.max(hi - lo)), viol)


def farkas_certificate(pb: Problem, R: np.ndarray) -> FarkasCertificate:
    sup, H = pb.support, pb.H
    off = ~sup
    scale = float(np.abs(R).max())
    R = np.where(np.abs(R) > 1e-12 * scale, R, 0.0)
    Rg = anchored(R, pb.anchors)
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


def nonseparable_error(sep: SeparabilityResult) -> ValueError:
    parts = [f"context {j} (tokens {list(t)})" for j, t in zip(sep.contexts, sep.tokens)]
    return ValueError(
        "the data are not NTP-separable: no W satisfies the equalities (6a) and margins (6b), so W^mm "
        "does not exist. A Farkas certificate (check_separability(data).certificate, verified: "
        f"combination residual {sep.certificate.combination_residual:.1e}) combines the constraints of "
        + ", ".join(parts)
    )


@dataclass(frozen=True)
class SupportData:
    """Minimal data object (H, P, pi) accepted by this module; see :func:`nonseparable_instance`.

    Unlike :class:`theory.ntp.NTPData` it allows full-support rows and zero ``pi`` entries
    (only the supports matter to the separability check), but the arrays are checked.

    Attributes
    ----------
    H : ndarray, shape (m, d)
        Context embeddings, finite.
    P : ndarray, shape (m, V)
        Next-token distributions (rows nonnegative, summing to 1).
    pi : ndarray, shape (m,)
        Context distribution (nonnegative, summing to 1).
    """

    H: np.ndarray
    P: np.ndarray
    pi: np.ndarray

    def __post_init__(self) -> None:
        H = as_real_array(self.H, "H", ndim=2)
        P = as_probability_rows(self.P, "P", ndim=2)
        if P.shape[0] != H.shape[0]:
            raise ValueError(f"P must have shape (m, V) with m = {H.shape[0]} rows like H, got {P.shape}")
        pi = as_probability_rows(self.pi, "pi", ndim=1)
        if pi.shape != (H.shape[0],):
            raise ValueError(f"pi must have shape (m,) = ({H.shape[0]},) to match H, got {pi.shape}")
        for name, value in (("H", H), ("P", P), ("pi", pi)):
            object.__setattr__(self, name, value)


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
