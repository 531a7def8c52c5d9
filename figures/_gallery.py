"""The figure gallery: one Markdown page with every figure, its caption and how to regenerate it.

``ibl figures`` writes it next to the images (``<outdir>/README.md``, so that a folder
browser such as GitHub's shows it as the folder's page). Captions come from the
``CAPTION`` string of each figure module (:func:`figures.captions`), the same text the
manuscript uses; the commands come from the sweep each figure reads
(:func:`sims.sweep.refresh_command`), so they regenerate exactly the data shown.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path

from sims.store import ResultStore, atomic_write_text, default_store_path

#: File name of the gallery inside the figure folder.
GALLERY_NAME = "README.md"
#: Default figure folder of ``ibl figures`` (commands omit ``--outdir`` for it).
DEFAULT_OUTDIR = Path("paper/figures")


def _as_path(value, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {type(value).__name__}: {value!r}")
    if str(value) == "":
        raise ValueError(f"{name} must be a non-empty path, got ''")
    return Path(value)


def _as_store(value, name: str = "store") -> ResultStore:
    if value is None:
        return ResultStore()
    if not isinstance(value, ResultStore):
        raise TypeError(f"{name} must be a sims.store.ResultStore or None (the default store), "
                        f"got {type(value).__name__}: {value!r}")
    return value


def _escape(text: str) -> str:
    """Plain text for Markdown: ``W*`` or ``w_hat`` must not start emphasis."""
    for ch in "\\*_`[]<>":
        text = text.replace(ch, "\\" + ch)
    return text


def _is_default(path: Path, default: Path) -> bool:
    return path.resolve() == default.resolve()


def regenerate_commands(name: str, store: ResultStore | None = None,
                        outdir: str | os.PathLike = DEFAULT_OUTDIR) -> list[str]:
    """The shell commands that regenerate figure ``name``: ``ibl run`` per experiment, then ``ibl figures``.

    Each ``ibl run`` repeats the settings of the sweep the figure reads today (the latest
    complete one in ``store``: ``--quick`` and any ``--set``); an experiment with nothing
    stored gets its quick command. ``--store`` and ``--outdir`` appear when not the defaults.
    """
    from figures import figure_info
    from sims.experiment import get_experiment
    from sims.sweep import latest_sweep, refresh_command

    info = figure_info(name)
    store = _as_store(store)
    outdir = _as_path(outdir, "outdir")
    store_args = [] if _is_default(Path(store.root), default_store_path()) else ["--store", str(store.root)]
    commands = []
    for exp in info.experiments:
        manifest = latest_sweep(store, exp)
        if manifest is None:
            commands.append(" ".join(shlex.quote(p) for p in ["ibl", "run", exp, "--quick", *store_args]))
        else:
            commands.append(refresh_command(get_experiment(exp), manifest, store, force=False))
    out_args = [] if _is_default(outdir, DEFAULT_OUTDIR) else ["--outdir", str(outdir)]
    commands.append(" ".join(shlex.quote(p) for p in ["ibl", "figures", name, *store_args, *out_args]))
    return commands


def _sweep_line(name: str, store: ResultStore) -> str:
    from figures import figure_info
    from sims.sweep import latest_sweep

    parts = []
    for exp in figure_info(name).experiments:
        m = latest_sweep(store, exp)
        if m is None:
            parts.append(f"`{exp}`: nothing stored")
        else:
            kind = "quick" if m.get("quick") else "full or custom"
            parts.append(f"`{exp}` sweep `{m['sweep_key']}` ({kind} settings)")
    return "Data: " + "; ".join(parts)


def render_gallery(outdir: str | os.PathLike = DEFAULT_OUTDIR, store: ResultStore | None = None,
                   problems: Mapping[str, str] | None = None) -> str:
    """The gallery's Markdown text for the images found in ``outdir``.

    Parameters
    ----------
    outdir : path
        Folder of the images (``<name>.png`` and ``<name>.pdf``); links are relative to it.
    store : ResultStore or None
        The store the figures were drawn from (default: ``$IBL_STORE`` or ``./results``).
    problems : mapping of figure name to str, optional
        Why a figure was not (re)drawn by this ``ibl figures`` call; shown under it.
    """
    from figures import FIGURES, captions

    outdir = _as_path(outdir, "outdir")
    store = _as_store(store)
    problems = dict(problems or {})
    for key, why in problems.items():
        if key not in FIGURES:
            raise ValueError(f"problems names unknown figure {key!r}; known figures: {', '.join(FIGURES)}")
        if not isinstance(why, str):
            raise TypeError(f"problems[{key!r}] must be a str (the reason), got {type(why).__name__}: {why!r}")
    caps = captions()
    lines = [
        "# Figure gallery",
        "",
        f"Written by `ibl figures` from the result store `{store.root}`; do not edit (rerun `ibl figures`). "
        "Each figure shows its image (the vector PDF sits next to it), its caption (the `CAPTION` of "
        "`figures/<name>.py`, the text the manuscript uses), the sweep it reads and the commands that "
        "regenerate it.",
        "",
    ]
    lines += [f"- [{name}](#{name}): {_escape(fig.description)}" for name, fig in FIGURES.items()]
    for name in FIGURES:
        png, pdf = outdir / f"{name}.png", outdir / f"{name}.pdf"
        lines += ["", f"## {name}", ""]
        if png.exists():
            lines += [f"![{name}]({png.name})", ""]
        else:
            lines += [f"*No image in this folder yet: {problems.get(name, 'not drawn')}.*", ""]
        if png.exists() and name in problems:
            lines += [f"*Not redrawn by the last `ibl figures`: {problems[name]}; "
                      "the image above may predate the store.*", ""]
        lines += [caps[name], "", _sweep_line(name, store) + (f" · [PDF]({pdf.name})" if pdf.exists() else ""), "",
                  "Regenerate:", "", "```sh", *regenerate_commands(name, store, outdir), "```"]
    return "\n".join(lines) + "\n"


def write_gallery(outdir: str | os.PathLike = DEFAULT_OUTDIR, store: ResultStore | None = None,
                  problems: Mapping[str, str] | None = None) -> Path:
    """Write :func:`render_gallery` to ``<outdir>/README.md`` (atomically); returns its path."""
    outdir = _as_path(outdir, "outdir")
    path = outdir / GALLERY_NAME
    atomic_write_text(path, render_gallery(outdir, store, problems))
    return path
