"""The [ZZ23] learners trained by GD: TV risk against n at several step counts k.

One row per panel (instance), one column per learner. Black: the closed-form learner on
the same data sets; coloured markers: the GD-trained student after k steps (darker =
larger k); dotted: the predicted risk of :func:`theory.transfer.gd_policy_prediction`
(closed form plus the mass :math:`C_s/k` GD keeps on unobserved labels; drawn where
valid); grey dashed: GD on the population weights at the same k (the floor of a student
trained for k steps). The y axis shows six decades below the top (linearly converging
students reach 1e-16). Log-log slopes over each panel's n range are written to
``paper/numbers/transfer_gd.json``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import LEARNER_LABELS, draw_with, plt, runs_by_panel, style, tag
from theory.fitting import loglog_slope

DESCRIPTION = "Zhao & Zhu learners trained by GD: risk vs n at several step counts k, with predictions"
EXPERIMENTS = ("transfer_gd",)


def _slope(n, y):
    ok = np.isfinite(y) & (y > 0)
    if ok.sum() < 3:
        return None
    fit = loglog_slope(n[ok], y[ok])
    return {"slope": fit.slope, "ci_low": fit.ci_low, "ci_high": fit.ci_high, "window": list(fit.window)}


def make(store):
    """The figure and the fitted slopes (closed form and GD at each k, per panel and learner)."""
    style()
    manifest, panels = runs_by_panel(store, "transfer_gd")
    labels = sorted(panels)
    learners = list(LEARNER_LABELS)
    fig, axes = plt.subplots(len(labels), len(learners), figsize=(10.0, 2.6 * len(labels)), squeeze=False)
    numbers = {"sweep_key": manifest["sweep_key"], "panels": {}}
    for row, label in zip(axes, labels):
        runs = panels[label]
        p = runs[0].point
        n = np.array([r.point.n for r in runs], dtype=float)
        steps = np.asarray(runs[0].result.steps)
        shades = plt.cm.viridis(np.linspace(0.15, 0.85, steps.shape[0]))
        fits = {}
        for ax, learner in zip(row, learners):
            closed = np.array([getattr(r.result, f"closed_mean__{learner}") for r in runs])
            (line,) = ax.plot(n, closed, color="k", lw=1.2, marker="s", ms=3, label="closed form")
            tag(line, runs, f"result.closed_mean__{learner}", "point.n")
            fits[learner] = {"closed": _slope(n, closed), "gd": {}}
            for q, k in enumerate(steps):
                y = np.array([getattr(r.result, f"gd_mean__{learner}__{q}") for r in runs])
                (line,) = ax.plot(n, y, color=shades[q], marker="o", ms=3, lw=0.8, label=f"GD, k = {k:g}")
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
            ax.set_title(f"({label}) {p.instance} ({p.S},{p.A}): {learner}", fontsize=8)
            ax.set_xlabel("n")
        row[0].set_ylabel("TV risk")
        numbers["panels"][label] = {"instance": p.instance, "S": p.S, "A": p.A, "repeats": p.repeats,
                                    "lr": p.lr, "fits": fits}
    axes[0][0].plot([], [], color="0.4", ls=":", label="predicted (C/k)")
    axes[0][0].plot([], [], color="0.4", ls="--", lw=0.6, label="population GD")
    axes[0][0].legend(loc="lower left", fontsize=6)
    fig.tight_layout()
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "transfer_gd", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
