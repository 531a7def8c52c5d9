"""The drivers of the linear-softmax engine: a whole run segment in one numba call (private).

Layout (see :mod:`sims.linear_softmax` for the maths)
-----------------------------------------------------
* Contexts are split into ``nc`` blocks of ``mc`` contexts (``m`` padded to
  ``nc * mc`` with zero-feature, zero-weight contexts). Logits are stored
  transposed and blocked, ``Lt[c, v, jj]`` = logit of token ``v`` at context
  ``c * mc + jj``, so that every per-context reduction over the vocabulary is an
  element-wise loop over contexts (vectorisable, fixed summation order). The
  dual uses ``nc`` = ``ncc`` blocks (its logit update is blocked the same way);
  the primal one block, whose residual is split into ``ncc`` column ranges and
  whose logits GEMM is split by vocabulary rows like the gradient GEMM.
* Supports are sparse lists ``sup = (sup_v, sup_p, sup_logp, n_sup)`` (rows =
  contexts, tokens increasing) plus a dense boolean mask ``inS`` (nc, V, mc); the
  dense P is never read in the loop.
* The residual ``Rt`` (V, m_pad) holds pi_j * (softmax - p_j) transposed.
* Vocabulary rows are split into ``nvc`` chunks for the gradient GEMM, the
  update and (primal) the next step's logits GEMM. The chunking depends on the
  problem size only, never on the number of threads, so results are bitwise
  identical for any thread count.
* ``primal``: the state is W_r (V, r) in the feature coordinates (row space of
  H, or H itself); one step is Lt = W_r X^T, R, G = R^T X, update.
* ``dual`` (GD and NGD only): W_r = W_r0 - A X with A (V, m_pad) the accumulated
  step-scaled residuals; the logits are updated in place,
  Lt <- Lt - s R^T K with K = X X^T, which costs m^2 V instead of 2 m r V.
* :func:`make_drive` builds the serial driver (``drive_serial``) and the
  chunked parallel one (``drive_parallel``) from one definition.
* :func:`make_drive_tiny`: the primal step fused in the loop body, for tiny
  problems; :func:`drive_tiny_fixed` builds the same driver with (m, V, r) as
  compile-time constants (its loops unroll completely).
* At a checkpoint of a primal BLAS run the gradient phase runs before the
  metrics (which take ||grad|| from it) and the update after them.

Every driver has the signature ``drive(k0, nsteps, rec, pb, hy, st, sc, rf)``
with the named tuples of :mod:`sims.linear_softmax._kernel_args`; it runs steps
k0 .. k0+nsteps-1 in place and records at the steps of ``rec.steps`` from k0 on
(so consecutive calls give bitwise what one call gives).

Performance notes: every call of a numba function with array arguments costs
two atomic reference-count updates per array (and every array view one pair),
so hot loops index arrays directly and tiny steps make no calls; arrays written
in the same loop are separate allocations so that LLVM can vectorise; exp is an
inlined polynomial (:func:`sims.linear_softmax._exp.exp_scalar`) that vectorises
without fastmath (numba's SVML path is not available: the pip llvmlite is not
SVML-patched); sums start from -0.0 (x + (-0.0) == x exactly, so the first
addition folds away), which shortens the dependency chain that bounds a tiny step.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sims.linear_softmax._chunks import (
    chunk_bounds, ctx_chunk, fallback_context, logits_rows, matmul_into, run_phase_parallel, sum_in_order,
    update_chunk, update_step_size, voc_chunk,
)
from sims.linear_softmax._constants import (
    GAP_FLOOR, HP_ADAM_EPS, HP_BETA1, HP_BETA2, HP_LR, HP_LR_MAX, HP_POWER, METHOD_ADAM, METHOD_NGD, PHASE_CTX,
    PHASE_GRAD, PHASE_LOGITS, PHASE_UPDATE, PHASE_VOC, SCHED_LOSS, SCHED_POWER, SO_MAX, TINY_LANES,
)
from sims.linear_softmax._exp import exp_scalar
from sims.linear_softmax._metrics import checkpoint, first_record, gap_lr


def make_drive(parallel):
    """Build the chunked driver, serial (``parallel=False``) or with the chunks of
    each phase on numba threads (``parallel=True``), from one definition.

    One step: the residual (``ncc`` context chunks), the loss gap if needed,
    eta_k, the checkpoint if k is recorded, then the gradient GEMM and update
    (``nvc`` vocabulary chunks; NGD needs the global gradient norm first, so it
    updates in a separate pass). In the primal the logits GEMM is split by
    vocabulary rows and done right after the update of the same rows (and once
    before the first step): rows of W_r against all contexts make a GEMM of a
    better shape for BLAS than all rows against a chunk of contexts (measured
    2-5% faster per step at (1000, 256, 1000)). At a checkpoint of a primal BLAS
    problem the gradient phase runs first (also at the last step) and the
    checkpoint takes the gradient norm from it instead of doing its own GEMM.

    ``parallel`` is a compile-time constant of the closure, so numba prunes the
    other branch of every ``if parallel``: the serial driver calls the chunk
    workers directly in plain loops (no parallel code is compiled for small
    problems, and no extra call level: each one costs atomic reference counting
    of every array argument, measured +0.7 us per step at (20, 10, 30) for a
    prange runner inlined into the serial driver); the parallel one runs each
    phase through :func:`run_phase_parallel`. The chunks and their arithmetic
    are the same, hence bitwise the same result for any number of threads.
    ``pb.tiny`` is ignored.
    """

    @njit(cache=True, nogil=True, error_model="numpy")
    def drive(k0, nsteps, rec, pb, hy, st, sc, rf):
        """Run steps k0 .. k0+nsteps-1 in place; record at the steps in ``rec.steps``.

        Returns the index of the next checkpoint row; the state arrays (Wr, A, Lt,
        mom1, mom2) end at W_{k0+nsteps}.
        """
        rec_steps = rec.steps
        method = hy.method
        schedule = hy.schedule
        hp = hy.hp
        dual = pb.dual
        use_blas = pb.use_blas
        nvc = pb.nvc
        ncc = pb.ncc
        Xt_blk = pb.Xt_blk
        X = pb.X
        K = pb.K
        inS = pb.inS
        sup = pb.sup
        pi_blk = pb.pi_blk
        Wr = st.Wr
        A = st.A
        Lt = st.Lt
        mom1 = st.mom1
        mom2 = st.mom2
        Rt = sc.Rt
        Gb = sc.Gb
        stat = sc.stat
        gapj = sc.gapj
        partial = sc.partial
        primal = not dual
        irec = first_record(rec_steps, k0)
        nrec = rec_steps.shape[0]
        kend = k0 + nsteps
        V = Rt.shape[0]
        if primal:
            if parallel:
                run_phase_parallel(PHASE_LOGITS, nvc, primal, use_blas, False, method, 0.0, k0 + 1, hp, Wr, Xt_blk,
                                   Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
            else:
                for c in range(nvc):
                    v0, v1 = chunk_bounds(c, V, nvc)
                    logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)
        for k in range(k0, kend + 1):
            is_rec = irec < nrec and rec_steps[irec] == k
            need_gap = is_rec or schedule == SCHED_LOSS
            if parallel:
                run_phase_parallel(PHASE_CTX, ncc, primal, use_blas, need_gap, method, 0.0, k + 1, hp, Wr, Xt_blk,
                                   Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
            else:
                for c in range(ncc):
                    ctx_chunk(c, ncc, need_gap, Lt, inS, sup, pi_blk, Rt, stat, gapj)
            gap, lr_k = gap_lr(need_gap, gapj, k, method, schedule, hp)
            split = is_rec and primal and use_blas  # gradient first, update after the checkpoint
            if split:
                if parallel:
                    run_phase_parallel(PHASE_GRAD, nvc, primal, use_blas, need_gap, method, lr_k, k + 1, hp, Wr,
                                       Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1,
                                       mom2)
                else:
                    for c in range(nvc):
                        voc_chunk(c, dual, use_blas, method, lr_k, k + 1, hp, Rt, X, K, Gb, partial, Wr, A, Lt,
                                  mom1, mom2, Xt_blk, True)
            if is_rec:
                gnorm = np.sqrt(sum_in_order(partial)) if split else np.nan
                checkpoint(k, gap, lr_k, irec, rec, pb, st, sc, rf, gnorm)
                irec += 1
            if k == kend:
                break
            if not split:
                if parallel:
                    run_phase_parallel(PHASE_VOC, nvc, primal, use_blas, need_gap, method, lr_k, k + 1, hp, Wr,
                                       Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1,
                                       mom2)
                else:
                    for c in range(nvc):
                        voc_chunk(c, dual, use_blas, method, lr_k, k + 1, hp, Rt, X, K, Gb, partial, Wr, A, Lt,
                                  mom1, mom2, Xt_blk)
            if split or method == METHOD_NGD:
                s = update_step_size(method, lr_k, partial)
                if s != 0.0:  # (else W and with it the logits stay)
                    if parallel:
                        run_phase_parallel(PHASE_UPDATE, nvc, primal, use_blas, need_gap, method, s, k + 1, hp, Wr,
                                           Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A,
                                           mom1, mom2)
                    else:
                        for c in range(nvc):
                            update_chunk(c, dual, use_blas, method, s, k + 1, hp, Rt, Gb, partial, Wr, A, Lt,
                                         mom1, mom2, Xt_blk)
        return irec

    return drive


drive_serial = make_drive(False)
drive_parallel = make_drive(True)


def make_drive_tiny(sizes):
    """Build :func:`drive_tiny`, generic (``sizes=None``) or for fixed (m, V, r).

    With fixed sizes the loop bounds are compile-time constants (closure
    variables are frozen by numba), so LLVM unrolls the tiny loops completely
    and no loop-control or vectorisation run-time checks remain; this is what
    a jit compiler that specialises on shapes (XLA) does. The arithmetic is the
    same in both versions. Closures are cached on disk per size (numba keys the
    cache on the closure variables).
    """
    fixed = sizes is not None
    m_fix, v_fix, r_fix = sizes if fixed else (0, 0, 0)

    @njit(cache=True, nogil=True, error_model="numpy")
    def drive_tiny(k0, nsteps, rec, pb, hy, st, sc, rf):
        """:func:`drive_serial` for tiny primal problems (one context block, explicit loops).

        The whole step is in the body of the loop itself: every call of a numba
        function with array arguments costs two atomic reference-count updates
        per array, which is what a tiny step would otherwise spend its time on.
        The exps of all m V logits go through one flat buffer padded to a
        multiple of TINY_LANES, so that they vectorise. Same arithmetic in the
        same order as :func:`drive_serial` with ``use_blas=False`` (``matmul_into``,
        ``residual_block``, ``apply_update``), hence bitwise the same iterates.
        """
        rec_steps = rec.steps
        method = hy.method
        schedule = hy.schedule
        hp = hy.hp
        X = pb.X
        inS = pb.inS
        sup = pb.sup
        pi_blk = pb.pi_blk
        Wr = st.Wr
        Lt = st.Lt
        mom1 = st.mom1
        mom2 = st.mom2
        Rt = sc.Rt
        Gb = sc.Gb
        gapj = sc.gapj
        if fixed:
            m = m_fix
            V = v_fix
            r = r_fix
        else:
            V, r = Wr.shape
            m = X.shape[0]
        irec = first_record(rec_steps, k0)
        nrec = rec_steps.shape[0]
        kend = k0 + nsteps
        lr = hp[HP_LR]
        power = hp[HP_POWER]
        lr_max = hp[HP_LR_MAX]
        b1 = hp[HP_BETA1]
        b2 = hp[HP_BETA2]
        aeps = hp[HP_ADAM_EPS]
        sup_v, sup_p, sup_lp, n_sup = sup
        n = V * m
        npad = ((n + TINY_LANES - 1) // TINY_LANES) * TINY_LANES
        # flat (v, j) buffers of the shifted logits and their exps (padding: exp(0))
        zb = np.zeros(npad)
        eb = np.zeros(npad)
        # per-context constants, separate allocations (see residual_block)
        mS = np.empty(m)
        sO = np.empty(m)
        inv = np.empty(m)
        cfac = np.empty(m)
        ofac = np.empty(m)
        L = Lt[0]
        inS0 = inS[0]
        pi0 = pi_blk[0]
        gap0 = gapj[0]
        for k in range(k0, kend + 1):
            is_rec = irec < nrec and rec_steps[irec] == k
            need_gap = is_rec or schedule == SCHED_LOSS
            # logits L = W_r X^T (as matmul_into)
            for v in range(V):
                for j in range(m):
                    acc = -0.0
                    for t in range(r):
                        acc += Wr[v, t] * X[j, t]
                    L[v, j] = acc
            # residual (as residual_block)
            for j in range(m):
                a = -np.inf
                for i in range(n_sup[j]):
                    x = L[sup_v[j, i], j]
                    a = x if x > a else a
                mS[j] = a
                sO[j] = -0.0
            for v in range(V):
                for j in range(m):
                    zb[v * m + j] = np.float64(L[v, j]) - np.float64(mS[j])
            for q in range(npad):
                eb[q] = exp_scalar(zb[q])
            for v in range(V):
                for j in range(m):
                    e = eb[v * m + j]
                    Rt[v, j] = e
                    sO[j] += 0.0 if inS0[v, j] else e
            nfall = 0
            for j in range(m):
                sS = -0.0
                for i in range(n_sup[j]):
                    sS += Rt[sup_v[j, i], j]
                if sO[j] <= SO_MAX:
                    den = sS + sO[j]
                    inv[j] = 1.0 / sS
                    cfac[j] = sO[j] / den
                    ofac[j] = pi0[j] / den
                    eps = sO[j] * inv[j]
                else:  # overflow (or NaN): fallback context, recomputed below
                    nfall += 1
                    inv[j] = 0.0
                    cfac[j] = 0.0
                    ofac[j] = 0.0
                    eps = 0.0
                if need_gap:
                    lsS = np.log(sS)
                    kl = 0.0
                    for i in range(n_sup[j]):
                        kl += sup_p[j, i] * (sup_lp[j, i] - ((L[sup_v[j, i], j] - mS[j]) - lsS))
                    gap0[j] = pi0[j] * (kl + np.log1p(eps))
            for v in range(V):
                for j in range(m):
                    x = Rt[v, j]
                    Rt[v, j] = x if inS0[v, j] else x * ofac[j]
            for j in range(m):
                for i in range(n_sup[j]):
                    v = sup_v[j, i]
                    q = Rt[v, j] * inv[j]
                    Rt[v, j] = pi0[j] * ((q - sup_p[j, i]) - q * cfac[j])
            if nfall > 0:
                for j in range(m):
                    if inv[j] == 0.0:
                        g = fallback_context(Lt, sup, 0, j, j, pi0[j], Rt)
                        if need_gap:
                            gap0[j] = g
            # gradient G = R^T X (as matmul_into)
            for v in range(V):
                for t in range(r):
                    acc = -0.0
                    for j in range(m):
                        acc += Rt[v, j] * X[j, t]
                    Gb[v, t] = acc
            gap = np.nan
            if need_gap:
                gap = 0.0
                for j in range(m):
                    gap += gap0[j]
            if schedule == SCHED_POWER:
                lr_k = lr / (k + 1.0) ** power
            elif schedule == SCHED_LOSS:
                lr_k = min(lr / max(gap, GAP_FLOOR), lr_max)
            else:
                lr_k = lr
            if is_rec:
                checkpoint(k, gap, lr_k, irec, rec, pb, st, sc, rf)
                irec += 1
            if k == kend:
                break
            # update (as apply_update over all rows)
            if method == METHOD_ADAM:
                kn = k + 1
                bc1 = 1.0 - b1 ** kn
                sbc2 = np.sqrt(1.0 - b2 ** kn)
                stp = lr_k / bc1
                for v in range(V):
                    for t in range(r):
                        g = Gb[v, t]
                        m1 = b1 * mom1[v, t] + (1.0 - b1) * g
                        m2 = b2 * mom2[v, t] + (1.0 - b2) * (g * g)
                        mom1[v, t] = m1
                        mom2[v, t] = m2
                        Wr[v, t] -= stp * m1 / (np.sqrt(m2) / sbc2 + aeps)
            else:
                s = lr_k
                if method == METHOD_NGD:
                    g2 = 0.0
                    for v in range(V):
                        for t in range(r):
                            g2 += Gb[v, t] * Gb[v, t]
                    s = lr_k / np.sqrt(g2) if g2 > 0.0 else 0.0
                if s != 0.0:
                    for v in range(V):
                        for t in range(r):
                            Wr[v, t] -= s * Gb[v, t]
        return irec

    return drive_tiny


drive_tiny = make_drive_tiny(None)
_TINY_FIXED = {}


def drive_tiny_fixed(m, V, r):
    """:func:`drive_tiny` compiled for the sizes (m, V, r) (memoised)."""
    key = (int(m), int(V), int(r))
    if key not in _TINY_FIXED:
        _TINY_FIXED[key] = make_drive_tiny(key)
    return _TINY_FIXED[key]


def has_drive_tiny_fixed(m, V, r):
    """Whether :func:`drive_tiny_fixed` (m, V, r) exists in this process already."""
    return (int(m), int(V), int(r)) in _TINY_FIXED


@njit(cache=True, error_model="numpy")
def init_logits(Wr, Xt_blk, Lt, use_blas):
    """Lt[c] = W_r X_c^T for every context block (initial logits of the dual form)."""
    for c in range(Lt.shape[0]):
        matmul_into(Wr, Xt_blk[c], Lt[c], use_blas)


@njit(cache=True, error_model="numpy")
def matmul(a, b, out, use_blas):
    """out = a @ b with the kernels' deterministic loops (or BLAS)."""
    matmul_into(a, b, out, use_blas)
