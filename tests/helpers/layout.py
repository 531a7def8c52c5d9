"""Layout checks of drawn figures: text that collides, boxes that hide plotted points.

Both work on display coordinates after ``fig.canvas.draw()``, so they see the figure as
saved (constrained layout applied). Tick labels count only for ticks inside the view
interval (matplotlib keeps invisible labels for ticks beyond the limits).
"""

from __future__ import annotations

import itertools

import numpy as np
from matplotlib.legend import Legend


def _tick_labels(axis) -> list:
    lo, hi = sorted(axis.get_view_interval())
    pad = (hi - lo) * 1e-9
    out = []
    for ticks, locs in ((axis.get_major_ticks(), axis.get_majorticklocs()),
                        (axis.get_minor_ticks(), axis.get_minorticklocs())):
        for tick, loc in zip(ticks, locs):
            if lo - pad <= loc <= hi + pad:
                out += [lab for lab in (tick.label1, tick.label2) if lab.get_visible()]
    return out


def _name(artist) -> str:
    return "legend" if isinstance(artist, Legend) else repr(artist.get_text())[:50]


def _legends(ax) -> list:
    return [a for a in [ax.get_legend(), *ax.artists] if isinstance(a, Legend)]


def text_items(fig) -> list:
    """Every visible text of the figure (titles, axis and tick labels, texts) and every legend box."""
    items = [t for t in (fig._suptitle, fig._supxlabel, fig._supylabel) if t is not None] + list(fig.legends)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        items += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        items += _tick_labels(ax.xaxis) + _tick_labels(ax.yaxis) + _legends(ax)
    return [t for t in items if t.get_visible() and (isinstance(t, Legend) or t.get_text().strip())]


def text_collisions(fig, tol_px: float = 1.0) -> list[tuple[str, str, float, float]]:
    """Pairs of texts or legends whose boxes overlap by more than ``tol_px`` in both directions."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = [(t, t.get_window_extent(renderer)) for t in text_items(fig)]
    bad = []
    for (a, ba), (b, bb) in itertools.combinations(boxes, 2):
        w = min(ba.x1, bb.x1) - max(ba.x0, bb.x0)
        h = min(ba.y1, bb.y1) - max(ba.y0, bb.y0)
        if w > tol_px and h > tol_px:
            bad.append((_name(a), _name(b), round(float(w), 1), round(float(h), 1)))
    return bad


def hidden_points(fig) -> list[tuple[str, str, int]]:
    """(axes title, box, count) for every legend or text box of an axes that covers plotted line vertices."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    out = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        frame = ax.get_window_extent(renderer)
        pts = []
        for line in ax.get_lines():
            xy = np.asarray(line.get_xydata(), dtype=np.float64)
            if not line.get_visible() or xy.size == 0:
                continue
            d = ax.transData.transform(xy)
            d = d[np.all(np.isfinite(d), axis=1)]
            inside = (d[:, 0] >= frame.x0) & (d[:, 0] <= frame.x1) & (d[:, 1] >= frame.y0) & (d[:, 1] <= frame.y1)
            pts.append(d[inside])
        if not pts:
            continue
        P = np.concatenate(pts)
        boxes = _legends(ax) + [t for t in ax.texts if t.get_visible() and t.get_text().strip()] + list(fig.legends)
        for box in boxes:
            bb = box.get_window_extent(renderer)
            n = int(np.sum((P[:, 0] > bb.x0) & (P[:, 0] < bb.x1) & (P[:, 1] > bb.y0) & (P[:, 1] < bb.y1)))
            if n:
                out.append((ax.get_title()[:40], _name(box), n))
    return out
