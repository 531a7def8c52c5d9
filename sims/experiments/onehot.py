r"""One-hot separable data: the rates of Soudry et al. [S18] for GD on the logistic / cross-entropy loss.

``onehot_maxmargin`` runs full-batch GD (:func:`sims.gd.run`, constant step, :math:`W_0 = 0`)
on two fixed linearly separable data sets in the plane (d = 2):

* ``"binary"``: logistic regression, labels :math:`y_n = \pm1`, in the 2-class softmax
  form of :func:`theory.ntp.binary_data` (GD step :math:`\eta` on W = step :math:`2\eta` on
  :math:`w = w_0 - w_1`). Every stored quantity of this panel is in the units of
  **w** (Soudry et al.'s binary setting): :math:`\hat w` = :func:`theory.maxmargin.binary_svm`,
  :math:`\tilde w` = :func:`theory.maxmargin.binary_w_tilde` with the summed-loss step
  :math:`2\eta/n`.
* ``"multiclass"``: K = 3 classes, multiclass cross-entropy ([S18] §4), stored in the
  units of W: :math:`\hat W` = :func:`theory.maxmargin.multiclass_svm`,
  :math:`\tilde W` = :func:`theory.maxmargin.multiclass_w_tilde` with step :math:`\eta/n`.

Theory checked (JMLR Thms 3, 5, 7 as numbered in paper, Sec. 'The one-hot anchor: max-margin limit of
gradient descent'; the exact statements are not confirmed in the source; notation of the panel's units,
k = GD step):

.. math::

    W_k = \hat W\log k + \tilde W + r_k,\quad r_k\to0;\qquad
    \mathcal L(W_k) = O(1/k);\qquad
    \Big\|\frac{W_k}{\|W_k\|}-\frac{\hat W}{\|\hat W\|}\Big\| = O\Big(\frac1{\log k}\Big),\quad
    1-\cos = O\Big(\frac1{\log^2 k}\Big);\qquad
    \frac1{\|\hat W\|}-\min_n\frac{\langle g_n, W_k\rangle}{\|W_k\|} = O\Big(\frac1{\log k}\Big).

Leading constants (derived here: insert :math:`W_k=\hat W\log k+\tilde W` and use the
:math:`\tilde W` equations :math:`\eta_\Sigma e^{-\langle g_s,\tilde W\rangle}=\alpha_s` on the
support constraints s, :math:`\hat W=\sum_s\alpha_s g_s`, :math:`\langle g_s,\hat W\rangle=1`,
:math:`\sum_s\alpha_s=\|\hat W\|^2`, with :math:`\eta_\Sigma=\eta_{\rm eff}/n` the step on the
summed loss), stored under ``"predicted"``:

* loss: :math:`k\,\mathcal L(W_k)\to\|\hat W\|^2/\eta_{\rm eff}` (mean loss, step
  :math:`\eta_{\rm eff}` in the panel's units);
* direction: :math:`\log k\cdot\|W_k/\|W_k\|-\hat W/\|\hat W\|\|\to\|P_\perp\tilde W\|/\|\hat W\|`
  (:math:`P_\perp` projects out :math:`\hat W`), hence :math:`\log^2k\,(1-\cos)\to` half its square;
* margin: :math:`\log k\cdot(\text{margin gap})\to\big(\max_s\log\alpha_s-\sum_s\alpha_s\log\alpha_s/
  \sum_s\alpha_s\big)/\|\hat W\|` (independent of :math:`\eta`);
* norm: :math:`\|W_k\|-\|\hat W\|\log k\to\langle\hat W,\tilde W\rangle/\|\hat W\|`;
* residual: linearising the GD map around :math:`\hat W\log k+\tilde W`,
  :math:`r_{k+1}-r_k\approx-\frac1k M r_k` with :math:`M=\sum_s\alpha_s g_sg_s^\top` (on the span of
  the generators; :math:`\hat W` is an eigenvector with eigenvalue 1), while non-support
  constraints (margin :math:`\ge\theta`) add :math:`O(k^{-\theta})` per step and the
  discretisation and the logistic tail :math:`O(k^{-2})`; so
  :math:`\|r_k\|=O(k^{-\rho})`, :math:`\rho=\min(\lambda_{\min}(M),\theta-1,1)` (times
  :math:`\log k` when :math:`\rho=1`: the :math:`O(k^{-2})` forcing resonates with the eigenvalue 1).
  Over a finite window the fitted decay is usually faster than :math:`k^{-\rho}` (the faster
  components have not died out yet).

Here :math:`g_n` are the constraint generators (binary: :math:`y_nx_n`; multiclass:
:math:`(e_{y_n}-e_k)x_n^\top`, k ≠ y_n). The stored "genie" curves evaluate the same metrics
on the ray :math:`\hat W\log k+\tilde W` itself; the simulated metrics differ from them by at
most :math:`2\|r_k\|/\|W_k\|` (direction) and :math:`2\max_n\|g_n\|\,\|r_k\|/\|W_k\|` (margin).

Data, our choice (fixed ``data_seed``; one independent stream per panel): ``n_per_class`` = 20
points per class from Gaussian clusters, N(sep·μ_c, noise² I), μ_c = ±e_1 (binary) or
the K-th roots of unity (multiclass), sep = 3, noise = 1. A draw is accepted when

1. it is separable through the origin (the SVM solves);
2. [S18]'s almost-every-data conditions for :math:`\tilde W` hold: strict complementarity
   and linearly independent support generators that span the span of all generators
   (:func:`theory.maxmargin.binary_w_tilde` / ``multiclass_w_tilde`` succeed);
3. after dropping the non-support points with margin below ``theta_min`` = 2 (which
   leaves the SVM unchanged: inactive constraints carry no multiplier), every inactive
   constraint has margin :math:`\ge` ``theta_min``;
4. :math:`\lambda_{\min}(M)\ge` ``lambda_floor`` = 0.5.

(3) and (4) make :math:`\rho\ge0.5`, so that :math:`W_k-\hat W\log k\to\tilde W` is visible within
:math:`10^6` steps; for generic clustered data :math:`\lambda_{\min}(M)` can be ≪ 1 and
non-support margins close to 1 (exploratory draws of this generator without (3)-(4) gave
:math:`\lambda_{\min}` from 0.01 to 1 and :math:`\theta-1` down to 0.01), and then :math:`r_k\to0`
is too slow to see.
The rates in k of loss, direction and margin do not depend on these choices.

Step size (our choice): ``lr`` :math:`=\eta=\,` ``lr_scale``:math:`/L` with ``lr_scale`` = 1, half the
stability limit 2/L of [S18] (:math:`\eta<2\beta^{-1}\sigma_{\max}^{-2}`), where
:math:`L=\tfrac12\lambda_{\max}(\sum_n\pi_nx_nx_n^\top)` bounds the smoothness of the mean
cross-entropy in W (the softmax Hessian has norm :math:`\le\tfrac12`;
:func:`theory.ntp.smoothness_bound`). For the binary panel
this is the step :math:`2\eta` on w for the mean logistic loss, whose smoothness is
:math:`\tfrac14\lambda_{\max}`: again :math:`1/L_w`.

Horizon: full mode :math:`10^6` steps, quick mode :math:`10^5`; 200 log-spaced checkpoints.

References: [S18] D. Soudry, E. Hoffer, M. S. Nacson, S. Gunasekar, N. Srebro, JMLR 19(70),
2018, Thms 3, 5 (binary), 7 (multiclass); paper, Sec. 'The one-hot anchor: max-margin limit of gradient descent'.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import gd
from sims.experiment import Experiment, Interval, Options, Settings, Tuple, register, setting
from theory.maxmargin import (
    binary_svm,
    binary_w_tilde,
    constraint_generators,
    multiclass_svm,
    multiclass_w_tilde,
    soudry_predictions,
)
from theory._validation import as_choice, as_int, as_real
from theory.ntp import binary_data, classification_data, logistic_weights, smoothness_bound

__all__ = ["OnehotConfig", "OnehotMetrics", "OnehotPoint", "OnehotResult", "RayMetrics", "SoudryPredictions",
           "make_dataset", "onehot_points", "run_panel", "smoothness"]

#: Panels in their fixed order; the index is the data stream of the panel.
PANELS = ("binary", "multiclass")
_SQRT2 = float(np.sqrt(2.0))


# ----------------------------------------------------------------------------
# constraint generators and SVM summaries (both panels in the panel's units)


def _svm(X: np.ndarray, y: np.ndarray, K: int | None) -> dict:
    """Hard-margin SVM of the panel (binary_svm or multiclass_svm) and its multipliers per constraint."""
    G, sample, cls = constraint_generators(X, y, K)
    if K is None:
        res = binary_svm(X, y)
        W_hat, alpha = res.w, res.alpha
    else:
        res = multiclass_svm(X, y, K)
        W_hat, alpha = res.W, res.alpha[sample, cls]
    return {"result": res, "W_hat": W_hat, "G": G, "sample": sample, "cls": cls, "alpha": alpha,
            "margins": G @ W_hat.ravel()}


def _genie_metrics(svm: dict, W_tilde: np.ndarray, steps: np.ndarray) -> dict:
    """Metrics of the ray :math:`\\hat W\\log k+\\tilde W` at the checkpoints (NaN at k = 0)."""
    w = np.asarray(svm["W_hat"], dtype=np.float64).ravel()
    wt = np.asarray(W_tilde, dtype=np.float64).ravel()
    nw = float(np.linalg.norm(w))
    out = {name: np.full(steps.size, np.nan) for name in ("direction_error", "margin_gap", "norm")}
    for i, k in enumerate(steps):
        if k < 1:
            continue
        R = w * np.log(float(k)) + wt
        nr = float(np.linalg.norm(R))
        out["direction_error"][i] = float(np.linalg.norm(R / nr - w / nw))
        out["margin_gap"][i] = 1.0 / nw - float((svm["G"] @ R).min()) / nr
        out["norm"][i] = nr
    return out


# ----------------------------------------------------------------------------
# data


def _draw(rng: np.random.Generator, panel: str, n_per_class: int, K: int, sep: float, noise: float):
    if panel == "binary":
        y = np.tile(np.array([1, -1]), n_per_class)
        mu = np.array([sep, 0.0])
        X = y[:, None] * mu + noise * rng.standard_normal((y.size, 2))
        return X, y
    y = np.tile(np.arange(K), n_per_class)
    ang = 2.0 * np.pi * np.arange(K) / K
    mu = sep * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    return mu[y] + noise * rng.standard_normal((y.size, 2)), y


def make_dataset(panel: str, *, n_per_class: int, K: int, sep: float, noise: float, theta_min: float,
                 lambda_floor: float, data_seed: int, max_attempts: int = 1000) -> dict:
    r"""The panel's separable data set: Gaussian clusters, accepted as in the module docstring.

    Parameters
    ----------
    panel : {"binary", "multiclass"}
    n_per_class : int
        Points drawn per class (before dropping the non-support points with margin below
        ``theta_min``).
    K : int
        Number of classes of the multiclass panel (ignored for "binary").
    sep, noise : float
        Cluster centres at distance ``sep`` from the origin; isotropic noise std ``noise``.
    theta_min : float
        Smallest margin (in units of the SVM margin) allowed for inactive constraints.
    lambda_floor : float
        Smallest :math:`\lambda_{\min}(M)` accepted.
    data_seed : int
        Seed; panel i draws from ``SeedSequence(data_seed, spawn_key=(i,))``.
    max_attempts : int

    Returns
    -------
    dict
        ``X`` (n, 2), ``y`` (n,) (±1 for binary, 0..K-1 otherwise), ``attempt`` (index of
        the accepted draw), ``n_drawn``.

    Raises
    ------
    ValueError
        Unknown panel, or no draw accepted within ``max_attempts``.
    """
    panel = as_choice(panel, "panel", PANELS)
    n_per_class = as_int(n_per_class, "n_per_class", low=2)
    if panel == "multiclass":
        K = as_int(K, "K (classes of the multiclass panel)", low=3)
    sep = as_real(sep, "sep", low=0.0, low_open=True)
    noise = as_real(noise, "noise", low=0.0, low_open=True)
    theta_min = as_real(theta_min, "theta_min", low=0.0, low_open=True)
    lambda_floor = as_real(lambda_floor, "lambda_floor (lambda_min(M) <= 1 always)", low=0.0, high=1.0)
    data_seed = as_int(data_seed, "data_seed", low=0)
    Kp = None if panel == "binary" else int(K)
    rng = np.random.default_rng(np.random.SeedSequence(int(data_seed), spawn_key=(PANELS.index(panel),)))
    for attempt in range(max_attempts):
        X, y = _draw(rng, panel, n_per_class, K, sep, noise)
        try:
            svm = _svm(X, y, Kp)
        except ValueError:  # not separable through the origin
            continue
        sup = svm["alpha"] > 1e-9 * svm["alpha"].max()
        support_samples = np.zeros(y.size, dtype=bool)
        support_samples[svm["sample"][sup]] = True
        min_margin = np.full(y.size, np.inf)
        np.minimum.at(min_margin, svm["sample"], svm["margins"])
        keep = support_samples | (min_margin >= theta_min)
        X, y = X[keep], y[keep]
        try:  # (2): raises unless strict complementarity and spanning support generators
            if Kp is None:
                binary_w_tilde(X, y, 1.0)
            else:
                multiclass_w_tilde(X, y, 1.0, K=Kp)
        except ValueError:
            continue
        svm = _svm(X, y, Kp)
        pred = soudry_predictions(svm["G"], svm["alpha"], svm["W_hat"], np.zeros_like(svm["W_hat"]), 1.0)
        if pred["theta"] >= theta_min and pred["lambda_min"] >= lambda_floor:
            return {"X": X, "y": y, "attempt": attempt, "n_drawn": int(keep.size)}
    raise ValueError(f"no accepted {panel} data set in {max_attempts} draws (data_seed={data_seed}, "
                     f"theta_min={theta_min}, lambda_floor={lambda_floor}); relax them or change the seed")


# ----------------------------------------------------------------------------
# run points and results

_PANELS = Options(str, PANELS)
_POS = Interval(float, 0.0, None, closed="neither")


@dataclass(frozen=True)
class OnehotPoint(Settings):
    """One panel: its data set (see :func:`make_dataset`) and the GD run on it."""

    panel: str = setting("binary", _PANELS, "binary (logistic) or multiclass (K classes)")
    K: int = setting(3, Interval(int, 3, None), "classes of the multiclass panel")
    n_per_class: int = setting(20, Interval(int, 2, None), "points drawn per class")
    sep: float = setting(3.0, _POS, "distance of the cluster centres from the origin")
    noise: float = setting(1.0, _POS, "isotropic noise std of the clusters")
    theta_min: float = setting(2.0, _POS, "smallest margin kept for inactive constraints")
    lambda_floor: float = setting(0.5, Interval(float, 0.0, 1.0), "smallest lambda_min(M) accepted")
    lr_scale: float = setting(1.0, Interval(float, 0.0, 2.0, closed="neither"),
                              "step size lr in units of 1/L (L: smoothness bound; stable below 2)")
    steps: int = setting(1_000_000, Interval(int, 1, None), "GD steps")
    record: int = setting(200, Interval(int, 2, None), "log-spaced checkpoints")
    data_seed: int = setting(0, Interval(int, 0, None), "seed of the data sets")


@dataclass(frozen=True)
class OnehotMetrics:
    r"""GD's curves in the panel's units, each (n_rec,): ``loss``, ``norm``, ``cos``
    (:math:`\cos(W_k,\hat W)`), ``direction_error`` (:math:`\|W_k/\|W_k\|-\hat W/\|\hat W\|\|`),
    ``one_minus_cos``, ``margin`` (normalised min margin), ``margin_gap``, ``tilde_residual``
    (:math:`\|W_k-\hat W\log k-\tilde W\|`)."""

    loss: np.ndarray
    norm: np.ndarray
    cos: np.ndarray
    direction_error: np.ndarray
    one_minus_cos: np.ndarray
    margin: np.ndarray
    margin_gap: np.ndarray
    tilde_residual: np.ndarray


@dataclass(frozen=True)
class RayMetrics:
    r"""The same metrics on the ray :math:`\hat W\log k+\tilde W` (NaN at k = 0), each (n_rec,)."""

    direction_error: np.ndarray
    margin_gap: np.ndarray
    norm: np.ndarray


@dataclass(frozen=True)
class SoudryPredictions:
    """The [S18] constants of :func:`theory.maxmargin.soudry_predictions` (same names)."""

    loss_times_k: float
    direction_times_log_k: float
    one_minus_cos_times_log2_k: float
    margin_gap_times_log_k: float
    norm_offset: float
    M_eigenvalues: list
    lambda_min: float
    theta: float
    residual_rate: float


@dataclass(frozen=True)
class OnehotResult:
    """One panel's run (see :func:`run_panel`)."""

    steps: np.ndarray
    metrics: OnehotMetrics
    genie: RayMetrics
    predicted: SoudryPredictions
    X: np.ndarray
    y: np.ndarray
    K: int
    n: int
    d: int
    W_hat: np.ndarray
    W_tilde: np.ndarray
    W_final: np.ndarray
    units: str
    svm_norm: float
    svm_margin: float
    lr: float
    lr_effective: float
    smoothness: float
    solvers: list
    svm_polished: bool
    kkt_max_residual: float
    w_tilde_equation_residual: float
    support: np.ndarray
    alpha_support: np.ndarray
    colsum_drift: float
    data_attempt: int
    n_drawn: int


# ----------------------------------------------------------------------------
# one run

#: :math:`L=\tfrac12\lambda_{\max}(\sum_n\pi_nx_nx_n^\top)` of the data (kept importable from here).
smoothness = smoothness_bound


def run_panel(point: OnehotPoint, rng: np.random.Generator) -> OnehotResult:
    r"""GD on one panel's data set; metric curves in the panel's units plus the [S18] predictions.

    ``rng`` is unused: the data come from ``point.data_seed`` and W_0 = 0.

    Returns
    -------
    OnehotResult
        ``steps`` (n_rec,) int64; ``metrics`` (:class:`OnehotMetrics`); ``genie``
        (:class:`RayMetrics`) of the ray :math:`\hat W\log k+\tilde W`; ``predicted``
        (:func:`theory.maxmargin.soudry_predictions`); ``X``, ``y``, ``W_hat``, ``W_tilde``, ``W_final`` (panel
        units); ``units``; ``svm_norm`` :math:`\|\hat W\|`; ``svm_margin``; ``lr`` (step on W),
        ``lr_effective`` (step in the panel's units), ``smoothness`` L; ``solvers``;
        ``svm_polished``, ``kkt_max_residual``, ``w_tilde_equation_residual``; ``support``
        (constraint rows of the support set: sample index, and class for multiclass);
        ``alpha_support``; ``colsum_drift`` (max over checkpoints); ``data_attempt``, ``n_drawn``.
    """
    panel = point.panel
    binary = panel == "binary"
    K = None if binary else point.K
    ds = make_dataset(panel, n_per_class=point.n_per_class, K=point.K, sep=point.sep, noise=point.noise,
                      theta_min=point.theta_min, lambda_floor=point.lambda_floor, data_seed=point.data_seed)
    X, y = ds["X"], ds["y"]
    n = y.size
    data = binary_data(X, y) if binary else classification_data(X, y, n_classes=K)
    L = smoothness_bound(data)
    lr = point.lr_scale / L
    svm = _svm(X, y, K)
    res = svm["result"]
    if binary:
        lr_eff = 2.0 * lr  # GD step lr on W is step 2 lr on w = w_0 - w_1 (theory.ntp.binary_data)
        wt = binary_w_tilde(X, y, lr_eff / n)  # summed-loss step
        W_mm = np.stack([svm["W_hat"] / 2, -svm["W_hat"] / 2])
        W_tilde_W = np.stack([wt.w_tilde / 2, -wt.w_tilde / 2])
    else:
        lr_eff = lr
        wt = multiclass_w_tilde(X, y, lr / n, K=K)
        W_mm, W_tilde_W = svm["W_hat"], wt.w_tilde
    traj = gd.run(data, point.steps, lr, "gd", W_mm=W_mm, w_tilde=W_tilde_W, record=point.record)
    m = traj.metrics
    # binary: W_k = [w/2; -w/2] exactly (1^T W_k = 1^T W_0 = 0 under GD), so
    # ||w|| = sqrt2 ||W||, w-margin = W-margin / sqrt2, w-residual = sqrt2 W-residual
    s = _SQRT2 if binary else 1.0
    cos = m["cos_mm"].copy()
    metrics = OnehotMetrics(
        loss=m["loss"].copy(),
        norm=s * m["norm"],
        cos=cos,
        direction_error=np.sqrt(np.maximum(2.0 - 2.0 * cos, 0.0)),
        one_minus_cos=1.0 - cos,
        margin=m["margin"] / s,
        margin_gap=m["margin_gap"] / s,
        tilde_residual=s * m["tilde_residual"],
    )
    W_final = logistic_weights(traj.W) if binary else np.array(traj.W)
    W_hat = np.asarray(svm["W_hat"], dtype=np.float64)
    sup = svm["alpha"] > 1e-9 * svm["alpha"].max()
    support = svm["sample"][sup] if binary else np.stack([svm["sample"][sup], svm["cls"][sup]], axis=1)
    return OnehotResult(
        steps=traj.steps.astype(np.int64),
        metrics=metrics,
        genie=RayMetrics(**_genie_metrics(svm, wt.w_tilde, traj.steps)),
        predicted=SoudryPredictions(**soudry_predictions(svm["G"], svm["alpha"], svm["W_hat"], wt.w_tilde, lr_eff)),
        X=X, y=y.astype(np.int64), K=2 if binary else K, n=int(n), d=int(X.shape[1]),
        W_hat=W_hat, W_tilde=np.asarray(wt.w_tilde, dtype=np.float64), W_final=W_final,
        units="w = w_0 - w_1 (logistic regression)" if binary else "W (K x d)",
        svm_norm=float(np.linalg.norm(W_hat)),
        svm_margin=float(res.margin),
        lr=float(lr), lr_effective=float(lr_eff), smoothness=float(L),
        solvers=[str(res.solver)],
        svm_polished=bool(res.polished),
        kkt_max_residual=float(res.certificate.max_residual),
        w_tilde_equation_residual=float(wt.equation_residual),
        support=np.asarray(support, dtype=np.int64),
        alpha_support=svm["alpha"][sup],
        colsum_drift=float(np.nanmax(m["colsum_drift"])),
        data_attempt=int(ds["attempt"]), n_drawn=int(ds["n_drawn"]),
    )


# ----------------------------------------------------------------------------
# config and registration


@dataclass(frozen=True)
class OnehotConfig(Settings):
    """Settings of ``onehot_maxmargin`` (defaults = full mode); see the module docstring."""

    panels: tuple = setting(PANELS, Tuple(_PANELS, length=(1, 2)), "panels to run, in order")
    K: int = setting(3, Interval(int, 3, None), "classes of the multiclass panel")
    n_per_class: int = setting(20, Interval(int, 2, None), "points drawn per class")
    sep: float = setting(3.0, _POS, "distance of the cluster centres from the origin")
    noise: float = setting(1.0, _POS, "isotropic noise std of the clusters")
    theta_min: float = setting(2.0, _POS, "smallest margin kept for inactive constraints")
    lambda_floor: float = setting(0.5, Interval(float, 0.0, 1.0), "smallest lambda_min(M) accepted")
    lr_scale: float = setting(1.0, Interval(float, 0.0, 2.0, closed="neither"),
                              "step size lr in units of 1/L (L: smoothness bound; stable below 2)")
    steps: int = setting(1_000_000, Interval(int, 1, None), "GD steps")
    record: int = setting(200, Interval(int, 2, None), "log-spaced checkpoints")
    data_seed: int = setting(0, Interval(int, 0, None), "seed of the data sets")
    seed: int = setting(20180101, Interval(int, 0, None), "entropy of the runs' SeedSequence (unused by the runs)")

    def check(self) -> None:
        if len(set(self.panels)) != len(self.panels):
            raise ValueError(f"panels: expected each panel at most once, got {self.panels!r}")


def onehot_points(cfg: OnehotConfig) -> list[OnehotPoint]:
    """One run per panel (binary, multiclass), all settings in the parameters."""
    return [
        OnehotPoint(panel=p, K=cfg.K, n_per_class=cfg.n_per_class, sep=cfg.sep, noise=cfg.noise,
                    theta_min=cfg.theta_min, lambda_floor=cfg.lambda_floor, lr_scale=cfg.lr_scale,
                    steps=cfg.steps, record=cfg.record, data_seed=cfg.data_seed)
        for p in cfg.panels
    ]


register(
    Experiment(
        name="onehot_maxmargin",
        description="Soudry et al. (2018): GD on separable binary / 3-class data, rates, w(t) - w_hat log t -> w_tilde",
        config=OnehotConfig,
        point=OnehotPoint,
        result=OnehotResult,
        points=onehot_points,
        run=run_panel,
        quick={"steps": 100_000},
        figures=("onehot_maxmargin",),
    )
)
