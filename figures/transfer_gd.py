"""The [ZZ23] learners trained by GD: TV risk against n at several step counts k.

One row per panel (instance), one column per learner. Black (open markers): the
closed-form learner on the same data sets; in the learner's shared colour and marker
(``figures._common.LEARNER_STYLE``): the GD-trained student after k steps (darker = larger
k; the figure legend shows the shades in grey); dotted: the predicted risk of
:func:`theory.transfer.gd_policy_prediction` (closed form plus the mass :math:`C_s/k` GD
keeps on unobserved labels; drawn where valid); thin dashed: GD on the population weights
at the same k (the floor of a student trained for k steps). The y axis shows six decades
below the top (linearly converging students reach 1e-16); an axis spanning less than a
decade is labelled with plain numbers. Log-log slopes over each panel's n range are written to
``paper/numbers/transfer_gd.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import (LABELS, LEARNER_LABELS, LEARNER_STYLE, LEARNER_SYMBOLS, draw_with, figure_legend, plt,
                              runs_by_panel, style, tag)
from theory.fitting import loglog_slope

DESCRIPTION = "Zhao & Zhu learners trained by GD: risk vs n at several step counts k, with predictions"
EXPERIMENTS = ("transfer_gd",)
CAPTION = (
    "The transfer learners of Zhao and Zhu trained by gradient descent: mean TV risk against the sample size $n$ "
    "on log-log axes, one row per instance and size $(|S|, |A|)$, one column per learner. Black with open markers: "
    "the closed-form learner on the same data sets; in the learner's colour: the student after $k$ steps of "
    "gradient descent, darker for larger $k$; dotted: the predicted risk, the closed form plus the mass $C/k$ that "
    "gradient descent keeps on unobserved labels, where it applies; thin dashed: gradient descent on the population "
    "weights after the same $k$ steps, the floor of a student trained for $k$ steps. Each axis shows at most six "
    "decades below its top."
)


def _slope(n, y):
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 3:
        return None
    fit = loglog_slope(n[ok], y[ok])
    return {"slope": fit.slope, "ci_low": fit.ci_low, "ci_high": fit.ci_high, "window": list(fit.window)}


def _shades(colour, n: int) -> list:
    """``n`` shades of ``colour`` from light (first) to the colour itself (last): more steps, darker."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(colour))
    return [tuple(1.0 - (1.0 - rgb) * f) for f in np.linspace(0.5, 1.0, n)] if n > 1 else [tuple(rgb)]


def make(store):
    """The figure and the fitted slopes (closed form and GD at each k, per panel and learner)."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    style()
    manifest, panels = runs_by_panel(store, "transfer_gd")
    labels = sorted(panels)
    learners = list(LEARNER_LABELS)
    fig, axes = plt.subplots(len(labels), len(learners), figsize=(7.5, 2.0 * len(labels) + 0.8), squeeze=False)
    numbers = {"sweep_key": manifest["sweep_key"], "panels": {}}
    for row, label in zip(axes, labels):
        runs = panels[label]
        p = runs[0].point
        n = np.array([r.point.n for r in runs], dtype=float)
        steps = np.asarray(runs[0].result.steps)
        fits = {}
        for ax, learner in zip(row, learners):
            colour, marker = LEARNER_STYLE[learner]["color"], LEARNER_STYLE[learner]["marker"]
            shades = _shades(colour, steps.shape[0])
            closed = np.array([getattr(r.result, f"closed_mean__{learner}") for r in runs])
            (line,) = ax.plot(n, closed, color="k", lw=1.2, marker=marker, ms=3, mfc="white")
            tag(line, runs, f"result.closed_mean__{learner}", "point.n")
            fits[learner] = {"closed": _slope(n, closed), "gd": {}}
            for q, k in enumerate(steps):
                y = np.array([getattr(r.result, f"gd_mean__{learner}__{q}") for r in runs])
                (line,) = ax.plot(n, y, color=shades[q], marker=marker, ms=3, lw=0.8)
                tag(line, runs, f"result.gd_mean__{learner}__{q}", "point.n")
                fits[learner]["gd"][str(int(k))] = _slope(n, y)
                pred = np.array([getattr(r.result, f"predicted_mean__{learner}__{q}") for r in runs])
                ok = np.isfinite(pred)
                if learner != "sel_ptl" and ok.any():
                    sub = [r for r, o in zip(runs, ok) if o]
                    (line,) = ax.plot(n[ok], pred[ok], color=shades[q], ls=":", lw=1.2)
                    tag(line, sub, f"result.predicted_mean__{learner}__{q}", "point.n")
                pop = np.array([getattr(r.result, f"population_risk__{learner}__{q}") for r in runs])
                if np.isfinite(pop).all():
                    (line,) = ax.plot(n, pop, color=shades[q], ls="--", lw=0.6, alpha=0.7)
                    tag(line, runs, f"result.population_risk__{learner}__{q}", "point.n")
            ax.set_xscale("log")
            ax.set_yscale("log")
            # linearly converging students reach ~1e-16: show down to 1e-6 of the panel's top
            lo, hi = ax.get_ylim()
            ax.set_ylim(max(lo, 1e-6 * hi), hi)
            if hi < 10 * max(lo, 1e-6 * hi):  # under a decade: plain numbers, not crowded 3x10^-1 labels
                for fmt in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                    fmt(FuncFormatter(lambda v, _: f"{v:.2g}"))
            ax.set_title(f"({label}) {LEARNER_SYMBOLS[learner]}", color=colour)
            ax.set_xlabel(LABELS["n"])
        inst = p.instance.removeprefix("instance")
        row[0].set_ylabel(f"Instance {inst}, $(|S|, |A|)$ = ({p.S}, {p.A})\n" + LABELS["tv_risk"])
        numbers["panels"][label] = {"instance": p.instance, "S": p.S, "A": p.A, "repeats": p.repeats,
                                    "lr": p.lr, "fits": fits}
    # the legend's greys stand for each column's learner colour (lighter: fewer steps k)
    steps = np.asarray(panels[labels[0]][0].result.steps)
    greys = _shades("0.15", steps.shape[0])
    handles = [Line2D([], [], color="k", lw=1.2, marker="o", ms=3, mfc="white")]
    names = ["closed form"]
    handles += [Line2D([], [], color=g, marker="o", ms=3, lw=0.8) for g in greys]
    names += [f"GD, $k$ = {int(k)}" for k in steps]
    handles += [Line2D([], [], color="0.4", ls=":", lw=1.2), Line2D([], [], color="0.4", ls="--", lw=0.6)]
    names += [r"predicted ($C/k$)", "population GD"]
    figure_legend(fig, handles, names, ncol=min(len(names), 5), loc="outside lower center")
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "transfer_gd", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
