"""English text that ships with every Python installation: standard-library docstrings.

This module supplies the raw material for :meth:`theory.ntp.NTPData.from_text`, a
real-language next-token-prediction instance that needs no download. The text is
the docstrings of a fixed list of pure-Python, platform-neutral standard-library
modules, read through ``import`` and :func:`inspect.getdoc`-style cleaning. It is a
pure function of the Python version (docstrings change between Python releases),
so every result records :func:`python_version`.

Nothing here writes files or touches global state beyond importing standard-library
modules (which Python caches in ``sys.modules``).
"""

from __future__ import annotations

import collections
import importlib
import inspect
import platform
import re
import sys
import warnings
from collections.abc import Sequence

import numpy as np

from theory._validation import as_int

__all__ = [
    "DEFAULT_MODULES",
    "UNKNOWN_WORD",
    "python_version",
    "stdlib_docstrings",
    "tokenize_chars",
    "tokenize_words",
]

#: Pure-Python (or C-backed but with fixed docstrings), platform-neutral modules.
#: Modules whose public names depend on the operating system (``os``, ``shutil``,
#: ``tempfile``, ...) or that warn on attribute access (``typing``) are excluded so the
#: text depends only on the Python version.
DEFAULT_MODULES: tuple[str, ...] = (
    "abc", "argparse", "ast", "base64", "bisect", "calendar", "colorsys", "contextlib",
    "copy", "csv", "dataclasses", "difflib", "doctest", "enum", "fnmatch", "fractions",
    "functools", "getopt", "gettext", "graphlib", "heapq", "html", "inspect", "json",
    "logging", "numbers", "pprint", "queue", "random", "sched", "shlex", "statistics",
    "string", "textwrap", "unittest",
)

#: Token that replaces out-of-vocabulary words in :func:`tokenize_words`.
UNKNOWN_WORD = "<unk>"

_WORD_RE = re.compile(r"[a-z]+")
_SPACE_RE = re.compile(r"\s+")


def python_version() -> str:
    """Return the interpreter identity the docstring corpus depends on.

    Returns
    -------
    str
        ``"<implementation> <major>.<minor>.<micro>"``, e.g. ``"CPython 3.11.7"``.
    """
    return f"{platform.python_implementation()} {'.'.join(map(str, sys.version_info[:3]))}"


def stdlib_docstrings(modules: Sequence[str] = DEFAULT_MODULES) -> tuple[str, ...]:
    """Collect the docstrings of standard-library modules, in a fixed order.

    For each module name (in the given order) the result holds the module docstring,
    then the docstrings of its public functions and classes **defined in that
    module** (``obj.__module__ == name``, so re-exports are not counted twice), sorted
    by attribute name. Each docstring is cleaned with :func:`inspect.cleandoc`; empty
    ones are skipped. Class docstrings are taken from ``__doc__`` only (no inheritance
    from base classes, unlike :func:`inspect.getdoc`), so every string is counted once.

    Parameters
    ----------
    modules : sequence of str
        Importable standard-library module names. Default :data:`DEFAULT_MODULES`.

    Returns
    -------
    tuple of str
        One entry per docstring ("document"). Deterministic for a given
        :func:`python_version`.

    Raises
    ------
    TypeError
        If ``modules`` is a single string or contains a non-string.
    ValueError
        If a name cannot be imported.
    """
    if isinstance(modules, str):
        raise TypeError(
            f"modules must be a sequence of module names, got the single string {modules!r}; "
            f"wrap it in a tuple: ({modules!r},)"
        )
    modules = tuple(modules)
    if not modules:
        raise ValueError("modules must name at least one standard-library module, got an empty sequence")
    docs: list[str] = []
    for name in modules:
        if not isinstance(name, str):
            raise TypeError(f"modules must contain str names, got {name!r} of type {type(name).__name__}")
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(f"modules: cannot import {name!r} ({exc}); pass standard-library module names") from exc
        doc = module.__doc__
        if isinstance(doc, str) and doc.strip():
            docs.append(inspect.cleandoc(doc))
        with warnings.catch_warnings():
            # Some modules warn on access to deprecated attributes; the text is unaffected.
            warnings.simplefilter("ignore")
            for attr in sorted(vars(module)):
                if attr.startswith("_"):
                    continue
                obj = vars(module)[attr]
                if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                    continue
                if getattr(obj, "__module__", None) != name:
                    continue
                doc = obj.__doc__
                if isinstance(doc, str) and doc.strip():
                    docs.append(inspect.cleandoc(doc))
    return tuple(docs)


def _check_docs(docs) -> list[str]:
    """``docs`` as a list of str (a single string is refused: it is not a corpus)."""
    if isinstance(docs, (str, bytes)):
        raise TypeError(
            f"docs must be a sequence of documents (str), got a single string {docs[:40]!r}...; "
            "wrap it in a list"
        )
    out = list(docs)
    for i, d in enumerate(out):
        if not isinstance(d, str):
            raise TypeError(f"docs[{i}] must be a str, got {d!r:.60} of type {type(d).__name__}")
    return out


def _normalise(doc: str, lowercase: bool) -> str:
    text = _SPACE_RE.sub(" ", doc).strip()
    return text.lower() if lowercase else text


def tokenize_chars(
    docs: Sequence[str], *, lowercase: bool = True
) -> tuple[list[list[int]], tuple[str, ...]]:
    """Character-level tokenisation: one sequence per document.

    Every run of whitespace becomes one space, leading/trailing whitespace is removed
    and (by default) the text is lower-cased. The vocabulary is the sorted set of
    characters that occur.

    Parameters
    ----------
    docs : sequence of str
        Documents, e.g. from :func:`stdlib_docstrings`.
    lowercase : bool
        Lower-case the text first. Default True.

    Returns
    -------
    sequences : list of list of int
        Token ids, one list per non-empty document.
    vocabulary : tuple of str
        ``vocabulary[i]`` is the character with id ``i``.
    """
    docs = _check_docs(docs)
    if not isinstance(lowercase, (bool, np.bool_)):
        raise TypeError(f"lowercase must be True or False, got {lowercase!r}")
    texts = [t for t in (_normalise(d, lowercase) for d in docs) if t]
    vocabulary = tuple(sorted(set("".join(texts))))
    index = {c: i for i, c in enumerate(vocabulary)}
    return [[index[c] for c in t] for t in texts], vocabulary


def tokenize_words(
    docs: Sequence[str], *, vocab_size: int | None = None
) -> tuple[list[list[int]], tuple[str, ...]]:
    """Word-level tokenisation: lower-cased runs of ASCII letters, one sequence per document.

    Words are the matches of ``[a-z]+`` in the lower-cased text (digits and punctuation
    are dropped). With ``vocab_size`` set, the ``vocab_size - 1`` most frequent words
    are kept (ties broken alphabetically) and every other word becomes
    :data:`UNKNOWN_WORD`, which is then the last vocabulary entry.

    Parameters
    ----------
    docs : sequence of str
        Documents, e.g. from :func:`stdlib_docstrings`.
    vocab_size : int or None
        Vocabulary size including the unknown-word token, at least 2; None keeps every
        word (no unknown token).

    Returns
    -------
    sequences : list of list of int
        Token ids, one list per document with at least one word.
    vocabulary : tuple of str
        Kept words sorted by decreasing frequency (ties alphabetical), then
        :data:`UNKNOWN_WORD` if ``vocab_size`` is set.

    Raises
    ------
    ValueError
        If ``vocab_size`` is not None and < 2.
    """
    docs = _check_docs(docs)
    if vocab_size is not None:
        vocab_size = as_int(vocab_size, "vocab_size", low=2)
    words_per_doc = [w for w in (_WORD_RE.findall(d.lower()) for d in docs) if w]
    counts = collections.Counter(w for ws in words_per_doc for w in ws)
    ranked = sorted(counts, key=lambda w: (-counts[w], w))
    if vocab_size is None:
        vocabulary = tuple(ranked)
    else:
        vocabulary = tuple(ranked[: vocab_size - 1]) + (UNKNOWN_WORD,)
    index = {w: i for i, w in enumerate(vocabulary)}
    unk = index.get(UNKNOWN_WORD, -1) if vocab_size is not None else -1
    sequences = [[index.get(w, unk) for w in ws] for ws in words_per_doc]
    return sequences, vocabulary
