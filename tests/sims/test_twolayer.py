"""sims.twolayer runs: kernel vs the plain NumPy loop, ensembles vs single runs,
projection, resume, threads, and the recorded metrics."""

from __future__ import annotations

import numpy as np
import pytest

from sims import twolayer as tl
from tests.helpers.numeric import rel_err


def _data(rng, n=60, d=5):
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)  # XOR-like: needs the hidden layer
    return X, y


def _soft_targets(rng, X):
    p = 1.0 / (1.0 + np.exp(-4.0 * X[:, 0] * X[:, 1] - 0.3 * rng.standard_normal(X.shape[0])))
    p[:2] = [0.0, 1.0]
    return p


CASES = [("hard", 1.0, None), ("hard", 2.0, 0.8), ("soft", 1.0, None), ("soft", 0.5, 0.5)]


@pytest.mark.parametrize("kind,tau,radius", CASES)
@pytest.mark.parametrize("init", ["standard", "coupled"])
def test_kernel_matches_numpy_loop(kind, tau, radius, init, rng):
    X, y = _data(rng)
    targets = y if kind == "hard" else _soft_targets(rng, X)
    seed = int(rng.integers(2**31))
    steps = 300
    traj = tl.run(X, targets, 48, steps, 1.0, kind=kind, init=init, seed=seed, temperature=tau,
                  project_radius=radius, record=[0, 1, 10, 100, steps])
    W_ref, losses = tl.reference_numpy_run(X, targets, tl.init_two_layer(5, 48, seed, init), steps, 1.0,
                                           kind=kind, temperature=tau, project_radius=radius)
    # same updates, different summation orders (BLAS vs loops): rounding ~1e-16 per step,
    # not amplified over 300 steps at lr = 1 (the loss is smooth away from ReLU kinks)
    assert rel_err(traj.W, W_ref) < 1e-12
    assert rel_err(traj.W, traj.W0) > 1e-3  # the weights moved: a real comparison
    # the soft reference computes the KL as CE - entropy: rounding ~eps * CE absolute
    np.testing.assert_allclose(traj.loss, losses[traj.steps], rtol=1e-12, atol=1e-14)
    # average of the loss over t < T, the [JT]/[M25] quantity
    np.testing.assert_allclose(traj.avg_loss[1:], [losses[:t].mean() for t in traj.steps[1:]], rtol=1e-12)


def test_metrics_match_their_definitions(rng):
    X, y = _data(rng)
    traj = tl.run(X, y, 40, 150, 1.0, seed=3, record=[0, 150])
    f = tl.forward(traj.params, X)
    np.testing.assert_allclose(traj.outputs, f, rtol=1e-13, atol=1e-15)
    m = y * f
    end = traj.at(150)
    assert end["accuracy"] == np.mean(m > 0)
    assert end["min_margin"] == pytest.approx(m.min(), rel=1e-12, abs=1e-15)
    assert end["mean_margin"] == pytest.approx(m.mean(), rel=1e-12, abs=1e-15)
    D = traj.W - traj.W0
    assert end["lazy"] == pytest.approx(np.sqrt(40) * np.linalg.norm(D, axis=1).max(), rel=1e-13)
    assert end["distance"] == pytest.approx(np.linalg.norm(D), rel=1e-13)
    assert traj.at(0)["lazy"] == 0.0 and np.isnan(traj.at(0)["avg_loss"])


def test_ensemble_members_equal_single_runs_bitwise(rng):
    X, y = _data(rng)
    widths, seeds = [2, 33, 64, 130], [4, 9]
    ens = tl.run_ensemble(X, y, widths, seeds, 120, 1.0, record=[0, 60, 120])
    assert len(ens) == 8 and ens.stack("loss").shape == (2, 4, 3)
    for s in seeds:
        for w in widths:
            single = tl.run(X, y, w, 120, 1.0, seed=s, record=[0, 60, 120])
            member = ens.member(s, w)
            # a member's rows are cut into the same chunks alone and in the ensemble,
            # so the same BLAS calls and loops run on the same numbers: bitwise equal
            assert np.array_equal(member.W, single.W), (s, w)
            for name in tl.METRIC_NAMES:
                np.testing.assert_array_equal(member.metrics[name], single.metrics[name])


def test_ensemble_soft_projected_members(rng):
    X, _ = _data(rng)
    p = _soft_targets(rng, X)
    ens = tl.run_ensemble(X, p, [16, 80], [0, 1], 100, 1.0, kind="soft", temperature=2.0, project_radius=0.3,
                          init="coupled", record=[100])
    for s in (0, 1):
        for w in (16, 80):
            single = tl.run(X, p, w, 100, 1.0, kind="soft", temperature=2.0, project_radius=0.3, init="coupled",
                            seed=s, record=[100])
            assert np.array_equal(ens.member(s, w).W, single.W)


def test_projection_keeps_the_ball(rng):
    X, y = _data(rng)
    R = 0.4
    traj = tl.run(X, y, 64, 400, 1.0, seed=1, project_radius=R, record=40)
    # the projection scales onto the sphere: ||W - W0|| = R up to a few roundings
    assert np.all(traj.distance <= R * (1 + 1e-14))
    assert np.linalg.norm(traj.W - traj.W0) <= R * (1 + 1e-14)
    # it is active: unprojected GD leaves the ball, the projected run ends on its boundary
    free = tl.run(X, y, 64, 400, 1.0, seed=1, record=[400])
    assert free.distance[-1] > 2 * R
    assert traj.distance[-1] == pytest.approx(R, rel=1e-12)


def test_extend_is_bitwise_one_run(rng):
    X, y = _data(rng)
    full = tl.run(X, y, 50, 200, 1.0, seed=2, project_radius=1.0)
    part = tl.run(X, y, 50, 70, 1.0, seed=2, project_radius=1.0).extend(130, X, y)
    assert np.array_equal(full.W, part.W)
    assert part.step == 200 and part.state["cum_loss"] == full.state["cum_loss"]
    np.testing.assert_array_equal(full.loss[-1], part.loss[-1])
    np.testing.assert_array_equal(full.avg_loss[-1], part.avg_loss[-1])
    with pytest.raises(ValueError, match="fingerprint"):
        full.extend(10, X, -y)


def test_results_do_not_depend_on_thread_count(rng):
    X, y = _data(rng)
    one = tl.run_ensemble(X, y, [64, 256], [0, 1], 50, 1.0, threads=1, record=[50])
    two = tl.run_ensemble(X, y, [64, 256], [0, 1], 50, 1.0, threads=2, record=[50])
    for a, b in zip(one, two):
        assert np.array_equal(a.W, b.W)


def test_parallel_chunks_equal_serial_bitwise(rng):
    X, y = _data(rng)
    serial = tl.run(X, y, 300, 40, 1.0, seed=1, project_radius=0.5, threads=2)
    assert not serial.info["segments"][0]["parallel_chunks"]
    with tl.chunk_threads():  # force the numba-threads path
        par = tl.run(X, y, 300, 40, 1.0, seed=1, project_radius=0.5, threads=2)
    assert par.info["segments"][0]["parallel_chunks"]
    # the same BLAS calls per chunk and the same order of the f sums, on other threads
    assert np.array_equal(par.W, serial.W)


def test_round_trip_through_dict(rng):
    X, y = _data(rng)
    traj = tl.run(X, y, 20, 30, 0.5, seed=7)
    back = tl.TwoLayerTrajectory.from_dict(traj.to_dict())
    assert np.array_equal(back.W, traj.W) and back.config == traj.config
    assert np.array_equal(back.extend(10, X, y).W, traj.extend(10, X, y).W)
    assert traj.config["seed"] == 7 and traj.config["project_radius"] is None


def test_training_reduces_the_loss_and_fits(rng):
    X, y = _data(rng, n=40)
    traj = tl.run(X, y, 256, 3000, 1.0, seed=0)
    # a width-256 net fits 40 points: the logistic loss falls monotonically under GD
    # with lr = 1 <= 2/smoothness (||grad f|| <= 1), and the data become separated
    assert np.all(np.diff(traj.loss) <= 1e-15)
    assert traj.accuracy[-1] == 1.0 and traj.min_margin[-1] > 0


def test_ctrl_c_gives_a_resumable_partial_run(rng):
    import os
    import signal
    import threading

    from sims.engine import RunInterrupted

    X, y = _data(rng, n=50, d=4)
    tl.run(X, y, 16, 2, 0.5, seed=4)  # load the kernels before the timer starts
    total = 10**6  # ~10 s of steps: far more than run before the interrupt at 0.3 s
    timer = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with pytest.raises(RunInterrupted) as stop:
        tl.run(X, y, 16, total, 0.5, seed=4, progress=False)
    timer.join()
    part = stop.value.trajectory
    assert isinstance(part, tl.TwoLayerTrajectory) and part.info["interrupted"]
    assert 0 < part.step < total and part.steps[-1] <= part.step
    k = part.step
    done = part.extend(300, X, y)
    whole = tl.run(X, y, 16, k + 300, 0.5, seed=4)
    assert np.array_equal(done.W, whole.W) and done.state["cum_loss"] == whole.state["cum_loss"]


def test_sample_blocks_match_numpy_loop_and_are_bitwise_in_every_mode(rng):
    # n = 800: networks of one row chunk (here widths 48 and 130) cut their samples
    # into 2 blocks and sum the partial gradients; wider ones (600) have several chunks
    from sims.twolayer._kernels import member_blocks, member_chunks

    X, y = _data(rng, n=800)
    assert len(member_blocks(48, 800)) == 2 and len(member_blocks(130, 800)) == 2
    assert len(member_chunks(600, 800)) > 1 and len(member_blocks(600, 800)) == 1
    p = _soft_targets(rng, X)
    steps = 300
    for kind, targets, radius in (("hard", y, None), ("soft", p, 0.5)):
        traj = tl.run(X, targets, 48, steps, 1.0, kind=kind, seed=5, project_radius=radius, record=[steps])
        W_ref, losses = tl.reference_numpy_run(X, targets, tl.init_two_layer(5, 48, 5), steps, 1.0, kind=kind,
                                               project_radius=radius)
        # as in test_kernel_matches_numpy_loop: rounding ~1e-16 per step, not amplified
        assert rel_err(traj.W, W_ref) < 1e-12 and rel_err(traj.W, traj.W0) > 1e-3
        np.testing.assert_allclose(traj.loss[-1], losses[-1], rtol=1e-12, atol=1e-14)
    # one member's tasks are the same alone, in an ensemble, serial, on threads and timed
    ens = tl.run_ensemble(X, y, [48, 130, 600], [1, 2], 40, 1.0, threads=2, record=[40])
    for w in (48, 130, 600):
        lone = {}
        for mode in (False, True, None):
            if mode is None:
                lone[mode] = tl.run(X, y, w, 40, 1.0, seed=2, threads=2, record=[40])
            else:
                with tl.chunk_threads(mode):
                    lone[mode] = tl.run(X, y, w, 40, 1.0, seed=2, threads=2, record=[40])
        assert lone[True].info["segments"][0]["chunk_mode"] == "threads"
        assert lone[False].info["segments"][0]["threaded_steps"] == 0
        for tr in (lone[True], lone[None], ens.member(2, w)):
            assert np.array_equal(tr.W, lone[False].W), w
            np.testing.assert_array_equal(tr.loss, lone[False].loss)


def test_timed_mode_probes_both_modes(rng, monkeypatch):
    # a lone network above PARALLEL_CHUNKS_MIN times the serial and the threaded kernel
    # on probes and runs the faster; both compute the same bits
    from sims.twolayer import _train

    X, y = _data(rng, n=800)
    # probes of one step each, and a new probe after every step
    monkeypatch.setattr(_train._ModeChooser, "RUN_SECONDS", 0.0)
    monkeypatch.setattr(_train._ModeChooser, "PROBE_SECONDS", 0.0)
    traj = tl.run(X, y, 600, 30, 1.0, seed=3, threads=2, record=[30])
    seg = traj.info["segments"][0]
    assert seg["chunk_mode"] == "timed" and 0 < seg["threaded_steps"] < 30
    with tl.chunk_threads(False):
        serial = tl.run(X, y, 600, 30, 1.0, seed=3, threads=2, record=[30])
    assert np.array_equal(traj.W, serial.W)
    # below the threshold, or with one thread, a lone network runs serially
    assert tl.run(X, y, 8, 5, 1.0, threads=2).info["segments"][0]["chunk_mode"] == "serial"
    assert tl.run(X, y, 600, 5, 1.0, threads=1).info["segments"][0]["chunk_mode"] == "serial"
