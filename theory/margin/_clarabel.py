"""The one cvxpy + Clarabel call of the max-margin code, with its settings."""

from __future__ import annotations

import time
import warnings
from typing import Any

__all__ = ["CLARABEL_OPTIONS", "solve_clarabel"]

#: Clarabel settings used by every cvxpy solve in this package's max-margin code.
#: Much tighter than the defaults (1e-8) because the objective is flat to second order at
#: the optimum: an objective accurate to eps leaves W only ~sqrt(eps) accurate (numerics
#: §1). Measured on the NTP-SVM: 1e-10 left W up to 1.3e-6 (relative) from the exact
#: solution at (m, d, V) = (200, 201, 100), 1e-12 about 100x less. These tolerances are
#: partly absolute, which is why :func:`theory.margin.hard_margin_svm` first rescales the
#: data to unit size.
CLARABEL_OPTIONS: dict[str, Any] = dict(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, max_iter=500)


def solve_clarabel(prob: Any, **overrides: Any) -> tuple[str, str, float]:
    """Solve a cvxpy problem with Clarabel (named explicitly).

    Parameters
    ----------
    prob : cvxpy.Problem
    **overrides
        Clarabel settings replacing those of :data:`CLARABEL_OPTIONS`.

    Returns
    -------
    status : str
        cvxpy's status (``"optimal"``, ``"optimal_inaccurate"``, ``"infeasible"``, ...).
    solver : str
        ``prob.solver_stats.solver_name`` (``"CLARABEL"``).
    seconds : float
        Wall time of the solve.

    Raises
    ------
    RuntimeError
        Clarabel raised (cvxpy ``SolverError``); the message carries the solver's text.

    Notes
    -----
    cvxpy's "solution may be inaccurate" warning is silenced: the status is returned and
    the callers check a KKT certificate instead of relying on a warning.
    """
    import cvxpy as cp

    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            prob.solve(solver=cp.CLARABEL, **{**CLARABEL_OPTIONS, **overrides})
    except cp.error.SolverError as exc:
        raise RuntimeError(f"Clarabel failed on the max-margin QP: {exc}") from exc
    name = getattr(prob.solver_stats, "solver_name", None) or "CLARABEL"
    return str(prob.status), str(name), time.perf_counter() - t0
