"""Run an experiment's sweep: skip what is stored, compute the rest, store each run on arrival.

Backends
--------
``scheduler="local"`` (default)
    joblib process pool with ``jobs`` workers (``jobs=1`` runs in this process).
``scheduler="local:N"``
    a throw-away :class:`dask.distributed.LocalCluster` with N single-threaded workers.
``scheduler="tcp://HOST:PORT"``
    an existing dask scheduler (``dask scheduler`` + ``dask worker --nthreads 1``).

Whatever the backend, each run's generator is ``SeedSequence(seed, spawn_key=(index,))``
and BLAS/Numba are held to one thread per worker, so the stored results are the
same bit for bit. Results travel back to this process, which writes them
atomically one by one: a sweep killed at any point keeps every finished run, and
rerunning it computes only the runs that are missing or whose files are corrupt.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Iterator, Mapping

import numpy as np
from tqdm.auto import tqdm

from sims.experiment import Experiment, RunSpec, config_dict, get_experiment, make_config, run_specs
from sims.store import ResultStore, StoredRun, stable_hash

__all__ = ["SweepReport", "execute_run", "load_sweep_runs", "run_experiment", "sweep_key"]

_VERSIONED = ("implicit-bias-lab", "numpy", "scipy", "numba", "cvxpy", "clarabel", "sympy", "joblib", "threadpoolctl")


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def _thread_report() -> dict[str, Any]:
    from threadpoolctl import threadpool_info

    pools = [
        {"api": p.get("user_api"), "internal_api": p.get("internal_api"), "num_threads": p.get("num_threads")}
        for p in threadpool_info()
    ]
    try:
        import numba

        numba_threads = numba.get_num_threads()
    except Exception:  # numba not importable on a worker: record that, do not fail the run
        numba_threads = None
    return {"threadpools": pools, "numba": numba_threads}


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def execute_run(spec: RunSpec) -> tuple[str, dict, dict]:
    """Compute one run with one BLAS and one Numba thread; return ``(key, result, meta)``."""
    from threadpoolctl import threadpool_limits

    try:
        import numba

        numba.set_num_threads(1)
    except Exception:
        pass
    ss = spec.seed_sequence()
    rng = np.random.default_rng(ss)
    started = _dt.datetime.now(_dt.timezone.utc)
    with threadpool_limits(limits=1):
        threads = _thread_report()
        t0 = time.perf_counter()
        result = spec.run(dict(spec.params), rng)
        wall = time.perf_counter() - t0
    if not isinstance(result, dict):
        raise TypeError(f"experiment {spec.experiment!r}: run function must return a dict, got {type(result).__name__}")
    meta = {
        "seed": spec.seed,
        "index": spec.index,
        "seed_sequence": {"entropy": spec.seed, "spawn_key": [spec.index]},
        "version": spec.version,
        "packages": package_versions(),
        "solvers": _as_list(result.get("solvers", [])),
        "threads": threads,
        "wall_time_s": wall,
        "started_utc": started.isoformat(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "platform": platform.platform(),
    }
    return spec.key, result, meta


def sweep_key(experiment: Experiment, config) -> str:
    return stable_hash({"experiment": experiment.name, "version": experiment.version, "config": config_dict(config)})


@dataclass(frozen=True)
class SweepReport:
    """What a sweep did.

    Attributes
    ----------
    experiment, sweep_key : str
    total : int
        Runs in the sweep.
    cached : int
        Runs found complete in the store and not recomputed.
    computed : int
        Runs computed now.
    corrupt : int
        Stored runs that failed their checksum and were recomputed.
    computed_keys : tuple of str
    wall_time_s : float
    """

    experiment: str
    sweep_key: str
    total: int
    cached: int
    computed: int
    corrupt: int
    computed_keys: tuple[str, ...]
    wall_time_s: float


def _parse_scheduler(scheduler: str) -> tuple[str, Any]:
    if scheduler == "local":
        return "joblib", None
    if scheduler.startswith("local:"):
        try:
            n = int(scheduler.split(":", 1)[1])
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"scheduler {scheduler!r}: expected local:N with N >= 1 workers")
        return "dask-local", n
    if scheduler.startswith("tcp://") or scheduler.startswith("tls://"):
        return "dask", scheduler
    raise ValueError(f"scheduler {scheduler!r}: expected 'local', 'local:N' or 'tcp://HOST:PORT'")


def _dask_results(specs: list[RunSpec], mode: str, arg: Any) -> Iterator[tuple[str, dict, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "dask.distributed is needed for --scheduler local:N / tcp://...; "
            "install it with: pip install 'implicit-bias-lab[distributed]'"
        ) from exc
    cluster = None
    if mode == "dask-local":
        cluster = LocalCluster(n_workers=arg, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        client = Client(arg)
    try:
        futures = client.map(execute_run, specs, pure=False)
        for fut in as_completed(futures):
            yield fut.result()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _local_results(specs: list[RunSpec], jobs: int) -> Iterator[tuple[str, dict, dict]]:
    if jobs == 1 or len(specs) <= 1:
        for spec in specs:
            yield execute_run(spec)
        return
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered")
    yield from parallel(delayed(execute_run)(s) for s in specs)


def run_experiment(
    experiment: Experiment | str,
    *,
    quick: bool = False,
    overrides: Mapping[str, Any] | None = None,
    config=None,
    store: ResultStore | None = None,
    jobs: int = 1,
    scheduler: str = "local",
    force: bool = False,
    progress: bool = True,
) -> SweepReport:
    """Run (or resume) one experiment's sweep.

    Parameters
    ----------
    experiment : Experiment or str
        The experiment or its registry name.
    quick : bool
        Use the experiment's quick-mode settings.
    overrides : mapping, optional
        ``{field: value}`` changes to the config (strings are parsed as literals).
    config : dataclass, optional
        A ready config (then ``quick`` and ``overrides`` must not be given).
    store : ResultStore, optional
        Default: ``ResultStore()`` (``$IBL_STORE`` or ``./results``).
    jobs : int
        Local worker processes (``scheduler="local"``).
    scheduler : str
        ``"local"``, ``"local:N"`` or ``"tcp://HOST:PORT"``.
    force : bool
        Recompute runs even if stored.
    progress : bool
        Show a tqdm progress bar.
    """
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    if not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    mode, arg = _parse_scheduler(scheduler)
    if config is None:
        config = make_config(exp, quick=quick, overrides=overrides)
    elif overrides:
        raise ValueError("pass either config or overrides, not both")
    store = store if store is not None else ResultStore()
    specs = run_specs(exp, config)
    skey = sweep_key(exp, config)
    manifest = {
        "experiment": exp.name,
        "version": exp.version,
        "sweep_key": skey,
        "config": config_dict(config),
        "quick": bool(quick),
        "keys": [s.key for s in specs],
        "complete": False,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(),
    }
    previous = store.load_sweep(exp.name, skey)
    if previous is not None:
        manifest["created_utc"] = previous.get("created_utc", manifest["created_utc"])
    store.save_sweep(exp.name, skey, manifest)

    t0 = time.perf_counter()
    todo, corrupt = [], 0
    for spec in specs:
        state = "missing" if force else store.status(exp.name, spec.key)
        if state == "corrupt":
            corrupt += 1
            print(f"[{exp.name}] run {spec.index}: stored file is corrupt, recomputing", file=sys.stderr)
        if state != "ok":
            todo.append(spec)
    by_key = {s.key: s for s in todo}
    computed: list[str] = []
    results = _local_results(todo, jobs) if mode == "joblib" else _dask_results(todo, mode, arg)
    bar = tqdm(total=len(todo), desc=exp.name, unit="run", disable=not progress or not todo, file=sys.stderr)
    try:
        for key, result, meta in results:
            spec = by_key[key]
            meta = dict(meta, sweep_key=skey, scheduler=scheduler, jobs=jobs)
            store.save_run(exp.name, key, spec.params, result, meta)
            computed.append(key)
            bar.update(1)
    finally:
        bar.close()
    manifest["complete"] = True
    manifest["completed_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
    store.save_sweep(exp.name, skey, manifest)
    return SweepReport(
        experiment=exp.name,
        sweep_key=skey,
        total=len(specs),
        cached=len(specs) - len(todo),
        computed=len(computed),
        corrupt=corrupt,
        computed_keys=tuple(computed),
        wall_time_s=time.perf_counter() - t0,
    )


def latest_sweep(store: ResultStore, experiment: str) -> dict | None:
    """The most recently completed sweep manifest of ``experiment`` (or ``None``)."""
    done = [m for m in store.iter_sweeps(experiment) if m.get("complete")]
    if not done:
        return None
    return max(done, key=lambda m: m.get("completed_utc", ""))


def load_sweep_runs(store: ResultStore, experiment: str, manifest: dict | None = None) -> tuple[dict, list[StoredRun]]:
    """Load every run of a sweep (default: the latest complete one), in sweep order.

    Raises
    ------
    LookupError
        If nothing complete is stored; the message says which command to run.
    """
    manifest = manifest if manifest is not None else latest_sweep(store, experiment)
    if manifest is None:
        raise LookupError(
            f"no complete sweep of {experiment!r} in {store.root}; run: ibl run {experiment} --quick"
        )
    runs = [store.load_run(experiment, k) for k in manifest["keys"]]
    return manifest, runs


def sweep_status(store: ResultStore, experiment: Experiment, quick: bool) -> dict:
    """How much of the default (quick or full) sweep is stored."""
    config = make_config(experiment, quick=quick)
    specs = run_specs(experiment, config)
    counts = {"ok": 0, "missing": 0, "corrupt": 0}
    for s in specs:
        counts[store.status(experiment.name, s.key)] += 1
    return {"total": len(specs), **counts}

