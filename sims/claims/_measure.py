"""Reading typed runs from the store for the claim records (no arithmetic of the claims here)."""

from __future__ import annotations

import math

import numpy as np

from sims.claims._record import Measurement, Missing

__all__ = ["CHECKPOINT_SLACK", "at_horizon", "latest_runs", "provenance", "trajectory_measurement"]


def latest_runs(store, experiment: str):
    """``(manifest, typed runs)`` of the latest complete sweep, or :class:`Missing`."""
    from sims.experiment import load_runs

    try:
        return load_runs(store, experiment)
    except LookupError:
        return Missing(f"no complete sweep of {experiment!r} in the store")


def _code_digest(meta: dict) -> str:
    """The run's code digest: ``meta["code"]["digest"]`` (the store's code digests), if recorded."""
    code = meta.get("code")
    return str(code["digest"]) if isinstance(code, dict) and isinstance(code.get("digest"), str) else ""


def provenance(manifest: dict, runs) -> dict:
    """Run keys, sweep key, quick flag, seeds and code digests (where the store records them)."""
    digests = sorted({d for r in runs if (d := _code_digest(r.meta))})
    return {
        "run_keys": tuple(r.key for r in runs),
        "sweep_key": str(manifest.get("sweep_key", "")),
        "quick": bool(manifest.get("quick", False)),
        "digests": tuple(digests),
        "seeds": (f"sweep seed {manifest.get('config', {}).get('seed', '?')}",),
    }


def at_horizon(steps, values, k: float) -> tuple[float, float]:
    """``(k_used, value)`` at the last checkpoint <= ``k`` with a finite value (NaN if none)."""
    steps = np.asarray(steps, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    ok = (steps <= k) & np.isfinite(values)
    if not ok.any():
        return math.nan, math.nan
    i = np.flatnonzero(ok)[-1]
    return float(steps[i]), float(values[i])


#: A checkpoint within this factor of a claim's horizon counts as at it: log-spaced
#: checkpoints (200 over 5-6 decades) are a factor <= 1.07 apart.
CHECKPOINT_SLACK = 1.1  # from: checkpoint spacing (comment above)


def trajectory_measurement(steps, values, horizon: float, what: str, prov: dict, inputs: dict | None = None,
                           note: str = "") -> Measurement:
    """A deterministic trajectory value at ``horizon`` (and at the run's end, when later).

    The value is exact for the run (no sampling noise), so its uncertainty is 0; the
    horizon at which it is read is part of the measurement. The checkpoint read is the
    last one <= ``horizon``; when it is within ``CHECKPOINT_SLACK`` below, it counts as
    the nominal horizon (its own k goes in the note): never a later checkpoint.
    """
    k_read, v = at_horizon(steps, values, horizon)
    k = k_read
    if math.isfinite(k_read) and k_read * CHECKPOINT_SLACK >= horizon:
        note = (note + "; " if note else "") + f"checkpoint k = {k_read:g}"
        k = horizon
    k_end, v_end = at_horizon(steps, values, math.inf)
    later = (k_end, v_end, 0) if k_end > k_read else None
    if not math.isfinite(k):
        return Missing(f"{what}: no finite value at or before the horizon {horizon:g}")
    return Measurement(value=v, uncertainty=0, uncertainty_kind="exact (deterministic run)", horizon=k,
                       inputs=inputs or {}, later=later, note=note, **prov)
