"""Experiments are data: a frozen config, a list of run points, and a run function.

An :class:`Experiment` bundles

* ``config``: a frozen dataclass whose defaults are the *full* (paper-scale)
  settings; ``quick`` holds the overrides for the fast smoke-scale mode;
* ``points(config) -> list[dict]``: the sweep, one JSON-able parameter dict per run;
* ``run(params, rng) -> dict``: one run, a pure function of its parameters and a
  :class:`numpy.random.Generator`.

Each run gets its generator from ``SeedSequence(config.seed, spawn_key=(index,))``
(index = position in the sweep), so a run's numbers do not depend on how many
workers compute the sweep or in which order. A run's store key hashes the
experiment name, its version, the parameters, the seed and the index.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from sims.store import stable_hash

__all__ = [
    "Experiment",
    "RunSpec",
    "get_experiment",
    "list_experiments",
    "make_config",
    "register",
    "run_specs",
]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment.

    Attributes
    ----------
    name : str
        Registry name, used on the command line (``ibl run NAME``).
    description : str
        One line shown by ``ibl list``.
    config : type
        Frozen dataclass; its defaults are the full-mode settings and it must have
        an integer field ``seed``.
    points : callable
        ``points(config) -> list[dict]``, the sweep's run parameters (JSON-able).
    run : callable
        ``run(params, rng) -> dict``, module-level (so worker processes can import it).
    quick : mapping
        Field overrides that define quick mode.
    version : int
        Bump when the run function's output changes meaning; old results are then
        no longer matched.
    figures : tuple of str
        Names of the figures (in :mod:`figures`) drawn from this experiment.
    """

    name: str
    description: str
    config: type
    points: Callable[[Any], list]
    run: Callable[[dict, np.random.Generator], dict]
    quick: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    figures: tuple[str, ...] = ()

    def __post_init__(self):
        if not (dataclasses.is_dataclass(self.config) and self.config.__dataclass_params__.frozen):
            raise TypeError(f"Experiment {self.name!r}: config must be a frozen dataclass")
        names = {f.name for f in dataclasses.fields(self.config)}
        if "seed" not in names:
            raise TypeError(f"Experiment {self.name!r}: config needs an integer field 'seed'")
        unknown = set(self.quick) - names
        if unknown:
            raise TypeError(f"Experiment {self.name!r}: quick overrides unknown fields {sorted(unknown)}")


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: everything a worker needs, and the store key."""

    experiment: str
    version: int
    index: int
    seed: int
    params: dict
    run: Callable[[dict, np.random.Generator], dict]

    @property
    def key(self) -> str:
        return stable_hash(
            {
                "experiment": self.experiment,
                "version": self.version,
                "index": self.index,
                "seed": self.seed,
                "params": self.params,
            }
        )

    def seed_sequence(self) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(self.index,))


_REGISTRY: dict[str, Experiment] = {}
_DISCOVERED = False


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (re-registering the same name replaces it)."""
    _REGISTRY[experiment.name] = experiment
    return experiment


def _discover() -> None:
    global _DISCOVERED
    if _DISCOVERED:
        return
    import sims.experiments as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"sims.experiments.{mod.name}")
    _DISCOVERED = True


def list_experiments() -> list[Experiment]:
    """All registered experiments, sorted by name."""
    _discover()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def get_experiment(name: str) -> Experiment:
    """Look an experiment up by name; unknown names list the valid ones."""
    _discover()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown experiment {name!r}; registered experiments: {', '.join(sorted(_REGISTRY))}"
        ) from None


def _coerce(value: Any, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        raise TypeError(f"--set {name}: expected true/false, got {value!r}")
    if isinstance(default, int) and not isinstance(default, bool):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"--set {name}: expected an integer, got {value!r}")
    if isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise TypeError(f"--set {name}: expected a number, got {value!r}")
    if isinstance(default, tuple):
        if isinstance(value, (list, tuple)):
            return _freeze(value)
        return (value,)
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


def _parse(text: str) -> Any:
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def make_config(experiment: Experiment, quick: bool = False, overrides: Mapping[str, Any] | None = None):
    """Build an experiment's config: full defaults, then quick overrides, then ``overrides``.

    ``overrides`` values may be strings from ``--set key=value`` (parsed as Python
    literals, e.g. ``n_grid=(100,1000)``, ``repeats=2000``) or already-typed values.
    """
    base = experiment.config()
    changes: dict[str, Any] = dict(experiment.quick) if quick else {}
    valid = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
    for key, raw in (overrides or {}).items():
        if key not in valid:
            raise ValueError(
                f"--set {key}: {experiment.name!r} has no setting {key!r}; valid settings: {', '.join(valid)}"
            )
        value = _parse(raw) if isinstance(raw, str) else raw
        changes[key] = _coerce(value, valid[key], key)
    return dataclasses.replace(base, **changes)


def run_specs(experiment: Experiment, config) -> list[RunSpec]:
    """Expand a config into its runs, each with its index, seed and store key."""
    points = experiment.points(config)
    return [
        RunSpec(
            experiment=experiment.name,
            version=experiment.version,
            index=i,
            seed=int(config.seed),
            params=dict(p),
            run=experiment.run,
        )
        for i, p in enumerate(points)
    ]


def config_dict(config) -> dict:
    """A config as a plain dict (tuples stay lists in JSON)."""
    return dataclasses.asdict(config)
