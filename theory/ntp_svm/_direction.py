"""Public entry point :func:`max_margin_direction`: solver choice, rescaling, retries."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from theory._validation import as_choice, as_int, check_memory
from theory.margin import MarginSolverError, power_of_two_scale
from theory.ntp_svm._clarabel import solve_clarabel_ntp
from theory.ntp_svm._dual import solve_dual
from theory.ntp_svm._problem import AUTO_CLARABEL_MAX_NNZ, RETRY_CLARABEL_MAX_NNZ, SOLVERS, Problem, as_problem
from theory.ntp_svm._result import NTPMaxMarginResult, rescaled_result


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
        polishing (paper, Sec. 'Numerics and solvers', :func:`theory.margin.polish_active_set`): the
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
    **Dual solver** (derived here, see module docstring). The dual is the bound- and
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
    the common logits :math:`c`, see ``equality_solve``), constraints with wrong-sign
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
    pb = as_problem(data)
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
    pb_s = pb if s == 1.0 else Problem(H=pb.H / s, support=pb.support, anchors=pb.anchors)
    order = [key, "dual" if key == "clarabel" else "clarabel"]
    errors = []
    res = None
    for k, method in enumerate(order):
        if k and method == "clarabel" and nnz > RETRY_CLARABEL_MAX_NNZ:
            errors.append(f"clarabel not tried: ~{nnz:.3g} nonzeros > RETRY_CLARABEL_MAX_NNZ")
            break
        try:
            res = solve_clarabel_ntp(pb_s, t0) if method == "clarabel" else solve_dual(pb_s, int(max_iter), t0)
            break
        except MarginSolverError as exc:
            errors.append(f"{method}: {exc}")
    if res is None:
        raise MarginSolverError("no verified NTP-SVM solution; " + " | ".join(errors))
    if errors:
        choice += f"; retried with {res.method} after: " + " | ".join(errors)
    return rescaled_result(res, s, choice)


def clarabel_size(m: int, d: int, V: int) -> float:
    """Estimated nonzeros of Clarabel's constraint matrix for the NTP-SVM: m V min(m, d) / 2."""
    m, d, V = as_int(m, "m", low=1), as_int(d, "d", low=1), as_int(V, "V", low=1)
    return 0.5 * m * V * min(m, d)
