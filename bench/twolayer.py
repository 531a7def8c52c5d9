"""Benchmark of the two-layer ReLU kernel (sims.twolayer) against a NumPy loop,
PyTorch CPU and JAX ``jit``, and the DGEMM bound of a step.

Run as ``python -m bench.twolayer`` from an interpreter that has torch and jax
(optional: missing ones give "n/a" columns); prints a Markdown table and writes
``bench/results/twolayer.md``. Options: ``--quick`` (about 0.2 s per timing),
``--no-write``, ``--repeats``.

What is measured (one process, float64, full-batch GD on the logistic loss,
n = 1000, d = 64, x_i uniform on the unit sphere, y = sign of a fixed linear
function, lr = 1, standard initialisation), at widths m = 64 ... 16384:

* steps per second over runs of about 1 s (the step count is calibrated by a
  warm-up run of the kernel, which also compiles or loads it), the best of
  ``repeats`` runs, the contenders *interleaved* within each repeat (kernel,
  NumPy, PyTorch, JAX, DGEMM, kernel, ...), so that load changes on the shared
  machine hit them alike:

  (a) the kernel: ``sims.twolayer.run(..., record=[steps])``, the kernel time it
      reports (set-up excluded; it includes the final forward pass and metrics),
      with its default threads: a lone network times its serial and threaded
      kernels on short probes and runs the faster ("timed", the default); also
      forced onto one thread and onto the numba threads (``chunk_threads``);
  (b) ``sims.twolayer.reference_numpy_run`` (plain NumPy, default BLAS threads);
  (c) PyTorch CPU, the same hand-written update with torch tensors under
      ``torch.no_grad()`` (default intra-op threads);
  (d) JAX ``jit`` of ``lax.fori_loop`` over the same update with
      ``jax_enable_x64`` (compilation excluded);

* the DGEMM bound: NumPy matmul of the step's two products, X W^T (n x d)(d x m)
  and M^T X (m x n)(n x d), 4 n d m flops, at the default BLAS threads and at one
  thread, best of 3 each per repeat, interleaved with the above; "bound steps/s" is
  1 / (the faster time);
* a seeds-by-widths ensemble (4 seeds x widths 64, 256, 1024, 4096, 20 steps) in
  one ``run_ensemble`` call against the same 16 runs one by one with ``run``
  (wall time of the calls, interleaved, best and median of ``repeats``).

Every rate is reported as the best and the median over the repeats. The machine is
shared with other jobs: the load average before and after is recorded with the
results, and so are the BLAS library's kernel architecture and ``OPENBLAS_CORETYPE``
(the environment may pin OpenBLAS to its AVX2 "Haswell" kernels). The file ends
with a short table for the README, to be pasted verbatim.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

try:  # jax must be configured before first use
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    HAVE_JAX = True
except Exception:  # noqa: BLE001 (any import failure means: no JAX column)
    HAVE_JAX = False

try:
    import torch

    HAVE_TORCH = True
except Exception:  # noqa: BLE001
    HAVE_TORCH = False

from sims import twolayer as tl

N, D = 1000, 64
WIDTHS = [64, 256, 1024, 4096, 16384]
LR = 1.0
ENS_SEEDS = [0, 1, 2, 3]
ENS_WIDTHS = [64, 256, 1024, 4096]
ENS_STEPS = 20


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X @ rng.standard_normal(D) > 0, 1.0, -1.0)
    return X, y


def load():
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


# ----------------------------------------------------------------------------
# contenders: each returns a callable once() -> seconds for `steps` steps


def kernel_timer(X, y, m, steps, mode=None):
    """The kernel; ``mode`` None: default (timed), True / False: forced threads / serial."""
    import contextlib  # noqa: PLC0415

    def once():
        with tl.chunk_threads(mode) if mode is not None else contextlib.nullcontext():
            tr = tl.run(X, y, m, steps, LR, record=[steps], progress=False)
        seg = tr.info["segments"][0]
        once.info = seg
        return seg["kernel_seconds"]

    return once


def numpy_timer(X, y, m, steps):
    p = tl.init_two_layer(D, m, 0)

    def once():
        t0 = time.perf_counter()
        tl.reference_numpy_run(X, y, p, steps, LR)
        return time.perf_counter() - t0

    return once


def torch_timer(X, y, m, steps):
    p = tl.init_two_layer(D, m, 0)
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y)
    a_s = torch.from_numpy(p.a / np.sqrt(m))
    W0 = torch.from_numpy(p.W)

    def run(W):
        with torch.no_grad():
            for _ in range(steps):
                Z = Xt @ W.T
                f = torch.relu(Z) @ a_s
                r = -yt * torch.sigmoid(-yt * f) / N
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
    p = tl.init_two_layer(D, m, 0)
    Xj = jnp.asarray(X)
    yj = jnp.asarray(y)
    a_s = jnp.asarray(p.a / np.sqrt(m))

    def body(_, W):
        Z = Xj @ W.T
        f = jnp.maximum(Z, 0.0) @ a_s
        r = -yj * jax.nn.sigmoid(-yj * f) / N
        G = ((Z > 0) * (r[:, None] * a_s[None, :])).T @ Xj
        return W - LR * G

    @jax.jit
    def run(W, n):
        return jax.lax.fori_loop(0, n, body, W)

    W0 = jnp.asarray(p.W)
    run(W0, steps).block_until_ready()  # compile

    def once():
        t0 = time.perf_counter()
        run(W0, steps).block_until_ready()
        return time.perf_counter() - t0

    return once


def dgemm_timer(m, threads=None):
    """NumPy matmul of the step's two products, at the default BLAS threads or ``threads``."""
    from threadpoolctl import threadpool_limits  # noqa: PLC0415

    rng = np.random.default_rng(1)
    X = rng.standard_normal((N, D))
    W = rng.standard_normal((m, D))
    M = rng.standard_normal((N, m))
    X @ W.T
    M.T @ X

    def once():
        with threadpool_limits(threads, user_api="blas"):
            t0 = time.perf_counter()
            X @ W.T
            M.T @ X
            return time.perf_counter() - t0

    return once


def calibrate(X, y, m, seconds):
    """Warm-up run of the kernel (compiles or loads it), then the steps for ~``seconds``."""
    tl.run(X, y, m, 1, LR, record=[1], progress=False)  # compiles or loads the kernels
    with tl.chunk_threads(True):
        tl.run(X, y, m, 1, LR, record=[1], progress=False)
    n0 = max(2, int(2e8 / (N * D * m)))
    with tl.chunk_threads(False):  # the serial kernel's rate: the timed mode's probes would blur it
        tr = tl.run(X, y, m, n0, LR, record=[n0], progress=False)
    per_step = tr.info["segments"][0]["kernel_seconds"] / n0
    return int(max(3, min(200_000, seconds / per_step)))


def fmt(x):
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def ratio(a, b):
    return f"{a / b:.2f}x" if (a is not None and b is not None and np.isfinite(b) and b > 0) else "n/a"


KERNELS = {"kernel": None, "kernel_serial": False, "kernel_threads": True}


def bench_width(X, y, m, seconds, repeats):
    steps = calibrate(X, y, m, seconds)
    timers = {k: kernel_timer(X, y, m, steps, mode) for k, mode in KERNELS.items()}
    timers["numpy"] = numpy_timer(X, y, m, max(3, steps // 2))
    timers["dgemm"] = dgemm_timer(m)
    timers["dgemm1"] = dgemm_timer(m, 1)
    counts = {k: steps for k in KERNELS}
    counts.update(numpy=max(3, steps // 2), dgemm=1, dgemm1=1)
    if HAVE_TORCH:
        timers["torch"] = torch_timer(X, y, m, steps)
        counts["torch"] = steps
    if HAVE_JAX:
        timers["jax"] = jax_timer(X, y, m, steps)
        counts["jax"] = steps
    times = {k: [] for k in timers}
    threaded = []
    for _ in range(repeats):
        for k, fn in timers.items():
            if k.startswith("dgemm"):  # best of 3 per repeat: one timing is not reliable here
                times[k].append(min(fn() for _ in range(3)))
            else:
                times[k].append(fn())
            if k == "kernel":
                threaded.append(fn.info["threaded_steps"])
    # the bound: the faster of the BLAS at its default threads and at one thread, per repeat
    # (under load, two BLAS threads can be far slower than one)
    times["dgemm_default"] = times["dgemm"]
    times["dgemm"] = [min(a, b) for a, b in zip(times["dgemm_default"], times.pop("dgemm1"))]
    counts["dgemm_default"] = 1
    best = {k: counts[k] / min(v) for k, v in times.items()}
    median = {k: counts[k] / float(np.median(v)) for k, v in times.items()}
    seg = timers["kernel"].info
    assert timers["kernel_threads"].info["parallel_chunks"]
    assert timers["kernel_serial"].info["threaded_steps"] == 0
    return dict(m=m, steps=steps, rates=best, median=median, mode=seg["chunk_mode"], threads=seg["threads"],
                threaded=threaded)


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


def blas_description():
    """The BLAS libraries loaded (threadpoolctl) and OPENBLAS_CORETYPE."""
    from threadpoolctl import threadpool_info  # noqa: PLC0415

    libs = sorted({f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')} kernels)"
                   for i in threadpool_info() if i.get("user_api") == "blas"})
    core = os.environ.get("OPENBLAS_CORETYPE")
    return ", ".join(libs) + (f"; OPENBLAS_CORETYPE={core} in the environment" if core else "")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short timings (about 0.2 s per run)")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/twolayer.md")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--widths", type=int, nargs="*", default=WIDTHS)
    args = ap.parse_args(argv)
    seconds = 0.2 if args.quick else 1.0
    X, y = make_data()
    load0 = load()
    rows = []
    for m in args.widths:
        row = bench_width(X, y, m, seconds, args.repeats)
        rows.append(row)
        print(f"# m={m}: " + ", ".join(f"{k} {fmt(v)}/s" for k, v in row["rates"].items()), file=sys.stderr)
    fused, loop, einfo = bench_ensemble(X, y, args.repeats)
    load1 = load()

    import numba  # noqa: PLC0415

    def fw_best(rt):
        fw = [rt[k] for k in ("torch", "jax") if k in rt]
        return max(fw) if fw else None

    L = []
    L.append("# Two-layer ReLU kernel benchmark (`python -m bench.twolayer`)")
    L.append("")
    L.append(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared with other "
             f"jobs: load average {load0:.2f} before, {load1:.2f} after); Python {platform.python_version()}, "
             f"numpy {np.__version__}, numba {numba.__version__}, "
             + (f"torch {torch.__version__} ({torch.get_num_threads()} threads), " if HAVE_TORCH else "no torch, ")
             + (f"jax {jax.__version__} (x64)" if HAVE_JAX else "no jax")
             + f". BLAS: {blas_description()}. Interpreter: `{sys.executable}`. n = {N}, d = {D}, float64, "
             f"full-batch GD on the logistic loss; {args.repeats} interleaved repeats of runs of about {seconds:g} s "
             "each; steps per second, best of the repeats (median in parentheses).")
    L.append("")
    L.append("| width m | kernel (default: timed) | kernel, one thread | kernel, numba threads | NumPy loop | PyTorch "
             "| JAX | DGEMM bound | kernel / max(PyTorch, JAX) | kernel / DGEMM bound | threaded steps (default) |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")

    def both(r, k):
        return f"{fmt(r['rates'].get(k))} ({fmt(r['median'].get(k))})"

    for r in rows:
        rt, md = r["rates"], r["median"]
        L.append(f"| {r['m']} | {both(r, 'kernel')} | {both(r, 'kernel_serial')} | {both(r, 'kernel_threads')} | "
                 f"{both(r, 'numpy')} | {both(r, 'torch')} | {both(r, 'jax')} | {both(r, 'dgemm')} | "
                 f"{ratio(rt['kernel'], fw_best(rt))} ({ratio(md['kernel'], fw_best(md))}) | "
                 f"{rt['kernel'] / rt['dgemm']:.0%} ({md['kernel'] / md['dgemm']:.0%}) | "
                 f"{', '.join(str(t) for t in r['threaded'])} of {r['steps']:,} |")
    L.append("")
    L.append("Steps per timed run (kernel, PyTorch, JAX; the NumPy loop half of them): "
             + ", ".join(f"m={r['m']}: {r['steps']:,}" for r in rows) + ".")
    L.append("")
    L.append("DGEMM bound: the step's two products X W^T and M^T X (4 n d m flops) by NumPy matmul with the "
             "default BLAS threads and at one thread, the faster, best of 3 per repeat; "
             + ", ".join(f"m={r['m']}: {r['rates']['dgemm'] * 4 * N * D * r['m'] / 1e9:.1f} GFLOP/s" for r in rows)
             + " (best).")
    L.append("")
    fb, fm, lb, lm = min(fused), float(np.median(fused)), min(loop), float(np.median(loop))
    ens_line = (f"{len(ENS_SEEDS)} seeds x widths {ENS_WIDTHS}, {ENS_STEPS} steps: one `run_ensemble` call "
                f"{fb:.2f} s (median {fm:.2f} s) wall on {einfo['groups']} threads, the same "
                f"{len(ENS_SEEDS) * len(ENS_WIDTHS)} runs one by one with `run` {lb:.2f} s (median {lm:.2f} s): "
                f"separate / fused = {lb / fb:.2f}x (medians {lm / fm:.2f}x).")
    L.append("Ensemble: " + ens_line)
    L.append("")
    L.append("## README table (pasted verbatim into the README)")
    L.append("")
    L.append(f"Load average {load0:.1f} before, {load1:.1f} after; steps per second, best of {args.repeats} "
             "interleaved repeats (median in parentheses).")
    L.append("")
    L.append("| width m | kernel | NumPy loop | PyTorch | JAX | DGEMM bound | kernel / faster framework "
             "| kernel / DGEMM bound |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rt, md = r["rates"], r["median"]
        L.append(f"| {r['m']} | {both(r, 'kernel')} | {both(r, 'numpy')} | {both(r, 'torch')} | "
                 f"{both(r, 'jax')} | {both(r, 'dgemm')} | {ratio(rt['kernel'], fw_best(rt))} "
                 f"({ratio(md['kernel'], fw_best(md))}) | {rt['kernel'] / rt['dgemm']:.0%} "
                 f"({md['kernel'] / md['dgemm']:.0%}) |")
    L.append("")
    L.append("Ensemble: " + ens_line)
    text = "\n".join(L) + "\n"
    print(text)
    if not args.no_write:
        out = Path(__file__).resolve().parent / "results" / "twolayer.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
