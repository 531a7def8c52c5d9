"""What a benchmark ran on: the load, the BLAS libraries and the OpenBLAS kernels they use.

Some machines set ``OPENBLAS_CORETYPE`` (with ``OPENBLAS_L2_SIZE``) because old
OpenBLAS builds break on their CPU. A current OpenBLAS then runs kernels below the
CPU's (e.g. the AVX2 "Haswell" kernels on an AVX-512 CPU), while PyTorch (MKL) and
JAX (XLA/Eigen) are not bound by these variables, so a comparison would be unfair.
The benches therefore run with both variables removed for their own command alone::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.NAME

and :func:`check_openblas` reads, through threadpoolctl, the core type each loaded
OpenBLAS really runs: a bench whose timings depend on BLAS refuses to run on kernels
without AVX-512 on an AVX-512 CPU unless told to (``--allow-pinned-blas``), and then
says so loudly and in its results. Tests and CI never change these variables.
"""

from __future__ import annotations

import os
import sys

#: The command prefix that removes the pinning for one command.
UNPIN = "env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"

#: OpenBLAS core types (threadpoolctl's ``architecture``) whose kernels use AVX-512.
AVX512_CORETYPES = frozenset({"SkylakeX", "Cooperlake", "SapphireRapids"})

#: The environment variables that pin OpenBLAS.
PIN_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def load_average() -> float:
    """The 1-minute load average (nan where the OS has none)."""
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover
        return float("nan")


def host_has_avx512() -> bool | None:
    """Whether the CPU has AVX-512F (LLVM's host feature map, as numba sees it); None if unknown."""
    try:
        import llvmlite.binding as ll  # noqa: PLC0415

        return bool(ll.get_host_cpu_features().get("avx512f", False))
    except Exception:  # noqa: BLE001 (no llvmlite or no feature map: unknown)
        return None


def blas_libraries() -> list[dict]:
    """The loaded BLAS libraries (threadpoolctl, including the OpenBLAS numba's ``np.dot``
    calls): dicts with ``internal_api``, ``version``, ``architecture``, ``num_threads``,
    ``filepath``."""
    from sims.engine import blas_controller  # noqa: PLC0415

    keys = ("internal_api", "version", "architecture", "num_threads", "filepath")
    return [{k: i.get(k) for k in keys} for i in blas_controller().info() if i.get("user_api") == "blas"]


def pinned_libraries(libraries: list[dict], avx512: bool | None) -> list[dict]:
    """The OpenBLAS libraries of ``libraries`` that run kernels without AVX-512 on an AVX-512
    CPU (``avx512`` True); none when the CPU lacks AVX-512 or it is unknown."""
    if not avx512:
        return []
    return [lib for lib in libraries
            if lib["internal_api"] == "openblas" and lib["architecture"] not in AVX512_CORETYPES]


def describe(libraries: list[dict], avx512: bool | None) -> str:
    """One sentence for a results file: each BLAS with its kernels, the CPU, the variables."""
    libs = sorted({f"{lib['internal_api']} {lib['version']} ({lib['architecture']} kernels)" for lib in libraries})
    cpu = {True: "an AVX-512 CPU", False: "a CPU without AVX-512", None: "a CPU of unknown AVX-512 support"}[avx512]
    env = [f"{v}={os.environ[v]}" for v in PIN_VARIABLES if v in os.environ]
    text = (", ".join(libs) or "no BLAS library loaded") + f" on {cpu}; "
    text += ("set in the environment: " + ", ".join(env)) if env else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
    if pinned_libraries(libraries, avx512):
        text += " (**OpenBLAS pinned below the CPU's kernels: BLAS-bound rates are understated**)"
    return text


def check_openblas(allow_pinned: bool, uses_blas: bool = True) -> str:
    """Check the OpenBLAS kernels before timing; return :func:`describe`'s sentence.

    A bench whose timings depend on BLAS (``uses_blas``) stops with ``SystemExit`` when an
    OpenBLAS runs kernels without AVX-512 on an AVX-512 CPU, unless ``allow_pinned``
    (then a loud warning on stderr). ``OPENBLAS_L2_SIZE`` left alone (without the core
    type) is warned about: the two are to be removed together.
    """
    libs = blas_libraries()
    avx512 = host_has_avx512()
    pinned = pinned_libraries(libs, avx512)
    sentence = describe(libs, avx512)
    if pinned and uses_blas:
        names = ", ".join(f"{lib['filepath']} ({lib['architecture']})" for lib in pinned)
        msg = (f"OpenBLAS runs kernels without AVX-512 on this AVX-512 CPU: {names}. "
               f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')!r} pins it; run the bench as "
               f"`{UNPIN} python -m bench.NAME` (that command alone; never in tests or CI)")
        if not allow_pinned:
            raise SystemExit(msg + ", or pass --allow-pinned-blas to time the pinned kernels anyway.")
        print("\n" + "!" * 78 + f"\nWARNING: {msg}.\nTiming the pinned kernels as asked (--allow-pinned-blas); "
              "the results say so.\n" + "!" * 78 + "\n", file=sys.stderr)
    elif "OPENBLAS_L2_SIZE" in os.environ and "OPENBLAS_CORETYPE" not in os.environ and uses_blas:
        print("WARNING: OPENBLAS_L2_SIZE is set without OPENBLAS_CORETYPE: remove both "
              f"(`{UNPIN} ...`).", file=sys.stderr)
    return sentence


def add_blas_argument(parser) -> None:
    """The ``--allow-pinned-blas`` option of every bench."""
    parser.add_argument("--allow-pinned-blas", action="store_true",
                        help="time even if OpenBLAS runs kernels without AVX-512 on an AVX-512 CPU "
                             f"(default: refuse; run as `{UNPIN} python -m bench.NAME`)")
