r"""Test accuracy of soft- and hard-label students against width ([M25]'s claim; check S.10).

Left: the motivating sweep: mean test accuracy over seeds against width, soft (solid)
and hard (dashed), for the circle with growing k and for ``load_digits`` pairs (the
legend lists datasets by decreasing kernel margin :math:`\gamma_2`, i.e. growing
difficulty), all under the base protocol (first teacher, temperature and noise rate of
the config, the longest training). Other panels, one per label-noise rate: the region
map on the circle with ``map_k``: soft minus hard mean test accuracy against width for
every teacher x temperature x training length (colour: teacher and τ; marker: steps).
Above zero, soft labels win.

Numbers (``paper/numbers/softhard_accuracy.json``): per run the gap at each width, its
standard error over seeds (paired by seed), the teacher's accuracy and :math:`\gamma_2`;
and the list of protocols where soft wins at every width, at some width, or at none
(by more than two paired standard errors over seeds and more than one test point).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import LABELS, MARKERS, draw_with, figure_legend, integer_log_axis, load_runs, plt, style, tag

DESCRIPTION = "Soft- vs hard-label test accuracy against width, and where soft labels win"
EXPERIMENTS = ("softhard_accuracy",)
CAPTION = (
    "Soft- and hard-label students against the student width $m$. Left: mean test accuracy over seeds, soft "
    "labels solid and hard labels dashed, on the circle with growing difficulty $k$ and on pairs of digits, "
    r"listed by decreasing kernel margin $\gamma_2$, under the base protocol. Other panels, one per label-noise "
    r"rate: soft minus hard mean test accuracy on the circle for every teacher, temperature $\tau$ "
    "(colour) and training length $T$ (marker); above zero, soft labels win."
)


def _name(p) -> str:
    data = f"circle k={p.difficulty}" if p.family == "circle" else f"digits {p.difficulty // 10} vs {p.difficulty % 10}"
    return f"{data} | {p.teacher}, tau={p.temperature:g}, T={p.steps}, noise={p.label_noise:g}"


def gap_stats(res) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds of the paired gap soft - hard, each shape (n_w,)."""
    d = np.asarray(res.soft_accuracy) - np.asarray(res.hard_accuracy)
    se = d.std(axis=0, ddof=1) / np.sqrt(d.shape[0]) if d.shape[0] > 1 else np.full(d.shape[1], np.nan)
    return d.mean(axis=0), se


def fit_numbers(runs) -> dict:
    out = {"runs": {}, "soft_wins_everywhere": [], "soft_wins_somewhere": [], "hard_wins_somewhere": []}
    for r in runs:
        mean, se = gap_stats(r.result)
        name = _name(r.point)
        out["runs"][name] = {"widths": [int(w) for w in r.result.widths], "gap": mean.tolist(), "gap_se": se.tolist(),
                             "soft": r.result.soft_mean.tolist(), "hard": r.result.hard_mean.tolist(),
                             "teacher_accuracy": r.result.teacher_accuracy, "gamma2": r.result.gamma2}
        # beyond two paired standard errors and one test point (NaN with one seed: never)
        thr = np.maximum(2 * se, 1.0 / r.result.n_test)
        win, lose = mean > thr, mean < -thr
        if win.all():
            out["soft_wins_everywhere"].append(name)
        if win.any():
            out["soft_wins_somewhere"].append(name)
        if lose.any():
            out["hard_wins_somewhere"].append(name)
    return out


def make(store):
    style()
    manifest, runs = load_runs(store, "softhard_accuracy")
    base = (runs[0].point.teacher, runs[0].point.temperature, runs[0].point.label_noise)
    steps_max = max(r.point.steps for r in runs)
    motivating = [r for r in runs if (r.point.teacher, r.point.temperature, r.point.label_noise) == base
                  and r.point.steps == steps_max]
    map_k = None
    # the region map: circle runs of one k that vary the protocol (the k with the most runs)
    circle = [r for r in runs if r.point.family == "circle"]
    if circle:
        counts = {}
        for r in circle:
            counts[r.point.difficulty] = counts.get(r.point.difficulty, 0) + 1
        map_k = max(counts, key=counts.get)
    region = [r for r in circle if r.point.difficulty == map_k]
    noises = sorted({r.point.label_noise for r in region})
    fig, axes = plt.subplots(1, 1 + len(noises), figsize=(2.5 * (1 + len(noises)), 3.6), squeeze=False)
    ax = axes[0, 0]
    for i, r in enumerate(sorted(motivating, key=lambda r: -r.result.gamma2)):
        p = r.point
        lab = (f"k={p.difficulty}" if p.family == "circle" else f"{p.difficulty // 10} vs {p.difficulty % 10}")
        c = f"C{i % 10}"
        tag(ax.semilogx(r.result.widths, r.result.soft_mean, "-", marker=MARKERS[i % len(MARKERS)], color=c, ms=3,
                        label=rf"{lab} ($\gamma_2$={r.result.gamma2:.2g})")[0], r, "result.soft_mean", "result.widths")
        tag(ax.semilogx(r.result.widths, r.result.hard_mean, "--", marker=MARKERS[i % len(MARKERS)], color=c, ms=3,
                        mfc="none")[0], r, "result.hard_mean",
            "result.widths")
    ax.set_xlabel(LABELS["student_width"])
    ax.set_ylabel("test accuracy (soft solid, hard dashed)")
    ax.set_title(f"teacher {base[0]}, " + rf"$\tau$ = {base[1]:g}," + f"\nnoise {base[2]:g}, " + rf"$T$ = {steps_max}")
    ax.legend(fontsize=6)
    protocols = sorted({(r.point.teacher, r.point.temperature) for r in region})
    markers = {s: m for s, m in zip(sorted({r.point.steps for r in region}), "os^vD")}
    for c, noise in enumerate(noises):
        axn = axes[0, 1 + c]
        for r in region:
            if r.point.label_noise != noise:
                continue
            j = protocols.index((r.point.teacher, r.point.temperature))
            tag(axn.semilogx(r.result.widths, r.result.gap_mean, "-", marker=markers.get(r.point.steps, "o"),
                             color=f"C{j % 10}", ms=4,
                             label=rf"{r.point.teacher}, $\tau$ = {r.point.temperature:g}, $T$ = {r.point.steps}")[0],
                r, "result.gap_mean", "result.widths")
        axn.axhline(0.0, color="k", lw=0.8)
        axn.set_xlabel(LABELS["student_width"])
        axn.set_ylabel("soft $-$ hard test accuracy")
        axn.set_title(f"circle $k$ = {map_k},\nlabel noise {noise:g}")
    fig.suptitle("Soft- vs hard-label students: test accuracy (mean over seeds)")
    if noises:  # one legend for the protocols of the region map (the same in every noise panel)
        figure_legend(fig, *axes[0, 1].get_legend_handles_labels(), ncol=3)
    for a in axes.ravel():
        integer_log_axis(a, "x")
    numbers = fit_numbers(runs)
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "softhard_accuracy", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
