"""Benchmark: the Figure-2 workload of [ZZ23] with the count-matrix kernel vs per-sample NumPy.

Workload (defaults = the paper's full Figure 2): six panels, Instance 1 at
(S, A) = (10, 10) and (100, 100), Instances 2 and 3 at (10, 11) and (50, 51); n on a
log grid of 13 points from 1e2 to 1e6, keeping the n where the instance exists
(Instance 1 needs n >= S A/16, Instances 2-3 need n + 1 >= S (A-1)/2); 64,000
repeats per point, all four learners on common data.

Three simulators, single process:

* ``kernel``: :func:`sims.transfer.simulate_risks` (count matrix drawn directly,
  fused Numba kernel). Timed on the full workload.
* ``numpy multinomial``: the same with ``method="numpy"`` (``Generator.multinomial``
  over the S*A cells in chunks, then :func:`theory.transfer.estimate`).
* ``per-sample``: the straightforward simulation, per repeat
  ``rng.choice(S*A, size=n, p=joint)``, ``np.bincount``, then
  :func:`theory.transfer.estimate` and :func:`theory.transfer.tv_risk` per learner.

The two NumPy baselines would take hours on the full workload, so each is run at
every grid point for a small number of repeats (as many as fit in
``--baseline-budget`` seconds, at least 2) and its time is extrapolated linearly to
the full repeat count (per-repeat cost is constant at a given point). Timings are
wall-clock on a shared machine and therefore noisy; the load average is printed.

Usage (``--readme README.md`` also re-renders the README block from the results file,
:func:`readme_block`)::

    python -m bench.transfer                 # full workload (~2-3 min for the kernel)
    python -m bench.transfer --repeats 4000  # smaller kernel run (all columns per 64k)
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numba
import numpy as np

from bench import environment, readme
from sims import transfer as ST
from theory import transfer as T

PANELS = (
    ("Instance 1", "instance1", 10, 10),
    ("Instance 1", "instance1", 100, 100),
    ("Instance 2", "instance2", 10, 11),
    ("Instance 2", "instance2", 50, 51),
    ("Instance 3", "instance3", 10, 11),
    ("Instance 3", "instance3", 50, 51),
)


def grid(kind: str, S: int, A: int, points: int) -> list[int]:
    """The log grid 1e2..1e6 restricted to the n where the instance exists."""
    ns = np.unique(np.round(np.logspace(2, 6, points)).astype(int))
    return [int(n) for n in ns if T.instance_exists(kind, S, A, int(n))]


def per_sample_risks(inst: T.Instance, n: int, repeats: int, rng: np.random.Generator) -> np.ndarray:
    """The straightforward simulation: n categorical draws per repeat, then bincount."""
    p = inst.joint.ravel()
    p = p / p.sum()
    out = np.empty((repeats, len(T.LEARNERS)))
    for r in range(repeats):
        idx = rng.choice(p.size, size=n, p=p)
        counts = np.bincount(idx, minlength=p.size).reshape(inst.S, inst.A)
        for j, learner in enumerate(T.LEARNERS):
            out[r, j] = T.tv_risk(T.estimate(learner, counts, inst.pi_star), inst.pi_star, inst.rho)
    return out


def time_baseline(run, budget: float) -> tuple[float, int]:
    """Seconds per repeat of ``run(repeats)``: doubling repeats until ``budget`` is spent."""
    repeats, spent, done = 2, 0.0, 0
    while True:
        t0 = time.perf_counter()
        run(repeats)
        spent += time.perf_counter() - t0
        done += repeats
        if spent >= budget:
            return spent / done, done
        repeats *= 2


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=64_000, help="repeats per point (paper: 64,000)")
    parser.add_argument("--points", type=int, default=13, help="log-grid points from 1e2 to 1e6")
    parser.add_argument("--baseline-budget", type=float, default=0.25,
                        help="seconds per point for each NumPy baseline (extrapolated)")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "transfer.md",
                        help="also write the table here ('-' to skip)")
    environment.add_blas_argument(parser)
    readme.add_readme_argument(parser)
    args = parser.parse_args(argv)
    if args.readme is not None and (str(args.out) == "-" or args.out.resolve() != readme.results_path("transfer")):
        parser.error("--readme renders bench/results/transfer.md: keep the default --out")
    # the count kernel and the NumPy baselines make no BLAS calls worth timing: the BLAS
    # kernels are recorded, never refused
    blas = environment.check_openblas(args.allow_pinned_blas, uses_blas=False)

    # compile (or load the cached) kernels outside the timings
    ST.simulate_risks(T.instance0(3, 3), None, 10, 10, 0)
    ST.simulate_risks(T.instance0(3, 3), None, 100, 10, 0)

    seeds = np.random.SeedSequence(args.seed)
    rows = []
    totals = np.zeros(3)
    for (label, kind, S, A), panel_seed in zip(PANELS, seeds.spawn(len(PANELS))):
        ns = grid(kind, S, A, args.points)
        kernel = multinomial = per_sample = 0.0
        n_baseline_reps = 0
        for n, point_seed in zip(ns, panel_seed.spawn(len(ns))):
            inst = T.build_instance(kind, S, A, n)
            rng = np.random.default_rng(point_seed)
            t0 = time.perf_counter()
            ST.simulate_risks(inst, None, n, args.repeats, rng)
            kernel += time.perf_counter() - t0
            per_rep, done = time_baseline(
                lambda R: ST.sample_risks(inst, None, n, R, rng, method="numpy"), args.baseline_budget
            )
            multinomial += per_rep * args.repeats
            per_rep, done2 = time_baseline(lambda R: per_sample_risks(inst, n, R, rng), args.baseline_budget)
            per_sample += per_rep * args.repeats
            n_baseline_reps += done2
        totals += (kernel, multinomial, per_sample)
        rows.append((label, S, A, ns, kernel, multinomial, per_sample, n_baseline_reps))
        print(f"  {label} ({S}, {A}): {len(ns)} points, kernel {kernel:.1f} s", flush=True)

    load = os.getloadavg()
    lines = [
        f"Figure-2 workload of [ZZ23]: {args.repeats:,} repeats per point, 4 learners on common data, "
        f"single process. Kernel: measured. NumPy columns: measured on a few repeats at every point "
        f"({args.baseline_budget:g} s per point each) and extrapolated linearly to {args.repeats:,} repeats.",
        "",
        "| panel | (S, A) | points | n range | kernel (s) | numpy multinomial (s, extrap.) | per-sample numpy (s, extrap.) | per-sample / kernel |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, S, A, ns, kernel, multinomial, per_sample, _ in rows:
        lines.append(
            f"| {label} | ({S}, {A}) | {len(ns)} | {ns[0]:,}-{ns[-1]:,} | {kernel:.2f} | "
            f"{multinomial:,.0f} | {per_sample:,.0f} | {per_sample / kernel:,.0f}x |"
        )
    lines.append(
        f"| **total** | | {sum(len(r[3]) for r in rows)} | | **{totals[0]:.1f}** | {totals[1]:,.0f} | "
        f"{totals[2]:,.0f} | **{totals[2] / totals[0]:,.0f}x** |"
    )
    lines += [
        "",
        f"Kernel total {totals[0]:.0f} s on one core, i.e. about {totals[0] / 2:.0f} s if the points are split "
        f"over 2 worker processes. Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} at the end "
        f"(shared machine: timings are noisy). numpy {np.__version__}, numba {numba.__version__}.",
        "",
        f"BLAS: {blas} (not used by the timed code).",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    if str(args.out) != "-":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        from sims.store import atomic_write_text  # noqa: PLC0415

        atomic_write_text(args.out, table + "\n")
        if args.readme is not None:
            readme.update_readme(args.readme, ["transfer"])
    return table


#: The README's columns: (column of the results table, header shown in the README).
README_COLUMNS = (
    ("panel", "panel"), ("(S, A)", "(S, A)"), ("points", "points"), ("kernel (s)", "kernel (s)"),
    ("numpy multinomial (s, extrap.)", "numpy multinomial (s, extrap.)"),
    ("per-sample numpy (s, extrap.)", "per-sample numpy (s, extrap.)"), ("per-sample / kernel", "per-sample / kernel"),
)


def readme_block(results_text: str) -> str:
    """The README block, from the text of ``bench/results/transfer.md`` alone."""
    parts = [readme.line_starting(results_text, "Figure-2 workload"),
             readme.select_columns(readme.markdown_tables(results_text)[0], README_COLUMNS),
             readme.line_starting(results_text, "Kernel total"), readme.blas_line(results_text)]
    return "\n\n".join(parts)


if __name__ == "__main__":
    main()
