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

[open] choices: embedding scale 1 (spec §5 reference), ``data_seed`` = 0, 200
log-spaced checkpoints, W_0 = 0, Adam's eps = 1e-8 (PyTorch default).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sims import gd
from sims.experiment import Experiment, register
from theory.ntp import NTPData, data_subspace, finite_component
from theory.ntp_asymptotics import ntp_w_tilde
from theory.ntp_svm import max_margin_direction

#: (method, step size) of [T24] App. A.2.
METHODS = (("gd", 0.5), ("ngd", 0.01), ("adam", 0.01))
#: Metric arrays copied from the trajectory into the stored result.
METRICS = ("gap", "norm", "cos_mm", "cos_mm_corrected", "dist_F", "perp_residual", "colsum_drift", "margin")


def _references(data: NTPData, solver: str = "clarabel"):
    fc = finite_component(data)
    W_star = np.asarray(getattr(fc, "W", fc), dtype=np.float64)
    mm = max_margin_direction(data, solver=solver)
    return W_star, np.asarray(mm.W, dtype=np.float64), [str(mm.solver)], mm


def _make_data(params: dict) -> NTPData:
    kind = params["data"]
    if kind == "paper_a2":
        return NTPData.paper_a2(np.random.default_rng(params["data_seed"]), scale=params["scale"])
    if kind == "toy_2d":
        return NTPData.toy_2d(np.random.default_rng(params["data_seed"]))
    if kind == "text":
        return NTPData.from_text(params["level"], params["context_length"], max_contexts=params["max_contexts"],
                                 rng=params["data_seed"], scale=params["scale"])
    raise ValueError(f"params['data'] must be 'paper_a2', 'toy_2d' or 'text', got {kind!r}")


def _f_metrics(data: NTPData, steps: np.ndarray, Ws: np.ndarray, W_star: np.ndarray, W_mm: np.ndarray) -> dict:
    """||P_F W_k - W*|| and ||P_perp W_k - log(k) W^mm|| from recorded iterates (theory's projection)."""
    PF = data_subspace(data).project(Ws)
    k = np.asarray(steps, dtype=np.float64)
    logk = np.where(k >= 1, np.log(np.maximum(k, 1.0)), np.nan)
    diff = (Ws - PF) - logk[:, None, None] * W_mm
    return {
        "dist_F": np.linalg.norm((PF - W_star).reshape(len(k), -1), axis=1),
        "perp_residual": np.linalg.norm(diff.reshape(len(k), -1), axis=1),
    }


def run_method(params: dict, rng: np.random.Generator) -> dict:
    """One optimiser on the fixed data instance; returns the metric curves.

    ``rng`` is unused: the run is deterministic given ``params`` (the data come from
    ``params["data_seed"]``, W_0 = 0).
    """
    data = _make_data(params)
    W_star, W_mm, solvers, mm = _references(data, params.get("mm_solver", "clarabel"))
    kw = {"beta2": params["beta2"]} if params["method"] == "adam" else {}
    # the engine skips its F-metrics above 2000 generators of F; then compute them here
    big_F = int(np.sum(data.support_sizes - 1)) > gd._F_MAX
    traj = gd.run(data, params["steps"], params["lr"], params["method"], W_star=W_star, W_mm=W_mm,
                  record=params["record"], record_W=big_F, **kw)
    ws_norm = float(np.linalg.norm(W_star))
    out = {
        "steps": traj.steps.astype(np.int64),
        "metrics": {k: traj.metrics[k].copy() for k in METRICS},
        "entropy": float(traj.entropy),
        "W_star_norm": ws_norm,
        "W_mm_norm": float(np.linalg.norm(W_mm)),
        "solvers": solvers,
        "data_digest": data.digest,
        "shape": [data.m, data.d, data.V],
    }
    if big_F:
        out["metrics"].update(_f_metrics(data, traj.steps, traj.W_records, W_star, W_mm))
    elif params["method"] == "gd" and params["data"] == "paper_a2":
        # second-order theory (theory.ntp_asymptotics): P_F W_k - W* ~ E/k after ~1/(eta mu_F) steps
        pred = ntp_w_tilde(data, params["lr"], mm=mm)
        out.update(E_norm=float(np.linalg.norm(pred.finite_correction)), mu_F=pred.finite_curvature,
                   rate_exponent=pred.rate_exponent)
    out["metrics"]["dist_F"] = out["metrics"]["dist_F"] / ws_norm
    if params.get("store_matrices"):
        out.update(H=np.array(data.H), P=np.array(data.P), W_star=W_star, W_mm=W_mm, W=np.array(traj.W))
    return out


@dataclass(frozen=True)
class OverparamConfig:
    """[T24] App. A.2; ``steps`` per method; ``methods`` are (name, lr) pairs."""

    methods: tuple = METHODS
    steps: int = 100_000
    record: int = 200
    beta2: float = 0.99
    scale: float = 1.0
    data_seed: int = 0
    seed: int = 20240228


def overparam_points(cfg: OverparamConfig) -> list[dict]:
    return [
        {"panel": name, "method": name, "lr": float(lr), "steps": int(cfg.steps), "record": int(cfg.record),
         "beta2": float(cfg.beta2), "data": "paper_a2", "scale": float(cfg.scale), "data_seed": int(cfg.data_seed)}
        for name, lr in cfg.methods
    ]


@dataclass(frozen=True)
class ToyConfig:
    """[T24] Figs. 1-2 toy: one GD run (lr, steps) storing the matrices."""

    steps: int = 100_000
    lr: float = 0.5
    record: int = 100
    data_seed: int = 0
    seed: int = 20240229


def toy_points(cfg: ToyConfig) -> list[dict]:
    return [{"panel": "gd", "method": "gd", "lr": float(cfg.lr), "steps": int(cfg.steps), "record": int(cfg.record),
             "beta2": 0.99, "data": "toy_2d", "scale": 1.0, "data_seed": int(cfg.data_seed), "store_matrices": True}]


register(
    Experiment(
        name="ntp_overparam",
        description="Thrampoulidis (2024) App. A.2: GD / NGD / Adam on m=50, d=60, V=10, |S|=6",
        config=OverparamConfig,
        points=overparam_points,
        run=run_method,
        quick={"steps": 10_000},
        figures=("ntp_overparam",),
        version=2,
    )
)

@dataclass(frozen=True)
class TextConfig:
    """The real-text instance of :meth:`theory.ntp.NTPData.from_text` under GD / NGD / Adam.

    Defaults: character level, context length 2, the 100 most frequent contexts of the
    standard-library docstrings (m = 100, V = 69 on Python 3.11), d = m + 1 N(0, 1)
    embeddings (separable, [T24] Lemma 1), the step sizes of [T24] App. A.2. W^mm by the
    structured dual solver (0.2 s here; Clarabel takes 11 s per run; measured on this
    instance: Clarabel's unpolished solution differs by 2.0e-8 relative, the polished ones by 3e-14).
    """

    methods: tuple = METHODS
    steps: int = 100_000
    record: int = 200
    beta2: float = 0.99
    level: str = "char"
    context_length: int = 2
    max_contexts: int = 100
    scale: float = 1.0
    data_seed: int = 0
    mm_solver: str = "dual"
    seed: int = 20240301


def text_points(cfg: TextConfig) -> list[dict]:
    return [
        {"panel": name, "method": name, "lr": float(lr), "steps": int(cfg.steps), "record": int(cfg.record),
         "beta2": float(cfg.beta2), "data": "text", "level": str(cfg.level),
         "context_length": int(cfg.context_length), "max_contexts": int(cfg.max_contexts), "scale": float(cfg.scale),
         "data_seed": int(cfg.data_seed), "mm_solver": str(cfg.mm_solver)}
        for name, lr in cfg.methods
    ]


register(
    Experiment(
        name="ntp_text",
        description="GD / NGD / Adam on the real-text NTP instance (stdlib docstrings, m=100, d=101, V=69)",
        config=TextConfig,
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
        points=toy_points,
        run=run_method,
        quick={"steps": 10_000},
        figures=("ntp_toy",),
    )
)
