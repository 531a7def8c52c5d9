r"""The soft-label floor at width m, to convergence (check S.8, last bullet).

Left: the converged soft KL floor :math:`L_\infty(m)` (median over seeds,
:func:`sims.twolayer.converge`) against the width, one colour per two-cluster gap (its
kernel margin :math:`\gamma_2` in the legend with the fitted slope in 1/m), the
reference :math:`\propto1/m` dashed. Middle: :math:`m^*(\varepsilon)` from those floors
against ε (axis reversed, 1/ε grows to the right); a triangle marks a censored value
(ε met at the smallest width), the reference :math:`\propto1/\varepsilon` dashed.
Right: the fitted log-log slope of the floor in 1/m per gap, with its 95% CI, against
:math:`\gamma_2`; the prediction 1 (:func:`theory.ntk.soft_floor_bound`) dotted.

Numbers (``paper/numbers/softhard_floor.json``): per gap, γ₂, the slope in 1/m and its
CI, the largest ratio of floor to the random-feature bound, the fraction of certified
solves, the smallest ratio of GD's loss after ``gd_steps`` to the floor, and the smallest
(over gaps) median ratio at the largest width.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import (LABELS, draw_with, integer_log_axis, load_runs, plt, series_style, style, tag,
                              value_log_axis)
from sims.experiments.softhard_floor import width_slope

DESCRIPTION = "Soft-label floor L_inf(m) to convergence over a gamma sweep, its 1/m slope and m*(eps)"
EXPERIMENTS = ("softhard_floor",)
CAPTION = (
    r"The soft-label floor at width $m$, trained to convergence (trust-region Newton with a certificate) on the "
    r"soft targets of the kernel max-margin teacher, two clusters with a gap, on a transfer set with $n \geq 8md$ "
    r"points. Left: the median floor $L_\infty(m)$ over seeds against $m$, one colour per gap (kernel margin "
    r"$\gamma_2$ and fitted slope in $1/m$ in the legend), a line $\propto 1/m$ dashed. Middle: $m^*(\varepsilon)$, "
    r"the smallest width (interpolated) whose median floor is at most $\varepsilon$, against $\varepsilon$ "
    r"(reversed axis); an open triangle marks a value censored at the smallest width; a line $\propto 1/\varepsilon$ "
    r"dashed. Right: the fitted slope of the floor in $1/m$ per gap with its 95 percent confidence interval against $\gamma_2$; the "
    r"predicted slope 1 dotted."
)


def fit_numbers(runs) -> dict:
    """Per gap: gamma_2, the 1/m slope (95% CI), floor/bound, certified fraction, GD/floor."""
    out = {"gaps": {}}
    for r in runs:
        res = r.result
        fit = width_slope(res.widths, res.floor, r.point.fit_min_width)
        gd = res.gd_loss / res.floor
        out["gaps"][f"gap={r.point.gap:g}"] = {
            "gamma2": res.gamma2, "gamma": res.gamma,
            "slope": None if fit is None else fit.as_dict(),
            "floor_over_bound_max": float(np.max(res.floor_median / res.bound)),
            "certified_fraction": float(np.mean(res.certified)),
            "converged_fraction": float(np.mean(res.converged)),
            "gd_over_floor_min": float(np.nanmin(gd)) if np.isfinite(gd).any() else None,
            "floor_median": [float(v) for v in res.floor_median],
        }
    cert = np.concatenate([np.ravel(r.result.certified) for r in runs])
    out["certified_fraction"] = float(np.mean(cert))
    gd = np.concatenate([np.ravel(r.result.gd_loss / r.result.floor) for r in runs])
    out["gd_over_floor_min"] = float(np.nanmin(gd)) if np.isfinite(gd).any() else None
    # GD after gd_steps at the largest width: the median over seeds of gd_loss / floor, its smallest value over gaps
    last = [float(np.median(r.result.gd_loss[:, -1] / r.result.floor[:, -1])) for r in runs]
    out["gd_over_floor_wmax_min"] = float(np.nanmin(last)) if np.isfinite(last).any() else None
    g = [r.result.gamma2 for r in runs]
    out["gamma2_span"] = {"min": float(min(g)), "max": float(max(g)), "ratio": float(max(g) / min(g))}
    out["n"] = int(runs[0].result.n)
    out["d"] = int(runs[0].result.d)
    out["widths"] = [int(w) for w in runs[0].result.widths]
    out["predicted"] = {"width_slope": 1.0, "gamma_slope": 2.0}
    return out


def make(store):
    """Three panels and the fitted numbers."""
    style()
    manifest, runs = load_runs(store, "softhard_floor")
    runs = sorted(runs, key=lambda r: r.result.gamma2)
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(7.5, 4.3))
    for i, r in enumerate(runs):
        res, st = r.result, series_style(i)
        lab = rf"$\gamma_2$ = {res.gamma2:.3g}" + ("" if not np.isfinite(res.slope) else f", slope {res.slope:.2f}")
        tag(a1.loglog(res.widths, res.floor_median, "-", ms=4, label=lab, **st)[0], r,
            "result.floor_median", "result.widths")
        ok = np.isfinite(res.m_star)
        if ok.any():
            tag(a2.loglog(res.eps, res.m_star, "-", ms=4, **st)[0], r, "result.m_star", "result.eps")
        cen = np.asarray(res.censored, bool) & ok
        if cen.any():
            a2.plot(res.eps[cen], res.m_star[cen], "v", color=st["color"], ms=7, mfc="none")
    w = runs[0].result.widths.astype(float)
    top = max(float(r.result.floor_median[0]) for r in runs)
    a1.loglog(w, top * w[0] / w, "--", color="0.4", lw=1, label=r"$\propto 1/m$")
    a1.set_xlabel(LABELS["width"])
    a1.set_ylabel(r"converged floor $L_\infty(m)$ (median)")
    a1.set_title("floor against width")
    a1.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    integer_log_axis(a1, "x")
    eps = runs[0].result.eps
    usable = [r for r in runs if np.isfinite(r.result.m_star).any()]
    if usable:
        m0 = float(np.nanmax([np.nanmin(r.result.m_star) for r in usable]))
        a2.loglog(eps, m0 * eps.max() / eps, "--", color="0.4", lw=1, label=r"$\propto 1/\varepsilon$")
        a2.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    a2.invert_xaxis()
    a2.set_xlabel(LABELS["eps"] + r" ($1/\varepsilon$ grows $\rightarrow$)")
    a2.set_ylabel(r"$m^*(\varepsilon)$ from the floors")
    a2.set_title(r"$m^*$ against $\varepsilon$")
    value_log_axis(a2, eps[::2], "x", fmt="g")
    integer_log_axis(a2, "y")
    fitted = [r for r in runs if np.isfinite(r.result.slope)]
    if fitted:
        g = np.array([r.result.gamma2 for r in fitted])
        s = np.array([r.result.slope for r in fitted])
        half = 1.96 * np.array([r.result.slope_stderr for r in fitted])  # from: normal 95% of the OLS slope
        a3.errorbar(g, s, yerr=half, fmt="none", ecolor="0.5", capsize=2)
        tag(a3.semilogx(g, s, "o", color=series_style(0)["color"], ms=4)[0], fitted, "result.slope",
            "result.gamma2")
    a3.axhline(1.0, color="0.3", ls=":", lw=1.2)
    a3.set_xlabel(r"kernel margin $\gamma_2$")
    a3.set_ylabel(r"slope of $L_\infty$ in $1/m$")
    a3.set_title("fitted slope; dotted: 1")
    fig.suptitle(f"Soft-label floor to convergence (two clusters, d = {runs[0].result.d}, "
                 f"n = {runs[0].result.n})")
    numbers = fit_numbers(runs)
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "softhard_floor", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
