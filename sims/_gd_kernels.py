"""Numba kernels of :mod:`sims.gd` (private).

Everything here works on arrays prepared by :mod:`sims.gd`; nothing validates.
The whole optimisation loop, including the recording of metrics and of W copies
at checkpoints, runs inside :func:`drive` (no Python work per step).

Layout (see ``sims.gd`` for the maths)
--------------------------------------
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
* ``drive_tiny``: the primal step fused in the loop body, for tiny problems;
  :func:`drive_tiny_fixed` builds the same driver with (m, V, r) as
  compile-time constants (its loops unroll completely).
* At a checkpoint of a primal BLAS run the gradient phase runs before the
  metrics (which take ||grad|| from it) and the update after them.

Performance notes: every call of a numba function with array arguments costs
two atomic reference-count updates per array (and every array view one pair),
so hot loops index arrays directly and tiny steps make no calls; arrays written
in the same loop are separate allocations so that LLVM can vectorise; exp is an
inlined polynomial (:func:`exp_scalar`) that vectorises without fastmath (numba's
SVML path is not available: the pip llvmlite is not SVML-patched); sums start
from -0.0 (x + (-0.0) == x exactly, so the first addition folds away), which
shortens the dependency chain that bounds a tiny step.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

METHOD_GD, METHOD_NGD, METHOD_ADAM = 0, 1, 2
SCHED_CONSTANT, SCHED_POWER, SCHED_LOSS = 0, 1, 2

# hyper-parameter vector
HP_LR, HP_POWER, HP_LR_MAX, HP_BETA1, HP_BETA2, HP_ADAM_EPS = range(6)
N_HP = 6

# metric columns (names in sims.gd.METRIC_NAMES, same order)
(
    M_LOSS, M_GAP, M_NORM, M_COS_MM, M_COS_MM_CORRECTED, M_COS_PERP_MM, M_DIST_F,
    M_NORM_F, M_NORM_PERP, M_PERP_RESIDUAL, M_TILDE_RESIDUAL, M_MARGIN, M_MARGIN_GAP,
    M_COLSUM_MAXABS, M_COLSUM_DRIFT, M_GRAD_NORM, M_LR,
) = range(17)
N_METRICS = 17

# A context whose out-of-support sum eps * s_S = sum_{v not in S} exp(l_v - m_S)
# exceeds SO_MAX = e^600 (an out-of-support logit ~600 above the in-support max)
# uses the plain (global-max) softmax instead of the split form: there the split
# form would overflow, and the plain form is as accurate.
OVERFLOW_GAP = 600.0
SO_MAX = float(np.exp(OVERFLOW_GAP))
# Floor of the loss gap in the loss-adaptive schedule (the gap can underflow to 0).
GAP_FLOOR = 1e-300
# rows of the per-block context constants array (1/s_S, eps/(1+eps), pi/(s_S (1+eps)))
N_STAT = 3

_LN2HI = 6.93147180369123816490e-01
_LN2LO = 1.90821492927058770002e-10
_INVLN2 = 1.44269504088896338700e00
_C2 = 1.0 / 2.0
_C3 = 1.0 / 6.0
_C4 = 1.0 / 24.0
_C5 = 1.0 / 120.0
_C6 = 1.0 / 720.0
_C7 = 1.0 / 5040.0
_C8 = 1.0 / 40320.0
_C9 = 1.0 / 362880.0
_C10 = 1.0 / 3628800.0
_C11 = 1.0 / 39916800.0
_C12 = 1.0 / 479001600.0
_C13 = 1.0 / 6227020800.0


@intrinsic
def _fma(typingctx, a, b, c):
    """Fused multiply-add a*b + c with one rounding (llvm.fma.f64)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


# ----------------------------------------------------------------------------
# exp


@intrinsic
def _bits_to_f64(typingctx, i):
    """Reinterpret the bits of an int64 as a float64 (llvm bitcast)."""
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_to_bits(typingctx, x):
    """Reinterpret the bits of a float64 as an int64 (llvm bitcast)."""
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


# 1.5 * 2^52: t = x / ln2 + _SHIFT lies in [2^52, 2^53), where the spacing is 1,
# so t is rounded to an integer (to nearest) and its low bits hold that integer
_SHIFT = 6755399441055744.0
_SHIFT_BITS = int(np.float64(_SHIFT).view(np.int64))


@njit(cache=True, error_model="numpy", inline="always")
def exp_scalar(x):
    """exp(x) in float64, within 2 ulp of the correctly rounded value.

    Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2 (k = x/ln2 rounded to
    nearest by adding 1.5 * 2^52, which also leaves k in the low bits, so no
    rounding or float-to-int instruction is needed), a degree-13 Taylor
    polynomial in Estrin form with FMAs (truncation < 1e-17), and the scale 2^k
    applied as two exact powers of two built from their bit patterns, so the
    subnormal range is rounded once; 0 below -745.2, inf above 709.8, NaN stays
    NaN. Unlike libm's exp it is inlined and vectorises (no fastmath needed).
    Arguments outside (-746, 710) (and NaN) are mapped to 0, inf (NaN) by a
    final select, not by clamping the input, which keeps the range check off
    the dependency chain (the polynomial's result is exactly what it was with
    a clamped input: 0 at -746 and inf at 710).
    """
    t = _fma(x, _INVLN2, _SHIFT)
    k = t - _SHIFT
    r = _fma(-k, _LN2LO, _fma(-k, _LN2HI, x))
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    a0 = _fma(1.0, r, 1.0)
    a1 = _fma(_C3, r, _C2)
    a2 = _fma(_C5, r, _C4)
    a3 = _fma(_C7, r, _C6)
    a4 = _fma(_C9, r, _C8)
    a5 = _fma(_C11, r, _C10)
    a6 = _fma(_C13, r, _C12)
    b0 = _fma(a1, r2, a0)
    b1 = _fma(a3, r2, a2)
    b2 = _fma(a5, r2, a4)
    d0 = _fma(b1, r4, b0)
    d1 = _fma(a6, r4, b2)
    p = _fma(d1, r8, d0)
    ki = _f64_to_bits(t) - _SHIFT_BITS
    k1 = ki >> 1
    y = (p * _bits_to_f64((k1 + 1023) << 52)) * _bits_to_f64((ki - k1 + 1023) << 52)
    in_range = (x > -746.0) & (x < 710.0)
    return y if in_range else (0.0 if x <= -746.0 else x + np.inf)


@njit(cache=True, error_model="numpy")
def exp_shift_row(src, shift, dst):
    """dst[j] = exp(src[j] - shift[j]) (see :func:`exp_scalar`), contiguous 1-D arrays."""
    for j in range(src.shape[0]):
        dst[j] = exp_scalar(np.float64(src[j]) - np.float64(shift[j]))


# ----------------------------------------------------------------------------
# small dense products (explicit loops or BLAS); all outputs overwritten


@njit(cache=True, error_model="numpy")
def _matmul(a, b, out, use_blas):
    """out = a @ b for C-contiguous 2-D arrays (axpy-ordered loops or BLAS).

    The loops index the arrays directly (no row views: each view costs an atomic
    reference-count increment and decrement, which dominates small products).
    """
    if use_blas:
        np.dot(a, b, out)
        return
    n, kk = a.shape
    p = b.shape[1]
    for i in range(n):
        for t in range(p):
            out[i, t] = -0.0  # x + (-0.0) == x exactly, so the first addition folds away
        for q in range(kk):
            aiq = a[i, q]
            for t in range(p):
                out[i, t] += aiq * b[q, t]


# ----------------------------------------------------------------------------
# residual of one context block


@njit(cache=True, error_model="numpy")
def residual_block(Lt_c, inS_c, sup, pi_c, Rt, j0, mS, sS, sO, stat_c, gap_c, need_gap, ja=0, jb=-1):
    """Stable residual pi_j (softmax(l_j) - p_j) of one block of contexts.

    With m_S = max_{z in S_j} l_z, E_v = exp(l_v - m_S), s_S = sum_{z in S} E_z,
    q_z = E_z / s_S (softmax over S_j) and eps = sum_{v not in S} E_v / s_S:

    * in-support     r_z = pi_j [(q_z - p_z) - q_z eps / (1 + eps)]
    * out-of-support r_v = pi_j (E_v / s_S) / (1 + eps)

    (numerics spec section 2), with eps / (1 + eps) = s_O / (s_S + s_O) and
    pi_j / (s_S (1 + eps)) = pi_j / (s_S + s_O), s_O = eps s_S. Writes
    Rt[:, j0:j0+mc]; if ``need_gap`` also the per-context loss gap
    gap_c[jj] = pi_j KL(p_j || softmax(l_j)) computed as
    sum_{z in S_j} p_z (log p_z - (l_z - m_S - log s_S)) + log1p(eps).

    Two dense passes over the (V, mc) block (exp with the masked sum of eps, and
    the out-of-support residual); everything in-support goes through the sparse
    lists ``sup = (sup_v, sup_p, sup_logp, n_sup)`` (rows = contexts, tokens in
    increasing order), so the dense P is never read. A context whose eps sum
    exceeds SO_MAX (an out-of-support logit above m_S + ~600) is recomputed by
    :func:`fallback_context`. Only the columns ja:jb (default all) are done:
    each context's arithmetic does not depend on which others are done with it.
    """
    sup_v, sup_p, sup_lp, n_sup = sup
    V, mc = Lt_c.shape
    # unsigned column indices: with a signed runtime offset (j0 + jj) numba wraps
    # negative indices, which keeps LLVM from vectorising the column loops
    j0 = np.uint64(j0)
    ua = np.uint64(ja)
    ub = np.uint64(mc if jb < 0 else jb)
    # mS, sS, sO (mc,) are separate allocations (not rows of one array):
    # LLVM cannot vectorise loops that write two rows of the same array
    for jj in range(ua, ub):
        j = j0 + jj
        a = -np.inf
        for i in range(n_sup[j]):
            x = Lt_c[sup_v[j, i], jj]
            a = x if x > a else a
        mS[jj] = a
        sO[jj] = -0.0
    for v in range(V):
        for jj in range(ua, ub):
            e = exp_scalar(np.float64(Lt_c[v, jj]) - np.float64(mS[jj]))
            Rt[v, j0 + jj] = e
            sO[jj] += 0.0 if inS_c[v, jj] else e
    inv = stat_c[0]
    cfac = stat_c[1]
    ofac = stat_c[2]
    nfall = 0
    for jj in range(ua, ub):
        j = j0 + jj
        acc = -0.0
        for i in range(n_sup[j]):
            acc += Rt[sup_v[j, i], j]
        sS[jj] = acc
        if sO[jj] <= SO_MAX:
            # eps / (1 + eps) = s_O / (s_S + s_O) and pi / (s_S (1 + eps)) = pi / (s_S + s_O):
            # three divisions side by side instead of a chain of two
            den = acc + sO[jj]
            inv[jj] = 1.0 / acc
            cfac[jj] = sO[jj] / den
            ofac[jj] = pi_c[jj] / den
            sO[jj] = sO[jj] * inv[jj]  # eps, for the loss gap
        else:  # overflow (or NaN): fallback context, recomputed below
            nfall += 1
            inv[jj] = 0.0
            cfac[jj] = 0.0
            ofac[jj] = 0.0
            sO[jj] = 0.0
    for v in range(V):
        for jj in range(ua, ub):
            x = Rt[v, j0 + jj]
            Rt[v, j0 + jj] = x if inS_c[v, jj] else x * ofac[jj]
    for jj in range(ua, ub):
        j = j0 + jj
        for i in range(n_sup[j]):
            v = sup_v[j, i]
            q = Rt[v, j] * inv[jj]
            Rt[v, j] = pi_c[jj] * ((q - sup_p[j, i]) - q * cfac[jj])
    if need_gap:
        for jj in range(ua, ub):
            j = j0 + jj
            lsS = np.log(sS[jj])
            kl = 0.0
            for i in range(n_sup[j]):
                kl += sup_p[j, i] * (sup_lp[j, i] - ((Lt_c[sup_v[j, i], jj] - mS[jj]) - lsS))
            gap_c[jj] = pi_c[jj] * (kl + np.log1p(sO[jj]))
    if nfall > 0:
        for jj in range(ua, ub):
            if inv[jj] == 0.0:
                g = _fallback_2d(Lt_c, sup, j0, jj, pi_c[jj], Rt)
                if need_gap:
                    gap_c[jj] = g


@njit(cache=True, error_model="numpy")
def _fallback_2d(Lt_c, sup, j0, jj, pi_j, Rt):
    """fallback_context for one block given as a 2-D array (V, mc)."""
    return fallback_context(Lt_c.reshape((1,) + Lt_c.shape), sup, 0, jj, j0 + jj, pi_j, Rt)


@njit(cache=True, error_model="numpy")
def fallback_context(Lt, sup, c, jj, j, pi_j, Rt):
    """Plain softmax with the global max for context j = (block c, column jj) whose
    out-of-support logits dominate (there the split form would overflow; this one
    is as accurate). Writes Rt[:, j]; returns pi_j * KL(p_j || softmax)."""
    sup_v, sup_p, sup_lp, n_sup = sup
    V = Lt.shape[1]
    mm = -np.inf
    for v in range(V):
        if Lt[c, v, jj] > mm:
            mm = Lt[c, v, jj]
    z = 0.0
    for v in range(V):
        z += np.exp(Lt[c, v, jj] - mm)
    lz = np.log(z)
    for v in range(V):
        Rt[v, j] = pi_j * np.exp(Lt[c, v, jj] - mm - lz)
    kl0 = 0.0
    for i in range(n_sup[j]):
        v = sup_v[j, i]
        Rt[v, j] = pi_j * (np.exp(Lt[c, v, jj] - mm - lz) - sup_p[j, i])
        kl0 += sup_p[j, i] * (sup_lp[j, i] - (Lt[c, v, jj] - mm - lz))
    return pi_j * kl0


# ----------------------------------------------------------------------------
# phases (serial and parallel drivers over the same chunk workers)


@njit(cache=True, error_model="numpy")
def _ctx_chunk(c, nchunks, need_gap, Lt, inS, sup, pi_blk, Rt, stat, gapj):
    """Residual of context chunk c of nchunks: block c of the blocked (dual)
    layout, or the columns of chunk c of the single block of the primal layout."""
    nc, _, mc = Lt.shape
    # (int64 throughout: a prange index may be unsigned, and numba unifies
    # unsigned with signed integers to float)
    b = np.int64(c) if nc > 1 else np.int64(0)
    ja, jb = _chunk_bounds(np.int64(c), mc, nchunks) if nc == 1 else (np.int64(0), np.int64(mc))
    residual_block(Lt[b], inS[b], sup, pi_blk[b], Rt, b * mc, stat[0][b], stat[1][b], stat[2][b], stat[3][b],
                   gapj[b], need_gap, ja, jb)


@njit(cache=True, error_model="numpy")
def _chunk_bounds(c, n, nchunks):
    return (c * n) // nchunks, ((c + 1) * n) // nchunks


@njit(cache=True, error_model="numpy", inline="always")
def _logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt):
    """Primal logits of vocabulary rows v0:v1 (single context block): Lt[0, v0:v1] = W_r[v0:v1] X^T."""
    if v1 > v0:
        _matmul(Wr[v0:v1], Xt_blk[0], Lt[0][v0:v1], use_blas)


@njit(cache=True, error_model="numpy", inline="always")
def _apply_update(v0, v1, dual, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2):
    """Update rows v0:v1 with step size s (GD/NGD: already divided by ||grad||)."""
    if dual:
        mc = Lt.shape[2]
        nc = Lt.shape[0]
        for v in range(v0, v1):
            for t in range(A.shape[1]):
                A[v, t] += s * Rt[v, t]
            for c in range(nc):
                off = np.uint64(c * mc)  # unsigned: no index wrap-around, so the loop vectorises
                for jj in range(np.uint64(mc)):
                    Lt[c, v, jj] -= s * Gb[v, off + jj]
        return
    r = Wr.shape[1]
    if method == METHOD_ADAM:
        b1 = hp[HP_BETA1]
        b2 = hp[HP_BETA2]
        aeps = hp[HP_ADAM_EPS]
        bc1 = 1.0 - b1 ** k_next
        sbc2 = np.sqrt(1.0 - b2 ** k_next)
        stp = s / bc1
        for v in range(v0, v1):
            for t in range(r):
                g = Gb[v, t]
                m1 = b1 * mom1[v, t] + (1.0 - b1) * g
                m2 = b2 * mom2[v, t] + (1.0 - b2) * (g * g)
                mom1[v, t] = m1
                mom2[v, t] = m2
                Wr[v, t] -= stp * m1 / (np.sqrt(m2) / sbc2 + aeps)
        return
    for v in range(v0, v1):
        for t in range(r):
            Wr[v, t] -= s * Gb[v, t]


@njit(cache=True, error_model="numpy")
def _voc_chunk(c, dual, use_blas, method, s, k_next, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2, Xt_blk,
               grad_only=False):
    """Gradient rows v0:v1 of chunk c, then their update and (primal) the next
    step's logits of these rows; NGD (which needs the global norm first) and
    ``grad_only`` store the chunk's squared norm in partial[c] instead and
    leave the update to :func:`_update_chunk`."""
    V = Rt.shape[0]
    v0, v1 = _chunk_bounds(c, V, partial.shape[0])
    if v1 <= v0:
        partial[c] = 0.0
        return
    if dual:
        _matmul(Rt[v0:v1], K, Gb[v0:v1], use_blas)
    else:
        _matmul(Rt[v0:v1], X, Gb[v0:v1], use_blas)
    if method == METHOD_NGD or grad_only:
        acc = 0.0
        for v in range(v0, v1):
            if dual:
                for t in range(Gb.shape[1]):
                    acc += Gb[v, t] * Rt[v, t]
            else:
                for t in range(Gb.shape[1]):
                    acc += Gb[v, t] * Gb[v, t]
        partial[c] = acc
    else:
        _apply_update(v0, v1, dual, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2)
        if not dual:
            _logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)


@njit(cache=True, error_model="numpy")
def _update_chunk(c, dual, use_blas, method, s, k_next, hp, Rt, Gb, partial, Wr, A, Lt, mom1, mom2, Xt_blk):
    """Update of vocabulary chunk c from the gradient in Gb, then (primal) the
    next step's logits of its rows."""
    v0, v1 = _chunk_bounds(c, Rt.shape[0], partial.shape[0])
    _apply_update(v0, v1, dual, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2)
    if not dual:
        _logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)


# phases of a step: residual (context chunks); gradient and update, gradient
# only (with partial norms), update only, logits only (vocabulary chunks; in the
# primal the update of a chunk of rows is followed by the next step's logits of
# the same rows, so a step has two parallel phases and no barrier between the
# update and the logits GEMM)
PHASE_CTX, PHASE_VOC, PHASE_UPDATE, PHASE_GRAD, PHASE_LOGITS = 0, 1, 2, 3, 4


@njit(cache=True, error_model="numpy")
def _phase_chunk(phase, c, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                 pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2):
    if phase == PHASE_CTX:
        _ctx_chunk(c, nchunks, need_gap, Lt, inS, sup, pi_blk, Rt, stat, gapj)
    elif phase == PHASE_VOC or phase == PHASE_GRAD:
        _voc_chunk(c, not primal, use_blas, method, s, k_next, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2,
                   Xt_blk, phase == PHASE_GRAD)
    elif phase == PHASE_UPDATE:
        _update_chunk(c, not primal, use_blas, method, s, k_next, hp, Rt, Gb, partial, Wr, A, Lt, mom1, mom2,
                      Xt_blk)
    else:
        v0, v1 = _chunk_bounds(c, Rt.shape[0], partial.shape[0])
        _logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)


@njit(cache=True, parallel=True, error_model="numpy")
def phase_parallel(phase, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                   pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2):
    """One phase of a step, chunks in parallel (numba threads; BLAS must be 1-threaded)."""
    for c in prange(nchunks):
        _phase_chunk(phase, c, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS,
                     sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)


# ----------------------------------------------------------------------------
# metrics at a checkpoint


@njit(cache=True, error_model="numpy")
def _dot(a, b):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += np.float64(a[i]) * np.float64(b[i])
    return acc


@njit(cache=True, error_model="numpy")
def current_wr(dual, Wr, Wr0, A, X, out, use_blas):
    """The current W in feature coordinates (V, r): W_r, or W_r0 - A X (dual)."""
    if not dual:
        out[:, :] = Wr
        return
    _matmul(A, X, out, use_blas)
    for v in range(out.shape[0]):
        for t in range(out.shape[1]):
            out[v, t] = Wr0[v, t] - out[v, t]


@njit(cache=True, error_model="numpy")
def metrics(k, gap, lr_k, entropy, Lt, inS, valid, Rt, X, Wc, refs, has_ref, cp, B, s0, sr0,
            f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm, row, use_blas, gscratch, grad_norm=np.nan):
    """Fill ``row`` (N_METRICS,) at step k from the logits Lt and W_r = Wc.

    ``grad_norm``: ||R^T X|| if the driver has it already (the gradient of step
    k, computed by its chunked gradient phase), else NaN: then one GEMM here.

    Frobenius inner products split into the feature part (V x r) and a constant
    part from the components orthogonal to the feature space, whose Gram matrix
    ``cp`` over [W0_perp, W*_perp, Wmm_perp, W~_perp] is precomputed.
    ||P_F(W) - W*||^2 = (b - b*)^T G_F^+ (b - b*), with b the in-support logit
    differences (l_{j,a} - l_{j,b}) of the generators (e_a - e_b) h_j^T of F and
    G_F^+ = KF KF^T their Gram pseudo-inverse.
    """
    V, r = Wc.shape
    nan = np.nan
    for i in range(row.shape[0]):
        row[i] = nan
    row[M_GAP] = gap
    row[M_LOSS] = entropy + gap
    row[M_LR] = lr_k
    flat = Wc.ravel()
    nrm2 = _dot(flat, flat) + cp[0, 0]
    nrm = np.sqrt(max(nrm2, 0.0))
    row[M_NORM] = nrm
    has_star = has_ref[0]
    has_mm = has_ref[1]
    has_tilde = has_ref[2]
    # F components (has_ref[3]: the F structure is available)
    if has_ref[3]:
        nF = f_a.shape[0]
        rF = KF.shape[1]
        b = gscratch[0, :nF]
        for i in range(nF):
            c = f_blk[i]
            jj = f_loc[i]
            b[i] = Lt[c, f_a[i], jj] - Lt[c, f_b[i], jj]
        npf2 = 0.0
        dF2 = 0.0
        for t in range(rF):
            y = 0.0
            y2 = 0.0
            for i in range(nF):
                y += KF[i, t] * b[i]
                y2 += KF[i, t] * (b[i] - bstar[i])
            npf2 += y * y
            dF2 += y2 * y2
        row[M_NORM_F] = np.sqrt(npf2)
        if has_star:
            row[M_DIST_F] = np.sqrt(dF2)
        nperp = np.sqrt(max(nrm2 - npf2, 0.0))
        row[M_NORM_PERP] = nperp
    else:
        npf2 = nan
        nperp = nan
    star = refs[0].ravel()
    mm = refs[1].ravel()
    tl = refs[2].ravel()
    if has_mm:
        ip = _dot(flat, mm) + cp[0, 2]
        row[M_COS_MM] = ip / (nrm * wmm_norm)
        row[M_COS_PERP_MM] = ip / (nperp * wmm_norm)
        if has_star:
            a2 = 0.0
            ip2 = 0.0
            for i in range(flat.shape[0]):
                dw = flat[i] - star[i]
                a2 += dw * dw
                ip2 += dw * mm[i]
            a2 += cp[0, 0] - 2.0 * cp[0, 1] + cp[1, 1]
            ip2 += cp[0, 2] - cp[1, 2]
            row[M_COS_MM_CORRECTED] = ip2 / (np.sqrt(max(a2, 0.0)) * wmm_norm)
        if k >= 1:
            lk = np.log(np.float64(k))
            a3 = 0.0
            for i in range(flat.shape[0]):
                dw = flat[i] - lk * mm[i]
                a3 += dw * dw
            a3 += cp[0, 0] - 2.0 * lk * cp[0, 2] + lk * lk * cp[2, 2]
            # ||W - log k W^mm||^2 = ||P_F W||^2 + ||P_perp W - log k W^mm||^2 (W^mm in F-perp)
            if has_ref[3]:
                row[M_PERP_RESIDUAL] = np.sqrt(max(a3 - npf2, 0.0))
            if has_tilde and has_star:
                a4 = 0.0
                for i in range(flat.shape[0]):
                    dw = flat[i] - star[i] - lk * mm[i] - tl[i]
                    a4 += dw * dw
                coef = np.array([1.0, -1.0, -lk, -1.0])
                for p in range(4):
                    for q in range(4):
                        a4 += coef[p] * coef[q] * cp[p, q]
                row[M_TILDE_RESIDUAL] = np.sqrt(max(a4, 0.0))
    # NTP margin min_{j, z in S_j, v not in S_j} (l_z - l_v) / ||W||
    # (per block: running min / max over v of every context at once, contiguous
    # and branch-free, so that the pass over the m x V logits vectorises)
    nc, _, mc = Lt.shape
    mg = np.inf
    lo = np.empty(mc)
    hi = np.empty(mc)
    for c in range(nc):
        for jj in range(mc):
            lo[jj] = np.inf
            hi[jj] = -np.inf
        for v in range(V):
            for jj in range(mc):
                x = np.float64(Lt[c, v, jj])
                s_in = inS[c, v, jj]
                lo[jj] = x if (s_in and x < lo[jj]) else lo[jj]
                hi[jj] = x if (not s_in and x > hi[jj]) else hi[jj]
        for jj in range(mc):
            if valid[c, jj] and hi[jj] > -np.inf and lo[jj] - hi[jj] < mg:
                mg = lo[jj] - hi[jj]
    if mg < np.inf:
        row[M_MARGIN] = mg / nrm
        if has_mm:
            row[M_MARGIN_GAP] = 1.0 / wmm_norm - mg / nrm
    # column sums 1^T W = (1^T W_r) B^T + 1^T W0_perp
    d = B.shape[0]
    sr = gscratch[1, :r]
    for t in range(r):
        sr[t] = 0.0
    for v in range(V):
        for t in range(r):
            sr[t] += Wc[v, t]
    cmax = 0.0
    dmax = 0.0
    for i in range(d):
        s = 0.0
        ds = 0.0
        for t in range(r):
            s += B[i, t] * sr[t]
            ds += B[i, t] * (sr[t] - sr0[t])
        s += s0[i]
        cmax = max(cmax, abs(s))
        dmax = max(dmax, abs(ds))
    row[M_COLSUM_MAXABS] = cmax
    row[M_COLSUM_DRIFT] = dmax
    # gradient norm ||R^T X||
    if grad_norm == grad_norm:
        row[M_GRAD_NORM] = grad_norm
        return
    G = np.empty((V, r), dtype=Wc.dtype)
    _matmul(Rt, X, G, use_blas)
    g2 = 0.0
    for v in range(V):
        for t in range(r):
            g2 += np.float64(G[v, t]) * np.float64(G[v, t])
    row[M_GRAD_NORM] = np.sqrt(g2)


# ----------------------------------------------------------------------------
# the driver


@njit(cache=True, error_model="numpy")
def step_size(k, gap, method, schedule, hp):
    lr = hp[HP_LR]
    if schedule == SCHED_POWER:
        return lr / (k + 1.0) ** hp[HP_POWER]
    if schedule == SCHED_LOSS:
        return min(lr / max(gap, GAP_FLOOR), hp[HP_LR_MAX])
    return lr


@njit(cache=True, error_model="numpy")
def _gap_lr(need_gap, gapj, k, method, schedule, hp):
    """Loss gap (sum of the per-context terms in a fixed order) and eta_k."""
    gap = np.nan
    if need_gap:
        gap = 0.0
        for c in range(gapj.shape[0]):
            for jj in range(gapj.shape[1]):
                gap += gapj[c, jj]
    return gap, step_size(k, gap, method, schedule, hp)


@njit(cache=True, error_model="numpy")
def _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS, valid, Rt,
                X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a, f_b, KF,
                bstar, wmm_norm, grad_norm=np.nan):
    current_wr(dual, Wr, Wr0, A, X, Wc, use_blas)
    metrics(k, gap, lr_k, entropy, Lt, inS, valid, Rt, X, Wc, refs, has_ref, cp, B, s0, sr0,
            f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm, out_metrics[irec], use_blas, gscratch, grad_norm)
    if record_W:
        outw = out_W[irec]
        _matmul(Wc.astype(np.float64), B.T.copy(), outw, use_blas)
        for v in range(outw.shape[0]):
            for i in range(outw.shape[1]):
                outw[v, i] += W0p[v, i]


@njit(cache=True, error_model="numpy")
def _first_record(rec_steps, k0):
    irec = 0
    while irec < rec_steps.shape[0] and rec_steps[irec] < k0:
        irec += 1
    return irec


@njit(cache=True, nogil=True, error_model="numpy")
def drive(k0, nsteps, rec_steps, out_metrics, out_W, record_W,
          method, schedule, hp, dual, use_blas, tiny, nvc, ncc,
          Xt_blk, X, K, inS, sup, pi_blk, valid, entropy,
          Wr, Wr0, A, Lt, mom1, mom2,
          Rt, Gb, stat, gapj, partial, Wc, gscratch,
          refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm):
    """Run steps k0 .. k0+nsteps-1 in place (serial); record at the steps in rec_steps.

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
    Returns the number of checkpoints written; the state arrays (Wr, A, Lt,
    mom1, mom2) end at W_{k0+nsteps}.
    """
    primal = not dual
    irec = _first_record(rec_steps, k0)
    nrec = rec_steps.shape[0]
    kend = k0 + nsteps
    V = Rt.shape[0]
    if primal:
        for c in range(nvc):
            v0, v1 = _chunk_bounds(c, V, nvc)
            _logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)
    for k in range(k0, kend + 1):
        is_rec = irec < nrec and rec_steps[irec] == k
        need_gap = is_rec or schedule == SCHED_LOSS
        # the chunk workers are called directly (each call level costs atomic
        # reference counting of all its array arguments)
        for c in range(ncc):
            _ctx_chunk(c, ncc, need_gap, Lt, inS, sup, pi_blk, Rt, stat, gapj)
        gap, lr_k = _gap_lr(need_gap, gapj, k, method, schedule, hp)
        split = is_rec and primal and use_blas  # gradient first, update after the checkpoint
        if split:
            for c in range(nvc):
                _voc_chunk(c, dual, use_blas, method, lr_k, k + 1, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1,
                           mom2, Xt_blk, True)
        if is_rec:
            gnorm = np.sqrt(_sum(partial)) if split else np.nan
            _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS, valid,
                        Rt, X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a,
                        f_b, KF, bstar, wmm_norm, gnorm)
            irec += 1
        if k == kend:
            break
        if not split:
            for c in range(nvc):
                _voc_chunk(c, dual, use_blas, method, lr_k, k + 1, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1,
                           mom2, Xt_blk)
        if split or method == METHOD_NGD:
            s = _update_step(method, lr_k, partial)
            if s != 0.0:  # (else W and with it the logits stay)
                for c in range(nvc):
                    _update_chunk(c, dual, use_blas, method, s, k + 1, hp, Rt, Gb, partial, Wr, A, Lt, mom1, mom2,
                                  Xt_blk)
    return irec


@njit(cache=True, error_model="numpy")
def _sum(a):
    """Sum of a 1-D array in index order."""
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i]
    return acc


@njit(cache=True, error_model="numpy")
def _update_step(method, lr_k, partial):
    """Step size of an update applied after the gradient phase: eta_k, or for NGD
    eta_k / ||grad|| (0, i.e. no update, when the gradient is 0)."""
    if method != METHOD_NGD:
        return lr_k
    g2 = _sum(partial)
    return lr_k / np.sqrt(g2) if g2 > 0.0 else 0.0


# lanes of the flat exp buffer of the tiny kernel (its length is padded to a
# multiple, so the vectorised exp loop has no scalar remainder)
TINY_LANES = 8


def _make_drive_tiny(sizes):
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
    def drive_tiny(k0, nsteps, rec_steps, out_metrics, out_W, record_W,
                   method, schedule, hp, dual, use_blas, tiny, nvc, ncc,
                   Xt_blk, X, K, inS, sup, pi_blk, valid, entropy,
                   Wr, Wr0, A, Lt, mom1, mom2,
                   Rt, Gb, stat, gapj, partial, Wc, gscratch,
                   refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm):
        """:func:`drive` for tiny primal problems (one context block, explicit loops).

        The whole step is in the body of the loop itself: every call of a numba
        function with array arguments costs two atomic reference-count updates
        per array, which is what a tiny step would otherwise spend its time on.
        The exps of all m V logits go through one flat buffer padded to a
        multiple of TINY_LANES, so that they vectorise. Same arithmetic in the
        same order as :func:`drive` with ``use_blas=False`` (``_matmul``,
        ``residual_block``, ``_apply_update``), hence bitwise the same iterates.
        """
        if fixed:
            m = m_fix
            V = v_fix
            r = r_fix
        else:
            V, r = Wr.shape
            m = X.shape[0]
        irec = _first_record(rec_steps, k0)
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
            # logits L = W_r X^T (as _matmul)
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
            # gradient G = R^T X (as _matmul)
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
                _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS,
                            valid, Rt, X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk,
                            f_loc, f_a, f_b, KF, bstar, wmm_norm)
                irec += 1
            if k == kend:
                break
            # update (as _apply_update over all rows)
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


drive_tiny = _make_drive_tiny(None)
_TINY_FIXED = {}


def drive_tiny_fixed(m, V, r):
    """:func:`drive_tiny` compiled for the sizes (m, V, r) (memoised)."""
    key = (int(m), int(V), int(r))
    if key not in _TINY_FIXED:
        _TINY_FIXED[key] = _make_drive_tiny(key)
    return _TINY_FIXED[key]


def has_drive_tiny_fixed(m, V, r):
    """Whether :func:`drive_tiny_fixed` (m, V, r) exists in this process already."""
    return (int(m), int(V), int(r)) in _TINY_FIXED


@njit(cache=True, error_model="numpy")
def drive_parallel(k0, nsteps, rec_steps, out_metrics, out_W, record_W,
                   method, schedule, hp, dual, use_blas, tiny, nvc, ncc,
                   Xt_blk, X, K, inS, sup, pi_blk, valid, entropy,
                   Wr, Wr0, A, Lt, mom1, mom2,
                   Rt, Gb, stat, gapj, partial, Wc, gscratch,
                   refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm):
    """:func:`drive` with the chunks of each phase run in parallel (numba threads).

    Same chunks, same arithmetic, so bitwise the same result as :func:`drive`
    for any number of threads. Separate from :func:`drive` so that small
    problems never compile the parallel code. ``tiny`` must be False.
    """
    primal = not dual
    irec = _first_record(rec_steps, k0)
    nrec = rec_steps.shape[0]
    kend = k0 + nsteps
    if primal:
        phase_parallel(PHASE_LOGITS, nvc, primal, use_blas, False, method, 0.0, k0 + 1, hp, Wr, Xt_blk, Lt,
                       inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
    for k in range(k0, kend + 1):
        is_rec = irec < nrec and rec_steps[irec] == k
        need_gap = is_rec or schedule == SCHED_LOSS
        phase_parallel(PHASE_CTX, ncc, primal, use_blas, need_gap, method, 0.0, k + 1, hp, Wr, Xt_blk, Lt,
                       inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
        gap, lr_k = _gap_lr(need_gap, gapj, k, method, schedule, hp)
        split = is_rec and primal and use_blas  # as in drive
        if split:
            phase_parallel(PHASE_GRAD, nvc, primal, use_blas, need_gap, method, lr_k, k + 1, hp, Wr, Xt_blk, Lt,
                           inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
        if is_rec:
            gnorm = np.sqrt(_sum(partial)) if split else np.nan
            _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS, valid,
                        Rt, X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a,
                        f_b, KF, bstar, wmm_norm, gnorm)
            irec += 1
        if k == kend:
            break
        if not split:
            phase_parallel(PHASE_VOC, nvc, primal, use_blas, need_gap, method, lr_k, k + 1, hp, Wr, Xt_blk, Lt,
                           inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
        if split or method == METHOD_NGD:
            s = _update_step(method, lr_k, partial)
            if s != 0.0:  # (else W and with it the logits stay)
                phase_parallel(PHASE_UPDATE, nvc, primal, use_blas, need_gap, method, s, k + 1, hp, Wr, Xt_blk,
                               Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
    return irec


@njit(cache=True, error_model="numpy")
def init_logits(Wr, Xt_blk, Lt, use_blas):
    """Lt[c] = W_r X_c^T for every context block (initial logits of the dual form)."""
    for c in range(Lt.shape[0]):
        _matmul(Wr, Xt_blk[c], Lt[c], use_blas)


@njit(cache=True, error_model="numpy")
def matmul(a, b, out, use_blas):
    """out = a @ b with the kernels' deterministic loops (or BLAS)."""
    _matmul(a, b, out, use_blas)
