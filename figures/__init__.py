"""Figures: one script per figure, each reading stored results only.

Every module ``figures/<name>.py`` defines ``DESCRIPTION`` (one line), ``CAPTION`` (the
figure's caption, shared by the gallery and the manuscript: plain text with inline math in
``$...$``, valid as Markdown and as LaTeX, no result typed by hand), ``EXPERIMENTS`` (the
experiments it reads), ``make(store) -> (matplotlib Figure, numbers dict or None)`` and
``draw(store, outdir) -> list[Path]`` (which saves what ``make`` drew), and can be run as
``python -m figures.<name>``. Figures read typed runs (:func:`sims.experiment.load_runs`)
by attribute. Figures use the latest complete sweep of each
experiment in the store; numbers they fit (slopes, CIs) are written next to the
manuscript in ``paper/numbers/<name>.json``. ``ibl figures`` also writes the gallery
``<outdir>/README.md`` (:func:`write_gallery`): every image with its caption and the
commands that regenerate it.

A figure never runs a simulation: with its results missing it raises ``LookupError``
whose message names the ``ibl run`` command to use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from figures._gallery import GALLERY_NAME, regenerate_commands, render_gallery, write_gallery

__all__ = ["FIGURES", "GALLERY_NAME", "Figure", "build_figure", "captions", "figure_info", "make_figure",
           "regenerate_commands", "render_gallery", "style_path", "write_gallery"]


@dataclass(frozen=True)
class Figure:
    """A registered figure: module name, one-line description, experiments read, caption."""

    name: str
    description: str
    experiments: tuple[str, ...]
    caption: str = ""


def _discover() -> tuple[str, ...]:
    """Names of the figure scripts: every ``figures/<name>.py`` not starting with ``_``."""
    import pkgutil

    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")))


_MODULES = _discover()


def _load() -> dict[str, Figure]:
    out = {}
    for name in _MODULES:
        mod = importlib.import_module(f"figures.{name}")
        # a module without CAPTION still loads; tests/figures/test_gallery.py fails on it
        out[name] = Figure(name, mod.DESCRIPTION, tuple(mod.EXPERIMENTS), getattr(mod, "CAPTION", ""))
    return out


FIGURES: dict[str, Figure] = _load()


def style_path() -> Path:
    return Path(__file__).with_name("ibl.mplstyle")


def figure_info(name: str) -> Figure:
    """The registered :class:`Figure` called ``name``; ``ValueError`` lists the known names."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a figure name (str), got {type(name).__name__}: {name!r}")
    if name not in FIGURES:
        raise ValueError(f"unknown figure {name!r}; known figures: {', '.join(FIGURES)}")
    return FIGURES[name]


def captions() -> dict[str, str]:
    """``{figure name: caption}`` for every figure (the ``CAPTION`` of ``figures/<name>.py``).

    One source for the gallery and the manuscript: plain text with inline math between
    ``$`` signs and no LaTeX special character outside it, so the same string is valid
    Markdown and LaTeX.
    """
    return {name: fig.caption for name, fig in FIGURES.items()}


def _module(name: str):
    return importlib.import_module(f"figures.{figure_info(name).name}")


def build_figure(name: str, store=None):
    """Draw one figure from the store without saving it: ``(matplotlib Figure, numbers or None)``.

    Raises ``LookupError`` if its results are missing.
    """
    from figures._common import declutter_ticks
    from sims.store import ResultStore

    fig, numbers = _module(name).make(store if store is not None else ResultStore())
    declutter_ticks(fig)  # as save() does: the figure as it is saved
    return fig, numbers


def make_figure(name: str, store=None, outdir: str | Path = "paper/figures") -> list[Path]:
    """Draw one figure from the store and save it; raises ``LookupError`` if its results are missing."""
    from sims.store import ResultStore

    return _module(name).draw(store if store is not None else ResultStore(), Path(outdir))
