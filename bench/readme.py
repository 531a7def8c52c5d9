"""README tables of the benches, rendered from their results files (never pasted by hand).

Every bench ``bench.NAME`` writes ``bench/results/NAME.md`` and defines
``readme_block(results_text) -> str``: the Markdown the README shows between the markers
``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->``, built only from that file (a
selection of its table's columns and some of its lines). ``tests/bench/test_readme.py``
checks that each README block equals what the committed results file renders.

Usage::

    python -m bench.readme README.md            # re-render every block from bench/results/
    python -m bench.readme README.md twolayer   # one block
    python -m bench.readme README.md --check    # exit 1 if a block differs

A bench run with ``--readme README.md`` renders its own block after writing its results.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from theory._validation import as_choice

#: The benches with a README block, in README order.
BENCHES = ("transfer", "gd", "ntp_svm", "ntk_margin", "twolayer")

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def markers(name: str) -> tuple[str, str]:
    """The begin and end markers of bench ``name``'s README block."""
    name = as_choice(name, "name", BENCHES)
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def results_path(name: str) -> Path:
    """``bench/results/NAME.md``."""
    return RESULTS_DIR / f"{as_choice(name, 'name', BENCHES)}.md"


# ----------------------------------------------------------------------------- Markdown pieces


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_tables(text: str) -> list[tuple[list[str], list[str], list[list[str]]]]:
    """The pipe tables of ``text`` in order: (header cells, alignment cells, rows of cells)."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: ") \
                and lines[i + 1].startswith("|"):
            header, align = _cells(lines[i]), _cells(lines[i + 1])
            rows, i = [], i + 2
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(_cells(lines[i]))
                i += 1
            out.append((header, align, rows))
        else:
            i += 1
    return out


def select_columns(table, columns) -> str:
    """Render ``table`` (from :func:`markdown_tables`) with only ``columns``.

    ``columns``: (source header, shown header) pairs, in the order shown; a missing source
    header raises ``ValueError`` naming it and the headers there are.
    """
    header, align, rows = table
    idx = []
    for src, _ in columns:
        if src not in header:
            raise ValueError(f"results table has no column {src!r}; it has {header}")
        idx.append(header.index(src))
    lines = ["| " + " | ".join(shown for _, shown in columns) + " |",
             "|" + "|".join(align[j] if j < len(align) else "---" for j in idx) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(row[j] if j < len(row) else "" for j in idx) + " |")
    return "\n".join(lines)


def line_starting(text: str, prefix: str) -> str:
    """The first line of ``text`` that starts with ``prefix`` (``ValueError`` if none)."""
    for line in text.splitlines():
        if line.startswith(prefix):
            return line
    raise ValueError(f"results file has no line starting with {prefix!r}")


def blas_line(text: str) -> str:
    """The results file's ``BLAS: ...`` line (the OpenBLAS kernels the run used), or a line
    saying that the run did not record them (results written before the benches did)."""
    try:
        return line_starting(text, "BLAS: ")
    except ValueError:
        return "BLAS: not recorded by this run (its bench did not record the BLAS kernels yet)."


def table_after(text: str, heading: str):
    """The first table after the line ``heading`` (``ValueError`` if none)."""
    i = text.find("\n" + heading + "\n")
    if i < 0 and not text.startswith(heading + "\n"):
        raise ValueError(f"results file has no heading {heading!r}")
    tables = markdown_tables(text[max(i, 0):])
    if not tables:
        raise ValueError(f"results file has no table after {heading!r}")
    return tables[0]


# ----------------------------------------------------------------------------- README blocks


def block(readme_text: str, name: str) -> str:
    """The text between bench ``name``'s markers in ``readme_text`` (``ValueError`` if absent)."""
    begin, end = markers(name)
    i, j = readme_text.find(begin), readme_text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"README has no {begin} ... {end} block")
    return readme_text[i + len(begin):j]


def wrap(body: str) -> str:
    """The block's content as it stands between the markers (one blank line around ``body``)."""
    return "\n" + body.strip("\n") + "\n"


def replace_block(readme_text: str, name: str, body: str) -> str:
    """``readme_text`` with bench ``name``'s block replaced by ``body``."""
    begin, end = markers(name)
    block(readme_text, name)  # raises if the markers are missing
    i, j = readme_text.find(begin) + len(begin), readme_text.find(end)
    return readme_text[:i] + wrap(body) + readme_text[j:]


def render(name: str, results_text: str | None = None) -> str:
    """Bench ``name``'s README block, rendered from ``results_text`` (default: the committed
    ``bench/results/NAME.md``)."""
    mod = importlib.import_module(f"bench.{as_choice(name, 'name', BENCHES)}")
    if results_text is None:
        results_text = results_path(name).read_text()
    return mod.readme_block(results_text)


def update_readme(readme: Path, names=BENCHES) -> list[str]:
    """Re-render the blocks of ``names`` in the file ``readme`` (atomic write); returns the
    names whose block changed."""
    from sims.store import atomic_write_text  # noqa: PLC0415

    readme = Path(readme)
    text = new = readme.read_text()
    for name in names:
        new = replace_block(new, name, render(name))
    changed = [n for n in names if block(text, n) != block(new, n)]
    if new != text:
        atomic_write_text(readme, new)
    return changed


def add_readme_argument(parser) -> None:
    """The ``--readme PATH`` option of every bench."""
    parser.add_argument("--readme", type=Path, default=None, metavar="PATH",
                        help="after writing the results file, re-render this bench's block in the README at PATH "
                             "(e.g. README.md)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("readme", type=Path, help="the README to update (e.g. README.md)")
    ap.add_argument("names", nargs="*",
                    help=f"benches to render (default: all of {', '.join(BENCHES)})")
    ap.add_argument("--check", action="store_true", help="do not write; exit 1 if a block differs")
    args = ap.parse_intermixed_args(argv)
    names = tuple(as_choice(n, "name", BENCHES) for n in args.names) or BENCHES
    if args.check:
        text = args.readme.read_text()
        stale = [n for n in names if block(text, n) != wrap(render(n))]
        for n in stale:
            print(f"{args.readme}: block {n} differs from bench/results/{n}.md", file=sys.stderr)
        return 1 if stale else 0
    changed = update_readme(args.readme, names)
    print(f"{args.readme}: re-rendered {', '.join(names)}; changed: {', '.join(changed) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
