r"""Knowledge transfer over finite domains: learners, exact risks and bounds of [ZZ23].

A teacher ("reference policy") :math:`\pi^* \in \Delta(\mathcal A|\mathcal S)` labels
inputs drawn from :math:`\rho \in \Delta(\mathcal S)`; the student sees
:math:`n` i.i.d. pairs :math:`(s_i, a_i) \sim \rho\times\pi^*` plus, depending on
the privileged-information level, the teacher's probability of the sampled label
(level 2) or the whole teacher row (level 3). All the learners of [ZZ23] depend
on the data only through the count matrix :math:`n_{s,a}` (and :math:`\pi^*` on
the rows and labels the level reveals), so this module works with the
(S, A) integer matrix ``counts``; :math:`n_s = \sum_a n_{s,a}`.

Learners (``LEARNERS``, [ZZ23] sections 3-5), for a seen input :math:`n_s > 0`:

.. math::

    \hat\pi_{\text{ce\_sgl}}(a|s) &= \frac{n_{s,a}}{n_s}
        \quad\text{(MLE, level 1, Thm 3.2)}\\
    \hat\pi_{\text{ce\_ptl}}(a|s) &= \frac{n_{s,a}\pi^*(a|s)}{\sum_b n_{s,b}\pi^*(b|s)}
        \quad\text{(partial cross-entropy, level 2, Thm 4.3)}\\
    \hat\pi_{\text{sel\_ptl}}(a|s) &= \begin{cases}\pi^*(a|s) & n_{s,a} > 0\\
        \frac{1-\sum_{b: n_{s,b}>0}\pi^*(b|s)}{\#\{b : n_{s,b} = 0\}} & n_{s,a} = 0
        \end{cases}\quad\text{(empirical squared-error logit, level 2, Thm 4.4)}\\
    \hat\pi_{\text{ce\_ful}}(a|s) &= \pi^*(a|s)
        \quad\text{(full cross-entropy = KL minimiser, level 3, Thm 5.2)}

and every learner outputs :math:`\mathrm{Uniform}(\mathcal A)` at unseen inputs
(the experiment convention of [ZZ23] section 6). The risk is the
:math:`\rho`-weighted total variation
:math:`\mathrm{TV}(\hat\pi, \pi^*|\rho) = \sum_s \rho(s)\,\tfrac12\|\hat\pi(\cdot|s)
- \pi^*(\cdot|s)\|_1`.

Indexing: inputs are ``0..S-1`` and labels ``0..A-1``; the paper's label
:math:`a \in \{1, \dots, A\}` is column ``a - 1`` here (so the paper's odd labels
:math:`2j-1` are the even columns ``0, 2, 4, ...``).

Slips of the paper that this module corrects (spec ``finite_domain_transfer.md``
section 6): Instance 3 uses Instance 2's :math:`\pi^*` (the text says "same as
Instance 3"); the light-input mass of the Thm 5.1 construction (C.4) is
:math:`1-(S-1)/(n+1)` on the heavy input, not :math:`1 - S^{-1}/(n+1)`; Lemma E.5
reads :math:`x(1-x)^n \le 4/(9n)`, not :math:`(4/9)n`.

Contents: the instances of [ZZ23] section 6 (:func:`instance0` ... :func:`instance3`);
the learners (:func:`estimate`) and the risk (:func:`tv_risk`); exact expected
risks at finite n (:func:`expected_risk_ce_ful` for any instance,
:func:`expected_risk_ce_sgl` for any instance, :func:`expected_risk_ce_ptl` for rows
"one odd label + equal others", :func:`expected_risk_sel_ptl_instance2`); limits
(:func:`partial_ce_limit`, :func:`ce_ptl_limit_risk` and the :math:`n\,\mathbb E\,\mathrm{TV}`
limits on Instances 2 and 3); the lower bounds of Thms 3.1, 4.1, 5.1 and the upper
bounds of Thms 3.2, 4.4, 5.2.

Provenance: formulas marked [derived] are not printed in [ZZ23]; their derivation
is in the docstring and they are checked against brute-force enumeration and
Monte Carlo in ``tests/theory/test_transfer.py`` and ``tests/sims/test_transfer.py``.

References
----------
.. [ZZ23] Q. Zhao, B. Zhu, "Towards the Fundamental Limits of Knowledge Transfer
   over Finite Domains", ICLR 2024, arXiv 2310.07838.

Examples
--------
>>> import numpy as np
>>> from theory import transfer
>>> inst = transfer.instance0(2, 3)
>>> counts = np.array([[3, 1, 0], [0, 0, 0]])
>>> transfer.estimate("ce_sgl", counts, inst.pi_star)[0].round(3).tolist()
[0.75, 0.25, 0.0]
>>> transfer.estimate("ce_sgl", counts, inst.pi_star)[1].round(3).tolist()
[0.333, 0.333, 0.333]
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np
from scipy import stats

from theory._validation import as_choice, as_int

__all__ = [
    "LEARNERS",
    "SUM_TOL",
    "INSTANCE_KINDS",
    "INSTANCE_LEVEL",
    "Instance",
    "instance_min_n",
    "instance_exists",
    "build_instance",
    "lower_bound_holds",
    "lower_bound",
    "instance0",
    "instance1",
    "instance2",
    "instance3",
    "estimate",
    "tv_risk",
    "tv_to_uniform",
    "partial_ce_limit",
    "ce_ptl_limit_risk",
    "expected_missing_mass",
    "expected_risk_ce_ful",
    "expected_risk_ce_sgl",
    "expected_risk_ce_ptl",
    "expected_risk_sel_ptl_instance2",
    "sel_ptl_limit_instance2",
    "ce_sgl_limit_instance2",
    "ce_ptl_limit_instance2",
    "ce_ful_limit_instance3",
    "mle_risk_normal_approx",
    "xi",
    "xi_tilde",
    "lower_bound_level1",
    "lower_bound_level2",
    "lower_bound_level3",
    "upper_bound_mle_hp",
    "upper_bound_mle_expectation",
    "upper_bound_sel_ptl_hp",
    "upper_bound_ce_ful_hp",
    "upper_bound_ce_ful_expectation",
]

#: The four learners of [ZZ23], in order of privileged information
#: (level 1, level 2, level 2, level 3).
LEARNERS: tuple[str, ...] = ("ce_sgl", "ce_ptl", "sel_ptl", "ce_ful")

#: Tolerance on ``|sum - 1|`` when checking that ``rho`` and the rows of
#: ``pi_star`` are probability distributions.
SUM_TOL = 1e-9


# --------------------------------------------------------------------------- validation
def _as_int(value, name: str, minimum: int) -> int:
    """Return ``value`` as a Python int >= ``minimum`` or raise naming ``name``."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer (int or numpy integer), got {value!r} of type "
            f"{type(value).__name__}; pass int({name}) if it is integral"
        ) from None
    if out < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {out}")
    return out


def _as_real_array(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as exc:  # pragma: no cover - exotic inputs
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{name} must be an array of real numbers, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    return arr.astype(np.float64)


def _check_distribution_rows(arr: np.ndarray, name: str) -> None:
    """``arr`` (..., K): finite, nonnegative, last axis sums to 1 within SUM_TOL."""
    if not np.all(np.isfinite(arr)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; {name}[{bad}] = {arr[bad]!r}")
    if np.any(arr < 0):
        bad = tuple(int(i) for i in np.argwhere(arr < 0)[0])
        raise ValueError(
            f"{name} must be nonnegative (a probability); {name}[{bad}] = {arr[bad]!r}"
        )
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > SUM_TOL
    if np.any(off):
        if arr.ndim == 1:
            raise ValueError(
                f"{name} must sum to 1 (within {SUM_TOL:g}); it sums to {float(sums):.12g}"
            )
        row = tuple(int(i) for i in np.argwhere(off)[0])
        label = row[0] if len(row) == 1 else row
        raise ValueError(
            f"each row of {name} must sum to 1 (within {SUM_TOL:g}); row {label} sums "
            f"to {float(sums[row]):.12g}"
        )


def _validate_rho(rho, name: str = "rho") -> np.ndarray:
    arr = _as_real_array(rho, name)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise ValueError(f"{name} must have shape (S,) with S >= 1, got shape {arr.shape}")
    _check_distribution_rows(arr, name)
    return arr


def _validate_pi_star(pi_star, name: str = "pi_star") -> np.ndarray:
    arr = _as_real_array(pi_star, name)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(
            f"{name} must have shape (S, A) with S, A >= 1, got shape {arr.shape}"
        )
    _check_distribution_rows(arr, name)
    return arr


def _validate_counts(counts, pi_star: np.ndarray) -> np.ndarray:
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


def _validate_learner(learner) -> str:
    if not isinstance(learner, str) or learner not in LEARNERS:
        raise ValueError(f"learner must be one of {LEARNERS}, got {learner!r}")
    return learner


def _check_delta(delta, upper: float = 1.0, inclusive: bool = False) -> float:
    d = float(delta)
    ok = 0.0 < d <= upper if inclusive else 0.0 < d < upper
    if not (math.isfinite(d) and ok):
        interval = f"(0, {upper:g}]" if inclusive else f"(0, {upper:g})"
        raise ValueError(f"delta must lie in {interval}, got {delta!r}")
    return d


def _positive_n(n) -> np.ndarray:
    arr = np.asarray(n, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"n must be positive and finite, got {n!r}")
    return arr


def _scalar_or_array(x: np.ndarray):
    return float(x) if np.ndim(x) == 0 else x


# --------------------------------------------------------------------------- instances
@dataclass(frozen=True, eq=False)
class Instance:
    r"""A problem instance :math:`\rho\times\pi^*` (frozen, validated, hashable).

    Parameters
    ----------
    rho : array_like, shape (S,)
        Input distribution :math:`\rho \in \Delta(\mathcal S)`: nonnegative, finite,
        summing to 1 within :data:`SUM_TOL`.
    pi_star : array_like, shape (S, A)
        Teacher :math:`\pi^*(a|s)`; every row a distribution over the A labels.

    Notes
    -----
    The arrays are copied to read-only float64 arrays. Equality and hashing
    compare the array contents.
    """

    rho: np.ndarray
    pi_star: np.ndarray

    def __post_init__(self):
        rho = _validate_rho(self.rho)
        pi_star = _validate_pi_star(self.pi_star)
        if pi_star.shape[0] != rho.shape[0]:
            raise ValueError(
                f"pi_star must have one row per input: rho has shape {rho.shape} but "
                f"pi_star has shape {pi_star.shape}"
            )
        rho = rho.copy()
        pi_star = pi_star.copy()
        rho.flags.writeable = False
        pi_star.flags.writeable = False
        object.__setattr__(self, "rho", rho)
        object.__setattr__(self, "pi_star", pi_star)

    @property
    def S(self) -> int:
        """Number of inputs :math:`|\\mathcal S|`."""
        return int(self.pi_star.shape[0])

    @property
    def A(self) -> int:
        """Number of labels :math:`|\\mathcal A|`."""
        return int(self.pi_star.shape[1])

    @property
    def joint(self) -> np.ndarray:
        r"""The data distribution :math:`\rho(s)\pi^*(a|s)`, shape (S, A)."""
        return self.rho[:, None] * self.pi_star

    def __eq__(self, other):
        if not isinstance(other, Instance):
            return NotImplemented
        return np.array_equal(self.rho, other.rho) and np.array_equal(
            self.pi_star, other.pi_star
        )

    def __hash__(self):
        return hash((self.pi_star.shape, self.rho.tobytes(), self.pi_star.tobytes()))

    def __repr__(self):
        return f"Instance(S={self.S}, A={self.A})"


def instance0(S: int, A: int) -> Instance:
    r"""Instance 0 of [ZZ23] section 6 (fixed in n, "classic regime").

    .. math::

        \rho = \mathrm{Uniform}(\mathcal S),\qquad
        \pi^*(\cdot|s) = \tfrac12\,\mathrm{Uniform}(\mathcal A)
            + \tfrac12\,\delta_{(s \bmod A)}

    (the paper's label :math:`(s \bmod A) + 1` is column ``s % A``). Each row puts
    :math:`\tfrac12 + \tfrac1{2A}` on its heavy label and :math:`\tfrac1{2A}` on the
    others, far from both uniform and Dirac, so ``ce_ptl`` is biased.

    Parameters
    ----------
    S, A : int
        Numbers of inputs and labels, >= 1.

    Returns
    -------
    Instance
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    pi_star = np.full((S, A), 0.5 / A)
    pi_star[np.arange(S), np.arange(S) % A] += 0.5
    return Instance(np.full(S, 1.0 / S), pi_star)


def _effective_even(A: int) -> int:
    return A if A % 2 == 0 else A - 1


def _effective_odd(A: int) -> int:
    return A if A % 2 == 1 else A - 1


def instance1(S: int, A: int, n: int) -> Instance:
    r"""Instance 1 of [ZZ23] section 6: the all-plus vertex of the Thm 3.1 prior.

    With :math:`A' = A` for even A and :math:`A' = A-1` for odd A (the last label
    then gets mass 0), :math:`\Delta = \tfrac14\sqrt{S A'/n}` and
    :math:`\rho = \mathrm{Uniform}(\mathcal S)`:

    .. math::

        \pi^*(2j-1|s) = \frac{1+\Delta}{A'},\qquad
        \pi^*(2j|s) = \frac{1-\Delta}{A'},\qquad j = 1, \dots, A'/2

    (paper labels; columns ``0, 2, ...`` get :math:`(1+\Delta)/A'`). This is the
    vertex :math:`\tau = (+1, \dots, +1)` of Assouad's hypercube in the proof of
    Thm 3.1 ([ZZ23] appendix B). [derived] choice: for odd A the construction is
    applied to :math:`A' = A - 1` labels, including in :math:`\Delta`.

    Parameters
    ----------
    S : int
        Number of inputs, >= 1.
    A : int
        Number of labels, >= 2.
    n : int
        Sample size the instance is built for; needs :math:`n \ge S A'/16` so that
        :math:`\Delta \le 1` (probabilities nonnegative). Thm 3.1 itself assumes
        :math:`n \ge SA/4`.

    Returns
    -------
    Instance
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 2)
    n = _as_int(n, "n", 1)
    Ae = _effective_even(A)
    if n < _instance_min_n("instance1", S, A):
        raise ValueError(
            f"instance1 needs n >= S*A'/16 = {S * Ae / 16:g} (A' = {Ae}) so that "
            f"pi_star(2j|s) = (1 - sqrt(S*A'/n)/4)/A' >= 0; got n = {n}"
        )
    delta = 0.25 * math.sqrt(S * Ae / n)
    row = np.zeros(A)
    row[0:Ae:2] = (1.0 + delta) / Ae
    row[1:Ae:2] = (1.0 - delta) / Ae
    return Instance(np.full(S, 1.0 / S), np.tile(row, (S, 1)))


def _instance2_row(S: int, A: int, n: int, who: str) -> np.ndarray:
    Ao = _effective_odd(A)
    K = (Ao - 1) // 2
    if n < _instance_min_n("instance2", S, A):
        raise ValueError(
            f"{who} needs n + 1 >= S*(A'-1)/2 = {S * K} (A' = {Ao}) so that "
            f"pi_star(A'|s) = 1 - S*(A'-1)/(2(n+1)) >= 0; got n = {n}"
        )
    q = S / (n + 1)
    row = np.zeros(A)
    row[0 : 2 * K : 2] = q
    # heavy label: 1 - S K/(n+1), computed as (n+1-SK)/(n+1) to stay exact when it is 0
    row[Ao - 1] = (n + 1 - S * K) / (n + 1)
    return row


def instance2(S: int, A: int, n: int) -> Instance:
    r"""Instance 2 of [ZZ23] section 6: the all-plus vertex of the Thm 4.1 prior.

    With :math:`A' = A` for odd A and :math:`A' = A-1` for even A (label A then
    gets mass 0), :math:`K = (A'-1)/2` and :math:`\rho = \mathrm{Uniform}(\mathcal S)`:

    .. math::

        \pi^*(2j-1|s) = \frac{S}{n+1},\quad \pi^*(2j|s) = 0\quad (j = 1..K),\qquad
        \pi^*(A'|s) = 1 - \frac{SK}{n+1}.

    Columns ``0, 2, ..., 2K-2`` are the light labels and column ``A'-1`` the heavy
    one. This is the vertex :math:`\tau = (+1, \dots)` with :math:`\Delta = 1` of the
    Bayes prior in the proof of Thm 4.1 ([ZZ23] appendix C).

    Parameters
    ----------
    S : int
        Number of inputs, >= 1.
    A : int
        Number of labels, >= 3 (at least one light pair).
    n : int
        Sample size the instance is built for; needs :math:`n + 1 \ge SK`.

    Returns
    -------
    Instance
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    n = _as_int(n, "n", 1)
    row = _instance2_row(S, A, n, "instance2")
    return Instance(np.full(S, 1.0 / S), np.tile(row, (S, 1)))


def instance3(S: int, A: int, n: int) -> Instance:
    r"""Instance 3 of [ZZ23] section 6 (level 3, built on the Thm 5.1 input law).

    .. math::

        \rho(s) = \frac1{n+1}\ (s = 0, \dots, S-2),\qquad
        \rho(S-1) = 1 - \frac{S-1}{n+1},

    and :math:`\pi^*` is that of :func:`instance2`. Two slips of the paper are
    corrected: the text says Instance 3 uses the :math:`\pi^*` "of Instance 3"
    (it means Instance 2), and C.4 prints the heavy input's mass as
    :math:`1 - S^{-1}/(n+1)` (it means :math:`1-(S-1)/(n+1)`). The Thm 5.1 prior
    itself draws :math:`\pi^*` uniformly among deterministic policies; this instance
    keeps its :math:`\rho` but not its :math:`\pi^*`.

    Parameters
    ----------
    S : int
        Number of inputs, >= 1.
    A : int
        Number of labels, >= 3.
    n : int
        Sample size; needs :math:`n + 1 \ge SK` (Instance 2's condition, which also
        gives :math:`n + 1 \ge S - 1`).

    Returns
    -------
    Instance
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    n = _as_int(n, "n", 1)
    row = _instance2_row(S, A, n, "instance3")
    rho = np.full(S, 1.0 / (n + 1))
    rho[-1] = (n + 1 - (S - 1)) / (n + 1)
    return Instance(rho, np.tile(row, (S, 1)))


# ------------------------------------------------------------- ranges of existence/validity
#: Names of the instances of [ZZ23] section 6, as used by :func:`build_instance`.
INSTANCE_KINDS: tuple[str, ...] = ("instance0", "instance1", "instance2", "instance3")

#: The lower-bound theorem (privileged-information level) whose Bayes prior each
#: changing instance is the all-plus vertex of: Thm 3.1, 4.1, 5.1.
INSTANCE_LEVEL: dict[str, int] = {"instance1": 1, "instance2": 2, "instance3": 3}


def _instance_min_n(kind: str, S: int, A: int) -> int | None:
    """Smallest n >= 1 at which ``kind`` has valid probabilities; None if A is too small."""
    if kind == "instance0":
        return 1
    if kind == "instance1":
        if A < 2:
            return None
        return max(1, -(-S * _effective_even(A) // 16))  # 16 n >= S A'
    if A < 3:
        return None
    K = (_effective_odd(A) - 1) // 2
    return max(1, S * K - 1)  # n + 1 >= S K


def instance_min_n(kind: str, S: int, A: int) -> int | None:
    r"""Smallest sample size n at which an instance of [ZZ23] section 6 exists.

    * ``"instance0"``: any n >= 1 (it does not depend on n).
    * ``"instance1"``: :math:`16n\ge SA'` with :math:`A'` the largest even number
      <= A (so that :math:`\Delta=\tfrac14\sqrt{SA'/n}\le1`); needs A >= 2.
    * ``"instance2"``, ``"instance3"``: :math:`n+1\ge SK`, :math:`K=(A''-1)/2` with
      :math:`A''` the largest odd number <= A (heavy label mass >= 0); needs A >= 3.

    Parameters
    ----------
    kind : {"instance0", "instance1", "instance2", "instance3"}
    S, A : int
        Numbers of inputs and labels, >= 1.

    Returns
    -------
    int or None
        None when the construction needs more labels than ``A``.
    """
    kind = as_choice(kind, "kind", INSTANCE_KINDS)
    return _instance_min_n(kind, as_int(S, "S", low=1), as_int(A, "A", low=1))


def instance_exists(kind: str, S: int, A: int, n: int) -> bool:
    """Whether :func:`build_instance` ``(kind, S, A, n)`` has valid probabilities.

    The same rule the builders enforce (:func:`instance_min_n`).

    Parameters
    ----------
    kind : {"instance0", "instance1", "instance2", "instance3"}
    S, A, n : int
        >= 1.

    Returns
    -------
    bool
    """
    n = as_int(n, "n", low=1)
    n_min = instance_min_n(kind, S, A)
    return n_min is not None and n >= n_min


def build_instance(kind: str, S: int, A: int, n: int | None = None) -> Instance:
    """The instance ``kind`` of [ZZ23] section 6 (:func:`instance0` ... :func:`instance3`).

    Parameters
    ----------
    kind : {"instance0", "instance1", "instance2", "instance3"}
    S, A : int
    n : int, optional
        Sample size the instance is built for; required except for ``"instance0"``
        (where it is ignored).

    Returns
    -------
    Instance
    """
    kind = as_choice(kind, "kind", INSTANCE_KINDS)
    if kind == "instance0":
        return instance0(S, A)
    if n is None:
        raise TypeError(f"build_instance({kind!r}, ...) needs the sample size n (the instance changes with n)")
    return {"instance1": instance1, "instance2": instance2, "instance3": instance3}[kind](S, A, n)


# --------------------------------------------------------------------------- learners
def _estimate(learner: str, counts: np.ndarray, pi_star: np.ndarray) -> np.ndarray:
    """Unvalidated core of :func:`estimate`; ``counts`` float (..., S, A)."""
    A = pi_star.shape[-1]
    n_s = counts.sum(axis=-1, keepdims=True)
    seen = n_s > 0
    if learner == "ce_sgl":
        est = counts / np.where(seen, n_s, 1.0)
    elif learner == "ce_ptl":
        weights = counts * pi_star
        Z = weights.sum(axis=-1, keepdims=True)
        est = np.where(Z > 0, weights / np.where(Z > 0, Z, 1.0), 1.0 / A)
    elif learner == "sel_ptl":
        observed = counts > 0
        unseen_mass = np.where(observed, 0.0, pi_star).sum(axis=-1, keepdims=True)
        n_unseen = A - observed.sum(axis=-1, keepdims=True)
        fill = unseen_mass / np.maximum(n_unseen, 1)
        est = np.where(observed, pi_star, fill)
    else:  # ce_ful
        est = np.broadcast_to(pi_star, counts.shape)
    return np.where(seen, est, 1.0 / A)


def estimate(learner: str, counts, pi_star) -> np.ndarray:
    r"""Closed-form minimiser of a learner's loss from the count matrix.

    For a seen input (:math:`n_s > 0`):

    * ``"ce_sgl"`` (MLE, minimises :math:`-\sum_i\log\pi(a_i|s_i)`):
      :math:`\hat\pi(a|s) = n_{s,a}/n_s`;
    * ``"ce_ptl"`` (minimises :math:`-\sum_i\pi^*(a_i|s_i)\log\pi(a_i|s_i)`):
      :math:`\hat\pi(a|s) = n_{s,a}\pi^*(a|s)/\sum_b n_{s,b}\pi^*(b|s)`;
    * ``"sel_ptl"`` (minimises :math:`\sum_i\tfrac12[\log\pi(a_i|s_i) -
      \log\pi^*(a_i|s_i)]^2`, whose minimisers match :math:`\pi^*` on the seen
      labels): :math:`\pi^*(a|s)` on seen labels, the leftover mass
      :math:`\sum_{a: n_{s,a}=0}\pi^*(a|s)` spread uniformly over the unseen
      labels;
    * ``"ce_ful"`` (minimises :math:`\sum_i \mathrm{KL}(\pi^*(\cdot|s_i)\|\pi(\cdot|s_i))`):
      :math:`\hat\pi(\cdot|s) = \pi^*(\cdot|s)`.

    Unseen inputs get :math:`\mathrm{Uniform}(\mathcal A)` ([ZZ23] section 6);
    ``ce_sgl``/``ce_ptl`` put 0 on unseen labels of a seen input. The leftover
    mass of ``sel_ptl`` is summed over the unseen labels (equal to
    :math:`1-\sum_{\text{seen}}\pi^*` when the row sums to exactly 1, but free of
    cancellation when it is tiny).

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "sel_ptl", "ce_ful"}
        See :data:`LEARNERS`.
    counts : array_like of int, shape (S, A) or (R, S, A)
        Count matrix :math:`n_{s,a}` (optionally a batch of R of them);
        nonnegative integers, zero wherever ``pi_star`` is zero.
    pi_star : array_like, shape (S, A)
        Teacher policy (rows are distributions).

    Returns
    -------
    numpy.ndarray, shape of ``counts``
        :math:`\hat\pi(a|s)`, float64; each row a distribution.

    Raises
    ------
    ValueError
        Unknown learner, bad shapes, negative or non-integral counts, counts on
        labels the teacher never emits, or ``pi_star`` not a policy.
    """
    learner = _validate_learner(learner)
    pi_star = _validate_pi_star(pi_star)
    counts = _validate_counts(counts, pi_star)
    return _estimate(learner, counts, pi_star)


def _tv_rows(pi_hat: np.ndarray, pi_star: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(pi_hat - pi_star).sum(axis=-1)


def tv_risk(pi_hat, pi_star, rho):
    r"""The :math:`\rho`-weighted total-variation risk ([ZZ23] section 2).

    .. math::

        \mathrm{TV}(\hat\pi, \pi^*|\rho) = \sum_s \rho(s)\,\tfrac12
            \sum_a |\hat\pi(a|s) - \pi^*(a|s)|

    Parameters
    ----------
    pi_hat : array_like, shape (S, A) or (R, S, A)
        Estimated policy (a batch of R of them); finite.
    pi_star : array_like, shape (S, A)
        Teacher policy.
    rho : array_like, shape (S,)
        Input distribution.

    Returns
    -------
    float or numpy.ndarray of shape (R,)
    """
    rho = _validate_rho(rho)
    pi_star = _validate_pi_star(pi_star)
    if pi_star.shape[0] != rho.shape[0]:
        raise ValueError(
            f"pi_star must have shape (S, A) with S = len(rho) = {rho.shape[0]}, got "
            f"{pi_star.shape}"
        )
    pi_hat = _as_real_array(pi_hat, "pi_hat")
    if pi_hat.ndim not in (2, 3) or pi_hat.shape[-2:] != pi_star.shape:
        raise ValueError(
            f"pi_hat must have shape (S, A) = {pi_star.shape} or (R, S, A), got {pi_hat.shape}"
        )
    if not np.all(np.isfinite(pi_hat)):
        raise ValueError("pi_hat must be finite")
    risk = _tv_rows(pi_hat, pi_star) @ rho
    return _scalar_or_array(risk)


def tv_to_uniform(pi_star) -> np.ndarray:
    r"""Row-wise :math:`\mathrm{TV}(\mathrm{Uniform}(\mathcal A), \pi^*(\cdot|s))`.

    Parameters
    ----------
    pi_star : array_like, shape (S, A)

    Returns
    -------
    numpy.ndarray, shape (S,)
    """
    pi_star = _validate_pi_star(pi_star)
    return _tv_rows(np.full(pi_star.shape[1], 1.0 / pi_star.shape[1]), pi_star)


# --------------------------------------------------------------------------- exact risks and limits
def partial_ce_limit(pi_star) -> np.ndarray:
    r"""Almost-sure limit of ``ce_ptl`` ([ZZ23] Lemma 4.2 / Thm 4.3).

    .. math::

        \hat\pi_{\text{ce\_ptl}}(a|s) \to \frac{\pi^*(a|s)^2}{\sum_b \pi^*(b|s)^2}

    at every input with :math:`\rho(s) > 0`. Computed on rows scaled by their
    maximum so that tiny probabilities do not underflow before the ratio.

    Parameters
    ----------
    pi_star : array_like, shape (A,) or (S, A)
        Teacher distribution(s).

    Returns
    -------
    numpy.ndarray, same shape as ``pi_star``
    """
    arr = _as_real_array(pi_star, "pi_star")
    if arr.ndim == 1:
        return partial_ce_limit(arr[None, :])[0]
    arr = _validate_pi_star(arr)
    scaled = arr / arr.max(axis=-1, keepdims=True)
    sq = scaled * scaled
    return sq / sq.sum(axis=-1, keepdims=True)


def ce_ptl_limit_risk(instance: Instance) -> float:
    r"""Asymptotic risk of ``ce_ptl`` ([ZZ23] Thm 4.3, spec section 3).

    .. math::

        \lim_{n\to\infty}\mathrm{TV}(\hat\pi_{\text{ce\_ptl}}, \pi^*|\rho)
            = \sum_s \rho(s)\,\mathrm{TV}\Big(\frac{\pi^*(\cdot|s)^2}{\|\pi^*(\cdot|s)\|_2^2},
              \pi^*(\cdot|s)\Big)\quad\text{a.s.}

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    float
    """
    _check_instance(instance)
    limit = partial_ce_limit(instance.pi_star)
    return float(_tv_rows(limit, instance.pi_star) @ instance.rho)


def _check_instance(instance) -> None:
    if not isinstance(instance, Instance):
        raise TypeError(
            f"instance must be a theory.transfer.Instance, got {type(instance).__name__}"
        )


def _unseen_probability(rho: np.ndarray, n: int) -> np.ndarray:
    """:math:`(1-\\rho)^n`, as exp(n log1p(-rho)) (accurate for tiny rho)."""
    if n == 0:
        return np.ones_like(rho)
    with np.errstate(divide="ignore"):
        return np.where(rho < 1.0, np.exp(n * np.log1p(-np.minimum(rho, 1.0))), 0.0)


def expected_missing_mass(rho, n: int) -> float:
    r"""Expected missing mass of the inputs ([ZZ23] Thm 5.2 proof).

    .. math::

        \mathbb E\, m_0(\rho, S(D)) = \sum_s \rho(s)\,(1-\rho(s))^n

    with :math:`(1-\rho)^n` computed as :math:`\exp(n\,\mathrm{log1p}(-\rho))`.
    It upper-bounds the expected risk of ``ce_ful`` and is itself at most
    :math:`S/(en) \le 4S/(9n)` (Lemma E.5, read as :math:`4/(9n)`).

    Parameters
    ----------
    rho : array_like, shape (S,)
        Input distribution (or an :class:`Instance`, whose ``rho`` is used).
    n : int
        Sample size, >= 0.

    Returns
    -------
    float
    """
    if isinstance(rho, Instance):
        rho = rho.rho
    rho = _validate_rho(rho)
    n = _as_int(n, "n", 0)
    return float(rho @ _unseen_probability(rho, n))


def expected_risk_ce_ful(instance: Instance, n: int) -> float:
    r"""Exact expected risk of ``ce_ful`` with the Uniform fill [derived].

    ``ce_ful`` is exact at every seen input and outputs Uniform(A) at each unseen
    input, which happens with probability :math:`(1-\rho(s))^n`, so

    .. math::

        \mathbb E\,\mathrm{TV}(\hat\pi_{\text{ce\_ful}}, \pi^*|\rho)
            = \sum_s \rho(s)\,(1-\rho(s))^n\,
              \mathrm{TV}(\mathrm{Uniform}(\mathcal A), \pi^*(\cdot|s))

    (spec section 7 check 2; bounded by :func:`expected_missing_mass`, [ZZ23]
    Thm 5.2).

    Parameters
    ----------
    instance : Instance
    n : int
        Sample size, >= 0.

    Returns
    -------
    float
    """
    _check_instance(instance)
    n = _as_int(n, "n", 0)
    tvu = _tv_rows(np.full(instance.A, 1.0 / instance.A), instance.pi_star)
    return float(np.sum(instance.rho * _unseen_probability(instance.rho, n) * tvu))


def _binom_support(n: int, p: float, width: float = 12.0) -> np.ndarray:
    """Integers k in [0, n] where the Bin(n, p) pmf is not negligible (< 1e-30 left out)."""
    if p <= 0.0:
        return np.array([0])
    if p >= 1.0:
        return np.array([n])
    mean = n * p
    sd = math.sqrt(n * p * (1.0 - p))
    lo = max(0, int(math.floor(mean - width * sd - 10)))
    hi = min(n, int(math.ceil(mean + width * sd + 10)))
    return np.arange(lo, hi + 1)


def _mean_abs_dev_binomial(M: np.ndarray, r: float, t: np.ndarray) -> np.ndarray:
    r""":math:`\mathbb E|X - t|` for :math:`X\sim\mathrm{Bin}(M, r)`, elementwise.

    Uses :math:`\mathbb E|X-t| = Mr - t + 2\,\mathbb E(t-X)^+` and
    :math:`\mathbb E(t-X)^+ = t F_{M,r}(k) - Mr F_{M-1,r}(k-1)`, :math:`k = \lfloor t\rfloor`,
    from :math:`x\,\mathrm{pmf}_{M,r}(x) = Mr\,\mathrm{pmf}_{M-1,r}(x-1)`.
    """
    M = np.asarray(M, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    k = np.floor(t)
    Mpos = np.maximum(M, 1.0)
    F = stats.binom.cdf(k, M, r)
    F1 = np.where(k >= 1, stats.binom.cdf(k - 1, Mpos - 1, r), 0.0)
    out = M * r - t + 2.0 * (t * F - M * r * F1)
    return np.where(M > 0, out, t)


def _row_classes(instance: Instance) -> list[tuple[float, np.ndarray, int]]:
    """Inputs grouped by (rho(s), sorted pi*(.|s)): TV risks of the learners here are
    invariant under permuting the labels of a row. Returns (rho_s, sorted row, count)."""
    key = np.concatenate([instance.rho[:, None], np.sort(instance.pi_star, axis=1)], axis=1)
    uniq, mult = np.unique(key, axis=0, return_counts=True)
    return [(float(row[0]), row[1:], int(c)) for row, c in zip(uniq, mult)]


def _input_count_law(n: int, rho_s: float) -> tuple[float, np.ndarray, np.ndarray]:
    """P(n_s = 0) and (m, P(n_s = m)) for m >= 1 on the non-negligible support of Bin(n, rho_s)."""
    p0 = float(_unseen_probability(np.array([rho_s]), n)[0])
    if n == 0 or rho_s <= 0.0:
        return p0, np.zeros(0, dtype=np.int64), np.zeros(0)
    ms = _binom_support(n, rho_s)
    ms = ms[ms >= 1]
    return p0, ms, stats.binom.pmf(ms, n, rho_s)


def expected_risk_ce_sgl(instance: Instance, n: int) -> float:
    r"""Exact expected risk of ``ce_sgl`` (MLE) on any instance [derived].

    The row error :math:`\tfrac12\sum_a|n_{s,a}/n_s - \pi^*(a|s)|` is a sum of
    per-label terms, and given :math:`n_s = m` each :math:`n_{s,a}` is
    :math:`\mathrm{Bin}(m, \pi^*(a|s))`, so only marginals enter:

    .. math::

        \mathbb E\,\mathrm{TV} = \sum_s\rho(s)\Big[(1-\rho(s))^n\,\mathrm{TV}(U, \pi^*_s)
          + \sum_{m\ge1}\mathrm{Bin}(m; n, \rho(s))\,\frac1{2m}\sum_a
            \mathbb E\big|\mathrm{Bin}(m, \pi^*(a|s)) - m\pi^*(a|s)\big|\Big],

    with the binomial mean absolute deviation in closed form through binomial
    CDFs. Sums over m are truncated at 12 standard deviations (left-out mass below
    1e-30); identical rows and equal label masses are evaluated once.

    Parameters
    ----------
    instance : Instance
    n : int
        Sample size, >= 0.

    Returns
    -------
    float
    """
    _check_instance(instance)
    n = _as_int(n, "n", 0)
    A = instance.A
    total = 0.0
    for rho_s, row, mult in _row_classes(instance):
        if rho_s == 0.0:
            continue
        p0, ms, w = _input_count_law(n, rho_s)
        contrib = p0 * 0.5 * float(np.abs(row - 1.0 / A).sum())
        if ms.size:
            values, label_mult = np.unique(row[row > 0], return_counts=True)
            mad = np.zeros(ms.shape[0])
            for v, k in zip(values, label_mult):
                mad += k * _mean_abs_dev_binomial(ms, float(v), ms * float(v))
            contrib += float(w @ (mad / (2.0 * ms)))
        total += mult * rho_s * contrib
    return total


def _heavy_light(row: np.ndarray) -> tuple[float, float, int] | None:
    """(p_h, p_l, L) if the positive entries of ``row`` are L equal values p_l plus at
    most one other value p_h (0 if absent); None otherwise."""
    values, counts = np.unique(row[row > 0], return_counts=True)
    if values.size == 1:
        return 0.0, float(values[0]), int(counts[0])
    if values.size == 2 and counts.min() == 1:
        h = int(np.argmin(counts)) if counts.max() > 1 else 0
        return float(values[h]), float(values[1 - h]), int(counts[1 - h])
    return None


def expected_risk_ce_ptl(instance: Instance, n: int) -> float:
    r"""Exact expected risk of ``ce_ptl`` for rows "one odd label + equal others" [derived].

    Supported rows have positive entries equal to some :math:`p_l` on L labels and
    at most one other label of mass :math:`p_h` (Instances 0, 2 and 3; zeros
    anywhere). Given :math:`n_s = m` and the odd label's count
    :math:`c_h\sim\mathrm{Bin}(m, p_h)`, the normaliser is
    :math:`D = p_h c_h + p_l(m - c_h)` and each of the L counts is
    :math:`\mathrm{Bin}(m - c_h, 1/L)`, so

    .. math::

        \mathbb E\,\mathrm{TV} = \sum_s\rho(s)\Big[(1-\rho(s))^n\,\mathrm{TV}(U, \pi^*_s)
        + \sum_{m\ge1}\mathrm{Bin}(m; n, \rho(s))\sum_{c_h}\mathrm{Bin}(c_h; m, p_h)
          \frac{p_h|c_h - D| + L\,p_l\,\mathbb E|c_l - D|}{2D}\Big].

    Sums are truncated at 12 standard deviations (left-out mass below 1e-30). On
    Instance 0 the risk approaches :func:`ce_ptl_limit_risk` from below.

    Parameters
    ----------
    instance : Instance
    n : int
        Sample size, >= 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If a row with :math:`\rho(s) > 0` has two distinct masses each on two or
        more labels (e.g. Instance 1), for which no closed form is implemented.
    """
    _check_instance(instance)
    n = _as_int(n, "n", 0)
    A = instance.A
    classes = _row_classes(instance)
    shapes = []
    for rho_s, row, _ in classes:
        shape = _heavy_light(row)
        if shape is None and rho_s > 0:
            values, repeats = np.unique(row[row > 0], return_counts=True)
            raise ValueError(
                "expected_risk_ce_ptl needs every row of pi_star to be L equal masses plus "
                f"at most one other label; a row has the positive masses {values} with "
                f"multiplicities {repeats} (e.g. Instance 1). Use "
                "sims.transfer.simulate_risk for it."
            )
        shapes.append(shape)
    total = 0.0
    for (rho_s, row, mult), shape in zip(classes, shapes):
        if rho_s == 0.0:
            continue
        p0, ms, w = _input_count_law(n, rho_s)
        contrib = p0 * 0.5 * float(np.abs(row - 1.0 / A).sum())
        p_h, p_l, L = shape
        for m, wm in zip(ms, w):
            ch = _binom_support(int(m), p_h)
            w_h = stats.binom.pmf(ch, m, p_h)
            D = p_h * ch + p_l * (m - ch)
            light = _mean_abs_dev_binomial(m - ch, 1.0 / L, D)
            tv = (p_h * np.abs(ch - D) + L * p_l * light) / (2.0 * D)
            contrib += wm * float(w_h @ tv)
        total += mult * rho_s * contrib
    return total


def _instance2_parts(S: int, A: int) -> tuple[int, int]:
    """(K, Z0): number of light labels and of zero-mass labels of Instance 2."""
    K = (_effective_odd(A) - 1) // 2
    return K, A - K - 1


def sel_ptl_limit_instance2(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``sel_ptl`` on Instance 2 [derived].

    .. math::

        n\,\mathbb E\,\mathrm{TV} \to S\,Z_0\,\mathbb E\Big[\frac{U}{U+Z_0}\Big],
        \qquad U \sim \mathrm{Bin}(K, e^{-1}),

    with :math:`K` light labels and :math:`Z_0` zero-mass labels (:math:`Z_0 = K`
    for odd A, which is spec section 7 check 5's :math:`SK\,\mathbb E[U/(U+K)]`;
    :math:`Z_0 = K+1` for even A). At a seen input each light label (mass
    :math:`S/(n+1)`) is missed with probability :math:`\to e^{-1}`; with U of them
    missed the uniform fill spreads :math:`US/(n+1)` over :math:`U+Z_0` labels,
    giving :math:`\mathrm{TV} = Z_0 U S/((n+1)(U+Z_0))`. The expectation is an exact
    finite sum over the binomial pmf.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    K, Z0 = _instance2_parts(S, A)
    u = np.arange(K + 1)
    pmf = stats.binom.pmf(u, K, math.exp(-1.0))
    return float(S * Z0 * np.sum(pmf * u / (u + Z0)))


def expected_risk_sel_ptl_instance2(S: int, A: int, n: int) -> float:
    r"""Exact expected risk of ``sel_ptl`` on :func:`instance2` [derived].

    All rows are alike and :math:`\rho` is uniform, so the risk is one row's
    expected TV. Let :math:`q = S/(n+1)` (K light labels), :math:`p_H = 1-Kq`
    (heavy label), :math:`Z_0 = A-K-1` zero-mass labels, U the number of missed
    light labels and H the event that the heavy label is missed. At a seen input
    the fill :math:`f = L/M` spreads the unseen mass L over the M unseen labels:

    .. math::

        g_{\text{seen}}(u) = \frac{Z_0 u q}{u+Z_0},\qquad
        g_{\text{miss}}(u) = \tfrac12\big[u|f-q| + |f-p_H| + Z_0 f\big],\
        f = \frac{uq+p_H}{u+Z_0+1}.

    By inclusion-exclusion over the light labels, with
    :math:`G(x) = \mathbb E[x^{n_s}] = (1-(1-x)/S)^n` for
    :math:`n_s\sim\mathrm{Bin}(n, 1/S)`,

    .. math::

        \mathbb E\,\mathrm{TV} = \sum_{u=0}^K\binom Ku\sum_{i=0}^{K-u}(-1)^i\binom{K-u}i
          \Big\{[G(1-(u+i)q) - G((K-u-i)q)]\,g_{\text{seen}}(u)
          + G((K-u-i)q)\,g_{\text{miss}}(u)\Big\}
          + (1-\tfrac1S)^n\,[\mathrm{TV}(U, \pi^*_s) - g_{\text{miss}}(K)],

    the last term replacing the :math:`n_s = 0` case (where the sum counts every
    label as missed) by the Uniform output. The alternating sums are accumulated
    with :func:`math.fsum`; the test suite checks them against 50-digit arithmetic.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.
    n : int
        Sample size with :math:`n+1 \ge SK`.

    Returns
    -------
    float
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    n = _as_int(n, "n", 1)
    inst_row = _instance2_row(S, A, n, "expected_risk_sel_ptl_instance2")
    K, Z0 = _instance2_parts(S, A)
    q = S / (n + 1)
    p_H = (n + 1 - S * K) / (n + 1)

    def G(x: float) -> float:
        # E[x^{n_s}] for n_s ~ Bin(n, 1/S), i.e. (1 - (1-x)/S)^n, via log1p
        y = (1.0 - x) / S
        return 0.0 if y >= 1.0 else math.exp(n * math.log1p(-y))

    def g_seen(u: int) -> float:
        return Z0 * u * q / (u + Z0) if u + Z0 > 0 else 0.0

    def g_miss(u: int) -> float:
        f = (u * q + p_H) / (u + Z0 + 1)
        return 0.5 * (u * abs(f - q) + abs(f - p_H) + Z0 * f)

    terms = []
    for u in range(K + 1):
        cu = math.comb(K, u)
        gs, gm = g_seen(u), g_miss(u)
        for i in range(K - u + 1):
            sign = -1.0 if i % 2 else 1.0
            c = sign * cu * math.comb(K - u, i)
            g_any = G(1.0 - (u + i) * q)
            g_heavy_missed = G((K - u - i) * q)
            terms.append(c * (g_any - g_heavy_missed) * gs)
            terms.append(c * g_heavy_missed * gm)
    p0 = G(0.0)
    tvu = 0.5 * float(np.abs(inst_row - 1.0 / A).sum())
    terms.append(p0 * (tvu - g_miss(K)))
    return math.fsum(terms)


def ce_sgl_limit_instance2(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``ce_sgl`` on Instance 2 [derived].

    At a seen input with :math:`n_s \approx n/S` samples the K light counts are
    asymptotically i.i.d. :math:`\mathrm{Poisson}(1)` and the heavy label absorbs
    their fluctuation, so
    :math:`\mathrm{TV}_s = \frac1{2n_s}[\sum_l |c_l - 1| + |\sum_l c_l - K|]` and

    .. math::

        n\,\mathbb E\,\mathrm{TV} \to \frac S2\Big[K\,\mathbb E|P_1 - 1|
            + \mathbb E|P_K - K|\Big],\qquad P_\lambda\sim\mathrm{Poisson}(\lambda),

    with :math:`\mathbb E|P_\lambda-\lambda|
    = 2\lambda\,\mathrm{pmf}_\lambda(\lfloor\lambda\rfloor)`.
    (Spec section 7 check 8 leaves this constant to simulation.) The approach is
    slow, of relative order :math:`\sqrt{S/n}`: the Poisson mean absolute deviation
    has a kink at integer means and :math:`n_s S/(n+1)` fluctuates around 1 by
    :math:`\sqrt{S/n}`; :func:`expected_risk_ce_sgl` gives the finite-n value.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    K, _ = _instance2_parts(S, A)

    def mad(lam: int) -> float:
        return 2.0 * lam * float(stats.poisson.pmf(lam, lam))

    return 0.5 * S * (K * mad(1) + mad(K))


def ce_ptl_limit_instance2(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``ce_ptl`` on Instance 2 [derived].

    ``ce_ptl`` weights each count by :math:`\pi^*`, so at a seen input the light
    labels get :math:`O(S^2/n^2)` and the heavy label almost everything:
    :math:`\mathrm{TV}_s \to Kq = SK/(n+1)`, hence
    :math:`n\,\mathbb E\,\mathrm{TV} \to SK` (spec section 7 check 8), approached
    from below.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    K, _ = _instance2_parts(S, A)
    return float(S * K)


def ce_ful_limit_instance3(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``ce_ful`` on Instance 3 [derived].

    Each of the :math:`S-1` light inputs (mass :math:`1/(n+1)`) is unseen with
    probability :math:`(1-\frac1{n+1})^n \to e^{-1}`, and then contributes
    :math:`\mathrm{TV}(\mathrm{Uniform}, \pi^*(\cdot|s)) \to 1-1/A` because
    :math:`\pi^*` tends to a Dirac; the heavy input is unseen with probability
    :math:`((S-1)/(n+1))^n \to 0`:

    .. math::

        n\,\mathbb E\,\mathrm{TV} \to (S-1)\,e^{-1}\,(1-1/A)

    (spec section 7 check 6; compare the finite-n :func:`expected_risk_ce_ful`).

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 3)
    return (S - 1) * math.exp(-1.0) * (1.0 - 1.0 / A)


def mle_risk_normal_approx(S: int, A: int, n):
    r"""Normal approximation of the MLE risk near the uniform teacher [derived].

    For :math:`n/S \gg A` and :math:`\pi^* \approx \mathrm{Uniform}(A)`, each
    :math:`|n_{s,a}/n_s - 1/A|` has mean :math:`\approx\sqrt{2(1/A)(1-1/A)/(\pi n/S)}`, so

    .. math::

        \mathbb E\,\mathrm{TV}(\hat\pi_{\text{ce\_sgl}}, \pi^*|\rho)
            \approx \sqrt{\frac{S(A-1)}{2\pi n}}

    (spec section 7 check 3: 0.03785 for (10, 10) at n = 1e4).

    Parameters
    ----------
    S, A : int
    n : float or array_like
        Positive sample size(s).

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    return _scalar_or_array(np.sqrt(S * (A - 1) / (2.0 * np.pi * n)))


def xi(pi_star) -> float:
    r"""Distance of :math:`\pi^*` to the nearest deterministic policy ([ZZ23] eq. 3.5).

    .. math::

        \xi(\pi^*) = \max_s \min_a (1 - \pi^*(a|s)) = \max_s (1 - \max_a\pi^*(a|s))

    The paper also writes a spurious factor 2; this is the TV distance without it.

    Parameters
    ----------
    pi_star : array_like, shape (S, A)

    Returns
    -------
    float
    """
    pi_star = _validate_pi_star(pi_star)
    return float(np.max(1.0 - pi_star.max(axis=1)))


def xi_tilde(pi_star) -> float:
    r"""The quantity the proof of (3.5) uses: :math:`\max_s\sum_a\min(\pi^*(a|s), 1-\pi^*(a|s))`.

    Parameters
    ----------
    pi_star : array_like, shape (S, A)

    Returns
    -------
    float
    """
    pi_star = _validate_pi_star(pi_star)
    return float(np.max(np.minimum(pi_star, 1.0 - pi_star).sum(axis=1)))


# --------------------------------------------------------------------------- bounds
def _range_error(theorem: str, condition: str, value) -> ValueError:
    return ValueError(
        f"{theorem} holds only for {condition}; got {value}. Pass strict=False to "
        "evaluate the formula anyway."
    )


#: Theorem of each lower bound level.
_LOWER_BOUND_THEOREM = {1: "Thm 3.1", 2: "Thm 4.1", 3: "Thm 5.1"}


def _lower_bound_range(level: int, S: int, A: int) -> tuple[bool, str, float, bool, str]:
    """(S, A in range, their condition, n threshold, threshold inclusive, n condition)."""
    if level == 1:
        return A > 1, "A > 1", S * A / 4.0, True, f"n >= S*A/4 = {S * A / 4:g}"
    if level == 2:
        t = S * (A - 1) / 2.0 - 1.0
        return A > 2, "A > 2", t, True, f"n >= S*(A-1)/2 - 1 = {S * (A - 1) / 2 - 1:g}"
    return S > 1 and A > 1, "S > 1 and A > 1", float(S - 1), False, f"n > S - 1 = {S - 1}"


def _check_lower_bound_range(level: int, S: int, A: int, n: np.ndarray) -> None:
    ok, cond, t, inclusive, n_cond = _lower_bound_range(level, S, A)
    thm = _LOWER_BOUND_THEOREM[level]
    if not ok:
        raise _range_error(thm, cond, f"A = {A}" if level != 3 else f"S = {S}, A = {A}")
    if np.any(n < t) or (not inclusive and np.any(n == t)):
        raise _range_error(thm, n_cond, f"n = {n.min():g}")


def lower_bound_holds(level: int, S: int, A: int, n):
    r"""Whether the minimax lower bound of the given level is a theorem at (S, A, n).

    The ranges of validity of [ZZ23] Thm 3.1 (level 1: :math:`A>1,\ n\ge SA/4`),
    Thm 4.1 (level 2: :math:`A>2,\ n\ge S(A-1)/2-1`) and Thm 5.1 (level 3:
    :math:`S>1,\ A>1,\ n>S-1`); the same rule :func:`lower_bound_level1` ... ``3``
    enforce with ``strict=True``.

    Parameters
    ----------
    level : {1, 2, 3}
    S, A : int
        >= 1.
    n : float or array_like
        Positive sample size(s).

    Returns
    -------
    bool or ndarray of bool (shape of ``n``)
    """
    level = as_int(level, "level", low=1, high=3)
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = _positive_n(n)
    ok, _, t, inclusive, _ = _lower_bound_range(level, S, A)
    out = (n >= t if inclusive else n > t) & ok
    return bool(out) if out.ndim == 0 else out


def lower_bound(level: int, S: int, A: int, n, *, strict: bool = True):
    """The minimax lower bound of the given level: :func:`lower_bound_level1`, ``2`` or ``3``.

    Parameters
    ----------
    level : {1, 2, 3}
    S, A, n, strict
        As in the level's function.

    Returns
    -------
    float or ndarray
    """
    level = as_int(level, "level", low=1, high=3)
    fn = {1: lower_bound_level1, 2: lower_bound_level2, 3: lower_bound_level3}[level]
    return fn(S, A, n, strict=strict)


def lower_bound_level1(S: int, A: int, n, *, strict: bool = True):
    r"""Minimax lower bound with hard labels, [ZZ23] Thm 3.1.

    .. math::

        \inf_{\hat\pi}\sup_{\rho\times\pi^*}\mathbb E\,\mathrm{TV}(\hat\pi, \pi^*|\rho)
            \ge \frac{e^{-1/2}}{16}\sqrt{\frac{SA}{n}},\qquad A > 1,\ n \ge SA/4.

    Parameters
    ----------
    S, A : int
        Numbers of inputs (>= 1) and labels (>= 1).
    n : float or array_like
        Sample size(s), positive.
    strict : bool, default True
        Raise ``ValueError`` outside the theorem's range (A <= 1 or n < SA/4);
        with False the formula is evaluated regardless.

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    if strict:
        _check_lower_bound_range(1, S, A, n)
    return _scalar_or_array(math.exp(-0.5) / 16.0 * np.sqrt(S * A / n))


def lower_bound_level2(S: int, A: int, n, *, strict: bool = True):
    r"""Minimax lower bound with partial soft labels, [ZZ23] Thm 4.1.

    .. math::

        \inf_{\hat\pi}\sup\,\mathbb E\,\mathrm{TV} \ge \frac{S(A-1)}{4e(n+1)},
        \qquad A > 2,\ n \ge S(A-1)/2 - 1.

    Parameters
    ----------
    S, A : int
    n : float or array_like
    strict : bool, default True
        Raise ``ValueError`` outside the theorem's range.

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    if strict:
        _check_lower_bound_range(2, S, A, n)
    return _scalar_or_array(S * (A - 1) / (4.0 * math.e * (n + 1.0)))


def lower_bound_level3(S: int, A: int, n, *, strict: bool = True):
    r"""Minimax lower bound with full soft labels, [ZZ23] Thm 5.1.

    .. math::

        \inf_{\hat\pi}\sup\,\mathbb E\,\mathrm{TV} \ge \frac{S-1}{2e(n+1)},
        \qquad S > 1,\ A > 1,\ n > S - 1

    (free of A).

    Parameters
    ----------
    S, A : int
    n : float or array_like
    strict : bool, default True
        Raise ``ValueError`` outside the theorem's range.

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    if strict:
        _check_lower_bound_range(3, S, A, n)
    return _scalar_or_array((S - 1) / (2.0 * math.e * (n + 1.0)))


def upper_bound_mle_hp(S: int, A: int, n, delta: float):
    r"""High-probability bound for the MLE (``ce_sgl``), [ZZ23] Thm 3.2.

    With probability at least :math:`1-\delta`, :math:`\delta\in(0,1)`,

    .. math::

        \mathrm{TV}(\hat\pi_{\text{ce\_sgl}}, \pi^*|\rho) \le
        \sqrt{\frac{S(A\ln 2 + \ln((S+1)/\delta))}{2n}}
        + \sqrt{\frac{2(S\ln2 + \ln((S+1)/\delta))}{n}}

    (spec section 7 check 10: 0.128 for (10, 10), n = 1e4, delta = 0.05).

    Parameters
    ----------
    S, A : int
    n : float or array_like
    delta : float

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    d = _check_delta(delta)
    log_term = math.log((S + 1) / d)
    out = np.sqrt(S * (A * math.log(2.0) + log_term) / (2.0 * n)) + np.sqrt(
        2.0 * (S * math.log(2.0) + log_term) / n
    )
    return _scalar_or_array(out)


def upper_bound_mle_expectation(S: int, A: int, n, rho=None):
    r"""In-expectation bound for the MLE (``ce_sgl``), [ZZ23] Thm 3.2.

    .. math::

        \mathbb E\,\mathrm{TV}(\hat\pi_{\text{ce\_sgl}}, \pi^*|\rho) \le
        \sqrt{\frac{A}{2n}}\sum_s\sqrt{\rho(s)} + \sqrt{\frac Sn}
        \le \sqrt{\frac{SA}{2n}} + \sqrt{\frac Sn}.

    Parameters
    ----------
    S, A : int
    n : float or array_like
    rho : array_like, shape (S,), optional
        Input distribution; without it the worst case
        :math:`\sum_s\sqrt{\rho(s)} = \sqrt S` (uniform :math:`\rho`) is used.

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    if rho is None:
        root_sum = math.sqrt(S)
    else:
        if isinstance(rho, Instance):
            rho = rho.rho
        rho = _validate_rho(rho)
        if rho.shape[0] != S:
            raise ValueError(f"rho must have shape (S,) = ({S},), got {rho.shape}")
        root_sum = float(np.sqrt(rho).sum())
    return _scalar_or_array(np.sqrt(A / (2.0 * n)) * root_sum + np.sqrt(S / n))


def upper_bound_sel_ptl_hp(S: int, A: int, n, delta: float, *, strict: bool = True):
    r"""High-probability bound for ``sel_ptl``, [ZZ23] Thm 4.4 (explicit form).

    For :math:`|\mathcal S| > 1` and :math:`\delta < \min(1, (S+2)/10)`, with
    probability at least :math:`1-\delta`,

    .. math::

        \mathrm{TV} \le \frac{4A/9 + 3\sqrt{A\ln((S+2)/\delta)}}{n}
            \Big(12S + \frac{200}{99}S\ln\frac{S(S+2)}{\delta}\Big)
          + \frac{4S}{9n} + \frac{3\sqrt S\ln((S+2)/\delta)}{n}.

    [unverified] The paper prints the first factor as
    :math:`(4A + 3\sqrt{\cdot})/(9n)`; this function reads it as a typo for
    :math:`(4A/9 + 3\sqrt{\cdot})/n`, which matches the shape of the single-input
    statement :math:`\lesssim A/n + \sqrt A\log(1/\delta)/n` and of the Thm 5.2
    constants (4/9 on the mean term, 3 on the deviation term). This reading gives
    the larger value of the two, so it is the conservative choice.

    Parameters
    ----------
    S, A : int
    n : float or array_like
    delta : float
    strict : bool, default True
        Raise ``ValueError`` for S = 1 (the theorem's explicit form needs S > 1).

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    A = _as_int(A, "A", 1)
    n = _positive_n(n)
    d = _check_delta(delta, upper=min(1.0, (S + 2) / 10.0))
    if strict and S <= 1:
        raise _range_error("Thm 4.4 (explicit form)", "|S| > 1", f"S = {S}")
    log_s = math.log((S + 2) / d)
    first = (4.0 * A / 9.0 + 3.0 * math.sqrt(A * log_s)) / n
    second = 12.0 * S + 200.0 / 99.0 * S * math.log(S * (S + 2) / d)
    out = first * second + 4.0 * S / (9.0 * n) + 3.0 * math.sqrt(S) * log_s / n
    return _scalar_or_array(out)


def upper_bound_ce_ful_hp(S: int, n, delta: float):
    r"""High-probability bound for ``ce_ful``, [ZZ23] Thm 5.2.

    For :math:`\delta \le 1/10`, with probability at least :math:`1-\delta`,

    .. math::

        \mathrm{TV}(\hat\pi_{\text{ce\_ful}}, \pi^*|\rho) \le \frac{4S}{9n}
            + \frac{3\sqrt S\ln(1/\delta)}{n}

    (spec section 7 check 10: 0.0263 for S = 10, n = 1e3, delta = 0.1). No
    assumption on :math:`\rho` or :math:`\pi^*`; free of A.

    Parameters
    ----------
    S : int
    n : float or array_like
    delta : float
        In (0, 1/10].

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    n = _positive_n(n)
    d = _check_delta(delta, upper=0.1, inclusive=True)
    return _scalar_or_array(4.0 * S / (9.0 * n) + 3.0 * math.sqrt(S) * math.log(1.0 / d) / n)


def upper_bound_ce_ful_expectation(S: int, n):
    r"""In-expectation bound for ``ce_ful``, [ZZ23] Thm 5.2 with Lemma E.5.

    .. math::

        \mathbb E\,\mathrm{TV}(\hat\pi_{\text{ce\_ful}}, \pi^*|\rho)
            \le \sum_s\rho(s)(1-\rho(s))^n \le \frac{4S}{9n},

    using :math:`x(1-x)^n \le 1/(en) \le 4/(9n)` (Lemma E.5, printed as
    "(4/9)n"). The middle, instance-dependent term is :func:`expected_missing_mass`.

    Parameters
    ----------
    S : int
    n : float or array_like

    Returns
    -------
    float or numpy.ndarray
    """
    S = _as_int(S, "S", 1)
    n = _positive_n(n)
    return _scalar_or_array(4.0 * S / (9.0 * n))

