"""The claims registry: what the package claims, as data computed from the store (issue 11).

Each :class:`Claim` names its source, statement, experiment and quantity, a ``predict``
that calls :mod:`theory`, a ``measure`` that reads typed runs from the store, a
:class:`Tolerance` with its provenance, a horizon and seeds. :func:`claim_status`
computes the status (never typed). ``ibl claims`` measures every record
(:func:`measure_all`), writes ``measurements.json`` and renders the tables
(:func:`write_outputs`) into ``paper/generated/claims/`` (git-ignored; the manuscript
includes it). The committed tables ``paper/claims/*`` and the README's claims block
(between ``<!-- claims:begin -->`` and ``<!-- claims:end -->``, :func:`update_readme`) are
rendered only by the maintainer command ``make claims STORE=DIR``, from a store of
full-mode runs.

One file of records per model family: :mod:`sims.claims.transfer` (Zhao & Zhu),
:mod:`sims.claims.ntp` ([T24]), :mod:`sims.claims.onehot` (Soudry et al.),
:mod:`sims.claims.derived` (our derivations), :mod:`sims.claims.transfer_gd` (the [ZZ23]
learners trained by GD, our derivations), :mod:`sims.claims.soft_labels` (to come).
"""

from __future__ import annotations

from pathlib import Path

from sims.claims import derived, ntp, onehot, soft_labels, transfer, transfer_gd
from sims.claims._record import (
    COMPARISONS,
    REFUTE_FACTOR,
    STATUSES,
    Claim,
    Measurement,
    Missing,
    Status,
    Tolerance,
    claim_status,
    format_number,
)
from sims.claims._render import (
    COMMITTED_DIR,
    GENERATED_DIR,
    Row,
    caption,
    committed_measurements,
    evaluate,
    latex_escape,
    load_measurements,
    measure_all,
    render_json,
    render_latex,
    render_markdown,
    write_outputs,
)

__all__ = [
    "CLAIMS", "COMMITTED_DIR", "COMPARISONS", "GENERATED_DIR", "README_BEGIN", "README_END", "REFUTE_FACTOR",
    "STATUSES", "Claim", "Measurement", "Missing", "Row", "Status", "Tolerance", "caption", "claim_status",
    "committed_measurements", "evaluate", "format_number", "latex_escape",
    "load_measurements", "measure_all", "readme_section", "render_json", "render_latex", "render_markdown",
    "update_readme", "write_outputs",
]

CLAIMS: list[Claim] = (transfer.CLAIMS + ntp.CLAIMS + onehot.CLAIMS + derived.CLAIMS + soft_labels.CLAIMS
                       + transfer_gd.CLAIMS)

README_BEGIN = "<!-- claims:begin -->"
README_END = "<!-- claims:end -->"


def readme_section(readme_text: str) -> str:
    """The text between the README markers (``ValueError`` if they are missing)."""
    i, j = readme_text.find(README_BEGIN), readme_text.find(README_END)
    if i < 0 or j < i:
        raise ValueError(f"README has no {README_BEGIN} ... {README_END} block")
    return readme_text[i + len(README_BEGIN):j]


def update_readme(readme: Path, markdown: str) -> None:
    """Replace the README's claims block with ``markdown`` (adds a "## Claims" section if absent)."""
    text = readme.read_text()
    block = f"{README_BEGIN}\n{markdown}{README_END}"
    if README_BEGIN in text:
        i, j = text.find(README_BEGIN), text.find(README_END) + len(README_END)
        text = text[:i] + block + text[j:]
    else:
        text = text.rstrip("\n") + "\n\n## Claims\n\n" + block + "\n"
    readme.write_text(text)
