r"""Exact expected risks at finite n (derived here) (part of :mod:`theory.transfer`; notation and references there)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from theory._validation import as_int
from theory.transfer._common import validate_rho
from theory.transfer._instances import Instance, check_instance, instance2_parts, instance2_row
from theory.transfer._learners import tv_rows

__all__ = ["expected_missing_mass", "expected_risk_ce_ful", "expected_risk_ce_sgl", "expected_risk_ce_ptl", "expected_risk_sel_ptl_instance2", "unseen_probability", "mean_abs_dev_binomial", "mean_abs_dev_binomial_at_mean", "binom_support", "binom_window"]


def unseen_probability(rho: np.ndarray, n: int) -> np.ndarray:
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
    rho = validate_rho(rho)
    n = as_int(n, "n", low=0)
    return float(rho @ unseen_probability(rho, n))


def expected_risk_ce_ful(instance: Instance, n: int) -> float:
    r"""Exact expected risk of ``ce_ful`` with the Uniform fill (derived here).

    ``ce_ful`` is exact at every seen input and outputs Uniform(A) at each unseen
    input, which happens with probability :math:`(1-\rho(s))^n`, so

    .. math::

        \mathbb E\,\mathrm{TV}(\hat\pi_{\text{ce\_ful}}, \pi^*|\rho)
            = \sum_s \rho(s)\,(1-\rho(s))^n\,
              \mathrm{TV}(\mathrm{Uniform}(\mathcal A), \pi^*(\cdot|s))

    (check T.2; bounded by :func:`expected_missing_mass`, [ZZ23]
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
    check_instance(instance)
    n = as_int(n, "n", low=0)
    tvu = tv_rows(np.full(instance.A, 1.0 / instance.A), instance.pi_star)
    return float(np.sum(instance.rho * unseen_probability(instance.rho, n) * tvu))


def binom_window(n: int, p: float, width: float = 12.0) -> tuple[int, int]:
    """``(lo, hi)``: the integers in [0, n] where the Bin(n, p) pmf is not negligible
    (``width`` standard deviations plus 10 on each side; < 1e-30 left out at 12)."""
    if p <= 0.0:
        return 0, 0
    if p >= 1.0:
        return n, n
    mean = n * p
    sd = math.sqrt(n * p * (1.0 - p))
    return max(0, int(math.floor(mean - width * sd - 10))), min(n, int(math.ceil(mean + width * sd + 10)))


def binom_support(n: int, p: float, width: float = 12.0) -> np.ndarray:
    """Integers k in [0, n] where the Bin(n, p) pmf is not negligible (< 1e-30 left out)."""
    lo, hi = binom_window(n, p, width)
    return np.arange(lo, hi + 1)


#: Largest number of light labels K of :func:`expected_risk_sel_ptl_instance2` (its
#: alternating series has (K+1)(K+2) terms and magnitudes up to ~1.7^K; the error check
#: at the end refuses cancellation long before this cap is reached).
MAX_LIGHT_LABELS = 300

#: Most binomial terms :func:`expected_risk_ce_sgl` evaluates before refusing. Its cost
#: grows like sqrt(n) terms, each two binomial pmfs of constant cost (measured ~0.4 us
#: per term on an idle core, ~2 us on the loaded 2-core test machine, at any n; the
#: former CDF form cost 12 us at n = 1e6 and 85-500 us at 1e9): 3e7 terms is ~10-60 s,
#: e.g. Instance 0 with S = A = 10 up to n of about 1e13.
MAX_TERMS_CE_SGL = 30_000_000

#: Terms per chunk of :func:`expected_risk_ce_sgl` (its memory is a few arrays of this
#: length, whatever n).
CHUNK_CE_SGL = 1 << 17

#: Time per term used in the refusal message of :func:`expected_risk_ce_sgl` (the loaded
#: machine's figure above, so that the estimate errs long).
SECONDS_PER_TERM_CE_SGL = 2e-6

#: Most (vectorised) terms :func:`expected_risk_ce_ptl` evaluates before refusing; its
#: cost grows like n (measured ~1.2 us per term: 2e7 terms is about 25 s).
MAX_TERMS_CE_PTL = 20_000_000


def _support_size(n: int, p: float, width: float = 12.0) -> int:
    """Number of points of :func:`binom_support` (without building it)."""
    lo, hi = binom_window(n, p, width)
    return hi - lo + 1


def _refuse_costly(what: str, n: int, terms: float, limit: float, remedy: str) -> None:
    if terms > limit:
        raise ValueError(
            f"{what} at n = {n} would sum about {terms:.3g} binomial terms (more than the "
            f"{limit:.0e} allowed; the cost grows with n): {remedy}"
        )


def mean_abs_dev_binomial(M: np.ndarray, r: float, t: np.ndarray) -> np.ndarray:
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


def mean_abs_dev_binomial_at_mean(M: np.ndarray, r: float) -> np.ndarray:
    r""":math:`\mathbb E|X - Mr|` for :math:`X\sim\mathrm{Bin}(M, r)`, elementwise (de Moivre).

    .. math:: \mathbb E|X-Mr| = 2\nu(1-r)\binom{M}{\nu}r^\nu(1-r)^{M-\nu},\qquad
              \nu=\lfloor Mr\rfloor+1,

    one binomial pmf per entry, so the cost does not grow with M, and no cancellation
    (the CDF form of :func:`mean_abs_dev_binomial` at t = Mr subtracts two terms of size
    ~Mr/2 to get ~sqrt(M): measured 1e-11 relative error at M = 1e6, 4e-9 at 1e8, against
    ~1e-15 here, both checked with mpmath). If Mr rounds to just below an integer k, ν = k
    instead of k + 1 gives the same value (the two expressions agree when Mr = k).

    Parameters
    ----------
    M : array_like of int, any shape
        Trials, >= 0.
    r : float
        Success probability in [0, 1].

    Returns
    -------
    ndarray, shape of ``M``
    """
    M = np.asarray(M, dtype=np.float64)
    nu = np.floor(M * r) + 1.0
    return 2.0 * nu * (1.0 - r) * stats.binom.pmf(nu, M, r)


def _row_classes(instance: Instance) -> list[tuple[float, np.ndarray, int]]:
    """Inputs grouped by (rho(s), sorted pi*(.|s)): TV risks of the learners here are
    invariant under permuting the labels of a row. Returns (rho_s, sorted row, count)."""
    key = np.concatenate([instance.rho[:, None], np.sort(instance.pi_star, axis=1)], axis=1)
    uniq, mult = np.unique(key, axis=0, return_counts=True)
    return [(float(row[0]), row[1:], int(c)) for row, c in zip(uniq, mult)]


def _input_count_law(n: int, rho_s: float) -> tuple[float, np.ndarray, np.ndarray]:
    """P(n_s = 0) and (m, P(n_s = m)) for m >= 1 on the non-negligible support of Bin(n, rho_s)."""
    p0 = float(unseen_probability(np.array([rho_s]), n)[0])
    if n == 0 or rho_s <= 0.0:
        return p0, np.zeros(0, dtype=np.int64), np.zeros(0)
    ms = binom_support(n, rho_s)
    ms = ms[ms >= 1]
    return p0, ms, stats.binom.pmf(ms, n, rho_s)


def expected_risk_ce_sgl(instance: Instance, n: int) -> float:
    r"""Exact expected risk of ``ce_sgl`` (MLE) on any instance (derived here).

    The row error :math:`\tfrac12\sum_a|n_{s,a}/n_s - \pi^*(a|s)|` is a sum of
    per-label terms, and given :math:`n_s = m` each :math:`n_{s,a}` is
    :math:`\mathrm{Bin}(m, \pi^*(a|s))`, so only marginals enter:

    .. math::

        \mathbb E\,\mathrm{TV} = \sum_s\rho(s)\Big[(1-\rho(s))^n\,\mathrm{TV}(U, \pi^*_s)
          + \sum_{m\ge1}\mathrm{Bin}(m; n, \rho(s))\,\frac1{2m}\sum_a
            \mathbb E\big|\mathrm{Bin}(m, \pi^*(a|s)) - m\pi^*(a|s)\big|\Big],

    with the binomial mean absolute deviation at the mean in de Moivre's closed form
    (:func:`mean_abs_dev_binomial_at_mean`, one pmf). Sums over m are truncated at 12
    standard deviations (left-out mass below 1e-30) and run in chunks of
    :data:`CHUNK_CE_SGL` terms, so memory does not grow with n; identical rows and equal
    label masses are evaluated once. The time grows like :math:`\sqrt{n}` (each term has
    a constant cost); requests above :data:`MAX_TERMS_CE_SGL` terms (for Instance 0 with
    S = A = 10, n above about 1e13) are refused with a ``ValueError`` that gives the
    number of terms and a time estimate.

    Parameters
    ----------
    instance : Instance
    n : int
        Sample size, >= 0.

    Returns
    -------
    float
    """
    check_instance(instance)
    n = as_int(n, "n", low=0)
    A = instance.A
    classes = _row_classes(instance)
    terms = sum(_support_size(n, rho_s) * np.unique(row[row > 0]).size for rho_s, row, _ in classes if rho_s > 0)
    if terms > MAX_TERMS_CE_SGL:
        raise ValueError(
            f"expected_risk_ce_sgl at n = {n} would sum about {terms:.3g} binomial terms, about "
            f"{terms * SECONDS_PER_TERM_CE_SGL:.3g} s at {SECONDS_PER_TERM_CE_SGL * 1e6:g} us per term (more than the "
            f"{MAX_TERMS_CE_SGL:.0e} terms allowed; the time grows like sqrt(n)): estimate it with "
            "sims.transfer.simulate_risk, or for a near-uniform teacher use theory.transfer.mle_risk_normal_approx"
        )
    total = 0.0
    for rho_s, row, mult in classes:
        if rho_s == 0.0:
            continue
        p0 = float(unseen_probability(np.array([rho_s]), n)[0])
        contrib = p0 * 0.5 * float(np.abs(row - 1.0 / A).sum())
        if n >= 1:
            values, label_mult = np.unique(row[row > 0], return_counts=True)
            lo, hi = binom_window(n, rho_s)
            parts = []
            for start in range(max(lo, 1), hi + 1, CHUNK_CE_SGL):
                ms = np.arange(start, min(hi, start + CHUNK_CE_SGL - 1) + 1, dtype=np.float64)
                mad = np.zeros(ms.size)
                for v, k in zip(values, label_mult):
                    mad += k * mean_abs_dev_binomial_at_mean(ms, float(v))
                parts.append(float(stats.binom.pmf(ms, n, rho_s) @ (mad / (2.0 * ms))))
            contrib += math.fsum(parts)
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
    r"""Exact expected risk of ``ce_ptl`` for rows "one odd label + equal others" (derived here).

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

    Sums are truncated at 12 standard deviations (left-out mass below 1e-30); the cost
    grows like n and requests above :data:`MAX_TERMS_CE_PTL` terms (Instance 0 with
    S = A = 10: n above about 7e5) are refused with a ``ValueError``. On
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
    check_instance(instance)
    n = as_int(n, "n", low=0)
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
    # a Python loop over the input counts m, each summing over the heavy label's count:
    # about |window of m| * (|window of c_h| + 50) operations (50 ~ the loop's own cost)
    terms = sum(_support_size(n, rho_s) * (_support_size(int(math.ceil(n * rho_s)), shape[0]) + 50)
                for (rho_s, _, _), shape in zip(classes, shapes) if rho_s > 0)
    _refuse_costly("expected_risk_ce_ptl", n, terms, MAX_TERMS_CE_PTL, "estimate it with sims.transfer.simulate_risk")
    total = 0.0
    for (rho_s, row, mult), shape in zip(classes, shapes):
        if rho_s == 0.0:
            continue
        p0, ms, w = _input_count_law(n, rho_s)
        contrib = p0 * 0.5 * float(np.abs(row - 1.0 / A).sum())
        p_h, p_l, L = shape
        for m, wm in zip(ms, w):
            ch = binom_support(int(m), p_h)
            w_h = stats.binom.pmf(ch, m, p_h)
            D = p_h * ch + p_l * (m - ch)
            light = mean_abs_dev_binomial(m - ch, 1.0 / L, D)
            tv = (p_h * np.abs(ch - D) + L * p_l * light) / (2.0 * D)
            contrib += wm * float(w_h @ tv)
        total += mult * rho_s * contrib
    return total


def expected_risk_sel_ptl_instance2(S: int, A: int, n: int) -> float:
    r"""Exact expected risk of ``sel_ptl`` on :func:`instance2` (derived here).

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
    The terms reach about :math:`(1+2/e)^K` in size, so the series cancels for many
    light labels: the error bound :math:`(K+4)\,\epsilon\sum|\text{terms}|` is computed
    and a ``ValueError`` raised when it exceeds :math:`10^{-8}` of the result (e.g.
    S = 10, A = 81 at n = 1e5; A = 51, the largest of Figure 2, passes), and K >
    :data:`MAX_LIGHT_LABELS` is refused up front.

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
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    n = as_int(n, "n", low=1)
    inst_row = instance2_row(S, A, n, "expected_risk_sel_ptl_instance2")
    K, Z0 = instance2_parts(S, A)
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

    if K > MAX_LIGHT_LABELS:
        raise ValueError(
            f"expected_risk_sel_ptl_instance2 sums an alternating inclusion-exclusion series over the "
            f"K = {K} light labels, which cancels catastrophically for large K; it accepts K <= "
            f"{MAX_LIGHT_LABELS} (A <= {2 * MAX_LIGHT_LABELS + 2}); got A = {A}. Use "
            "sims.transfer.simulate_risk, or sel_ptl_limit_instance2 for the large-n limit"
        )
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
    out = math.fsum(terms)
    # fsum adds the rounded terms exactly; each term carries a relative error of about
    # (K + 4) ulps (G(x) = exp(n log1p(-y)) has an exponent of size <= K + 1), so the
    # result's error is at most ~(K + 4) eps sum|terms|. Refuse when that exceeds 1e-8 |out|.
    err = (K + 4) * np.finfo(float).eps * math.fsum(abs(t) for t in terms)
    if err > 1e-8 * abs(out):
        raise ValueError(
            f"expected_risk_sel_ptl_instance2(S={S}, A={A}, n={n}): the inclusion-exclusion series "
            f"cancels (error bound {err:.2g} vs value {out:.3g}); use sims.transfer.simulate_risk"
        )
    return out
