"""Shared helpers of the figure scripts: style, typed runs, provenance tags, saving, numbers.

Every figure module defines ``make(store) -> (fig, numbers)`` (numbers: a dict of fitted
values, or None) and ``draw(store, outdir)``, which saves what ``make`` drew.

Provenance: an artist that shows stored data carries a ``gid`` made by :func:`tag`, which
says which stored values it plots (run keys and attribute paths such as
``result.metrics.gap``); ``tests/figures/test_figures.py`` reads the data back from the
store and checks that the plotted numbers are exactly the stored ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sims.experiment import load_runs  # noqa: E402
from sims.store import atomic_write_text  # noqa: E402

__all__ = ["LEARNER_LABELS", "TAG_PREFIX", "draw_with", "load_runs", "plt", "runs_by_panel", "save", "style", "tag",
           "write_numbers"]

LEARNER_LABELS = {"ce_sgl": "CE_sgl (level 1)", "ce_ptl": "CE_ptl (level 2)", "sel_ptl": "SEL_ptl (level 2)", "ce_ful": "CE_ful (level 3)"}

#: Start of the ``gid`` of artists that plot stored values.
TAG_PREFIX = "stored:"
#: Transforms a figure may apply to stored values before plotting (names used in tags).
TRANSFORMS = ("log", "inv_log")


def style():
    from figures import style_path

    plt.style.use(str(style_path()))


def runs_by_panel(store, experiment: str):
    """``(manifest, {panel: [TypedRun, ...] sorted by n})`` of the latest complete sweep."""
    manifest, runs = load_runs(store, experiment)
    panels: dict[str, list] = {}
    for r in runs:
        panels.setdefault(r.point.panel, []).append(r)
    for v in panels.values():
        v.sort(key=lambda r: r.point.n)
    return manifest, panels


def _ref(runs, path: str, transform: str | None) -> dict:
    if transform is not None and transform not in TRANSFORMS:
        raise ValueError(f"transform must be one of {TRANSFORMS} or None, got {transform!r}")
    if isinstance(runs, (list, tuple)):
        return {"runs": [r.key for r in runs], "path": path, "transform": transform}
    return {"run": runs.key, "path": path, "transform": transform}


def tag(artist, runs, y: str, x: str | None = None, *, x_runs=None, x_transform: str | None = None,
        y_transform: str | None = None):
    """Mark ``artist`` as plotting stored values; returns the artist.

    Parameters
    ----------
    artist : Line2D or AxesImage
    runs : TypedRun or list of TypedRun
        One run (``y`` is an array attribute of it) or several (``y`` is a scalar
        attribute of each, one plotted point per run).
    y, x : str
        Attribute paths from the run, e.g. ``"result.metrics.gap"``, ``"point.n"``
        (``x`` None for images).
    x_runs : optional
        Runs of ``x`` if they differ from ``runs``.
    x_transform, y_transform : {"log", "inv_log"} or None
        Elementwise ``np.log`` or ``1 / np.log`` applied before plotting.
    """
    spec = {"y": _ref(runs, y, y_transform)}
    if x is not None:
        spec["x"] = _ref(x_runs if x_runs is not None else runs, x, x_transform)
    artist.set_gid(TAG_PREFIX + json.dumps(spec, sort_keys=True))
    return artist


def save(fig, outdir: Path, name: str) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = outdir / f"{name}.{ext}"
        tmp = p.with_name(f".{p.name}.tmp.{ext}")
        fig.savefig(tmp)
        tmp.replace(p)
        paths.append(p)
    plt.close(fig)
    return paths


def write_numbers(name: str, numbers: dict, outdir: Path) -> Path:
    """Write fitted numbers to ``paper/numbers/<name>.json`` (sibling of the figure folder)."""
    p = outdir.parent / "numbers" / f"{name}.json"
    atomic_write_text(p, json.dumps(numbers, indent=2, sort_keys=True) + "\n")
    return p


def draw_with(make, name: str, store, outdir: Path) -> list[Path]:
    """``make(store)``, then write its numbers (if any) and save the figure; returns the PNG and PDF paths."""
    fig, numbers = make(store)
    if numbers is not None:
        write_numbers(name, numbers, Path(outdir))
    return save(fig, Path(outdir), name)


def integer_log_axis(ax, axis: str = "x", base: int = 2) -> None:
    """Label a log axis of counts (widths, neurons) with plain integers at powers of ``base``.

    Matplotlib's default labels a short log range with crowded minor labels
    (``2x10^1 3x10^1 ...``); counts read better as 4, 8, 16, ...
    """
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=base))
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())
