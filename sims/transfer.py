r"""Monte Carlo risk of the four knowledge-transfer learners of [ZZ23].

One repeat draws a fresh data set of n pairs :math:`(s_i, a_i) \sim \rho\times\pi^*`,
fits every learner in closed form (:func:`theory.transfer.estimate`) and records
:math:`\mathrm{TV}(\hat\pi, \pi^*|\rho)`; the risk is the mean over repeats, with
standard error :math:`\hat\sigma/\sqrt R`.

Sampling never costs O(n) per repeat. The learners only see the count matrix
:math:`n_{s,a} \sim \mathrm{Multinomial}(n, \rho\times\pi^*)` over the k cells of
positive probability :math:`p_c = \rho(s)\pi^*(a|s)`, which is drawn directly and
exactly by one of two routes (:func:`_draw_counts`):

* **few samples** (:math:`n < k`): n categorical draws from a Walker/Vose alias
  table (two uniforms each);
* **Poissonization** (:math:`n \ge k`): independent
  :math:`X_c \sim \mathrm{Poisson}(\lambda p_c)` with
  :math:`\lambda = n - 1.5\sqrt n`, redrawn while :math:`T = \sum_c X_c > n`, then
  the deficit :math:`d = n - T` is added as a :math:`\mathrm{Multinomial}(d, p)`
  draw (d categorical draws, or k - 1 conditional binomials
  :math:`\mathrm{Bin}(d - \sum_{c'<c} x_{c'},\ p_c/\sum_{c'\ge c} p_{c'})` when
  :math:`d \ge 3k`). Given T, Poisson counts are :math:`\mathrm{Multinomial}(T, p)`;
  the redraw depends on T only, and adding d i.i.d. categorical samples to a
  :math:`\mathrm{Multinomial}(T, p)` vector gives :math:`\mathrm{Multinomial}(n, p)`.

Every Poisson mean :math:`\lambda p_c` is fixed for a given (instance, n), so
each distinct mean gets a table: the CDF on mean :math:`\pm 15` sd (the two tails
outside hold less than 1e-49 and are lumped into the end points) searched from a
guide table, i.e. one uniform and a lookup per cell. Binomial variates are exact:
inversion (BINV) below mean 10, Hörmann's transformed rejection with squeeze
(BTRS; W. Hörmann, J. Statist. Comput. Simul. 46, 1993) above, with the final
acceptance test on the log-pmf ratio from :func:`math.lgamma`. All of this is
exact up to float64 rounding of the tables (about 1e-16 per probability).

One repeat therefore costs :math:`O(\min(n, k) + \sqrt n)` random draws and
:math:`O(A)` arithmetic per seen input for the four risks; the Figure-2 workload
is bounded by S*A, not n. Everything runs in one Numba kernel
(:func:`_risk_kernel`, ``cache=True``, single-threaded) that evaluates all four
learners on the same count matrix (common random numbers) with O(S A) scratch.
Uniforms come from the caller's :class:`numpy.random.Generator` inside the
kernel, so a run is a deterministic function of the generator's state (and
advances it); the result does not depend on anything else.

``method="numpy"`` is an independent reference path (``Generator.multinomial``
over the S*A cells in chunks, then :func:`theory.transfer.estimate` and
:func:`theory.transfer.tv_risk`); it gives the same law with different random
numbers and is used by the tests to cross-check the kernel.

References: [ZZ23] Zhao and Zhu, ICLR 2024, arXiv 2310.07838; the math:
paper, Sec. 'Knowledge transfer over finite domains'.

Examples
--------
>>> from theory import transfer
>>> from sims.transfer import simulate_risk
>>> est = simulate_risk(transfer.instance0(10, 5), "ce_ful", 20, 2000, seed=0)
>>> abs(est.mean - transfer.expected_risk_ce_ful(transfer.instance0(10, 5), 20)) < 4 * est.stderr
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy import stats

from theory import transfer as _tt
from theory._validation import as_choice, as_generator, as_int, check_memory
from theory.transfer._learners import estimate_counts, tv_rows

__all__ = [
    "RiskEstimate",
    "METHODS",
    "simulate_risk",
    "simulate_risks",
    "sample_risks",
    "sample_counts",
]

#: Simulation back-ends: the fused Numba kernel and the NumPy reference path.
METHODS: tuple[str, ...] = ("kernel", "numpy")

# n categorical draws when n < CATEGORICAL_FACTOR * k (k = number of positive
# cells), else the Poissonized sampler (one Poisson draw per cell).
CATEGORICAL_FACTOR = 1
# Poissonization intensity lambda = n - POISSON_MARGIN * sqrt(n): a total above n
# (probability ~ Phi(-1.5) = 7%) is redrawn, a deficit (~1.5 sqrt(n)) is topped up.
POISSON_MARGIN = 1.5
# Binomial variates: inversion (BINV) below this mean, BTRS above (BTRS needs >= 10).
BTRS_MIN_MEAN = 10.0
# The top-up of d draws uses categorical draws when d < TOPUP_CATEGORICAL_FACTOR * k,
# else k - 1 conditional binomials (each about 3x dearer than a categorical draw).
TOPUP_CATEGORICAL_FACTOR = 3
# Guide-table buckets per support point of a Poisson table.
GUIDE_OVERSAMPLING = 4
# Poisson tables cover mean +- POISSON_TAIL_SD sd (+ slack); outside mass < 1e-40.
POISSON_TAIL_SD = 15.0
# Target number of float64 cells per chunk of the NumPy path (~32 MB per array).
_NUMPY_CHUNK_CELLS = 1 << 22

#: Largest sample size accepted (counts are int64 in the kernels).
MAX_N = 2**62


@dataclass(frozen=True)
class RiskEstimate:
    """Monte Carlo estimate of one learner's expected TV risk.

    Attributes
    ----------
    learner : str
        One of :data:`theory.transfer.LEARNERS`.
    n : int
        Sample size of each data set.
    repeats : int
        Number of independent data sets R.
    mean : float
        Mean TV risk over the repeats.
    stderr : float
        Standard error of the mean, ``std / sqrt(repeats)`` (nan if R = 1).
    std : float
        Sample standard deviation of the per-repeat risk (ddof = 1; nan if R = 1).
    """

    learner: str
    n: int
    repeats: int
    mean: float
    stderr: float
    std: float


# --------------------------------------------------------------------------- kernels
@njit(cache=True)
def _categorical(rng, k, aprob, alias):
    """One draw from the alias table (``aprob``, ``alias``) over k cells (two uniforms)."""
    j = int(rng.random() * k)
    if j >= k:
        j = k - 1
    if rng.random() >= aprob[j]:
        j = alias[j]
    return j


@njit(cache=True)
def _poisson(rng, lo, off, goff, gsize, cdf, guide):
    """One Poisson draw by guide-table inversion: ``cdf[off:]`` is the CDF from ``lo``,
    ``guide[goff:goff+gsize]`` the first index with cdf > i/gsize."""
    u = rng.random()
    i = int(u * gsize)
    if i >= gsize:
        i = gsize - 1
    j = guide[goff + i]
    while cdf[off + j] <= u:
        j += 1
    return lo + j


@njit(cache=True)
def _binv(rng, m, p):
    """Bin(m, p) by sequential inversion; 0 < p <= 1/2, m*p < BTRS_MIN_MEAN."""
    q = 1.0 - p
    s = p / q
    a = (m + 1) * s
    r0 = math.exp(m * math.log1p(-p))
    while True:
        u = rng.random()
        r = r0
        x = 0
        while u > r:
            u -= r
            x += 1
            if x > m:
                break
            r *= a / x - s
        if x <= m:
            return x


@njit(cache=True)
def _btrs(rng, m, p):
    """Bin(m, p) by Hörmann's BTRS; 0 < p <= 1/2, m*p >= BTRS_MIN_MEAN."""
    q = 1.0 - p
    spq = math.sqrt(m * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = m * p + 0.5
    v_r = 0.92 - 4.2 / b
    alpha = (2.83 + 5.1 / b) * spq
    lpq = 0.0
    mode = 0.0
    h = 0.0
    setup = False
    while True:
        u = rng.random() - 0.5
        v = rng.random()
        us = 0.5 - abs(u)
        if us <= 0.0:
            continue
        kf = math.floor((2.0 * a / us + b) * u + c)
        if kf < 0.0 or kf > m:
            continue
        if us >= 0.07 and v <= v_r:
            return int(kf)
        if v <= 0.0:
            return int(kf)
        if not setup:  # the exact test is needed in ~10% of draws: set it up lazily
            lpq = math.log(p / q)
            mode = math.floor((m + 1) * p)
            h = math.lgamma(mode + 1.0) + math.lgamma(m - mode + 1.0)
            setup = True
        lv = math.log(v * alpha / (a / (us * us) + b))
        # log f(k)/f(mode) of the Bin(m, p) pmf
        log_ratio = h - math.lgamma(kf + 1.0) - math.lgamma(m - kf + 1.0) + (kf - mode) * lpq
        if lv <= log_ratio:
            return int(kf)


@njit(cache=True)
def _binomial(rng, m, p):
    """Exact Bin(m, p) variate, m >= 0, p in [0, 1]."""
    if m <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return m
    flip = p > 0.5
    pp = 1.0 - p if flip else p
    if m * pp < BTRS_MIN_MEAN:
        k = _binv(rng, m, pp)
    else:
        k = _btrs(rng, m, pp)
    return m - k if flip else k


@njit(cache=True)
def _draw_counts(rng, n, poissonize, topup_factor, cells, cell_row, cell_tab, tab_lo, tab_off,
                 tab_goff, tab_gsize, cdf, guide, cond, aprob, alias, counts, ns):
    """One count matrix :math:`\\sim` Multinomial(n, joint) into ``counts`` (S*A,) and its
    row sums into ``ns`` (S,); both zero on entry.

    Poissonized path: independent Poisson(lambda p_c) counts on the positive cells,
    redrawn while their total T exceeds n; then the deficit d = n - T (all n without
    Poissonization) as Multinomial(d, p), by d categorical draws when
    ``d < topup_factor * k``, else by k - 1 conditional binomials.
    """
    k = cells.shape[0]
    drawn = 0
    if poissonize:
        while True:
            total = 0
            for c in range(k):
                t = cell_tab[c]
                x = _poisson(rng, tab_lo[t], tab_off[t], tab_goff[t], tab_gsize[t], cdf, guide)
                counts[cells[c]] = x
                total += x
            if total <= n:
                break
            for c in range(k):
                counts[cells[c]] = 0
        drawn = total
    d = n - drawn
    if d < topup_factor * k:
        for _ in range(d):
            counts[cells[_categorical(rng, k, aprob, alias)]] += 1
    else:
        remaining = d
        for c in range(k - 1):
            if remaining == 0:
                break
            x = _binomial(rng, remaining, cond[c])
            counts[cells[c]] += x
            remaining -= x
        counts[cells[k - 1]] += remaining
    for c in range(k):
        ns[cell_row[c]] += counts[cells[c]]


@njit(cache=True)
def _row_tvs(m, c, p):
    """(TV of ce_sgl, ce_ptl, sel_ptl) at a seen row; ``c`` (A,) counts summing to m >= 1,
    ``p`` (A,) the teacher row (ce_ful is exact there)."""
    A = p.shape[0]
    inv_m = 1.0 / m
    tv_sgl = 0.0
    Z = 0.0
    unseen_mass = 0.0
    n_unseen = 0.0
    # branch-free loops: whether a label is seen is unpredictable at moderate n
    for a in range(A):
        ca = c[a]
        pa = p[a]
        unseen = 1.0 if ca == 0 else 0.0
        tv_sgl += abs(ca * inv_m - pa)
        Z += ca * pa
        unseen_mass += unseen * pa
        n_unseen += unseen
    # Z > 0 because counts only fall on labels with p > 0
    inv_z = 1.0 / Z
    fill = unseen_mass / n_unseen if n_unseen > 0.0 else 0.0
    tv_ptl = 0.0
    tv_sel = 0.0
    for a in range(A):
        ca = c[a]
        pa = p[a]
        unseen = 1.0 if ca == 0 else 0.0
        tv_ptl += abs(ca * pa * inv_z - pa)
        tv_sel += unseen * abs(fill - pa)
    return 0.5 * tv_sgl, 0.5 * tv_ptl, 0.5 * tv_sel


@njit(cache=True)
def _risk_kernel(rng, repeats, n, rho, pi_star, tvu, poissonize, topup_factor, cells, cell_row,
                 cell_tab, tab_lo, tab_off, tab_goff, tab_gsize, cdf, guide, cond, aprob, alias,
                 out):
    """Per-repeat TV risks of the four learners (LEARNERS order) into ``out`` (repeats, 4)."""
    S, A = pi_star.shape
    counts = np.zeros(S * A, np.int64)
    ns = np.zeros(S, np.int64)
    k = cells.shape[0]
    for r in range(repeats):
        _draw_counts(rng, n, poissonize, topup_factor, cells, cell_row, cell_tab, tab_lo,
                     tab_off, tab_goff, tab_gsize, cdf, guide, cond, aprob, alias, counts, ns)
        acc_sgl = 0.0
        acc_ptl = 0.0
        acc_sel = 0.0
        acc_ful = 0.0
        for s in range(S):
            m = ns[s]
            if m == 0:
                # every learner outputs Uniform(A) at an unseen input
                w = rho[s] * tvu[s]
                acc_sgl += w
                acc_ptl += w
                acc_sel += w
                acc_ful += w
            else:
                tv_sgl, tv_ptl, tv_sel = _row_tvs(m, counts[s * A : (s + 1) * A], pi_star[s])
                acc_sgl += rho[s] * tv_sgl
                acc_ptl += rho[s] * tv_ptl
                acc_sel += rho[s] * tv_sel
        out[r, 0] = acc_sgl
        out[r, 1] = acc_ptl
        out[r, 2] = acc_sel
        out[r, 3] = acc_ful
        for c in range(k):
            counts[cells[c]] = 0
        ns[:] = 0


@njit(cache=True)
def _counts_kernel(rng, repeats, n, poissonize, topup_factor, cells, cell_row, cell_tab, tab_lo,
                   tab_off, tab_goff, tab_gsize, cdf, guide, cond, aprob, alias, out):
    """Count matrices into ``out`` (repeats, S*A), with the draws of :func:`_risk_kernel`."""
    k = cells.shape[0]
    counts = np.zeros(out.shape[1], np.int64)
    ns = np.zeros(cell_row.max() + 1, np.int64)
    for r in range(repeats):
        _draw_counts(rng, n, poissonize, topup_factor, cells, cell_row, cell_tab, tab_lo,
                     tab_off, tab_goff, tab_gsize, cdf, guide, cond, aprob, alias, counts, ns)
        out[r, :] = counts
        for c in range(k):
            counts[cells[c]] = 0
        ns[:] = 0


# --------------------------------------------------------------------------- tables
def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for the distribution ``p`` (k,), normalised here."""
    k = p.shape[0]
    scaled = p / p.sum() * k
    prob = np.ones(k)
    alias = np.arange(k, dtype=np.int64)
    small = [j for j in range(k) if scaled[j] < 1.0]
    large = [j for j in range(k) if scaled[j] >= 1.0]
    while small and large:
        s = small.pop()
        g = large.pop()
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        (small if scaled[g] < 1.0 else large).append(g)
    # cells left in either list have scaled mass 1 up to rounding: keep prob 1
    return prob, alias


def _poisson_table(mu: float) -> tuple[int, np.ndarray, np.ndarray]:
    """(lo, cdf, guide) for Poisson(mu) on [lo, hi], the outer tails (< 1e-40) lumped in."""
    sd = math.sqrt(mu)
    lo = max(0, int(math.floor(mu - POISSON_TAIL_SD * sd - 10.0)))
    hi = int(math.ceil(mu + POISSON_TAIL_SD * sd + 30.0))
    k = np.arange(lo, hi + 1)
    cdf = np.maximum.accumulate(stats.poisson.cdf(k, mu))
    cdf[-1] = 1.0
    # guide table with GUIDE_OVERSAMPLING buckets per support point: the search after
    # the lookup then almost never moves (few mispredicted branches)
    n_guide = GUIDE_OVERSAMPLING * k.shape[0]
    guide = np.searchsorted(cdf, np.arange(n_guide) / n_guide, side="right").astype(np.int64)
    return lo, cdf, guide


@dataclass(frozen=True)
class _Plan:
    """Sampling tables of one (instance, n); see :func:`_draw_counts`."""

    poissonize: bool
    topup_factor: float
    cells: np.ndarray
    cell_row: np.ndarray
    cell_tab: np.ndarray
    tab_lo: np.ndarray
    tab_off: np.ndarray
    tab_goff: np.ndarray
    tab_gsize: np.ndarray
    cdf: np.ndarray
    guide: np.ndarray
    cond: np.ndarray
    aprob: np.ndarray
    alias: np.ndarray

    def args(self) -> tuple:
        return (self.poissonize, self.topup_factor, self.cells, self.cell_row,
                self.cell_tab, self.tab_lo, self.tab_off, self.tab_goff, self.tab_gsize,
                self.cdf, self.guide, self.cond, self.aprob, self.alias)


def _plan(instance: _tt.Instance, n: int, poissonize: bool | None = None,
          topup_factor: float = TOPUP_CATEGORICAL_FACTOR) -> _Plan:
    """Sampling tables for Multinomial(n, rho x pi*).

    ``poissonize=None`` picks the cheaper path (Poissonize iff n >= CATEGORICAL_FACTOR * k);
    True/False and ``topup_factor`` (0: always binomial, inf: always categorical)
    force a path; all paths draw from the same law (the tests check each).
    """
    joint = instance.joint.ravel()
    joint = joint / joint.sum()
    cells = np.flatnonzero(joint > 0).astype(np.int64)
    p = joint[cells]
    aprob, alias = _alias_table(p)
    # conditional probabilities p_c / sum_{c' >= c} p_c' for the binomial top-up
    tail = np.cumsum(p[::-1])[::-1]
    cond = np.clip(p / tail, 0.0, 1.0)
    cond[-1] = 1.0
    lam = n - POISSON_MARGIN * math.sqrt(n)
    if poissonize is None:
        poissonize = n >= CATEGORICAL_FACTOR * cells.shape[0]
    poissonize = bool(poissonize) and lam > 0
    if poissonize:
        mus, cell_tab = np.unique(lam * p, return_inverse=True)
        # each table holds ~2 * POISSON_TAIL_SD * sqrt(mu) + 41 CDF values and
        # GUIDE_OVERSAMPLING guide entries per value, 8 bytes each (plus the stats.poisson
        # temporaries, about as large again)
        entries = float(np.sum(2.0 * POISSON_TAIL_SD * np.sqrt(mus) + 41.0)) * (1 + GUIDE_OVERSAMPLING)
        check_memory(16.0 * entries, f"sampling tables for n = {n} on {cells.shape[0]} cells",
                     hint="the Poisson tables grow like sqrt(n); use a smaller n")
        tables = [_poisson_table(float(mu)) for mu in mus]
        tab_lo = np.array([t[0] for t in tables], dtype=np.int64)
        sizes = np.array([t[1].shape[0] for t in tables], dtype=np.int64)
        tab_gsize = np.array([t[2].shape[0] for t in tables], dtype=np.int64)
        tab_off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        tab_goff = np.concatenate([[0], np.cumsum(tab_gsize)[:-1]]).astype(np.int64)
        cdf = np.concatenate([t[1] for t in tables])
        guide = np.concatenate([t[2] for t in tables])
    else:
        cell_tab = np.zeros(cells.shape[0], np.int64)
        tab_lo = tab_off = tab_goff = tab_gsize = np.zeros(1, np.int64)
        cdf = np.ones(1)
        guide = np.zeros(1, np.int64)
    cell_row = (cells // instance.A).astype(np.int64)
    return _Plan(poissonize, float(topup_factor), cells, cell_row, cell_tab.astype(np.int64),
                 tab_lo, tab_off, tab_goff, tab_gsize, cdf, guide, cond, aprob, alias)


# --------------------------------------------------------------------------- validation
def _check_n(n) -> int:
    n = as_int(n, "n", low=1)
    if n > MAX_N:
        raise ValueError(f"n must be at most 2**62 = {MAX_N} (counts are int64 in the kernels), got {n}")
    return n


def _check_instance(instance) -> None:
    if not isinstance(instance, _tt.Instance):
        raise TypeError(
            "instance must be a theory.transfer.Instance (e.g. "
            f"theory.transfer.instance1(S, A, n)), got {type(instance).__name__}"
        )


def _check_learners(learners) -> tuple[str, ...]:
    if learners is None:
        return _tt.LEARNERS
    if isinstance(learners, str):
        learners = (learners,)
    if not isinstance(learners, Sequence) or len(learners) == 0:
        raise ValueError(
            f"learners must be a non-empty sequence of names from {_tt.LEARNERS}, got "
            f"{learners!r}"
        )
    out = tuple(learners)
    for name in out:
        if not isinstance(name, str) or name not in _tt.LEARNERS:
            raise ValueError(f"learners must be names from {_tt.LEARNERS}, got {name!r}")
    if len(set(out)) != len(out):
        raise ValueError(f"learners must not repeat a name, got {out}")
    return out


# --------------------------------------------------------------------------- public API
def sample_counts(instance: _tt.Instance, n: int, repeats: int, seed) -> np.ndarray:
    r"""Draw ``repeats`` count matrices :math:`n_{s,a}\sim\mathrm{Multinomial}(n, \rho\times\pi^*)`.

    Uses exactly the random draws of the risk kernel behind :func:`sample_risks`
    (same generator state gives the same data sets), so it can be used to check
    the kernel's risk arithmetic against :func:`theory.transfer.estimate`.

    Parameters
    ----------
    instance : theory.transfer.Instance
    n : int
        Sample size, >= 1.
    repeats : int
        Number of data sets R, >= 1.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        A Generator is used (and advanced) as is.

    Returns
    -------
    numpy.ndarray of int64, shape (repeats, S, A)
    """
    _check_instance(instance)
    n = _check_n(n)
    repeats = as_int(repeats, "repeats", low=1)
    check_memory(8.0 * repeats * instance.S * instance.A,
                 f"sample_counts(repeats={repeats}) on an instance with S*A = {instance.S * instance.A} cells",
                 hint="the result holds repeats * S * A int64 counts; draw fewer repeats at a time")
    rng = as_generator(seed, "seed")
    plan = _plan(instance, n)
    out = np.zeros((repeats, instance.S * instance.A), np.int64)
    _counts_kernel(rng, repeats, n, *plan.args(), out)
    return out.reshape(repeats, instance.S, instance.A)


def sample_risks(instance: _tt.Instance, learners, n: int, repeats: int, seed, *,
                 method: str = "kernel", chunk: int | None = None) -> np.ndarray:
    r"""Per-repeat TV risks of several learners on common data sets.

    Every repeat draws one count matrix and evaluates all requested learners on
    it (common random numbers), so differences between learners have less
    Monte Carlo noise than independent runs.

    Parameters
    ----------
    instance : theory.transfer.Instance
    learners : sequence of str or None
        Names from :data:`theory.transfer.LEARNERS` (None: all four).
    n : int
        Sample size, >= 1.
    repeats : int
        Number of data sets R, >= 1.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
    method : {"kernel", "numpy"}
        ``"kernel"``: the fused Numba kernel (fast, O(S A) scratch memory). ``"numpy"``:
        ``Generator.multinomial`` over the S*A cells plus
        :func:`theory.transfer.estimate` (reference path, different random numbers).
    chunk : int, optional
        Repeats per batch of the NumPy path (memory ~ 3 * chunk * S * A * 8 bytes);
        default keeps each batch near 4M cells. Ignored by the kernel.

    Returns
    -------
    numpy.ndarray, shape (repeats, len(learners))
        ``risks[r, j]`` = TV risk of ``learners[j]`` on data set r.
    """
    _check_instance(instance)
    learners = _check_learners(learners)
    n = _check_n(n)
    repeats = as_int(repeats, "repeats", low=1)
    method = as_choice(method, "method", METHODS)
    check_memory(8.0 * repeats * len(_tt.LEARNERS), f"sample_risks(repeats={repeats})",
                 hint="the result holds one float64 risk per repeat and learner; use fewer repeats "
                      "(the standard error falls like 1/sqrt(repeats))")
    rng = as_generator(seed, "seed")
    if chunk is not None:  # checked even where the kernel ignores it: a bad value is a mistake either way
        chunk = as_int(chunk, "chunk", low=1)
    cols = [_tt.LEARNERS.index(name) for name in learners]
    if method == "kernel":
        plan = _plan(instance, n)
        tvu = 0.5 * np.abs(instance.pi_star - 1.0 / instance.A).sum(axis=1)
        out = np.empty((repeats, len(_tt.LEARNERS)))
        _risk_kernel(rng, repeats, n, instance.rho, instance.pi_star, tvu, *plan.args(), out)
        return out[:, cols]
    if chunk is None:
        chunk = max(1, _NUMPY_CHUNK_CELLS // (instance.S * instance.A))
    p_flat = instance.joint.ravel()
    p_flat = p_flat / p_flat.sum()
    out = np.empty((repeats, len(learners)))
    for start in range(0, repeats, chunk):
        size = min(chunk, repeats - start)
        counts = rng.multinomial(n, p_flat, size=size).reshape(size, instance.S, instance.A)
        counts = counts.astype(np.float64)
        for j, name in enumerate(learners):
            pi_hat = estimate_counts(name, counts, instance.pi_star)
            out[start : start + size, j] = tv_rows(pi_hat, instance.pi_star) @ instance.rho
    return out


def _summarise(name: str, n: int, risks: np.ndarray) -> RiskEstimate:
    R = risks.shape[0]
    mean = float(risks.mean())
    if R > 1:
        std = float(risks.std(ddof=1))
        stderr = std / math.sqrt(R)
    else:
        std = stderr = float("nan")
    return RiskEstimate(learner=name, n=n, repeats=R, mean=mean, stderr=stderr, std=std)


def simulate_risks(instance: _tt.Instance, learners, n: int, repeats: int, seed, *,
                   method: str = "kernel", chunk: int | None = None) -> dict[str, RiskEstimate]:
    r"""Mean TV risk of several learners on common data sets.

    .. math::

        \widehat{\mathcal R}_{\text{learner}} = \frac1R\sum_{r=1}^R
            \mathrm{TV}(\hat\pi^{(r)}_{\text{learner}}, \pi^*|\rho)

    Parameters
    ----------
    instance : theory.transfer.Instance
    learners : sequence of str or None
        Names from :data:`theory.transfer.LEARNERS` (None: all four).
    n : int
        Sample size, >= 1.
    repeats : int
        Number of data sets R, >= 1.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
    method, chunk
        See :func:`sample_risks`.

    Returns
    -------
    dict
        ``{learner: RiskEstimate}`` in the order of ``learners``.
    """
    learners = _check_learners(learners)
    risks = sample_risks(instance, learners, n, repeats, seed, method=method, chunk=chunk)
    n = int(n)
    return {name: _summarise(name, n, risks[:, j]) for j, name in enumerate(learners)}


def simulate_risk(instance: _tt.Instance, learner: str, n: int, repeats: int, seed, *,
                  method: str = "kernel") -> RiskEstimate:
    r"""Mean TV risk of one learner and its standard error.

    Parameters
    ----------
    instance : theory.transfer.Instance
        The problem :math:`\rho\times\pi^*`.
    learner : str
        One of :data:`theory.transfer.LEARNERS`.
    n : int
        Sample size of each data set, >= 1.
    repeats : int
        Number of independent data sets, >= 1.
    seed : int, numpy.random.SeedSequence or numpy.random.Generator
        A Generator is used (and advanced) as is.
    method : {"kernel", "numpy"}
        See :func:`sample_risks`.

    Returns
    -------
    RiskEstimate
        ``mean``, ``stderr``, ``std``, ``repeats``, ``learner``, ``n``.
    """
    if not isinstance(learner, str) or learner not in _tt.LEARNERS:
        raise ValueError(f"learner must be one of {_tt.LEARNERS}, got {learner!r}")
    return simulate_risks(instance, (learner,), n, repeats, seed, method=method)[learner]
