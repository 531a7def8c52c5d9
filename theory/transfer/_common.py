"""Shared constants and input checks of :mod:`theory.transfer` (private module).

The checks wrap :mod:`theory._validation` with this family's conventions (a policy is
an (S, A) array of distributions, counts are nonnegative integers that the teacher can
emit); their names carry no underscore so that the topic files can import them.
"""

from __future__ import annotations

import math

import numpy as np

from theory._validation import as_probability_rows, as_real, as_real_array

__all__ = [
    "LEARNERS",
    "SUM_TOL",
    "validate_rho",
    "validate_pi_star",
    "validate_counts",
    "validate_learner",
    "check_delta",
    "positive_n",
    "scalar_or_array",
    "effective_even",
    "effective_odd",
]

#: The four learners of [ZZ23], in order of privileged information
#: (level 1, level 2, level 2, level 3).
LEARNERS: tuple[str, ...] = ("ce_sgl", "ce_ptl", "sel_ptl", "ce_ful")

#: Tolerance on ``|sum - 1|`` when checking that ``rho`` and the rows of
#: ``pi_star`` are probability distributions.
SUM_TOL = 1e-9


def validate_rho(rho, name: str = "rho") -> np.ndarray:
    """``rho`` as a float64 distribution of shape (S,), S >= 1."""
    arr = as_real_array(rho, name, nonempty=False)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (S,) with S >= 1, got shape {arr.shape}")
    return as_probability_rows(arr, name, atol=SUM_TOL)


def validate_pi_star(pi_star, name: str = "pi_star") -> np.ndarray:
    """``pi_star`` as a float64 (S, A) array whose rows are distributions."""
    arr = as_real_array(pi_star, name, nonempty=False)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have shape (S, A) with S, A >= 1, got shape {arr.shape}")
    return as_probability_rows(arr, name, atol=SUM_TOL)


def validate_counts(counts, pi_star: np.ndarray) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.dtype == object or arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"counts must be an integer array, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3) or arr.shape[-2:] != pi_star.shape:
        raise ValueError(
            f"counts must have shape (S, A) = {pi_star.shape} or (R, S, A) = "
            f"(R, {pi_star.shape[0]}, {pi_star.shape[1]}) to match pi_star, got shape "
            f"{arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise ValueError("counts must hold nonnegative integers (got non-integral values)")
    if np.any(arr < 0):
        bad = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(f"counts must be nonnegative; counts[{bad}] = {arr[bad]}")
    impossible = (arr > 0) & (pi_star == 0)
    if np.any(impossible):
        bad = tuple(int(i) for i in np.argwhere(impossible)[0])
        raise ValueError(
            f"counts{list(bad)} = {arr[bad]} > 0 but pi_star{list(bad[-2:])} = 0: such data "
            "cannot be drawn from rho x pi_star"
        )
    return arr.astype(np.float64)


def validate_learner(learner) -> str:
    if not isinstance(learner, str) or learner not in LEARNERS:
        raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")
    return learner


def check_delta(delta, upper: float = 1.0, inclusive: bool = False) -> float:
    """A confidence level delta in (0, upper) (or (0, upper] with ``inclusive``)."""
    d = as_real(delta, "delta", allow_inf=True)  # TypeError for non-reals, ValueError for NaN
    ok = 0.0 < d <= upper if inclusive else 0.0 < d < upper
    if not (math.isfinite(d) and ok):
        interval = f"(0, {upper:g}]" if inclusive else f"(0, {upper:g})"
        raise ValueError(f"delta must lie in {interval}, got {delta!r}")
    return d


def positive_n(n) -> np.ndarray:
    """Sample size(s) as a float64 array of finite numbers > 0."""
    if isinstance(n, (str, bytes)):
        raise TypeError(f"n must be a positive number or array of them, got the string {n!r}")
    arr = np.asarray(n)
    if np.iscomplexobj(arr):
        raise TypeError(f"n must be real, got the complex {n!r}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"n must be a positive number or array of them, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"n must be positive and finite, got {n!r}")
    return arr


def scalar_or_array(x: np.ndarray):
    return float(x) if np.ndim(x) == 0 else x


def effective_even(A: int) -> int:
    """The largest even number <= A."""
    return A if A % 2 == 0 else A - 1


def effective_odd(A: int) -> int:
    """The largest odd number <= A."""
    return A if A % 2 == 1 else A - 1
