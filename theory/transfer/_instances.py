r"""Problem instances: :class:`Instance`, the instances of [ZZ23] section 6, and where they exist (part of :mod:`theory.transfer`; notation and references there)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from theory._validation import as_choice, as_int, check_memory
from theory.transfer._common import effective_even, effective_odd, validate_pi_star, validate_rho

__all__ = ["Instance", "instance0", "instance1", "instance2", "instance3", "INSTANCE_KINDS", "INSTANCE_LEVEL", "instance_min_n", "instance_exists", "build_instance", "check_instance", "instance2_parts", "instance2_row"]


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
        rho = validate_rho(self.rho)
        pi_star = validate_pi_star(self.pi_star)
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


def _check_size(who: str, S: int, A: int) -> None:
    # pi_star (S, A) float64, plus the validated and the read-only copies of Instance
    check_memory(8.0 * 4 * S * A, f"{who}(S={S}, A={A})",
                 hint="pi_star is a dense (S, A) float64 array")


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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    _check_size("instance0", S, A)
    pi_star = np.full((S, A), 0.5 / A)
    pi_star[np.arange(S), np.arange(S) % A] += 0.5
    return Instance(np.full(S, 1.0 / S), pi_star)


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
    Thm 3.1 ([ZZ23] appendix B). Our choice: for odd A the construction is
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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=2)
    n = as_int(n, "n", low=1)
    Ae = effective_even(A)
    if n < _instance_min_n("instance1", S, A):
        raise ValueError(
            f"instance1 needs n >= S*A'/16 = {S * Ae / 16:g} (A' = {Ae}) so that "
            f"pi_star(2j|s) = (1 - sqrt(S*A'/n)/4)/A' >= 0; got n = {n}"
        )
    delta = 0.25 * math.sqrt(S * Ae / n)
    _check_size("instance1", S, A)
    row = np.zeros(A)
    row[0:Ae:2] = (1.0 + delta) / Ae
    row[1:Ae:2] = (1.0 - delta) / Ae
    return Instance(np.full(S, 1.0 / S), np.tile(row, (S, 1)))


def instance2_row(S: int, A: int, n: int, who: str) -> np.ndarray:
    Ao = effective_odd(A)
    K = (Ao - 1) // 2
    if n < _instance_min_n("instance2", S, A):
        raise ValueError(
            f"{who} needs n + 1 >= S*(A'-1)/2 = {S * K} (A' = {Ao}) so that "
            f"pi_star(A'|s) = 1 - S*(A'-1)/(2(n+1)) >= 0; got n = {n}"
        )
    _check_size(who, S, A)
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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    n = as_int(n, "n", low=1)
    row = instance2_row(S, A, n, "instance2")
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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    n = as_int(n, "n", low=1)
    row = instance2_row(S, A, n, "instance3")
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
        return max(1, -(-S * effective_even(A) // 16))  # 16 n >= S A'
    if A < 3:
        return None
    K = (effective_odd(A) - 1) // 2
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


def check_instance(instance) -> None:
    if not isinstance(instance, Instance):
        raise TypeError(
            f"instance must be a theory.transfer.Instance, got {type(instance).__name__}"
        )


def instance2_parts(S: int, A: int) -> tuple[int, int]:
    """(K, Z0): number of light labels and of zero-mass labels of Instance 2."""
    K = (effective_odd(A) - 1) // 2
    return K, A - K - 1
