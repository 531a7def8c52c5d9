"""Shared helpers of the figure scripts (reading runs, saving, writing numbers)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sims.store import atomic_write_text  # noqa: E402
from sims.sweep import load_sweep_runs  # noqa: E402

LEARNER_LABELS = {"ce_sgl": "CE_sgl (level 1)", "ce_ptl": "CE_ptl (level 2)", "sel_ptl": "SEL_ptl (level 2)", "ce_ful": "CE_ful (level 3)"}


def style():
    from figures import style_path

    plt.style.use(str(style_path()))


def runs_by_panel(store, experiment: str):
    """``(manifest, {panel: [run, ...] sorted by n})`` of the latest complete sweep."""
    manifest, runs = load_sweep_runs(store, experiment)
    panels: dict[str, list] = {}
    for r in runs:
        panels.setdefault(r.params["panel"], []).append(r)
    for v in panels.values():
        v.sort(key=lambda r: r.params["n"])
    return manifest, panels


def save(fig, outdir: Path, name: str) -> list[Path]:
    outdir.mkdir(parents=True, exist_ok=True)
    paths = []
    for ext in ("png", "pdf"):
        p = outdir / f"{name}.{ext}"
        tmp = p.with_name(f".{p.name}.tmp.{ext}")
        fig.savefig(tmp)
        tmp.replace(p)
        paths.append(p)
    plt.close(fig)
    return paths


def write_numbers(name: str, numbers: dict, outdir: Path) -> Path:
    """Write fitted numbers to ``paper/numbers/<name>.json`` (sibling of the figure folder)."""
    p = outdir.parent / "numbers" / f"{name}.json"
    atomic_write_text(p, json.dumps(numbers, indent=2, sort_keys=True) + "\n")
    return p
