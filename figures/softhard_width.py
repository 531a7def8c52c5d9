r"""Neuron requirements of soft- and hard-label GD ([M25]; checks S.8-S.9).

Top left: :math:`m^*(\varepsilon)`, the smallest width (interpolated log-log between grid
widths) whose median average loss over the prescribed :math:`T(\varepsilon)` is
:math:`\le\varepsilon` (soft: :math:`c_T/(\gamma_2^2\varepsilon)`; hard: the run's
``hard_budget`` rule, by default the [JT20]-shaped :func:`theory.ntk.hard_label_budget`), against ε (axis reversed, so 1/ε grows to the right), one colour
per dataset, soft (solid) and hard (dashed); a triangle marks a censored value (ε already
met at the smallest width: only :math:`m^*\le m_{min}` is known), a cross a budget cut
by ``steps_max``; a missing point means no width reached ε. Top right: the γ sweep on two
clusters: :math:`m^*` against the NTK margin γ (axis reversed, 1/γ grows to the right),
one colour per ε, with the predicted soft/hard crossover :math:`\gamma_\times(\varepsilon)`
(:func:`theory.ntk.crossover_gamma`, C_soft = C_hard = 1) as dotted verticals on the
same axes and the fitted 1/γ slopes in the legend (where 3 usable points exist). Bottom
left: the median average loss at the smallest ε's budget against width, with the ε
levels: flat above a few neurons (the optimisation term dominates), which is why m* sits
near the grid floor. Bottom right: lazy movement :math:`\sqrt m\max_{s,t\le T}\|w_s(t)-w_s(0)\|`
(max over seeds) against width, with the [JT20] bound :math:`4\lambda/\gamma` in the title.

Numbers (``paper/numbers/softhard_width.json``): log-log slopes
(:func:`theory.fitting.loglog_slope`, 95% CI) of :math:`m^*` in 1/ε and in ln(1/ε) per (dataset, loss)
and in 1/γ per (ε, loss) on the cluster sweep, over the usable points only (finite, not
censored, budget not capped; at least 3); the [M25] orders are 1 and 2 for soft; the
hard slopes are reported, not predicted. Lazy movement against the bound.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.ticker
import numpy as np

from figures._common import (LABELS, MARKERS, PALETTE, draw_with, figure_legend, integer_log_axis, load_runs, plt,
                              series_style, style, tag, value_log_axis)
from theory.fitting import loglog_slope
from theory.ntk import crossover_gamma

DESCRIPTION = "Soft- vs hard-label neuron requirements m*(eps, gamma), the gamma sweep and lazy movement"
EXPERIMENTS = ("softhard_width",)
CAPTION = (
    r"Neuron requirements of soft- and hard-label gradient descent on the circle, $y = \mathrm{sign}(\sin k\theta)$, "
    r"and on two clusters. Top left: $m^*(\varepsilon)$, the smallest width (interpolated between grid widths) whose "
    r"median average loss over the prescribed budget $T(\varepsilon)$ reaches $\varepsilon$ ($c_T/(\gamma_2^2"
    r"\varepsilon)$ for soft labels, the budget $c_H\bar\lambda^2/(\gamma_2^2\varepsilon)$ shaped like Ji and "
    r"Telgarsky's for hard labels), against $\varepsilon$ "
    r"(reversed axis), one colour and marker per dataset, soft labels solid and hard labels dashed; an open triangle "
    r"marks a censored value ($\varepsilon$ already met at the smallest width), a cross a budget cut by the step "
    r"cap, and a missing point means no width reached $\varepsilon$. Top right: the margin sweep on two clusters, "
    r"$m^*$ against the NTK margin $\gamma$ (reversed axis), one colour per $\varepsilon$, with the predicted "
    r"soft/hard crossover $\gamma_\times(\varepsilon)$ dotted and the fitted slopes in $1/\gamma$ in the legend. "
    r"Bottom left: the median average loss at the smallest target's budget against the width $m$, with the targets "
    r"$\varepsilon$ dotted. Bottom right: the lazy movement $\sqrt{m} \max_{s,t} \|w_s(t) - w_s(0)\|$ against "
    "$m$, with the bound $4\\lambda/\\gamma$ of Ji and Telgarsky in the title."
)


def _usable(res) -> np.ndarray:
    return np.isfinite(res.m_star) & ~np.asarray(res.censored, bool) & ~np.asarray(res.budget_capped, bool)


def _slope(x, y, ok) -> dict | None:
    x, y = np.asarray(x, dtype=np.float64)[ok], np.asarray(y, dtype=np.float64)[ok]
    if x.size < 3 or np.unique(y).size < 2:
        return None
    return loglog_slope(x, y).as_dict()


def _label(p) -> str:
    return f"k={p.k}" if p.family == "circle" else f"gap={p.gap:g}"


def fit_numbers(runs) -> dict:
    """Slopes of m* in 1/eps per (dataset, kind) and in 1/gamma per (eps, kind); lazy movement vs bound."""
    out = {"eps_slopes": {}, "ln_eps_slopes": {}, "gamma_slopes": {}, "gamma2_slopes": {}, "lazy": {}, "usable": {}}
    for r in runs:
        res, key = r.result, f"{r.point.kind}/{r.point.family}/{_label(r.point)}"
        out["eps_slopes"][key] = _slope(1.0 / res.eps, res.m_star, _usable(res))
        out["ln_eps_slopes"][key] = _slope(np.log(1.0 / res.eps), res.m_star, _usable(res))
        out["usable"][key] = {"m_star": [None if not np.isfinite(v) else float(v) for v in res.m_star],
                              "censored": [bool(c) for c in res.censored],
                              "budget_capped": [bool(c) for c in res.budget_capped],
                              "budgets": [int(t) for t in res.budgets], "trivial_loss": res.trivial_loss,
                              "hard_budget": r.point.hard_budget if r.point.kind == "hard" else "common",
                              "gamma": res.gamma, "gamma2": res.gamma2}
        out["lazy"][key] = {"max_measured": float(np.max(res.lazy_max)),
                            "bound_4lambda_over_gamma": float(np.min(res.lazy_bound))}
    for kind in ("soft", "hard"):
        sel = [r for r in runs if r.point.kind == kind and r.point.family == "clusters"]
        if len(sel) < 3:
            continue
        for j, e in enumerate(sel[0].result.eps):
            ok = np.array([_usable(r.result)[j] for r in sel])
            m = [r.result.m_star[j] for r in sel]
            out["gamma_slopes"][f"{kind}/eps={e:g}"] = _slope([1.0 / r.result.gamma for r in sel], m, ok)
            out["gamma2_slopes"][f"{kind}/eps={e:g}"] = _slope([1.0 / r.result.gamma2 for r in sel], m, ok)
        g = [r.result.gamma for r in sel]
        out["gamma_span"] = {"min": float(min(g)), "max": float(max(g)), "ratio": float(max(g) / min(g))}
    out["predicted"] = {"soft_eps_slope": 1.0, "soft_gamma_slope": 2.0,
                        "hard_order": "ln(1/eps)/gamma^4 (an upper bound, [M25])"}
    return out


def _dataset_style(i: int) -> dict:
    """Colour and marker of dataset ``i``; past the palette's length the marker shifts, so no two datasets match."""
    return {"color": PALETTE[i % len(PALETTE)], "marker": MARKERS[(i + i // len(PALETTE)) % len(MARKERS)]}


def _marks(ax, res, colour):
    cen = np.asarray(res.censored, bool)
    cap = np.asarray(res.budget_capped, bool) & np.isfinite(res.m_star)
    if cen.any():
        ax.plot(res.eps[cen], res.m_star[cen], "v", color=colour, ms=7, mfc="none")
    if cap.any():
        ax.plot(res.eps[cap], res.m_star[cap], "x", color=colour, ms=7)


def _legend_below(ax, ncol: int = 2):
    """The axes' legend under its x label: clear of the data (constrained layout makes room)."""
    return ax.legend(fontsize=6, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.3))


def make(store):
    """Four panels and the fitted numbers."""
    from matplotlib.lines import Line2D

    style()
    manifest, runs = load_runs(store, "softhard_width")
    runs = sorted(runs, key=lambda r: (r.point.family, r.point.k, r.point.gap, r.point.kind))
    datasets = sorted({(r.point.family, r.point.k, r.point.gap) for r in runs})
    dstyle = {d: _dataset_style(i) for i, d in enumerate(datasets)}
    ls = {"soft": "-", "hard": "--"}
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 7.4))
    (a1, a2), (a3, a4) = axes
    for r in runs:
        res, p = r.result, r.point
        st = dstyle[(p.family, p.k, p.gap)]
        tag(a1.loglog(res.eps, res.m_star, ls[p.kind], ms=4, label=f"{p.kind}, {_label(p)}", **st)[0],
            r, "result.m_star", "result.eps")
        _marks(a1, res, st["color"])
        tag(a4.loglog(res.widths, res.lazy_max, ls[p.kind], ms=3, label=f"{p.kind}, {_label(p)}", **st)[0],
            r, "result.lazy_max", "result.widths")
        med = np.median(res.avg_loss, axis=0)[:, -1]
        a3.loglog(res.widths, med, ls[p.kind], ms=3, **st)
    a1.invert_xaxis()
    a1.set_xlabel(LABELS["eps"] + r" ($1/\varepsilon$ grows $\rightarrow$)")
    a1.set_ylabel(r"$m^*(\varepsilon)$ (median over seeds, interpolated)")
    a1.set_title(r"$m^*$ against the target $\varepsilon$")
    eps = runs[0].result.eps
    for e in eps:
        a3.axhline(e, color="0.5", ls=":", lw=0.8)
    a3.set_xlabel(LABELS["width"])
    a3.set_ylabel(rf"median average loss at $T(\varepsilon$ = {eps[-1]:g})" + "\n(each loss's budget)")
    a3.set_title(r"loss against width; dotted: the targets $\varepsilon$")
    # the gamma sweep (two clusters): m* against gamma, one colour per eps, crossover on the same axes
    numbers = fit_numbers(runs)
    clusters = [r for r in runs if r.point.family == "clusters"]
    if clusters:
        g_all = []
        for kind in ("soft", "hard"):
            sel = sorted((r for r in clusters if r.point.kind == kind), key=lambda r: r.result.gamma)
            g = np.array([r.result.gamma for r in sel])
            g_all += list(g)
            for j, e in enumerate(eps):
                fit = numbers["gamma_slopes"].get(f"{kind}/eps={e:g}")
                slope = "" if fit is None else f", slope {fit['slope']:.2f}"
                m = np.array([r.result.m_star[j] for r in sel])
                sj = series_style(j)
                a2.loglog(g, m, ls[kind], ms=4, label=rf"{kind}, $\varepsilon$ = {e:g}{slope}", **sj)
                cen = np.array([bool(r.result.censored[j]) for r in sel])
                if cen.any():
                    a2.plot(g[cen], m[cen], "v", color=sj["color"], ms=7, mfc="none")
        gx = [float(crossover_gamma(e)) for e in eps]
        lo, hi = min(g_all + gx) / 1.3, min(1.0, max(g_all + gx) * 1.3)
        for j, x in enumerate(gx):
            a2.axvline(x, color=series_style(j)["color"], ls=":", lw=1.2)
        a2.set_xlim(hi, lo)
        ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if lo <= t <= hi]
        a2.set_xticks(ticks, [f"{t:g}" for t in ticks])
        a2.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        a2.set_title("two clusters; dotted: the crossover\n"
                     r"$\gamma_\times(\varepsilon)$ (soft wins to its left)")
        _legend_below(a2)
    a2.set_xlabel(r"NTK margin $\gamma$ ($1/\gamma$ grows $\rightarrow$)")
    a2.set_ylabel(r"$m^*$")
    bound = min(float(np.min(r.result.lazy_bound)) for r in runs)
    a4.set_xlabel(LABELS["width"])
    a4.set_ylabel(r"$\sqrt{m}\,\max_{s,t}\|w_s(t)-w_s(0)\|$")
    a4.set_title(rf"lazy movement; [JT20] bound $4\lambda/\gamma\geq${float(f'{bound:.3g}'):g}")
    a4.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    a4.yaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    fig.suptitle(r"Soft- vs hard-label neuron requirements: circle $y = \mathrm{sign}(\sin k\theta)$ and two "
                 "clusters")
    # one legend for the datasets (colour, marker), the losses (line style) and the marks of the left panel
    handles = [Line2D([], [], ls="none", **dstyle[d]) for d in datasets]
    labels = [(rf"circle $k$ = {k}" if fam == "circle" else f"clusters, gap {gap:g}") for fam, k, gap in datasets]
    handles += [Line2D([], [], color="0.3", ls=ls[kind]) for kind in ls]
    labels += ["soft labels", "hard labels"]
    handles += [Line2D([], [], color="0.3", ls="none", marker="v", ms=7, mfc="none"),
                Line2D([], [], color="0.3", ls="none", marker="x", ms=7)]
    labels += [r"censored ($m^*\leq m_{min}$)", "budget capped"]
    figure_legend(fig, handles, labels, ncol=4)
    value_log_axis(a1, eps, "x", fmt="g")
    integer_log_axis(a1, "y")
    integer_log_axis(a2, "y")
    integer_log_axis(a3, "x")
    integer_log_axis(a4, "x")
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "softhard_width", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
