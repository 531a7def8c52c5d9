"""Reusing the numbers that ``ibl figures`` writes (``paper/numbers/<figure>.json``) when they are current.

``ibl paper`` needs each figure's fitted numbers; drawing the figure again to get them is the
slow part of ``ibl paper``. ``ibl figures`` therefore stamps each numbers file it writes with
:func:`figure_state` taken just before drawing: the store, the latest complete sweep of every
experiment the figure reads, a digest of the source code (``theory/``, ``sims/``, ``figures/``)
and the SHA-256 of the numbers file. :func:`current_figure_numbers` returns the stored numbers
only when that stamp equals the state now (same store, same sweeps, same code, same file);
anything else (a new sweep, edited code, a numbers file written by another command, no stamp)
means "recompute".
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

from sims.paper._lint import as_folder
from sims.paper._numbers import check_store_argument

__all__ = ["current_figure_numbers", "figure_state", "stamp_figure_numbers"]

#: The stamp of ``<figure>.json`` is ``<figure>.stamp.json`` in the same folder.
STAMP_SUFFIX = ".stamp.json"
_ROOT = Path(__file__).resolve().parents[2]


@functools.lru_cache(maxsize=1)
def _source_digest() -> str:
    """SHA-256 over every source file a figure's numbers can depend on (computed once per process)."""
    h = hashlib.sha256()
    for top in ("theory", "sims", "figures"):
        for f in sorted((_ROOT / top).rglob("*")):
            if f.is_file() and f.suffix in {".py", ".mplstyle"} and "__pycache__" not in f.parts:
                h.update(f.relative_to(_ROOT).as_posix().encode())
                h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def _figure_name(name) -> str:
    from figures import FIGURES

    if not isinstance(name, str):
        raise TypeError(f"name must be a figure name (str), got {type(name).__name__}: {name!r}")
    if name not in FIGURES:
        raise ValueError(f"name must be one of the figures {', '.join(FIGURES)}; got {name!r}")
    return name


def figure_state(name: str, store) -> dict:
    """What a figure's numbers depend on, now.

    Parameters
    ----------
    name : str
        A figure of :data:`figures.FIGURES`.
    store : sims.store.ResultStore

    Returns
    -------
    dict
        ``{"figure", "store", "sweeps": {experiment: sweep key or None}, "code"}``.
    """
    from figures import FIGURES
    from sims.sweep import latest_sweep

    name = _figure_name(name)
    check_store_argument(store)
    sweeps = {}
    for exp in FIGURES[name].experiments:
        m = latest_sweep(store, exp)
        sweeps[exp] = None if m is None else m.get("sweep_key")
    return {"figure": name, "store": str(Path(store.root).resolve()), "sweeps": sweeps, "code": _source_digest()}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stamp_figure_numbers(state: dict, numbers_dir) -> Path | None:
    """Stamp ``numbers_dir/<figure>.json`` with ``state`` (from :func:`figure_state`, taken before drawing).

    Parameters
    ----------
    state : dict
        The figure's state before it was drawn: a sweep completed while drawing then makes the
        stamp stale rather than wrong.
    numbers_dir : str or Path
        The folder ``ibl figures`` wrote the numbers to (``paper/numbers``), an existing folder.

    Returns
    -------
    Path or None
        The stamp written, or None when the figure wrote no numbers.
    """
    from sims.store import atomic_write_text

    if not isinstance(state, dict) or set(state) != {"figure", "store", "sweeps", "code"}:
        raise ValueError(f"state must be the dict of sims.paper.figure_state (keys figure, store, sweeps, code), "
                         f"got {state!r}")
    folder = as_folder(numbers_dir, "numbers_dir")
    numbers = folder / f"{_figure_name(state['figure'])}.json"
    if not numbers.is_file():
        return None
    stamp = folder / f"{state['figure']}{STAMP_SUFFIX}"
    atomic_write_text(stamp, json.dumps(state | {"numbers_sha256": _sha(numbers)}, indent=2, sort_keys=True) + "\n")
    return stamp


def current_figure_numbers(name: str, store, numbers_dir) -> dict | None:
    """The numbers ``ibl figures`` wrote for ``name``, if they are current for ``store``; else None.

    Parameters
    ----------
    name : str
    store : sims.store.ResultStore
    numbers_dir : str or Path
        Where ``ibl figures`` wrote them (``paper/numbers``), an existing folder.

    Returns
    -------
    dict or None
        The numbers (as ``make(store)`` returned them, through JSON), or None when there is no
        stamp, or the store, a sweep, the code or the file changed since the figure was drawn.
    """
    state = figure_state(name, store)
    folder = as_folder(numbers_dir, "numbers_dir")
    numbers, stamp = folder / f"{name}.json", folder / f"{name}{STAMP_SUFFIX}"
    if None in state["sweeps"].values() or not (numbers.is_file() and stamp.is_file()):
        return None
    try:
        recorded = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(recorded, dict) or recorded.pop("numbers_sha256", None) != _sha(numbers) or recorded != state:
        return None
    try:
        return json.loads(numbers.read_text())
    except (OSError, ValueError):
        return None
