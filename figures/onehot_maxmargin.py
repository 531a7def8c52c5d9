r"""Soudry et al. (2018): GD on one-hot separable data, binary (row 1) and 3-class (row 2).

Reads the ``onehot_maxmargin`` experiment (:mod:`sims.experiments.onehot`). Columns, against
the GD step k:

1. the data, the support vectors (circled) and the hard-margin SVM (binary: the boundary
   :math:`\hat w^\top x = 0` and the margin lines :math:`\pm1`; 3-class: the regions of
   :math:`\arg\max_c \hat w_c^\top x`);
2. the training loss (log-log) with the predicted :math:`\|\hat W\|^2/(\eta k)`;
3. the direction error :math:`\|W_k/\|W_k\|-\hat W/\|\hat W\|\|` against :math:`1/\log k`, with
   the second-order ("genie") curve of the ray :math:`\hat W\log k+\tilde W` (dashed) and its
   asymptote :math:`C_{\rm dir}/\log k` (dotted); :math:`1-\cos` = half its square =
   :math:`O(1/\log^2k)`;
4. the margin gap :math:`1/\|\hat W\|-\min_n\langle g_n,W_k\rangle/\|W_k\|` against
   :math:`1/\log k`, same references;
5. :math:`\|W_k-\hat W\log k-\tilde W\|` (log-log) with the predicted rate :math:`k^{-\rho}`;
6. :math:`\|W_k\|` against :math:`\log k` with the predicted line
   :math:`\|\hat W\|\log k+\langle\hat W,\tilde W\rangle/\|\hat W\|` (slope :math:`\|\hat W\|`).

The binary row is in the units of the logistic weights :math:`w=w_0-w_1`.

Fitted numbers (``paper/numbers/onehot_maxmargin.json``), per panel: the loss log-log slope on the
last decade :math:`[k_{\max}/10, k_{\max}]` (:func:`theory.fitting.loglog_slope`, 95% CI) and
:math:`k\,\mathcal L\,\eta/\|\hat W\|^2` at :math:`k_{\max}`; OLS of the direction error and of the
margin gap on :math:`1/\log k` over the last two decades (slope, intercept, 95% CIs) next to the
predicted asymptotic slopes (the fitted secant slopes include the
:math:`O(1/\log^2k)` term, so they exceed the asymptotic ones), the products with :math:`\log k`
at :math:`k_{\max}` and the values on the ray :math:`\hat W\log k_{\max}+\tilde W`;
:math:`\log^2k\,(1-\cos)` at :math:`k_{\max}`; the residual's log-log slope on the last decade
(95% CI) and final value next to the predicted :math:`\rho`; the norm's OLS slope in
:math:`\log k` on the last decade (95% CI) next to :math:`\|\hat W\|`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from figures._common import LABELS, draw_with, figure_legend, load_runs, note, plt, style, tag
from theory import fitting
from theory.fitting import loglog_slope

DESCRIPTION = "Soudry et al. (2018): GD on separable binary / 3-class data, rates, w(t) - w_hat log t -> w_tilde"
EXPERIMENTS = ("onehot_maxmargin",)

K_MIN_INV_LOG = 100  # first step shown against 1/log k

TITLES = {"binary": "binary (logistic, units of w)", "multiclass": "3-class cross-entropy"}
CAPTION = (
    "Gradient descent from zero on separable one-hot data (Soudry et al., 2018), binary (top block) and three "
    "classes (bottom block), against the step $k$: the data with the support vectors (circled) and the "
    r"hard-margin SVM $\hat W$; the training loss with the prediction $\|\hat W\|^2/(\eta k)$; the direction "
    r"error and the margin gap against $1/\log k$, with the second-order ray $\hat W \log k + \widetilde W$ (dashed) "
    r"and its asymptote (dotted); the residual $\|W_k - \hat W \log k - \widetilde W\|$ with the predicted rate "
    r"$k^{-\rho}$; and $\|W_k\|$ against $\log k$ with the predicted line "
    r"$\|\hat W\|\log k + \langle \hat W, \widetilde W\rangle/\|\hat W\|$. The binary "
    r"block is in the units of the logistic weights $w = w_0 - w_1$."
)


def _fit_dict(fit) -> dict:
    """A :class:`theory.fitting.LinearFit` as JSON-able numbers, with its intervals as pairs."""
    return fit.as_dict() | {"slope_ci": [fit.ci_low, fit.ci_high],
                            "intercept_ci": [fit.intercept_ci_low, fit.intercept_ci_high]}


def linear_fit(x, y, level: float = 0.95) -> dict:
    """OLS :math:`y = a + b x` with Student-t intervals (:func:`theory.fitting.linear_fit`) as a dict."""
    return _fit_dict(fitting.linear_fit(x, y, level=level))


def fit_numbers(res) -> dict:
    """The fitted and predicted numbers of one panel (an OnehotResult; see the module docstring)."""
    k = np.asarray(res.steps, dtype=np.float64)
    met, gen, pred = res.metrics, res.genie, res.predicted
    kmax = float(k[-1])
    last = (kmax / 10.0, kmax)
    two = (kmax / 100.0, kmax)
    sel2 = (k >= two[0]) & (k <= two[1])
    inv_log = 1.0 / np.log(k[sel2])
    lk = np.log(kmax)
    dir_fit = linear_fit(inv_log, met.direction_error[sel2])
    mg_fit = linear_fit(inv_log, met.margin_gap[sel2])
    norm_fit = _fit_dict(fitting.semilog_slope(k, met.norm, window=last))
    return {
        "k_max": kmax,
        "window_last_decade": list(last),
        "window_last_two_decades": list(two),
        "loss_loglog_slope": loglog_slope(k, met.loss, window=last).as_dict(),
        "loss_times_k_over_prediction": float(kmax * met.loss[-1] / pred.loss_times_k),
        "direction_error_vs_inv_log_k": dir_fit,
        "direction_error_final": float(met.direction_error[-1]),
        "direction_error_ray_final": float(gen.direction_error[-1]),
        "direction_error_times_log_k": float(met.direction_error[-1] * lk),
        "direction_error_times_log_k_predicted_limit": pred.direction_times_log_k,
        "one_minus_cos_times_log2_k": float(met.one_minus_cos[-1] * lk**2),
        "one_minus_cos_times_log2_k_predicted_limit": pred.one_minus_cos_times_log2_k,
        "margin_gap_vs_inv_log_k": mg_fit,
        "margin_gap_final": float(met.margin_gap[-1]),
        "margin_gap_ray_final": float(gen.margin_gap[-1]),
        "margin_gap_times_log_k": float(met.margin_gap[-1] * lk),
        "margin_gap_times_log_k_predicted_limit": pred.margin_gap_times_log_k,
        "tilde_residual_loglog_slope": loglog_slope(k, met.tilde_residual, window=last).as_dict(),
        "tilde_residual_final": float(met.tilde_residual[-1]),
        "tilde_residual_predicted_rate": pred.residual_rate,
        "lambda_min": pred.lambda_min,
        "theta": pred.theta,
        "norm_slope_in_log_k": norm_fit,
        "norm_slope_over_svm_norm": float(norm_fit["slope"] / res.svm_norm),
        "norm_offset_final": float(met.norm[-1] - res.svm_norm * lk),
        "norm_offset_predicted_limit": pred.norm_offset,
        "svm_norm": float(res.svm_norm),
        "cos_final": float(met.cos[-1]),
        "lr": float(res.lr),
        "lr_effective": float(res.lr_effective),
        "smoothness": float(res.smoothness),
        "n": int(res.n),
        "K": int(res.K),
        "n_support_constraints": int(res.alpha_support.size),
        "units": res.units,
    }


def _draw_data(ax, res) -> None:
    X, y, W = res.X, res.y, res.W_hat
    sup = res.support
    sv = sup if sup.ndim == 1 else np.unique(sup[:, 0])
    lim = 1.1 * np.abs(X).max()
    if W.ndim == 1:  # binary: boundary w^T x = 0 and margins w^T x = +-1
        for c, lab, mk in ((1, "+1", "o"), (-1, "-1", "s")):
            ax.scatter(*X[y == c].T, s=12, marker=mk, label=f"y = {lab}")
        t = np.array([-lim, lim])
        nrm = np.array([-W[1], W[0]]) / np.linalg.norm(W)
        for off, ls in ((0.0, "-"), (1.0, "--"), (-1.0, "--")):
            base = off * W / np.dot(W, W)
            pts = base[None, :] + t[:, None] * nrm[None, :]
            ax.plot(pts[:, 0], pts[:, 1], color="k", ls=ls, lw=0.8)
    else:  # K classes: regions of argmax_c w_c^T x
        g = np.linspace(-lim, lim, 300)
        gx, gy = np.meshgrid(g, g)
        lab = np.argmax(np.stack([gx.ravel(), gy.ravel()], 1) @ W.T, axis=1).reshape(gx.shape)
        ax.contourf(gx, gy, lab, levels=np.arange(W.shape[0] + 1) - 0.5, alpha=0.12,
                    colors=[f"C{c}" for c in range(W.shape[0])])
        for c in range(W.shape[0]):
            ax.scatter(*X[y == c].T, s=12, color=f"C{c}", label=f"class {c}")
    ax.scatter(*X[sv].T, s=70, facecolors="none", edgecolors="k", lw=0.9, label="support vectors")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    # below the axes: inside, it covers points (the data fill the square)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=6)


def _draw_panel(axes, run, fits: dict) -> None:
    res = run.result
    k = np.asarray(res.steps, dtype=np.float64)
    met, gen, pred = res.metrics, res.genie, res.predicted
    pos = k >= 1
    kp = k[pos]
    # loss
    ax = axes[1]
    tag(ax.loglog(kp, met.loss[pos], label="GD")[0], run, "result.metrics.loss", "result.steps")
    ax.loglog(kp, pred.loss_times_k / kp, color="k", ls=":", lw=1)
    note(ax, r"dotted: $\|\hat W\|^2/(\eta k)$" + f"\nfitted slope {fits['loss_loglog_slope']['slope']:.3f}")
    ax.set_title("training loss")
    # direction error and margin gap against 1 / log k (k >= 100: before, GD is in its transient)
    big = k >= K_MIN_INV_LOG
    x = 1.0 / np.log(k[big])
    xx = np.linspace(0.0, x.max(), 50)
    for ax, name, cname, lab in (
        (axes[2], "direction_error", "direction_times_log_k", r"direction error $\|W_k/\|W_k\| - \hat W/\|\hat W\|\|$"),
        (axes[3], "margin_gap", "margin_gap_times_log_k",
         r"margin gap $1/\|\hat W\| - \min_n \langle g_n, W_k\rangle/\|W_k\|$"),
    ):
        sim, ray, c = getattr(met, name), getattr(gen, name), getattr(pred, cname)
        tag(ax.plot(x, sim[big])[0], run, f"result.metrics.{name}", "result.steps", x_transform="inv_log")
        top = 1.1 * max(np.nanmax(sim[big]), c * x.max())
        low = ray[big] <= top  # the ray shoots up at large 1/log k: keep the top band for the note
        tag(ax.plot(x[low], ray[big][low], color="k", ls="--", lw=1)[0], run, f"result.genie.{name}", "result.steps",
            x_transform="inv_log")
        ax.plot(xx, c * xx, color="k", ls=":", lw=1)
        ax.set_xlim(0.0, x.max() * 1.02)
        ax.set_ylim(0.0, 1.6 * top)  # headroom: the note goes on top
        ax.set_xlabel(LABELS["inv_log_k"] + r"  ($k \geq 100$)")
        ax.set_title(lab, fontsize="small")
        extra = ""
        if name == "direction_error":
            extra = (f"\n$1-\\cos$ at $k_{{\\max}}$: {met.one_minus_cos[-1]:.2e}\n"
                     + rf"$\log^2 k\,(1-\cos)$: {fits['one_minus_cos_times_log2_k']:.3f} "
                     + rf"($\to$ {pred.one_minus_cos_times_log2_k:.3f})")
        note(ax, rf"dotted: {c:.3f}$/\log k$" + extra, fontsize=6, loc="upper left")  # the ray leaves at the top
    # residual
    ax = axes[4]
    r = met.tilde_residual[pos]
    tag(ax.loglog(kp, r, label="GD")[0], run, "result.metrics.tilde_residual", "result.steps")
    rho = pred.residual_rate
    tail = kp >= kp[-1] / 100.0
    ax.loglog(kp[tail], 2.0 * r[-1] * (kp[tail] / kp[-1]) ** (-rho), color="k", ls=":", lw=1)
    note(ax, rf"dotted: $k^{{-\rho}}$, $\rho$ = {rho:.2f}" + "\n"
         + f"fitted slope {fits['tilde_residual_loglog_slope']['slope']:.2f}")
    ax.set_title(r"$\|W_k - \hat W \log k - \tilde W\|$")
    # norm against log k
    ax = axes[5]
    lk = np.log(kp)
    tag(ax.plot(lk, met.norm[pos])[0], run, "result.metrics.norm", "result.steps", x_transform="log")
    ax.plot(lk, res.svm_norm * lk + pred.norm_offset, color="k", ls=":", lw=1)
    note(ax, rf"dotted: slope $\|\hat W\|$ = {res.svm_norm:.3f}")
    ax.set_xlabel(LABELS["log_k"])
    ax.set_title(r"$\|W_k\|$")
    for a in (axes[1], axes[4]):
        a.set_xlabel(r"step $k$")


def make(store):
    """The figure (one row per panel) and the fitted numbers."""
    style()
    manifest, runs = load_runs(store, "onehot_maxmargin")
    panels = {r.point.panel: r for r in runs}
    # two rows of three axes per panel: 7.5 in wide, the width of a page
    fig, grid = plt.subplots(2 * len(panels), 3, figsize=(7.5, 4.6 * len(panels)), squeeze=False)
    numbers = {}
    for row, (name, run) in enumerate(panels.items()):
        res = run.result
        fits = fit_numbers(res)
        numbers[name] = fits
        axes = grid[2 * row:2 * row + 2].ravel()
        _draw_data(axes[0], res)
        axes[0].set_title(f"{TITLES.get(name, name)}\n$n$ = {res.n}, " + rf"$\|\hat W\|$ = {res.svm_norm:.3f}")
        _draw_panel(axes, run, fits)
    first = next(iter(panels.values()))
    p = first.point
    fig.suptitle(f"GD from $W_0 = 0$, step $\\eta$ = {p.lr_scale:g}/$L$ ($L$: smoothness bound), "
                 f"{int(first.result.steps[-1]):.0e} steps, "
                 f"data seed {p.data_seed}, SVM solver {', '.join(first.result.solvers)}",
                 fontsize="medium")
    from matplotlib.lines import Line2D

    figure_legend(fig, [Line2D([], [], color="C0"), Line2D([], [], color="k", ls="--", lw=1),
                        Line2D([], [], color="k", ls=":", lw=1)],
                  ["GD", r"second-order ray $\hat W\log k + \widetilde W$", "prediction (named in each panel)"], ncol=3)
    numbers["solvers"] = sorted({s for run in panels.values() for s in run.result.solvers})
    numbers["sweep_key"] = manifest["sweep_key"]
    numbers["quick"] = manifest["quick"]
    return fig, numbers


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "onehot_maxmargin", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
