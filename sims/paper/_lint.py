r"""Checks of the manuscript's sources that need no LaTeX: typed numbers, references, citations.

:func:`lint_numbers` finds decimal numbers typed in the prose of ``paper/**/*.tex`` (the
generated files excluded): every result must be ``\IBL{key}``. Constants that belong to
definitions or to the cited papers (a check's threshold, a value a paper reports) are listed
with their reason in :data:`ALLOWED_CONSTANTS`.

:func:`check_references` finds ``\ref``-type targets without a ``\label`` and
``\cite``-type keys missing from ``references.bib``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["ALLOWED_CONSTANTS", "as_folder", "check_references", "lint_numbers", "tex_sources"]


def as_folder(value, name: str, *, must_exist: bool = True, holding: str = "") -> Path:
    """``value`` (str or path) as a Path to a folder; errors name ``name`` and say what is accepted.

    ``must_exist``: the folder must exist; ``holding``: a file it must contain.
    """
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a folder path (str or pathlib.Path), got {type(value).__name__}: {value!r}")
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} must be a folder, got the file {str(value)!r}")
    if must_exist and not path.is_dir():
        raise ValueError(f"{name} must be an existing folder, got {str(value)!r} (no such folder)")
    if holding and not (path / holding).is_file():
        raise ValueError(f"{name} must be a folder holding {holding}, got {str(value)!r} (no {holding} there)")
    return path

#: Decimal constants the prose may type, each with why it is not a result of ours.
ALLOWED_CONSTANTS: dict[str, str] = {
    "0.95": "threshold of check N.7 on cos(W_k - W*, W^mm) at 1e4 steps; also the 95% confidence level",
    "0.97": "threshold of check N.7 on cos(W_k - W*, W^mm) at 1e5 steps",
    "0.5": "the step size eta = 0.5 of [T24] App. A.2 (a setting)",
    "0.01": "step sizes of normalised GD and Adam in [T24] App. A.2 (a setting)",
    "0.9": "Adam's beta_1 in [T24] App. A.2 (a setting); end of check N.5's slope range [-1.15, -0.9]",
    "0.99": "Adam's beta_2 in [T24] App. A.2 (a setting)",
    "1.15": "end of check N.5's accepted slope range [-1.15, -0.9]",
    "0.56": "end of check T.3's accepted level-1 slope range [-0.56, -0.47]",
    "0.47": "end of check T.3's accepted level-1 slope range [-0.56, -0.47]",
    "0.03": "half-width of the slope tolerance of checks T.5, T.6, T.8 (+-0.03)",
    "0.1": "[JT20] example (gamma = 0.1, delta = 0.1): inputs of the width-bound formula",
    "0.05": "delta = 0.05 of the high-probability check T.10 (a setting)",
    "0.6": "pi* = (0.6, 0.3, 0.1): the input of the toy case of check T.1 (a definition)",
    "0.3": "pi* = (0.6, 0.3, 0.1): the input of the toy case of check T.1 (a definition)",
    "0.52": "Instance 0 with |A| = 25: pi* puts 1/2 + 1/(2A) = 0.52 on one label (a definition)",
    "0.02": "Instance 0 with |A| = 25: pi* puts 1/(2A) = 0.02 on the others (a definition)",
    "0.532": "slope reported by [ZZ24], Fig. 2 (a value of the cited paper)",
    "0.525": "slope reported by [ZZ24], Fig. 2 (a value of the cited paper)",
    "1.004": "slope reported by [ZZ24], Fig. 2 (a value of the cited paper)",
    "0.998": "slope reported by [ZZ24], Fig. 2 (a value of the cited paper)",
    "0.977": "slope reported by [ZZ24], Fig. 2 (a value of the cited paper)",
    "0.8811": "entropy of the 2-D toy reported by [T24], Fig. 1 (a value of the cited paper)",
    "1.445": "entropy of the App. A.2 draw reported by [T24] (a value of the cited paper)",
}

_STRIP = [
    re.compile(r"\\(?:IBL|label|ref|eqref|cref|Cref|autoref|pageref|nameref|input|include|iblfigure|hypertarget|"
               r"hyperlink|url|bibliography|bibliographystyle|cite[a-z]*)\*?(?:\[[^\]]*\])*\{[^}]*\}"),
    re.compile(r"\\includegraphics(?:\[[^\]]*\])?\{[^}]*\}"),
    re.compile(r"\\(?:begin|end)\{[^}]*\}(?:\[[^\]]*\])?(?:\{[^}]*\})?"),
    # layout parameters: \renewcommand{\topfraction}{0.9}
    re.compile(r"\\(?:re)?newcommand\{\\[A-Za-z]+\}\{[^}]*\}"),
    # numbered references to the cited papers: Thm.~3.1, Thms.~3.1, 4.1 and 5.1, Lemma~E.5, App.~C.4
    re.compile(r"\b(?:Thms?|Theorems?|Lemmas?|Props?|Propositions?|Defs?|Definitions?|Eqs?|Figs?|Figures?|Apps?|"
               r"Appendix|Secs?|Sections?|Remarks?|Cors?|Corollary|Assumptions?)\.?(?:~|\s)*[A-Z]?\d+(?:\.\d+)*"
               r"(?:\s*(?:,|and|--)(?:\s|~)*[A-Z]?\d+(?:\.\d+)*)*"),
    # lengths: 0.48\textwidth, 1.2em, 2.5cm
    re.compile(r"-?\d*\.?\d+\s*(?:\\(?:text|line|column|paper)width|\\(?:text|paper)height|\\baselineskip|"
               r"cm|mm|pt|em|ex|in|bp)\b"),
]
_DECIMAL = re.compile(r"(?<![\d.])(\d*\.\d+(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+)(?![\w.])")
_WORD_BEFORE = re.compile(r"(\\?)([A-Za-z]*)$")


def _decimals(text: str) -> list[str]:
    """Decimal tokens of ``text``; one glued to a word counts only if the word is a macro (``\\pm0.03``)."""
    out = []
    for m in _DECIMAL.finditer(text):
        slash, word = _WORD_BEFORE.search(text[:m.start()]).groups()
        if word and not slash:  # part of a name such as N.9 or fig2.a
            continue
        out.append(m.group(1))
    return out


def tex_sources(paper_dir) -> list[Path]:
    """The manuscript's hand-written ``.tex`` files (``generated/`` and ``claims/`` excluded), sorted."""
    root = as_folder(paper_dir, "paper_dir")
    skip = {"generated", "claims"}
    return [p for p in sorted(root.rglob("*.tex")) if not skip & set(p.relative_to(root).parts)]


def _strip_comments(text: str) -> str:
    return re.sub(r"(?<!\\)%.*", "", text)


def lint_numbers(paper_dir, allowed: dict | None = None) -> list[str]:
    r"""Decimal numbers typed by hand in the manuscript's sources.

    Parameters
    ----------
    paper_dir : str or Path
    allowed : dict, optional
        ``{number text: reason}``; default :data:`ALLOWED_CONSTANTS`.

    Returns
    -------
    list of str
        ``file:line: 0.123 typed by hand (use \IBL{key} or list it in ALLOWED_CONSTANTS)``.
    """
    root = as_folder(paper_dir, "paper_dir")
    allowed = ALLOWED_CONSTANTS if allowed is None else allowed
    if not isinstance(allowed, dict):
        raise TypeError(f"allowed must be a dict {{number text: reason}}, got {type(allowed).__name__}")
    problems = []
    for p in tex_sources(root):
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            text = _strip_comments(line)
            for rx in _STRIP:
                text = rx.sub(" ", text)
            for tok in _decimals(text):
                if tok not in allowed:
                    problems.append(f"{p.relative_to(root)}:{i}: {tok} typed by hand (use \\IBL{{key}} or list it "
                                    f"in sims.paper.ALLOWED_CONSTANTS with its reason)")
    return problems


_LABEL = re.compile(r"\\label\{([^}]*)\}")
_REF = re.compile(r"\\(?:ref|eqref|cref|Cref|autoref|pageref|nameref)\*?\{([^}]*)\}")
_CITE = re.compile(r"\\cite[a-zA-Z]*\*?(?:\[[^\]]*\])*\{([^}]*)\}")
_BIB = re.compile(r"@\s*([A-Za-z]+)\s*\{\s*([^,\s]+)\s*,")


def check_references(paper_dir, bib: str = "references.bib") -> list[str]:
    r"""Every ``\ref``-type target has a ``\label``; every ``\cite`` key is in the bibliography.

    Labels are collected from all ``.tex`` under ``paper_dir`` (generated files included:
    they define labels too); references and citations from all of them.

    Returns
    -------
    list of str
        One line per dangling reference or unknown citation key.
    """
    root = as_folder(paper_dir, "paper_dir")
    if not isinstance(bib, str):
        raise TypeError(f"bib must be a file name (str), got {type(bib).__name__}: {bib!r}")
    bib_path = root / bib
    if not bib_path.is_file():
        raise ValueError(f"bib must name a file in {root}, got {bib!r} (no such file)")
    bib_keys = {m.group(2) for m in _BIB.finditer(bib_path.read_text(encoding="utf-8"))
                if m.group(1).lower() not in ("comment", "string", "preamble")}
    files = sorted(root.rglob("*.tex"))
    texts = {p: _strip_comments(p.read_text(encoding="utf-8")) for p in files}
    labels = {lab for t in texts.values() for lab in _LABEL.findall(t)}
    problems = []
    for p, t in texts.items():
        rel = p.relative_to(root)
        for m in _REF.finditer(t):
            for target in m.group(1).split(","):
                if target.strip() and target.strip() not in labels:
                    problems.append(f"{rel}: \\ref target {target.strip()!r} has no \\label")
        for m in _CITE.finditer(t):
            for key in m.group(1).split(","):
                if key.strip() and key.strip() not in bib_keys:
                    problems.append(f"{rel}: \\cite key {key.strip()!r} is not in {bib}")
    return problems
