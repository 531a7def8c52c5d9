"""Apply one mutation to a temporary copy of the package and run the tests that should catch it.

The copy holds ``theory/``, ``sims/``, ``figures/``, ``tests/`` and ``pyproject.toml``; the
tests run there with ``python -m pytest -x -q -p no:cacheprovider NODEIDS`` (cwd = the copy,
so the mutated ``theory``/``sims`` are the ones imported) and a fresh ``NUMBA_CACHE_DIR``
so compiled kernels never leak between copies.

Outcomes
--------
``killed``   pytest exit code 1: at least one named test failed.
``survived`` exit code 0: every named test passed with the bug in place.
``skipped``  the original snippet is not in the file (e.g. an engine file rewritten on
             another branch); the mutation must be updated, it says nothing about the tests.
``error``    any other exit code (collection error, unknown node id, no test selected) or a
             timeout; the mutation run is broken, not a kill.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mutation.mutations import Mutation

__all__ = ["REPO", "COPIED", "Outcome", "copy_package", "apply_mutation", "run_tests", "run_mutation", "run_baseline"]

REPO = Path(__file__).resolve().parents[2]
COPIED = ("theory", "sims", "figures", "tests", "pyproject.toml")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "*.nbi", "*.nbc")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """The result of one mutation run.

    Attributes
    ----------
    id : str
        The mutation id (``"baseline"`` for the unmutated copy).
    status : str
        ``"killed"``, ``"survived"``, ``"skipped"`` or ``"error"`` (see the module docstring).
    seconds : float
        Wall time of the pytest run (0 when skipped).
    detail : str
        The last lines of pytest's output, or why the mutation was skipped.
    """

    id: str
    status: str
    seconds: float
    detail: str


def copy_package(dest: Path, root: Path = REPO) -> Path:
    """Copy the parts of the package the tests need from ``root`` into the new folder ``dest``."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=_IGNORE)
        else:
            shutil.copy2(src, dest / name)
    return dest


def apply_mutation(mutation: Mutation, root: Path) -> str | None:
    """Replace the mutation's original snippet in ``root / mutation.file``.

    Returns
    -------
    str or None
        None when applied; otherwise why not (file missing, snippet absent or not unique),
        and the file is left untouched.
    """
    path = Path(root) / mutation.file
    if not path.is_file():
        return f"file not found: {mutation.file}"
    text = path.read_text()
    n = text.count(mutation.original)
    if n != 1:
        what = "snippet not found" if n == 0 else f"snippet occurs {n} times (must be once)"
        return f"{what} in {mutation.file}: {mutation.original!r}"
    path.write_text(text.replace(mutation.original, mutation.replacement))
    return None


def run_tests(root: Path, nodeids: tuple[str, ...], *, timeout: float) -> tuple[int | None, float, str]:
    """Run ``nodeids`` with pytest in ``root``; return (exit code or None on timeout, seconds, tail)."""
    root = Path(root)
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(root / ".numba_cache")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPATH", None)  # only the copy (cwd, first on sys.path) may provide the package
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *nodeids]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, time.perf_counter() - t0, f"timeout after {timeout:.0f} s"
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
    return proc.returncode, time.perf_counter() - t0, tail


def _status(code: int | None) -> str:
    if code == 1:
        return "killed"
    if code == 0:
        return "survived"
    return "error"


def run_mutation(mutation: Mutation, *, root: Path = REPO, timeout: float = 900.0) -> Outcome:
    """Copy the package, apply ``mutation`` and run its tests; the copy is deleted afterwards."""
    with tempfile.TemporaryDirectory(prefix=f"ibl-mutant-{mutation.id}-") as tmp:
        copy = copy_package(Path(tmp) / "pkg", root)
        why = apply_mutation(mutation, copy)
        if why is not None:
            return Outcome(mutation.id, "skipped", 0.0, why)
        code, seconds, tail = run_tests(copy, mutation.tests, timeout=timeout)
    return Outcome(mutation.id, _status(code), seconds, tail)


def run_baseline(nodeids: tuple[str, ...], *, root: Path = REPO, timeout: float = 1800.0) -> Outcome:
    """Run ``nodeids`` in an unmutated copy: they must pass there for a kill to mean anything.

    Status ``"survived"`` here means the clean copy passes (the wanted result).
    """
    with tempfile.TemporaryDirectory(prefix="ibl-mutant-baseline-") as tmp:
        copy = copy_package(Path(tmp) / "pkg", root)
        code, seconds, tail = run_tests(copy, tuple(dict.fromkeys(nodeids)), timeout=timeout)
    return Outcome("baseline", _status(code), seconds, tail)
