"""Experiments are data: a typed config, typed run points, a run function and a typed result.

An :class:`Experiment` bundles

* ``config``: a frozen :class:`~sims.experiments._schema.Settings` dataclass whose
  defaults are the *full* (paper-scale) settings and whose fields carry constraints
  (checked when it is built, e.g. from ``--set``); ``quick`` holds the overrides for
  the fast smoke-scale mode;
* ``point``: the frozen ``Settings`` dataclass of one run's parameters;
* ``points(config) -> list[point]``: the sweep;
* ``result``: the frozen dataclass a run returns;
* ``run(point, rng) -> result``: one run, a pure function of its point and a
  :class:`numpy.random.Generator`.

The store writes ``point.to_params()`` and :func:`~sims.experiments._schema.encode`
of the result (arrays keep their exact bytes); :func:`load_runs` reads a sweep back
as :class:`TypedRun` objects, whose ``point`` and ``result`` are the typed objects
again (figures read ``run.result.metrics.gap``).

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

from sims.experiments._schema import (
    Boolean,
    Constraint,
    Interval,
    Options,
    Settings,
    Text,
    Tuple,
    decode,
    encode,
    setting,
    settings_table,
)
from sims.store import stable_hash

__all__ = [
    "Boolean",
    "Constraint",
    "Experiment",
    "Interval",
    "Options",
    "RunSpec",
    "Settings",
    "Text",
    "Tuple",
    "TypedRun",
    "config_dict",
    "decode",
    "describe",
    "encode",
    "get_experiment",
    "list_experiments",
    "load_runs",
    "make_config",
    "register",
    "run_specs",
    "setting",
    "settings_table",
]


def _is_settings(cls: Any) -> bool:
    return isinstance(cls, type) and issubclass(cls, Settings) and cls.__dataclass_params__.frozen


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
        Frozen :class:`Settings` subclass; its defaults are the full-mode settings and
        it must have an integer field ``seed``.
    point : type
        Frozen :class:`Settings` subclass: the parameters of one run.
    result : type
        Frozen dataclass returned by ``run``.
    points : callable
        ``points(config) -> list[point]``, the sweep.
    run : callable
        ``run(point, rng) -> result``, module-level (so worker processes can import it).
    quick : mapping
        Field overrides that define quick mode (checked against the config's constraints).
    version : int
        Bump when the run function's output changes meaning; old results are then
        no longer matched.
    figures : tuple of str
        Names of the figures (in :mod:`figures`) drawn from this experiment.
    """

    name: str
    description: str
    config: type
    point: type
    result: type
    points: Callable[[Any], list]
    run: Callable[[Any, np.random.Generator], Any]
    quick: Mapping[str, Any] = field(default_factory=dict)
    version: int = 1
    figures: tuple[str, ...] = ()

    def __post_init__(self):
        for what in ("config", "point"):
            if not _is_settings(getattr(self, what)):
                raise TypeError(f"Experiment {self.name!r}: {what} must be a frozen dataclass subclassing Settings")
        if not (dataclasses.is_dataclass(self.result) and self.result.__dataclass_params__.frozen):
            raise TypeError(f"Experiment {self.name!r}: result must be a frozen dataclass")
        names = {f.name for f in dataclasses.fields(self.config)}
        if "seed" not in names:
            raise TypeError(f"Experiment {self.name!r}: config needs an integer field 'seed'")
        unknown = set(self.quick) - names
        if unknown:
            raise TypeError(f"Experiment {self.name!r}: quick overrides unknown fields {sorted(unknown)}")

    def runner(self) -> "TypedRunner":
        """The ``(params dict, rng) -> result dict`` function the sweep backends call."""
        return TypedRunner(self.point, self.run)

    def decode_result(self, data: dict):
        """The typed result from a stored result mapping."""
        return decode(self.result, data)


@dataclass(frozen=True)
class TypedRunner:
    """Picklable adapter between the store's plain parameters/results and the typed run function."""

    point: type
    run: Callable[[Any, np.random.Generator], Any]

    def __call__(self, params: dict, rng: np.random.Generator) -> dict:
        result = self.run(self.point.from_params(params), rng)
        return encode(result)


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


@dataclass(frozen=True)
class TypedRun:
    """One stored run read back with its types.

    Attributes
    ----------
    key : str
        The run's store key.
    experiment : str
    point : Settings
        The run's parameters (the experiment's point class).
    result : dataclass
        The run's result (the experiment's result class).
    meta : dict
        Seed, index, package versions, solvers, threads, wall time, ...
    """

    key: str
    experiment: str
    point: Any
    result: Any
    meta: dict


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
        if not mod.name.startswith("_"):
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
    Every value is checked against the setting's constraint; a bad one raises
    ``ValueError``/``TypeError`` with one line ``--set NAME=VALUE: ...`` that says what
    is accepted (and ``ibl show NAME`` lists all settings).

    Raises
    ------
    ValueError, TypeError
        Unknown setting, a value outside its constraint, or settings that contradict
        each other.
    """
    changes: dict[str, Any] = dict(experiment.quick) if quick else {}
    valid = [f.name for f in dataclasses.fields(experiment.config)]
    raw_text: dict[str, str] = {}
    for key, raw in (overrides or {}).items():
        if key not in valid:
            raise ValueError(
                f"--set {key}: {experiment.name!r} has no setting {key!r}; valid settings: {', '.join(valid)}"
            )
        value = _parse(raw) if isinstance(raw, str) else raw
        raw_text[key] = raw if isinstance(raw, str) else repr(raw)
        changes[key] = _freeze(value)
    try:
        return experiment.config(**changes)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        # name the --set that failed (constraint messages start with "NAME: " or "NAME[i]")
        for key, text in raw_text.items():
            if msg.startswith(key + ": "):
                raise type(exc)(f"--set {key}={text}: {msg[len(key) + 2:]}") from None
            if msg.startswith(key + "["):
                raise type(exc)(f"--set {key}={text}: {msg}") from None
        if raw_text:
            sets = " ".join(f"{k}={v}" for k, v in raw_text.items())
            raise type(exc)(f"--set {sets}: {msg}") from None
        raise


def run_specs(experiment: Experiment, config) -> list[RunSpec]:
    """Expand a config into its runs, each with its index, seed and store key.

    Raises
    ------
    ValueError
        If the config yields no run at all (an empty sweep is a mistake, not a result).
    """
    points = experiment.points(config)
    if not points:
        raise ValueError(
            f"{experiment.name}: these settings give an empty sweep (no run points): {config!r}"
        )
    runner = experiment.runner()
    specs = []
    for i, p in enumerate(points):
        if not isinstance(p, experiment.point):
            raise TypeError(f"{experiment.name}: points() must return {experiment.point.__name__} objects, "
                            f"got {type(p).__name__}")
        specs.append(RunSpec(experiment=experiment.name, version=experiment.version, index=i,
                             seed=int(config.seed), params=p.to_params(), run=runner))
    return specs


def config_dict(config) -> dict:
    """A config as a plain dict (tuples stay lists in JSON)."""
    return dataclasses.asdict(config)


def typed_run(experiment: Experiment, stored) -> TypedRun:
    """A :class:`sims.store.StoredRun` with its point and result decoded to their types."""
    return TypedRun(key=stored.key, experiment=stored.experiment,
                    point=experiment.point.from_params(stored.params),
                    result=experiment.decode_result(stored.result), meta=stored.meta)


def load_runs(store, experiment: Experiment | str, manifest: dict | None = None) -> tuple[dict, list[TypedRun]]:
    """Load every run of a sweep (default: the latest complete one) as :class:`TypedRun`, in sweep order.

    Raises
    ------
    LookupError
        If nothing complete is stored; the message says which command to run.
    """
    from sims.sweep import load_sweep_runs  # sims.sweep imports this module

    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    manifest, runs = load_sweep_runs(store, exp.name, manifest)
    return manifest, [typed_run(exp, r) for r in runs]


def _fmt(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(experiment: Experiment | str) -> str:
    """What ``ibl show NAME`` prints: settings with types, defaults, quick values and constraints,
    the run point and result types, the figures it feeds and the commands to run it."""
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    rows = settings_table(exp.config, dict(exp.quick))
    lines = [f"{exp.name} (version {exp.version}): {exp.description}", ""]
    lines.append("Settings (--set NAME=VALUE; 'quick' is the value under --quick):")
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        quick = "" if r["quick"] == r["default"] else f"   quick: {_fmt(r['quick'])}"
        lines.append(f"  {r['name']:<{w}}  {r['type']:<6} default: {_fmt(r['default'])}{quick}")
        if r["constraint"]:
            lines.append(f"  {'':<{w}}  expects {r['constraint']}")
        if r["doc"]:
            lines.append(f"  {'':<{w}}  {r['doc']}")
    point_fields = ", ".join(f.name for f in dataclasses.fields(exp.point))
    result_fields = ", ".join(f.name for f in dataclasses.fields(exp.result))
    lines += [
        "",
        f"Run point: {exp.point.__module__}.{exp.point.__name__} ({point_fields})",
        f"Result:    {exp.result.__module__}.{exp.result.__name__} ({result_fields})",
        f"Figures:   {', '.join(exp.figures) if exp.figures else '(none)'}",
        "",
        "Run it:",
        f"  ibl run {exp.name} --quick          # smoke scale",
        f"  ibl run {exp.name}                  # full scale",
        f"  ibl run {exp.name} --set NAME=VALUE # change a setting (repeatable)",
    ]
    if exp.figures:
        lines.append(f"  ibl figures {' '.join(exp.figures)}")
    return "\n".join(lines)
