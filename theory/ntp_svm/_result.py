"""The NTP-SVM result object, its KKT certificate and the map back from rescaled data."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np

from theory.margin import ACTIVE_SLACK, KKTCertificate, kkt_certificate
from theory.ntp_svm._problem import Problem, anchored


def ntp_certificate(pb: Problem, W: np.ndarray, R: np.ndarray) -> KKTCertificate:
    r"""KKT certificate of (W, R) for the NTP-SVM (anchored form, see module docstring)."""
    H, sup = pb.H, pb.support
    L = H @ W.T
    hi = np.where(sup, L, -np.inf).max(axis=1)
    lo = np.where(sup, L, np.inf).min(axis=1)
    off = pb.off
    jo, vo = np.nonzero(off)
    margins = lo[jo] - L[jo, vo]  # worst in-support token against v
    lam = -R[jo, vo]
    W_gen = anchored(R, pb.anchors).T @ H
    return kkt_certificate(
        margins,
        lam,
        W,
        W_gen,
        equality_residual=float(np.max(hi - lo)),
        equality_scale=max(1.0, float(np.abs(L).max())),
    )


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


def make_result(
    pb: Problem,
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
    cert = ntp_certificate(pb, W, R) if certificate is None else certificate
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


def rescaled_result(res: NTPMaxMarginResult, s: float, choice: str) -> NTPMaxMarginResult:
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
