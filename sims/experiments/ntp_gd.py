r"""NTP implicit-bias experiments of [T24] (Thrampoulidis, NeurIPS 2024): GD, NGD, Adam.

``ntp_overparam`` is the overparameterised set-up of [T24] App. A.2 (its Figures
3-5): :meth:`theory.ntp.NTPData.paper_a2` (m = 50, d = 60, V = 10, supports of size
6, :math:`\hat\pi` from n = 5000 sequences, N(0, 1) embeddings), trained from
:math:`W_0 = 0` by :func:`sims.gd.run` with

* ``"gd"``: constant step size 0.5,
* ``"ngd"``: normalised GD, step size 0.01,
* ``"adam"``: step size 0.01, :math:`\beta_1 = 0.9`, :math:`\beta_2 = 0.99`.

One run per method. The data instance is drawn from the fixed ``data_seed`` in the
run parameters (not from the run's generator), so all methods see the same
instance. The references are computed once per run: :math:`W^\star` by
:func:`theory.ntp.finite_component` ([T24] eq. 4) and :math:`W^{mm}` by
:func:`theory.ntp_svm.max_margin_direction` (cvxpy + Clarabel, [T24] Def. 3); the
solver name is stored under ``"solvers"``. ``dist_F`` is stored relative to
:math:`\|W^\star\|`, i.e. :math:`\|P_F W_k - W^\star\|/\|W^\star\|`.

``ntp_text`` runs the same three optimisers on the real-text instance
:meth:`theory.ntp.NTPData.from_text` (character-level contexts of length 2 from the
standard-library docstrings; the text, hence the instance, depends on the Python version,
so every run stores the data digest).

``ntp_toy`` is the 2-D toy of [T24] Figs. 1-2 (:meth:`theory.ntp.NTPData.toy_2d`):
one GD run whose result stores H, P, :math:`W^{mm}`, :math:`W^\star` and the final
iterate, for the arrow and heatmap figure.

``ntp_overparam_seeds`` is GD on App. A.2 over many data draws (data seeds 0..19 by
default, 1e6 steps): the pass rate of check N.7 / N.8's thresholds per horizon, and the
first checkpoint after which each holds, on draws other than the figure's own.

Our choices: embedding scale 1 (the reference setting of the appendix 'Checks'), ``data_seed`` = 0, 200
log-spaced checkpoints, W_0 = 0, Adam's eps = 1e-8 (PyTorch default); 20 data seeds
(0..19: binomial resolution 1/20, Clopper-Pearson intervals in the claims).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special

from sims import gd
from sims.experiment import Boolean, Experiment, Interval, Options, Settings, Tuple, register, setting
from theory.ntp import NTPData, data_subspace, finite_component
from theory.ntp_asymptotics import ntp_w_tilde, quasi_static_correction
from theory.ntp_svm import max_margin_direction

__all__ = [
    "BalanceMetrics",
    "METHODS",
    "METRICS",
    "MethodPoint",
    "MethodResult",
    "NTPMetrics",
    "OverparamConfig",
    "SeedsConfig",
    "TextConfig",
    "TextPoint",
    "ToyConfig",
    "balance_metrics",
    "f_metrics",
    "overparam_points",
    "seeds_points",
    "run_method",
    "text_points",
    "toy_points",
]

#: (method, step size lr) of [T24] App. A.2.
METHODS = (("gd", 0.5), ("ngd", 0.01), ("adam", 0.01))
#: Metric arrays copied from the trajectory into the stored result.
METRICS = ("gap", "norm", "cos_mm", "cos_mm_corrected", "dist_F", "perp_residual", "colsum_drift", "margin")

_METHOD = Options(str, ("gd", "ngd", "adam"))
_LR = Interval(float, 0.0, None, closed="right")
_METHODS = Tuple(Tuple(items=(_METHOD, _LR), names=("method", "lr")), length=(1, None))
_STEPS = Interval(int, 1, None)
_RECORD = Interval(int, 2, None)
_BETA2 = Interval(float, 0.0, 1.0, closed="left")
_SCALE = Interval(float, 0.0, None, closed="neither")
_SEED = Interval(int, 0, None)


def _check_methods(methods: tuple) -> None:
    names = [m for m, _ in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"methods: expected each method at most once (one panel per method), got {methods!r}")


# ----------------------------------------------------------------------------
# run points and results


@dataclass(frozen=True)
class MethodPoint(Settings):
    """One optimiser on one NTP data instance (paper_a2 or toy_2d; text: :class:`TextPoint`)."""

    panel: str = setting("gd", _METHOD, "panel label (the method)")
    method: str = setting("gd", _METHOD, "optimiser")
    lr: float = setting(0.5, _LR, "step size")
    steps: int = setting(100_000, _STEPS, "number of steps")
    record: int = setting(200, _RECORD, "log-spaced checkpoints")
    beta2: float = setting(0.99, _BETA2, "Adam's second-moment decay")
    data: str = setting("paper_a2", Options(str, ("paper_a2", "toy_2d", "text")), "data instance")
    scale: float = setting(1.0, _SCALE, "embedding scale")
    data_seed: int = setting(0, _SEED, "seed of the data instance")
    mm_solver: str = setting("clarabel", Options(str, ("clarabel", "dual")), "W^mm solver")
    store_matrices: bool = setting(False, Boolean(), "store H, P, W*, W^mm and the final W")


@dataclass(frozen=True)
class TextPoint(MethodPoint):
    """One optimiser on the real-text instance :meth:`theory.ntp.NTPData.from_text`."""

    level: str = setting("char", Options(str, ("char", "word")), "tokens: characters or words")
    context_length: int = setting(2, Interval(int, 1, None), "tokens per context")
    max_contexts: int = setting(100, Interval(int, 1, None), "most frequent contexts kept (m)")


@dataclass(frozen=True)
class NTPMetrics:
    r"""Metric curves at the checkpoints, each (n_rec,) float64 (see :class:`sims.gd.Trajectory`);
    ``dist_F`` is relative to :math:`\|W^\star\|`."""

    gap: np.ndarray
    norm: np.ndarray
    cos_mm: np.ndarray
    cos_mm_corrected: np.ndarray
    dist_F: np.ndarray
    perp_residual: np.ndarray
    colsum_drift: np.ndarray
    margin: np.ndarray


@dataclass(frozen=True)
class BalanceMetrics:
    r"""The finite part against its quasi-static balance, at the checkpoints k >= 1.

    With :math:`D_k=P_FW_k-W^\star` and :math:`E(W_k)` of
    :func:`theory.ntp_asymptotics.quasi_static_correction` (the push of the off-support
    pairs at their current masses), each array has shape (n_rec,):

    Attributes
    ----------
    steps : ndarray of int64
    error : ndarray
        :math:`\|kD_k-E(W_k)\|/\|E(W_k)\|`.
    bound : ndarray
        The next-order terms it is allowed: the quasi-static lag
        :math:`(1+|d\log\|E(W_k)\|/d\log k|)/(\eta\mu_Fk)` (the F-part trails its moving
        target), plus the change of CE's curvature on F between :math:`W^\star` and
        :math:`W_k`: :math:`2\varepsilon_k` (in-support probabilities scale by
        :math:`1-\varepsilon_j`, :math:`\varepsilon_k=\max_j` off-support mass) and
        :math:`e^{2\Delta_k}-1`, :math:`\Delta_k=\max_j\|D_k\bar h_j\|_\infty` (softmax
        probabilities move by at most :math:`e^{\pm2\Delta}`). Measured on the small
        instances of ``tests/theory/test_ntp_asymptotics.py``: error minus lag
        :math:`\approx\varepsilon_k`.
    limit_gap : ndarray
        :math:`\|E(W_k)-E\|/\|E\|`: first order in the deviations of the masses from
        their limits :math:`\lambda_{jv}`, which decay like :math:`k^{-\nu}`.
    scaled_distance : ndarray
        :math:`k\|D_k\|/\|E\|` (-> 1).
    """

    steps: np.ndarray
    error: np.ndarray
    bound: np.ndarray
    limit_gap: np.ndarray
    scaled_distance: np.ndarray


def balance_metrics(data: NTPData, pred, lr: float, steps: np.ndarray, Ws: np.ndarray) -> BalanceMetrics:
    """:class:`BalanceMetrics` from recorded iterates (theory: quasi_static_correction, ntp_w_tilde)."""
    k = np.asarray(steps, dtype=np.float64)
    keep = k >= 1
    k, Ws = k[keep], Ws[keep]
    sub = data_subspace(data)
    D = sub.project(Ws) - pred.W_star
    Ei = quasi_static_correction(data, Ws, k, subspace=sub)
    E = pred.finite_correction
    n_Ei = np.linalg.norm(Ei.reshape(len(k), -1), axis=1)
    kD = k[:, None, None] * D
    error = np.linalg.norm((kD - Ei).reshape(len(k), -1), axis=1) / n_Ei
    dlog = np.abs(np.gradient(np.log(n_Ei), np.log(k))) if len(k) > 1 else np.zeros(1)
    delta = np.abs(np.einsum("md,nvd->nmv", data.H, D)).reshape(len(k), -1).max(axis=1)
    L = np.einsum("md,nvd->nmv", data.H, Ws)
    logS = L - scipy.special.logsumexp(L, axis=2, keepdims=True)
    eps = np.where(data.P[None] > 0, 0.0, np.exp(logS)).sum(axis=2).max(axis=1)  # off-support mass
    bound = (1 + dlog) / (lr * pred.finite_curvature * k) + 2 * eps + np.expm1(2 * delta)
    nE = float(np.linalg.norm(E))
    return BalanceMetrics(
        steps=k.astype(np.int64), error=error, bound=bound,
        limit_gap=np.linalg.norm((Ei - E).reshape(len(k), -1), axis=1) / nE,
        scaled_distance=np.linalg.norm(kD.reshape(len(k), -1), axis=1) / nE,
    )


@dataclass(frozen=True)
class MethodResult:
    r"""One optimiser's run.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
    metrics : NTPMetrics
    entropy : float
        The entropy lower bound H of CE.
    W_star_norm, W_mm_norm : float
        :math:`\|W^\star\|`, :math:`\|W^{mm}\|`.
    solvers : list of str
        Solver of :math:`W^{mm}`.
    data_digest : str
    shape : list of int
        [m, d, V].
    E_norm, mu_F, rate_exponent : float or None
        GD on App. A.2 only: :math:`\|E\|`, :math:`\mu_F` and :math:`\nu` of
        :func:`theory.ntp_asymptotics.ntp_w_tilde` (:math:`P_FW_k-W^\star\approx E/k`).
    balance : BalanceMetrics or None
        GD on App. A.2 only (runs from version 3): the quasi-static balance of the finite
        part at the checkpoints (:class:`BalanceMetrics`).
    H, P, W_star, W_mm, W : ndarray or None
        With ``store_matrices``: (m, d), (m, V), (V, d), (V, d), final iterate (V, d).
    """

    steps: np.ndarray
    metrics: NTPMetrics
    entropy: float
    W_star_norm: float
    W_mm_norm: float
    solvers: list
    data_digest: str
    shape: list
    E_norm: float | None = None
    mu_F: float | None = None
    rate_exponent: float | None = None
    balance: "BalanceMetrics | None" = None
    H: np.ndarray | None = None
    P: np.ndarray | None = None
    W_star: np.ndarray | None = None
    W_mm: np.ndarray | None = None
    W: np.ndarray | None = None


# ----------------------------------------------------------------------------
# one run


def _references(data: NTPData, solver: str = "clarabel"):
    fc = finite_component(data)
    W_star = np.asarray(getattr(fc, "W", fc), dtype=np.float64)
    mm = max_margin_direction(data, solver=solver)
    return W_star, np.asarray(mm.W, dtype=np.float64), [str(mm.solver)], mm


def _make_data(point: MethodPoint) -> NTPData:
    if point.data == "paper_a2":
        return NTPData.paper_a2(np.random.default_rng(point.data_seed), scale=point.scale)
    if point.data == "toy_2d":
        return NTPData.toy_2d(np.random.default_rng(point.data_seed))
    if not isinstance(point, TextPoint):
        raise TypeError(f"data='text' needs a TextPoint (level, context_length, max_contexts), got {point!r}")
    return NTPData.from_text(point.level, point.context_length, max_contexts=point.max_contexts,
                             rng=point.data_seed, scale=point.scale)


def f_metrics(data: NTPData, steps: np.ndarray, Ws: np.ndarray, W_star: np.ndarray, W_mm: np.ndarray) -> dict:
    """||P_F W_k - W*|| and ||P_perp W_k - log(k) W^mm|| from recorded iterates (theory's projection).

    Parameters
    ----------
    data : NTPData
    steps : ndarray, shape (n_rec,)
    Ws : ndarray, shape (n_rec, V, d)
        Iterates at the checkpoints.
    W_star, W_mm : ndarray, shape (V, d)

    Returns
    -------
    dict
        ``dist_F`` and ``perp_residual``, each (n_rec,) (NaN residual at k = 0).
    """
    PF = data_subspace(data).project(Ws)
    k = np.asarray(steps, dtype=np.float64)
    logk = np.where(k >= 1, np.log(np.maximum(k, 1.0)), np.nan)
    diff = (Ws - PF) - logk[:, None, None] * W_mm
    return {
        "dist_F": np.linalg.norm((PF - W_star).reshape(len(k), -1), axis=1),
        "perp_residual": np.linalg.norm(diff.reshape(len(k), -1), axis=1),
    }


def run_method(point: MethodPoint, rng: np.random.Generator) -> MethodResult:
    """One optimiser on the fixed data instance; returns the metric curves.

    ``rng`` is unused: the run is deterministic given ``point`` (the data come from
    ``point.data_seed``, W_0 = 0).
    """
    data = _make_data(point)
    W_star, W_mm, solvers, mm = _references(data, point.mm_solver)
    kw = {"beta2": point.beta2} if point.method == "adam" else {}
    # The engine leaves its F-metrics NaN when F has too many generators (sims.gd.Trajectory);
    # then they are computed here from the recorded iterates with theory.ntp's projection.
    traj = gd.run(data, point.steps, point.lr, point.method, W_star=W_star, W_mm=W_mm,
                  record=point.record, record_W=True, **kw)
    big_F = bool(np.all(np.isnan(traj.metrics["dist_F"])))
    ws_norm = float(np.linalg.norm(W_star))
    metrics = {k: traj.metrics[k].copy() for k in METRICS}
    extra = {}
    if big_F:
        metrics.update(f_metrics(data, traj.steps, traj.W_records, W_star, W_mm))
    elif point.method == "gd" and point.data == "paper_a2":
        # second-order theory (theory.ntp_asymptotics): P_F W_k - W* ~ E/k after ~1/(lr mu_F) steps
        pred = ntp_w_tilde(data, point.lr, mm=mm)
        extra = dict(E_norm=float(np.linalg.norm(pred.finite_correction)), mu_F=pred.finite_curvature,
                     rate_exponent=pred.rate_exponent,
                     balance=balance_metrics(data, pred, point.lr, traj.steps, traj.W_records))
    metrics["dist_F"] = metrics["dist_F"] / ws_norm
    if point.store_matrices:
        extra.update(H=np.array(data.H), P=np.array(data.P), W_star=W_star, W_mm=W_mm, W=np.array(traj.W))
    return MethodResult(
        steps=traj.steps.astype(np.int64),
        metrics=NTPMetrics(**metrics),
        entropy=float(traj.entropy),
        W_star_norm=ws_norm,
        W_mm_norm=float(np.linalg.norm(W_mm)),
        solvers=solvers,
        data_digest=data.digest,
        shape=[data.m, data.d, data.V],
        **extra,
    )


# ----------------------------------------------------------------------------
# configs and registration


@dataclass(frozen=True)
class OverparamConfig(Settings):
    """[T24] App. A.2; ``steps`` per method; ``methods`` are (name, lr) pairs."""

    methods: tuple = setting(METHODS, _METHODS, "(method, lr) pairs, one run each")
    steps: int = setting(100_000, _STEPS, "steps per method")
    record: int = setting(200, _RECORD, "log-spaced checkpoints")
    beta2: float = setting(0.99, _BETA2, "Adam's second-moment decay")
    scale: float = setting(1.0, _SCALE, "embedding scale")
    data_seed: int = setting(0, _SEED, "seed of the data instance")
    seed: int = setting(20240228, _SEED, "entropy of the runs' SeedSequence")

    def check(self) -> None:
        _check_methods(self.methods)


def overparam_points(cfg: OverparamConfig) -> list[MethodPoint]:
    return [
        MethodPoint(panel=name, method=name, lr=lr, steps=cfg.steps, record=cfg.record, beta2=cfg.beta2,
                    data="paper_a2", scale=cfg.scale, data_seed=cfg.data_seed)
        for name, lr in cfg.methods
    ]


@dataclass(frozen=True)
class SeedsConfig(Settings):
    """GD on [T24] App. A.2 over the data seeds ``data_seeds`` (one run each)."""

    data_seeds: tuple = setting(tuple(range(20)), Tuple(_SEED, length=(1, None)), "data seeds, one GD run each")
    lr: float = setting(0.5, _LR, "GD step size")
    steps: int = setting(1_000_000, _STEPS, "GD steps per data seed")
    record: int = setting(200, _RECORD, "log-spaced checkpoints")
    seed: int = setting(20261202, _SEED, "entropy of the runs' SeedSequence (unused: W_0 = 0)")

    def check(self) -> None:
        if len(set(self.data_seeds)) != len(self.data_seeds):
            raise ValueError(f"data_seeds: expected distinct seeds, got {self.data_seeds!r}")


def seeds_points(cfg: SeedsConfig) -> list[MethodPoint]:
    return [MethodPoint(panel="gd", method="gd", lr=cfg.lr, steps=cfg.steps, record=cfg.record, beta2=0.99,
                        data="paper_a2", scale=1.0, data_seed=int(s)) for s in cfg.data_seeds]


@dataclass(frozen=True)
class ToyConfig(Settings):
    """[T24] Figs. 1-2 toy: one GD run (lr, steps) storing the matrices."""

    steps: int = setting(100_000, _STEPS, "GD steps")
    lr: float = setting(0.5, _LR, "step size")
    record: int = setting(100, _RECORD, "log-spaced checkpoints")
    data_seed: int = setting(0, _SEED, "seed of the data instance")
    seed: int = setting(20240229, _SEED, "entropy of the runs' SeedSequence")


def toy_points(cfg: ToyConfig) -> list[MethodPoint]:
    return [MethodPoint(panel="gd", method="gd", lr=cfg.lr, steps=cfg.steps, record=cfg.record, beta2=0.99,
                        data="toy_2d", scale=1.0, data_seed=cfg.data_seed, store_matrices=True)]


register(
    Experiment(
        name="ntp_overparam",
        description="Thrampoulidis (2024) App. A.2: GD / NGD / Adam on m=50, d=60, V=10, |S|=6",
        config=OverparamConfig,
        point=MethodPoint,
        result=MethodResult,
        points=overparam_points,
        run=run_method,
        quick={"steps": 10_000},
        figures=("ntp_overparam",),
        version=2,
    )
)


register(
    Experiment(
        name="ntp_overparam_seeds",
        description="GD on Thrampoulidis (2024) App. A.2 over 20 data draws: thresholds of checks N.7-N.8 per seed",
        config=SeedsConfig,
        point=MethodPoint,
        result=MethodResult,
        points=seeds_points,
        run=run_method,
        quick={"steps": 10_000, "data_seeds": (0, 1)},
        figures=(),
    )
)


@dataclass(frozen=True)
class TextConfig(Settings):
    """The real-text instance of :meth:`theory.ntp.NTPData.from_text` under GD / NGD / Adam.

    Defaults: character level, context length 2, the 100 most frequent contexts of the
    standard-library docstrings (m = 100, V = 69 on Python 3.11), d = m + 1 N(0, 1)
    embeddings (separable, [T24] Lemma 1), the step sizes of [T24] App. A.2. W^mm by the
    structured dual solver (0.2 s here; Clarabel takes 11 s per run; measured on this
    instance: Clarabel's unpolished solution differs by 2.0e-8 relative, the polished ones by 3e-14).
    """

    methods: tuple = setting(METHODS, _METHODS, "(method, lr) pairs, one run each")
    steps: int = setting(100_000, _STEPS, "steps per method")
    record: int = setting(200, _RECORD, "log-spaced checkpoints")
    beta2: float = setting(0.99, _BETA2, "Adam's second-moment decay")
    level: str = setting("char", Options(str, ("char", "word")), "tokens: characters or words")
    context_length: int = setting(2, Interval(int, 1, None), "tokens per context")
    max_contexts: int = setting(100, Interval(int, 1, None), "most frequent contexts kept (m)")
    scale: float = setting(1.0, _SCALE, "embedding scale")
    data_seed: int = setting(0, _SEED, "seed of the embeddings")
    mm_solver: str = setting("dual", Options(str, ("clarabel", "dual")), "W^mm solver")
    seed: int = setting(20240301, _SEED, "entropy of the runs' SeedSequence")

    def check(self) -> None:
        _check_methods(self.methods)


def text_points(cfg: TextConfig) -> list[TextPoint]:
    return [
        TextPoint(panel=name, method=name, lr=lr, steps=cfg.steps, record=cfg.record, beta2=cfg.beta2,
                  data="text", level=cfg.level, context_length=cfg.context_length, max_contexts=cfg.max_contexts,
                  scale=cfg.scale, data_seed=cfg.data_seed, mm_solver=cfg.mm_solver)
        for name, lr in cfg.methods
    ]


register(
    Experiment(
        name="ntp_text",
        description="GD / NGD / Adam on the real-text NTP instance (stdlib docstrings, m=100, d=101, V=69)",
        config=TextConfig,
        point=TextPoint,
        result=MethodResult,
        points=text_points,
        run=run_method,
        quick={"steps": 10_000},
        figures=("ntp_text",),
    )
)

register(
    Experiment(
        name="ntp_toy",
        description="Thrampoulidis (2024) Figs. 1-2: 2-D toy (m=3, d=2, V=5), W^mm and W*",
        config=ToyConfig,
        point=MethodPoint,
        result=MethodResult,
        points=toy_points,
        run=run_method,
        quick={"steps": 10_000},
        figures=("ntp_toy",),
    )
)
