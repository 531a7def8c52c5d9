"""Evaluating the registry and rendering it: Markdown (README), LaTeX (paper), JSON.

``measurements.json`` holds what :func:`measure_all` read from the store; every table is
rendered from it alone (:func:`evaluate`), so the committed tables can be checked
without a store or a simulation.

Two places hold rendered tables. ``paper/claims/`` (:data:`COMMITTED_DIR`) is committed: the
maintainer renders it from a store of full-mode runs (``make claims STORE=DIR``), and the
README's claims block is its Markdown. ``paper/generated/claims/`` (:data:`GENERATED_DIR`,
git-ignored) is what ``ibl claims``, ``ibl paper`` and ``ibl all`` write by default, from
whatever store they read; the manuscript includes that one, so its claims table comes from
the same store as its other numbers. The measurements keep the store they were read from
(``"store"``), and the caption of a table says it; the committed measurements carry no
store (:func:`committed_measurements`), and their caption says they are the committed ones.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from sims.claims._record import Claim, Measurement, Missing, Status, claim_status, format_number
from sims.store import atomic_write_text

__all__ = ["COMMITTED_DIR", "GENERATED_DIR", "Row", "caption", "committed_measurements", "evaluate", "latex_escape",
           "load_measurements", "measure_all", "render_json", "render_latex", "render_markdown", "write_outputs"]

#: The committed tables (relative to the repository root): rendered only by the maintainer command.
COMMITTED_DIR = Path("paper") / "claims"
#: The tables the commands write by default (git-ignored), which the manuscript includes.
GENERATED_DIR = Path("paper") / "generated" / "claims"


@dataclass(frozen=True)
class Row:
    claim: Claim
    measurement: "Measurement | Missing"
    prediction: float
    status: Status


def measure_all(claims, store) -> dict:
    """``{"store": path, "claims": {id: measurement dict}}`` read from ``store`` (JSON-ready)."""
    return {"store": str(store.root), "claims": {c.id: c.measure(store).to_dict() for c in claims}}


def committed_measurements(measurements: dict) -> dict:
    """``measurements`` without the store they were read from: what ``paper/claims/measurements.json`` holds.

    The committed tables say they are rendered from the committed measurements, not from a
    store path of the maintainer's machine.
    """
    if not isinstance(measurements, dict) or not isinstance(measurements.get("claims"), dict):
        raise TypeError(f"measurements must be the dict of sims.claims.measure_all (with a 'claims' dict), got "
                        f"{type(measurements).__name__}")
    return {k: v for k, v in measurements.items() if k != "store"}


def _from_dict(d: dict):
    return Missing(d["missing"]) if "missing" in d else Measurement.from_dict(d)


def evaluate(claims, measurements: dict) -> list[Row]:
    """Predictions (``claim.predict``) and statuses (:func:`claim_status`) from stored measurements."""
    rows = []
    table = measurements.get("claims", {})
    for c in claims:
        m = _from_dict(table[c.id]) if c.id in table else Missing("not in measurements.json")
        if isinstance(m, Measurement):
            try:
                pred = c.predict(m.inputs)
                c.tolerance.absolute(pred, m.inputs)
            except KeyError as e:  # measured by an older version of the record
                m = Missing(f"the stored measurement lacks the input {e}: re-measure with `ibl claims`")
        if isinstance(m, Measurement):
            pred = c.predict(m.inputs)
        else:  # a prediction that needs no measured input is still shown
            try:
                pred = c.predict({})
            except KeyError:
                pred = math.nan
        rows.append(Row(c, m, float(pred), claim_status(c, m, pred)))
    return rows


def caption(rows: list[Row], measurements: dict | None = None) -> str:
    """One line: where the numbers come from, and which experiments ran in quick or full mode.

    Measurements that record their store (``measurements["store"]``, :func:`measure_all`) are
    captioned with that store and as not the committed table; the committed ones
    (:func:`committed_measurements`) as the committed measurements.
    """
    modes: dict[str, set] = {}
    for r in rows:
        if isinstance(r.measurement, Measurement):
            modes.setdefault("quick" if r.measurement.quick else "full", set()).add(r.claim.experiment)
    parts = [f"{mode} mode: {', '.join(sorted(names))}" for mode, names in sorted(modes.items())]
    store = (measurements or {}).get("store")
    origin = ("the committed measurements (paper/claims/measurements.json)" if store is None
              else f"measurements of the store {store} (a generated table, not the committed one in paper/claims/)")
    return f"Rendered by `ibl claims` from {origin}; {'; '.join(parts) or 'nothing measured'}."


def _measured(row: Row) -> str:
    m = row.measurement
    if isinstance(m, Missing):
        return "-"
    unc = f" ± {format_number(m.uncertainty)}" if m.uncertainty > 0 else ""
    return f"{format_number(m.value)}{unc} at {row.claim.horizon_unit}={format_number(m.horizon)}"


def _tol(row: Row) -> str:
    c = row.claim
    rel = {"equal": "±", "at_least": "≥ pred −", "at_most": "≤ pred +"}[c.comparison]
    t = c.tolerance
    amount = f"{format_number(t.value)}" + (f"×{t.key}" if t.key else "") + (" rel." if t.relative else "")
    return f"{rel} {amount} ({t.why})"


def _cells(row: Row) -> list[str]:
    c = row.claim
    return [c.id, c.source, c.statement, f"{c.experiment}: {c.quantity}",
            f"{format_number(row.prediction)} ({c.prediction_source})", _measured(row), _tol(row),
            str(row.status)]


HEADER = ["id", "source", "claim", "experiment: quantity", "prediction", "measured", "tolerance", "status"]


def render_markdown(rows: list[Row], measurements: dict) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")
    lines = [caption(rows, measurements), "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        lines.append("| " + " | ".join(esc(x) for x in _cells(r)) + " |")
    return "\n".join(lines) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "`": r"\textasciigrave{}",
          "§": r"\S{}", "±": r"$\pm$", "≥": r"$\geq$", "≤": r"$\leq$", "−": "-", "×": r"$\times$"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters (and the few Unicode signs the table uses)."""
    return "".join(_LATEX.get(ch, ch) for ch in text)


#: Column widths (mm) of the LaTeX table, set on a landscape A4 page (249 mm of text width, less
#: 16 gaps of 3 pt): id, source, claim, experiment: quantity, prediction, measured, tolerance, status.
LATEX_WIDTHS = (26, 26, 36, 28, 24, 22, 28, 33)

# a break point after the dot or slash of an identifier (theory.transfer.upper_bound, hard/k=1), never in a number
_ID_BREAK = re.compile(r"(?<=[A-Za-z0-9_\\])([./])(?=[A-Za-z\\])")


def _latex_cell(text: str) -> str:
    r"""``text`` escaped for a table cell, with break points in long identifiers.

    A line may break after each underscore, and after each dot or slash between letters
    (``theory.transfer.upper\_bound`` breaks as ``theory.`` / ``transfer.`` / ``upper\_``
    / ``bound``); decimal numbers such as 0.1282 keep their dot.
    """
    esc = latex_escape(text).replace(r"\_", r"\_\allowbreak{}")
    return _ID_BREAK.sub(r"\1\\allowbreak{}", esc)


def render_latex(rows: list[Row], measurements: dict) -> str:
    """The claims table as a ``longtable`` with ragged-right columns and a header repeated on every page."""
    cols = "".join(r">{\raggedright\arraybackslash}p{%dmm}" % w for w in LATEX_WIDTHS)
    header = " & ".join(r"\textbf{" + latex_escape(h) + "}" for h in HEADER) + r" \\ \hline"
    lines = [r"% generated by `ibl claims`; do not edit (needs \usepackage{longtable,array})",
             r"\begin{longtable}{" + cols + "}",
             r"\caption{" + latex_escape(caption(rows, measurements)) + r"}\\",
             header, r"\endfirsthead", header, r"\endhead"]
    for r in rows:
        lines.append(" & ".join(_latex_cell(x) for x in _cells(r)) + r" \\")
    lines.append(r"\end{longtable}")
    return "\n".join(lines) + "\n"


def render_json(rows: list[Row], measurements: dict) -> str:
    out = {"caption": caption(rows, measurements), "claims": []}
    for r in rows:
        c, m = r.claim, r.measurement
        out["claims"].append({
            "id": c.id, "source": c.source, "statement": c.statement, "experiment": c.experiment,
            "quantity": c.quantity, "prediction": None if math.isnan(r.prediction) else r.prediction,
            "prediction_source": c.prediction_source, "comparison": c.comparison,
            "tolerance": {"value": c.tolerance.value, "why": c.tolerance.why, "relative": c.tolerance.relative,
                          "key": c.tolerance.key},
            "horizon": c.horizon, "horizon_unit": c.horizon_unit, "seeds": c.seeds, "produce": c.produce,
            "measurement": m.to_dict(), "status": r.status.category, "status_detail": r.status.detail,
        })
    return json.dumps(out, indent=1, sort_keys=True, allow_nan=False) + "\n"


def load_measurements(path) -> dict:
    return json.loads(Path(path).read_text())


def write_outputs(claims, measurements: dict, outdir) -> list[Path]:
    """Write measurements.json, claims.md, claims.tex, claims.json into ``outdir``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rows = evaluate(claims, measurements)
    texts = {
        "measurements.json": json.dumps(measurements, indent=1, sort_keys=True, allow_nan=False) + "\n",
        "claims.md": render_markdown(rows, measurements),
        "claims.tex": render_latex(rows, measurements),
        "claims.json": render_json(rows, measurements),
    }
    paths = []
    for name, text in texts.items():
        p = outdir / name
        atomic_write_text(p, text)
        paths.append(p)
    return paths
