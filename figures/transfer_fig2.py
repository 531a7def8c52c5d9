"""Zhao & Zhu Fig. 2: minimax rates on Instances 1-3 (log-log), with fitted slopes.

For each panel the level's minimax learner (CE_sgl on Instance 1, SEL_ptl on
Instance 2, CE_ful on Instance 3) is fitted by least squares of log risk on log n
(:func:`theory.fitting.loglog_slope`) over the sample sizes that
:func:`sims.experiments.transfer.fig2_fit_mask` keeps; the slope and its 95% confidence
interval are printed on the panel and written to ``paper/numbers/transfer_fig2.json``.
Grey dashed: the theorem's lower-bound constant (where the theorem applies,
:func:`theory.transfer.lower_bound_holds`); black: exact expected risks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import (LABELS, LEARNER_LABELS, LEARNER_STYLE, LEARNER_SYMBOLS, draw_with, figure_legend, note,
                              plt, runs_by_panel, style, tag)
from sims.experiments.transfer import fig2_fit_mask
from theory.fitting import loglog_slope

DESCRIPTION = "Fig. 2 of Zhao & Zhu: Instances 1-3, risk vs n on log-log axes, slopes with 95% CIs"
EXPERIMENTS = ("transfer_fig2",)
MINIMAX = {"instance1": "ce_sgl", "instance2": "sel_ptl", "instance3": "ce_ful"}
CAPTION = (
    "Minimax rates of the transfer learners (Zhao and Zhu, Fig. 2): mean TV risk against the sample size $n$ "
    "on log-log axes, one panel per instance and size $(|S|, |A|)$, with one Monte-Carlo standard error as "
    "error bars. Black: exact expected risks; grey dashed: the theorem's lower-bound constant where the theorem "
    "applies. Each panel prints the least-squares slope of the level's minimax learner over its fit window "
    "with a 95 percent confidence interval; the predicted slopes are $-1/2$ on Instance 1 and $-1$ on "
    "Instances 2 and 3."
)


def fit_panel(runs) -> dict:
    """Log-log slope of the minimax learner's mean risk over the panel's fit window."""
    p = runs[0].point
    learner = MINIMAX[p.instance]
    n = np.array([r.point.n for r in runs], dtype=float)
    mean = np.array([getattr(r.result.mean, learner) for r in runs])
    keep = fig2_fit_mask(p.instance, p.S, p.A, n)
    if not keep.any():
        raise LookupError(f"transfer_fig2 panel {p.panel!r}: no sample size in the fit window "
                          f"(n >= 1e3 and the theorem's range); run with a larger n_max")
    fit = loglog_slope(n[keep], mean[keep])
    return {"instance": p.instance, "S": p.S, "A": p.A, "learner": learner, "repeats": p.repeats, **fit.as_dict()}


def make(store):
    """The figure (one panel per instance and (S, A)) and the fitted slopes."""
    style()
    manifest, panels = runs_by_panel(store, "transfer_fig2")
    labels = sorted(panels)
    ncol = 2
    nrow = int(np.ceil(len(labels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.0, 2.6 * nrow + 0.5), squeeze=False)
    numbers = {"sweep_key": manifest["sweep_key"], "panels": {}}
    for ax, label in zip(axes.flat, labels):
        runs = panels[label]
        n = np.array([r.point.n for r in runs], dtype=float)
        means = np.array([[getattr(r.result.mean, k) for r in runs] for k in LEARNER_LABELS])
        positive = means[means > 0]
        # Exponentially decaying risks (SEL_ptl, CE_ful on Instance 1) fall to ~1e-150:
        # show the Monte-Carlo range only, and cut exact curves there.
        ylo, yhi = positive.min() / 3, positive.max() * 3
        for (learner, lab), mean in zip(LEARNER_LABELS.items(), means):
            se = np.array([getattr(r.result.stderr, learner) for r in runs])
            ok = mean > 0
            lower = np.minimum(se[ok], 0.999 * mean[ok])  # keep log-axis error bars finite
            eb = ax.errorbar(n[ok], mean[ok], yerr=(lower, se[ok]), ls="-", label=lab, **LEARNER_STYLE[learner])
            if ok.any():  # (an empty line still gives the legend entry)
                tag(eb.lines[0], runs, f"result.mean.{learner}", "point.n")
            exact = np.array([getattr(r.result.exact, learner) for r in runs])
            shown = np.isfinite(exact) & (exact >= ylo)
            if shown.any():
                (line,) = ax.plot(n[shown], exact[shown], color="k", lw=0.6, ls="-")
                tag(line, runs, f"result.exact.{learner}", "point.n")
        lb = np.array([r.result.lower_bound for r in runs])
        (line,) = ax.plot(n, lb, color="0.4", ls="--", lw=1, label="lower bound (thm)")
        tag(line, runs, "result.lower_bound", "point.n")
        ax.plot([], [], color="k", lw=0.6, label=r"exact $\mathbb{E}\,\mathrm{TV}$")
        fit = fit_panel(runs)
        numbers["panels"][label] = fit
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(ylo, yhi)
        ax.set_title(f"({label}) Instance {fit['instance'].removeprefix('instance')}, "
                     f"$|S|$ = {fit['S']}, $|A|$ = {fit['A']}")
        note(ax, f"{LEARNER_SYMBOLS[fit['learner']]}: slope {fit['slope']:.3f}\n"
                 f"95% CI [{fit['ci_low']:.3f}, {fit['ci_high']:.3f}]\n"
                 f"$n \\in$ [{fit['window'][0]:.0f}, {fit['window'][1]:.0f}], {fit['repeats']} repeats")
        ax.set_xlabel(LABELS["n"])
        ax.set_ylabel(LABELS["tv_risk"])
    for ax in list(axes.flat)[len(labels):]:
        ax.set_visible(False)
    figure_legend(fig, ncol=3)
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "transfer_fig2", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
