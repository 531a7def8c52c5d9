r"""The second-order term of GD on NTP data: :math:`W_k-W^\star-\log(k)W^{mm}\to\tilde W`.

Beyond [T24]: :func:`theory.ntp_asymptotics.ntp_w_tilde` predicts the bounded correction
:math:`\tilde W` (derivation: paper, Sec. 'Beyond the paper: the second-order term of NTP training'), the limit
:math:`k\,\eta\hat\pi_j\mathbb S_v(W_k\bar h_j)\to\lambda_{jv}` of the active pairs, and the
rate :math:`k^{-\nu}` at which the determined part converges. Four instances, one run each
(GD, constant step, checkpoints log-spaced):

* ``toy``: the 2-D toy of [T24] Figs. 1-2 (spanning, :math:`\nu=1`), from :math:`W_0=0`,
  step 2 (L = 1/4; its in-support probabilities down to 1e-3 make F relax slowly at 0.5);
* ``orthonormal``: m=10, d=12, V=6, :math:`S_j=2`, orthonormal embeddings of norm 3
  (spanning, every margin active, :math:`\nu=\min_jS_j/V=1/3`), from a random
  :math:`W_0` (scale 0.3) so that the slow modes are excited (from 0 they are not, by
  symmetry);
* ``gaussian``: m=3, d=5, V=4, :math:`S_j=2`, N(0,1) embeddings, Dirichlet(5) rows, data
  seed 23: one free direction (not spanning), :math:`\nu=\mu_{\min}\approx0.54` (well below
  :math:`\kappa_{\min}-1\approx1.54`); random :math:`W_0` of scale 1 (its component along
  the free direction is kept by GD, which makes the free part visible).
  The determined part converges; the full residual levels off at the trajectory-dependent
  free part;
* ``paper_a2``: the App. A.2 set-up of ``ntp_overparam`` (data seed 0): not spanning and
  :math:`\nu` of order 1e-3, so nothing visibly converges at 1e7 steps.

Full mode runs 1e7 steps (120 checkpoints, 17 per decade: per-decade slopes); version 3
stores the resonance (``log_power``, ``log_coefficient``); older runs lack them and
read as 0 (no log factor).

Our choices: the three small instances and their seeds were picked (from a scan of
seeds) to make :math:`\nu` large enough to be visible; step 0.5 except for the toy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import gd
from sims.experiment import Experiment, Interval, Options, Settings, register, setting
from theory._validation import as_choice
from theory.ntp import NTPData, data_subspace
from theory.ntp_asymptotics import ntp_w_tilde
from theory.ntp_svm import max_margin_direction

__all__ = ["INSTANCES", "WTildeConfig", "WTildePoint", "WTildeResult", "make_data", "points", "run_instance"]

#: (panel, W0 scale, GD step lr) of the four instances; every step is below 2/L.
INSTANCES = (("toy", 0.0, 2.0), ("orthonormal", 0.3, 0.5), ("gaussian", 1.0, 0.5), ("paper_a2", 0.0, 0.5))
_PANELS = Options(str, tuple(p[0] for p in INSTANCES))


def make_data(panel: str) -> NTPData:
    """The data instance of one panel (deterministic)."""
    panel = as_choice(panel, "panel", [p[0] for p in INSTANCES])
    if panel == "toy":
        return NTPData.toy_2d(0)
    if panel == "orthonormal":
        return NTPData.synthetic(10, 12, 6, 2, 0, embedding="orthonormal", scale=3.0, alpha=5.0)
    if panel == "gaussian":
        return NTPData.synthetic(3, 5, 4, 2, 23, alpha=5.0)
    return NTPData.paper_a2(0)


@dataclass(frozen=True)
class WTildePoint(Settings):
    """GD on one instance from a random W_0 of scale ``w0_scale``."""

    panel: str = setting("toy", _PANELS, "data instance")
    w0_scale: float = setting(0.0, Interval(float, 0.0, None), "std of the N(0, w0_scale^2) entries of W_0")
    lr: float = setting(0.5, Interval(float, 0.0, None, closed="right"), "GD step size")
    steps: int = setting(1_000_000, Interval(int, 1, None), "GD steps")
    record: int = setting(60, Interval(int, 2, None), "log-spaced checkpoints")


@dataclass(frozen=True)
class WTildeResult:
    r"""Residuals of the second-order expansion at the checkpoints k >= 1.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
    determined_residual, residual : ndarray, shape (n_rec,)
        :math:`\|P_{\mathcal A}(W_k-W^\star-\log(k)W^{mm})-\tilde W_{\mathcal A}\|` and
        :math:`\|W_k-W^\star-\log(k)W^{mm}-\tilde W\|`.
    mass_ratio_min, mass_ratio_max : ndarray, shape (n_rec,)
        Range over active pairs of :math:`k\eta\hat\pi_j\mathbb S_v(W_k\bar h_j)/\lambda_{jv}`.
    dist_F : ndarray, shape (n_rec,)
    rate_exponent, kappa_min, restoring_min : float
    log_power : int
        1 when the rate is resonant (remainder :math:`k^{-\nu}(c_1\log k+c_0)`), else 0.
    log_coefficient : float
        :math:`c_1` (:attr:`theory.ntp_asymptotics.NTPSecondOrder.log_coefficient`).
    spanning : bool
    free_dim, n_active : int
    W_tilde_norm, equation_residual : float
    shape : list of int
        [m, d, V].
    solvers : list of str
    """

    steps: np.ndarray
    determined_residual: np.ndarray
    residual: np.ndarray
    mass_ratio_min: np.ndarray
    mass_ratio_max: np.ndarray
    dist_F: np.ndarray
    rate_exponent: float
    kappa_min: float
    restoring_min: float
    spanning: bool
    free_dim: int
    n_active: int
    W_tilde_norm: float
    equation_residual: float
    shape: list
    solvers: list
    log_power: int = 0
    log_coefficient: float = 0.0


def run_instance(point: WTildePoint, rng: np.random.Generator) -> WTildeResult:
    """GD on one instance; the residuals of the second-order expansion at the checkpoints.

    ``rng`` draws the random initialisation (N(0, w0_scale^2) entries).
    """
    data = make_data(point.panel)
    W0 = point.w0_scale * rng.standard_normal((data.V, data.d))
    mm = max_margin_direction(data, solver="clarabel")
    pred = ntp_w_tilde(data, point.lr, W0=W0, mm=mm, subspace=data_subspace(data))
    traj = gd.run(data, point.steps, point.lr, W0=W0, W_star=pred.W_star, W_mm=pred.W_mm,
                  w_tilde=pred.W_tilde, record=point.record, record_W=True)
    k = traj.steps.astype(np.float64)
    keep = k >= 1
    Ws, k = traj.W_records[keep], k[keep]
    ratio = pred.mass_ratio(Ws, k)
    return WTildeResult(
        steps=k.astype(np.int64),
        determined_residual=np.asarray(pred.determined_residual(Ws, k)),
        residual=np.asarray(pred.residual(Ws, k)),
        mass_ratio_min=ratio.min(axis=1),
        mass_ratio_max=ratio.max(axis=1),
        dist_F=np.asarray(traj.metrics["dist_F"])[keep],
        rate_exponent=pred.rate_exponent,
        kappa_min=pred.kappa_min,
        restoring_min=pred.restoring_min,
        spanning=pred.spanning,
        free_dim=pred.free_dim,
        n_active=pred.n_active,
        W_tilde_norm=float(np.linalg.norm(pred.W_tilde)),
        equation_residual=pred.equation_residual,
        shape=[data.m, data.d, data.V],
        solvers=[str(mm.solver)],
        log_power=int(pred.log_power),
        log_coefficient=float(pred.log_coefficient),
    )


@dataclass(frozen=True)
class WTildeConfig(Settings):
    """Horizon ``steps`` and checkpoint count ``record`` shared by the four instances."""

    steps: int = setting(10_000_000, Interval(int, 1, None), "GD steps per instance")
    record: int = setting(120, Interval(int, 2, None), "log-spaced checkpoints")
    seed: int = setting(20261123, Interval(int, 0, None), "entropy of the runs' SeedSequence (draws W_0)")


def points(cfg: WTildeConfig) -> list[WTildePoint]:
    return [WTildePoint(panel=panel, w0_scale=w0, lr=lr, steps=cfg.steps, record=cfg.record)
            for panel, w0, lr in INSTANCES]


register(
    Experiment(
        name="ntp_w_tilde",
        description="Second-order term W~ of GD on NTP data: residual of W* + log(k) W^mm + W~",
        config=WTildeConfig,
        point=WTildePoint,
        result=WTildeResult,
        points=points,
        run=run_instance,
        quick={"steps": 100_000},
        figures=("ntp_w_tilde",),
        version=3,
    )
)
