r"""The shared hard-margin solver: rescale, Clarabel, active-set polish, certificate, map back."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from theory._validation import as_bool, as_bool_array, as_choice, as_int, as_real_array, as_text, as_tolerance, check_memory
from theory.margin._certificate import ACCEPT_KKT_TOL, ACTIVE_SLACK, KKTCertificate
from theory.margin._linalg import power_of_two_scale
from theory.margin._rows import ConstraintRows, DenseRows, GramRows

__all__ = [
    "MarginPoint",
    "MarginSolution",
    "MarginSolverError",
    "NotSeparableError",
    "hard_margin_svm",
    "polish_active_set",
    "solve_margin",
]

#: Multipliers and violations below this (relative) are rounding in the polish's checks.
POLISH_TOL = 1e-9


class NotSeparableError(ValueError):
    """The margin constraints have no solution; ``certificate`` proves it (Farkas)."""

    def __init__(self, message: str, certificate: Any = None):
        super().__init__(message)
        self.certificate = certificate


class MarginSolverError(RuntimeError):
    """No verified solution: the message gives the solver status and the KKT residuals."""


@dataclass(frozen=True)
class MarginPoint:
    r"""A verified solution of a :class:`~theory.margin.ConstraintRows` problem (original scale).

    Attributes
    ----------
    w : ndarray
        :math:`W` in the rows' own shape.
    ineq_multipliers : ndarray, shape (n,)
        :math:`\lambda\ge0`.
    eq_multipliers : ndarray, shape (q,)
        :math:`\beta`.
    status, solver : str
        cvxpy status and solver name of the Clarabel solve.
    iterations : int
        Interior-point iterations.
    polished : bool
        Whether the active-set polish was accepted.
    certificate : KKTCertificate
        Of the problem actually solved (the data divided by ``scale``); every residual is
        relative, so it certifies the original problem too.
    scale : float
        Power of two the rows were divided by before solving (1.0: not rescaled).
    notes : str
    """

    w: np.ndarray
    ineq_multipliers: np.ndarray
    eq_multipliers: np.ndarray
    status: str
    solver: str
    iterations: int
    polished: bool
    certificate: KKTCertificate
    scale: float = 1.0
    notes: str = ""
    w_unpolished: np.ndarray | None = field(default=None, repr=False)


def polish_active_set(rows: ConstraintRows, active: np.ndarray, *, max_rounds: int = 10,
                      tol: float = POLISH_TOL):
    r"""Active-set polish (paper, Sec. 'Numerics and solvers'): equality solves with working-set corrections.

    The working set ``active`` (boolean, shape (n,)) of inequality rows is made tight
    together with all equalities and the minimum-norm W of that system is computed
    (:meth:`ConstraintRows.equality_solve`); rows with a negative multiplier leave, violated
    rows enter, and the solve is repeated (at most ``max_rounds`` times, never the same
    working set twice).

    Returns
    -------
    tuple (w, lam, beta, rounds) or None
        ``lam`` clipped at 0 (entries above :math:`-10^{-9}\max|\mu|`); None if the working
        set cycles, the rounds run out, or the equalities are not met.
    """
    if not isinstance(rows, ConstraintRows):
        raise TypeError(f"rows must be a theory.margin.ConstraintRows (e.g. DenseRows), got {type(rows).__name__}")
    active = as_bool_array(active, "active", shape=(rows.n_ineq,)).copy()
    max_rounds = as_int(max_rounds, "max_rounds", low=1)
    tol = as_tolerance(tol, "tol")
    seen: set[bytes] = set()
    for k in range(1, max_rounds + 1):
        if not active.any():
            return None
        lam, beta = rows.equality_solve(active)
        w = rows.combine(lam, beta, sparse=True)
        a, b = rows.values(w)
        scale = max(1.0, float(np.abs(lam).max()), float(np.abs(beta).max()) if beta.size else 0.0)
        wrong = active & (lam < -tol * scale)
        viol = ~active & (a < 1.0 - tol)
        if not wrong.any() and not viol.any():
            if a.min() < 1.0 - tol:
                return None
            if b.size and float(np.abs(b).max()) > tol * max(1.0, float(np.abs(a).max())):
                return None
            return w, np.maximum(lam, 0.0), beta, k
        key = np.packbits(active).tobytes()
        if key in seen:
            return None
        seen.add(key)
        active = (active & ~wrong) | viol
    return None


def solve_margin(rows: ConstraintRows, *, what: str = "the max-margin QP", polish: bool = True,
                 accept_tol: float = ACCEPT_KKT_TOL) -> MarginPoint:
    r"""Solve :math:`\min\tfrac12\|W\|^2` s.t. the rows' margins and equalities, verified.

    Steps: (1) if the rows' size (:meth:`ConstraintRows.row_scale`) is far from 1, divide
    them by the nearest power of two (:func:`theory.margin.power_of_two_scale`; exact);
    (2) cvxpy + Clarabel (:data:`theory.margin.CLARABEL_OPTIONS`); (3) active-set polish
    from the rows with slack below :data:`ACTIVE_SLACK` or a multiplier above
    :data:`ACTIVE_SLACK` times the largest; (4) KKT certificate, refused above
    ``accept_tol``; (5) map back: :math:`W=W_s/f`, :math:`\lambda=\lambda_s/f^2`,
    :math:`\beta=\beta_s/f^2` for rows multiplied by :math:`f`.

    Parameters
    ----------
    rows : ConstraintRows
    what : str
        Name of the problem in error messages.
    polish : bool
        Run step (3).
    accept_tol : float
        Largest accepted scaled KKT residual.

    Returns
    -------
    MarginPoint

    Raises
    ------
    NotSeparableError
        Clarabel reports infeasibility and a Farkas certificate (:meth:`ConstraintRows.farkas`)
        confirms it.
    MarginSolverError
        Any other failure: solver status, residuals.
    """
    if not isinstance(rows, ConstraintRows):
        raise TypeError(f"rows must be a theory.margin.ConstraintRows (e.g. DenseRows), got {type(rows).__name__}")
    what = as_text(what, "what")
    polish = as_bool(polish, "polish")
    accept_tol = as_tolerance(accept_tol, "accept_tol")
    size = rows.row_scale()
    s0 = power_of_two_scale(size)
    # Clarabel at its tight tolerances occasionally stops with a numerical failure on one
    # scaling of the data and not on the next power of two (seen: a 30 x 20 binary SVM at
    # s = 10^0.09375). Rescaling by a power of two is exact, so retry there before giving up.
    failures = []
    for s in (s0, 2.0 * s0, 0.5 * s0):
        rs = rows.scaled(1.0 / s) if s != 1.0 else rows
        try:
            pt = rs.clarabel()
            break
        except RuntimeError as exc:
            failures.append(f"at scale 1/{s:g}: {exc}")
    else:
        raise MarginSolverError(f"Clarabel failed on {what} (rows of size {size:.3g}) at three power-of-two "
                                f"scalings: {'; '.join(failures)}")
    w_raw, lam_raw, beta_raw, status, solver, iters = pt
    if w_raw is None or status in ("infeasible", "infeasible_inaccurate"):
        cert = rs.farkas()
        if cert is not None:
            raise NotSeparableError(
                f"{what} is infeasible (Clarabel status {status!r}): {rs.describe_infeasible(cert)}", cert
            )
        raise MarginSolverError(
            f"Clarabel returned status {status!r} on {what} and no Farkas certificate of infeasibility "
            f"was found (rows of size {size:.3g}, solved at scale 1/{s:g})"
        )
    if status not in ("optimal", "optimal_inaccurate"):
        raise MarginSolverError(f"Clarabel returned status {status!r} on {what}")
    if not (np.isfinite(w_raw).all() and np.isfinite(lam_raw).all() and np.isfinite(beta_raw).all()):
        raise MarginSolverError(f"Clarabel returned a point with NaN or inf entries on {what} (status {status!r})")
    notes = [f"Clarabel failed {failures[0]}; solved at scale 1/{s:g} instead"] if failures else []
    if s != 1.0:
        notes.append(f"rows divided by 2^{int(np.log2(s))} before solving")
    out = None
    if polish:
        a_raw, _ = rs.values(w_raw)
        lmax = max(float(lam_raw.max()) if lam_raw.size else 0.0, np.finfo(float).tiny)
        act = (a_raw - 1.0 <= ACTIVE_SLACK) | (lam_raw > ACTIVE_SLACK * lmax)
        try:
            out = polish_active_set(rs, act)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError) as exc:
            notes.append(f"polish failed ({exc})")
        if out is None:
            notes.append("active-set polish rejected: Clarabel's point returned")
        else:
            notes.append(f"active-set polish: {out[3]} equality solve(s)")
    if out is None:
        w, lam, beta, polished = w_raw, lam_raw, beta_raw, False
    else:
        w, lam, beta, _ = out
        polished = True
    cert = rs.certificate(w, lam, beta)
    if not cert.check(accept_tol):
        raise MarginSolverError(
            f"no verified solution of {what}: Clarabel status {status!r}, polish "
            f"{'accepted' if polished else 'rejected'}, KKT residuals ({cert.describe()}) exceed {accept_tol:g} "
            f"in {', '.join(cert.failures(accept_tol))} (rows of size {size:.3g})"
        )
    if s != 1.0:
        w, lam, beta, w_raw = w / s, lam / (s * s), beta / (s * s), w_raw / s
    return MarginPoint(w=w, ineq_multipliers=lam, eq_multipliers=beta, status=status, solver=solver,
                       iterations=int(iters), polished=polished, certificate=cert, scale=s,
                       notes="; ".join(notes), w_unpolished=w_raw)


@dataclass(frozen=True)
class MarginSolution:
    r"""Solution of :func:`hard_margin_svm`.

    Attributes
    ----------
    w : ndarray, shape (p,), or None
        :math:`w^\star=A^\top\alpha+B^\top\beta`; None on the Gram-only path.
    alpha : ndarray, shape (n,)
        Dual multipliers :math:`\alpha\ge0` of the inequality rows.
    eq_multipliers : ndarray, shape (q,)
        :math:`\beta` of the equality rows (empty without equalities).
    margin : float
        :math:`1/\|w^\star\|` (Gram path: :math:`1/\sqrt{\alpha^\top K\alpha}`).
    decision_values : ndarray, shape (n,)
        :math:`Aw^\star` (Gram path: :math:`K\alpha`); at least 1, equal to 1 on active rows.
    active : ndarray of int
        Rows with :math:`\langle a_i,w^\star\rangle-1\le` :data:`ACTIVE_SLACK`.
    support : ndarray of int
        Rows with :math:`\alpha_i>10^{-9}\max\alpha`.
    solver, status : str
        ``"CLARABEL"`` and cvxpy's status.
    polished : bool
    certificate : KKTCertificate
    scale : float
        Power of two the data were divided by before solving (1.0: as given).
    solve_time : float
        Seconds.
    notes : str
    """

    w: np.ndarray | None
    alpha: np.ndarray
    eq_multipliers: np.ndarray
    margin: float
    decision_values: np.ndarray
    active: np.ndarray
    support: np.ndarray
    solver: str
    status: str
    polished: bool
    certificate: KKTCertificate
    scale: float
    solve_time: float
    notes: str = ""


#: Largest relative asymmetry and negative eigenvalue accepted in a Gram matrix.
GRAM_RTOL = 1e-8


def _gram_arg(gram: Any) -> np.ndarray:
    K = as_real_array(gram, "gram", ndim=2)
    n = K.shape[0]
    if K.shape != (n, n):
        raise ValueError(f"gram must be a square (n, n) matrix, got shape {K.shape}")
    top = float(np.abs(K).max())
    asym = float(np.abs(K - K.T).max())
    if asym > GRAM_RTOL * max(top, np.finfo(float).tiny):
        raise ValueError(f"gram must be symmetric; max |K - K^T| = {asym:.3g} (max |K| = {top:.3g})")
    K = 0.5 * (K + K.T)
    lo = float(scipy.linalg.eigvalsh(K, subset_by_index=[0, 0])[0]) if n > 1 else float(K[0, 0])
    if lo < -GRAM_RTOL * max(top, np.finfo(float).tiny) * n:
        raise ValueError(
            f"gram must be positive semidefinite (a Gram matrix A A^T); its smallest eigenvalue is {lo:.3g} "
            f"(max |K| = {top:.3g})"
        )
    return K


def hard_margin_svm(features: Any = None, *, gram: Any = None, equalities: Any = None,
                    solver: str = "clarabel") -> MarginSolution:
    r"""Hard-margin SVM through the origin, from features or from a Gram matrix only.

    .. math::

        \min_w\ \tfrac12\|w\|^2\quad\text{s.t.}\quad\langle a_i,w\rangle\ge1\ (i<n),\qquad
        \langle b_k,w\rangle=0\ (k<q).

    Dual: :math:`\max_{\alpha\ge0,\beta}\ \mathbf 1^\top\alpha-\tfrac12\|A^\top\alpha+B^\top\beta\|^2`,
    so without equalities it involves only :math:`K=AA^\top` and the margin is
    :math:`1/\|w^\star\|=1/\sqrt{\alpha^\top K\alpha}=1/\sqrt{\mathbf 1^\top\alpha}`.
    Labels are part of the rows: a binary SVM on (x_i, y_i) is ``features = y[:, None] * X``,
    a kernel SVM is ``gram = (y y^T) * K(X, X)`` (e.g. :math:`K_{ij}=y_iy_jK_1(x_i,x_j)` for
    the NTK margin of two-layer ReLU nets).

    Parameters
    ----------
    features : array_like, shape (n, p), optional
        Inequality rows :math:`a_i`. Exactly one of ``features`` and ``gram``.
    gram : array_like, shape (n, n), keyword-only, optional
        :math:`K=AA^\top` (symmetric positive semidefinite). Gram-only path: ``w`` is None,
        ``alpha``, ``margin``, ``decision_values`` (:math:`K\alpha`) and the certificate
        are returned; internally :math:`A` is replaced by a square root of K of rank
        rank(K), which has the same Gram matrix and hence the same :math:`\alpha`.
    equalities : array_like, shape (q, p), keyword-only, optional
        Equality rows :math:`b_k` (features path only).
    solver : {"clarabel"}
        cvxpy + Clarabel; recorded in the result.

    Returns
    -------
    MarginSolution

    Raises
    ------
    TypeError, ValueError
        Bad input (named); ``NotSeparableError`` (a ``ValueError``) when no w satisfies the
        constraints, with a Farkas certificate.
    MarginSolverError
        No solution with a valid KKT certificate (message: status and residuals).

    Notes
    -----
    Scale invariance: rows of any size in roughly [1e-150, 1e150] are first divided by a
    power of two (exact) so that the largest row norm is about 1; the answer maps back as
    :math:`w\to w/s`, :math:`\alpha\to\alpha/s^2`, margin :math:`\to` margin :math:`\cdot s`.

    Examples
    --------
    >>> import numpy as np
    >>> sol = hard_margin_svm(np.array([[3.0, 4.0]]))
    >>> np.round(sol.w, 12), round(sol.margin, 12)
    (array([0.12, 0.16]), 5.0)
    """
    t0 = time.perf_counter()
    as_choice(solver, "solver", ("clarabel",))
    if (features is None) == (gram is None):
        raise ValueError("pass exactly one of features (rows a_i, shape (n, p)) and gram (K = A A^T, shape (n, n))")
    if gram is not None:
        if equalities is not None:
            raise ValueError("equalities need the features: the Gram-only path accepts no equality rows")
        n = int(np.shape(gram)[0]) if np.ndim(gram) >= 1 else 0
        check_memory(8.0 * n * n * 4, f"hard_margin_svm(gram of size {n})")
        K = _gram_arg(gram)
        rows: DenseRows = GramRows(K)
    else:
        A = as_real_array(features, "features", ndim=2)
        n, p = A.shape
        B = None
        if equalities is not None:
            B = as_real_array(equalities, "equalities", ndim=2)
            if B.shape[1] != p:
                raise ValueError(f"equalities must have shape (q, {p}) to match features, got {B.shape}")
        check_memory(8.0 * (n + (0 if B is None else B.shape[0])) * p * 4,
                     f"hard_margin_svm(features of shape {A.shape})")
        rows = DenseRows(A, B)
    pt = solve_margin(rows, what="the hard-margin SVM")
    alpha = pt.ineq_multipliers
    if gram is not None:
        dec = K @ alpha
        nrm = float(np.sqrt(max(float(alpha @ dec), 0.0)))
        w = None
    else:
        w = pt.w
        dec = rows.A @ w
        nrm = float(np.linalg.norm(w))
    amax = max(float(alpha.max()), np.finfo(float).tiny)
    return MarginSolution(
        w=w, alpha=alpha, eq_multipliers=pt.eq_multipliers, margin=1.0 / nrm, decision_values=dec,
        active=np.flatnonzero(dec - 1.0 <= ACTIVE_SLACK), support=np.flatnonzero(alpha > 1e-9 * amax),
        solver=pt.solver, status=pt.status, polished=pt.polished, certificate=pt.certificate, scale=pt.scale,
        solve_time=time.perf_counter() - t0, notes=pt.notes,
    )
