"""Zhao & Zhu Fig. 1: mean TV risk of the four learners on Instance 0 against n (linear axes).

CE_ptl plateaus at its biased limit TV(pi*^2/||pi*||^2, pi*) (dashed line); the other
three learners converge. Error bars are one Monte-Carlo standard error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import (LABELS, LEARNER_LABELS, LEARNER_STYLE, draw_with, figure_legend, plt, runs_by_panel, style,
                              tag)

DESCRIPTION = "Fig. 1 of Zhao & Zhu: Instance 0, (100,25) and the 100-armed bandit"
EXPERIMENTS = ("transfer_fig1",)
CAPTION = (
    "The four transfer learners on Instance 0 (Zhao and Zhu, Fig. 1): mean TV risk against the sample size $n$ "
    "(linear axes), one panel per size $(|S|, |A|)$, error bars one Monte-Carlo standard error. "
    "The partial cross-entropy learner plateaus at its biased limit "
    r"$\mathrm{TV}(\pi^{\star 2}/\|\pi^\star\|^2, \pi^\star)$ (dotted); the other three converge. "
    "Black: the exact expected risk of the full cross-entropy learner."
)


def make(store):
    """The figure (one panel per (S, A)); no fitted numbers."""
    style()
    manifest, panels = runs_by_panel(store, "transfer_fig1")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.5 * len(panels), 3.0), squeeze=False)
    for ax, (label, runs) in zip(axes[0], sorted(panels.items())):
        n = np.array([r.point.n for r in runs])
        for learner, lab in LEARNER_LABELS.items():
            mean = np.array([getattr(r.result.mean, learner) for r in runs])
            se = np.array([getattr(r.result.stderr, learner) for r in runs])
            eb = ax.errorbar(n, mean, yerr=se, ls="--", label=lab, **LEARNER_STYLE[learner])
            tag(eb.lines[0], runs, f"result.mean.{learner}", "point.n")
        first = runs[0]
        ax.axhline(first.result.ce_ptl_limit, color="0.3", ls=":", lw=1, label=r"$\mathrm{CE}_{\mathrm{ptl}}$ limit")
        exact = np.array([r.result.exact.ce_ful for r in runs])
        (line,) = ax.plot(n, exact, color="k", lw=0.8, label=r"$\mathrm{CE}_{\mathrm{ful}}$ exact")
        tag(line, runs, "result.exact.ce_ful", "point.n")
        ax.set_title(f"({label}) $|S|$ = {first.point.S}, $|A|$ = {first.point.A}, {first.point.repeats} repeats")
        ax.set_xlabel(LABELS["n"])
        ax.set_ylabel(LABELS["tv_risk"])
    figure_legend(fig, ncol=3)
    return fig, None


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "transfer_fig1", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
