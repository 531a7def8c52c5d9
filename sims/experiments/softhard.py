r"""Soft- vs hard-label training of two-layer ReLU nets ([M25]; spec ``soft_vs_hard_labels.md`` §7-9).

Two experiments on the [JT20] model of :mod:`sims.twolayer` (only W trained, fixed signs,
standard initialisation, full-batch GD, η = 1):

* ``softhard_width`` (neuron requirements and lazy movement, spec §8-9 items 5, 8, 9):
  for each difficulty k of the circle data and each loss (soft, hard), one
  seeds × widths ensemble (:func:`sims.twolayer.run_ensemble`, one fused call) is run
  for the largest budget; the prescribed budgets :math:`T(\varepsilon)` of the smaller
  ones are checkpoints of the same runs, since ``avg_loss`` at step t is
  :math:`\frac1t\sum_{u<t}L(W_u)`. :math:`m^*(\varepsilon)` is the smallest width of the
  grid whose median (over seeds) average loss at :math:`T(\varepsilon)` is
  :math:`\le\varepsilon` (NaN if none). Also stored: :math:`\sqrt m\max_s\|w_s(t)-w_s(0)\|`
  (max over the checkpoints :math:`t\le T`) and the [JT20] bound :math:`4\lambda/\gamma`
  (:func:`theory.ntk.jt_width_bound`) with γ from :func:`theory.ntk.ntk_margin`.
* ``softhard_accuracy`` (the motivating experiment and where the claim holds, spec §7,
  §9 item 10): test accuracy (against the clean ground truth) against width, soft and
  hard, on the circle with growing k and on ``load_digits`` pairs, for each teacher
  type, temperature, training length and label-noise rate in the config.

Data ([open] choices): circle sectors ``theory.ntk.circle_sectors`` with bias b = 1
(d = 3), ``placement="even"`` for the training set (a fixed sample, no point within
π/n of a label boundary when 2k divides n) and uniform random test points;
digits: :func:`theory.ntk.digits_pair` (centred, bias 1, scaled into the unit ball), a
random half for training (the run's seed) and the other half for testing; the figure
orders pairs by their :math:`\gamma_2`.

Teachers ([open]): ``"kernel"`` is the max-margin function of the first-layer kernel
:math:`K_1` (functional margin 1, RKHS norm :math:`1/\gamma_2`; spec §7(b), §8.2):
:math:`g(x)=\sum_iq_iy_iK_1(x_i,x)/\gamma_2^2` with q the kernel SVM's normalised dual
(:func:`theory.ntk.kernel_margin`); ``"network"`` is a wide [JT20] net trained on the
(noisy) training labels (:func:`sims.twolayer.wide_network_teacher`, width 4096 and 3000
steps by default as in spec §7(a)). Soft targets :math:`p=\sigma(g/\tau)`, τ = 1 by
default. Label noise flips training labels only; the hard student and the network
teacher see the flipped labels, the kernel teacher is fitted to them too (with noise the
kernel SVM may be infeasible only for contradictory points, which the circle does not
have).

Budgets ([open]): :math:`T(\varepsilon)=\min(T_{max},\lceil c_T/(\gamma_2^2\varepsilon)\rceil)`
(the theory's :math:`T\propto1/(\gamma^2\varepsilon)`, spec §7(b)), with
:math:`c_T` = ``budget_constant`` (default 1) and :math:`\gamma_2` (not the random-
feature γ) because it is deterministic and is the inverse norm of the kernel teacher.
Widths: powers of 2 from 4; seeds: 5 (quick: 3). No projection (R = ∞).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import twolayer
from sims.experiment import Experiment, Interval, Options, Settings, Tuple, register, setting
from theory._validation import as_choice, as_int
from theory.ntk import (circle_sectors, digits_pair, first_layer_kernel, flip_labels, jt_width_bound, kernel_margin,
                        ntk_margin)

__all__ = [
    "AccuracyConfig",
    "AccuracyPoint",
    "AccuracyResult",
    "KernelTeacher",
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
    "width_points",
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
    """The kernel-limit teacher of spec §8.2 (RKHS variant) on data (X, y)."""
    gamma2, q, how = kernel_margin(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64))
    return KernelTeacher(np.asarray(X, dtype=np.float64), q / gamma2 ** 2 * np.asarray(y, dtype=np.float64),
                         gamma2, how)


def budgets(gamma2: float, eps, constant: float, steps_max: int) -> np.ndarray:
    r""":math:`T(\varepsilon)=\min(T_{max},\lceil c_T/(\gamma_2^2\varepsilon)\rceil)`, at least 1, shape (len(eps),)."""
    e = np.asarray(eps, dtype=np.float64)
    return np.minimum(steps_max, np.maximum(1, np.ceil(constant / (gamma2 ** 2 * e)))).astype(np.int64)


def neuron_requirement(widths, avg_loss, eps) -> np.ndarray:
    r""":math:`m^*(\varepsilon_j)`: the smallest width whose median over seeds of ``avg_loss[:, w, j]`` is <= ε_j.

    Parameters
    ----------
    widths : array_like, shape (n_w,), increasing
    avg_loss : array_like, shape (n_seeds, n_w, n_eps)
    eps : array_like, shape (n_eps,)

    Returns
    -------
    ndarray, shape (n_eps,)
        Widths as floats; NaN where no width of the grid reaches ε_j.
    """
    med = np.median(np.asarray(avg_loss, dtype=np.float64), axis=0)
    ok = med <= np.asarray(eps, dtype=np.float64)[None, :]
    w = np.asarray(widths, dtype=np.float64)
    return np.array([w[np.argmax(ok[:, j])] if ok[:, j].any() else np.nan for j in range(ok.shape[1])])


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

@dataclass(frozen=True)
class WidthPoint(Settings):
    """One difficulty and one loss: a seeds x widths ensemble up to the largest budget."""

    k: int = setting(2, _POS_INT, "circle difficulty: y = sign(sin k theta)")
    kind: str = setting("soft", _KIND, "loss: KL to the kernel teacher (soft) or logistic (hard)")
    n: int = setting(64, Interval(int, 2, None), "training points (even placement)")
    widths: tuple = setting((4, 8, 16, 32, 64, 128, 256, 512), Tuple(_POS_INT, length=(2, None)), "width grid")
    n_seeds: int = setting(5, _POS_INT, "initialisation seeds (median over them)")
    eps: tuple = setting((0.2, 0.1, 0.05, 0.02), Tuple(_EPS, length=(2, None)), "loss targets")
    budget_constant: float = setting(1.0, _POS_REAL, "c_T in T(eps) = c_T / (gamma_2^2 eps)")
    steps_max: int = setting(40_000, _POS_INT, "cap on T(eps)")
    temperature: float = setting(1.0, _POS_REAL, "teacher temperature tau (soft)")
    n_features: int = setting(20_000, _POS_INT, "random features K of the NTK margin gamma")
    delta: float = setting(0.1, Interval(float, 0.0, 1.0 / 3.0, closed="neither"), "delta of [JT20] lambda")

    def check(self) -> None:
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths: expected strictly increasing widths, got {self.widths}")


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
    avg_loss : ndarray, shape (n_seeds, n_w, n_eps)
        :math:`\frac1T\sum_{t<T}L(W_t)` at :math:`T=T(\varepsilon_j)`.
    m_star : ndarray, shape (n_eps,)
        :func:`neuron_requirement` (NaN: not reached on the grid).
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
    solvers : list of str
    """

    widths: np.ndarray
    seeds: np.ndarray
    eps: np.ndarray
    budgets: np.ndarray
    avg_loss: np.ndarray
    m_star: np.ndarray
    lazy: np.ndarray
    lazy_max: np.ndarray
    lazy_bound: np.ndarray
    final_accuracy: np.ndarray
    gamma: float
    gamma_lower: float
    gamma_upper: float
    gamma2: float
    solvers: list


def run_width(point: WidthPoint, rng: np.random.Generator) -> WidthResult:
    """One ensemble; ``rng`` draws the initialisation seeds and the random features."""
    X, y = circle_sectors(point.n, point.k, placement="even")
    kt = fit_kernel_teacher(X, y)
    margin = ntk_margin(X, y, point.n_features, rng)
    T = budgets(kt.gamma2, point.eps, point.budget_constant, point.steps_max)
    seeds = [int(s) for s in rng.integers(0, 2**31, point.n_seeds)]
    targets = twolayer.kernel_teacher(kt, X, temperature=point.temperature) if point.kind == "soft" else y
    record = np.unique(np.concatenate([np.geomspace(1, T.max(), 30).astype(np.int64), T]))
    ens = twolayer.run_ensemble(X, targets, list(point.widths), seeds, int(T.max()), 1.0, kind=point.kind,
                                labels=y, record=record, progress=False)
    idx = np.searchsorted(ens.steps, T)
    avg = ens.stack("avg_loss")[:, :, idx]
    lazy = ens.stack("lazy").max(axis=2)
    lam = [jt_width_bound(margin.gamma, e, point.n, point.delta) for e in point.eps]
    return WidthResult(
        widths=np.asarray(point.widths, dtype=np.int64),
        seeds=np.asarray(seeds, dtype=np.int64),
        eps=np.asarray(point.eps, dtype=np.float64),
        budgets=T,
        avg_loss=avg,
        m_star=neuron_requirement(point.widths, avg, point.eps),
        lazy=lazy,
        lazy_max=lazy.max(axis=0),
        lazy_bound=np.array([b.movement for b in lam]),
        final_accuracy=ens.stack("accuracy")[:, :, -1],
        gamma=float(margin.gamma),
        gamma_lower=float(margin.lower),
        gamma_upper=float(margin.upper),
        gamma2=float(kt.gamma2),
        solvers=[str(margin.solver), kt.solver],
    )


@dataclass(frozen=True)
class WidthConfig(Settings):
    """The grid of difficulties k x losses of ``softhard_width``."""

    ks: tuple = setting((1, 2, 3, 4), Tuple(_POS_INT, length=(1, None)), "circle difficulties k")
    n: int = setting(64, Interval(int, 2, None), "training points")
    widths: tuple = setting((4, 8, 16, 32, 64, 128, 256, 512), Tuple(_POS_INT, length=(2, None)), "width grid")
    n_seeds: int = setting(5, _POS_INT, "seeds per ensemble")
    eps: tuple = setting((0.2, 0.1, 0.05, 0.02), Tuple(_EPS, length=(2, None)), "loss targets")
    budget_constant: float = setting(1.0, _POS_REAL, "c_T in T(eps) = c_T / (gamma_2^2 eps)")
    steps_max: int = setting(40_000, _POS_INT, "cap on T(eps)")
    temperature: float = setting(1.0, _POS_REAL, "teacher temperature tau")
    n_features: int = setting(20_000, _POS_INT, "random features of the NTK margin")
    seed: int = setting(20261202, Interval(int, 0, None), "entropy of the runs' SeedSequence")

    def check(self) -> None:
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths: expected strictly increasing widths, got {self.widths}")


def width_points(cfg: WidthConfig) -> list[WidthPoint]:
    return [WidthPoint(k=k, kind=kind, n=cfg.n, widths=cfg.widths, n_seeds=cfg.n_seeds, eps=cfg.eps,
                       budget_constant=cfg.budget_constant, steps_max=cfg.steps_max, temperature=cfg.temperature,
                       n_features=cfg.n_features)
            for k in cfg.ks for kind in ("soft", "hard")]


register(
    Experiment(
        name="softhard_width",
        description="Neuron requirement m*(eps) of soft- and hard-label GD on the circle, and lazy movement",
        config=WidthConfig,
        point=WidthPoint,
        result=WidthResult,
        points=width_points,
        run=run_width,
        quick={"ks": (1, 2, 3), "widths": (4, 8, 16, 32, 64, 128), "n_seeds": 3, "eps": (0.4, 0.2, 0.1),
               "steps_max": 12_000, "n_features": 5000},
        figures=("softhard_width",),
    )
)


# ---------------------------------------------------------------- accuracy against width

@dataclass(frozen=True)
class AccuracyPoint(Settings):
    """One dataset and one protocol: soft and hard students over a seeds x widths grid."""

    family: str = setting("circle", _FAMILY, "data family")
    difficulty: int = setting(2, _POS_INT, "circle k, or digit pair ab as the integer 10 a + b")
    teacher: str = setting("network", _TEACHER, "kernel-limit (margin program) or wide trained network")
    temperature: float = setting(1.0, _POS_REAL, "teacher temperature tau")
    steps: int = setting(3000, _POS_INT, "GD steps of the students")
    label_noise: float = setting(0.0, Interval(float, 0.0, 0.5), "flip rate of the training labels")
    n_train: int = setting(300, Interval(int, 2, None), "training points (circle)")
    n_test: int = setting(3000, _POS_INT, "test points (circle)")
    widths: tuple = setting((4, 8, 16, 32, 64, 128), Tuple(_POS_INT, length=(1, None)), "student widths")
    n_seeds: int = setting(5, _POS_INT, "student seeds")
    teacher_width: int = setting(4096, _POS_INT, "width of the network teacher")
    teacher_steps: int = setting(3000, _POS_INT, "GD steps of the network teacher")


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
    common = dict(labels=y, record=[point.steps], progress=False)
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
    seed: int = setting(20261203, Interval(int, 0, None), "entropy of the runs' SeedSequence")


def accuracy_points(cfg: AccuracyConfig) -> list[AccuracyPoint]:
    base = dict(n_train=cfg.n_train, n_test=cfg.n_test, widths=cfg.widths, n_seeds=cfg.n_seeds,
                teacher_width=cfg.teacher_width, teacher_steps=cfg.teacher_steps)
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
