r"""Minimax lower bounds (Thms 3.1, 4.1, 5.1), their ranges of validity, and the upper bounds (Thms 3.2, 4.4, 5.2) (part of :mod:`theory.transfer`; notation and references there)."""

from __future__ import annotations

import math

import numpy as np

from theory._validation import as_int
from theory.transfer._instances import Instance
from theory.transfer._common import check_delta, positive_n, scalar_or_array, validate_pi_star, validate_rho

__all__ = ["xi", "xi_tilde", "lower_bound_holds", "lower_bound", "lower_bound_level1", "lower_bound_level2", "lower_bound_level3", "upper_bound_mle_hp", "upper_bound_mle_expectation", "upper_bound_sel_ptl_hp", "upper_bound_ce_ful_hp", "upper_bound_ce_ful_expectation"]


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
    pi_star = validate_pi_star(pi_star)
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
    pi_star = validate_pi_star(pi_star)
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


def _check_strict(strict) -> bool:
    """``strict`` must be a bool (a string such as "no" would silently count as True)."""
    if not isinstance(strict, (bool, np.bool_)):
        raise TypeError(f"strict must be True or False, got {strict!r}")
    return bool(strict)


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
    n = positive_n(n)
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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    if _check_strict(strict):
        _check_lower_bound_range(1, S, A, n)
    return scalar_or_array(math.exp(-0.5) / 16.0 * np.sqrt(S * A / n))


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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    if _check_strict(strict):
        _check_lower_bound_range(2, S, A, n)
    return scalar_or_array(S * (A - 1) / (4.0 * math.e * (n + 1.0)))


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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    if _check_strict(strict):
        _check_lower_bound_range(3, S, A, n)
    return scalar_or_array((S - 1) / (2.0 * math.e * (n + 1.0)))


def upper_bound_mle_hp(S: int, A: int, n, delta: float):
    r"""High-probability bound for the MLE (``ce_sgl``), [ZZ23] Thm 3.2.

    With probability at least :math:`1-\delta`, :math:`\delta\in(0,1)`,

    .. math::

        \mathrm{TV}(\hat\pi_{\text{ce\_sgl}}, \pi^*|\rho) \le
        \sqrt{\frac{S(A\ln 2 + \ln((S+1)/\delta))}{2n}}
        + \sqrt{\frac{2(S\ln2 + \ln((S+1)/\delta))}{n}}

    (check T.10: 0.128 for (10, 10), n = 1e4, delta = 0.05).

    Parameters
    ----------
    S, A : int
    n : float or array_like
    delta : float

    Returns
    -------
    float or numpy.ndarray
    """
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    d = check_delta(delta)
    log_term = math.log((S + 1) / d)
    out = np.sqrt(S * (A * math.log(2.0) + log_term) / (2.0 * n)) + np.sqrt(
        2.0 * (S * math.log(2.0) + log_term) / n
    )
    return scalar_or_array(out)


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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    if rho is None:
        root_sum = math.sqrt(S)
    else:
        if isinstance(rho, Instance):
            rho = rho.rho
        rho = validate_rho(rho)
        if rho.shape[0] != S:
            raise ValueError(f"rho must have shape (S,) = ({S},), got {rho.shape}")
        root_sum = float(np.sqrt(rho).sum())
    return scalar_or_array(np.sqrt(A / (2.0 * n)) * root_sum + np.sqrt(S / n))


def upper_bound_sel_ptl_hp(S: int, A: int, n, delta: float, *, strict: bool = True):
    r"""High-probability bound for ``sel_ptl``, [ZZ23] Thm 4.4 (explicit form).

    For :math:`|\mathcal S| > 1` and :math:`\delta < \min(1, (S+2)/10)`, with
    probability at least :math:`1-\delta`,

    .. math::

        \mathrm{TV} \le \frac{4A/9 + 3\sqrt{A\ln((S+2)/\delta)}}{n}
            \Big(12S + \frac{200}{99}S\ln\frac{S(S+2)}{\delta}\Big)
          + \frac{4S}{9n} + \frac{3\sqrt S\ln((S+2)/\delta)}{n}.

    (not confirmed in the source) The paper prints the first factor as
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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    d = check_delta(delta, upper=min(1.0, (S + 2) / 10.0))
    if _check_strict(strict) and S <= 1:
        raise _range_error("Thm 4.4 (explicit form)", "|S| > 1", f"S = {S}")
    log_s = math.log((S + 2) / d)
    first = (4.0 * A / 9.0 + 3.0 * math.sqrt(A * log_s)) / n
    second = 12.0 * S + 200.0 / 99.0 * S * math.log(S * (S + 2) / d)
    out = first * second + 4.0 * S / (9.0 * n) + 3.0 * math.sqrt(S) * log_s / n
    return scalar_or_array(out)


def upper_bound_ce_ful_hp(S: int, n, delta: float):
    r"""High-probability bound for ``ce_ful``, [ZZ23] Thm 5.2.

    For :math:`\delta \le 1/10`, with probability at least :math:`1-\delta`,

    .. math::

        \mathrm{TV}(\hat\pi_{\text{ce\_ful}}, \pi^*|\rho) \le \frac{4S}{9n}
            + \frac{3\sqrt S\ln(1/\delta)}{n}

    (check T.10: 0.0263 for S = 10, n = 1e3, delta = 0.1). No
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
    S = as_int(S, "S", low=1)
    n = positive_n(n)
    d = check_delta(delta, upper=0.1, inclusive=True)
    return scalar_or_array(4.0 * S / (9.0 * n) + 3.0 * math.sqrt(S) * math.log(1.0 / d) / n)


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
    S = as_int(S, "S", low=1)
    n = positive_n(n)
    return scalar_or_array(4.0 * S / (9.0 * n))
