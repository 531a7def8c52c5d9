r"""Soft- vs hard-label training of two-layer ReLU nets ([M25];
paper, Sec. 'Soft- versus hard-label training of two-layer ReLU networks').

Two experiments on the [JT20] model of :mod:`sims.twolayer` (only W trained, fixed signs,
standard initialisation, full-batch GD, η = 1):

* ``softhard_width`` (neuron requirements and lazy movement, checks S.5, S.8, S.9):
  for each dataset (circle difficulty k; two clusters of gap g, the γ sweep whose
  :math:`\gamma_2` spans more than a decade) and each loss (soft, hard), one
  seeds × widths ensemble (:func:`sims.twolayer.run_ensemble`, one fused call) is run
  for the largest budget; the prescribed budgets :math:`T(\varepsilon)` of the smaller
  ones are checkpoints of the same runs, since ``avg_loss`` at step t is
  :math:`\frac1t\sum_{u<t}L(W_u)`. :math:`m^*(\varepsilon)` is the smallest width whose
  median (over seeds) average loss at :math:`T(\varepsilon)` is :math:`\le\varepsilon`,
  interpolated log-log between the two grid widths around the crossing (NaN if none);
  a value at the smallest width is *censored* (only :math:`m^*\le m_{min}` is known) and
  a budget cut by ``steps_max`` is *capped*; fits of exponents use neither. Also stored:
  the last-iterate loss at :math:`T_{max}` (the converged variant of check S.8), the
  loss of f ≡ 0 (the scale of ε), :math:`\|W_T-W_0\|_F`,
  :math:`\sqrt m\max_s\|w_s(t)-w_s(0)\|` (max over the checkpoints :math:`t\le T`) and the
  [JT20] bound :math:`4\lambda/\gamma` (:func:`theory.ntk.jt_width_bound`) with γ from
  :func:`theory.ntk.ntk_margin`. Settings: the soft teacher (``"kernel"``,
  ``"program"``, ``"network"``), the student initialisation (standard / coupled),
  projected GD (:math:`R=c'/\gamma_2`, default none), the hard runs' budget rule
  (``hard_budget``) and the losses run (``kinds``).
* ``softhard_width_coupled`` and ``softhard_width_projected``: the same sweep with
  coupled initialisation, and with projected GD at c' = 1 (soft runs only), registered as
  experiments of their own so that their sweeps never stand in for the standard one
  (each reader takes an experiment's latest sweep); the claims compare each point with its
  standard twin.
* ``softhard_accuracy`` (the motivating experiment and where the claim holds,
  check S.10): test accuracy (against the clean ground truth) against width, soft and
  hard, on the circle with growing k and on ``load_digits`` pairs, for each teacher
  type, temperature, training length and label-noise rate in the config.

Data (our choices): circle sectors ``theory.ntk.circle_sectors`` with bias b = 1
(d = 3), ``placement="even"`` for the training set (a fixed sample, no point within
π/n of a label boundary when 2k divides n) and uniform random test points;
digits: :func:`theory.ntk.digits_pair` (centred, bias 1, scaled into the unit ball), a
random half for training (the run's seed) and the other half for testing; the figure
orders pairs by their :math:`\gamma_2`.

Teachers (our choices): ``"program"`` (width sweep) is the predictor of the random-feature
margin program, :math:`g=h/\gamma_K` (:func:`theory.ntk.margin_predictor`);
``"kernel"`` is the max-margin function of the first-layer kernel
:math:`K_1` (functional margin 1, RKHS norm :math:`1/\gamma_2`):
:math:`g(x)=\sum_iq_iy_iK_1(x_i,x)/\gamma_2^2` with q the kernel SVM's normalised dual
(:func:`theory.ntk.kernel_margin`); ``"network"`` is a wide [JT20] net trained on the
(noisy) training labels (:func:`sims.twolayer.wide_network_teacher`, width 4096 and 3000
steps by default, as in [M25]'s experiment). Soft targets :math:`p=\sigma(g/\tau)`, τ = 1 by
default. Label noise flips training labels only; the hard student and the network
teacher see the flipped labels, the kernel teacher is fitted to them too (with noise the
kernel SVM may be infeasible only for contradictory points, which the circle does not
have).

Budgets (our choice): :math:`T(\varepsilon)=\min(T_{max},\lceil c_T/(\gamma_2^2\varepsilon)\rceil)`
(the theory's :math:`T\propto1/(\gamma^2\varepsilon)`), with
:math:`c_T` = ``budget_constant`` (default 1) and :math:`\gamma_2` (not the random-
feature γ) because it is deterministic and is the inverse norm of the kernel teacher.
Hard runs use by default (``hard_budget="jt"``) the [JT20]-shaped budget
:math:`T_{hard}(\varepsilon)=\min(T^{hard}_{max},\lceil c_H\bar\lambda(\varepsilon)^2/(\gamma_2^2\varepsilon)\rceil)`,
:math:`\bar\lambda=\sqrt{2\ln(4n/\delta)}+\ln(4/\varepsilon)` (:func:`theory.ntk.hard_label_budget`:
[JT20]'s :math:`T=2\lambda^2/(\eta\varepsilon)` with λ's :math:`\gamma/4` replaced by γ₂,
so its constant 32 becomes :math:`c_H`); ``hard_budget="common"`` gives them the soft
runs' :math:`c_T/(\gamma_2^2\varepsilon)`. Our choice :math:`c_H=0.03` (``hard_budget_constant``),
:math:`T^{hard}_{max}=10^5` (``hard_steps_max``; soft keeps ``steps_max``; the machine time of the
full sweep): with
n = 64, δ = 0.1, :math:`\bar\lambda^2` is 58 at ε = 0.1 and 99 at ε = 0.01, so the hard budget
is 1.8-3.0 times the common one; :math:`c_H=1` (the convex-GD normalisation, see
:func:`theory.ntk.hard_label_budget`) would need up to :math:`10^7` steps on the smallest
γ₂ and is out of reach. In a calibration on two clusters (gap 0.05 and 0.2, widths 2..512,
5 seeds, up to :math:`4\cdot10^5` steps) :math:`c_H=0.03` puts the average loss at the
largest widths at 0.5-1.1 ε over ε = 0.1..0.01, flat in the width from m = 2 on; on the circle
with k = 3 and 4 no width up to 512 reached ε = 0.1 within :math:`2\cdot10^5` steps
(average loss over them 0.12 and 0.19 at m = 512), so those hard m* are "not reached" at any
affordable budget.
Widths: powers of 2 from 2; seeds: 5 (quick: 3). No projection by default
(R = ∞, the first of the protocol's R ∈ {∞, c'/γ}; ``project_constant`` = c' > 0 sets
:math:`R=c'/\gamma_2`, the kernel teacher's RKHS norm times c'). Standard
initialisation by default (coupled is a setting).

Protocol findings (the measured numbers are in ``paper/numbers/softhard_width.json`` and
the claims table): at :math:`T(\varepsilon)=c_T/(\gamma_2^2\varepsilon)` the average soft
loss carries a width-independent optimisation term (the convex-GD bound
:math:`\|W^*-W_0\|^2/(2\eta T)` with :math:`\|W^*-W_0\|\approx1/\gamma_2` is
:math:`\varepsilon/(2c_T)`), and a width-m net can fit the n training targets once
md ≳ n, so the width only matters at the smallest widths of the grid. The hard-label
budget of [JT20] is :math:`T\propto\lambda^2/\varepsilon` with
:math:`\lambda\propto\ln(1/\varepsilon)/\gamma`, larger by :math:`\ln^2(1/\varepsilon)`
than the common :math:`T(\varepsilon)`, which both losses used before the hard runs got
that shape (``hard_budget``, above); ``budget_constant`` scales the common one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import twolayer
from sims.experiment import Experiment, Interval, Options, Settings, Tuple, get_experiment, register, setting
from theory._validation import as_choice, as_int, as_real_array
from theory.ntk import (circle_sectors, digits_pair, first_layer_kernel, flip_labels, hard_label_budget, jt_width_bound,
                        kernel_margin, margin_predictor, ntk_margin, two_clusters)

__all__ = [
    "AccuracyConfig",
    "AccuracyPoint",
    "AccuracyResult",
    "CoupledWidthConfig",
    "KernelTeacher",
    "ProjectedWidthConfig",
    "WidthConfig",
    "WidthPoint",
    "WidthResult",
    "accuracy_points",
    "budgets",
    "fit_kernel_teacher",
    "make_dataset",
    "neuron_requirement",
    "run_accuracy",
    "run_width",
    "trivial_loss",
    "width_dataset",
    "width_budgets",
    "width_points",
    "width_teacher",
]

_KIND = Options(str, ("soft", "hard"))
_TEACHER = Options(str, ("kernel", "network"))
_FAMILY = Options(str, ("circle", "digits"))
_POS_INT = Interval(int, 1, None)
_POS_REAL = Interval(float, 0.0, None, closed="right")
_EPS = Interval(float, 0.0, 1.0, closed="neither")


# ---------------------------------------------------------------- data and teachers

def make_dataset(family: str, difficulty: int, n_train: int, n_test: int, seed, label_noise: float = 0.0):
    """Training and test data of one difficulty.

    Parameters
    ----------
    family : {"circle", "digits"}
    difficulty : int
        circle: k >= 1 in :math:`y=\\mathrm{sign}(\\sin k\\vartheta)`; digits: the pair
        ``(difficulty // 10, difficulty % 10)`` (e.g. 38 is 3 vs 8).
    n_train, n_test : int
        circle only (digits: a random half of the pair each).
    seed : int or Generator
        Test points (circle), the split (digits) and the label noise.
    label_noise : float in [0, 1/2]
        Flip rate of the training labels.

    Returns
    -------
    X, y, X_test, y_test, y_clean : ndarrays, shapes (n, d), (n,), (n_test, d), (n_test,), (n,)
        ``y`` has the flips, ``y_clean`` and ``y_test`` do not.
    """
    family = as_choice(family, "family", ("circle", "digits"))
    rng = np.random.default_rng(seed)
    if family == "circle":
        k = as_int(difficulty, "difficulty", low=1)
        X, y = circle_sectors(as_int(n_train, "n_train", low=2), k, placement="even")
        Xt, yt = circle_sectors(as_int(n_test, "n_test", low=1), k, rng)
    else:
        d = as_int(difficulty, "difficulty", low=1, high=98)
        Xa, ya = digits_pair(d // 10, d % 10, bias=1.0)
        perm = rng.permutation(len(ya))
        half = len(ya) // 2
        X, y, Xt, yt = Xa[perm[:half]], ya[perm[:half]], Xa[perm[half:]], ya[perm[half:]]
    y_noisy = flip_labels(y, label_noise, rng) if label_noise else y.copy()
    return X, y_noisy, Xt, yt, y


@dataclass(frozen=True)
class KernelTeacher:
    r"""The max-margin function of :math:`K_1`: :math:`g(x)=\sum_i\alpha_iy_iK_1(x_i,x)`, :math:`\alpha=q/\gamma_2^2`.

    :math:`y_ig(x_i)\ge1` on the training set and :math:`\|g\|_{K_1}=1/\gamma_2`.
    """

    X: np.ndarray
    coef: np.ndarray  # alpha_i y_i, shape (n,)
    gamma2: float
    solver: str

    def __call__(self, X) -> np.ndarray:
        return first_layer_kernel(X, self.X) @ self.coef


def fit_kernel_teacher(X, y) -> KernelTeacher:
    """The kernel-limit teacher (RKHS variant; paper, Sec. 'Soft- versus hard-label training ...') on data (X, y)."""
    gamma2, q, how = kernel_margin(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return KernelTeacher(np.asarray(X, dtype=np.float64), q / gamma2 ** 2 * np.asarray(y, dtype=np.float64),
                         gamma2, how)


def budgets(gamma2: float, eps, constant: float, steps_max: int) -> np.ndarray:
    r""":math:`T(\varepsilon)=\min(T_{max},\lceil c_T/(\gamma_2^2\varepsilon)\rceil)`, at least 1, shape (len(eps),)."""
    e = np.asarray(eps, dtype=np.float64)
    return np.minimum(steps_max, np.maximum(1, np.ceil(constant / (gamma2 ** 2 * e)))).astype(np.int64)


def width_budgets(kind: str, gamma2: float, eps, *, rule: str = "common", constant: float = 1.0,
                  hard_constant: float = 1.0, n: int = 64, delta: float = 0.1, steps_max: int = 40_000):
    r"""The budgets :math:`T(\varepsilon)` of one neuron-requirement point and whether each was capped.

    ``rule="common"`` (or a soft point): :func:`budgets`,
    :math:`\min(T_{max},\lceil c_T/(\gamma_2^2\varepsilon)\rceil)`. ``rule="jt"`` for a hard
    point: :func:`theory.ntk.hard_label_budget` with :math:`c_H` = ``hard_constant``,
    :math:`\lceil c_H\bar\lambda(\varepsilon)^2/(\gamma_2^2\varepsilon)\rceil` (η = 1),
    capped at ``steps_max``.

    Returns
    -------
    T : ndarray of int64, shape (n_eps,)
    capped : ndarray of bool, shape (n_eps,)
        The rule's budget exceeded ``steps_max``.
    """
    kind = as_choice(kind, "kind", ("soft", "hard"))
    rule = as_choice(rule, "rule", ("common", "jt"))
    e = as_real_array(eps, "eps", ndim=1)
    steps_max = as_int(steps_max, "steps_max", low=1)
    if kind == "hard" and rule == "jt":
        raw = np.array([hard_label_budget(gamma2, x, n, delta, budget_constant=hard_constant) for x in e],
                       dtype=np.int64)
    else:
        raw = budgets(gamma2, e, constant, np.iinfo(np.int64).max)
    return np.minimum(raw, steps_max).astype(np.int64), raw > steps_max


def neuron_requirement(widths, avg_loss, eps, *, interpolate: bool = False):
    r""":math:`m^*(\varepsilon_j)`: the smallest width whose median over seeds of ``avg_loss[:, w, j]`` is <= ε_j.

    Parameters
    ----------
    widths : array_like, shape (n_w,), increasing
    avg_loss : array_like, shape (n_seeds, n_w, n_eps)
    eps : array_like, shape (n_eps,)
    interpolate : bool
        Also return the requirement between grid widths: with :math:`L(m)` the median
        loss, i the first grid width with :math:`L\le\varepsilon` and i - 1 the last one
        above, :math:`\log m^*` is interpolated linearly in :math:`\log L` between them
        (a grid step is a factor 2; a slope over one decade of ε would otherwise move by
        3 grid steps only).

    Returns
    -------
    m_star : ndarray, shape (n_eps,)
        Grid widths as floats (``interpolate=False``), NaN where no width reaches ε_j.
    (m_star, m_star_grid, censored) : when ``interpolate``
        Interpolated and grid values, and whether ε_j is reached at the smallest width
        (then :math:`m^*\le` ``widths[0]``: an upper bound, not a measurement).
    """
    med = np.median(np.asarray(avg_loss, dtype=np.float64), axis=0)
    e = np.asarray(eps, dtype=np.float64)
    ok = med <= e[None, :]
    w = np.asarray(widths, dtype=np.float64)
    grid = np.array([w[np.argmax(ok[:, j])] if ok[:, j].any() else np.nan for j in range(ok.shape[1])])
    if not interpolate:
        return grid
    inter = grid.copy()
    censored = ok[0, :].copy()
    for j in range(ok.shape[1]):
        if not ok[:, j].any() or censored[j]:
            continue
        i = int(np.argmax(ok[:, j]))
        lo, hi = med[i - 1, j], med[i, j]
        if hi > 0 and lo > hi:  # L falls across the step: interpolate log m in log L
            t = (np.log(lo) - np.log(e[j])) / (np.log(lo) - np.log(hi))
            inter[j] = float(np.exp(np.log(w[i - 1]) + t * (np.log(w[i]) - np.log(w[i - 1]))))
    return inter, grid, censored


def _teacher(kind_teacher, X, y, point, seed):
    if kind_teacher == "kernel":
        kt = fit_kernel_teacher(X, y)
        return twolayer.kernel_teacher(kt, X, temperature=point.temperature), kt, kt.gamma2
    t = twolayer.wide_network_teacher(X, y, point.teacher_width, point.teacher_steps, 1.0, seed=seed,
                                      temperature=point.temperature)
    return t, t, kernel_margin(X, y)[0]


def _test_logits(teacher_obj, Xt):
    return teacher_obj(Xt) if isinstance(teacher_obj, KernelTeacher) else teacher_obj.predict_logits(Xt)


# ---------------------------------------------------------------- neuron requirements

_FAMILY_W = Options(str, ("circle", "clusters"))
_TEACHER_W = Options(str, ("kernel", "program", "network"))
_INIT = Options(str, ("standard", "coupled"))
_HARD_BUDGET = Options(str, ("common", "jt"))


def width_dataset(family: str, k: int, gap: float, n: int, data_seed: int):
    r"""Training set of one neuron-requirement point, shapes (n, d), (n,).

    ``"circle"``: :func:`theory.ntk.circle_sectors` (n, k, even placement, bias 1, d = 3);
    ``"clusters"``: :func:`theory.ntk.two_clusters` (n, gap, ``data_seed``, d = 2; the
    slab passes through the origin, so no bias coordinate is needed).
    """
    family = as_choice(family, "family", ("circle", "clusters"))
    if family == "circle":
        return circle_sectors(n, k, placement="even")
    return two_clusters(n, gap, data_seed, d=2)


def trivial_loss(kind: str, teacher_probabilities=None) -> float:
    r"""Loss of the zero predictor f ≡ 0: ln 2 (hard) or :math:`\frac1n\sum_i\mathrm{KL}(p_i\|\frac12)` (soft).

    The scale an ε must be compared with: a target ε at or above it is met without learning.
    """
    if as_choice(kind, "kind", ("soft", "hard")) == "hard":
        return float(np.log(2.0))
    p = as_real_array(teacher_probabilities, "teacher_probabilities", ndim=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(p > 0, p * np.log(2.0 * p), 0.0) + np.where(p < 1, (1 - p) * np.log(2.0 * (1 - p)), 0.0)
    return float(np.mean(kl))


@dataclass(frozen=True)
class WidthPoint(Settings):
    """One dataset, one loss and one protocol: a seeds x widths ensemble up to the largest budget."""

    family: str = setting("circle", _FAMILY_W, "data: circle sectors (difficulty k) or two clusters (gap)")
    k: int = setting(2, _POS_INT, "circle difficulty: y = sign(sin k theta)")
    gap: float = setting(0.2, Interval(float, 0.0, 2.0, closed="right"), "clusters: slab width around e_1^perp")
    data_seed: int = setting(0, Interval(int, 0, None), "clusters: seed of the sample")
    kind: str = setting("soft", _KIND, "loss: KL to the teacher (soft) or logistic on the labels (hard)")
    teacher: str = setting("kernel", _TEACHER_W, "soft targets: kernel max-margin function, margin-program "
                                                "predictor, or wide trained network")
    init: str = setting("standard", _INIT, "student initialisation (coupled: f(.; W0) = 0, even widths)")
    project_constant: float = setting(0.0, Interval(float, 0.0, None), "projected GD radius R = c'/gamma_2 "
                                                                       "(0: plain GD, R = inf)")
    n: int = setting(64, Interval(int, 2, None), "training points")
    widths: tuple = setting((2, 4, 8, 16, 32, 64, 128, 256, 512), Tuple(_POS_INT, length=(2, None)), "width grid")
    n_seeds: int = setting(5, _POS_INT, "initialisation seeds (median over them)")
    eps: tuple = setting((0.1, 0.05, 0.02, 0.01), Tuple(_EPS, length=(2, None)), "loss targets")
    budget_constant: float = setting(1.0, _POS_REAL, "c_T in T(eps) = c_T / (gamma_2^2 eps)")
    hard_budget: str = setting("jt", _HARD_BUDGET, "hard runs' budget: common c_T/(gamma_2^2 eps) or [JT20]-shaped "
                                                   "c_H lambda_bar^2/(gamma_2^2 eps)")
    hard_budget_constant: float = setting(0.03, _POS_REAL, "c_H of the [JT20]-shaped hard budget")
    steps_max: int = setting(40_000, _POS_INT, "cap on T(eps) (soft runs)")
    hard_steps_max: int = setting(100_000, _POS_INT, "cap on T(eps) (hard runs)")
    temperature: float = setting(1.0, _POS_REAL, "teacher temperature tau (soft)")
    n_features: int = setting(20_000, _POS_INT, "random features K of the NTK margin gamma (and program teacher)")
    delta: float = setting(0.1, Interval(float, 0.0, 1.0 / 3.0, closed="neither"), "delta of [JT20] lambda")
    teacher_width: int = setting(4096, _POS_INT, "width of the network teacher")
    teacher_steps: int = setting(3000, _POS_INT, "GD steps of the network teacher")

    def check(self) -> None:
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths: expected strictly increasing widths, got {self.widths}")
        if self.init == "coupled" and any(w % 2 for w in self.widths):
            raise ValueError(f"widths: init='coupled' needs even widths (pairs of units), got {self.widths}")


@dataclass(frozen=True)
class WidthResult:
    r"""Average losses at the budgets, :math:`m^*(\varepsilon)`, margins and lazy movement.

    Attributes
    ----------
    widths : ndarray of int64, shape (n_w,)
    seeds : ndarray of int64, shape (n_seeds,)
        Initialisation seeds of the members (``sims.twolayer.run(..., seed=s)`` reproduces one).
    eps : ndarray, shape (n_eps,)
    budgets : ndarray of int64, shape (n_eps,)
        :math:`T(\varepsilon)`.
    budget_capped : ndarray of bool, shape (n_eps,)
        :math:`T(\varepsilon)` was cut to ``steps_max`` (the protocol :math:`T\propto1/(\gamma^2\varepsilon)` broken).
    avg_loss : ndarray, shape (n_seeds, n_w, n_eps)
        :math:`\frac1T\sum_{t<T}L(W_t)` at :math:`T=T(\varepsilon_j)`.
    m_star : ndarray, shape (n_eps,)
        :func:`neuron_requirement` with log-log interpolation between grid widths (NaN: not reached).
    m_star_grid : ndarray, shape (n_eps,)
        The same on the grid (the smallest grid width that reaches ε).
    censored : ndarray of bool, shape (n_eps,)
        ε already reached at the smallest width: ``m_star`` is only an upper bound.
    final_loss : ndarray, shape (n_seeds, n_w)
        Last-iterate loss :math:`L(W_{T_{max}})` at the largest budget (the width's floor, if converged).
    m_star_final : ndarray, shape (n_eps,)
        :func:`neuron_requirement` on ``final_loss`` (interpolated).
    trivial_loss : float
        Loss of f ≡ 0 (:func:`trivial_loss`): ε above it is met without learning.
    distance : ndarray, shape (n_seeds, n_w)
        :math:`\|W_{T_{max}}-W_0\|_F`.
    lazy : ndarray, shape (n_seeds, n_w)
        :math:`\sqrt m\max_s\|w_s(t)-w_s(0)\|`, max over checkpoints :math:`t\le T_{max}`.
    lazy_max : ndarray, shape (n_w,)
        ``lazy`` maximised over seeds.
    lazy_bound : ndarray, shape (n_eps,)
        :math:`4\lambda/\gamma` of [JT20] Thm 2.2 at each ε (γ = ``gamma``, δ, n).
    final_accuracy : ndarray, shape (n_seeds, n_w)
        Training accuracy (clean labels) at :math:`T_{max}`.
    gamma, gamma_lower, gamma_upper, gamma2 : float
        NTK margin estimate and bounds (:func:`theory.ntk.ntk_margin`), kernel margin :math:`\gamma_2`.
    teacher_margin : float
        :math:`\min_iy_ig(x_i)` of the soft teacher (NaN for hard).
    radius : float
        Projection radius R (inf: plain GD).
    solvers : list of str
    """

    widths: np.ndarray
    seeds: np.ndarray
    eps: np.ndarray
    budgets: np.ndarray
    budget_capped: np.ndarray
    avg_loss: np.ndarray
    m_star: np.ndarray
    m_star_grid: np.ndarray
    censored: np.ndarray
    final_loss: np.ndarray
    m_star_final: np.ndarray
    trivial_loss: float
    distance: np.ndarray
    lazy: np.ndarray
    lazy_max: np.ndarray
    lazy_bound: np.ndarray
    final_accuracy: np.ndarray
    gamma: float
    gamma_lower: float
    gamma_upper: float
    gamma2: float
    teacher_margin: float
    radius: float
    solvers: list


def width_teacher(point: WidthPoint, X, y, rng):
    """The soft targets of a neuron-requirement point: ``(Teacher, description)``.

    ``"kernel"``: :func:`fit_kernel_teacher`; ``"program"``: :func:`theory.ntk.margin_predictor`
    (K = ``n_features``; draws its directions from ``rng``); ``"network"``:
    :func:`sims.twolayer.wide_network_teacher` (seed from ``rng``).
    """
    if point.teacher == "kernel":
        kt = fit_kernel_teacher(X, y)
        return twolayer.kernel_teacher(kt, X, temperature=point.temperature), kt.solver
    if point.teacher == "program":
        pred = margin_predictor(X, y, point.n_features, rng)
        return twolayer.kernel_teacher(pred, X, temperature=point.temperature), f"program {pred.solver}"
    t = twolayer.wide_network_teacher(X, y, point.teacher_width, point.teacher_steps, 1.0,
                                      seed=int(rng.integers(0, 2**31)), temperature=point.temperature)
    return t, "wide-network"


def run_width(point: WidthPoint, rng: np.random.Generator) -> WidthResult:
    """One ensemble; ``rng`` draws the random features, the initialisation seeds and the teacher's randomness."""
    X, y = width_dataset(point.family, point.k, point.gap, point.n, point.data_seed)
    gamma2, _, ksolver = kernel_margin(X, y)
    margin = ntk_margin(X, y, point.n_features, rng)
    T, capped = width_budgets(point.kind, gamma2, point.eps, rule=point.hard_budget, constant=point.budget_constant,
                              hard_constant=point.hard_budget_constant, n=point.n, delta=point.delta,
                              steps_max=point.steps_max if point.kind == "soft" else point.hard_steps_max)
    seeds = [int(s) for s in rng.integers(0, 2**31, point.n_seeds)]
    radius = point.project_constant / gamma2 if point.project_constant > 0 else None
    if point.kind == "soft":
        targets, tsolver = width_teacher(point, X, y, rng)
        teacher_margin = float(np.min(y * targets.logits))
        trivial = trivial_loss("soft", targets.probabilities)
    else:
        targets, tsolver, teacher_margin, trivial = y, "", float("nan"), trivial_loss("hard")
    record = np.unique(np.concatenate([np.geomspace(1, T.max(), 30).astype(np.int64), T]))
    ens = twolayer.run_ensemble(X, targets, list(point.widths), seeds, int(T.max()), 1.0, kind=point.kind,
                                init=point.init, project_radius=radius, labels=y, record=record, progress=False)
    idx = np.searchsorted(ens.steps, T)
    avg = ens.stack("avg_loss")[:, :, idx]
    final = ens.stack("loss")[:, :, -1]
    lazy = ens.stack("lazy").max(axis=2)
    lam = [jt_width_bound(margin.gamma, e, point.n, point.delta) for e in point.eps]
    m_star, m_grid, censored = neuron_requirement(point.widths, avg, point.eps, interpolate=True)
    m_final = neuron_requirement(point.widths, final[:, :, None] * np.ones(len(point.eps)), point.eps,
                                 interpolate=True)[0]
    return WidthResult(
        widths=np.asarray(point.widths, dtype=np.int64),
        seeds=np.asarray(seeds, dtype=np.int64),
        eps=np.asarray(point.eps, dtype=np.float64),
        budgets=T,
        budget_capped=np.asarray(capped, dtype=bool),
        avg_loss=avg,
        m_star=m_star,
        m_star_grid=m_grid,
        censored=censored,
        final_loss=final,
        m_star_final=m_final,
        trivial_loss=trivial,
        distance=ens.stack("distance")[:, :, -1],
        lazy=lazy,
        lazy_max=lazy.max(axis=0),
        lazy_bound=np.array([b.movement for b in lam]),
        final_accuracy=ens.stack("accuracy")[:, :, -1],
        gamma=float(margin.gamma),
        gamma_lower=float(margin.lower),
        gamma_upper=float(margin.upper),
        gamma2=float(gamma2),
        teacher_margin=teacher_margin,
        radius=float("inf") if radius is None else float(radius),
        solvers=[str(margin.solver), ksolver, tsolver],
    )


@dataclass(frozen=True)
class WidthConfig(Settings):
    """The grid of ``softhard_width``: circle difficulties k and cluster gaps, x losses, one protocol."""

    ks: tuple = setting((1, 2, 3, 4), Tuple(_POS_INT, length=(0, None)), "circle difficulties k")
    gaps: tuple = setting((0.05, 0.1, 0.2, 0.4, 0.8, 1.6), Tuple(Interval(float, 0.0, 2.0, closed="right"),
                                                                  length=(0, None)),
                          "two-cluster gaps (the gamma sweep: gamma_2 over more than a decade)")
    data_seed: int = setting(0, Interval(int, 0, None), "seed of the cluster samples")
    teacher: str = setting("kernel", _TEACHER_W, "soft targets: kernel, program or network teacher")
    init: str = setting("standard", _INIT, "student initialisation")
    project_constant: float = setting(0.0, Interval(float, 0.0, None), "projected GD: R = c'/gamma_2 (0: none)")
    n: int = setting(64, Interval(int, 2, None), "training points")
    widths: tuple = setting((2, 4, 8, 16, 32, 64, 128, 256, 512), Tuple(_POS_INT, length=(2, None)), "width grid")
    n_seeds: int = setting(5, _POS_INT, "seeds per ensemble")
    eps: tuple = setting((0.1, 0.05, 0.02, 0.01), Tuple(_EPS, length=(2, None)), "loss targets")
    budget_constant: float = setting(1.0, _POS_REAL, "c_T in T(eps) = c_T / (gamma_2^2 eps)")
    hard_budget: str = setting("jt", _HARD_BUDGET, "hard runs' budget: common c_T/(gamma_2^2 eps) or [JT20]-shaped "
                                                   "c_H lambda_bar^2/(gamma_2^2 eps)")
    hard_budget_constant: float = setting(0.03, _POS_REAL, "c_H of the [JT20]-shaped hard budget")
    steps_max: int = setting(40_000, _POS_INT, "cap on T(eps) (soft runs)")
    hard_steps_max: int = setting(100_000, _POS_INT, "cap on T(eps) (hard runs)")
    kinds: tuple = setting(("soft", "hard"), Tuple(_KIND, length=(1, 2)), "losses to run (soft, hard)")
    temperature: float = setting(1.0, _POS_REAL, "teacher temperature tau")
    n_features: int = setting(20_000, _POS_INT, "random features of the NTK margin")
    teacher_width: int = setting(4096, _POS_INT, "network teacher width")
    teacher_steps: int = setting(3000, _POS_INT, "network teacher steps")
    seed: int = setting(20261202, Interval(int, 0, None), "entropy of the runs' SeedSequence")

    def check(self) -> None:
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths: expected strictly increasing widths, got {self.widths}")
        if not self.ks and not self.gaps:
            raise ValueError("ks and gaps: expected at least one circle difficulty or cluster gap, got none")


def width_points(cfg: WidthConfig) -> list[WidthPoint]:
    common = dict(teacher=cfg.teacher, init=cfg.init, project_constant=cfg.project_constant, n=cfg.n,
                  widths=cfg.widths, n_seeds=cfg.n_seeds, eps=cfg.eps, budget_constant=cfg.budget_constant,
                  steps_max=cfg.steps_max, temperature=cfg.temperature, n_features=cfg.n_features,
                  teacher_width=cfg.teacher_width, teacher_steps=cfg.teacher_steps)
    # the hard-budget rule goes to the hard points only: a soft run's key does not depend on it
    extra = {"soft": {}, "hard": dict(hard_budget=cfg.hard_budget, hard_budget_constant=cfg.hard_budget_constant,
                                      hard_steps_max=cfg.hard_steps_max)}
    kinds = [k for k in ("soft", "hard") if k in cfg.kinds]
    pts = [WidthPoint(family="circle", k=k, kind=kind, **common, **extra[kind]) for k in cfg.ks for kind in kinds]
    pts += [WidthPoint(family="clusters", gap=g, data_seed=cfg.data_seed, kind=kind, **common, **extra[kind])
            for g in cfg.gaps for kind in kinds]
    return pts


register(
    Experiment(
        name="softhard_width",
        description="Neuron requirement m*(eps, gamma) of soft- and hard-label GD (circle, two clusters), lazy movement",
        config=WidthConfig,
        point=WidthPoint,
        result=WidthResult,
        points=width_points,
        run=run_width,
        quick={"ks": (1, 2), "gaps": (0.2, 0.8), "widths": (2, 4, 8, 16, 32, 64), "n_seeds": 3,
               "eps": (0.1, 0.05, 0.02), "steps_max": 6000, "hard_steps_max": 6000, "n_features": 5000},
        figures=("softhard_width",),
    )
)


# The other settings of the protocol as experiments of their own: the store keeps each
# experiment's sweeps apart, and every reader (figures, claims, paper) takes the latest
# sweep of an experiment, so a coupled or projected sweep never stands in for the
# standard one. Same points, run function and result; only the defaults differ.

@dataclass(frozen=True)
class CoupledWidthConfig(WidthConfig):
    """``softhard_width`` with coupled ("symmetric") initialisation ([MOSW22]): pairs (w, a), (w, -a), f(.; W0) = 0."""

    init: str = setting("coupled", _INIT, "student initialisation")


@dataclass(frozen=True)
class ProjectedWidthConfig(WidthConfig):
    r"""``softhard_width`` with projected GD onto :math:`\|W-W_0\|_F\le R=c'/\gamma_2`, c' = 1 (our choice).

    c' = 1 makes R the kernel teacher's RKHS norm :math:`1/\gamma_2`, the distance the
    soft student travels to reach it (check S.7); a hard student needs
    :math:`\sim\ln(1/\varepsilon)/\gamma` and is held below it (its margins stay O(c'),
    so no ε below about :math:`\ln(1+e^{-c'})` is reachable): soft runs only by default
    (``kinds``), [M25]'s soft analysis being the one that projects.
    """

    project_constant: float = setting(1.0, Interval(float, 0.0, None), "projected GD: R = c'/gamma_2 (0: none)")
    kinds: tuple = setting(("soft",), Tuple(_KIND, length=(1, 2)), "losses to run (soft, hard)")


# quick: the cheapest of softhard_width's quick datasets (its twins in the claims' comparison)
_VARIANT_QUICK = {**get_experiment("softhard_width").quick, "ks": (), "gaps": (0.8,)}

register(
    Experiment(
        name="softhard_width_coupled",
        description="softhard_width with coupled initialisation (f(.; W0) = 0): m* soft and hard against standard",
        config=CoupledWidthConfig,
        point=WidthPoint,
        result=WidthResult,
        points=width_points,
        run=run_width,
        quick=_VARIANT_QUICK,
        figures=(),
    )
)

register(
    Experiment(
        name="softhard_width_projected",
        description="softhard_width with projected GD (R = c'/gamma_2): m* and lazy movement against plain GD",
        config=ProjectedWidthConfig,
        point=WidthPoint,
        result=WidthResult,
        points=width_points,
        run=run_width,
        quick=_VARIANT_QUICK,
        figures=(),
    )
)


# ---------------------------------------------------------------- accuracy against width

@dataclass(frozen=True)
class AccuracyPoint(Settings):
    """One dataset and one protocol: soft and hard students over a seeds x widths grid."""

    family: str = setting("circle", _FAMILY, "data family")
    difficulty: int = setting(2, _POS_INT, "circle k, or digit pair ab as the integer 10 a + b")
    teacher: str = setting("network", _TEACHER, "kernel max-margin function of K_1 or wide trained network")
    init: str = setting("standard", _INIT, "student initialisation (coupled: f(.; W0) = 0, even widths)")
    project_constant: float = setting(0.0, Interval(float, 0.0, None), "projected GD radius R = c'/gamma_2 "
                                                                       "(0: plain GD, R = inf)")
    temperature: float = setting(1.0, _POS_REAL, "teacher temperature tau")
    steps: int = setting(3000, _POS_INT, "GD steps of the students")
    label_noise: float = setting(0.0, Interval(float, 0.0, 0.5), "flip rate of the training labels")
    n_train: int = setting(300, Interval(int, 2, None), "training points (circle)")
    n_test: int = setting(3000, _POS_INT, "test points (circle)")
    widths: tuple = setting((4, 8, 16, 32, 64, 128), Tuple(_POS_INT, length=(1, None)), "student widths")
    n_seeds: int = setting(5, _POS_INT, "student seeds")
    teacher_width: int = setting(4096, _POS_INT, "width of the network teacher")
    teacher_steps: int = setting(3000, _POS_INT, "GD steps of the network teacher")

    def check(self) -> None:
        if self.init == "coupled" and any(w % 2 for w in self.widths):
            raise ValueError(f"widths: init='coupled' needs even widths (pairs of units), got {self.widths}")


@dataclass(frozen=True)
class AccuracyResult:
    r"""Test accuracies (clean test labels) of soft and hard students.

    Attributes
    ----------
    widths : ndarray of int64, shape (n_w,)
    soft_accuracy, hard_accuracy : ndarray, shape (n_seeds, n_w)
    soft_mean, hard_mean : ndarray, shape (n_w,)
        Means over seeds.
    gap_mean : ndarray, shape (n_w,)
        ``soft_mean - hard_mean``.
    teacher_accuracy : float
        The teacher's test accuracy (sign of g).
    gamma2 : float
        Kernel margin :math:`\gamma_2` of the (noisy) training set.
    n_train, n_test : int
    """

    widths: np.ndarray
    soft_accuracy: np.ndarray
    hard_accuracy: np.ndarray
    soft_mean: np.ndarray
    hard_mean: np.ndarray
    gap_mean: np.ndarray
    teacher_accuracy: float
    gamma2: float
    n_train: int
    n_test: int


def _test_accuracy(ens, Xt, yt):
    out = np.empty((len(ens.seeds), len(ens.widths)))
    for i, s in enumerate(ens.seeds):
        for j, w in enumerate(ens.widths):
            out[i, j] = np.mean(yt * twolayer.forward(ens.member(s, w).params, Xt) > 0)
    return out


def run_accuracy(point: AccuracyPoint, rng: np.random.Generator) -> AccuracyResult:
    """Teacher, then soft and hard ensembles; ``rng`` draws data, noise, teacher and student seeds."""
    X, y, Xt, yt, _ = make_dataset(point.family, point.difficulty, point.n_train, point.n_test, rng,
                                   point.label_noise)
    teacher, obj, gamma2 = _teacher(point.teacher, X, y, point, int(rng.integers(0, 2**31)))
    seeds = [int(s) for s in rng.integers(0, 2**31, point.n_seeds)]
    radius = point.project_constant / gamma2 if point.project_constant > 0 else None
    common = dict(labels=y, record=[point.steps], progress=False, init=point.init, project_radius=radius)
    soft = twolayer.run_ensemble(X, teacher, list(point.widths), seeds, point.steps, 1.0, kind="soft",
                                 temperature=1.0, **common)
    hard = twolayer.run_ensemble(X, y, list(point.widths), seeds, point.steps, 1.0, kind="hard", **common)
    sa, ha = _test_accuracy(soft, Xt, yt), _test_accuracy(hard, Xt, yt)
    return AccuracyResult(
        widths=np.asarray(point.widths, dtype=np.int64),
        soft_accuracy=sa, hard_accuracy=ha, soft_mean=sa.mean(axis=0), hard_mean=ha.mean(axis=0),
        gap_mean=sa.mean(axis=0) - ha.mean(axis=0),
        teacher_accuracy=float(np.mean(yt * _test_logits(obj, Xt) > 0)),
        gamma2=float(gamma2), n_train=int(X.shape[0]), n_test=int(Xt.shape[0]),
    )


@dataclass(frozen=True)
class AccuracyConfig(Settings):
    """Datasets x protocols of ``softhard_accuracy``.

    The motivating sweep (every dataset, base protocol) plus the region map (the map
    dataset under every teacher x temperature x steps x noise combination).
    """

    ks: tuple = setting((1, 2, 3, 4), Tuple(_POS_INT, length=(0, None)), "circle difficulties")
    digit_pairs: tuple = setting((1, 38, 49, 79), Tuple(Interval(int, 1, 98), length=(0, None)),
                                 "digit pairs 10 a + b (0 vs 1 is 1)")
    teachers: tuple = setting(("network", "kernel"), Tuple(_TEACHER, length=(1, None)), "teacher types")
    temperatures: tuple = setting((1.0, 4.0), Tuple(_POS_REAL, length=(1, None)), "temperatures")
    steps: tuple = setting((300, 3000), Tuple(_POS_INT, length=(1, None)), "student training lengths")
    label_noise: tuple = setting((0.0, 0.2), Tuple(Interval(float, 0.0, 0.5), length=(1, None)), "noise rates")
    map_k: int = setting(3, _POS_INT, "circle k of the region map")
    n_train: int = setting(300, Interval(int, 2, None), "training points (circle)")
    n_test: int = setting(3000, _POS_INT, "test points (circle)")
    widths: tuple = setting((4, 8, 16, 32, 64, 128), Tuple(_POS_INT, length=(1, None)), "student widths")
    n_seeds: int = setting(5, _POS_INT, "student seeds")
    teacher_width: int = setting(4096, _POS_INT, "network teacher width")
    teacher_steps: int = setting(3000, _POS_INT, "network teacher steps")
    init: str = setting("standard", _INIT, "student initialisation")
    project_constant: float = setting(0.0, Interval(float, 0.0, None), "projected GD: R = c'/gamma_2 (0: none)")
    seed: int = setting(20261203, Interval(int, 0, None), "entropy of the runs' SeedSequence")


def accuracy_points(cfg: AccuracyConfig) -> list[AccuracyPoint]:
    base = dict(n_train=cfg.n_train, n_test=cfg.n_test, widths=cfg.widths, n_seeds=cfg.n_seeds,
                teacher_width=cfg.teacher_width, teacher_steps=cfg.teacher_steps, init=cfg.init,
                project_constant=cfg.project_constant)
    first = dict(teacher=cfg.teachers[0], temperature=cfg.temperatures[0], steps=cfg.steps[-1],
                 label_noise=cfg.label_noise[0])
    pts = [AccuracyPoint(family="circle", difficulty=k, **first, **base) for k in cfg.ks]
    pts += [AccuracyPoint(family="digits", difficulty=p, **first, **base) for p in cfg.digit_pairs]
    for teacher in cfg.teachers:
        for tau in cfg.temperatures:
            for steps in cfg.steps:
                for noise in cfg.label_noise:
                    p = AccuracyPoint(family="circle", difficulty=cfg.map_k, teacher=teacher, temperature=tau,
                                      steps=steps, label_noise=noise, **base)
                    if p not in pts:
                        pts.append(p)
    return pts


register(
    Experiment(
        name="softhard_accuracy",
        description="Test accuracy of soft- vs hard-label students against width, and where soft wins",
        config=AccuracyConfig,
        point=AccuracyPoint,
        result=AccuracyResult,
        points=accuracy_points,
        run=run_accuracy,
        quick={"ks": (1, 3), "digit_pairs": (38,), "widths": (4, 16, 64), "n_seeds": 2, "teacher_width": 1024,
               "teacher_steps": 1000, "steps": (300, 1000), "temperatures": (1.0, 4.0), "label_noise": (0.0, 0.2),
               "n_test": 1000},
        figures=("softhard_accuracy",),
    )
)
