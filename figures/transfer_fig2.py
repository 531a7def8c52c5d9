"""Zhao & Zhu Fig. 2: minimax rates on Instances 1-3 (log-log), with fitted slopes.

For each panel the level's minimax learner (CE_sgl on Instance 1, SEL_ptl on
Instance 2, CE_ful on Instance 3) is fitted by least squares of log risk on log n
over the window of :func:`sims.experiments.transfer.fig2_fit_window`; the slope and
its 95% confidence interval are printed on the panel and written to
``paper/numbers/transfer_fig2.json``. Grey dashed: the theorem's lower-bound
constant (where the theorem applies); black: exact expected risks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import LEARNER_LABELS, plt, runs_by_panel, save, style, write_numbers
from sims.experiments.transfer import fig2_fit_window
from theory.fitting import loglog_slope

DESCRIPTION = "Fig. 2 of Zhao & Zhu: Instances 1-3, risk vs n on log-log axes, slopes with 95% CIs"
EXPERIMENTS = ("transfer_fig2",)
MINIMAX = {"instance1": "ce_sgl", "instance2": "sel_ptl", "instance3": "ce_ful"}


def fit_panel(runs) -> dict:
    kind, S, A = (runs[0].params[k] for k in ("instance", "S", "A"))
    learner = MINIMAX[kind]
    n = np.array([r.params["n"] for r in runs], dtype=float)
    mean = np.array([r.result["mean"][learner] for r in runs])
    fit = loglog_slope(n, mean, window=fig2_fit_window(kind, S, A))
    return {"instance": kind, "S": S, "A": A, "learner": learner, "repeats": runs[0].params["repeats"], **fit.as_dict()}


def draw(store, outdir: Path) -> list[Path]:
    style()
    manifest, panels = runs_by_panel(store, "transfer_fig2")
    labels = sorted(panels)
    ncol = 2
    nrow = int(np.ceil(len(labels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.0, 2.9 * nrow), squeeze=False)
    numbers = {"sweep_key": manifest["sweep_key"], "panels": {}}
    for ax, label in zip(axes.flat, labels):
        runs = panels[label]
        n = np.array([r.params["n"] for r in runs], dtype=float)
        means = np.array([[r.result["mean"][k] for r in runs] for k in LEARNER_LABELS])
        positive = means[means > 0]
        # Exponentially decaying risks (SEL_ptl, CE_ful on Instance 1) fall to ~1e-150:
        # show the Monte-Carlo range only, and cut exact curves there.
        ylo, yhi = positive.min() / 3, positive.max() * 3
        for (learner, lab), mean in zip(LEARNER_LABELS.items(), means):
            se = np.array([r.result["stderr"][learner] for r in runs])
            ok = mean > 0
            lower = np.minimum(se[ok], 0.999 * mean[ok])  # keep log-axis error bars finite
            ax.errorbar(n[ok], mean[ok], yerr=(lower, se[ok]), marker="o", ls="-", label=lab)
            exact = np.array([r.result["exact"][learner] for r in runs])
            shown = np.isfinite(exact) & (exact >= ylo)
            if shown.any():
                ax.plot(n[shown], exact[shown], color="k", lw=0.6, ls="-")
        lb = np.array([r.result["lower_bound"] for r in runs])
        ax.plot(n, lb, color="0.4", ls="--", lw=1, label="lower bound (thm)")
        ax.plot([], [], color="k", lw=0.6, label="exact E[TV]")
        fit = fit_panel(runs)
        numbers["panels"][label] = fit
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(ylo, yhi)
        ax.set_title(f"({label}) {fit['instance']}, |S|={fit['S']}, |A|={fit['A']}")
        ax.text(
            0.03, 0.05,
            f"{fit['learner']}: slope {fit['slope']:.3f} [{fit['ci_low']:.3f}, {fit['ci_high']:.3f}]\n"
            f"n in [{fit['window'][0]:.0f}, {fit['window'][1]:.0f}], {fit['repeats']} repeats",
            transform=ax.transAxes, fontsize=7,
        )
        ax.set_xlabel("n")
        ax.set_ylabel("TV risk")
    for ax in list(axes.flat)[len(labels):]:
        ax.set_visible(False)
    axes[0][0].legend(loc="lower left", bbox_to_anchor=(0.0, 0.2))
    paths = save(fig, outdir, "transfer_fig2")
    paths.append(write_numbers("transfer_fig2", numbers, outdir))
    return paths


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
