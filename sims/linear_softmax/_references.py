"""Reference quantities W*, W^mm, W~ for the metrics of the linear-softmax engine (private).

W* is :func:`theory.ntp.finite_component` and W^mm is
:func:`theory.ntp_svm.max_margin_direction` (one source of truth: the engine
never re-derives them); W* = 0 for one-hot data (F = {0}).
"""

from __future__ import annotations

import warnings

import numpy as np

from sims.linear_softmax._data import check_matrix
from sims.linear_softmax._problem import F_MAX, kmatmul
from theory._validation import as_choice
from theory.ntp import NTPData, finite_component
from theory.ntp_svm import max_margin_direction

#: With references="auto", W* is not computed when its dense solve (rank H < m) would cost
#: more than this many flops: at (m, d, V) = (600, 300, 400) with supports of 3 the former
#: SVD of the generators (1.7e11 flops) took 192-713 s, longer than the run it was meant to
#: annotate; the Gram solve used there now needs ~1.7e9.
W_STAR_MAX_FLOPS = 1e10

#: Solvers accepted for W^mm (``reference_solver``); see :func:`theory.ntp_svm.max_margin_direction`.
REFERENCE_SOLVERS = ("clarabel", "dual", "auto")


def choose_solver(reference_solver, P=None):
    """The W^mm solver to request: the given one, or ``"auto"`` for None.

    ``"auto"`` lets :func:`theory.ntp_svm.max_margin_direction` pick by problem size
    (Clarabel on small problems, the structured dual solver on large ones), so the
    threshold lives in one place; the result records which solver ran and why.
    """
    if reference_solver is None:
        return "auto"
    return as_choice(reference_solver, "reference_solver", REFERENCE_SOLVERS)


def check_references(references):
    """``references`` as True, False or "auto" (the default of ``run``)."""
    if references is True or references is False or (isinstance(references, str) and references == "auto"):
        return references
    if isinstance(references, (bool, np.bool_)):
        return bool(references)
    raise ValueError(f"references must be 'auto', True or False; got {references!r}")


def as_ntpdata(data, prob):
    """``data`` if it is an NTPData, else an NTPData of the checked arrays."""
    return data if isinstance(data, NTPData) else NTPData(prob.H, prob.P, prob.pi)


def resolve_references(data, prob, W_star, W_mm, w_tilde, compute, reference_solver=None):
    """The reference matrices (V, d) or None, and where each came from.

    Given ones are checked; with ``compute``, a missing W* comes from
    ``theory.ntp.finite_component`` and a missing W^mm from
    ``theory.ntp_svm.max_margin_direction`` (the solver that ran, as the result
    reports it, recorded in ``src["W_mm_solver"]``); a failure there warns and leaves the metrics NaN.
    """
    V, d = prob.V, prob.d
    src = {}
    out = {}
    for name, val in (("W_star", W_star), ("W_mm", W_mm), ("w_tilde", w_tilde)):
        if val is not None:
            out[name] = check_matrix(name, val, (V, d))
            src[name] = "given"
        else:
            out[name] = None
            src[name] = "unavailable"
    if out["W_star"] is None and prob.onehot:
        out["W_star"] = np.zeros((V, d))
        src["W_star"] = "zero (one-hot data: F = {0})"
    skip = None
    if compute == "auto" and out["W_star"] is None:
        n_gen = int(np.sum(np.maximum((prob.P > 0).sum(axis=1) - 1, 0)))
        # rank H < m: finite_component takes the dense path: with N < V r independent
        # generators a Cholesky solve with their (N, N) Gram matrix after an eigenvalue
        # check (~N^3 flops in all), else an SVD of the (N, V r) generators (~N V r min(N, V r));
        # dependent generators with N < V r also end in the SVD (not predicted here)
        Vr = prob.V * prob.r
        dense_flops = ((float(n_gen) ** 3 if n_gen < Vr else float(n_gen) * Vr * min(n_gen, Vr))
                       if prob.r < prob.m else 0.0)
        if not prob.has_F:  # the engine skips its F-metrics here too
            skip = f"F has more than F_MAX = {F_MAX} generators"
        elif dense_flops > W_STAR_MAX_FLOPS:
            skip = f"the dense W* solve needs ~{dense_flops:.1e} flops (> {W_STAR_MAX_FLOPS:.0e})"
    if skip is not None:
        src["W_star"] = f"skipped: {skip}; pass W_star=... or references=True"
    elif compute and out["W_star"] is None:
        try:
            res = finite_component(as_ntpdata(data, prob))
            out["W_star"] = check_matrix("W_star", getattr(res, "W", res), (V, d))
            src["W_star"] = "theory.ntp.finite_component"
        except ValueError as exc:  # theory rejects the data: the W*-metrics become NaN
            warnings.warn(f"W_star unavailable ({exc}); the W*-metrics are NaN. Pass W_star=... or "
                          "references=False.", UserWarning, stacklevel=4)
    if compute and out["W_mm"] is None:
        solver = choose_solver(reference_solver, prob.P)
        try:
            res = max_margin_direction(as_ntpdata(data, prob), **({} if solver is None else {"solver": solver}))
            out["W_mm"] = check_matrix("W_mm", getattr(res, "W", res), (V, d))
            src["W_mm"] = "theory.ntp_svm.max_margin_direction"
            # what ran: the method ("clarabel" or "dual") and the solver's own name
            src["W_mm_solver"] = str(getattr(res, "method", solver or "default"))
            src["W_mm_solver_name"] = str(getattr(res, "solver", ""))
        except Exception as exc:  # non-separable data, solver failure: metrics become NaN
            warnings.warn(f"W_mm unavailable ({type(exc).__name__}: {exc}); the max-margin metrics are NaN. "
                          "Pass W_mm=... or references=False.", UserWarning, stacklevel=4)
    return out, src


def reference_arrays(prob, refs, W0p):
    """Feature-space parts (3, V, r), perp Gram (4, 4), logit diffs b* and flags."""
    B = prob.B
    parts = np.zeros((3, prob.V, prob.r))
    perps = [W0p]
    has = np.zeros(4, dtype=np.bool_)
    for i, name in enumerate(("W_star", "W_mm", "w_tilde")):
        A = refs[name]
        if A is None:
            perps.append(np.zeros((prob.V, prob.d)))
            continue
        has[i] = True
        if prob.space == "full":
            parts[i] = A
            perps.append(np.zeros_like(A))
        else:
            parts[i] = kmatmul(A, B)
            perps.append(A - kmatmul(parts[i], B.T))
    has[3] = prob.has_F
    flat = np.stack([p.ravel() for p in perps])
    cp = flat @ flat.T
    if refs["W_star"] is not None and prob.f_j.size:
        Ls = prob.H @ refs["W_star"].T
        bstar = Ls[prob.f_j, prob.f_a] - Ls[prob.f_j, prob.f_b]
    else:
        bstar = np.zeros(prob.f_j.size)
    wmm_norm = float(np.linalg.norm(refs["W_mm"])) if refs["W_mm"] is not None else np.nan
    return parts, cp, np.ascontiguousarray(bstar), has, wmm_norm

