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

Several processes may run the same sweep into one store: each run is claimed
(:meth:`ResultStore.claim`) before it is computed, a process skips the runs
another live process has claimed and collects them at the end, and the claims of
dead processes are taken over.

Each stored run records a digest of the code it depends on (:func:`code_digest`:
the package modules its experiment imports, transitively); :func:`sweep_health`
reports the runs whose code has changed since. The digest is provenance, not part
of the store key: an experiment's ``version`` still marks changes of meaning.
"""

from __future__ import annotations

import ast
import datetime as _dt
import functools
import hashlib
import logging
import os
import platform
import shlex
import socket
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import numpy as np
from tqdm.auto import tqdm

from sims.experiment import Experiment, RunSpec, config_dict, get_experiment, make_config, run_specs
from sims.store import CorruptResult, ResultStore, StoredRun, canonical_json, default_store_path, stable_hash
from theory._validation import as_int

__all__ = [
    "StoreWriteError",
    "SweepHealth",
    "SweepInterrupted",
    "SweepReport",
    "code_dependencies",
    "code_digest",
    "source_code_hash",
    "execute_run",
    "experiment_code",
    "load_sweep_runs",
    "refresh_command",
    "run_experiment",
    "sweep_health",
    "sweep_key",
]

#: Seconds to wait for a dask scheduler to answer before giving up.
DASK_CONNECT_TIMEOUT_S = 5.0
#: Idle local workers exit after this many seconds (and at once when their parent dies).
WORKER_IDLE_TIMEOUT_S = 10.0
#: Seconds between two looks at runs another process is computing.
CLAIM_POLL_S = 0.2


class SweepInterrupted(KeyboardInterrupt):
    """A sweep stopped by Ctrl-C or SIGTERM; ``str(exc)`` says what is saved and how to resume."""


class StoreWriteError(OSError):
    """A run could not be written (disk full, read-only store, ...); the message says
    which runs are saved and how to resume. ``errno`` is the cause's."""

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


# ----------------------------------------------------------------------------
# Code digests

#: The packages whose source files count as a run's code.
CODE_PACKAGES = ("theory", "sims")
_SOURCE_ROOT = Path(__file__).resolve().parent.parent


def _module_file(module: str) -> Path | None:
    base = _SOURCE_ROOT.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    f = base.parent / f"{base.name}.py"
    return f if f.is_file() else None


def _imported_names(module: str, path: Path) -> set[str]:
    """Every module name an ``import`` statement of the file may load (lazy imports included)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            # ``from pkg import name`` loads the submodule pkg.name when there is one
            out.update(f"{target}.{a.name}" for a in node.names)
    return out


@functools.lru_cache(maxsize=None)
def code_dependencies(*modules: str) -> tuple[str, ...]:
    """Source files of the package modules that ``modules`` import, transitively.

    Follows the static import graph (every ``import`` statement, also inside
    functions) restricted to :data:`CODE_PACKAGES`; importing ``a.b`` also counts
    ``a/__init__.py``. Computed once per process.

    Returns
    -------
    tuple of str
        Paths relative to the source root (``"theory/transfer.py"``), sorted.
    """
    seen: dict[str, Path] = {}
    stack = list(modules)
    while stack:
        name = stack.pop()
        parts = name.split(".")
        if not parts or parts[0] not in CODE_PACKAGES:
            continue
        for i in range(1, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if candidate in seen:
                continue
            f = _module_file(candidate)
            if f is None:
                continue
            seen[candidate] = f
            stack.extend(_imported_names(candidate, f))
    return tuple(sorted(p.relative_to(_SOURCE_ROOT).as_posix() for p in seen.values()))


@functools.lru_cache(maxsize=None)
def code_digest(*modules: str) -> dict:
    """Digest of the code behind ``modules``: ``{"digest": hex, "files": {path: sha256}}``.

    The digest is the SHA-256 of the sorted ``(path, code SHA-256)`` list of
    :func:`code_dependencies`, where a file's code SHA-256 is that of its syntax tree
    without docstrings (:func:`source_code_hash`): it changes exactly when the code of one
    of those files does, and not when only comments, docstrings or layout change (they
    cannot change a result). Computed once per process (a running sweep records the code
    it started with).
    """
    files = {}
    for rel in code_dependencies(*modules):
        files[rel] = source_code_hash((_SOURCE_ROOT / rel).read_bytes())
    return {"digest": stable_hash(files, length=64), "files": files}


def source_code_hash(source: bytes) -> str:
    """SHA-256 (hex) of a Python source's syntax tree with docstrings removed.

    Comments, blank lines, line breaks and docstrings do not enter it; every statement and
    expression does (``ast.dump`` of the module, without line numbers). A file that does
    not parse is hashed byte for byte.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return hashlib.sha256(source).hexdigest()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree, include_attributes=False).encode()).hexdigest()


def experiment_code(experiment: Experiment) -> dict:
    """:func:`code_digest` of the modules defining the experiment's config, points and run."""
    modules = sorted({getattr(f, "__module__", None) or "" for f in (experiment.config, experiment.points, experiment.run)})
    return code_digest(*modules)


def _worker_init(parent_pid: int) -> None:
    """Make a local worker exit as soon as the process that started it is gone (even SIGKILLed)."""

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(0.25)

    threading.Thread(target=watch, daemon=True, name="ibl-parent-watch").start()


# ----------------------------------------------------------------------------
# Runs


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
    collected : int
        Runs another process was computing when this sweep started, collected
        from the store when it finished them.
    """

    experiment: str
    sweep_key: str
    total: int
    cached: int
    computed: int
    corrupt: int
    computed_keys: tuple[str, ...]
    wall_time_s: float
    collected: int = 0


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


def _dask_results(specs: Iterable[RunSpec], mode: str, arg: Any, window: int) -> Iterator[tuple[str, dict, dict]]:
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError(
            "dask.distributed is needed for --scheduler local:N / tcp://...; "
            "install it with: pip install 'implicit-bias-lab[distributed]'"
        ) from exc
    cluster = None
    if mode == "dask-local":
        # workers log cancelled tasks as warnings when a sweep is stopped: keep stderr to errors
        cluster = LocalCluster(n_workers=arg, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(arg, timeout=DASK_CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(
                f"cannot reach the dask scheduler at {arg} within {DASK_CONNECT_TIMEOUT_S:g} s "
                f"({type(exc).__name__}); start one with `dask scheduler` (and `dask worker {arg} --nthreads 1`) "
                "or use --scheduler local"
            ) from None
    try:
        if window is None:
            window = max(4, 2 * len(client.scheduler_info().get("workers", {})))
        feed = iter(specs)
        pending = as_completed()
        n_pending = 0
        for spec in feed:
            pending.add(client.submit(execute_run, spec, pure=False))
            n_pending += 1
            if n_pending >= window:
                break
        for fut in pending:
            n_pending -= 1
            yield fut.result()
            spec = next(feed, None)
            if spec is not None:
                pending.add(client.submit(execute_run, spec, pure=False))
                n_pending += 1
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _local_results(specs: Iterable[RunSpec], jobs: int) -> Iterator[tuple[str, dict, dict]]:
    """Results of ``specs`` computed by ``jobs`` local processes, in completion order.

    ``specs`` is consumed lazily, at most ``2 * jobs`` runs ahead of the results, so
    a run is claimed only shortly before it is computed.
    """
    if jobs == 1:
        for spec in specs:
            yield execute_run(spec)
        return
    from joblib.externals.loky import get_reusable_executor

    executor = get_reusable_executor(
        max_workers=jobs, timeout=WORKER_IDLE_TIMEOUT_S, initializer=_worker_init, initargs=(os.getpid(),)
    )
    feed = iter(specs)
    pending: set = set()
    finished = False
    try:
        while True:
            while len(pending) < 2 * jobs:
                spec = next(feed, None)
                if spec is None:
                    break
                pending.add(executor.submit(execute_run, spec))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()
        finished = True
    finally:
        if not finished:
            # interrupted, a run failed or the store could not be written: no worker
            # may keep computing (or idle) after this sweep stops
            executor.shutdown(wait=False, kill_workers=True)


def _cli_value(value: Any) -> str:
    def freeze(v):
        return tuple(freeze(x) for x in v) if isinstance(v, (list, tuple)) else v

    return repr(freeze(value))


def refresh_command(experiment: Experiment, manifest: Mapping[str, Any], store: ResultStore | None = None,
                    force: bool = True) -> str:
    """The ``ibl run`` command that recomputes the sweep of ``manifest``.

    Settings that differ from the quick (or full) defaults become ``--set key=value``;
    ``--store`` is added when ``store`` is not the default one.
    """
    quick = bool(manifest.get("quick"))
    defaults = config_dict(make_config(experiment, quick=quick))
    stored = manifest.get("config") or {}
    parts = ["ibl", "run", experiment.name] + (["--quick"] if quick else [])
    for k in defaults:
        if k in stored and canonical_json(stored[k]) != canonical_json(defaults[k]):
            parts += ["--set", f"{k}={_cli_value(stored[k])}"]
    if store is not None and Path(store.root).resolve() != default_store_path().resolve():
        parts += ["--store", str(store.root)]
    if force:
        parts.append("--force")
    return " ".join(shlex.quote(p) for p in parts)


def _resume_hint(exp: Experiment, manifest: dict, store: ResultStore) -> str:
    return refresh_command(exp, manifest, store, force=False)


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

    Raises
    ------
    SweepInterrupted
        On Ctrl-C (or SIGTERM turned into ``KeyboardInterrupt``); every finished run is saved.
    StoreWriteError
        When a run cannot be written (disk full, read-only store); names the saved runs.
    ConnectionError
        When a dask scheduler cannot be reached within :data:`DASK_CONNECT_TIMEOUT_S`.

    Notes
    -----
    A sweep whose runs are all stored writes nothing (it works on a read-only
    store). Damaged run files are reported (with their path) and recomputed;
    a damaged sweep manifest is reported and rewritten; stray temporary files
    older than :data:`sims.store.STRAY_TMP_AGE_S` are removed.
    """
    exp = get_experiment(experiment) if isinstance(experiment, str) else experiment
    jobs = as_int(jobs, "jobs", low=1)
    mode, arg = _parse_scheduler(scheduler)
    if config is None:
        config = make_config(exp, quick=quick, overrides=overrides)
    elif overrides:
        raise ValueError("pass either config or overrides, not both")
    store = store if store is not None else ResultStore()
    specs = run_specs(exp, config)
    skey = sweep_key(exp, config)
    code = experiment_code(exp)
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
    try:
        previous = store.load_sweep(exp.name, skey)
    except CorruptResult as exc:
        print(f"[{exp.name}] {exc}; rewriting it", file=sys.stderr)
        previous = None
    if previous is not None:
        manifest["created_utc"] = previous.get("created_utc", manifest["created_utc"])
    store.clean_temp_files(exp.name)

    t0 = time.perf_counter()
    todo, corrupt = [], 0
    for spec in specs:
        state, _, problem = ("missing", None, None) if force else store.inspect(exp.name, spec.key)
        if state == "corrupt":
            corrupt += 1
            print(f"[{exp.name}] run {spec.index}: {problem}; recomputing", file=sys.stderr)
        if state != "ok":
            todo.append(spec)
    hint = _resume_hint(exp, manifest, store)

    already_recorded = (
        previous is not None and previous.get("complete") and previous.get("keys") == manifest["keys"]
        and previous.get("quick") == manifest["quick"]
    )
    if not todo:
        if not already_recorded:
            manifest["complete"] = True
            manifest["completed_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
            try:
                store.save_sweep(exp.name, skey, manifest)
            except OSError as exc:
                # every run is stored: the sweep is usable; only its manifest is not recorded
                print(f"[{exp.name}] could not record the sweep manifest ({exc.strerror or exc}); "
                      "figures will not find this sweep", file=sys.stderr)
        return SweepReport(exp.name, skey, len(specs), len(specs), 0, corrupt, (), time.perf_counter() - t0)

    try:
        store.save_sweep(exp.name, skey, manifest)
    except OSError as exc:
        raise StoreWriteError(
            exc.errno, f"cannot write to the store {store.root} ({exc.strerror or exc}: {exc.filename}); "
            f"0 of {len(todo)} missing runs of {exp.name} computed"
        ) from None

    by_key = {s.key: s for s in specs}
    computed: list[str] = []
    mine: set[str] = set()
    waiting: list[RunSpec] = []
    bar = tqdm(total=len(todo), desc=exp.name, unit="run", disable=not progress, file=sys.stderr)

    def saved_text() -> str:
        n_ok = sum(store.status(exp.name, s.key) == "ok" for s in specs)
        return f"{n_ok} of {len(specs)} runs of {exp.name} are saved in {store.root} ({len(computed)} computed now)"

    done_elsewhere: list[RunSpec] = []

    def claim_missing(spec: RunSpec) -> bool:
        # A claim alone is not enough: another process may have computed the run, saved it
        # and released its claim between our scan of the store and this claim.
        if not store.claim(exp.name, spec.key):
            return False
        if not force and store.status(exp.name, spec.key) == "ok":  # (--force recomputes stored runs)
            store.release(exp.name, spec.key)
            done_elsewhere.append(spec)
            return False
        return True

    def claimed(batch: Iterable[RunSpec]) -> Iterator[RunSpec]:
        # claim each run just before it is handed to a worker: another process running
        # the same sweep takes the runs not claimed yet
        for spec in batch:
            if spec.key in mine or claim_missing(spec):
                mine.add(spec.key)
                yield spec
            elif not done_elsewhere or done_elsewhere[-1] is not spec:
                waiting.append(spec)

    def compute(batch: Iterable[RunSpec]) -> None:
        feed = claimed(batch)
        results = _local_results(feed, jobs) if mode == "joblib" else _dask_results(feed, mode, arg, None)
        try:
            for key, result, run_meta in results:
                spec = by_key[key]
                run_meta = dict(run_meta, sweep_key=skey, scheduler=scheduler, jobs=jobs, code=code)
                try:
                    store.save_run(exp.name, key, spec.params, result, run_meta)
                except OSError as exc:
                    raise StoreWriteError(
                        exc.errno, f"cannot write run {spec.index} of {exp.name} to {store.run_path(exp.name, key)} "
                        f"({exc.strerror or exc}); {saved_text()}; after fixing it resume with: {hint}"
                    ) from None
                store.release(exp.name, key)
                mine.discard(key)
                computed.append(key)
                bar.update(1)
        finally:
            results.close()

    collected = 0
    try:
        compute(todo)
        # runs other processes were computing: collect them, or take them over if their process died
        while waiting:
            still, takeover = [], []
            for spec in waiting:
                if store.status(exp.name, spec.key) == "ok":
                    collected += 1
                    bar.update(1)
                elif not store.claim_is_live(exp.name, spec.key) and claim_missing(spec):
                    mine.add(spec.key)
                    takeover.append(spec)
                elif done_elsewhere and done_elsewhere[-1] is spec:
                    pass  # stored by the other process just now: counted below
                else:
                    still.append(spec)
            waiting = still
            if takeover:
                compute(takeover)
            elif waiting:
                time.sleep(CLAIM_POLL_S)
    except KeyboardInterrupt:
        raise SweepInterrupted(f"interrupted: {saved_text()}; resume with: {hint}") from None
    finally:
        collected += len(done_elsewhere)
        bar.update(len(done_elsewhere))
        bar.close()
        for key in list(mine):
            store.release(exp.name, key)

    manifest["complete"] = True
    manifest["completed_utc"] = _dt.datetime.now(_dt.timezone.utc).isoformat()
    try:
        store.save_sweep(exp.name, skey, manifest)
    except OSError as exc:
        raise StoreWriteError(
            exc.errno, f"every run of {exp.name} is saved, but the sweep manifest could not be written "
            f"({exc.strerror or exc}: {exc.filename}); rerun: {hint}"
        ) from None
    return SweepReport(
        experiment=exp.name,
        sweep_key=skey,
        total=len(specs),
        cached=len(specs) - len(todo),
        computed=len(computed),
        corrupt=corrupt,
        computed_keys=tuple(computed),
        wall_time_s=time.perf_counter() - t0,
        collected=collected,
    )


def latest_sweep(store: ResultStore, experiment: str, problems: list | None = None) -> dict | None:
    """The most recently completed sweep manifest of ``experiment`` (or ``None``).

    Damaged manifests are skipped; their messages go to ``problems`` if given.
    """
    done = [m for m in store.iter_sweeps(experiment, problems) if m.get("complete")]
    if not done:
        return None
    return max(done, key=lambda m: str(m.get("completed_utc", "")))


def load_sweep_runs(store: ResultStore, experiment: str, manifest: dict | None = None) -> tuple[dict, list[StoredRun]]:
    """Load every run of a sweep (default: the latest complete one), in sweep order.

    Raises
    ------
    LookupError
        If nothing complete is stored; the message says which command to run.
    CorruptResult
        If a run of the sweep is damaged (the message names the file).
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


@dataclass(frozen=True)
class SweepHealth:
    """What is wrong with one stored sweep (see :func:`sweep_health`).

    Attributes
    ----------
    manifest : dict
    command : str
        The ``ibl run ... --force`` command that recomputes the sweep.
    stale : tuple of str
        Keys of runs computed by code that has changed since.
    changed_files : tuple of str
        Source files (relative paths) whose content differs from what the stale runs used.
    undigested : tuple of str
        Keys of runs stored without a code digest (computed before digests were recorded).
    damaged : tuple of str
        Messages (each naming a file) of runs that cannot be read.
    missing : tuple of str
        Keys of runs with no file.
    """

    manifest: dict
    command: str
    stale: tuple[str, ...] = ()
    changed_files: tuple[str, ...] = ()
    undigested: tuple[str, ...] = ()
    damaged: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def usable(self) -> bool:
        """Every run is readable (possibly stale)."""
        return not self.damaged and not self.missing


def sweep_health(store: ResultStore, experiment: Experiment, manifest: dict) -> SweepHealth:
    """Check every run of a stored sweep: readable, and computed by today's code?

    A run is stale when the code digest it recorded differs from
    :func:`experiment_code` of the experiment now.
    """
    current = experiment_code(experiment)
    stale, undigested, damaged, missing, changed = [], [], [], [], set()
    for key in manifest["keys"]:
        state, run, problem = store.inspect(experiment.name, key)
        if state == "missing":
            missing.append(key)
            continue
        if state == "corrupt":
            damaged.append(problem)
            continue
        code = run.meta.get("code")
        if not isinstance(code, dict) or not isinstance(code.get("digest"), str):
            undigested.append(key)
            continue
        if code["digest"] != current["digest"]:
            stale.append(key)
            old = code.get("files") if isinstance(code.get("files"), dict) else {}
            for f in set(old) | set(current["files"]):
                if old.get(f) != current["files"].get(f):
                    changed.add(f)
    return SweepHealth(
        manifest=manifest,
        command=refresh_command(experiment, manifest, store),
        stale=tuple(stale),
        changed_files=tuple(sorted(changed)),
        undigested=tuple(undigested),
        damaged=tuple(damaged),
        missing=tuple(missing),
    )
