"""Zhao & Zhu Fig. 1: mean TV risk of the four learners on Instance 0 against n (linear axes).

CE_ptl plateaus at its biased limit TV(pi*^2/||pi*||^2, pi*) (dashed line); the other
three learners converge. Error bars are one Monte-Carlo standard error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import LEARNER_LABELS, plt, runs_by_panel, save, style

DESCRIPTION = "Fig. 1 of Zhao & Zhu: Instance 0, (100,25) and the 100-armed bandit"
EXPERIMENTS = ("transfer_fig1",)


def draw(store, outdir: Path) -> list[Path]:
    style()
    manifest, panels = runs_by_panel(store, "transfer_fig1")
    fig, axes = plt.subplots(1, len(panels), figsize=(3.4 * len(panels), 2.8), squeeze=False)
    for ax, (label, runs) in zip(axes[0], sorted(panels.items())):
        n = np.array([r.params["n"] for r in runs])
        for learner, lab in LEARNER_LABELS.items():
            mean = np.array([r.result["mean"][learner] for r in runs])
            se = np.array([r.result["stderr"][learner] for r in runs])
            ax.errorbar(n, mean, yerr=se, marker="o", ls="--", label=lab)
        ax.axhline(runs[0].result["ce_ptl_limit"], color="0.3", ls=":", lw=1, label="CE_ptl limit")
        exact = np.array([r.result["exact"]["ce_ful"] for r in runs])
        ax.plot(n, exact, color="k", lw=0.8, label="CE_ful exact")
        S, A = runs[0].params["S"], runs[0].params["A"]
        ax.set_title(f"({label}) |S|={S}, |A|={A}, {runs[0].params['repeats']} repeats")
        ax.set_xlabel("n")
        ax.set_ylabel("TV risk")
    axes[0][0].legend()
    return save(fig, outdir, "transfer_fig1")


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
