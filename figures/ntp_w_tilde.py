r"""The second-order term :math:`\tilde W` of GD on NTP data (beyond [T24];
paper, Sec. 'Beyond the paper: the second-order term of NTP training').

One column per instance of the ``ntp_w_tilde`` experiment. Top: the determined residual
:math:`\|P_{\mathcal A}(W_k-W^\star-\log(k)W^{mm})-\tilde W_{\mathcal A}\|` (solid) and the
full residual :math:`\|W_k-W^\star-\log(k)W^{mm}-\tilde W\|` (dashed) against k (log-log),
with the predicted rate :math:`k^{-\nu}` (dotted, through the last point, over the fit window). Bottom: the
range over active pairs of :math:`k\,\eta\hat\pi_j\mathbb S_v(W_k\bar h_j)/\lambda_{jv}`,
predicted to tend to 1.

Fitted numbers (``paper/numbers/ntp_w_tilde.json``): the log-log slope of the determined
residual over the last two decades of checkpoints [k_max/100, k_max]
(:func:`theory.fitting.loglog_slope`, 95% CI) next to :math:`-\nu`, the final residuals and
mass-ratio range.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import LABELS, draw_with, figure_legend, load_runs, plt, style, tag
from theory.fitting import loglog_slope

DESCRIPTION = "Second-order term W~ of GD on NTP data: residuals and active-pair masses"
EXPERIMENTS = ("ntp_w_tilde",)

TITLES = {"toy": "2-D toy", "orthonormal": "orthonormal", "gaussian": "Gaussian", "paper_a2": "App. A.2"}
CAPTION = (
    r"The second-order term $\widetilde W$ of GD on next-token data, one column per instance (shape $(m, d, V)$). "
    r"Top: the residual on the determined subspace, $\|P_{\mathcal{A}}(W_k - W^\star - \log(k) W^{\mathrm{mm}}) "
    r"- \widetilde W_{\mathcal{A}}\|$ (solid), and the full residual $\|W_k - W^\star - \log(k) W^{\mathrm{mm}} "
    r"- \widetilde W\|$ (dashed) against the iteration $k$, with the predicted rate $k^{-\nu}$ (dotted, through the "
    r"last point over the fit window). Bottom: the range over active pairs of "
    r"$k\,\eta\hat\pi_j\mathbb{S}_v(W_k\bar h_j)/\lambda_{jv}$, predicted to tend to one (dotted)."
)


def fit_numbers(res) -> dict:
    """Slope of the determined residual over the last two decades, and final values (a WTildeResult)."""
    k = np.asarray(res.steps, dtype=np.float64)
    window = (k[-1] / 100.0, k[-1])
    fit = loglog_slope(k, res.determined_residual, window=window)
    return {
        "window": list(window),
        "determined_slope": fit.as_dict(),
        "predicted_slope": -float(res.rate_exponent),
        "final_determined_residual": float(res.determined_residual[-1]),
        "final_residual": float(res.residual[-1]),
        "final_mass_ratio_range": [float(res.mass_ratio_min[-1]), float(res.mass_ratio_max[-1])],
        "spanning": bool(res.spanning),
        "free_dim": int(res.free_dim),
        "n_active": int(res.n_active),
        "kappa_min": float(res.kappa_min),
        "restoring_min": float(res.restoring_min),
    }


def make(store):
    """One column per instance, and the fitted numbers."""
    style()
    manifest, runs = load_runs(store, "ntp_w_tilde")
    order = [p for p in TITLES if any(r.point.panel == p for r in runs)]
    by = {r.point.panel: r for r in runs}
    fig, axes = plt.subplots(2, len(order), figsize=(1.9 * len(order), 4.6), squeeze=False)
    numbers = {}
    for c, panel in enumerate(order):
        run = by[panel]
        res = run.result
        k = np.asarray(res.steps, dtype=np.float64)
        det, full = res.determined_residual, res.residual
        nu = float(res.rate_exponent)
        ax = axes[0, c]
        tag(ax.loglog(k, det, label=r"determined ($\mathcal{A}$)", marker="o", markevery=0.1, ms=3)[0], run,
            "result.determined_residual", "result.steps")
        tag(ax.loglog(k, full, ls="--", label="full", marker="s", markevery=0.1, ms=3)[0], run, "result.residual",
            "result.steps")
        g = k >= k[-1] / 100.0  # the guide spans the fit window only
        ax.loglog(k[g], det[-1] * (k[g] / k[-1]) ** (-nu), "k:", lw=1.2, label=r"predicted $k^{-\nu}$")
        span = "spanning" if res.spanning else f"{res.free_dim} free dim."
        m, d, V = res.shape
        ax.set_title(f"{TITLES[panel]} ({m}, {d}, {V})\n{span}, " + rf"$\nu$ = {nu:.3g}")
        ax.set_xlabel(LABELS["k"])
        ax2 = axes[1, c]
        ax2.fill_between(k, res.mass_ratio_min, res.mass_ratio_max, alpha=0.3, lw=0)
        tag(ax2.plot(k, res.mass_ratio_min, color="C0", lw=0.8)[0], run, "result.mass_ratio_min", "result.steps")
        tag(ax2.plot(k, res.mass_ratio_max, color="C0", lw=0.8)[0], run, "result.mass_ratio_max", "result.steps")
        ax2.axhline(1.0, color="k", lw=0.8, ls=":")
        ax2.set_xscale("log")
        hi = max(2.0, float(np.max(res.mass_ratio_max[len(k) // 2:])))
        ax2.set_ylim(0.0, min(hi, 10.0))
        ax2.set_xlabel(LABELS["k"])
        ax2.set_title(f"{res.n_active} active pairs")
        numbers[panel] = fit_numbers(res)
    axes[0, 0].set_ylabel(r"residual norm")
    axes[1, 0].set_ylabel(r"$k\,\eta\hat\pi_j\,\mathbb{S}_v(W_k\bar h_j)/\lambda_{jv}$")
    fig.suptitle(r"GD: $W_k = W^\star + \log(k)\,W^{\mathrm{mm}} + \widetilde W + o(1)$ (solvers: "
                 + ", ".join(sorted({s for r in runs for s in r.result.solvers})) + ")")
    figure_legend(fig, ncol=3)
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "ntp_w_tilde", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
