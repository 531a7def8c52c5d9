r"""How a generated number is printed in the manuscript: one style per kind of quantity.

Styles (:data:`STYLES`):

* ``"slope"``: fixed three decimals (fitted exponents and their CI ends: ``-0.500``);
* ``"sig2"``, ``"sig3"``, ``"sig4"``: that many significant figures; plain for
  :math:`10^{-3}\le|x|<10^4`, else :math:`a\times10^{b}`;
* ``"sci"``: always :math:`a\times10^{b}` with two significant figures (horizons, sizes of
  grids: ``10^{5}`` when the mantissa rounds to 1; the other styles keep ``1.0\times10^{4}``);
* ``"int"``: an integer with thin-space thousands separators (``64\,000``);
* ``"text"``: a string, LaTeX-escaped (statuses, solver names, modes).

Every style gives text that works in and out of math mode (``\ensuremath``), and a
missing or non-finite value prints as "n/a".
"""

from __future__ import annotations

import math
from typing import Any

from theory._validation import as_choice

__all__ = ["STYLES", "format_value", "latex_escape"]

STYLES = ("slope", "sig2", "sig3", "sig4", "sci", "int", "text")

_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}", "`": r"\textasciigrave{}",
            "±": r"\ensuremath{\pm}", "≥": r"\ensuremath{\geq}", "≤": r"\ensuremath{\leq}", "−": "-",
            "×": r"\ensuremath{\times}", "§": r"\S{}"}


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped (and a few Unicode signs as LaTeX)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a string, got {type(text).__name__}: {text!r}")
    # "--" would be an en dash: keep command-line options as typed
    return "".join(_ESCAPES.get(ch, ch) for ch in text).replace("--", "-{}-").replace("--", "-{}-")


def _sci(x: float, sig: int, collapse: bool = False) -> str:
    exp = int(math.floor(math.log10(abs(x))))
    mant = x / 10.0**exp
    if round(abs(mant), sig - 1) >= 10.0:  # 9.99 rounds up to 10.0
        exp, mant = exp + 1, mant / 10.0
    m = f"{mant:.{sig - 1}f}"
    if collapse and float(m) in (1.0, -1.0):  # horizons: 10^5, not 1.0 x 10^5
        return rf"{'-' if mant < 0 else ''}10^{{{exp}}}"
    return rf"{m}\times 10^{{{exp}}}"


def _sig(x: float, sig: int) -> str:
    if x == 0:
        return "0"
    if not 1e-3 <= abs(x) < 1e4:
        return _sci(x, sig)
    text = f"{x:#.{sig}g}"  # '#': keep trailing zeros, they are significant (3.30, not 3.3)
    if "e" in text:  # e.g. 1.00e+03 from 999.6 at three figures
        return _sci(x, sig)
    return text.rstrip(".")


def format_value(value: Any, style: str) -> str:
    r"""The LaTeX text of ``value`` in ``style`` (one of :data:`STYLES`).

    Parameters
    ----------
    value : float, int, str or None
        None prints as "n/a" (every style, e.g. a setting read from a store that lacks its
        experiment); NaN and inf print as "n/a" (numeric styles); ``"text"`` otherwise takes a string.
    style : str

    Returns
    -------
    str
        E.g. ``format_value(-0.50064, "slope") == r"\ensuremath{-0.501}"``.
    """
    style = as_choice(style, "style", STYLES)
    if value is None:
        return "n/a"
    if style == "text":
        if not isinstance(value, str):
            raise TypeError(f"value must be a string for style 'text', got {type(value).__name__}: {value!r}")
        return latex_escape(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise TypeError(f"value must be a number (or None) for style {style!r}, got {type(value).__name__}: "
                        f"{value!r}")
    x = float(value)
    if not math.isfinite(x):
        return "n/a"
    if style == "slope":
        text = f"{x:.3f}"
        if text in ("-0.000",):
            text = "0.000"
    elif style == "int":
        if x != round(x):
            raise ValueError(f"value must be a whole number for style 'int', got {value!r}")
        text = f"{int(round(x)):,}".replace(",", r"\,")
    elif style == "sci":
        text = "0" if x == 0 else _sci(x, 2, collapse=True)
    else:
        text = _sig(x, int(style[-1]))
    return rf"\ensuremath{{{text}}}"
