"""Problem set-up of the NTP-SVM: validated data, supports, anchors, constants."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from theory._validation import as_real_array

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


@dataclass(frozen=True)
class Problem:
    H: np.ndarray
    support: np.ndarray
    anchors: np.ndarray

    @property
    def off(self) -> np.ndarray:
        return ~self.support


def as_problem(data: Any, name: str = "data") -> Problem:
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
    return Problem(H=H, support=support, anchors=anchors)


def support_arg(support: Any, name: str = "support") -> np.ndarray:
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


def anchored(R: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """R with each anchor entry rebuilt from the others (the anchored-generator combination)."""
    Rg = R.copy()
    rows = np.arange(R.shape[0])
    Rg[rows, anchors] = 0.0
    Rg[rows, anchors] = -Rg.sum(axis=1)
    return Rg


def reduce_rank(H: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """H = X Q^T with Q (d x r) orthonormal, X (m x r), r = numerical rank."""
    U, s, Vt = np.linalg.svd(H, full_matrices=False)
    r = int(np.sum(s > max(H.shape) * np.finfo(float).eps * s[0])) if s[0] > 0 else 0
    return U[:, :r] * s[:r], Vt[:r].T, r
