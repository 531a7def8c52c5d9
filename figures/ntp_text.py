r"""GD, normalised GD and Adam on the real-text NTP instance (the panels of Figs. 3-5 of [T24]).

Same six panels and fitted numbers as :mod:`figures.ntp_overparam`, for the ``ntp_text``
experiment: character-level contexts of length 2 from the standard-library docstrings
(:meth:`theory.ntp.NTPData.from_text`), d = m + 1 Gaussian embeddings. Numbers go to
``paper/numbers/ntp_text.json``.
"""

from __future__ import annotations

from pathlib import Path

from figures._common import draw_with
from figures.ntp_overparam import make_methods, runs_by_method

DESCRIPTION = "GD / NGD / Adam on the real-text NTP instance (stdlib docstrings)"
EXPERIMENTS = ("ntp_text",)
CAPTION = (
    "The panels of the overparameterised next-token figure on a real-text instance: character-level contexts "
    "of length two from the Python standard library's docstrings, Gaussian embeddings of dimension $d = m + 1$. "
    r"GD, normalised GD and Adam against the iteration $k$: loss gap, norm, cosines with $W^{\mathrm{mm}}$, "
    r"finite part, residual $\|P_\perp W_k - \log(k) W^{\mathrm{mm}}\|$ and norm against $\log k$."
)


def make(store):
    """The six panels for the ``ntp_text`` runs, and the fitted numbers."""
    manifest, panels = runs_by_method(store, "ntp_text")
    first = next(iter(panels.values()))
    m, d, V = first.result.shape
    p = first.point
    title = (f"text ({p.level}-level, context length {p.context_length}): $m$ = {m}, $d$ = {d}, $V$ = {V}, "
             rf"$\mathcal{{N}}(0, {p.scale:g}^2)$ embeddings")
    return make_methods(manifest, panels, title)


def draw(store, outdir: Path) -> list[Path]:
    return draw_with(make, "ntp_text", store, outdir)


if __name__ == "__main__":
    print(draw(__import__("sims.store").store.ResultStore(), Path("paper/figures")))
