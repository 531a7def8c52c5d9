"""Figures: one script per figure, each reading stored results only.

Every module ``figures/<name>.py`` defines ``DESCRIPTION``, ``EXPERIMENTS`` (the
experiments it reads), ``make(store) -> (matplotlib Figure, numbers dict or None)`` and
``draw(store, outdir) -> list[Path]`` (which saves what ``make`` drew), and can be run as
``python -m figures.<name>``. Figures read typed runs (:func:`sims.experiment.load_runs`)
by attribute. Figures use the latest complete sweep of each
experiment in the store; numbers they fit (slopes, CIs) are written next to the
manuscript in ``paper/numbers/<name>.json``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FIGURES", "Figure", "build_figure", "make_figure", "style_path"]


@dataclass(frozen=True)
class Figure:
    name: str
    description: str
    experiments: tuple[str, ...]


def _discover() -> tuple[str, ...]:
    """Names of the figure scripts: every ``figures/<name>.py`` not starting with ``_``."""
    import pkgutil

    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


_MODULES = _discover()


def _load() -> dict[str, Figure]:
    out = {}
    for name in _MODULES:
        mod = importlib.import_module(f"figures.{name}")
        out[name] = Figure(name, mod.DESCRIPTION, tuple(mod.EXPERIMENTS))
    return out


FIGURES: dict[str, Figure] = _load()


def style_path() -> Path:
    return Path(__file__).with_name("ibl.mplstyle")


def _module(name: str):
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
    return importlib.import_module(f"figures.{name}")


def build_figure(name: str, store=None):
    """Draw one figure from the store without saving it: ``(matplotlib Figure, numbers or None)``.

    Raises ``LookupError`` if its results are missing.
    """
    from sims.store import ResultStore

    return _module(name).make(store if store is not None else ResultStore())


def make_figure(name: str, store=None, outdir: str | Path = "paper/figures") -> list[Path]:
    """Draw one figure from the store and save it; raises ``LookupError`` if its results are missing."""
    from sims.store import ResultStore

    return _module(name).draw(store if store is not None else ResultStore(), Path(outdir))
