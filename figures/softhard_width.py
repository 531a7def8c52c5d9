r"""Neuron requirements of soft- and hard-label GD ([M25]; spec ``soft_vs_hard_labels.md`` §8-9).

Left: :math:`m^*(\varepsilon)`, the smallest width whose median average loss over the
prescribed :math:`T(\varepsilon)` is :math:`\le\varepsilon`, against ε (axis reversed, so
1/ε grows to the right), one colour per circle difficulty k, soft (solid) and hard
(dashed); a missing point means no width of the grid reached ε. Middle: the same
values against the kernel margin :math:`\gamma_2` (axis reversed), one line per ε,
with the predicted soft/hard crossover :math:`\gamma_\times(\varepsilon)`
(:func:`theory.ntk.crossover_gamma`, C_soft = C_hard = 1) as dotted verticals when it lies
in the plotted range. Right: lazy movement
:math:`\sqrt m\max_{s,t\le T}\|w_s(t)-w_s(0)\|` (max over seeds) against width, with the
[JT20] bound :math:`4\lambda/\gamma` quoted in the title (it is orders of magnitude above).

Numbers (``paper/numbers/softhard_width.json``): log-log slopes
(:func:`theory.fitting.loglog_slope`, 95% CI) of :math:`m^*` in 1/ε per (k, loss), over
the ε window where :math:`m^*` is finite (at least 3 points), and in :math:`1/\gamma_2`
and :math:`1/\gamma` per ε (over the k where it is finite); the [M25] orders are 1 and 2
for soft; the hard slopes are reported, not predicted. Lazy movement against the bound.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import (LABELS, MARKERS, draw_with, integer_log_axis, load_runs, plt, style, tag,
                              value_log_axis)
from theory.fitting import loglog_slope
from theory.ntk import crossover_gamma

DESCRIPTION = "Soft- vs hard-label neuron requirements m*(eps, gamma) and lazy movement"
EXPERIMENTS = ("softhard_width",)
CAPTION = (
    r"Neuron requirements of soft- and hard-label gradient descent on the circle, $y = \mathrm{sign}(\sin k\theta)$. "
    r"Left: $m^*(\varepsilon)$, the smallest width whose median average loss reaches $\varepsilon$, against "
    r"$\varepsilon$ (reversed axis), one colour and marker per difficulty $k$, soft solid and hard dashed; a missing "
    r"point means no width of the grid reached $\varepsilon$. Middle: the same values against the kernel margin "
    r"$\gamma_2$, one colour per $\varepsilon$, with the predicted soft/hard crossover "
    r"$\gamma_\times(\varepsilon)$ (dotted) when it lies in range. Right: the lazy movement "
    r"$\sqrt{m} \max_{s,t} \|w_s(t) - w_s(0)\|$ against the width $m$; the bound $4\lambda/\gamma$ of Ji and "
    "Telgarsky, quoted in the title, lies orders of magnitude above."
)


def _slope(x, y) -> dict | None:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(y) & (y > 0) & np.isfinite(x) & (x > 0)
    if ok.sum() < 3 or np.unique(y[ok]).size < 2:
        return None
    return loglog_slope(x[ok], y[ok]).as_dict()


def fit_numbers(runs) -> dict:
    """Slopes of m* in 1/eps per (k, kind) and in 1/gamma per (eps, kind); lazy movement vs bound."""
    out = {"eps_slopes": {}, "gamma2_slopes": {}, "gamma_slopes": {}, "lazy": {}}
    for r in runs:
        res = r.result
        out["eps_slopes"][f"{r.point.kind}/k={r.point.k}"] = _slope(1.0 / res.eps, res.m_star)
        out["lazy"][f"{r.point.kind}/k={r.point.k}"] = {
            "max_measured": float(np.max(res.lazy_max)), "bound_4lambda_over_gamma": float(np.min(res.lazy_bound)),
            "gamma": res.gamma, "gamma2": res.gamma2}
    for kind in ("soft", "hard"):
        sel = sorted((r for r in runs if r.point.kind == kind), key=lambda r: r.point.k)
        if not sel:
            continue
        for j, e in enumerate(sel[0].result.eps):
            m = [r.result.m_star[j] for r in sel]
            out["gamma2_slopes"][f"{kind}/eps={e:g}"] = _slope([1.0 / r.result.gamma2 for r in sel], m)
            out["gamma_slopes"][f"{kind}/eps={e:g}"] = _slope([1.0 / r.result.gamma for r in sel], m)
    out["m_star"] = {f"{r.point.kind}/k={r.point.k}": [None if not np.isfinite(v) else float(v)
                                                       for v in r.result.m_star] for r in runs}
    out["predicted"] = {"soft_eps_slope": 1.0, "soft_gamma_slope": 2.0,
                        "hard_order": "ln(1/eps)/gamma^4 (an upper bound, [M25])"}
    return out


def make(store):
    """Three panels and the fitted numbers."""
    style()
    manifest, runs = load_runs(store, "softhard_width")
    runs = sorted(runs, key=lambda r: (r.point.k, r.point.kind))
    ks = sorted({r.point.k for r in runs})
    colour = {k: f"C{i % 10}" for i, k in enumerate(ks)}
    ls = {"soft": "-", "hard": "--"}
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(7.5, 3.9))
    for r in runs:
        res, k, kind = r.result, r.point.k, r.point.kind
        mk = MARKERS[ks.index(k) % len(MARKERS)]
        tag(a1.loglog(res.eps, res.m_star, ls[kind], marker=mk, color=colour[k], label=f"{kind}, $k$ = {k}")[0],
            r, "result.m_star", "result.eps")
        tag(a3.loglog(res.widths, res.lazy_max, ls[kind], marker=mk, ms=3, color=colour[k],
                      label=f"{kind}, $k$ = {k}")[0],
            r, "result.lazy_max", "result.widths")
    a1.invert_xaxis()
    a1.set_xlabel(LABELS["eps"] + "\n" + r"($1/\varepsilon$ grows $\rightarrow$)")
    a1.set_ylabel(r"$m^*(\varepsilon)$ (median over seeds)")
    a1.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.32))  # below: clear of the data
    # cross-section of the values tagged on the left: m* against gamma_2, one line per eps
    eps = runs[0].result.eps
    g2_all = []
    for kind in ("soft", "hard"):
        sel = [r for r in runs if r.point.kind == kind]
        g2 = np.array([r.result.gamma2 for r in sel])
        g2_all += list(g2)
        for j, e in enumerate(eps):
            a2.loglog(g2, [r.result.m_star[j] for r in sel], ls[kind], marker=MARKERS[j % len(MARKERS)],
                      color=f"C{j % 10}", label=rf"{kind}, $\varepsilon$ = {e:g}")
    lo, hi = min(g2_all) / 1.2, max(g2_all) * 1.2
    for j, e in enumerate(eps):
        gx = crossover_gamma(e)
        if lo <= gx <= hi:
            a2.axvline(gx, color=f"C{j % 10}", ls=":", lw=1)
    a2.set_xlim(hi, lo)
    a2.set_xlabel(LABELS["gamma2"] + "\n" + r"($1/\gamma$ grows $\rightarrow$)")
    gmin = float(np.min(crossover_gamma(eps)))
    a2.set_title(rf"predicted crossover" "\n" rf"$\gamma_\times(\varepsilon)\geq${gmin:.2g}: soft side")
    a2.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.32))
    bound = min(float(np.min(r.result.lazy_bound)) for r in runs)
    a3.set_xlabel(LABELS["width"])
    a3.set_ylabel(r"$\sqrt{m}\,\max_{s,t}\|w_s(t)-w_s(0)\|$")
    a3.set_title(rf"lazy movement; [JT20] bound" "\n" rf"$4\lambda/\gamma\geq${bound:.3g}")
    fig.suptitle(r"Soft- vs hard-label neuron requirements on the circle, $y = \mathrm{sign}(\sin k\theta)$")
    value_log_axis(a1, eps, "x", fmt="g")
    value_log_axis(a2, g2_all, "x")
    integer_log_axis(a1, "y")
    integer_log_axis(a2, "y")
    integer_log_axis(a3, "x")
    numbers = fit_numbers(runs)
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "softhard_width", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
