"""Benchmark of the two solvers of the random-feature NTK margin program on real data.

Run as ``python -m bench.ntk_margin`` (or ``python bench/ntk_margin.py``); prints a
Markdown table and writes it to ``bench/results/ntk_margin.md``. Options: ``--no-write``,
``--n-features K`` (default 1000), ``--clarabel-timeout SECONDS`` (default 2400), ``--readme
README.md`` (re-render the README block from the results file, :func:`readme_block`),
``--allow-pinned-blas``. Run it as ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m
bench.ntk_margin`` (unpins OpenBLAS for this command alone: ``bench.environment``).

Instance: :func:`theory.ntk.digits_pair` (3 vs 8, centred, scaled into the unit ball:
n = 357, d = 64) and K Gaussian directions from seed 0, so both solvers get the same
program (C distinct patterns, about C n d / 2 nonzeros). Measured: the wall time of
``ntk_margin(X, y, K, 0, kernel_bounds=False, linear_bound=False, rf_solver=...)`` for
``"clarabel"`` (cvxpy + Clarabel, primal and dual SOCP; in a child process with a
time-out) and ``"first-order"`` (default settings, :data:`theory.ntk.FIRST_ORDER_OPTIONS`),
each with BLAS held at one thread, and the certified bracket of each. The brackets must
be consistent (each lower end at most the other's upper end): both contain gamma_K.

The machine is shared (2 cores): timings are noisy; the load average before and after
is recorded with the results.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import environment, readme  # noqa: E402
from theory.ntk import FIRST_ORDER_OPTIONS, digits_pair, ntk_margin  # noqa: E402

RESULTS = readme.results_path("ntk_margin")

DIGITS = (3, 8)
SEED = 0


def timed_margin(n_features: int, rf_solver: str) -> dict:
    from threadpoolctl import threadpool_limits

    X, y = digits_pair(*DIGITS)
    with threadpool_limits(1):
        t0 = time.perf_counter()
        r = ntk_margin(X, y, n_features, SEED, kernel_bounds=False, linear_bound=False, rf_solver=rf_solver)
        seconds = time.perf_counter() - t0
    return dict(seconds=seconds, primal=r.rf_primal, dual=r.rf_dual, gap=r.rf_gap, patterns=r.n_patterns,
                n=r.n, d=r.d, error=r.rf_error, gamma=r.gamma)


def _child(n_features, rf_solver, queue):
    queue.put(timed_margin(n_features, rf_solver))


def run_with_timeout(n_features: int, rf_solver: str, timeout: float) -> dict | None:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(n_features, rf_solver, queue))
    proc.start()
    try:
        return queue.get(timeout=timeout)
    except Exception:  # noqa: BLE001 - queue.Empty on time-out
        return None
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-features", type=int, default=1000)
    ap.add_argument("--clarabel-timeout", type=float, default=2400.0)
    ap.add_argument("--no-write", action="store_true")
    environment.add_blas_argument(ap)
    readme.add_readme_argument(ap)
    args = ap.parse_args(argv)
    if args.readme is not None and args.no_write:
        ap.error("--readme renders the results file: it cannot be combined with --no-write")
    blas = environment.check_openblas(args.allow_pinned_blas)
    load0 = os.getloadavg()[0]
    fo = timed_margin(args.n_features, "first-order")
    cl = run_with_timeout(args.n_features, "clarabel", args.clarabel_timeout)
    load1 = os.getloadavg()[0]

    rows = [("first-order", fo)] + ([("clarabel", cl)] if cl else [])
    lines = [f"# NTK margin, random-feature program: `ntk_margin(..., rf_solver=...)`", "",
             f"digits_pair{DIGITS} (n = {fo['n']}, d = {fo['d']}), K = {args.n_features} directions from seed "
             f"{SEED}, {fo['patterns']} distinct patterns. Wall-clock seconds of the whole `ntk_margin` call "
             f"(kernel and linear bounds off), BLAS at one thread. first-order settings: {FIRST_ORDER_OPTIONS}.", "",
             "| solver | seconds | primal | dual | gap | gap / dual |", "|---|---|---|---|---|---|"]
    for name, r in rows:
        lines.append(f"| {name} | {r['seconds']:.1f} | {r['primal']:.10f} | {r['dual']:.10f} | {r['gap']:.2e} "
                     f"| {r['gap'] / r['dual']:.2e} |")
    if cl is None:
        lines.append(f"| clarabel | > {args.clarabel_timeout:.0f} (stopped) | – | – | – | – |")
    else:
        consistent = fo["primal"] <= cl["dual"] + 1e-12 and cl["primal"] <= fo["dual"] + 1e-12
        lines += ["", f"Brackets consistent (each primal <= the other's dual): {consistent}. "
                  f"Speed-up {cl['seconds'] / fo['seconds']:.1f}x. The stated random-feature error "
                  f"sqrt(2 ln(2(n+1)/delta)/K) is {fo['error']:.3g} (delta = 0.05), "
                  f"{fo['error'] / fo['gap']:.0f} times the first-order gap."]
    lines += ["", f"Machine: {platform.machine()}, {os.cpu_count()} cores (shared with other jobs); load average "
              f"{load0:.2f} before, {load1:.2f} after. Python {platform.python_version()}, NumPy {np.__version__}.",
              "", f"BLAS: {blas}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        from sims.store import atomic_write_text  # noqa: PLC0415

        atomic_write_text(RESULTS, text)
        print(f"wrote {RESULTS}")
        if args.readme is not None:
            readme.update_readme(args.readme, ["ntk_margin"])
    return 0


def readme_block(results_text: str) -> str:
    """The README block, from the text of ``bench/results/ntk_margin.md`` alone."""
    parts = [readme.line_starting(results_text, "digits_pair"), readme.markdown_tables(results_text)[0]]
    parts[1] = readme.select_columns(parts[1], [(h, h) for h in parts[1][0]])
    try:
        parts.append(readme.line_starting(results_text, "Brackets consistent"))
    except ValueError:  # Clarabel stopped by its time-out
        pass
    parts += [readme.line_starting(results_text, "Machine: "), readme.blas_line(results_text)]
    return "\n\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
