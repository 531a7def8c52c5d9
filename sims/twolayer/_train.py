r"""Full-batch (projected) gradient descent for the two-layer ReLU model, one network
or a whole seeds-by-widths ensemble in one call.

Update (``lr`` = :math:`\eta`, ``project_radius`` = R, None for plain GD):

.. math::

    W_{t+1} = \Pi_R\bigl(W_t - \eta\,\nabla_W L(W_t)\bigr),\qquad
    \Pi_R(V) = W_0 + (V - W_0)\min\bigl(1,\ R/\|V - W_0\|_F\bigr),

with :math:`L(W) = \frac1n\sum_i \ell(y_i f(x_i; W)/\tau)` (hard, logistic
:math:`\ell(r) = \ln(1+e^{-r})`) or
:math:`L(W) = \frac1n\sum_i \mathrm{KL}(\mathrm{Ber}(p_i)\,\|\,\mathrm{Ber}(\sigma(f(x_i;W)/\tau)))`
(soft), and :math:`\nabla_{w_s} L = \frac{a_s}{\sqrt m}\sum_i \frac{\partial L}{\partial f_i}
1[\langle w_s, x_i\rangle > 0]\,x_i` (paper, Sec. 'Soft- versus hard-label training of two-layer ReLU networks').

Cost per step: two GEMMs, W X^T and (mask * r a^T)^T X, i.e. 4 n d m flops, plus
O(n m) element-wise work (see :mod:`sims.twolayer._kernels`). An ensemble's members
run side by side on a thread pool, each with its own arrays.
"""

from __future__ import annotations

import contextlib

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from sims.engine import RunInterrupted, ThreadScope, record_steps, resolve_threads, run_segments
from sims.twolayer import _kernels as _k
from sims.twolayer._model import (
    INITS,
    KINDS,
    TwoLayerParams,
    check_inputs,
    check_labels,
    check_params,
    check_seed,
    check_targets,
    init_two_layer,
)
from sims.twolayer._trajectory import TwoLayerTrajectory
from theory._validation import as_bool, as_choice, as_int, as_real, check_memory

__all__ = ["METRIC_NAMES", "TwoLayerEnsemble", "loss_and_grad", "run", "run_ensemble"]

METRIC_NAMES = _k.METRIC_NAMES


# ----------------------------------------------------------------------------
# targets


class _Targets:
    """Kernel arrays for the targets: tgt (label or teacher logit), tp = p, tq = 1 - p."""

    def __init__(self, kind, tgt, tp, tq, labels):
        self.kind = kind
        self.code = _k.KIND_HARD if kind == "hard" else _k.KIND_SOFT
        self.tgt, self.tp, self.tq, self.labels = tgt, tp, tq, labels


def _prepare_targets(targets, n, kind, labels):
    from sims.twolayer._teachers import Teacher  # noqa: PLC0415

    kind = as_choice(kind, "kind", KINDS)
    if isinstance(targets, Teacher):
        if kind != "soft":
            raise ValueError("a Teacher gives soft targets; pass kind='soft' (or its labels for kind='hard')")
        if targets.logits.shape != (n,):
            raise ValueError(f"the teacher's logits must have shape ({n},) to match X, got {targets.logits.shape}")
        t = targets.logits / targets.temperature
        tp = _k_sigmoid(t)
        tq = _k_sigmoid(-t)
        default_labels = np.where(targets.logits >= 0, 1.0, -1.0)
    else:
        y = check_targets(targets, n, kind)
        if kind == "hard":
            zeros = np.zeros(n)
            lab = y if labels is None else check_labels(labels, n)
            return _Targets(kind, y, zeros, zeros, lab)
        tp = y
        tq = 1.0 - y
        with np.errstate(divide="ignore"):
            t = np.log(tp) - np.log1p(-tp)
        default_labels = np.where(tp >= 0.5, 1.0, -1.0)
    lab = default_labels if labels is None else check_labels(labels, n)
    return _Targets(kind, np.ascontiguousarray(t), np.ascontiguousarray(tp), np.ascontiguousarray(tq), lab)


def _k_sigmoid(x):
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    e = np.exp(x[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def _fingerprint(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a, dtype="<f8")
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:24]


# ----------------------------------------------------------------------------
# layout of a stacked ensemble


class _Layout:
    """Stacked rows of the members, their row chunks, sample blocks and the tasks
    (chunk x block) of the kernels (see :mod:`sims.twolayer._kernels`)."""

    def __init__(self, widths, n):
        clo, chi, cm, cb, mlo, mhi, mcl, mch = [], [], [], [], [], [], [], []
        tlo, thi, ti0, ti1, tc, ts = [], [], [], [], [], []
        off = 0
        for k, m in enumerate(widths):
            mlo.append(off)
            mcl.append(len(clo))
            blocks = _k.member_blocks(m, n)
            for lo, hi in _k.member_chunks(m, n):
                for b, (i0, i1) in enumerate(blocks):
                    tlo.append(off + lo)
                    thi.append(off + hi)
                    ti0.append(i0)
                    ti1.append(i1)
                    tc.append(len(clo))
                    ts.append(b)
                clo.append(off + lo)
                chi.append(off + hi)
                cm.append(k)
                cb.append(len(blocks))
            mch.append(len(clo))
            off += m
            mhi.append(off)
        i64 = np.int64
        self.total = off
        self.n_members = len(widths)
        self.chunks = (np.array(clo, i64), np.array(chi, i64), np.array(cm, i64), np.array(cb, i64))
        # the transposed input blocks, one copy per distinct sample range
        self.block_ranges = sorted(set(zip(ti0, ti1)))
        starts = np.cumsum([0] + [i1 - i0 for i0, i1 in self.block_ranges])
        xoff = {br: int(st) for br, st in zip(self.block_ranges, starts)}
        self.tasks = (np.array(tlo, i64), np.array(thi, i64), np.array(ti0, i64), np.array(ti1, i64),
                      np.array(tc, i64), np.array(ts, i64), np.array([xoff[br] for br in zip(ti0, ti1)], i64))
        self.task_size = int(max((h - lo) * (i1 - i0) for lo, h, i0, i1 in zip(tlo, thi, ti0, ti1)))
        self.n_slots = int(max(cb))
        width = np.array(widths, dtype=np.float64)
        self.members = (np.array(mlo, i64), np.array(mhi, i64), np.array(mcl, i64), np.array(mch, i64),
                        width, 1.0 / np.sqrt(width))

    @property
    def n_chunks(self):
        return int(self.chunks[0].size)

    def input_blocks(self, X):
        """The flat array XTB of the kernels: X[i0:i1]^T (d, i1 - i0) of every block range,
        row-major, one after the other (``tasks[6]`` holds each task's offset / d)."""
        d = X.shape[1]
        XTB = np.concatenate([np.ascontiguousarray(X[i0:i1].T).ravel() for i0, i1 in self.block_ranges])
        off = self.tasks[6]
        return XTB, (self.tasks[:6] + (off * d,))


def _scratch(layout, n, d, n_buf=1):
    """Kernel scratch: mask (M, n) bytes, per-worker task buffers, G (n_slots, M, d),
    fpart, r, loss, sqdist."""
    M = layout.total
    # mask bytes, W, W0 and the n_slots partial gradients per row, the task buffers, fpart
    check_memory(M * (n + 8.0 * (2 + layout.n_slots) * d)
                 + 8.0 * (n_buf * layout.task_size + layout.n_chunks * n),
                 f"two-layer run (total width {M}, n={n})", hint="run fewer members per call")
    return (np.empty((M, n), dtype=np.uint8), np.empty((n_buf, layout.task_size)),
            np.empty((layout.n_slots, M, d)), np.empty((layout.n_chunks, n)), np.empty((layout.n_members, n)),
            np.empty(layout.n_members), np.empty(layout.n_chunks))


def outputs(params: TwoLayerParams, X) -> np.ndarray:
    """f(x_i; W) for checked params and X (the kernel's forward pass)."""
    n, d = X.shape
    lay = _Layout([params.width], n)
    mask, buf, _, fpart, r, loss, _ = _scratch(lay, n, d)
    XTB, tasks = lay.input_blocks(X)
    f = np.empty((1, n))
    _, _, mcl, mch, _, inv = lay.members
    zeros = np.zeros(n)
    with ThreadScope(1):  # the serial kernels: BLAS at one thread, as in runs
        _k.forward_tasks_serial(params.W, XTB, params.a, tasks, mask, buf, fpart)
        _k.outputs_and_residuals(fpart, mcl, mch, inv, _k.KIND_HARD, np.ones(n), zeros, zeros, 1.0, f, r, loss)
    return f[0].copy()


def loss_and_grad(params, X, targets, kind="hard", temperature=1.0, *, normalize=False):
    r"""Training loss L(W) and its gradient, by the simulator's kernels.

    Parameters
    ----------
    params : TwoLayerParams
        W (m, d) and a (m,).
    X : array_like, shape (n, d)
        Inputs, ||x_i|| <= 1 (or ``normalize=True``).
    targets : array_like, shape (n,), or Teacher
        Labels in {-1, +1} (``kind="hard"``) or teacher probabilities in [0, 1] /
        a :class:`~sims.twolayer.Teacher` (``kind="soft"``).
    kind : {"hard", "soft"}
    temperature : float
        tau > 0; the student's logit is f / tau.

    Returns
    -------
    loss : float
        :math:`\frac1n\sum_i \ln(1+e^{-y_i f_i/\tau})` or
        :math:`\frac1n\sum_i \mathrm{KL}(p_i \| \sigma(f_i/\tau))`.
    grad : ndarray, shape (m, d)
        :math:`\nabla_W L`.
    """
    X, _ = check_inputs(X, normalize)
    params = check_params(params, X.shape[1])
    temperature = as_real(temperature, "temperature", low=0.0, low_open=True)
    n, d = X.shape
    tg = _prepare_targets(targets, n, kind, None)
    lay = _Layout([params.width], n)
    mask, buf, G, fpart, r, loss, sqdist = _scratch(lay, n, d)
    XTB, tasks = lay.input_blocks(X)
    f = np.empty((1, n))
    _, _, mcl, mch, _, inv = lay.members
    W = params.W.copy()
    with ThreadScope(1):  # the serial kernels: BLAS at one thread, as in runs
        _k.forward_tasks_serial(W, XTB, params.a, tasks, mask, buf, fpart)
        _k.outputs_and_residuals(fpart, mcl, mch, inv, tg.code, tg.tgt, tg.tp, tg.tq, temperature, f, r, loss)
        _k.backward_tasks_serial(W, params.W, X, params.a, tasks, lay.chunks, inv, r, 1.0, mask, buf, G, sqdist)
        _k.reduce_blocks(W, params.W, lay.chunks, 1.0, G, sqdist)
    return float(loss[0]), G[0].copy()


# ----------------------------------------------------------------------------
# runs


def _check_settings(steps, lr, temperature, project_radius):
    steps = as_int(steps, "steps", low=0, allow_integral_float=True)
    lr = as_real(lr, "lr", low=0.0, low_open=True)
    temperature = as_real(temperature, "temperature", low=0.0, low_open=True)
    radius = None if project_radius is None else as_real(project_radius, "project_radius", low=0.0, low_open=True)
    return steps, lr, temperature, radius


#: Multiply-adds per step (width x n x d) from which a lone network with threads > 1
#: may run its tasks on numba threads; then the faster of the two modes is chosen by
#: timing (:class:`_ModeChooser`). Below it, a step is too short (< 0.1 ms on one core)
#: for two threads to gain anything over the cost of waking them twice per step.
PARALLEL_CHUNKS_MIN = 2.0e6

# None: choose by timing; True / False: forced by chunk_threads()
_CHUNK_MODE = None


@contextlib.contextmanager
def chunk_threads(enabled: bool = True):
    """Within the block, a lone network with threads > 1 always runs its tasks (row
    chunks x sample blocks) on numba threads (``enabled``), or never; the results
    are the same bits either way.

    Outside such a block, a lone network of at least ``PARALLEL_CHUNKS_MIN``
    multiply-adds per step times both modes on short probes and runs the faster one
    (on the shared 2-core bench machine, two threads lose badly under load, e.g. 12x
    slower at m = 64, and gain on an idle machine; see ``bench/results/twolayer.md``).
    """
    global _CHUNK_MODE
    enabled = as_bool(enabled, "enabled")
    old = _CHUNK_MODE
    _CHUNK_MODE = enabled
    try:
        yield
    finally:
        _CHUNK_MODE = old


class _ModeChooser:
    """Runs a lone network's segments serially or on numba threads (an ensemble's members
    on one thread or on the pool), whichever was faster.

    Both modes compute the same bits, so the choice only affects speed. Every
    ``RUN_SECONDS`` of running, each mode is timed again on a probe of about
    ``PROBE_SECONDS`` (sized by that mode's own last time per step, the first
    threaded probe one step), as the load of a shared machine changes; the run
    continues in the faster mode. A threaded probe is preceded by one untimed
    threaded step, so that waking the sleeping threads is not charged to it. A probe
    cut short by the end of a segment is finished in the next one.
    """

    PROBE_SECONDS = 0.02
    RUN_SECONDS = 2.0
    THREADS_MARGIN = 0.9

    def __init__(self, step_guess):
        self.per_step = {False: step_guess, True: float("inf")}
        self.best = False
        self.left = 0  # steps to run before the next probe
        self.pending = [False, True]  # modes still to time in the current probe
        self.warm = False  # the threads have run the step just before
        self.steps = {False: 0, True: 0}

    def _run(self, run_steps, k, p, mode):
        run_steps(k, p, mode)
        self.steps[mode] += p
        return k + p

    def advance(self, run_steps, k, nsteps):
        """Steps k .. k + nsteps by calls ``run_steps(k, n, threaded)``."""
        end = k + nsteps
        if nsteps == 0:
            run_steps(k, 0, self.best)
            return
        while k < end:
            if self.left == 0 and self.pending:
                mode = self.pending[0]
                if mode and not self.warm:
                    k = self._run(run_steps, k, 1, True)
                    self.warm = True
                    continue
                p = min(end - k, max(1, int(min(self.PROBE_SECONDS / self.per_step[mode], 1e6))))
                t0 = time.perf_counter()
                k = self._run(run_steps, k, p, mode)
                self.per_step[mode] = max(time.perf_counter() - t0, 1e-9) / p
                self.pending.pop(0)
                self.warm = mode
                if not self.pending:
                    # threads only when clearly faster: a short probe on a loaded machine is noisy
                    self.best = self.per_step[True] < self.THREADS_MARGIN * self.per_step[False]
                    self.left = max(1, int(self.RUN_SECONDS / self.per_step[self.best]))
                continue
            p = min(end - k, self.left)
            k = self._run(run_steps, k, p, self.best)
            self.warm = self.best
            self.left -= p
            if self.left == 0:
                self.pending = [False, True]


class _Group:
    """The stacked arrays of members that run in one kernel call (runs use one member
    per group, see :func:`_run_members`; the kernels accept several)."""

    def __init__(self, X, starts, n_rec, n_buf):
        n, d = X.shape
        self.lay = _Layout([s["W"].shape[0] for s in starts], n)
        self.XTB, self.tasks = self.lay.input_blocks(X)
        self.W = np.ascontiguousarray(np.concatenate([s["W"] for s in starts]))
        self.W0 = np.ascontiguousarray(np.concatenate([s["W0"] for s in starts]))
        self.a = np.concatenate([s["a"] for s in starts])
        self.cum = np.array([s["cum_loss"] for s in starts], dtype=np.float64)
        self.scratch = _scratch(self.lay, n, d, n_buf)
        self.metrics = np.full((n_rec, self.lay.n_members, _k.N_METRICS), np.nan)
        self.f = np.empty((self.lay.n_members, n))
        self.have_forward = False  # the scratch holds the forward pass of W (after a segment)

    def advance(self, X, tg, rec, k, nsteps, lr, temperature, radius, parallel):
        _k.drive(self.W, self.W0, X, self.XTB, self.a, self.tasks, self.lay.chunks, self.lay.members, tg.code,
                 tg.tgt, tg.tp, tg.tq, tg.labels, temperature, lr, radius, k, nsteps, self.cum, rec, self.metrics,
                 self.f, self.scratch, parallel, self.have_forward)
        self.have_forward = True

    def results(self, n_valid):
        mlo, mhi = self.lay.members[0], self.lay.members[1]
        return [{"metrics": self.metrics[:n_valid, k, :], "W": self.W[mlo[k]:mhi[k]].copy(), "f": self.f[k].copy(),
                 "cum_loss": float(self.cum[k])} for k in range(self.lay.n_members)]


def _run_members(X, tg, starts, steps, lr, temperature, radius, record, threads, progress):
    """Run the members ``starts`` (dicts W, W0, a, step, cum_loss; one common step).

    Each member is one kernel call per segment on its own arrays. With several
    members and threads, the members go to a pool of ``threads`` threads, widest
    first, each call serial and without the GIL: the threads take the next member
    when they finish one, so they stay busy without any synchronisation inside a
    segment, and a member's memory stays in its thread's cache for the whole
    segment. A lone network with threads > 1 and at least PARALLEL_CHUNKS_MIN
    multiply-adds per step can run its tasks on numba threads instead. Both are
    timed against one thread (:class:`_ModeChooser`; on a loaded machine a second
    thread can lose), unless ``chunk_threads`` forces a lone network's choice.
    Each member's arithmetic is the same in every case. The run goes in segments
    (:func:`sims.engine.run_segments`: progress bar, Ctrl-C stops cleanly).

    Returns (rec_steps, per-member result dicts, end step, run info, interrupted).
    """
    n, d = X.shape
    step0 = starts[0]["step"]
    rec = record_steps(record, step0, step0 + steps)
    widths = [s["W"].shape[0] for s in starts]
    mode = _CHUNK_MODE if len(starts) == 1 and threads > 1 else False
    if mode is None and widths[0] * n * d < PARALLEL_CHUNKS_MIN:
        mode = False
    nets = [_Group(X, [s], rec.size, threads if mode is not False else 1) for s in starts]
    order = sorted(range(len(nets)), key=lambda k: -widths[k])
    workers = min(threads, len(nets))
    # a lone network may time its threaded kernel against the serial one; an ensemble
    # times its members on `workers` threads against all on one thread
    if len(nets) > 1 and workers > 1:
        mode = None
    step_guess = sum(widths) * n * d * 4 / 2e10
    chooser = _ModeChooser(step_guess) if mode is None else None
    rad = np.inf if radius is None else radius
    with ThreadScope(threads) as scope, ThreadPoolExecutor(workers) as pool:
        def run_steps(k, nsteps, threaded):
            if len(nets) == 1:
                nets[0].advance(X, tg, rec, k, nsteps, lr, temperature, rad, threaded)
            elif not threaded:
                for j in order:
                    nets[j].advance(X, tg, rec, k, nsteps, lr, temperature, rad, False)
            else:
                futs = [pool.submit(nets[j].advance, X, tg, rec, k, nsteps, lr, temperature, rad, False)
                        for j in order]
                for fu in futs:
                    fu.result()

        def advance(k, nsteps):
            if chooser is not None:
                chooser.advance(run_steps, k, nsteps)
            else:
                run_steps(k, nsteps, bool(mode))

        t0 = time.perf_counter()
        end, interrupted = run_segments(advance, step0, step0 + steps, progress=progress, desc="two-layer GD")
        seconds = time.perf_counter() - t0
        numba_threads, blas_threads = scope.numba_threads, scope.blas_threads
    n_valid = int(np.searchsorted(rec, end, side="right"))
    results = [net.results(n_valid)[0] for net in nets]
    # steps run threaded: a lone network's tasks on numba threads, or the members on the pool
    threaded_steps = int(end - step0) if mode else (chooser.steps[True] if chooser else 0)
    info = {"kernel_seconds": seconds, "threads": int(threads), "numba_threads": numba_threads,
            "blas_threads": blas_threads, "groups": workers,
            "parallel_chunks": len(nets) == 1 and threaded_steps > (end - step0) / 2,
            "chunk_mode": {None: "timed", True: "threads", False: "serial"}[mode],
            "threaded_steps": threaded_steps,
            "ensemble_members": len(starts), "total_width": int(sum(widths))}
    return rec[:n_valid], results, end, info, interrupted


def _split(result, starts, configs, infos):
    rec, results, end, run_info, interrupted = result
    import numba  # noqa: PLC0415

    out = []
    for k, (s, cfg, res) in enumerate(zip(starts, configs, results)):
        info = dict(infos[k]) if infos else {"segments": []}
        info["segments"] = list(info.get("segments", [])) + [dict(run_info, steps=int(end - s["step"]))]
        info["numba"] = numba.__version__
        info["numpy"] = np.__version__
        info["interrupted"] = bool(interrupted)
        out.append(TwoLayerTrajectory(
            steps=rec, metrics={name: res["metrics"][:, j].copy() for j, name in enumerate(_k.METRIC_NAMES)},
            W=res["W"], W0=s["W0"], a=s["a"], outputs=res["f"],
            state={"step": int(end), "cum_loss": res["cum_loss"]}, config=cfg, info=info))
    return out


def _config(width, seed, init, kind, lr, temperature, radius, n, d, scale, fp):
    return {"width": int(width), "seed": seed, "init": init, "kind": kind, "lr": lr, "temperature": temperature,
            "project_radius": radius, "n": int(n), "d": int(d), "x_scale": scale, "data_fingerprint": fp,
            "dtype": "float64"}


def run(X, targets, width, steps, lr, *, kind="hard", init="standard", seed=0, temperature=1.0,
        project_radius=None, labels=None, record=None, normalize=False, threads=None, params=None, progress=None):
    r"""Train one two-layer ReLU network by full-batch (projected) GD.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs with ||x_i|| <= 1; with ``normalize=True`` X is divided by its largest
        row norm instead (recorded as ``config["x_scale"]``).
    targets : array_like, shape (n,), or Teacher
        ``kind="hard"``: labels y_i in {-1, +1}. ``kind="soft"``: teacher probabilities
        p_i in [0, 1], or a :class:`~sims.twolayer.Teacher` (its logits keep p and
        1 - p accurate near 0 and 1).
    width : int
        m >= 1 (even for ``init="coupled"``).
    steps : int
        Number of GD steps T >= 0.
    lr : float
        Step size eta > 0 (eta <= 1 in [JT]; ||grad f|| <= ||x|| <= 1).
    kind : {"hard", "soft"}
        Logistic loss on labels, or KL to the teacher's probabilities.
    init : {"standard", "coupled"}
        See :func:`init_two_layer`.
    seed : int
        Seed of the initialisation (recorded in ``config``).
    temperature : float
        tau > 0: the student's probability is sigma(f / tau).
    project_radius : float or None
        R > 0 for projected GD onto ||W - W_0||_F <= R; None for plain GD.
    labels : array_like, shape (n,), optional
        Labels in {-1, +1} for the accuracy and margin metrics; default: the targets
        (hard) or sign(p - 1/2) (soft, +1 at p = 1/2; a Teacher's logit signs).
    record : None, int or 1-D int array
        Checkpoints: about 200 log-spaced steps (None), that many (int), or the given
        steps; T is always recorded.
    normalize : bool
        See ``X``.
    threads : int, optional
        Numba threads (default: the caller's ``numba.get_num_threads()``; BLAS is
        held at one thread); the results do not depend on it.
    params : TwoLayerParams, optional
        Start from these parameters instead of drawing them (``seed`` and ``init``
        are then only recorded).
    progress : None or bool
        Progress bar (None: automatic, in an interactive main thread after 2 s).

    Returns
    -------
    TwoLayerTrajectory

    Raises
    ------
    sims.engine.RunInterrupted
        On Ctrl-C: stops after the current segment; ``.trajectory`` is the partial,
        resumable run.
    """
    width = as_int(width, "width", low=1)
    check_seed(seed, "seed")
    try:
        ens = run_ensemble(X, targets, [width], [seed], steps, lr, kind=kind, init=init, temperature=temperature,
                           project_radius=project_radius, labels=labels, record=record, normalize=normalize,
                           threads=threads, params=None if params is None else [params], progress=progress)
    except RunInterrupted as stop:
        raise RunInterrupted(stop.trajectory.members[0]) from None
    return ens.members[0]


class TwoLayerEnsemble:
    """Result of :func:`run_ensemble`: one :class:`TwoLayerTrajectory` per (seed, width).

    Attributes
    ----------
    seeds, widths : list
        The grid; ``members`` is seed-major: member ``i * len(widths) + j`` has
        ``seeds[i]`` and ``widths[j]``.
    members : list of TwoLayerTrajectory
    steps : ndarray of int64, shape (n_rec,)
        The checkpoints (shared by all members).
    """

    def __init__(self, seeds, widths, members):
        self.seeds = list(seeds)
        self.widths = list(widths)
        self.members = list(members)
        self.steps = self.members[0].steps

    def __len__(self):
        return len(self.members)

    def __iter__(self):
        return iter(self.members)

    def __repr__(self):
        return f"TwoLayerEnsemble(seeds={self.seeds!r}, widths={self.widths!r}, step={self.members[0].step})"

    def member(self, seed, width) -> TwoLayerTrajectory:
        """The member with this seed and width."""
        try:
            i = self.seeds.index(seed)
            j = self.widths.index(width)
        except ValueError:
            raise ValueError(f"no member with seed={seed!r} and width={width!r}; "
                             f"seeds are {self.seeds}, widths are {self.widths}") from None
        return self.members[i * len(self.widths) + j]

    def stack(self, name) -> np.ndarray:
        """Metric ``name`` of every member, shape (len(seeds), len(widths), n_rec)."""
        if name not in _k.METRIC_NAMES:
            raise ValueError(f"name must be one of {_k.METRIC_NAMES}, got {name!r}")
        arr = np.stack([m.metrics[name] for m in self.members])
        return arr.reshape(len(self.seeds), len(self.widths), -1)

    def extend(self, steps, X, targets, *, labels=None, record=None, threads=None, normalize=False,
               progress=None):
        """Continue every member for ``steps`` more steps in one call."""
        return _resume_many(self.members, steps, X, targets, labels, record, threads, normalize, progress,
                            grid=(self.seeds, self.widths))


def run_ensemble(X, targets, widths, seeds, steps, lr, *, kind="hard", init="standard", temperature=1.0,
                 project_radius=None, labels=None, record=None, normalize=False, threads=None, params=None,
                 progress=None):
    r"""Train every (seed, width) network of a grid in one call, side by side on threads.

    All members share X, the targets, the loss, lr, temperature and projection
    radius; member (seed, width) starts from ``init_two_layer(d, width, seed, init)``
    and follows exactly the iterates of ``run(..., width=width, seed=seed)`` (each
    member's rows are cut into the same chunks alone and in the ensemble, so its
    arithmetic is the same). Parameters as in :func:`run`, plus:

    Parameters
    ----------
    widths : sequence of int
        Widths m_j >= 1.
    seeds : sequence of int
        Seeds s_i.
    params : list of TwoLayerParams, optional
        Initial parameters per member (seed-major order) instead of drawing them.

    Returns
    -------
    TwoLayerEnsemble
        Members in seed-major order (all widths of ``seeds[0]`` first).

    Raises
    ------
    sims.engine.RunInterrupted
        On Ctrl-C; ``.trajectory`` is the partial, resumable ensemble.
    """
    X, scale = check_inputs(X, normalize)
    n, d = X.shape
    widths = [as_int(w, f"widths[{j}]", low=1) for j, w in enumerate(_as_list(widths, "widths"))]
    seeds = [check_seed(s, f"seeds[{i}]") for i, s in enumerate(_as_list(seeds, "seeds"))]
    # W, W0 and the gradient (float64) and the activation mask (bytes) of every member,
    # refused before any network is drawn (the message names the widths and the total width).
    total = len(seeds) * sum(widths)
    check_memory(float(total) * (24.0 * d + n + 8.0),
                 f"run_ensemble with widths {_show_list(widths)} and {len(seeds)} seed(s) (total width {total}, "
                 f"n={n}, d={d})", hint="use smaller widths or fewer seeds per call")
    init = as_choice(init, "init", INITS)
    steps, lr, temperature, radius = _check_settings(steps, lr, temperature, project_radius)
    tg = _prepare_targets(targets, n, kind, labels)
    threads = resolve_threads(threads)
    fp = _fingerprint(X, tg.tgt, tg.labels)
    starts, configs = [], []
    for i, seed in enumerate(seeds):
        for j, m in enumerate(widths):
            if params is not None:
                p = check_params(params[i * len(widths) + j], d)
                if p.width != m:
                    raise ValueError(f"params[{i * len(widths) + j}] has width {p.width}, expected {m}")
            else:
                p = init_two_layer(d, m, seed, init)
            starts.append({"W": p.W, "W0": p.W.copy(), "a": p.a, "step": 0, "cum_loss": 0.0})
            configs.append(_config(m, _jsonable_seed(seed), init, tg.kind, lr, temperature, radius, n, d, scale, fp))
    result = _run_members(X, tg, starts, steps, lr, temperature, radius, record, threads, progress)
    ens = TwoLayerEnsemble(seeds, widths, _split(result, starts, configs, None))
    if result[-1]:
        raise RunInterrupted(ens)
    return ens


def _as_list(value, name):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a sequence, got {value!r}")
    value = list(value)
    if not value:
        raise ValueError(f"{name} must not be empty")
    return value


def _show_list(values, limit=6):
    return str(values) if len(values) <= limit else str(values[:limit])[:-1] + f", ... ({len(values)} in all)]"


def _jsonable_seed(seed):
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": int(seed.entropy), "spawn_key": list(seed.spawn_key)}
    return repr(seed)


def resume(traj, steps, X, targets, *, labels=None, record=None, threads=None, normalize=False, progress=None):
    """Continue one trajectory (see :meth:`TwoLayerTrajectory.extend`)."""
    try:
        return _resume_many([traj], steps, X, targets, labels, record, threads, normalize, progress).members[0]
    except RunInterrupted as stop:
        raise RunInterrupted(stop.trajectory.members[0]) from None


def _resume_many(members, steps, X, targets, labels, record, threads, normalize, progress, grid=None):
    X, scale = check_inputs(X, normalize)
    n, d = X.shape
    c0 = members[0].config
    steps = as_int(steps, "steps", low=0, allow_integral_float=True)
    tg = _prepare_targets(targets, n, c0["kind"], labels)
    fp = _fingerprint(X, tg.tgt, tg.labels)
    for m in members:
        if m.config["data_fingerprint"] != fp:
            raise ValueError("X and targets (and labels) must be those of the original run; "
                             "their fingerprint differs from the trajectory's")
    threads = resolve_threads(threads)
    starts = [{"W": m.W, "W0": m.W0, "a": m.a, "step": m.step, "cum_loss": m.state["cum_loss"]} for m in members]
    result = _run_members(X, tg, starts, steps, c0["lr"], c0["temperature"], c0["project_radius"], record, threads,
                          progress)
    new = _split(result, starts, [m.config for m in members], [m.info for m in members])
    for old, cur in zip(members, new):  # keep the history: old checkpoints, then the new segment's
        cur.steps, cur.metrics, _ = old.resumed_by(cur.steps, cur.metrics)
    seeds, widths = grid if grid is not None else ([members[0].config["seed"]], [members[0].config["width"]])
    ens = TwoLayerEnsemble(seeds, widths, new)
    if result[-1]:
        raise RunInterrupted(ens)
    return ens
