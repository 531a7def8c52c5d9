"""A cheap experiment that exercises the store and the sweep backends.

Each run draws a few numbers from its own generator (and optionally sleeps), so
tests and users can check that a sweep is reproducible across backends and
resumes after a crash: ``ibl run selftest --scheduler tcp://HOST:PORT``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sims.experiment import Experiment, register


@dataclass(frozen=True)
class SelfTestConfig:
    runs: int = 16
    draws: int = 1000
    sleep_s: float = 0.0
    seed: int = 0


def _points(cfg: SelfTestConfig) -> list[dict]:
    return [{"draws": cfg.draws, "sleep_s": cfg.sleep_s, "point": i} for i in range(cfg.runs)]


def _run(params: dict, rng: np.random.Generator) -> dict:
    x = rng.standard_normal(params["draws"])
    if params["sleep_s"] > 0:
        time.sleep(params["sleep_s"])
    return {"mean": float(x.mean()), "sample": x[:8].copy(), "sum_sq": float(np.dot(x, x))}


SELFTEST = register(
    Experiment(
        name="selftest",
        description="store/sweep self-test: seeded normal draws per run (checks backends and resuming)",
        config=SelfTestConfig,
        points=_points,
        run=_run,
        quick={"runs": 4},
    )
)
