"""Tests of sims.engine: checkpoints, the threads contract, interrupts, progress, the trajectory container.

The engine-level behaviour is exercised through the linear-softmax engine (the
only engine so far); bitwise comparisons against uninterrupted runs are the
reference for resuming.
"""

from __future__ import annotations

import signal

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from sims import engine, gd
from sims.linear_softmax import _problem, _run
from theory.ntp import NTPData


def _data(m, d, V, S, seed):
    rng = np.random.default_rng(seed)
    P = np.zeros((m, V))
    for j in range(m):
        P[j, rng.choice(V, S, replace=False)] = rng.dirichlet(np.ones(S))
    return NTPData(rng.standard_normal((m, d)), P, rng.dirichlet(np.ones(m)))


# ----------------------------------------------------------------------------
# checkpoints


def test_log_checkpoints_values_and_resumed_segment():
    pts = engine.log_checkpoints(1000, 4)
    # geomspace(1, 1000, 4) = 1, 10, 100, 1000, plus 0
    assert pts.tolist() == [0, 1, 10, 100, 1000]
    assert engine.log_checkpoints(1000, 4, start=10).tolist() == [100, 1000]
    assert engine.log_checkpoints(0).tolist() == [0]
    assert engine.log_checkpoints(1e6, 3).tolist() == [0, 1, 1000, 1_000_000]  # integral float accepted
    pts = engine.log_checkpoints(10**12)
    assert pts[0] == 0 and pts[-1] == 10**12 and 150 <= pts.size <= 201 and np.all(np.diff(pts) > 0)


@pytest.mark.parametrize("args, exc, match", [
    ((-5,), ValueError, "total"),
    ((10, 0), ValueError, "n"),
    ((10, 5, 11), ValueError, "start"),
    ((10, 5, -1), ValueError, "start"),
    (("10",), TypeError, "total"),
    ((10.5,), ValueError, "total"),
    ((10, True), TypeError, "n"),
])
def test_log_checkpoints_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        engine.log_checkpoints(*args)


def test_record_steps():
    assert engine.record_steps(np.array([3, 1]), 0, 10).tolist() == [1, 3, 10]
    assert engine.record_steps(4, 100, 1000)[0] > 100
    with pytest.raises(ValueError, match="record steps"):
        engine.record_steps(np.array([5]), 10, 20)  # before the segment
    with pytest.raises(TypeError, match="record"):
        engine.record_steps(2.5, 0, 10)
    with pytest.raises(ValueError, match="record"):
        engine.record_steps(0, 0, 10)


# ----------------------------------------------------------------------------
# threads: the engine never raises the thread counts its caller set


def _spy_kernels(monkeypatch):
    """Record (numba threads, BLAS threads) at every kernel call of gd.run."""
    seen = []

    def wrap(kernel):
        def spy(*args):
            seen.append((numba.get_num_threads(), engine.blas_threads(), kernel))
            return kernel(*args)
        return spy

    choose = _run.serial_kernel
    monkeypatch.setattr(_run, "serial_kernel", lambda prob, steps: wrap(choose(prob, steps)))
    monkeypatch.setattr(_run, "drive_parallel", wrap(_run.drive_parallel))
    return seen


def test_run_respects_the_callers_thread_limits(monkeypatch):
    """A sweep worker sets numba and BLAS to 1 thread: gd.run(threads=None) must run 1 thread.

    (The baseline raised numba to all cores here, so --jobs 2 ran 4 threads on 2 cores.)
    """
    monkeypatch.setattr(_problem, "CHUNK_MIN", 0)  # chunked kernels at a small size
    data = _data(260, 20, 260, 3, seed=1)
    seen = _spy_kernels(monkeypatch)
    raised = []
    set_threads = numba.set_num_threads
    monkeypatch.setattr(numba, "set_num_threads", lambda n: raised.append(n) or set_threads(n))
    old = numba.get_num_threads()
    try:
        set_threads(1)
        with threadpool_limits(limits=1, user_api="blas"):
            tr = gd.run(data, 20, 0.5, references=False, progress=False)
            after = numba.get_num_threads(), engine.blas_threads()
    finally:
        set_threads(old)
    assert tr.config["chunks"] == [2, 2]
    assert seen and all(n == 1 and b == 1 for n, b, _ in seen), seen
    assert all(n <= 1 for n in raised), raised  # never set above the caller's 1
    assert after == (1, 1)
    seg = tr.info["segments"][0]
    assert seg["numba_threads"] == 1 and seg["blas_threads"] == 1 and not seg["parallel_chunks"]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 numba threads")
def test_run_uses_the_callers_threads_and_records_them(monkeypatch):
    monkeypatch.setattr(_problem, "CHUNK_MIN", 0)
    data = _data(260, 20, 260, 3, seed=1)
    seen = _spy_kernels(monkeypatch)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(2)
        tr2 = gd.run(data, 20, 0.5, references=False, progress=False)
        tr1 = gd.run(data, 20, 0.5, references=False, progress=False, threads=1)
        assert numba.get_num_threads() == 2  # restored
    finally:
        numba.set_num_threads(old)
    assert tr2.info["segments"][0]["numba_threads"] == 2 and tr2.info["segments"][0]["parallel_chunks"]
    assert tr2.info["segments"][0]["blas_threads"] == 1  # one parallel layer
    assert any(n == 2 for n, _, _ in seen) and all(b == 1 for _, b, _ in seen)
    assert np.array_equal(tr1.W, tr2.W)  # results do not depend on the thread count


def test_resolve_threads_bad_input():
    with pytest.raises(ValueError, match="threads"):
        engine.resolve_threads(0)
    with pytest.raises(TypeError, match="threads"):
        engine.resolve_threads(1.5)
    with pytest.raises(ValueError, match="threads"):
        gd.run(_data(4, 3, 5, 2, 0), 5, 0.1, threads=-1)


# ----------------------------------------------------------------------------
# Ctrl-C keeps the state; progress bar


@pytest.mark.parametrize("shape, method", [((5, 4, 6), "gd"), ((40, 30, 50), "adam"), ((30, 60, 40), "ngd")],
                         ids=["tiny", "blas-adam", "dual-ngd"])
def test_interrupt_returns_a_resumable_partial_trajectory(monkeypatch, shape, method):
    """SIGINT during the 3rd kernel segment: RunInterrupted carries the state after
    that segment; extending it gives bitwise the uninterrupted run."""
    data = _data(*shape, 2, seed=3)
    total = 5000
    full = gd.run(data, total, 0.05, method, references=False, progress=False)
    calls = []
    choose = _run.serial_kernel

    def interrupting(prob, steps):
        kernel = choose(prob, steps)

        def k(*args):
            calls.append(args[1])
            if len(calls) == 3:
                signal.raise_signal(signal.SIGINT)  # as Ctrl-C: the handler only sets a flag
            return kernel(*args)
        return k

    monkeypatch.setattr(_run, "serial_kernel", interrupting)
    with pytest.raises(engine.RunInterrupted) as info:
        gd.run(data, total, 0.05, method, references=False, progress=False)
    part = info.value.trajectory
    assert isinstance(info.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    assert part.interrupted and part.step == sum(calls) < total  # stopped after the 3rd segment
    assert part.steps[-1] <= part.step and np.array_equal(part.steps, full.steps[full.steps <= part.step])
    for name in gd.METRIC_NAMES:
        assert np.array_equal(part.metrics[name], full.metrics[name][: part.steps.size], equal_nan=True), name
    monkeypatch.setattr(_run, "serial_kernel", choose)
    rest = part.extend(total - part.step, progress=False)
    assert rest.step == total and not rest.interrupted
    assert np.array_equal(rest.W, full.W)  # bitwise: segments and resume do not change the iterates
    assert np.array_equal(rest.metrics["gap"][-1], full.metrics["gap"][-1])


def test_progress_bar(capsys):
    data = _data(5, 4, 6, 2, seed=4)
    gd.run(data, 20_000, 0.1, references=False, progress=True)
    err = capsys.readouterr().err
    assert "step" in err and "20" in err  # tqdm bar with the step count
    gd.run(data, 20_000, 0.1, references=False, progress=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress"):
        gd.run(data, 10, 0.1, references=False, progress="yes")


def test_run_segments_outside_the_main_thread_is_one_call():
    import threading

    calls = []
    box = {}
    t = threading.Thread(target=lambda: box.setdefault(
        "out", engine.run_segments(lambda k, n: calls.append((k, n)), 5, 1000, progress=None)))
    t.start()
    t.join()
    assert calls == [(5, 995)] and box["out"] == (1000, False)


# ----------------------------------------------------------------------------
# the trajectory container


def test_trajectory_storage_round_trip_and_payload_layout():
    data = _data(6, 9, 5, 2, seed=5)
    tr = gd.run(data, 200, 0.5, references=False, record_W=True, progress=False)
    d = tr.to_dict()
    # the stored layout of the baseline (sims.gd.Trajectory/1), key for key
    assert list(d) == ["format", "steps", "metrics", "W", "W_records", "state", "config", "W_star", "W_mm",
                       "w_tilde", "entropy", "info"]
    assert d["format"] == "sims.gd.Trajectory/1"
    back = gd.Trajectory.from_dict(d)
    assert np.array_equal(back.W, tr.W) and np.array_equal(back.W_records, tr.W_records)
    assert back.config == tr.config and back.step == 200
    for name in gd.METRIC_NAMES:
        assert np.array_equal(back.metrics[name], tr.metrics[name], equal_nan=True)
    ext = back.extend(100, data, progress=False)
    assert np.array_equal(ext.W, gd.run(data, 300, 0.5, references=False, record_W=True, progress=False).W)
    with pytest.raises(ValueError, match="format"):
        gd.Trajectory.from_dict({"format": "other"})
    with pytest.raises(ValueError, match="data is required"):
        back.extend(10)
    with pytest.raises(TypeError, match="unknown Trajectory fields"):
        engine.Trajectory(steps=[0], metrics={}, state={"step": 0}, config={}, info={}, W=np.zeros(2))
