"""Several processes on one store: claimed runs are computed once; dead claims are taken over;
killing a sweep leaves no worker process behind."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from sims.experiment import get_experiment, make_config, run_specs
from sims.store import ResultStore
from sims.sweep import load_sweep_runs, run_experiment

ROOT = Path(__file__).resolve().parents[2]


def _keys(runs, **extra):
    exp = get_experiment("selftest")
    return [s.key for s in run_specs(exp, make_config(exp, overrides={"runs": runs, **extra}))]


def _claim_text(pid, host=None, t=None, start=None):
    return json.dumps({"pid": pid, "host": host or socket.gethostname(), "time": time.time() if t is None else t,
                       "start": start})


def _dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()  # reaped: the pid names no process now
    return p.pid


def test_two_processes_compute_each_run_once(tmp_path):
    root, go = tmp_path / "store", tmp_path / "go"
    runs = 16
    script = textwrap.dedent(
        f"""
        import json, os, time
        from sims.store import ResultStore
        from sims.sweep import run_experiment
        print("ready", flush=True)
        while not os.path.exists({str(go)!r}):
            time.sleep(0.01)
        rep = run_experiment("selftest", overrides={{"runs": {runs}, "sleep_s": 0.25}},
                             store=ResultStore({str(root)!r}), jobs=1, progress=False)
        print(json.dumps({{"computed": list(rep.computed_keys), "cached": rep.cached,
                          "collected": rep.collected, "total": rep.total}}), flush=True)
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    go.touch()  # both start together
    reports = []
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0
        reports.append(json.loads(out.strip().splitlines()[-1]))
    computed = [k for r in reports for k in r["computed"]]
    # every run computed exactly once over both processes, and each process accounts for all runs
    assert sorted(computed) == sorted(_keys(runs, sleep_s=0.25))
    for r in reports:
        assert r["total"] == runs and r["cached"] + len(r["computed"]) + r["collected"] == runs
    store = ResultStore(root)
    assert all(store.status("selftest", k) == "ok" for k in computed)
    assert not list((root / "selftest" / "runs").glob("*.claim"))  # claims released


def test_claim_of_a_dead_process_is_taken_over(tmp_path):
    store = ResultStore(tmp_path)
    keys = _keys(3)
    path = store.claim_path("selftest", keys[1])
    path.parent.mkdir(parents=True)
    path.write_text(_claim_text(_dead_pid()))
    rep = run_experiment("selftest", overrides={"runs": 3}, store=store, progress=False)
    assert sorted(rep.computed_keys) == sorted(keys) and rep.collected == 0
    assert not path.exists()


def test_claim_of_a_live_process_is_waited_for_then_taken_over_when_it_dies(tmp_path):
    store = ResultStore(tmp_path)
    keys = _keys(3)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        path = store.claim_path("selftest", keys[1])
        path.parent.mkdir(parents=True)
        start = Path(f"/proc/{holder.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        path.write_text(_claim_text(holder.pid, start=start))
        out = {}
        t = threading.Thread(target=lambda: out.update(rep=run_experiment(
            "selftest", overrides={"runs": 3}, store=store, progress=False)))
        t.start()
        deadline = time.time() + 60
        while time.time() < deadline and not all(store.status("selftest", k) == "ok" for k in (keys[0], keys[2])):
            time.sleep(0.05)
        time.sleep(0.5)  # several polls of the claim
        assert t.is_alive() and store.status("selftest", keys[1]) == "missing"  # not computed behind its back
    finally:
        holder.kill()
        holder.wait()
    t.join(60)
    assert not t.is_alive()
    assert sorted(out["rep"].computed_keys) == sorted(keys)


def test_claims_of_other_hosts_expire_and_pid_reuse_is_seen(tmp_path):
    store = ResultStore(tmp_path)
    path = store.claim_path("e", "k")
    path.parent.mkdir(parents=True)
    path.write_text(_claim_text(1, host="elsewhere.invalid", t=time.time() - 100))
    assert not store.claim("e", "k", timeout_s=1000)  # fresh enough: someone is computing it
    assert store.claim("e", "k", timeout_s=10)  # older than the timeout: taken over
    assert store.claim_holder("e", "k").pid == os.getpid()
    assert store.claim("e", "k") is False  # even by ourselves: a claim is held once
    store.release("e", "k")
    assert not path.exists()
    # our own pid with another start time: the pid was reused, the claim is dead
    path.write_text(_claim_text(os.getpid(), start="1"))
    assert store.claim("e", "k")
    # an unreadable claim file is a crash leftover once it is a few seconds old
    store.release("e", "k")
    path.write_text("")
    assert not store.claim("e", "k")
    old = time.time() - 60
    os.utime(path, (old, old))
    assert store.claim("e", "k")


def _children(pid):
    """Pids whose parent is ``pid`` (a /proc scan)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(d.name))
    return out


def _running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left


def _descendants(pid):
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


_DASK = pytest.mark.slow  # a LocalCluster takes long to start on a loaded machine


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize(
    "sig, backend",
    [
        (signal.SIGTERM, ["--jobs", "2"]),
        (signal.SIGINT, ["--jobs", "2"]),
        (signal.SIGKILL, ["--jobs", "2"]),
        pytest.param(signal.SIGTERM, ["--scheduler", "local:2"], marks=_DASK),
        pytest.param(signal.SIGKILL, ["--scheduler", "local:2"], marks=_DASK),
    ],
    ids=["TERM-loky", "INT-loky", "KILL-loky", "TERM-dask", "KILL-dask"],
)
def test_killing_a_sweep_leaves_no_worker(tmp_path, sig, backend):
    if "local:2" in backend:
        pytest.importorskip("dask.distributed")
    root = tmp_path / "store"
    cmd = [sys.executable, "-m", "sims.cli", "--store", str(root), "run", "selftest", "--set", "runs=200",
           "--set", "sleep_s=0.2", *backend, "--no-progress"]
    # stderr to a file, not a pipe: a surviving worker would hold a pipe open and make
    # waiting for the parent's output wait for the worker too
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err_file:
        # A shell's background job starts with SIGINT ignored, and Python then keeps it
        # ignored; give the child the default disposition, as an interactive run has.
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err_file,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    runs_dir = root / "selftest" / "runs"
    deadline = time.time() + 120
    workers = []
    while time.time() < deadline:
        workers = _descendants(proc.pid)
        if len(workers) >= 2 and runs_dir.is_dir() and list(runs_dir.glob("*.json")):
            break
        time.sleep(0.05)
    assert len(workers) >= 2 and proc.poll() is None, "the sweep did not start its workers"
    workers = sorted(set(workers) | set(_descendants(proc.pid)))
    proc.send_signal(sig)
    proc.wait(timeout=60)
    err = err_path.read_text()
    # idle workers would live WORKER_IDLE_TIMEOUT_S = 10 s; the parent-watch polls every 0.25 s
    # and the stop path kills them at once: 5 s separates the two even on a loaded machine
    deadline = time.time() + 5
    while time.time() < deadline and any(_running(w) for w in workers):
        time.sleep(0.05)
    assert [w for w in workers if _running(w)] == []
    saved = len(list(runs_dir.glob("*.json")))
    assert 1 <= saved < 200
    if sig == signal.SIGKILL:
        assert proc.returncode == -signal.SIGKILL
    else:
        assert proc.returncode == (143 if sig == signal.SIGTERM else 130)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert f"{saved} of 200 runs of selftest are saved" in lines[0]
        assert "resume with: ibl run selftest --set runs=200 --set sleep_s=0.2" in lines[0]
        assert not list(runs_dir.glob("*.claim"))  # an orderly stop releases its claims
    # whatever the signal, the rest of the sweep resumes from there
    rep = run_experiment("selftest", overrides={"runs": 200, "sleep_s": 0.0}, store=ResultStore(root),
                         progress=False)
    assert rep.total == 200  # (other parameters, other keys: only checks the store is usable)
    _, runs = load_sweep_runs(ResultStore(root), "selftest")
    assert len(runs) == 200
