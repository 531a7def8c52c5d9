"""Captions: one per figure, one source (``figures.<name>.CAPTION``) for the gallery and the
manuscript, in the common subset of Markdown and LaTeX, with no result typed by hand."""

from __future__ import annotations

import importlib
import re

import pytest
from matplotlib.mathtext import MathTextParser

from figures import FIGURES, captions

#: Characters special to LaTeX (or starting emphasis in Markdown) outside math.
SPECIAL_OUTSIDE_MATH = set("%&#_^~\\*{}")


def _split(caption: str) -> tuple[list[str], list[str]]:
    parts = caption.split("$")
    return parts[0::2], parts[1::2]


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_every_figure_has_a_caption(name):
    mod = importlib.import_module(f"figures.{name}")
    assert isinstance(getattr(mod, "CAPTION", None), str) and len(mod.CAPTION.split()) >= 15, \
        f"figures/{name}.py needs a CAPTION of a sentence or more"
    assert captions()[name] == mod.CAPTION


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_caption_is_valid_latex_and_markdown(name):
    caption = captions()[name]
    assert caption.count("$") % 2 == 0, "unbalanced $"
    text, maths = _split(caption)
    bad = sorted({c for t in text for c in t if c in SPECIAL_OUTSIDE_MATH})
    assert not bad, f"{name}: {bad} outside math (write them inside $...$ or in words)"
    assert "\n" not in caption and "  " not in caption
    parser = MathTextParser("agg")
    for m in maths:  # every formula parses (a typo such as \mathr{mm} fails here)
        parser.parse(f"${m}$")


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_caption_types_no_result(name):
    """Results belong to the figure or to the manuscript's generated macros: no decimal
    number in a caption (integers such as years or figure numbers are fine)."""
    assert not re.search(r"\d\.\d", captions()[name]), captions()[name]
