r"""The [ZZ23] learners trained by gradient descent: TV risk against n at several step counts k.

Each run is one (panel, n) point: ``repeats`` data sets drawn by
:func:`sims.transfer.sample_counts` (the sampler of the closed-form Monte Carlo); on each,
every learner is trained by full-batch GD from :math:`\theta=0` with step ``lr``
(:func:`sims.transfer_gd.train_student`) and its TV risk recorded at the steps ``steps``,
beside the closed-form learner on the same data. Theory stored with the run
(derivation in ``paper/transfer_gd.md``):

* ``predicted_mean``: the risk of :func:`theory.transfer.gd_policy_prediction` (closed
  form plus :math:`\varepsilon_s(k)=C_s/k` moved to the unobserved labels), NaN at a k
  where it is not yet valid on some data set;
* ``mass_sim`` / ``mass_pred``: :math:`\sum_s\rho(s)\varepsilon_s(k)`, measured and
  :math:`\sum_s\rho(s)C_s/k` (:func:`theory.transfer.unobserved_mass_constant`);
* ``population_risk``: GD on the :math:`n\to\infty` weights
  (:func:`theory.transfer.gd_population_weights`) at the same k, the floor a student
  trained for k steps cannot beat however large n is;
* SEL_ptl from a random :math:`\theta_0` (N(0, ``init_scale``\ :sup:`2`)) at steps
  ``lr`` and ``lr/2`` against :func:`theory.transfer.sel_ptl_gd_limit` and against the
  uniform-leftover convention.

Our choices: panels Instance 0 (S, A) = (10, 10) (full-support teacher: CE_ful has a
unique minimiser) and Instance 2 (10, 11) (labels of mass 0: CE_ful keeps
:math:`C_s/k` on them); n on a log grid 1e2..1e4; k in {1e2, 1e3, 1e4, 1e5}; 30 data sets per point (10 for
the SEL_ptl random-start check, which runs 40 relaxation times, at most 3e5 steps); step 1 (the
losses are weighted means, so the cross-entropies are stable below 4).
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass

import numpy as np

from sims import gd
from sims.experiment import Experiment, Interval, Options, Settings, Text, Tuple, register, setting
from sims.transfer import sample_counts
from sims.transfer_gd import policies_from_logits, train_student
from theory import transfer as tt

__all__ = ["CE_LEARNERS", "LEARNERS", "TransferGDConfig", "TransferGDPoint", "TransferGDResult", "points", "run_point"]

LEARNERS = tt.LEARNERS
CE_LEARNERS = tt.GD_CE_LEARNERS
#: SEL_ptl random-start runs take this many relaxation times (theory.transfer.sel_ptl_relaxation_steps)
#: of the slowest input: the linear transient is then below e^-40.
SEL_RELAXATIONS = 40
_KINDS = Options(str, ("instance0", "instance1", "instance2", "instance3"))
_SIZE = Interval(int, 1, None)


@dataclass(frozen=True)
class TransferGDPoint(Settings):
    """One (panel, n): ``repeats`` data sets, every learner trained by GD to ``max(steps)``."""

    panel: str = setting("a", Text(), "panel label")
    instance: str = setting("instance0", _KINDS, "instance of [ZZ23] section 6")
    S: int = setting(10, _SIZE, "number of inputs")
    A: int = setting(10, _SIZE, "number of labels")
    n: int = setting(100, _SIZE, "sample size")
    repeats: int = setting(100, Interval(int, 2, None), "data sets drawn (common to all learners)")
    lr: float = setting(1.0, Interval(float, 0.0, None, closed="right"), "GD step size")
    steps: tuple = setting((100, 1000, 10000), Tuple(_SIZE, length=(1, None)), "step counts k recorded")
    init_scale: float = setting(1.0, Interval(float, 0.0, None, closed="right"),
                                "std of the random SEL_ptl initialisation")
    sel_repeats: int = setting(20, Interval(int, 1, None), "data sets of the SEL_ptl random-start check")
    sel_max_steps: int = setting(1_000_000, _SIZE, "cap on the steps of a SEL_ptl random-start run")

    def check(self) -> None:
        if not tt.instance_exists(self.instance, self.S, self.A, self.n):
            raise ValueError(f"n: expected an n at which {self.instance} exists for (S, A) = ({self.S}, {self.A}), "
                             f"got {self.n}")
        if list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"steps: expected increasing distinct step counts, got {self.steps}")


@dataclass(frozen=True)
class TransferGDResult:
    r"""Risks of the GD-trained students at the recorded steps, with the theory beside them.

    Rows of the (4, n_k) arrays follow :data:`theory.transfer.LEARNERS`; rows of the
    (3, n_k) arrays follow :data:`theory.transfer.GD_CE_LEARNERS`.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_k,)
    gd_mean, gd_stderr : ndarray, shape (4, n_k)
        Mean TV risk of the GD students over the repeats, and its standard error.
    closed_mean, closed_stderr : ndarray, shape (4,)
        The same for the closed-form learners on the same data sets.
    predicted_mean : ndarray, shape (4, n_k)
        Mean risk of the predicted GD policy (CE learners; SEL_ptl: its gradient-flow limit
        from 0, which is the closed form); NaN where the prediction is not valid yet.
    diff_mean, diff_stderr : ndarray, shape (4, n_k)
        Mean and standard error of (GD risk - predicted risk) per data set (paired).
    mass_sim, mass_pred : ndarray, shape (3, n_k)
        :math:`\sum_s\rho(s)\varepsilon_s(k)` measured and predicted (:math:`C_s/k`), means.
    mass_bound : ndarray, shape (3, n_k)
        Mean of :math:`\sum_s\rho(s)\frac{C_s}{k}\cdot\frac{C_s\log k+\tau_s}{k}`, the size of
        the remainder of :math:`C_s/k` (the :math:`C_s\log k/k` term of the reduced ODE plus a
        lag of one relaxation time :math:`\tau_s`, ``paper/transfer_gd.md``).
    relax_max : ndarray, shape (3,)
        Largest :func:`theory.transfer.gd_relaxation_steps` over data sets and seen inputs.
    population_risk : ndarray, shape (4, n_k)
        Risk of GD on the population weights (CE learners; NaN for SEL_ptl).
    sel_dev, sel_dev_half, sel_dev_extrapolated, sel_convention_gap : float
        Max over the first ``sel_repeats`` data sets and labels of :math:`|\pi_{GD}-\pi_\infty|`
        from the random :math:`\theta_0` after ``SEL_RELAXATIONS`` relaxation times at step ``lr``
        and twice as many at ``lr/2``, of the Richardson
        extrapolation :math:`|2\pi_{GD}(\eta/2)-\pi_{GD}(\eta)-\pi_\infty|`, and of
        :math:`|\pi_\infty-\pi_{\text{uniform fill}}|` (at the seen inputs with a finite limit:
        all labels observed or positive leftover mass).
    sel_loss_max : float
        Largest SEL_ptl loss at the end of the random-start runs (convergence check).
    sel_steps : int
        Largest number of steps (at ``lr``) of a random-start run.
    solvers : list of str
    """

    steps: np.ndarray
    gd_mean: np.ndarray
    gd_stderr: np.ndarray
    closed_mean: np.ndarray
    closed_stderr: np.ndarray
    predicted_mean: np.ndarray
    diff_mean: np.ndarray
    diff_stderr: np.ndarray
    mass_sim: np.ndarray
    mass_pred: np.ndarray
    mass_bound: np.ndarray
    relax_max: np.ndarray
    population_risk: np.ndarray
    sel_dev: float
    sel_dev_half: float
    sel_dev_extrapolated: float
    sel_convention_gap: float
    sel_loss_max: float
    sel_steps: int
    solvers: list

    def __getattr__(self, name: str):
        """Scalar views ``<field>__<learner>__<q>`` (e.g. ``gd_mean__ce_sgl__2``: learner row, q-th step)
        and ``<field>__<learner>`` for the (4,) fields, so that figures can tag one value per run."""
        parts = name.split("__")
        if len(parts) in (2, 3) and parts[0] in _ROWS:
            rows = _ROWS[parts[0]]
            if parts[1] in rows:
                arr = object.__getattribute__(self, parts[0])[rows.index(parts[1])]
                return float(arr if len(parts) == 2 else arr[int(parts[2])])
        raise AttributeError(name)


_ROWS = {name: LEARNERS for name in ("gd_mean", "gd_stderr", "closed_mean", "closed_stderr", "predicted_mean",
                                      "diff_mean", "diff_stderr", "population_risk")}
_ROWS.update({name: CE_LEARNERS for name in ("mass_sim", "mass_pred", "mass_bound", "relax_max")})


def _stderr(x: np.ndarray) -> np.ndarray:
    return x.std(axis=0, ddof=1) / math.sqrt(x.shape[0])


def _population_risk(inst: tt.Instance, steps: np.ndarray, lr: float) -> np.ndarray:
    out = np.full((len(LEARNERS), steps.shape[0]), np.nan)
    for learner in CE_LEARNERS:
        P, pi = tt.gd_population_weights(learner, inst.pi_star, inst.rho)
        keep = np.flatnonzero(pi > 0)
        data = types.SimpleNamespace(H=np.eye(inst.S)[keep], P=P[keep], pi=pi[keep])
        traj = gd.run(data, int(steps[-1]), lr, record=steps, record_W=True, references=False)
        pol = policies_from_logits(np.transpose(traj.W_records[-steps.shape[0]:], (0, 2, 1)))
        out[LEARNERS.index(learner)] = tt.tv_risk(pol, inst.pi_star, inst.rho)
    return out


def run_point(point: TransferGDPoint, rng: np.random.Generator) -> TransferGDResult:
    """One (panel, n): the GD students' risks at the recorded steps and the theory beside them."""
    inst = tt.build_instance(point.instance, point.S, point.A, point.n)
    pi_star, rho = inst.pi_star, inst.rho
    steps = np.asarray(point.steps, dtype=np.int64)
    R, nk, lr = point.repeats, steps.shape[0], point.lr
    counts = sample_counts(inst, point.n, R, rng)
    gd_risk = np.empty((R, len(LEARNERS), nk))
    closed = np.empty((R, len(LEARNERS)))
    pred = np.full((R, len(LEARNERS), nk), np.nan)
    mass_sim = np.zeros((R, len(CE_LEARNERS), nk))
    mass_pred = np.zeros((R, len(CE_LEARNERS), nk))
    mass_bound = np.zeros((R, len(CE_LEARNERS), nk))
    relax = np.zeros(len(CE_LEARNERS))
    dev = dev_half = dev_x = gap = loss_max = 0.0
    sel_steps_max = 0
    for r in range(R):
        c = counts[r]
        seen = c.sum(axis=1) > 0
        for j, learner in enumerate(LEARNERS):
            traj = train_student(learner, c, pi_star, int(steps[-1]), lr, record=steps)
            gd_risk[r, j] = tt.tv_risk(traj.policies(), pi_star, rho)
            closed[r, j] = tt.tv_risk(tt.estimate(learner, c, pi_star), pi_star, rho)
            if learner == "sel_ptl":
                pred[r, j] = closed[r, j]
                continue
            i = CE_LEARNERS.index(learner)
            P, _ = tt.gd_ntp_weights(learner, c, pi_star)
            off = (P == 0) & seen[:, None]
            mass_sim[r, i] = np.sum(np.where(off, traj.policies(), 0.0).sum(axis=2) * rho, axis=1)
            C = tt.unobserved_mass_constant(learner, c, pi_star, lr)
            mass_pred[r, i] = float(rho @ C) / steps
            rl = tt.gd_relaxation_steps(learner, c, pi_star, lr)
            lag = np.where(C > 0, rl, 0.0)
            mass_bound[r, i] = np.sum(rho[:, None] * C[:, None] * (C[:, None] * np.log(steps) + lag[:, None]), axis=0) / steps.astype(float) ** 2
            relax[i] = max(relax[i], float(rl[seen].max()))
            for q, k in enumerate(steps):
                pol = tt.gd_policy_prediction(learner, c, pi_star, lr, float(k))
                if np.all(np.isfinite(pol)):
                    pred[r, j, q] = tt.tv_risk(pol, pi_star, rho)
        if r >= point.sel_repeats:
            continue
        # SEL_ptl from a random start: the gradient-flow limit against GD at lr and lr / 2, run for
        # SEL_RELAXATIONS relaxation times of the slowest input (capped at sel_max_steps)
        theta0 = point.init_scale * rng.standard_normal((inst.S, inst.A))
        lim = tt.sel_ptl_gd_limit(c, pi_star, theta0)
        relax_sel = tt.sel_ptl_relaxation_steps(c, pi_star, lr, theta0)
        finite = relax_sel[np.isfinite(relax_sel)]
        need = SEL_RELAXATIONS * float(finite.max()) if finite.size else 1.0
        sel_steps = int(min(point.sel_max_steps, math.ceil(need)))
        sel_steps_max = max(sel_steps_max, sel_steps)
        full = train_student("sel_ptl", c, pi_star, sel_steps, lr, init_logits=theta0, record=1).policy()
        half = train_student("sel_ptl", c, pi_star, 2 * sel_steps, lr / 2, init_logits=theta0, record=1).policy()
        conv = tt.estimate("sel_ptl", c, pi_star)
        # rows whose unobserved labels all have mass 0 have no finite minimiser (logits -> -inf,
        # mass ~ 1/k): the O(lr) check is about the rows with a finite limit
        leftover = np.where(c > 0, 0.0, pi_star).sum(axis=1)
        rows = seen & ((leftover > 0) | np.all(c > 0, axis=1))
        if rows.any():
            dev = max(dev, float(np.abs(full - lim)[rows].max()))
            dev_half = max(dev_half, float(np.abs(half - lim)[rows].max()))
            dev_x = max(dev_x, float(np.abs(2 * half - full - lim)[rows].max()))
            gap = max(gap, float(np.abs(lim - conv)[rows].max()))
        loss_max = max(loss_max, tt.gd_loss("sel_ptl", c, pi_star, np.log(full)))
    diff = gd_risk - pred
    return TransferGDResult(
        steps=steps, gd_mean=gd_risk.mean(axis=0), gd_stderr=_stderr(gd_risk),
        closed_mean=closed.mean(axis=0), closed_stderr=_stderr(closed),
        predicted_mean=pred.mean(axis=0), diff_mean=diff.mean(axis=0), diff_stderr=_stderr(diff),
        mass_sim=mass_sim.mean(axis=0), mass_pred=mass_pred.mean(axis=0), mass_bound=mass_bound.mean(axis=0),
        relax_max=relax,
        population_risk=_population_risk(inst, steps, lr),
        sel_dev=dev, sel_dev_half=dev_half, sel_dev_extrapolated=dev_x, sel_convention_gap=gap,
        sel_loss_max=loss_max, sel_steps=sel_steps_max, solvers=["sims.gd (CE)", "sims.transfer_gd SEL kernel"],
    )


@dataclass(frozen=True)
class TransferGDConfig(Settings):
    """Panels (label, instance, S, A); a log n grid; the recorded step counts."""

    panels: tuple = setting(
        (("a", "instance0", 10, 10), ("b", "instance2", 10, 11)),
        Tuple(Tuple(items=(Text(), _KINDS, _SIZE, _SIZE), names=("label", "instance", "S", "A")), length=(1, None)),
        "panels (label, instance, S, A)")
    n_min: float = setting(1e2, Interval(float, 1.0, None), "smallest n of the log grid")
    n_max: float = setting(1e4, Interval(float, 1.0, None), "largest n of the log grid")
    n_points: int = setting(7, Interval(int, 1, None), "points of the log n grid")
    repeats: int = setting(30, Interval(int, 2, None), "data sets per point")
    lr: float = setting(1.0, Interval(float, 0.0, None, closed="right"), "GD step size")
    steps: tuple = setting((100, 1000, 10000, 100000), Tuple(_SIZE, length=(1, None)), "step counts k recorded")
    sel_repeats: int = setting(10, Interval(int, 1, None), "data sets of the SEL_ptl random-start check")
    sel_max_steps: int = setting(300_000, _SIZE, "cap on the steps of a SEL_ptl random-start run")
    seed: int = setting(20261202, Interval(int, 0, None), "entropy of the runs' SeedSequence")

    def check(self) -> None:
        labels = [p[0] for p in self.panels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"panels: expected distinct labels, got {labels}")
        if self.n_min > self.n_max:
            raise ValueError(f"n_min: expected n_min <= n_max = {self.n_max:g}, got {self.n_min:g}")
        if list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"steps: expected increasing distinct step counts, got {self.steps}")


def points(cfg: TransferGDConfig) -> list[TransferGDPoint]:
    grid = np.unique(np.geomspace(cfg.n_min, cfg.n_max, cfg.n_points).round().astype(int))
    return [TransferGDPoint(panel=label, instance=kind, S=S, A=A, n=int(n), repeats=cfg.repeats, lr=cfg.lr,
                            steps=tuple(cfg.steps), sel_repeats=min(cfg.sel_repeats, cfg.repeats),
                            sel_max_steps=cfg.sel_max_steps)
            for label, kind, S, A in cfg.panels for n in grid if tt.instance_exists(kind, S, A, int(n))]


register(
    Experiment(
        name="transfer_gd",
        description="Zhao & Zhu learners trained by GD: TV risk vs n at several step counts k, with the "
                    "predicted unobserved-label mass and the SEL_ptl limit",
        config=TransferGDConfig,
        point=TransferGDPoint,
        result=TransferGDResult,
        points=points,
        run=run_point,
        quick={"n_points": 2, "repeats": 3, "steps": (100, 1000), "sel_repeats": 2, "sel_max_steps": 20_000},
        figures=("transfer_gd",),
        version=2,
    )
)
