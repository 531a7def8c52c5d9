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
  element-wise loop over contexts (vectorisable, fixed summation order).
* Supports are sparse lists ``sup = (sup_v, sup_p, sup_logp, n_sup)`` (rows =
  contexts, tokens increasing) plus a dense boolean mask ``inS`` (nc, V, mc); the
  dense P is never read in the loop.
* The residual ``Rt`` (V, m_pad) holds pi_j * (softmax - p_j) transposed.
* Vocabulary rows are split into ``nvc`` chunks for the gradient GEMM and the
  update. The chunking depends on the problem size only, never on the number
  of threads, so results are bitwise identical for any thread count.
* ``primal``: the state is W_r (V, r) in the feature coordinates (row space of
  H, or H itself); one step is Lt = W_r X^T, R, G = R^T X, update.
* ``dual`` (GD and NGD only): W_r = W_r0 - A X with A (V, m_pad) the accumulated
  step-scaled residuals; the logits are updated in place,
  Lt <- Lt - s R^T K with K = X X^T, which costs m^2 V instead of 2 m r V.
* ``drive_tiny``: the primal step fused in the loop body, for tiny problems.

Performance notes: every call of a numba function with array arguments costs
two atomic reference-count updates per array (and every array view one pair),
so hot loops index arrays directly and tiny steps make no calls; arrays written
in the same loop are separate allocations so that LLVM can vectorise; exp is an
inlined polynomial (:func:`exp_scalar`) that vectorises without fastmath.
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
# rows of the per-block context constants array (1/s_S, eps/(1+eps), pi/(1+eps))
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


@njit(cache=True, error_model="numpy", inline="always")
def exp_scalar(x):
    """exp(x) in float64, within 2 ulp of the correctly rounded value.

    Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2, a degree-13 Taylor
    polynomial in Estrin form with FMAs (truncation < 1e-17), and the scale 2^k
    applied as two exact powers of two built from their bit patterns, so the
    subnormal range is rounded once; 0 below -745.2, inf above 709.8, NaN stays
    NaN. Unlike libm's exp it is inlined and vectorises (no fastmath needed).
    """
    x = min(max(x, -746.0), 710.0)
    k = np.floor(x * _INVLN2 + 0.5)
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
    ki = np.int64(k)
    k1 = ki >> 1
    return (p * _bits_to_f64((k1 + 1023) << 52)) * _bits_to_f64((ki - k1 + 1023) << 52)


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
            out[i, t] = 0.0
        for q in range(kk):
            aiq = a[i, q]
            for t in range(p):
                out[i, t] += aiq * b[q, t]


# ----------------------------------------------------------------------------
# residual of one context block


@njit(cache=True, error_model="numpy")
def residual_block(Lt_c, inS_c, sup, pi_c, Rt, j0, mS, sS, sO, stat_c, gap_c, need_gap):
    """Stable residual pi_j (softmax(l_j) - p_j) of one block of contexts.

    With m_S = max_{z in S_j} l_z, E_v = exp(l_v - m_S), s_S = sum_{z in S} E_z,
    q_z = E_z / s_S (softmax over S_j) and eps = sum_{v not in S} E_v / s_S:

    * in-support     r_z = pi_j [(q_z - p_z) - q_z eps / (1 + eps)]
    * out-of-support r_v = pi_j (E_v / s_S) / (1 + eps)

    (numerics spec section 2). Writes Rt[:, j0:j0+mc]; if ``need_gap`` also the
    per-context loss gap gap_c[jj] = pi_j KL(p_j || softmax(l_j)) computed as
    sum_{z in S_j} p_z (log p_z - (l_z - m_S - log s_S)) + log1p(eps).

    Two dense passes over the (V, mc) block (exp with the masked sum of eps, and
    the out-of-support residual); everything in-support goes through the sparse
    lists ``sup = (sup_v, sup_p, sup_logp, n_sup)`` (rows = contexts, tokens in
    increasing order), so the dense P is never read. A context whose eps sum
    exceeds SO_MAX (an out-of-support logit above m_S + ~600) is recomputed by
    :func:`fallback_context`.
    """
    sup_v, sup_p, sup_lp, n_sup = sup
    V, mc = Lt_c.shape
    # unsigned column indices: with a signed runtime offset (j0 + jj) numba wraps
    # negative indices, which keeps LLVM from vectorising the column loops
    j0 = np.uint64(j0)
    umc = np.uint64(mc)
    # mS, sS, sO (mc,) are separate allocations (not rows of one array):
    # LLVM cannot vectorise loops that write two rows of the same array
    for jj in range(umc):
        j = j0 + jj
        a = -np.inf
        for i in range(n_sup[j]):
            x = Lt_c[sup_v[j, i], jj]
            a = x if x > a else a
        mS[jj] = a
        sO[jj] = 0.0
    for v in range(V):
        for jj in range(umc):
            e = exp_scalar(np.float64(Lt_c[v, jj]) - np.float64(mS[jj]))
            Rt[v, j0 + jj] = e
            sO[jj] += 0.0 if inS_c[v, jj] else e
    inv = stat_c[0]
    cfac = stat_c[1]
    ofac = stat_c[2]
    nfall = 0
    for jj in range(umc):
        j = j0 + jj
        acc = 0.0
        for i in range(n_sup[j]):
            acc += Rt[sup_v[j, i], j]
        sS[jj] = acc
        if sO[jj] <= SO_MAX:
            inv[jj] = 1.0 / acc
            eps = sO[jj] * inv[jj]
        else:  # overflow (or NaN): fallback context, recomputed below
            nfall += 1
            inv[jj] = 0.0
            eps = 0.0
        sO[jj] = eps
        e1 = 1.0 + eps
        cfac[jj] = eps / e1
        ofac[jj] = pi_c[jj] / e1
    for v in range(V):
        for jj in range(umc):
            x = Rt[v, j0 + jj]
            Rt[v, j0 + jj] = x if inS_c[v, jj] else (x * inv[jj]) * ofac[jj]
    for jj in range(umc):
        j = j0 + jj
        for i in range(n_sup[j]):
            v = sup_v[j, i]
            q = Rt[v, j] * inv[jj]
            Rt[v, j] = pi_c[jj] * ((q - sup_p[j, i]) - q * cfac[jj])
    if need_gap:
        for jj in range(umc):
            j = j0 + jj
            lsS = np.log(sS[jj])
            kl = 0.0
            for i in range(n_sup[j]):
                kl += sup_p[j, i] * (sup_lp[j, i] - ((Lt_c[sup_v[j, i], jj] - mS[jj]) - lsS))
            gap_c[jj] = pi_c[jj] * (kl + np.log1p(sO[jj]))
    if nfall > 0:
        for jj in range(umc):
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
def _ctx_chunk(c, primal, use_blas, need_gap, Wr, Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj):
    if primal:
        _matmul(Wr, Xt_blk[c], Lt[c], use_blas)
    mc = Lt.shape[2]
    residual_block(Lt[c], inS[c], sup, pi_blk[c], Rt, c * mc, stat[0][c], stat[1][c], stat[2][c], stat[3][c],
                   gapj[c], need_gap)


@njit(cache=True, error_model="numpy")
def _chunk_bounds(c, n, nchunks):
    return (c * n) // nchunks, ((c + 1) * n) // nchunks


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
def _voc_chunk(c, dual, use_blas, method, s, k_next, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2):
    V = Rt.shape[0]
    v0, v1 = _chunk_bounds(c, V, partial.shape[0])
    if v1 <= v0:
        partial[c] = 0.0
        return
    if dual:
        _matmul(Rt[v0:v1], K, Gb[v0:v1], use_blas)
    else:
        _matmul(Rt[v0:v1], X, Gb[v0:v1], use_blas)
    if method == METHOD_NGD:
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


PHASE_CTX, PHASE_VOC, PHASE_UPDATE = 0, 1, 2


@njit(cache=True, error_model="numpy")
def _phase_chunk(phase, c, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                 pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2):
    if phase == PHASE_CTX:
        _ctx_chunk(c, primal, use_blas, need_gap, Wr, Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj)
    elif phase == PHASE_VOC:
        _voc_chunk(c, not primal, use_blas, method, s, k_next, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2)
    else:
        v0, v1 = _chunk_bounds(c, Rt.shape[0], partial.shape[0])
        _apply_update(v0, v1, not primal, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2)


@njit(cache=True, parallel=True, error_model="numpy")
def phase_parallel(phase, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                   pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2):
    """One phase of a step, chunks in parallel (numba threads; BLAS must be 1-threaded)."""
    for c in prange(nchunks):
        _phase_chunk(phase, c, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                     pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)


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
            f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm, row, use_blas, gscratch):
    """Fill ``row`` (N_METRICS,) at step k from the logits Lt and W_r = Wc.

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
    nc, _, mc = Lt.shape
    mg = np.inf
    for c in range(nc):
        for jj in range(mc):
            if not valid[c, jj]:
                continue
            lo = np.inf
            hi = -np.inf
            for v in range(V):
                x = Lt[c, v, jj]
                if inS[c, v, jj]:
                    lo = min(lo, x)
                else:
                    hi = max(hi, x)
            if hi > -np.inf and lo - hi < mg:
                mg = lo - hi
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
    # gradient norm ||R^T X|| (one GEMM per checkpoint)
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
                bstar, wmm_norm):
    current_wr(dual, Wr, Wr0, A, X, Wc, use_blas)
    metrics(k, gap, lr_k, entropy, Lt, inS, valid, Rt, X, Wc, refs, has_ref, cp, B, s0, sr0,
            f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm, out_metrics[irec], use_blas, gscratch)
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
          method, schedule, hp, dual, use_blas, tiny, nvc,
          Xt_blk, X, K, inS, sup, pi_blk, valid, entropy,
          Wr, Wr0, A, Lt, mom1, mom2,
          Rt, Gb, stat, gapj, partial, Wc, gscratch,
          refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm):
    """Run steps k0 .. k0+nsteps-1 in place (serial); record at the steps in rec_steps.

    One step: logits and residual (context chunks), the loss gap if needed,
    eta_k, the checkpoint if k is recorded, then the gradient GEMM and update
    (vocabulary chunks; NGD needs the global gradient norm first, so it updates
    in a separate pass). Returns the number of checkpoints
    written; the state arrays (Wr, A, Lt, mom1, mom2) end at W_{k0+nsteps}.
    """
    primal = not dual
    irec = _first_record(rec_steps, k0)
    nrec = rec_steps.shape[0]
    kend = k0 + nsteps
    nc = Lt.shape[0]
    for k in range(k0, kend + 1):
        is_rec = irec < nrec and rec_steps[irec] == k
        need_gap = is_rec or schedule == SCHED_LOSS
        # the chunk workers are called directly (each call level costs atomic
        # reference counting of all its array arguments)
        for c in range(nc):
            _ctx_chunk(c, primal, use_blas, need_gap, Wr, Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj)
        gap, lr_k = _gap_lr(need_gap, gapj, k, method, schedule, hp)
        if is_rec:
            _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS, valid,
                        Rt, X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a,
                        f_b, KF, bstar, wmm_norm)
            irec += 1
        if k == kend:
            break
        for c in range(nvc):
            _voc_chunk(c, dual, use_blas, method, lr_k, k + 1, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2)
        if method == METHOD_NGD:
            g2 = 0.0
            for c in range(nvc):
                g2 += partial[c]
            if g2 > 0.0:
                s = lr_k / np.sqrt(g2)
                V = Rt.shape[0]
                for c in range(nvc):
                    v0, v1 = _chunk_bounds(c, V, nvc)
                    _apply_update(v0, v1, dual, method, s, k + 1, hp, Gb, Rt, Wr, A, Lt, mom1, mom2)
    return irec


@njit(cache=True, nogil=True, error_model="numpy")
def drive_tiny(k0, nsteps, rec_steps, out_metrics, out_W, record_W,
               method, schedule, hp, dual, use_blas, tiny, nvc,
               Xt_blk, X, K, inS, sup, pi_blk, valid, entropy,
               Wr, Wr0, A, Lt, mom1, mom2,
               Rt, Gb, stat, gapj, partial, Wc, gscratch,
               refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a, f_b, KF, bstar, wmm_norm):
    """:func:`drive` for tiny primal problems (one context block, explicit loops).

    Logits, residual and gradient are fused, one context at a time, in the body
    of the loop itself: every call of a numba function with array arguments
    costs two atomic reference-count updates per array, which is what a tiny
    step would otherwise spend its time on. Same arithmetic in the same order as
    :func:`drive` with ``use_blas=False`` (``_matmul``, ``residual_block``,
    ``_apply_update``), hence bitwise the same iterates.
    """
    irec = _first_record(rec_steps, k0)
    nrec = rec_steps.shape[0]
    kend = k0 + nsteps
    V, r = Wr.shape
    m = X.shape[0]
    lr = hp[HP_LR]
    power = hp[HP_POWER]
    lr_max = hp[HP_LR_MAX]
    b1 = hp[HP_BETA1]
    b2 = hp[HP_BETA2]
    aeps = hp[HP_ADAM_EPS]
    sup_v, sup_p, sup_lp, n_sup = sup
    for k in range(k0, kend + 1):
        is_rec = irec < nrec and rec_steps[irec] == k
        need_gap = is_rec or schedule == SCHED_LOSS
        # logits, residual and gradient G = R^T X, context by context
        for v in range(V):
            for t in range(r):
                Gb[v, t] = 0.0
        for j in range(m):
            for v in range(V):
                acc = 0.0
                for t in range(r):
                    acc += Wr[v, t] * X[j, t]
                Lt[0, v, j] = acc
            mS = -np.inf
            for i in range(n_sup[j]):
                x = Lt[0, sup_v[j, i], j]
                mS = x if x > mS else mS
            pij = pi_blk[0, j]
            sO = 0.0
            for v in range(V):
                e = exp_scalar(np.float64(Lt[0, v, j]) - np.float64(mS))
                Rt[v, j] = e
                sO += 0.0 if inS[0, v, j] else e
            sS = 0.0
            for i in range(n_sup[j]):
                sS += Rt[sup_v[j, i], j]
            if not (sO <= SO_MAX):
                gj = fallback_context(Lt, sup, 0, j, j, pij, Rt)
                if need_gap:
                    gapj[0, j] = gj
            else:
                inv = 1.0 / sS
                eps = sO * inv
                e1 = 1.0 + eps
                cf = eps / e1
                of = pij / e1
                for v in range(V):
                    x = Rt[v, j]
                    Rt[v, j] = x if inS[0, v, j] else (x * inv) * of
                for i in range(n_sup[j]):
                    v = sup_v[j, i]
                    q = Rt[v, j] * inv
                    Rt[v, j] = pij * ((q - sup_p[j, i]) - q * cf)
                if need_gap:
                    lsS = np.log(sS)
                    kl = 0.0
                    for i in range(n_sup[j]):
                        kl += sup_p[j, i] * (sup_lp[j, i] - ((Lt[0, sup_v[j, i], j] - mS) - lsS))
                    gapj[0, j] = pij * (kl + np.log1p(eps))
            for v in range(V):
                rv = Rt[v, j]
                for t in range(r):
                    Gb[v, t] += rv * X[j, t]
        gap = np.nan
        if need_gap:
            gap = 0.0
            for j in range(m):
                gap += gapj[0, j]
        if schedule == SCHED_POWER:
            lr_k = lr / (k + 1.0) ** power
        elif schedule == SCHED_LOSS:
            lr_k = min(lr / max(gap, GAP_FLOOR), lr_max)
        else:
            lr_k = lr
        if is_rec:
            _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS, valid,
                        Rt, X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a,
                        f_b, KF, bstar, wmm_norm)
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


@njit(cache=True, error_model="numpy")
def drive_parallel(k0, nsteps, rec_steps, out_metrics, out_W, record_W,
                   method, schedule, hp, dual, use_blas, tiny, nvc,
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
    nc = Lt.shape[0]
    for k in range(k0, kend + 1):
        is_rec = irec < nrec and rec_steps[irec] == k
        need_gap = is_rec or schedule == SCHED_LOSS
        phase_parallel(PHASE_CTX, nc, primal, use_blas, need_gap, method, 0.0, k + 1, hp, Wr, Xt_blk, Lt,
                       inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
        gap, lr_k = _gap_lr(need_gap, gapj, k, method, schedule, hp)
        if is_rec:
            _checkpoint(k, gap, lr_k, irec, out_metrics, out_W, record_W, dual, use_blas, entropy, Lt, inS, valid,
                        Rt, X, Wr, Wr0, A, Wc, gscratch, refs, has_ref, cp, B, W0p, s0, sr0, f_blk, f_loc, f_a,
                        f_b, KF, bstar, wmm_norm)
            irec += 1
        if k == kend:
            break
        phase_parallel(PHASE_VOC, nvc, primal, use_blas, need_gap, method, lr_k, k + 1, hp, Wr, Xt_blk, Lt,
                       inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
        if method == METHOD_NGD:
            g2 = 0.0
            for c in range(nvc):
                g2 += partial[c]
            if g2 > 0.0:
                phase_parallel(PHASE_UPDATE, nvc, primal, use_blas, need_gap, method, lr_k / np.sqrt(g2), k + 1,
                               hp, Wr, Xt_blk, Lt, inS, sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A,
                               mom1, mom2)
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
