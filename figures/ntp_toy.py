r"""Thrampoulidis (2024) Figs. 1-2: the 2-D toy (m = 3, d = 2, V = 5, supports of size 3).

Left: the context embeddings :math:`\bar h_j` (labelled A, B, C) and the rows
:math:`w_v^{mm}` of :math:`W^{mm}` as arrows from the origin (tokens 1..5, the paper's
1-based labels). Right: heatmaps of P (m x V), :math:`W^{mm}` (V x d) and
:math:`W^\star` (V x d). Read from the ``ntp_toy`` experiment (one GD run, which also
stores the final iterate direction :math:`W_k/\|W_k\|` as a dotted check against
:math:`W^{mm}/\|W^{mm}\|`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from figures._common import PALETTE, draw_with, load_runs, plt, style, tag

DESCRIPTION = "Figs. 1-2 of Thrampoulidis (2024): 2-D toy, context points, rows of W^mm, P, W^mm, W*"
EXPERIMENTS = ("ntp_toy",)
CAPTION = (
    "The two-dimensional next-token toy of Thrampoulidis (2024), Figs. 1 and 2: three contexts, five tokens, "
    r"supports of size three. Left: the context embeddings $\bar h_j$ (A, B, C) and the rows $w_v^{\mathrm{mm}}$ "
    "of the "
    r"max-margin direction $W^{\mathrm{mm}}$ as arrows (tokens numbered from one as in the paper), with the direction "
    r"of the last GD iterate $W_k$ rescaled to the norm of $W^{\mathrm{mm}}$ (dotted). Right: the next-token "
    r"probabilities $P$ (contexts by tokens), $W^{\mathrm{mm}}$ and the finite component $W^\star$ (tokens by "
    "embedding coordinates)."
)


def make(store):
    """The arrow plot and the three heatmaps; no fitted numbers."""
    style()
    _, runs = load_runs(store, "ntp_toy")
    run = runs[0]
    res = run.result
    H, P, Wmm, Ws, W = res.H, res.P, res.W_mm, res.W_star, res.W
    fig, axes = plt.subplots(1, 4, figsize=(7.5, 2.5), gridspec_kw={"width_ratios": [1.25, 1.45, 0.75, 0.75]})
    ax = axes[0]
    for j, name in enumerate("ABC"):
        ax.scatter(*H[j], color="k", zorder=3, s=12)
        # the context's name radially outside its point, clear of the arrows from the origin
        out = 9 * H[j] / max(np.linalg.norm(H[j]), 1e-300)
        ax.annotate(name, H[j], textcoords="offset points", xytext=tuple(out), ha="center", va="center")
    scale = np.linalg.norm(Wmm) / max(np.linalg.norm(W), 1e-300)
    for v in range(Wmm.shape[0]):
        c = PALETTE[v % len(PALETTE)]
        ax.annotate("", xy=Wmm[v], xytext=(0, 0), arrowprops=dict(arrowstyle="->", color=c, lw=1.2))
        ax.plot([0, W[v, 0] * scale], [0, W[v, 1] * scale], color=c, ls=":", lw=1)
        same = [u + 1 for u in range(Wmm.shape[0]) if np.allclose(Wmm[u], Wmm[v], atol=1e-8)]
        if same[0] == v + 1:  # coincident rows (e.g. tokens 1 and 5 of the toy) get one joint label
            # at mid-arrow, to its side: arrow tips may sit next to a context point
            side = 7 * np.array([-Wmm[v, 1], Wmm[v, 0]]) / max(np.linalg.norm(Wmm[v]), 1e-300)
            ax.annotate("=".join(map(str, same)), 0.55 * Wmm[v], color=c, textcoords="offset points",
                        xytext=tuple(side), ha="center", va="center", fontsize=7.5)
    lim = 1.15 * max(np.abs(Wmm).max(), np.abs(H).max())
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(r"$\bar h_j$ and rows of $W^{\mathrm{mm}}$" "\n" r"(dotted: $W_k$ rescaled)")
    for a, M, path, title, xl, yl in (
        (axes[1], P, "result.P", r"$P$ (contexts $\times$ tokens)", r"token $v$", r"context $j$"),
        (axes[2], Wmm, "result.W_mm", r"$W^{\mathrm{mm}}$", "coordinate", r"token $v$"),
        (axes[3], Ws, "result.W_star", r"$W^\star$", "coordinate", r"token $v$"),
    ):
        vmax = np.abs(M).max()
        im = a.imshow(M, cmap="RdBu_r" if M.min() < 0 else "viridis", vmin=-vmax if M.min() < 0 else 0, vmax=vmax)
        tag(im, run, path)
        a.set_title(title)
        a.set_xlabel(xl)
        a.set_ylabel(yl)
        a.set_xticks(range(M.shape[1]), [str(i + 1) for i in range(M.shape[1])])
        a.set_yticks(range(M.shape[0]),
                     list("ABC") if M is P else [str(i + 1) for i in range(M.shape[0])])
        a.grid(False)
        fig.colorbar(im, ax=a, fraction=0.08, shrink=0.9)
    return fig, None


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "ntp_toy", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
