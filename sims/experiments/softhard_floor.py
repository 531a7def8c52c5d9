r"""The soft-label approximation floor at width m, to convergence (check S.8, last bullet).

``softhard_floor``: for each two-cluster gap (one γ), a seeds × widths grid of students
trained on the kernel teacher's soft targets to convergence by
:func:`sims.twolayer.converge` (trust-region Newton-CG on the simulator's loss, with its
gradient-norm and Newton-decrement certificate), from the same :math:`W_0` as GD. Stored:
the floors :math:`L_\infty(m)`, their certificates, the random-feature bound
:func:`theory.ntk.soft_floor_bound`, GD's loss after ``gd_steps`` steps from the same
:math:`W_0` (it must stay above the floor), the log-log slope of the median floor in 1/m,
and :math:`m^*(\varepsilon)`, the smallest width whose median floor is
:math:`\le\varepsilon` (interpolated log-log, :func:`sims.experiments.softhard.neuron_requirement`).
The claims (``m25.soft.floor_*``) fit the slopes across gaps.

Why this protocol (the finding of ``softhard_width``, see :mod:`sims.experiments.softhard`):
at :math:`T=c_T/(\gamma_2^2\varepsilon)` the average loss carries a width-independent
optimisation term, and with n = 64 points a width-m net fits the n targets once
:math:`md\gtrsim n`. Here the floor is measured to convergence and on
:math:`n\ge8\,m_{max}d` points (``check`` refuses smaller n), so that it is an
approximation floor, not an interpolation.

Our choices. Data: :func:`theory.ntk.two_clusters` in d = 4 (default; in d = 2 the
bias-free net is a function of one angle and the floor vanishes at m ≈ 8 for every γ,
and in d = 8 one solve costs ~30 s). The teacher is the max-margin function of
:math:`K_1` (:func:`sims.experiments.softhard.fit_kernel_teacher`, RKHS norm
:math:`1/\gamma_2`) fitted on a separate sample of ``n_teacher`` points; the students
see its soft targets :math:`\sigma(g)` on the ``n`` points of a second sample (a transfer
set, as in distillation), so γ₂ is fixed by the gap and the teacher sample while n
varies. At gaps below about 0.2 (d = 4, 256 teacher points) γ₂ is set by the sample's
closest pair more than by the gap; the fits use the measured γ₂ either way. Coupled
initialisation (default: :math:`f(\cdot;W_0)\equiv0`, so the floor is the teacher's
approximation error alone). The fixed-budget variant :math:`T\propto1/(\gamma^2\varepsilon)`
at these ε (1e-3..1e-7) would need :math:`10^5`-:math:`10^8` steps: it is not run; GD's
loss after ``gd_steps`` is stored instead as the comparison at a fixed budget.

Findings (the numbers are in the claims table, ``m25.soft.floor_*``): the width binds
(floors fall over the whole grid, far below :func:`theory.ntk.soft_floor_bound`), the
floor falls faster than 1/m and grows faster than :math:`1/\gamma_2^2`, about like a power
> 1 of the bound's variable :math:`1/(\gamma_2^2m)`, so :math:`m^*` has the γ exponent
2 but an ε exponent below 1. At the largest widths the solver stops on a kink of the
loss (see :mod:`sims.twolayer._converge`) with Newton decrements up to about 20 % of
the floor: those floors are upper estimates, the slopes in 1/m lower estimates.
Raising ``max_iter`` from 300 to 1000 lowered the median floors by at most 0.7 % at
m >= 8 (measured on the full sweep; one point, gap 0.8 at m = 4, fell by a factor 0.53:
300 iterations had stopped there before the solver's end).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import twolayer
from sims.experiment import Experiment, Interval, Options, Settings, Tuple, register, setting
from sims.experiments.softhard import fit_kernel_teacher, neuron_requirement, trivial_loss
from theory.fitting import loglog_slope
from theory.ntk import ntk_margin, soft_floor_bound, two_clusters

__all__ = ["FloorConfig", "FloorPoint", "FloorResult", "floor_data", "floor_points", "run_floor",
           "width_slope"]

_POS_INT = Interval(int, 1, None)
_EPS = Interval(float, 0.0, 1.0, closed="neither")
_GAP = Interval(float, 0.0, 2.0, closed="right")
_INIT = Options(str, ("standard", "coupled"))
#: Smallest ratio n / (m_max d) accepted: below it the student can interpolate the targets.
MIN_SAMPLES_PER_PARAMETER = 8


def floor_data(gap: float, d: int, n: int, n_teacher: int, data_seed: int):
    r"""Teacher sample and student (transfer) sample of one gap.

    Returns ``(X_teacher, y_teacher, X, y)``, shapes (n_teacher, d), (n_teacher,), (n, d),
    (n,): two independent :func:`theory.ntk.two_clusters` samples, from the two children
    of ``SeedSequence(data_seed)``.
    """
    st, ss = np.random.SeedSequence(data_seed).spawn(2)
    Xt, yt = two_clusters(n_teacher, gap, np.random.default_rng(st), d=d)
    X, y = two_clusters(n, gap, np.random.default_rng(ss), d=d)
    return Xt, yt, X, y


def width_slope(widths, floors, min_width):
    r"""Log-log slope of the median floor in 1/m over :math:`m\ge` ``min_width``.

    ``floors`` (n_seeds, n_w). Returns the :class:`theory.fitting.SlopeFit` of
    :math:`\log\mathrm{median}_sL_\infty` against :math:`\log(1/m)` (window
    :math:`1/m\in[1/m_{max},1/m_{min}]`), or None when fewer than 3 widths qualify.
    """
    w = np.asarray(widths, dtype=np.float64)
    med = np.median(np.asarray(floors, dtype=np.float64), axis=0)
    ok = (w >= min_width) & (med > 0)
    if ok.sum() < 3:
        return None
    return loglog_slope(1.0 / w[ok], med[ok])


@dataclass(frozen=True)
class FloorPoint(Settings):
    """One gap (one teacher, one γ): a seeds x widths grid of converged students."""

    gap: float = setting(0.2, _GAP, "two-cluster gap (slab width around e_1^perp)")
    d: int = setting(4, Interval(int, 2, None), "input dimension")
    n: int = setting(2048, Interval(int, 2, None), "student (transfer) set size")
    n_teacher: int = setting(256, Interval(int, 2, None), "teacher sample size (the kernel SVM)")
    data_seed: int = setting(0, Interval(int, 0, None), "seed of the two samples")
    init: str = setting("coupled", _INIT, "student initialisation (coupled: f(.; W0) = 0, even widths)")
    widths: tuple = setting((4, 8, 16, 32, 64), Tuple(_POS_INT, length=(3, None)), "width grid")
    n_seeds: int = setting(5, _POS_INT, "initialisation seeds (median over them)")
    eps: tuple = setting((1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7), Tuple(_EPS, length=(2, None)),
                         "floor targets of m*(eps)")
    gtol: float = setting(1e-9, Interval(float, 0.0, None, closed="neither"), "certificate: ||grad L||_F <= gtol")
    decrement_rtol: float = setting(0.01, Interval(float, 0.0, None, closed="neither"),
                                    "certified when the Newton decrement is <= decrement_rtol * floor")
    max_iter: int = setting(1000, _POS_INT, "trust-region iterations at most")
    gd_steps: int = setting(2000, Interval(int, 0, None), "GD steps of the fixed-budget comparison (0: none)")
    fit_min_width: int = setting(8, _POS_INT, "smallest width of the 1/m slope fit")
    n_features: int = setting(4000, _POS_INT, "random features K of the NTK margin gamma (reported only: "
                                              "the fits use gamma_2)")

    def check(self) -> None:
        if list(self.widths) != sorted(set(self.widths)):
            raise ValueError(f"widths: expected strictly increasing widths, got {self.widths}")
        if self.init == "coupled" and any(w % 2 for w in self.widths):
            raise ValueError(f"widths: init='coupled' needs even widths (pairs of units), got {self.widths}")
        need = MIN_SAMPLES_PER_PARAMETER * max(self.widths) * self.d
        if self.n < need:
            raise ValueError(f"n: the floor is an approximation floor only for n >= {MIN_SAMPLES_PER_PARAMETER} "
                             f"m_max d = {need} (widths up to {max(self.widths)}, d = {self.d}); got n = {self.n}")


@dataclass(frozen=True)
class FloorResult:
    r"""Converged soft floors of one gap, their certificates and the fits.

    Attributes
    ----------
    widths : ndarray of int64, shape (n_w,)
    seeds : ndarray of int64, shape (n_seeds,)
        Initialisation seeds (``init_two_layer(d, m, seed, init)`` reproduces :math:`W_0`).
    floor : ndarray, shape (n_seeds, n_w)
        :math:`L_\infty(m)`: the loss at the solver's end.
    floor_median : ndarray, shape (n_w,)
    initial_loss : ndarray, shape (n_seeds, n_w)
        :math:`L(W_0)`.
    grad_norm, decrement : ndarray, shape (n_seeds, n_w)
        The certificate: :math:`\|\nabla L\|_F` and the Newton decrement at the end.
    converged : ndarray of bool, shape (n_seeds, n_w)
        ``grad_norm <= gtol`` (rarely met: the loss has kinks where a unit's activation
        changes, and the minimiser often sits on one).
    certified : ndarray of bool, shape (n_seeds, n_w)
        ``decrement <= decrement_rtol * floor``: the Newton model of the final cell
        predicts less than that fraction of further decrease.
    iterations : ndarray of int64, shape (n_seeds, n_w)
    distance : ndarray, shape (n_seeds, n_w)
        :math:`\|W_\infty-W_0\|_F`.
    gd_loss, gd_avg_loss : ndarray, shape (n_seeds, n_w)
        GD (η = 1) from the same :math:`W_0`: last and average loss over ``gd_steps``
        steps (NaN when ``gd_steps`` is 0).
    bound : ndarray, shape (n_w,)
        :func:`theory.ntk.soft_floor_bound` (random-feature student, in expectation).
    slope, slope_stderr : float
        Log-log slope of ``floor_median`` in 1/m over ``slope_window`` (NaN: < 3 widths).
    slope_window : ndarray, shape (2,)
        The 1/m window of the fit.
    eps : ndarray, shape (n_eps,)
    m_star, m_star_grid : ndarray, shape (n_eps,)
        :math:`m^*(\varepsilon)` from the median floors, interpolated and on the grid (NaN: not reached).
    censored : ndarray of bool, shape (n_eps,)
        ε already met at the smallest width (only an upper bound).
    gamma2 : float
        Kernel margin of the teacher sample (the teacher's RKHS norm is 1/gamma2).
    gamma, gamma_lower, gamma_upper : float
        :func:`theory.ntk.ntk_margin` of the teacher sample.
    teacher_margin : float
        :math:`\min_iy_ig(x_i)` on the student set.
    trivial_loss : float
        Loss of f ≡ 0 on the student set.
    input_norm : float
        :math:`\max_i\|x_i\|` on the student set.
    n, d, n_teacher : int
    solvers : list of str
    """

    widths: np.ndarray
    seeds: np.ndarray
    floor: np.ndarray
    floor_median: np.ndarray
    initial_loss: np.ndarray
    grad_norm: np.ndarray
    decrement: np.ndarray
    converged: np.ndarray
    certified: np.ndarray
    iterations: np.ndarray
    distance: np.ndarray
    gd_loss: np.ndarray
    gd_avg_loss: np.ndarray
    bound: np.ndarray
    slope: float
    slope_stderr: float
    slope_window: np.ndarray
    eps: np.ndarray
    m_star: np.ndarray
    m_star_grid: np.ndarray
    censored: np.ndarray
    gamma2: float
    gamma: float
    gamma_lower: float
    gamma_upper: float
    teacher_margin: float
    trivial_loss: float
    input_norm: float
    n: int
    d: int
    n_teacher: int
    solvers: list


def run_floor(point: FloorPoint, rng: np.random.Generator) -> FloorResult:
    """One gap; ``rng`` draws the margin's random features and the initialisation seeds."""
    Xt, yt, X, y = floor_data(point.gap, point.d, point.n, point.n_teacher, point.data_seed)
    kt = fit_kernel_teacher(Xt, yt)
    margin = ntk_margin(Xt, yt, point.n_features, rng)
    teacher = twolayer.kernel_teacher(kt, X)
    seeds = [int(s) for s in rng.integers(0, 2**31, point.n_seeds)]
    shape = (point.n_seeds, len(point.widths))
    out = {k: np.empty(shape) for k in ("floor", "initial_loss", "grad_norm", "decrement", "distance")}
    converged = np.zeros(shape, dtype=bool)
    iterations = np.zeros(shape, dtype=np.int64)
    for i, s in enumerate(seeds):
        for j, m in enumerate(point.widths):
            fit = twolayer.converge(X, teacher, twolayer.init_two_layer(point.d, m, s, point.init),
                                    gtol=point.gtol, max_iter=point.max_iter)
            out["floor"][i, j], out["initial_loss"][i, j] = fit.loss, fit.initial_loss
            out["grad_norm"][i, j], out["decrement"][i, j] = fit.grad_norm, fit.decrement
            out["distance"][i, j] = fit.distance
            converged[i, j], iterations[i, j] = fit.converged, fit.iterations
    gd_loss = np.full(shape, np.nan)
    gd_avg = np.full(shape, np.nan)
    if point.gd_steps:
        ens = twolayer.run_ensemble(X, teacher, list(point.widths), seeds, point.gd_steps, 1.0, kind="soft",
                                    init=point.init, record=[point.gd_steps], progress=False)
        gd_loss = ens.stack("loss")[:, :, -1]
        gd_avg = ens.stack("avg_loss")[:, :, -1]
    fit = width_slope(point.widths, out["floor"], point.fit_min_width)
    med = np.median(out["floor"], axis=0)
    m_star, m_grid, censored = neuron_requirement(point.widths, out["floor"][:, :, None] * np.ones(len(point.eps)),
                                                  point.eps, interpolate=True)
    input_norm = float(np.sqrt(np.einsum("ij,ij->i", X, X)).max())
    return FloorResult(
        widths=np.asarray(point.widths, dtype=np.int64), seeds=np.asarray(seeds, dtype=np.int64),
        floor=out["floor"], floor_median=med, initial_loss=out["initial_loss"], grad_norm=out["grad_norm"],
        decrement=out["decrement"], converged=converged,
        certified=out["decrement"] <= point.decrement_rtol * out["floor"], iterations=iterations,
        distance=out["distance"],
        gd_loss=gd_loss, gd_avg_loss=gd_avg,
        bound=np.asarray(soft_floor_bound(kt.gamma2, np.asarray(point.widths, dtype=np.float64), init=point.init,
                                          input_norm=min(input_norm, 1.0)), dtype=np.float64),
        slope=float("nan") if fit is None else float(fit.slope),
        slope_stderr=float("nan") if fit is None else float(fit.stderr),
        slope_window=np.array([np.nan, np.nan]) if fit is None else np.asarray(fit.window, dtype=np.float64),
        eps=np.asarray(point.eps, dtype=np.float64), m_star=m_star, m_star_grid=m_grid, censored=censored,
        gamma2=float(kt.gamma2), gamma=float(margin.gamma), gamma_lower=float(margin.lower),
        gamma_upper=float(margin.upper), teacher_margin=float(np.min(y * teacher.logits)),
        trivial_loss=trivial_loss("soft", teacher.probabilities), input_norm=input_norm,
        n=int(point.n), d=int(point.d), n_teacher=int(point.n_teacher),
        solvers=[str(margin.solver), kt.solver, "sims.twolayer.converge (scipy trust-ncg, Gauss-Newton Hessian)"],
    )


@dataclass(frozen=True)
class FloorConfig(Settings):
    """The gap sweep of ``softhard_floor`` (one point per gap)."""

    gaps: tuple = setting((0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.6), Tuple(_GAP, length=(1, None)),
                          "two-cluster gaps (gamma_2 from about 0.04 to 0.4 in d = 4)")
    d: int = setting(4, Interval(int, 2, None), "input dimension")
    n: int = setting(2048, Interval(int, 2, None), "student (transfer) set size (>= 8 m_max d)")
    n_teacher: int = setting(256, Interval(int, 2, None), "teacher sample size")
    data_seed: int = setting(0, Interval(int, 0, None), "seed of the samples")
    init: str = setting("coupled", _INIT, "student initialisation")
    widths: tuple = setting((4, 8, 16, 32, 64), Tuple(_POS_INT, length=(3, None)), "width grid")
    n_seeds: int = setting(5, _POS_INT, "seeds per gap")
    eps: tuple = setting((1e-3, 3e-4, 1e-4, 3e-5, 1e-5, 3e-6, 1e-6, 3e-7), Tuple(_EPS, length=(2, None)),
                         "floor targets of m*(eps)")
    gtol: float = setting(1e-9, Interval(float, 0.0, None, closed="neither"), "gradient certificate threshold")
    decrement_rtol: float = setting(0.01, Interval(float, 0.0, None, closed="neither"),
                                    "certified when the Newton decrement is <= decrement_rtol * floor")
    max_iter: int = setting(1000, _POS_INT, "trust-region iterations at most")
    gd_steps: int = setting(2000, Interval(int, 0, None), "GD steps of the fixed-budget comparison (0: none)")
    fit_min_width: int = setting(8, _POS_INT, "smallest width of the 1/m slope fit")
    n_features: int = setting(4000, _POS_INT, "random features of the NTK margin (reported only)")
    seed: int = setting(20261204, Interval(int, 0, None), "entropy of the runs' SeedSequence")


def floor_points(cfg: FloorConfig) -> list[FloorPoint]:
    common = dict(d=cfg.d, n=cfg.n, n_teacher=cfg.n_teacher, data_seed=cfg.data_seed, init=cfg.init,
                  widths=cfg.widths, n_seeds=cfg.n_seeds, eps=cfg.eps, gtol=cfg.gtol,
                  decrement_rtol=cfg.decrement_rtol, max_iter=cfg.max_iter, gd_steps=cfg.gd_steps,
                  fit_min_width=cfg.fit_min_width, n_features=cfg.n_features)
    return [FloorPoint(gap=g, **common) for g in cfg.gaps]


register(
    Experiment(
        name="softhard_floor",
        description="Soft-label floor L_inf(m) to convergence (certified solver) over a gamma sweep; m*(eps, gamma)",
        config=FloorConfig,
        point=FloorPoint,
        result=FloorResult,
        points=floor_points,
        run=run_floor,
        quick={"gaps": (0.2, 0.8, 1.6), "d": 3, "n": 384, "n_teacher": 64, "widths": (4, 8, 16), "n_seeds": 2,
               "max_iter": 200, "gd_steps": 200, "fit_min_width": 4, "n_features": 2000,
               "eps": (1e-2, 3e-3, 1e-3, 3e-4, 1e-4, 3e-5)},
        figures=("softhard_floor",),
    )
)
