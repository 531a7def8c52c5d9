r"""Thrampoulidis (2024) Figs. 3-5: GD, normalised GD and Adam on the overparameterised set-up.

Six panels against the iteration k (log x), one line per method: the loss gap
CE(W_k) - H (log y), :math:`\|W_k\|`, :math:`\cos(W_k, W^{mm})` (solid) and
:math:`\cos(W_k - W^\star, W^{mm})` (dashed), :math:`\|P_F W_k - W^\star\|/\|W^\star\|`
(log y; dotted: the GD prediction :math:`\|E\|/(k\|W^\star\|)` of
:mod:`theory.ntp_asymptotics`, drawn after the relaxation time :math:`1/(\eta\mu_F)`),
:math:`\|P_\perp W_k - \log(k) W^{mm}\|`, and the GD norm against
:math:`\log k` with the predicted slope :math:`\|W^{mm}\|`.

Fitted numbers (``paper/numbers/ntp_overparam.json``): the GD loss-gap log-log slope
over the last decade of recorded steps [k_max/10, k_max] (:func:`theory.fitting.loglog_slope`,
95% CI) and the GD norm's slope in log k over the same window (:func:`theory.fitting.semilog_slope`),
next to :math:`\|W^{mm}\|`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from figures._common import (LABELS as AXIS_LABELS, METHOD_STYLE, draw_with, figure_legend, load_runs, plt, save,
                              series_style, style, tag, write_numbers)
from theory.fitting import loglog_slope, semilog_slope

DESCRIPTION = "Figs. 3-5 of Thrampoulidis (2024): GD / NGD / Adam on m=50, d=60, V=10"
EXPERIMENTS = ("ntp_overparam",)

LABELS = {"gd": "GD", "ngd": "normalised GD", "adam": "Adam"}
CAPTION = (
    "Gradient descent (GD), normalised GD and Adam on the overparameterised next-token instance of "
    "Thrampoulidis (2024), Figs. 3 to 5, against the iteration $k$: the loss gap "
    r"$\mathrm{CE}(W_k) - \mathcal{H}$; the norm $\|W_k\|$; the cosines of $W_k$ and of $W_k - W^\star$ with "
    r"the max-margin direction $W^{\mathrm{mm}}$; the distance of the finite part $\|P_F W_k - W^\star\|/\|W^\star\|$ "
    r"(dotted: the GD prediction $\|E\|/(k\|W^\star\|)$ after the relaxation time, when it lies in range); "
    r"the residual $\|P_\perp W_k - \log(k) W^{\mathrm{mm}}\|$; and $\|W_k\|$ against $\log k$ with the "
    r"predicted slope $\|W^{\mathrm{mm}}\|$ (dotted)."
)


def _positive(k, y):
    keep = (k > 0) & np.isfinite(y) & (y > 0)
    return k[keep], y[keep]


def fit_numbers(run) -> dict:
    """Fits on one run: gap log-log slope and norm-vs-log(k) slope over the last decade."""
    res = run.result
    k = np.asarray(res.steps, dtype=np.float64)
    kmax = float(k[-1])
    window = (kmax / 10.0, kmax)
    gap = loglog_slope(*_positive(k, res.metrics.gap), window=window)
    norm_slope = semilog_slope(k, res.metrics.norm, window=window).slope
    extra = {}
    if res.E_norm is not None:  # GD on App. A.2: the E/k prediction of theory.ntp_asymptotics at k_max
        extra = {"predicted_dist_F_at_kmax": float(res.E_norm / (kmax * res.W_star_norm)),
                 "mu_F": float(res.mu_F), "w_tilde_rate_exponent": float(res.rate_exponent)}
    return extra | {
        "window": list(window),
        "gap_loglog_slope": gap.as_dict(),
        "norm_slope_in_log_k": norm_slope,
        "W_mm_norm": float(res.W_mm_norm),
        "final": {f.name: float(getattr(res.metrics, f.name)[-1]) for f in dataclasses.fields(res.metrics)},
    }


def make(store):
    """The six panels for the ``ntp_overparam`` runs, and the fitted numbers."""
    manifest, panels = runs_by_method(store, "ntp_overparam")
    p0 = next(iter(panels.values())).point
    title = (rf"$m$ = 50, $d$ = 60, $V$ = 10, $|\mathcal{{S}}_j|$ = 6, $\mathcal{{N}}(0, {p0.scale:g}^2)$ embeddings, "
             f"data seed {p0.data_seed}")
    return make_methods(manifest, panels, title)


def make_methods(manifest, panels, title: str):
    """The six panels for runs of several optimisers on one instance ({method: TypedRun})."""
    style()
    fig, axes = plt.subplots(2, 3, figsize=(7.5, 5.4))
    ax = axes.ravel()
    for i, (method, run) in enumerate(panels.items()):
        sty = METHOD_STYLE.get(method) or series_style(i, dense=True)
        res = run.result
        k = np.asarray(res.steps, dtype=np.float64)
        met = res.metrics
        lab = f"{LABELS.get(method, method)} (lr {run.point.lr:g})"
        pos = k > 0
        (line,) = ax[0].loglog(*_positive(k, met.gap), label=lab, **sty)
        tag(line, run, "result.metrics.gap", "result.steps")
        tag(ax[1].semilogx(k[pos], met.norm[pos], **sty)[0], run, "result.metrics.norm", "result.steps")
        tag(ax[2].semilogx(k[pos], met.cos_mm[pos], **sty, ls="-")[0], run, "result.metrics.cos_mm",
            "result.steps")
        tag(ax[2].semilogx(k[pos], met.cos_mm_corrected[pos], **sty, ls="--")[0], run,
            "result.metrics.cos_mm_corrected", "result.steps")
        tag(ax[3].loglog(*_positive(k, met.dist_F), **sty)[0], run, "result.metrics.dist_F", "result.steps")
        if res.E_norm is not None:  # GD: the E/k regime (paper, Sec. 'The 1/k correction of the finite part')
            late = k >= 1.0 / (run.point.lr * res.mu_F)
            if late.any():
                ax[3].loglog(k[late], res.E_norm / (k[late] * res.W_star_norm), color=sty["color"], ls=":", lw=1.2,
                             label=r"GD predicted $\|E\|/(k\|W^\star\|)$")
                ax[3].legend(fontsize="x-small")
        tag(ax[4].semilogx(k[pos], met.perp_residual[pos], **sty)[0], run, "result.metrics.perp_residual",
            "result.steps")
        tag(ax[5].plot(np.log(k[pos]), met.norm[pos], **sty)[0], run, "result.metrics.norm", "result.steps",
            x_transform="log")
    first = next(iter(panels.values())).result
    ax[0].set_title(rf"$\mathrm{{CE}}(W_k) - \mathcal{{H}}$, $\mathcal{{H}}$ = {first.entropy:.3f}")
    ax[1].set_title(r"$\|W_k\|$")
    ax[2].set_title(r"$\cos(W_k, W^{\mathrm{mm}})$ (solid)" "\n" r"$\cos(W_k - W^\star, W^{\mathrm{mm}})$ (dashed)")
    ax[3].set_title(r"$\|P_F W_k - W^\star\| / \|W^\star\|$")
    ax[4].set_title(r"$\|P_\perp W_k - \log(k)\,W^{\mathrm{mm}}\|$")
    # reference slope ||W^mm|| through the last GD point
    if "gd" in panels:
        g = panels["gd"].result
        kg = np.asarray(g.steps, dtype=np.float64)
        t = np.log(kg[kg > 0])
        ax[5].plot(t, g.metrics.norm[-1] + g.W_mm_norm * (t - t[-1]), color="k", ls=":", lw=1,
                   label=rf"slope $\|W^{{\mathrm{{mm}}}}\|$ = {g.W_mm_norm:.3f}")
        ax[5].legend()
    ax[5].set_title(r"$\|W_k\|$ vs $\log k$")
    ax[5].set_xlabel(AXIS_LABELS["log_k"])
    for a in ax[:5]:
        a.set_xlabel(AXIS_LABELS["k"])
    fig.suptitle(rf"{title}; $W^{{\mathrm{{mm}}}}$ solver {', '.join(first.solvers)}", fontsize="medium")
    figure_legend(fig, ncol=3)
    numbers = {method: fit_numbers(run) for method, run in panels.items()}
    numbers["solvers"] = sorted({s for run in panels.values() for s in run.result.solvers})
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "ntp_overparam", store, outdir)


def runs_by_method(store, experiment: str = "ntp_overparam"):
    """``(manifest, {method: TypedRun})`` of the latest complete sweep of ``experiment``."""
    manifest, runs = load_runs(store, experiment)
    return manifest, {r.point.method: r for r in runs}


#: Former name, kept importable.
runs_by_panel_method = runs_by_method


def draw_methods(manifest, panels, name: str, title: str, outdir: Path) -> list[Path]:
    """Former entry point, kept importable: :func:`make_methods`, then save figure and numbers."""
    fig, numbers = make_methods(manifest, panels, title)
    write_numbers(name, numbers, Path(outdir))
    return save(fig, Path(outdir), name)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
