"""Figures: one script per figure, each reading stored results only.

Every module ``figures/<name>.py`` defines ``DESCRIPTION``, ``EXPERIMENTS`` (the
experiments it reads) and ``draw(store, outdir) -> list[Path]``, and can be run as
``python -m figures.<name>``. Figures use the latest complete sweep of each
experiment in the store; numbers they fit (slopes, CIs) are written next to the
manuscript in ``paper/numbers/<name>.json``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FIGURES", "Figure", "make_figure", "style_path"]


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


def make_figure(name: str, store=None, outdir: str | Path = "paper/figures") -> list[Path]:
    """Draw one figure from the store; raises ``LookupError`` if its results are missing."""
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
    from sims.store import ResultStore

    mod = importlib.import_module(f"figures.{name}")
    return mod.draw(store if store is not None else ResultStore(), Path(outdir))
