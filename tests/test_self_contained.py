"""Nothing in the repository points outside it: the math is cited by the paper's sections and checks.

The package once cited design notes that are not part of the repository (section numbers of
specification files, and their confidence tags used as citations). The paper (``paper/main.tex``)
is now the home of the math: code, tests, README and manuscript cite its section titles or the
check labels N.k, T.k, S.k of its appendix "Checks", and say "derived here", "our choice" or
"not confirmed in the source" where a tag only expressed confidence. This test fails when such an
outside reference comes back.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: Where to look, and which files (generated ones excluded: the README claims block and
#: ``paper/claims/*`` are rendered from the claim records, which ``tests/sims/test_claims.py`` checks).
SCANNED = ("theory", "sims", "figures", "bench", "tests", "paper", "README.md")
SUFFIXES = {".py", ".md", ".tex", ".bib", ".txt", ".toml", ".json", ".cfg", ".mplstyle"}
GENERATED = ("paper/claims/", "paper/generated/", "paper/numbers/", "paper/figures/")

OUTSIDE = re.compile(
    r"\bspecs?\s*§"                                   # spec §5.8
    r"|\bspec/|shared/spec|\.\./shared"                # paths outside the repository
    r"|\b(?:soft_vs_hard_labels|ntp_implicit_bias|finite_domain_transfer|numerics_and_solvers)\.md"
    r"|\[unverified|\[open[\]:;, ]|\[derived[\]:;, ]"  # confidence tags used as citations
    r"|\b(?:the|numerics|NTP|transfer)\s+spec\b|\bspec's\b"
    r"|\bspecs?\s+(?:check|section|item|threshold|reference|``)",
    re.IGNORECASE,
)

#: ``path:line text`` fragments that may match, each with its reason.
ALLOWED = {
    ("tests/sims/test_claims.py", '"[unverified" not in text and "[open]" not in text'):
        "the claim-source test names the tags it forbids",
    ("tests/test_self_contained.py", ""): "this file defines the patterns",
    ("paper/transfer_gd.md", ""): "a derivation note still being written (transfer trained by GD); its tags become "
                                  "plain words when it is ported into paper/sections/transfer_gd.tex",
}


def _files():
    for name in SCANNED:
        p = ROOT / name
        if p.is_file():
            yield p
            continue
        for f in sorted(p.rglob("*")):
            rel = f.relative_to(ROOT).as_posix()
            if f.is_file() and f.suffix in SUFFIXES and not rel.startswith(GENERATED) and "__pycache__" not in rel:
                yield f


def _claims_block(lines: list[str]) -> range:
    """Lines of the README's generated claims block (rendered by ``ibl claims``)."""
    try:
        begin = next(i for i, t in enumerate(lines) if "claims:begin" in t)
        end = next(i for i, t in enumerate(lines) if "claims:end" in t)
    except StopIteration:
        return range(0)
    return range(begin, end + 1)


def outside_references() -> list[str]:
    """``path:line: text`` for every reference to files outside the repository."""
    bad = []
    for f in _files():
        rel = f.relative_to(ROOT).as_posix()
        lines = f.read_text(errors="replace").splitlines()
        skip = _claims_block(lines) if rel == "README.md" else range(0)
        for i, line in enumerate(lines):
            if i in skip or not OUTSIDE.search(line):
                continue
            if any(rel == path and frag in line for path, frag in ALLOWED):
                continue
            bad.append(f"{rel}:{i + 1}: {line.strip()[:160]}")
    return bad


def test_nothing_points_outside_the_repository():
    bad = outside_references()
    assert not bad, ("references to files outside the repository (cite the paper's section title or a check label "
                     "N.k / T.k / S.k instead):\n" + "\n".join(bad))


def test_the_pattern_catches_what_it_must():
    """The pattern is not vacuous: each former kind of citation matches, the paper's own forms do not."""
    for text in ("spec §5.8", "(numerics spec section 2)", "spec ``soft_vs_hard_labels.md`` §4",
                 "shared/spec/ntp_implicit_bias.md", "[derived]", "[open: a package choice]", "[unverified",
                 "the spec's threshold", "Spec check 3", "../shared/STYLE.md"):
        assert OUTSIDE.search(text), text
    for text in ("check N.8", "paper, Sec. 'Numerics and solvers'", "(derived here)", "(our choice)",
                 "def run(spec):", "spec.figure", "for spec in specs", "add its spec to sims.paper"):
        assert not OUTSIDE.search(text), text
