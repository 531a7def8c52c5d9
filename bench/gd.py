"""Benchmark of the GD engine (sims.gd) against a NumPy loop and JAX, and the DGEMM rate.

Run as ``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.gd`` (the
``env -u`` unpins OpenBLAS for this command alone: ``bench.environment``); prints a
Markdown table and writes it to ``bench/results/gd.md``. Options: ``--quick`` (shorter
timings), ``--no-write``, ``--readme README.md`` (re-render the README block from the
results file, :func:`readme_block`), ``--allow-pinned-blas``.

What is measured (single process, float64, full-batch GD with a constant step):

* steps per second at (m, d, V) = (3, 2, 5), (20, 10, 30), (200, 100, 300),
  (1000, 256, 1000), random NTP data (supports of size min(6, V - 2), h_j ~
  N(0, I/d)), over runs of about 1 s each (the step count is calibrated by a
  warm-up run of the engine, which also compiles or loads its kernel; at most
  2e6 steps), for
  (a) the engine, ``sims.gd.run(..., references=False, record=[steps])``: the
  kernel time reported by the trajectory (set-up excluded, shown separately;
  it includes the one checkpoint at the end, i.e. the logits, residual and
  gradient of the last iterate and its metrics, about one step's work);
  (b) a plain NumPy loop (``sims.gd.reference_numpy_run``: L = H W^T, softmax,
  R^T H; BLAS threads as configured);
  (c) JAX ``jit`` + ``lax.fori_loop`` of the same update with
  ``jax_enable_x64`` (skipped if ``import jax`` fails);
  each the best of ``repeats`` timed runs after a warm-up (compilation excluded);
* the DGEMM rate: NumPy matmul of the two products of one step at the largest
  size, H (m x d) W^T (d x V) and R^T (V x m) H (m x d), i.e. 4 m d V flops, with
  the default BLAS threads, and the engine's fraction of it;
* the wall time of 1e6 GD steps on the [T24] App. A.2 set-up (50, 60, 10), S = 6.

The machine is shared: timings are noisy; the load average before and after is
recorded with the results.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import types

import numpy as np

from bench import environment, readme
from sims import gd

# JAX is optional and imported by load_jax() (not at import: the README test renders this
# bench's block without it)
jax = jnp = None
HAVE_JAX = False

RESULTS = readme.results_path("gd")


def load_jax():
    """Import JAX with ``jax_enable_x64`` (before first use) if installed; returns whether it is."""
    global jax, jnp, HAVE_JAX
    try:
        import jax as _jax  # noqa: PLC0415

        _jax.config.update("jax_enable_x64", True)
        import jax.numpy as _jnp  # noqa: PLC0415

        jax, jnp, HAVE_JAX = _jax, _jnp, True
    except Exception:  # noqa: BLE001 (any import failure means: no JAX column)
        HAVE_JAX = False
    return HAVE_JAX


SIZES = [(3, 2, 5), (20, 10, 30), (200, 100, 300), (1000, 256, 1000)]


def make_data(m, d, V, seed=0):
    rng = np.random.default_rng(seed)
    S = min(6, V - 2)
    P = np.zeros((m, V))
    for j in range(m):
        P[j, rng.choice(V, S, replace=False)] = rng.dirichlet(np.ones(S))
    H = rng.standard_normal((m, d)) / np.sqrt(d)
    return types.SimpleNamespace(H=H, P=P, pi=np.full(m, 1.0 / m))


def load():
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def best_of(fn, repeats):
    best = np.inf
    for _ in range(repeats):
        t = fn()
        best = min(best, t)
    return best


def engine_rate(data, steps, repeats):
    def once():
        tr = gd.run(data, steps, 0.5, references=False, record=np.array([steps]), progress=False)  # metrics at the end
        seg = tr.info["segments"][0]
        once.setup = seg["setup_seconds"]
        once.cfg = tr.config
        once.par = seg["parallel_chunks"]
        return seg["kernel_seconds"]

    t = best_of(once, repeats)
    return steps / t, once.setup, once.cfg, once.par


def calibrate(data, m, d, V, seconds):
    """Warm-up run of the engine (compiles or loads its kernel), then the number of
    steps that take about ``seconds`` at the rate it showed (at least as many as
    the warm-up, so that the timed runs use the kernel it compiled)."""
    n0 = steps_for(m, d, V, seconds)
    tr = gd.run(data, n0, 0.5, references=False, record=np.array([n0]), progress=False)
    if tr.config["tiny_kernel"]:
        # build the size-specialised tiny kernel, which gd.run selects for long runs or once it
        # exists in the process (its compile time is excluded, as JAX's jit compile is)
        gd.compile_tiny_kernel(m, V, tr.config["rank"])
        tr = gd.run(data, n0, 0.5, references=False, record=np.array([n0]), progress=False)
    per_step = tr.info["segments"][0]["kernel_seconds"] / n0
    return int(max(n0, min(2_000_000, seconds / per_step)))


def numpy_rate(data, steps, repeats):
    gd.reference_numpy_run(data, 2, 0.5)

    def once():
        t0 = time.perf_counter()
        gd.reference_numpy_run(data, steps, 0.5)
        return time.perf_counter() - t0

    return steps / best_of(once, repeats)


def jax_rate(data, steps, repeats):
    H = jnp.asarray(data.H)
    P = jnp.asarray(data.P)
    pi = jnp.asarray(data.pi)
    lr = 0.5

    def body(_, W):
        L = H @ W.T
        L = L - L.max(axis=1, keepdims=True)
        E = jnp.exp(L)
        G = (pi[:, None] * (E / E.sum(axis=1, keepdims=True) - P)).T @ H
        return W - lr * G

    @jax.jit
    def run(W, n):
        return jax.lax.fori_loop(0, n, body, W)

    W0 = jnp.zeros((P.shape[1], H.shape[1]))
    run(W0, steps).block_until_ready()  # compile

    def once():
        t0 = time.perf_counter()
        run(W0, steps).block_until_ready()
        return time.perf_counter() - t0

    return steps / best_of(once, repeats)


def dgemm_rate(m, d, V, repeats):
    rng = np.random.default_rng(1)
    H = rng.standard_normal((m, d))
    W = rng.standard_normal((V, d))
    R = rng.standard_normal((m, V))
    H @ W.T
    R.T @ H

    def once():
        t0 = time.perf_counter()
        H @ W.T
        R.T @ H
        return time.perf_counter() - t0

    return 4.0 * m * d * V / best_of(once, 5 * repeats) / 1e9


def steps_for(m, d, V, seconds):
    """A first guess of the steps that take about ``seconds`` (a rough model of the
    step time, on the slow side); :func:`calibrate` measures."""
    per_step = 2e-7 + 4.0 * m * d * V / 3e10 + 3e-9 * m * V
    return int(max(3, min(2_000_000, seconds / per_step)))


def fmt_rate(x):
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short timings (about 0.2 s per cell)")
    ap.add_argument("--no-write", action="store_true", help="do not write bench/results/gd.md")
    ap.add_argument("--repeats", type=int, default=3)
    environment.add_blas_argument(ap)
    readme.add_readme_argument(ap)
    args = ap.parse_args(argv)
    if args.readme is not None and args.no_write:
        ap.error("--readme renders the results file: it cannot be combined with --no-write")
    blas = environment.check_openblas(args.allow_pinned_blas)
    load_jax()
    seconds = 0.2 if args.quick else 1.0
    load0 = load()
    rows = []
    for m, d, V in SIZES:
        data = make_data(m, d, V)
        n = calibrate(data, m, d, V, seconds)
        eng, setup, cfg, par = engine_rate(data, n, args.repeats)
        npy = numpy_rate(data, max(3, n // 4), args.repeats)
        jx = jax_rate(data, n, args.repeats) if HAVE_JAX else None
        gflops = eng * 4.0 * m * d * V / 1e9
        tiny = "tiny fused loops" + (", sizes fixed at compile time" if gd.tiny_kernel_compiled(
            m, V, cfg["rank"]) else "")
        kernel = (tiny if cfg["tiny_kernel"] else
                  f"{cfg['algorithm']}, {'BLAS' if cfg['use_blas'] else 'loops'}, chunks {cfg['chunks']}"
                  + (", numba threads" if par else ""))
        rows.append(dict(size=(m, d, V), eng=eng, npy=npy, jax=jx, gflops=gflops, setup=setup, kernel=kernel,
                         steps=n))
        print(f"# {m, d, V}: engine {eng:,.0f}/s, numpy {npy:,.0f}/s, jax {fmt_rate(jx)}/s", file=sys.stderr)
    m, d, V = SIZES[-1]
    dgemm = dgemm_rate(m, d, V, args.repeats)
    frac = rows[-1]["gflops"] / dgemm
    # 1e6 GD steps of the [T24] App. A.2 set-up (record: default ~200 checkpoints)
    a2 = make_data(50, 60, 10)
    a2.H = a2.H * np.sqrt(60)  # N(0, 1) entries, as in the reference setting of the checks N.k
    gd.run(a2, 2, 0.5, references=False, progress=False)
    t0 = time.perf_counter()
    tr = gd.run(a2, 1_000_000, 0.5, references=False, progress=False)
    t_1e6 = time.perf_counter() - t0
    load1 = load()

    lines = []
    lines.append("# GD engine benchmark (`python -m bench.gd`)")
    lines.append("")
    lines.append(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs "
                 f"(shared with other jobs: load average {load0:.2f} before, {load1:.2f} after); "
                 f"Python {platform.python_version()}, numpy {np.__version__}, "
                 f"numba {__import__('numba').__version__}, "
                 + (f"jax {jax.__version__} (x64)" if HAVE_JAX else "jax not installed (column skipped)")
                 + f". Best of {args.repeats} runs after warm-up; float64; GD with a constant step. "
                 f"Interpreter: `{sys.executable}`.")
    lines.append("")
    lines.append(f"BLAS: {blas}.")
    lines.append("")
    lines.append("| (m, d, V) | engine steps/s | NumPy loop steps/s | JAX steps/s | engine / NumPy | "
                 "engine / JAX | engine GFLOP/s (4mdV) | engine kernel |")
    lines.append("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        ej = f"{r['eng'] / r['jax']:.2f}x" if r["jax"] else "n/a"
        lines.append(f"| {r['size']} | {fmt_rate(r['eng'])} | {fmt_rate(r['npy'])} | {fmt_rate(r['jax'])} | "
                     f"{r['eng'] / r['npy']:.2f}x | {ej} | {r['gflops']:.2f} | {r['kernel']} |")
    lines.append("")
    lines.append("Steps per timed run (engine and JAX; the NumPy loop a quarter of them): "
                 + ", ".join(f"{r['size']}: {r['steps']:,}" for r in rows) + ".")
    lines.append("")
    lines.append(f"DGEMM rate (NumPy matmul of H W^T and R^T H at {SIZES[-1]}, default BLAS threads): "
                 f"{dgemm:.1f} GFLOP/s; the engine reaches {frac:.0%} of it at that size.")
    lines.append("")
    lines.append(f"1e6 GD steps of the App. A.2 set-up (50, 60, 10), S = 6, h ~ N(0, I), eta = 0.5, "
                 f"~200 log-spaced checkpoints: {t_1e6:.2f} s wall ({tr.config['algorithm']} kernel, "
                 f"kernel {tr.info['segments'][0]['kernel_seconds']:.2f} s in "
                 f"{tr.info['segments'][0]['kernel_calls']} calls).")
    lines.append("")
    lines.append("Engine set-up time per call (SVD, F Gram eigendecomposition, validation): "
                 + ", ".join(f"{r['size']}: {r['setup'] * 1e3:.1f} ms" for r in rows) + ".")
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_write:
        from sims.store import atomic_write_text  # noqa: PLC0415

        atomic_write_text(RESULTS, text)
        if args.readme is not None:
            readme.update_readme(args.readme, ["gd"])
    return 0


#: The README's columns: (column of the results table, header shown in the README).
README_COLUMNS = (
    ("(m, d, V)", "(m, d, V)"), ("engine steps/s", "engine steps/s"), ("NumPy loop steps/s", "NumPy loop"),
    ("JAX steps/s", "JAX jit + fori_loop"), ("engine / NumPy", "engine / NumPy"), ("engine / JAX", "engine / JAX"),
    ("engine kernel", "engine kernel"),
)


def readme_block(results_text: str) -> str:
    """The README block, from the text of ``bench/results/gd.md`` alone (its first table and lines)."""
    parts = [readme.line_starting(results_text, "Machine: "), readme.blas_line(results_text),
             readme.select_columns(readme.markdown_tables(results_text)[0], README_COLUMNS),
             readme.line_starting(results_text, "DGEMM rate"),
             readme.line_starting(results_text, "1e6 GD steps")]
    return "\n\n".join(parts)


if __name__ == "__main__":
    sys.exit(main())
