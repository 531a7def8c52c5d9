"""Benchmark of the two-layer ReLU kernel (sims.twolayer) against a NumPy loop,
PyTorch CPU and JAX ``jit``, the DGEMM bound of a step and the frameworks' overhead.

Run as::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.twolayer --readme README.md

from an interpreter that has torch and jax (optional: missing ones give "n/a"
columns); prints Markdown, writes ``bench/results/twolayer.md`` and, with
``--readme``, re-renders the README's block from it (:func:`readme_block`). The
``env -u`` removes, for this command alone, the variables that pin OpenBLAS to its
AVX2 kernels on some machines (``bench.environment``); the bench refuses to time
pinned kernels on an AVX-512 CPU unless ``--allow-pinned-blas``. Options:
``--quick`` (about 0.2 s per timing), ``--no-write``, ``--repeats``, ``--widths``.

What is measured (one process, float64, full-batch GD on the logistic loss,
n = 1000, d = 64, x_i uniform on the unit sphere, y = sign of a fixed linear
function, lr = 1, standard initialisation), at widths m = 64 ... 16384:

* steps per second over runs of about 1 s (the step count is calibrated by a
  warm-up run of the kernel, which also compiles or loads it), the contenders
  *interleaved* within each repeat (kernel, NumPy, PyTorch, JAX, DGEMM, kernel,
  ...), so that load changes on the shared machine hit them alike; the best and the
  median of ``repeats``:

  (a) the kernel: ``sims.twolayer.run(..., record=[steps])``, the kernel time it
      reports (set-up excluded; it includes the final forward pass and metrics),
      with its default threads: a lone network times its serial and threaded
      kernels on short probes and runs the faster ("timed", the default); also
      forced onto one thread and onto the numba threads (``chunk_threads``);
  (b) ``sims.twolayer.reference_numpy_run`` (plain NumPy, default BLAS threads);
  (c) PyTorch CPU, the same hand-written update with torch tensors under
      ``torch.no_grad()`` (default intra-op threads; its BLAS is MKL);
  (d) JAX ``jit`` of ``lax.fori_loop`` over the same update with
      ``jax_enable_x64`` (compilation excluded);

* the DGEMM bound: the step's two products, X W^T (n x d)(d x m) and M^T X
  (m x n)(n x d), 4 n d m flops, by NumPy matmul (OpenBLAS) and by ``torch.mm``
  (MKL), each at the default threads and at one thread, best of 3 per repeat,
  interleaved with the above; "DGEMM bound" is 1 / (the fastest of the four), in
  steps per second. Any implementation that runs these two products at DGEMM speed
  and does nothing else runs at most this many steps per second;
* the **ceiling** DGEMM bound / faster framework: no implementation whose products run
  at DGEMM speed can beat the faster of PyTorch and JAX by more than this ratio, so
  a goal of 2x is reachable at a width only where the ceiling is above 2;
* the frameworks' **fixed overhead per step**: the same step at n = d = m = 8
  (arithmetic negligible), timed like the rest (runs of about 0.3 s, interleaved,
  best and median), for the kernel, PyTorch and JAX; the **overhead fraction** at a
  width is that time per step x the framework's steps per second there (best with
  best), the share of its step that does no arithmetic at n = 1000, d = 64. At the
  tiny size the frameworks run each op on one thread, so this is the dispatch cost
  per step (Python and op dispatch for PyTorch, the compiled loop's per-op cost for
  JAX); waking threads for the larger ops is not in it (it shows in the gap between
  a framework and the DGEMM bound, which no fixed cost explains);
* a seeds-by-widths ensemble (4 seeds x widths 64, 256, 1024, 4096, 20 steps) in
  one ``run_ensemble`` call against the same 16 runs one by one with ``run``
  (wall time of the calls, interleaved, best and median of ``repeats``).

The machine is shared with other jobs: the load average before and after is
recorded with the results, and so are the BLAS libraries with the OpenBLAS core
type each one runs (threadpoolctl) and PyTorch's CPU capability.

Design notes. The kernel's step is tasks of row chunks x sample blocks: narrow
networks (one chunk of rows) split their n samples into blocks, so that two threads
have work, and sum the blocks' partial gradients in a fixed order. At low load the
threaded kernel is the fastest; under load it can be much slower at small widths
(each step waits twice for the second thread, which is often descheduled), so the
default times both modes on short probes and runs the faster; probes on a loaded
machine are noisy and can pick the slower mode for a while (the "threaded steps"
column says which mode each repeat ran). All modes give the same bits (tests check
it).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bench import environment, readme
from sims import twolayer as tl

N, D = 1000, 64
WIDTHS = [64, 256, 1024, 4096, 16384]
LR = 1.0
ENS_SEEDS = [0, 1, 2, 3]
ENS_WIDTHS = [64, 256, 1024, 4096]
ENS_STEPS = 20
#: The size of the overhead probe: the same step, arithmetic negligible.
TINY = 8
#: The issue's goals: at least the faster framework at every width, at least 2x it at
#: widths up to SMALL_WIDTH, within BOUND_FACTOR of the DGEMM bound at LARGE_WIDTHS.
SMALL_WIDTH = 256
SMALL_GOAL = 2.0
LARGE_WIDTHS = (4096, 16384)
BOUND_FACTOR = 1.3

RESULTS = readme.results_path("twolayer")

# the optional frameworks, imported by load_frameworks() (not at import: the README test
# renders this bench's block without them)
torch = jax = jnp = None


def load_frameworks():
    """Import PyTorch and JAX (x64) if installed; returns (have_torch, have_jax)."""
    global torch, jax, jnp
    try:
        import jax as _jax  # noqa: PLC0415

        _jax.config.update("jax_enable_x64", True)  # before first use
        import jax.numpy as _jnp  # noqa: PLC0415

        jax, jnp = _jax, _jnp
    except Exception:  # noqa: BLE001 (any import failure means: no JAX column)
        jax = jnp = None
    try:
        import torch as _torch  # noqa: PLC0415

        torch = _torch
    except Exception:  # noqa: BLE001
        torch = None
    return torch is not None, jax is not None


def make_data(n=N, d=D, seed=0):
    """X (n, d) uniform on the unit sphere, y = sign of a fixed linear function."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X @ rng.standard_normal(d) > 0, 1.0, -1.0)
    return X, y


# ----------------------------------------------------------------------------
# contenders: each returns a callable once() -> seconds for `steps` steps


def kernel_timer(X, y, m, steps, mode=None):
    """The kernel; ``mode`` None: default (timed), True / False: forced threads / serial."""

    def once():
        with tl.chunk_threads(mode) if mode is not None else contextlib.nullcontext():
            tr = tl.run(X, y, m, steps, LR, record=[steps], progress=False)
        seg = tr.info["segments"][0]
        once.info = seg
        return seg["kernel_seconds"]

    return once


def numpy_timer(X, y, m, steps):
    p = tl.init_two_layer(X.shape[1], m, 0)

    def once():
        t0 = time.perf_counter()
        tl.reference_numpy_run(X, y, p, steps, LR)
        return time.perf_counter() - t0

    return once


def torch_timer(X, y, m, steps):
    n = X.shape[0]
    p = tl.init_two_layer(X.shape[1], m, 0)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)
    a_s = torch.from_numpy(p.a / np.sqrt(m))
    W0 = torch.from_numpy(p.W)

    def run(W):
        with torch.no_grad():
            for _ in range(steps):
                Z = Xt @ W.T
                f = torch.relu(Z) @ a_s
                r = -yt * torch.sigmoid(-yt * f) / n
                G = ((Z > 0) * (r[:, None] * a_s[None, :])).T @ Xt
                W = W - LR * G
        return W

    run(W0.clone())

    def once():
        t0 = time.perf_counter()
        run(W0.clone())
        return time.perf_counter() - t0

    return once


def jax_timer(X, y, m, steps):
    n = X.shape[0]
    p = tl.init_two_layer(X.shape[1], m, 0)
    Xj = jnp.asarray(X)
    yj = jnp.asarray(y)
    a_s = jnp.asarray(p.a / np.sqrt(m))

    def body(_, W):
        Z = Xj @ W.T
        f = jnp.maximum(Z, 0.0) @ a_s
        r = -yj * jax.nn.sigmoid(-yj * f) / n
        G = ((Z > 0) * (r[:, None] * a_s[None, :])).T @ Xj
        return W - LR * G

    @jax.jit
    def run(W, k):
        return jax.lax.fori_loop(0, k, body, W)

    W0 = jnp.asarray(p.W)
    run(W0, steps).block_until_ready()  # compile

    def once():
        t0 = time.perf_counter()
        run(W0, steps).block_until_ready()
        return time.perf_counter() - t0

    return once


def _products(m):
    rng = np.random.default_rng(1)
    return rng.standard_normal((N, D)), rng.standard_normal((m, D)), rng.standard_normal((N, m))


def dgemm_timer(m, threads=None):
    """NumPy (OpenBLAS) matmul of the step's two products, at the default BLAS threads or ``threads``."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    X, W, M = _products(m)
    X @ W.T
    M.T @ X

    def once():
        with threadpool_limits(threads, user_api="blas"):
            t0 = time.perf_counter()
            X @ W.T
            M.T @ X
            return time.perf_counter() - t0

    return once


def dgemm_torch_timer(m, threads=None):
    """``torch.mm`` (MKL) of the step's two products, at the default intra-op threads or ``threads``."""
    X, W, M = (torch.from_numpy(a) for a in _products(m))
    X @ W.T
    M.T @ X
    default = torch.get_num_threads()

    def once():
        torch.set_num_threads(threads or default)
        try:
            t0 = time.perf_counter()
            X @ W.T
            M.T @ X
            return time.perf_counter() - t0
        finally:
            torch.set_num_threads(default)

    return once


def calibrate(X, y, m, seconds):
    """Warm-up run of the kernel (compiles or loads it), then the steps for ~``seconds``."""
    n, d = X.shape
    tl.run(X, y, m, 1, LR, record=[1], progress=False)  # compiles or loads the kernels
    with tl.chunk_threads(True):
        tl.run(X, y, m, 1, LR, record=[1], progress=False)
    n0 = max(2, int(2e8 / (n * d * m)))
    with tl.chunk_threads(False):  # the serial kernel's rate: the timed mode's probes would blur it
        tr = tl.run(X, y, m, n0, LR, record=[n0], progress=False)
    per_step = tr.info["segments"][0]["kernel_seconds"] / n0
    return int(max(3, min(200_000, seconds / per_step)))


KERNELS = {"kernel": None, "kernel_serial": False, "kernel_threads": True}


def interleave(timers, counts, repeats, per_repeat=None):
    """Run ``timers`` interleaved ``repeats`` times; returns (best, median) steps per second
    and the raw times. ``per_repeat[k]``: timings per repeat of timer k (the best is kept)."""
    per_repeat = per_repeat or {}
    times = {k: [] for k in timers}
    for _ in range(repeats):
        for k, fn in timers.items():
            times[k].append(min(fn() for _ in range(per_repeat.get(k, 1))))
    best = {k: counts[k] / min(v) for k, v in times.items()}
    median = {k: counts[k] / float(np.median(v)) for k, v in times.items()}
    return best, median, times


def bench_width(X, y, m, seconds, repeats, have_torch, have_jax):
    steps = calibrate(X, y, m, seconds)
    timers = {k: kernel_timer(X, y, m, steps, mode) for k, mode in KERNELS.items()}
    counts = {k: steps for k in KERNELS}
    timers["numpy"] = numpy_timer(X, y, m, max(3, steps // 2))
    counts["numpy"] = max(3, steps // 2)
    if have_torch:
        timers["torch"] = torch_timer(X, y, m, steps)
        counts["torch"] = steps
    if have_jax:
        timers["jax"] = jax_timer(X, y, m, steps)
        counts["jax"] = steps
    dgemms = {"dgemm_openblas": dgemm_timer(m), "dgemm_openblas1": dgemm_timer(m, 1)}
    if have_torch:
        dgemms.update(dgemm_mkl=dgemm_torch_timer(m), dgemm_mkl1=dgemm_torch_timer(m, 1))
    timers.update(dgemms)
    counts.update({k: 1 for k in dgemms})
    threaded = []
    kernel = timers["kernel"]

    def kernel_and_mode():
        t = kernel()
        threaded.append(kernel.info["threaded_steps"])
        return t

    timers["kernel"] = kernel_and_mode
    # best of 3 per repeat for the short DGEMM timings: one timing is not reliable here
    best, median, times = interleave(timers, counts, repeats, {k: 3 for k in dgemms})
    # the bound: the fastest DGEMM (library and threads) per repeat
    # (under load, two BLAS threads can be far slower than one)
    bound_times = [min(ts) for ts in zip(*(times[k] for k in dgemms))]
    best["dgemm"], median["dgemm"] = 1.0 / min(bound_times), 1.0 / float(np.median(bound_times))
    which = min(dgemms, key=lambda k: min(times[k]))
    assert kernel.info["threads"] >= 1
    assert timers["kernel_threads"].info["parallel_chunks"]
    assert timers["kernel_serial"].info["threaded_steps"] == 0
    return dict(m=m, steps=steps, rates=best, median=median, threaded=threaded, dgemm_best_of=which)


def bench_overhead(seconds, repeats, have_torch, have_jax):
    """Seconds per step of the same step at n = d = m = TINY (best, median), per contender."""
    X, y = make_data(TINY, TINY, seed=2)
    tl.run(X, y, TINY, 1, LR, record=[1], progress=False)
    tr = tl.run(X, y, TINY, 10_000, LR, record=[10_000], progress=False)
    steps = int(max(1000, min(2_000_000, seconds / (tr.info["segments"][0]["kernel_seconds"] / 10_000))))
    timers = {"kernel": kernel_timer(X, y, TINY, steps)}
    counts = {"kernel": steps}
    if have_torch:  # a Python loop of ~8 ops per step: far slower per step than the kernel
        timers["torch"] = torch_timer(X, y, TINY, max(100, steps // 100))
        counts["torch"] = max(100, steps // 100)
    if have_jax:
        timers["jax"] = jax_timer(X, y, TINY, max(100, steps // 10))
        counts["jax"] = max(100, steps // 10)
    best, median, _ = interleave(timers, counts, repeats)
    return {k: (1.0 / best[k], 1.0 / median[k]) for k in timers}, counts


def bench_ensemble(X, y, repeats):
    tl.run_ensemble(X, y, ENS_WIDTHS, ENS_SEEDS[:1], 2, LR, record=[2], progress=False)  # warm-up
    fused, loop = [], []
    info = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        ens = tl.run_ensemble(X, y, ENS_WIDTHS, ENS_SEEDS, ENS_STEPS, LR, record=[ENS_STEPS], progress=False)
        fused.append(time.perf_counter() - t0)
        info = ens.members[0].info["segments"][0]
        t0 = time.perf_counter()
        for s in ENS_SEEDS:
            for m in ENS_WIDTHS:
                tl.run(X, y, m, ENS_STEPS, LR, seed=s, record=[ENS_STEPS], progress=False)
        loop.append(time.perf_counter() - t0)
    return fused, loop, info


# ----------------------------------------------------------------------------
# the results file


def fmt(x):
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def fw_best(rt):
    """The faster framework's steps per second (None without frameworks)."""
    fw = [rt[k] for k in ("torch", "jax") if k in rt]
    return max(fw) if fw else None


def _ratio(a, b):
    return a / b if (a is not None and b is not None and np.isfinite(b) and b > 0) else None


def fmt_ratio(x):
    return "n/a" if x is None else f"{x:.2f}x"


def fmt_pct(x):
    if x is None:
        return "n/a"
    return f"{x:.1%}" if x < 0.1 else f"{x:.0%}"


def goals(rows, ens):
    """The issue's goals evaluated on this run's numbers: one sentence."""
    def where(pred, key):
        met = [r["m"] for r in rows if pred(r, key)]
        missed = [r["m"] for r in rows if not pred(r, key)]
        return met, missed

    def say(met, missed):
        if not met and not missed:
            return "not measured"
        if not missed:
            return "met at every width"
        if not met:
            return "missed at every width"
        return f"met at m = {', '.join(map(str, met))}; missed at m = {', '.join(map(str, missed))}"

    def at_least(r, k, factor=1.0):
        x = _ratio(r[k]["kernel"], fw_best(r[k]))
        return x is not None and x >= factor

    small = [r for r in rows if r["m"] <= SMALL_WIDTH]
    large = [r for r in rows if r["m"] in LARGE_WIDTHS]
    out = []
    for k, word in (("rates", "best"), ("median", "median")):
        out.append(f"kernel >= faster framework ({word}): " + say(*where(at_least, k)))
    for k, word in (("rates", "best"), ("median", "median")):
        met = [r["m"] for r in small if at_least(r, k, SMALL_GOAL)]
        out.append(f"kernel >= {SMALL_GOAL:g}x faster framework at m <= {SMALL_WIDTH} ({word}): "
                   + say(met, [r["m"] for r in small if r["m"] not in met]))
    for k, word in (("rates", "best"), ("median", "median")):
        met = [r["m"] for r in large if r[k]["dgemm"] <= BOUND_FACTOR * r[k]["kernel"]]
        out.append(f"kernel within {BOUND_FACTOR:g}x of the DGEMM bound at m in {LARGE_WIDTHS} ({word}): "
                   + say(met, [r["m"] for r in large if r["m"] not in met]))
    reach = [(r["m"], _ratio(r["rates"]["dgemm"], fw_best(r["rates"])),
              _ratio(r["median"]["dgemm"], fw_best(r["median"]))) for r in small]
    out.append(f"{SMALL_GOAL:g}x reachable at m <= {SMALL_WIDTH} (ceiling DGEMM bound / faster framework above "
               f"{SMALL_GOAL:g}): " + "; ".join(
                   f"m = {m}: " + ("n/a" if cb is None else
                                   f"{'reachable' if cb > SMALL_GOAL else 'unreachable'} (ceiling {cb:.2f}x best, "
                                   f"{cm:.2f}x median)") for m, cb, cm in reach))
    if ens is not None:
        fb, fm, lb, lm = ens
        out.append(f"ensemble faster than the runs one by one: best {'met' if lb > fb else 'missed'}, "
                   f"median {'met' if lm > fm else 'missed'}")
    return "Goals (computed from the rows above): " + ". ".join(out) + "."


def results_text(rows, overhead, ocounts, ens_data, meta):
    """The Markdown of ``bench/results/twolayer.md``."""
    L = ["# Two-layer ReLU kernel benchmark (`python -m bench.twolayer`)", ""]
    L.append(f"Run: load average {meta['load0']:.2f} before, {meta['load1']:.2f} after (machine shared with other "
             f"jobs); {meta['repeats']} interleaved repeats of runs of about {meta['seconds']:g} s; steps per second, "
             f"best of the repeats (median in parentheses); n = {N}, d = {D}, float64, full-batch GD on the logistic "
             f"loss.")
    L.append("")
    L.append(f"Machine: {meta['machine']}. Python {platform.python_version()}, numpy {np.__version__}, numba "
             f"{meta['numba']}, {meta['frameworks']}. Interpreter: `{sys.executable}`.")
    L.append("")
    L.append(f"BLAS: {meta['blas']}.")
    L.append("")
    hdr = ["width m", "kernel (default: timed)", "kernel, one thread", "kernel, numba threads", "NumPy loop",
           "PyTorch", "JAX", "DGEMM bound", "kernel / faster framework", "kernel / DGEMM bound",
           "ceiling: DGEMM bound / faster framework", "PyTorch overhead share", "JAX overhead share",
           "threaded steps (default)", "fastest DGEMM"]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---:|" * (len(hdr) - 2) + "---|---|")

    def both(r, k):
        return f"{fmt(r['rates'].get(k))} ({fmt(r['median'].get(k))})"

    def pair(f, r):
        return f"{f(r['rates'])} ({f(r['median'])})"

    for r in rows:
        share = {}
        for k in ("torch", "jax"):
            if k in overhead and k in r["rates"]:
                share[k] = (f"{fmt_pct(overhead[k][0] * r['rates'][k])} "
                            f"({fmt_pct(overhead[k][1] * r['median'][k])})")
            else:
                share[k] = "n/a"
        L.append("| " + " | ".join([
            str(r["m"]), both(r, "kernel"), both(r, "kernel_serial"), both(r, "kernel_threads"), both(r, "numpy"),
            both(r, "torch"), both(r, "jax"), both(r, "dgemm"),
            pair(lambda q: fmt_ratio(_ratio(q["kernel"], fw_best(q))), r),
            pair(lambda q: fmt_pct(_ratio(q["kernel"], q["dgemm"])), r),
            pair(lambda q: fmt_ratio(_ratio(q["dgemm"], fw_best(q))), r),
            share["torch"], share["jax"],
            f"{', '.join(str(t) for t in r['threaded'])} of {r['steps']:,}", r["dgemm_best_of"]]) + " |")
    L.append("")
    L.append("Fixed overhead per step (the same step at n = d = m = "
             f"{TINY}, arithmetic negligible; best (median) over the repeats): "
             + ", ".join(f"{ {'kernel': 'kernel', 'torch': 'PyTorch', 'jax': 'JAX'}[k]} "
                         f"{v[0] * 1e6:.1f} us ({v[1] * 1e6:.1f} us) per step in runs of {ocounts[k]:,} steps"
                         for k, v in overhead.items())
             + ". Overhead share at a width = that time x the framework's steps per second there.")
    L.append("")
    L.append("Steps per timed run (kernel, PyTorch, JAX; the NumPy loop half of them): "
             + ", ".join(f"m={r['m']}: {r['steps']:,}" for r in rows) + ".")
    L.append("")
    L.append("DGEMM bound: the step's two products X W^T and M^T X (4 n d m flops) by NumPy matmul (OpenBLAS) and "
             "torch.mm (MKL), each at the default threads and at one thread (dgemm_openblas1, dgemm_mkl1), the "
             "fastest, best of 3 per repeat; "
             + ", ".join(f"m={r['m']}: {r['rates']['dgemm'] * 4 * N * D * r['m'] / 1e9:.1f} GFLOP/s" for r in rows)
             + " (best).")
    L.append("")
    fused, loop, einfo = ens_data
    fb, fm, lb, lm = min(fused), float(np.median(fused)), min(loop), float(np.median(loop))
    L.append(f"Ensemble: {len(ENS_SEEDS)} seeds x widths {ENS_WIDTHS}, {ENS_STEPS} steps: one `run_ensemble` "
             f"call {fb:.2f} s (median {fm:.2f} s) wall on {einfo['groups']} threads, the same "
             f"{len(ENS_SEEDS) * len(ENS_WIDTHS)} runs one by one with `run` {lb:.2f} s (median {lm:.2f} s): "
             f"separate / fused = {lb / fb:.2f}x (medians {lm / fm:.2f}x).")
    L.append("")
    L.append(goals(rows, (fb, fm, lb, lm)))
    return "\n".join(L) + "\n"


#: The README's columns: (column of the results table, header shown in the README).
README_COLUMNS = (
    ("width m", "width m"), ("kernel (default: timed)", "kernel"), ("NumPy loop", "NumPy loop"),
    ("PyTorch", "PyTorch"), ("JAX", "JAX"), ("DGEMM bound", "DGEMM bound"),
    ("kernel / faster framework", "kernel / faster framework"), ("kernel / DGEMM bound", "kernel / DGEMM bound"),
    ("ceiling: DGEMM bound / faster framework", "ceiling: DGEMM bound / faster framework"),
    ("PyTorch overhead share", "PyTorch overhead share"), ("JAX overhead share", "JAX overhead share"),
)


def readme_block(results_text: str) -> str:
    """The README block, from the text of ``bench/results/twolayer.md`` alone."""
    table = readme.markdown_tables(results_text)[0]
    parts = [readme.line_starting(results_text, "Run: "), readme.line_starting(results_text, "BLAS: "),
             readme.select_columns(table, README_COLUMNS),
             readme.line_starting(results_text, "Fixed overhead per step"),
             readme.line_starting(results_text, "Ensemble: "),
             readme.line_starting(results_text, "Goals ")]
    return "\n\n".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short timings (about 0.2 s per run)")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/twolayer.md")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (best and median reported)")
    ap.add_argument("--widths", type=int, nargs="*", default=WIDTHS)
    environment.add_blas_argument(ap)
    readme.add_readme_argument(ap)
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error(f"--repeats must be >= 1; got {args.repeats}")
    if args.readme is not None and args.no_write:
        ap.error("--readme renders the results file: it cannot be combined with --no-write")
    blas = environment.check_openblas(args.allow_pinned_blas)
    have_torch, have_jax = load_frameworks()
    if have_torch:  # torch loads MKL (and its OpenMP): record them too
        blas = environment.describe(environment.blas_libraries(), environment.host_has_avx512())
    seconds = 0.2 if args.quick else 1.0
    X, y = make_data()
    load0 = environment.load_average()
    overhead, ocounts = bench_overhead(0.3 * seconds, args.repeats, have_torch, have_jax)
    rows = []
    for m in args.widths:
        row = bench_width(X, y, m, seconds, args.repeats, have_torch, have_jax)
        rows.append(row)
        print(f"# m={m}: " + ", ".join(f"{k} {fmt(v)}/s" for k, v in row["rates"].items()), file=sys.stderr)
    ens = bench_ensemble(X, y, args.repeats)
    load1 = environment.load_average()

    import numba  # noqa: PLC0415

    frameworks = ", ".join([
        (f"torch {torch.__version__} ({torch.get_num_threads()} threads, CPU capability "
         f"{torch.backends.cpu.get_cpu_capability()})") if have_torch else "no torch",
        f"jax {jax.__version__} (x64)" if have_jax else "no jax"])
    meta = dict(load0=load0, load1=load1, repeats=args.repeats, seconds=seconds, numba=numba.__version__,
                machine=f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs", blas=blas,
                frameworks=frameworks)
    text = results_text(rows, overhead, ocounts, ens, meta)
    print(text)
    if not args.no_write:
        from sims.store import atomic_write_text  # noqa: PLC0415

        atomic_write_text(RESULTS, text)
        if args.readme is not None:
            changed = readme.update_readme(args.readme, ["twolayer"])
            print(f"{args.readme}: twolayer block {'updated' if changed else 'unchanged'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
