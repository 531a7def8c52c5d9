r"""The manuscript's generated numbers (``ibl paper``): every number in ``paper/*.tex`` comes from here.

The manuscript (``paper/main.tex`` and ``paper/sections/*.tex``) never types a result: it
writes ``\IBL{key}``, and ``ibl paper`` writes ``paper/generated/numbers.tex`` with one
macro per key, read from the result store through the typed runs
(:func:`sims.experiment.load_runs`), the figures' fitted numbers (``make(store)`` of each
figure script) and the claims registry's measurements (:mod:`sims.claims`). Each number
carries its provenance (experiment, sweep key, run keys, code digest, quick or full mode)
as a PDF tooltip and as a link to a generated table in the appendix
(``paper/generated/provenance.tex``).

Modules: :mod:`sims.paper._numbers` (what each number is: :data:`SPECS`, and
:func:`collect_numbers`), :mod:`sims.paper._format` (how it is printed),
:mod:`sims.paper._write` (the generated files and :func:`check_numbers`, which says what
is stale relative to a store), :mod:`sims.paper._reuse` (the figures' numbers that ``ibl
figures`` wrote, reused while they are current for the store), :mod:`sims.paper._lint`
(typed numbers, references and citations in the sources, no LaTeX needed).
"""

from __future__ import annotations

from pathlib import Path

from sims.paper._format import STYLES, format_value, latex_escape
from sims.paper._lint import ALLOWED_CONSTANTS, as_folder, check_references, lint_numbers, tex_sources
from sims.paper._numbers import (SPECS, PaperNumber, Spec, check_measurements_argument, check_store_argument,
                                 claim_keys, collect_numbers, declared_keys)
from sims.paper._reuse import STAMP_SUFFIX, current_figure_numbers, figure_state, stamp_figure_numbers
from sims.paper._write import GENERATED_FILES, check_numbers, read_numbers, used_keys, write_numbers

__all__ = [
    "ALLOWED_CONSTANTS", "GENERATED_FILES", "PaperNumber", "SPECS", "STAMP_SUFFIX", "STYLES", "Spec", "check_numbers",
    "check_references", "claim_keys", "collect_numbers", "current_figure_numbers", "declared_keys", "figure_state",
    "format_value", "generate", "stamp_figure_numbers",
    "latex_escape", "lint_numbers", "read_numbers", "tex_sources", "used_keys", "write_numbers",
]


def generate(store, paper_dir="paper", measurements: dict | None = None, figure_numbers=None,
             reused: list | None = None) -> list[Path]:
    """Collect every number from ``store`` and write ``paper_dir/generated/*``.

    Parameters
    ----------
    store : sims.store.ResultStore
    paper_dir : str or Path
        The folder of ``main.tex``; the provenance table lists the keys its sources use.
    measurements : dict, optional
        The claims registry's measurements (measured from ``store`` when omitted).
    figure_numbers : str or Path, optional
        Where ``ibl figures`` wrote the figures' numbers; current ones are reused
        (:func:`collect_numbers`). Default: draw every figure.
    reused : list, optional
        Receives the names of the figures whose stored numbers were reused.

    Returns
    -------
    list of Path
        The files written.
    """
    check_store_argument(store)
    root = as_folder(paper_dir, "paper_dir", holding="main.tex")
    check_measurements_argument(measurements)
    numbers = collect_numbers(store, measurements, figure_numbers, reused)
    return write_numbers(numbers, root / "generated", used=used_keys(root), source=str(Path(store.root)))
