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
from theory._validation import as_int  # noqa: E402

__all__ = ["LABELS", "LEARNER_LABELS", "LEARNER_STYLE", "LEARNER_SYMBOLS", "LINESTYLES", "MARKERS", "METHOD_STYLE",
           "PALETTE", "TAG_PREFIX", "declutter_ticks", "draw_with", "figure_legend", "integer_log_axis", "load_runs",
           "note", "plt", "runs_by_panel", "save", "series_style", "style", "tag", "value_log_axis", "write_numbers"]

#: Okabe & Ito (2008) colour-blind-safe palette, in the order of the style file's colour
#: cycle (``"C0"`` is ``PALETTE[0]``, ...).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
#: Markers that tell series apart in grey scale; series ``i`` gets ``MARKERS[i % len]``.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Line styles with a meaning inside one figure (e.g. soft solid, hard dashed).
LINESTYLES = ("-", "--", "-.", ":")


def series_style(i: int, *, dense: bool = False) -> dict:
    """Colour and marker of series ``i`` (cycled): keyword arguments for ``Axes.plot``.

    ``dense=True`` (curves with hundreds of recorded points) places the markers every
    tenth of the line's length (``markevery=0.1``) so that they mark the series in grey
    scale without hiding the curve.
    """
    i = as_int(i, "i", low=0)
    out = {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[i % len(MARKERS)]}
    if dense:
        out |= {"markevery": 0.1, "markersize": 3.5}
    return out


#: Learners of the transfer figures: the same colour and marker in every figure.
LEARNER_STYLE = {learner: series_style(i) for i, learner in enumerate(("ce_sgl", "ce_ptl", "sel_ptl", "ce_ful"))}
#: Optimisers of the NTP figures: the same colour and marker in every figure.
METHOD_STYLE = {method: series_style(i, dense=True) for i, method in enumerate(("gd", "ngd", "adam"))}

#: The learners' names in mathtext, and as legend labels with their level.
LEARNER_SYMBOLS = {"ce_sgl": r"$\mathrm{CE}_{\mathrm{sgl}}$", "ce_ptl": r"$\mathrm{CE}_{\mathrm{ptl}}$",
                   "sel_ptl": r"$\mathrm{SEL}_{\mathrm{ptl}}$", "ce_ful": r"$\mathrm{CE}_{\mathrm{ful}}$"}
LEARNER_LABELS = {k: f"{v} (level {lvl})" for (k, v), lvl in zip(LEARNER_SYMBOLS.items(), (1, 2, 2, 3))}

#: Axis labels with the glossary's symbols (README, "Glossary"), shared by the figures.
LABELS = {
    "n": r"sample size $n$",
    "k": r"iteration $k$",
    "log_k": r"$\log k$",
    "inv_log_k": r"$1/\log k$",
    "width": r"width $m$",
    "student_width": r"student width $m$",
    "tv_risk": r"TV risk $\mathrm{TV}(\hat\pi, \pi^\star\,|\,\rho)$",
    "eps": r"target $\varepsilon$",
    "gamma2": r"kernel margin $\gamma_2$",
}

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


def declutter_ticks(fig, pad_px: float = 2.0) -> None:
    """Drop minor tick labels that would touch another tick label of the same axis.

    On log axes spanning about a decade, matplotlib labels minor ticks
    (``2x10^-1 3x10^-1 4x10^-1 ...``) and, on short axes, these overlap. Major labels are
    kept; a minor label is kept only if it clears every label kept before it by
    ``pad_px``. Call after drawing (the figure is drawn here to measure the labels);
    :func:`save` and :func:`figures.build_figure` call it.
    """
    from matplotlib.ticker import FuncFormatter

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())

            def shown(ticks, locs):
                return [(loc, t.label1, t.label1.get_window_extent(renderer)) for t, loc in zip(ticks, locs)
                        if lo <= loc <= hi and t.label1.get_visible() and t.label1.get_text()]

            kept = [bb for _, _, bb in shown(axis.get_major_ticks(), axis.get_majorticklocs())]
            drop = set()
            for loc, _, bb in shown(axis.get_minor_ticks(), axis.get_minorticklocs()):
                if any(bb.x0 - pad_px < k.x1 and k.x0 - pad_px < bb.x1 and bb.y0 - pad_px < k.y1
                       and k.y0 - pad_px < bb.y1 for k in kept):
                    drop.add(loc)
                else:
                    kept.append(bb)
            if drop:
                original = axis.get_minor_formatter()
                axis.set_minor_formatter(FuncFormatter(
                    lambda v, pos, original=original, drop=frozenset(drop): "" if v in drop else original(v, pos)))


def save(fig, outdir: Path, name: str) -> list[Path]:
    declutter_ticks(fig)
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


def figure_legend(fig, handles=None, labels=None, *, ncol: int = 4, loc: str | None = None):
    """One legend for the whole figure, outside the axes.

    With constrained layout (the style's default) ``"outside ..."`` locations reserve
    room for the legend, so it covers neither data nor the panels' titles. The default
    ``loc`` is above the panels, or below them when the figure already has a suptitle
    (constrained layout stacks the two at the same height otherwise). ``handles`` and
    ``labels`` default to those of the first axes.
    """
    if handles is None:
        handles, labels = fig.axes[0].get_legend_handles_labels()
    if loc is None:
        loc = "outside lower center" if fig.get_suptitle() else "outside upper center"
    return fig.legend(handles, labels, loc=loc, ncol=ncol)


def note(ax, text: str, *, loc: str = "best", fontsize: float = 7):
    """A boxed text in ``ax`` placed where it covers the fewest plotted points (``loc="best"``).

    Drawn as a legend without handles so that matplotlib's legend placement picks the
    emptiest corner; the axes' own legend, if any, is kept.
    """
    from matplotlib.lines import Line2D

    previous = ax.get_legend()
    box = ax.legend([Line2D([], [], ls="none")], [text], loc=loc, handlelength=0, handletextpad=0,
                    fontsize=fontsize, borderpad=0.4)
    if previous is not None:
        ax.add_artist(previous)
    return box


def value_log_axis(ax, values, axis: str = "x", fmt: str = ".2g") -> None:
    """Label a short log axis at the given values only (e.g. the targets ε), formatted with ``fmt``.

    Matplotlib's default labels a range shorter than a decade with crowded minor labels
    (``4x10^-1 3x10^-1``) that collide.
    """
    import numpy as np
    from matplotlib.ticker import NullFormatter, NullLocator

    vals = np.unique(np.asarray(values, dtype=np.float64))
    vals = vals[np.isfinite(vals) & (vals > 0)]
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_minor_locator(NullLocator())
    target.set_minor_formatter(NullFormatter())
    (ax.set_xticks if axis == "x" else ax.set_yticks)(vals, [format(v, fmt) for v in vals])


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
