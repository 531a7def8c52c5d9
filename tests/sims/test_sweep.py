"""Sweeps: resuming after SIGKILL, corrupt files, identical results across backends."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from sims.experiment import get_experiment, make_config, run_specs
from sims.store import ResultStore
from sims.sweep import execute_run, load_sweep_runs, run_experiment


def _payloads(store, name="selftest"):
    manifest, runs = load_sweep_runs(store, name)
    return {r.key: r.result for r in runs}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert a[k]["mean"] == b[k]["mean"]
        assert a[k]["sample"].tobytes() == b[k]["sample"].tobytes()


def test_seeds_follow_seed_sequence(tmp_path):
    exp = get_experiment("selftest")
    spec = run_specs(exp, make_config(exp, overrides={"runs": 3}))[2]
    key, result, meta = execute_run(spec)
    expected = np.random.default_rng(np.random.SeedSequence(0, spawn_key=(2,))).standard_normal(1000)
    assert result["sample"].tobytes() == expected[:8].tobytes()
    assert meta["seed"] == 0 and meta["index"] == 2
    assert meta["packages"]["numpy"] == np.__version__
    # one BLAS thread per run
    assert all(p["num_threads"] == 1 for p in meta["threads"]["threadpools"])


def test_rerun_computes_nothing_and_jobs_do_not_change_results(tmp_path):
    s1, s2 = ResultStore(tmp_path / "a"), ResultStore(tmp_path / "b")
    r1 = run_experiment("selftest", overrides={"runs": 6}, store=s1, jobs=1, progress=False)
    assert (r1.computed, r1.cached) == (6, 0)
    r1b = run_experiment("selftest", overrides={"runs": 6}, store=s1, jobs=1, progress=False)
    assert (r1b.computed, r1b.cached) == (0, 6)
    run_experiment("selftest", overrides={"runs": 6}, store=s2, jobs=2, progress=False)
    _same(_payloads(s1), _payloads(s2))


def test_corrupt_file_is_recomputed_not_used(tmp_path):
    store = ResultStore(tmp_path)
    run_experiment("selftest", overrides={"runs": 3}, store=store, progress=False)
    before = _payloads(store)
    exp = get_experiment("selftest")
    victim = run_specs(exp, make_config(exp, overrides={"runs": 3}))[1].key
    path = store.run_path("selftest", victim)
    path.write_text(path.read_text()[:-30])
    report = run_experiment("selftest", overrides={"runs": 3}, store=store, progress=False)
    assert report.corrupt == 1 and report.computed_keys == (victim,)
    _same(before, _payloads(store))


def test_sigkill_midway_then_resume(tmp_path):
    root = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        from sims.store import ResultStore
        from sims.sweep import run_experiment
        run_experiment("selftest", overrides={{"runs": 12, "sleep_s": 0.25}},
                       store=ResultStore({str(root)!r}), jobs=1, progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    runs_dir = root / "selftest" / "runs"
    deadline = time.time() + 120
    while time.time() < deadline:
        if runs_dir.is_dir() and len(list(runs_dir.glob("*.json"))) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    store = ResultStore(root)
    done = {p.stem: (p.stat().st_mtime_ns, p.read_bytes()) for p in runs_dir.glob("*.json")}
    assert 3 <= len(done) < 12, "the sweep was not killed mid-way"
    assert all(store.status("selftest", k) == "ok" for k in done)  # no partial file survives a kill

    report = run_experiment("selftest", overrides={"runs": 12, "sleep_s": 0.25}, store=store, progress=False)
    # nothing finished is recomputed, nothing missing is skipped
    assert report.cached == len(done) and report.computed == 12 - len(done)
    assert not set(report.computed_keys) & set(done)
    for k, (mtime, data) in done.items():
        p = runs_dir / f"{k}.json"
        assert p.stat().st_mtime_ns == mtime and p.read_bytes() == data
    fresh = ResultStore(tmp_path / "fresh")
    run_experiment("selftest", overrides={"runs": 12}, store=fresh, progress=False)
    a, b = _payloads(store), _payloads(fresh)
    # sleep_s is a parameter, so keys differ; compare the numbers run by run
    assert [a[k]["mean"] for k in a] == [b[k]["mean"] for k in b]


def test_dask_local_cluster_stores_the_same_results(tmp_path):
    pytest.importorskip("dask.distributed")
    s_local, s_dask = ResultStore(tmp_path / "l"), ResultStore(tmp_path / "d")
    run_experiment("selftest", overrides={"runs": 5}, store=s_local, progress=False)
    rep = run_experiment("selftest", overrides={"runs": 5}, store=s_dask, scheduler="local:2", progress=False)
    assert rep.computed == 5
    _same(_payloads(s_local), _payloads(s_dask))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"scheduler": "cluster"}, "scheduler"),
        ({"scheduler": "local:0"}, "local:N"),
        ({"jobs": 0}, "jobs"),
        ({"overrides": {"nope": "1"}}, "no setting 'nope'"),
        ({"overrides": {"runs": "many"}}, "expected an integer"),
    ],
)
def test_bad_sweep_arguments(tmp_path, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        run_experiment("selftest", store=ResultStore(tmp_path), progress=False, **kwargs)


def test_unknown_experiment_lists_names():
    with pytest.raises(ValueError, match="registered experiments: .*selftest"):
        get_experiment("no-such-thing")


def test_missing_results_say_what_to_run(tmp_path):
    with pytest.raises(LookupError, match="ibl run selftest"):
        load_sweep_runs(ResultStore(tmp_path), "selftest")
