"""run and run_ensemble: the Python side of the linear-softmax engine (private)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from sims.engine import RunInterrupted, ThreadScope, record_steps, resolve_threads, run_segments
from sims.linear_softmax._constants import N_METRICS
from sims.linear_softmax._data import check_data, check_matrix
from sims.linear_softmax._drivers import (
    drive_parallel, drive_serial, drive_tiny, drive_tiny_fixed, has_drive_tiny_fixed,
)
from sims.linear_softmax._kernel_args import KernelHyper, KernelRecording, KernelReferences
from sims.linear_softmax._problem import TINY_FIXED_STEPS, prepare
from sims.linear_softmax._references import (
    REFERENCE_SOLVERS, check_references, reference_arrays, resolve_references,
)
from sims.linear_softmax._state import (
    METHODS, SCHEDULES, final_W, hp_vector, kernel_state, new_state, scratch, state_from_kernel,
    validate_settings,
)
from sims.linear_softmax._trajectory import Trajectory
from theory._validation import as_bool, as_choice, as_int, as_real
from theory.ntp import data_fingerprint

#: Metric names, in the column order of the kernels. See :class:`Trajectory`.
METRIC_NAMES = (
    "loss", "gap", "norm", "cos_mm", "cos_mm_corrected", "cos_perp_mm", "dist_F",
    "norm_F", "norm_perp", "perp_residual", "tilde_residual", "margin", "margin_gap",
    "colsum_maxabs", "colsum_drift", "grad_norm", "lr",
)
assert len(METRIC_NAMES) == N_METRICS


def serial_kernel(prob, steps):
    """The serial driver: drive_serial, or for tiny problems drive_tiny, compiled for
    the problem's sizes when the run is long or that version exists already (both
    versions do the same arithmetic: bitwise the same iterates)."""
    if not prob.tiny:
        return drive_serial
    if prob.dtype == np.float64 and (steps >= TINY_FIXED_STEPS or has_drive_tiny_fixed(prob.m, prob.V, prob.r)):
        return drive_tiny_fixed(prob.m, prob.V, prob.r)
    return drive_tiny


def compile_tiny_kernel(m, V, r):
    """Build (or load from numba's disk cache) the tiny kernel specialised to (m, V, r).

    Runs of a tiny problem (m r V < 2000) use it from then on in this process
    (otherwise only runs of >= 2e7 steps do); same iterates bitwise, 1.2-2x
    faster per step. Used by the benchmark to keep compile time out of timings.

    Parameters
    ----------
    m, V, r : int
        Contexts, vocabulary size and feature dimension (``Trajectory.config["rank"]``).
    """
    drive_tiny_fixed(as_int(m, "m", low=1), as_int(V, "V", low=2), as_int(r, "r", low=1))


def tiny_kernel_compiled(m, V, r):
    """Whether the tiny kernel specialised to (m, V, r) exists in this process."""
    return has_drive_tiny_fixed(as_int(m, "m", low=1), as_int(V, "V", low=2), as_int(r, "r", low=1))


#: Wall time of work aimed at in the first kernel segment of a main-thread run.
FIRST_SEGMENT_SECONDS = 0.25


def first_segment(prob):
    """Steps of ~FIRST_SEGMENT_SECONDS of work by a cost model on the slow side
    (0.1 us per step plus 4 m r V flops at 2e10 flop/s)."""
    per_step = 1e-7 + 4.0 * prob.m * prob.r * prob.V / 2e10
    return max(1, int(FIRST_SEGMENT_SECONDS / per_step))


def run_info(scope, par, prob):
    """JSON-able description of what ran: threads measured inside the scope, kernel, versions."""
    return {"threads": int(scope.numba_threads), "numba_threads": int(scope.numba_threads),
            "blas_threads": int(scope.blas_threads), "parallel_chunks": bool(par), "numba": numba.__version__,
            "numpy": np.__version__, "use_blas": prob.use_blas, "tiny_kernel": prob.tiny,
            "chunks": [prob.ncc, prob.nvc]}


def kernel_references(prob, refs, st):
    """The KernelReferences of a state (reference parts, Gram, column sums)."""
    parts, cp, bstar, has, wmm_norm = reference_arrays(prob, refs, st["W0_perp"])
    sr0 = np.asarray(st["W_r0"], dtype=np.float64).sum(axis=0)
    s0 = np.asarray(st["W0_perp"]).sum(axis=0)
    return KernelReferences(parts, has, cp, st["W0_perp"], s0, sr0, prob.f_blk, prob.f_loc, prob.f_a, prob.f_b,
                            prob.KF, bstar, wmm_norm)


def check_bool(value, name):
    """``value`` if it is a bool (TypeError otherwise; :func:`theory._validation.as_bool`)."""
    return as_bool(value, name)


def run(data, steps, lr, method="gd", *, W0=None, schedule="constant", power=0.5, lr_max=np.inf,
        beta1=0.9, beta2=0.99, adam_eps=1e-8, record=None, record_W=False, W_star=None, W_mm=None,
        w_tilde=None, references="auto", resume=None, dtype=np.float64, algorithm="auto",
        threads=None, progress=None, reference_solver=None) -> Trajectory:
    r"""Full-batch GD / normalised GD / Adam on the NTP cross-entropy (numba engine).

    Parameters
    ----------
    data : object with ``H`` (m, d), ``P`` (m, V), ``pi`` (m,)
        Context embeddings h_j as rows, next-token distributions p_j (rows sum
        to 1; support S_j = {z : p_jz > 0}) and context weights pi_j >= 0, e.g.
        :class:`theory.ntp.NTPData`, :func:`classification_data` or :func:`binary_data`.
    steps : int
        Number of steps to take (>= 0; an integral float such as 1e6 is
        accepted). With ``resume`` these are added to the resumed run's.
    lr : float
        Base step size eta > 0 (see the module docstring for the schedules).
    method : {"gd", "ngd", "adam"}
        Optimiser.
    W0 : array (V, d), optional
        Initial iterate; default 0. Must be None with ``resume``.
    schedule : {"constant", "power", "loss"}
        eta_k = eta, eta/(k+1)^power, or min(eta/max(CE - H, 1e-300), lr_max).
    power : float
        Exponent p > 0 of the "power" schedule (0.5: 1/sqrt(k+1); 1: 1/(k+1)).
    lr_max : float
        Cap of the loss-adaptive step size (inf allowed).
    beta1, beta2, adam_eps : float
        Adam parameters (defaults 0.9, 0.99 as in [T24] App. A.2; eps 1e-8).
    record : None, int or 1-D int array
        Checkpoints: None = ~200 log-spaced steps (:func:`log_checkpoints`),
        int n = n log-spaced, or explicit steps. The final step is always recorded.
    record_W : bool
        Also store W_k (V, d) at every checkpoint (``Trajectory.W_records``).
    W_star, W_mm, w_tilde : array (V, d), optional
        Reference quantities: the finite component W* ([T24] Def. 1), the NTP-SVM
        solution W^mm ([T24] Def. 3; for one-hot data the multiclass SVM of [S18])
        and the bounded correction W~ (for one-hot data Soudry et al.'s w_tilde for
        this step size). Missing W*/W^mm are computed lazily through
        ``theory.ntp.finite_component`` and ``theory.ntp_svm.max_margin_direction``
        when ``references`` is True (W* = 0 for one-hot data); if theory cannot
        give one (e.g. non-separable data) a UserWarning says so and its metrics
        are NaN. w_tilde is only used when given. ``info["references"]`` says
        where each came from (and ``W_mm_solver`` which solver computed W^mm).
    references : {"auto", True, False}
        Compute missing W*/W^mm. ``"auto"`` (default) computes W^mm (its solver chosen
        by size) and W* only when F has at most ``F_MAX`` generators (above that the
        finite-component solve takes minutes: ``info["references"]["W_star"]`` says it
        was skipped and why); True computes both whatever the cost; False neither.
    resume : Trajectory, optional
        Continue this run from its state (same data and method; kernel and
        references are taken from it, the step-size settings from this call:
        pass the same ones, as :meth:`Trajectory.extend` does, for a result
        bitwise identical to one longer run). Returns the combined trajectory.
    dtype : np.float64 or np.float32
        float32 stores weights, features, logits, residuals and gradients in
        float32 (scalar expressions are evaluated in float64 where numba
        promotes) and warns (UserWarning); meant only for studying precision.
    algorithm : {"auto", "primal", "dual"}
        Kernel form (same iterates up to rounding); "auto" picks by cost.
    threads : int, optional
        numba threads for the chunked kernels of large problems. Default: the
        caller's current setting (``numba.get_num_threads()``), never more, so a
        sweep worker limited to 1 thread runs 1 thread. BLAS is limited to 1
        thread during the run (one parallel layer). Results do not depend on it;
        ``info["segments"]`` records the numba and BLAS threads the kernels ran with.
    progress : None or bool
        tqdm progress bar: None (default) shows one after 2 s when stderr is a
        terminal and the run is in the main thread of the main process (never in
        sweep workers); True always; False never.
    reference_solver : {None, "clarabel", "dual", "auto"}
        Solver of ``theory.ntp_svm.max_margin_direction`` for a computed W^mm.
        None: its default up to 2e4 NTP-SVM constraints (sum_j |S_j| (V - |S_j|)),
        "dual" above (Clarabel takes minutes to hours on large problems).

    Returns
    -------
    Trajectory
        Recorded steps, metrics, final W (V, d) and the resumable state.

    Raises
    ------
    TypeError, ValueError
        For malformed data, non-integer or negative ``steps``, a non-positive or
        non-finite ``lr``, a W0 of the wrong shape, or an unknown method/schedule.
    RunInterrupted
        On Ctrl-C (SIGINT) in the main thread: the run stops after the current
        kernel segment (at most ~0.25 s later) and the exception's
        ``trajectory`` holds the partial, resumable result (a subclass of
        KeyboardInterrupt, so an uncaught one still stops the program).

    Examples
    --------
    >>> import numpy as np
    >>> from theory.ntp import NTPData
    >>> from sims import gd
    >>> data = NTPData.synthetic(6, 9, 5, 2, rng=0)
    >>> a = gd.run(data, 2000, 0.5, references=False)
    >>> b = gd.run(data, 1000, 0.5, references=False).extend(1000)
    >>> bool(np.array_equal(a.W, b.W)), b.step
    (True, 2000)
    """
    n_threads = resolve_threads(threads)
    with ThreadScope(n_threads) as scope:  # BLAS at 1 thread also during the set-up (no spinning pools)
        return _run(data, steps, lr, method, W0, schedule, power, lr_max, beta1, beta2, adam_eps, record, record_W,
                    W_star, W_mm, w_tilde, references, resume, dtype, algorithm, scope, progress, reference_solver)


def _run(data, steps, lr, method, W0, schedule, power, lr_max, beta1, beta2, adam_eps, record, record_W, W_star,
         W_mm, w_tilde, references, resume, dtype, algorithm, scope, progress, reference_solver):
    t_start = time.perf_counter()
    steps = as_int(steps, "steps", low=0, allow_integral_float=True)
    H, P, pi = check_data(data)
    m, d = H.shape
    V = P.shape[1]
    cfg = validate_settings(lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, dtype, algorithm)
    record_W = check_bool(record_W, "record_W")
    references = check_references(references)
    if progress is not None:
        check_bool(progress, "progress")
    if reference_solver is not None:
        as_choice(reference_solver, "reference_solver", REFERENCE_SOLVERS)

    if resume is not None:
        if not isinstance(resume, Trajectory):
            raise TypeError(f"resume must be a Trajectory, got {type(resume).__name__}")
        if W0 is not None:
            raise ValueError("W0 must be None when resuming (the state comes from resume)")
        rc = resume.config
        if rc["method"] != cfg["method"]:
            raise ValueError(f"method={cfg['method']!r} differs from the resumed run's method {rc['method']!r}")
        if rc["dtype"] != cfg["dtype"]:
            raise ValueError(f"dtype={cfg['dtype']!r} differs from the resumed run's dtype {rc['dtype']!r}")
        fp = data_fingerprint(H, P, pi)
        if fp != rc["data_fingerprint"]:
            raise ValueError("data differs from the data of the resumed run (fingerprint mismatch)")
        prob = resume._problem
        if prob is None or prob.fingerprint != fp:
            prob = prepare(H, P, pi, cfg["method"], rc["algorithm"], cfg["dtype"], basis=resume.state["basis"],
                           space=rc["space"], chunks=tuple(rc["chunks"]), use_blas=rc["use_blas"],
                           tiny=rc["tiny_kernel"])
        cfg["algorithm"] = rc["algorithm"]
        st = resume.state
        W_star = resume.W_star if W_star is None else W_star
        W_mm = resume.W_mm if W_mm is None else W_mm
        w_tilde = resume.w_tilde if w_tilde is None else w_tilde
        compute_refs = False
    else:
        prob = prepare(H, P, pi, cfg["method"], cfg["algorithm"], cfg["dtype"])
        cfg["algorithm"] = prob.algorithm
        W0 = np.zeros((V, d)) if W0 is None else check_matrix("W0", W0, (V, d))
        st = new_state(prob, W0)
        compute_refs = references
    k0 = int(st["step"])
    total = k0 + steps
    rec = record_steps(record, k0, total)
    refs, src = resolve_references(data, prob, W_star, W_mm, w_tilde, compute_refs, reference_solver)

    cfg.update(space=prob.space, rank=prob.r, shape=[m, d, V], chunks=[prob.ncc, prob.nvc],
               use_blas=prob.use_blas, tiny_kernel=prob.tiny, data_fingerprint=prob.fingerprint,
               record_W=bool(record_W))
    ks = kernel_state(prob, st)
    out_m = np.full((rec.size, N_METRICS), np.nan)
    out_W = np.zeros((rec.size if record_W else 0, V, d))
    kargs = (KernelRecording(rec, out_m, out_W, bool(record_W)), prob.kernel_args(),
             KernelHyper(METHODS.index(cfg["method"]), SCHEDULES.index(cfg["schedule"]), hp_vector(cfg)),
             ks, scratch(prob), kernel_references(prob, refs, st))
    par = scope.numba_threads > 1 and (prob.ncc > 1 or prob.nvc > 1)
    kernel = drive_parallel if par else serial_kernel(prob, steps)
    t_kernel = time.perf_counter()
    timing = {"seconds": 0.0, "calls": 0, "nrec": 0}

    def advance(k, n):
        t0 = time.perf_counter()
        timing["nrec"] = kernel(k, n, *kargs)
        timing["seconds"] += time.perf_counter() - t0
        timing["calls"] += 1

    k_done, interrupted = run_segments(advance, k0, total, progress=progress,
                                       desc=f"{cfg['method']} {m}x{d}x{V}", first_steps=first_segment(prob))
    kept = rec <= k_done
    assert timing["nrec"] == int(kept.sum())
    rec, out_m = rec[kept], out_m[kept]
    if record_W:
        out_W = out_W[kept]
    new_st = state_from_kernel(prob, st, k_done, ks)
    W = final_W(prob, new_st)
    seg = {"start": k0, "steps": k_done - k0, "kernel_seconds": timing["seconds"],
           "setup_seconds": t_kernel - t_start, "kernel_calls": timing["calls"], **run_info(scope, par, prob)}
    metrics = {name: out_m[:, i].copy() for i, name in enumerate(METRIC_NAMES)}
    W_records = out_W if record_W else None
    info = {"references": src, "segments": [seg]}
    if resume is not None:
        rec, metrics, W_records = resume.resumed_by(rec, metrics, W_records, "W_records")
        info = {"references": {**resume.info.get("references", {}), **{k: v for k, v in src.items()
                                                                       if v == "given"}},
                "segments": list(resume.info.get("segments", [])) + [seg]}
    if interrupted:
        info["interrupted"] = True
    traj = Trajectory(rec, metrics, W, new_st, cfg, W_star=refs["W_star"], W_mm=refs["W_mm"],
                      w_tilde=refs["w_tilde"], entropy=prob.entropy, info=info, W_records=W_records)
    traj._problem = prob
    traj._data = data
    if interrupted:
        raise RunInterrupted(traj)
    return traj


def run_ensemble(data, steps, lrs=None, W0s=None, *, lr=None, method="gd", schedule="constant", power=0.5,
                 lr_max=np.inf, beta1=0.9, beta2=0.99, adam_eps=1e-8, record=None, record_W=False, W_star=None,
                 W_mm=None, w_tilde=None, references="auto", dtype=np.float64, algorithm="auto",
                 threads=None, reference_solver=None) -> list:
    """Many independent runs on the same data in parallel (one member per thread).

    Members differ in step size and/or initial point. Each member runs serially
    in its own Python thread (the numba kernel releases the GIL; numba and BLAS
    are held at 1 thread, so there is one parallel layer; ``threads`` = None uses
    as many member threads as the caller's numba setting allows), with the same
    kernels and chunking
    as :func:`run`, so member i is bitwise identical to
    ``run(data, steps, lrs[i], W0=W0s[i], ...)`` for any number of threads.

    Parameters
    ----------
    data : object with ``H`` (m, d), ``P`` (m, V), ``pi`` (m,)
        As in :func:`run`.
    steps : int
        Steps per member.
    lrs : sequence of float, shape (n,), optional
        Step size of each member; if None, ``lr`` is used for every member.
    W0s : array (n, V, d) or sequence of (V, d), optional
        Initial point of each member (default 0). If both ``lrs`` and ``W0s``
        are given they must have the same length n.
    lr : float, optional
        Common step size when ``lrs`` is None (give exactly one of ``lrs`` and ``lr``).
    other parameters
        As in :func:`run` (w_tilde, when given, is shared by all members). There
        is no progress bar and no segmenting (members run in worker threads).

    Returns
    -------
    list of Trajectory
        One per member, each resumable with :func:`run`.
    """
    n_threads = resolve_threads(threads)
    with ThreadScope(1) as scope:  # members run one per Python thread; numba and BLAS at 1 thread
        return _run_ensemble(data, steps, lrs, W0s, lr, method, schedule, power, lr_max, beta1, beta2, adam_eps,
                             record, record_W, W_star, W_mm, w_tilde, references, dtype, algorithm, n_threads,
                             scope, reference_solver)


def _run_ensemble(data, steps, lrs, W0s, lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, record,
                  record_W, W_star, W_mm, w_tilde, references, dtype, algorithm, threads, scope, reference_solver):
    steps = as_int(steps, "steps", low=0, allow_integral_float=True)
    H, P, pi = check_data(data)
    m, d = H.shape
    V = P.shape[1]
    record_W = check_bool(record_W, "record_W")
    references = check_references(references)
    if reference_solver is not None:
        as_choice(reference_solver, "reference_solver", REFERENCE_SOLVERS)
    if lrs is None and lr is None:
        raise ValueError("give lrs (one step size per member) or lr (common step size)")
    if lrs is not None and lr is not None:
        raise ValueError(f"give lrs (one step size per member) or lr (common step size), not both; got lr={lr!r}")
    if lrs is not None:
        if isinstance(lrs, (str, bytes)):
            raise TypeError(f"lrs must be a sequence of step sizes, got the string {lrs!r}")
        lrs_list = list(np.atleast_1d(np.asarray(lrs, dtype=object)))
        if len(lrs_list) == 0:
            raise ValueError("lrs must not be empty")
        # named per member here (validate_settings below would call each one "lr")
        lrs_list = [as_real(v, f"lrs[{i}]", low=0.0, low_open=True) for i, v in enumerate(lrs_list)]
    if W0s is not None:
        W0_list = [check_matrix(f"W0s[{i}]", w, (V, d)) for i, w in enumerate(W0s)]
        if len(W0_list) == 0:
            raise ValueError("W0s must not be empty")
    n = len(lrs_list) if lrs is not None else (len(W0_list) if W0s is not None else 1)
    if lrs is not None and W0s is not None and len(lrs_list) != len(W0_list):
        raise ValueError(f"lrs and W0s must have the same length, got {len(lrs_list)} and {len(W0_list)}")
    if lrs is None:
        lrs_list = [lr] * n
    if W0s is None:
        W0_list = [np.zeros((V, d))] * n
    cfgs = [validate_settings(lr_i, method, schedule, power, lr_max, beta1, beta2, adam_eps,
                              dtype if i == 0 else np.float64, algorithm) for i, lr_i in enumerate(lrs_list)]
    for c in cfgs:
        c["dtype"] = cfgs[0]["dtype"]
    prob = prepare(H, P, pi, cfgs[0]["method"], cfgs[0]["algorithm"], cfgs[0]["dtype"])
    rec = record_steps(record, 0, steps)
    refs, src = resolve_references(data, prob, W_star, W_mm, w_tilde, references, reference_solver)
    states = [new_state(prob, W0) for W0 in W0_list]
    kstates = [kernel_state(prob, st) for st in states]
    out_m = np.full((n, rec.size, N_METRICS), np.nan)
    out_W = np.zeros((n, rec.size if record_W else 0, V, d))
    method_id = METHODS.index(cfgs[0]["method"])
    sched_id = SCHEDULES.index(cfgs[0]["schedule"])
    kernel = serial_kernel(prob, steps)  # chosen (and created) once, before the threads
    pb = prob.kernel_args()

    def member(i):
        kernel(0, steps, KernelRecording(rec, out_m[i], out_W[i], bool(record_W)), pb,
               KernelHyper(method_id, sched_id, hp_vector(cfgs[i])), kstates[i], scratch(prob),
               kernel_references(prob, refs, states[i]))

    t0 = time.perf_counter()
    if threads == 1 or n == 1:
        for i in range(n):
            member(i)
    else:
        # the drivers release the GIL (nogil=True): one member per Python thread
        with ThreadPoolExecutor(max_workers=min(threads, n)) as pool:
            list(pool.map(member, range(n)))
    dt = time.perf_counter() - t0
    out = []
    for i in range(n):
        cfg = dict(cfgs[i])
        cfg.update(algorithm=prob.algorithm, space=prob.space, rank=prob.r, shape=[m, d, V],
                   chunks=[prob.ncc, prob.nvc], use_blas=prob.use_blas, tiny_kernel=prob.tiny,
                   data_fingerprint=prob.fingerprint, record_W=bool(record_W))
        new_st = state_from_kernel(prob, states[i], steps, kstates[i])
        seg = {"start": 0, "steps": steps, "kernel_seconds": dt, "ensemble_members": n,
               "member_threads": int(min(threads, n)), **run_info(scope, False, prob)}
        traj = Trajectory(rec.copy(), {name: out_m[i, :, j].copy() for j, name in enumerate(METRIC_NAMES)},
                          final_W(prob, new_st), new_st, cfg, W_star=refs["W_star"], W_mm=refs["W_mm"],
                          w_tilde=refs["w_tilde"], entropy=prob.entropy,
                          info={"references": src, "segments": [seg]},
                          W_records=out_W[i].copy() if record_W else None)
        traj._problem = prob
        traj._data = data
        out.append(traj)
    return out
