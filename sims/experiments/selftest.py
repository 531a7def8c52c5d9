"""A cheap experiment that exercises the store and the sweep backends.

Each run draws a few numbers from its own generator (and optionally sleeps), so
tests and users can check that a sweep is reproducible across backends and
resumes after a crash: ``ibl run selftest --scheduler tcp://HOST:PORT``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sims.experiment import Experiment, Interval, Settings, register, setting

__all__ = ["SELFTEST", "SelfTestConfig", "SelfTestPoint", "SelfTestResult"]


@dataclass(frozen=True)
class SelfTestConfig(Settings):
    """Settings of ``selftest`` (defaults = full mode)."""

    runs: int = setting(16, Interval(int, 1, None), "number of runs in the sweep")
    draws: int = setting(1000, Interval(int, 1, None), "normal draws per run (the first 8 are stored)")
    sleep_s: float = setting(0.0, Interval(float, 0.0, 60.0), "seconds each run sleeps (to test resuming)")
    seed: int = setting(0, Interval(int, 0, None), "entropy of the runs' SeedSequence")


@dataclass(frozen=True)
class SelfTestPoint(Settings):
    """One run: ``draws`` normal numbers, then ``sleep_s`` seconds of sleep."""

    draws: int = setting(1000, Interval(int, 1, None))
    sleep_s: float = setting(0.0, Interval(float, 0.0, 60.0))
    point: int = setting(0, Interval(int, 0, None), "position in the sweep")


@dataclass(frozen=True)
class SelfTestResult:
    """``mean`` and ``sum_sq`` of the draws, and the first 8 draws ``sample`` (8,)."""

    mean: float
    sample: np.ndarray
    sum_sq: float


def _points(cfg: SelfTestConfig) -> list[SelfTestPoint]:
    return [SelfTestPoint(draws=cfg.draws, sleep_s=cfg.sleep_s, point=i) for i in range(cfg.runs)]


def _run(point: SelfTestPoint, rng: np.random.Generator) -> SelfTestResult:
    x = rng.standard_normal(point.draws)
    if point.sleep_s > 0:
        time.sleep(point.sleep_s)
    return SelfTestResult(mean=float(x.mean()), sample=x[:8].copy(), sum_sq=float(np.dot(x, x)))


SELFTEST = register(
    Experiment(
        name="selftest",
        description="store/sweep self-test: seeded normal draws per run (checks backends and resuming)",
        config=SelfTestConfig,
        point=SelfTestPoint,
        result=SelfTestResult,
        points=_points,
        run=_run,
        quick={"runs": 4},
    )
)
