"""Chunk workers of one step of the linear-softmax kernels (private).

Residual of a block of contexts (split, stable form), gradient GEMM and update
of a chunk of vocabulary rows, and :func:`run_phase_parallel`, the chunks of a
phase on numba threads.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from sims.linear_softmax._constants import (
    HP_ADAM_EPS, HP_BETA1, HP_BETA2, METHOD_ADAM, METHOD_NGD, PHASE_CTX, PHASE_GRAD, PHASE_UPDATE, PHASE_VOC,
    SO_MAX,
)
from sims.linear_softmax._exp import exp_scalar

# ----------------------------------------------------------------------------
# small dense products (explicit loops or BLAS); all outputs overwritten


@njit(cache=True, error_model="numpy")
def matmul_into(a, b, out, use_blas):
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

    (paper, Sec. 'Numerics and solvers'), with eps / (1 + eps) = s_O / (s_S + s_O) and
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
                g = fallback_2d(Lt_c, sup, j0, jj, pi_c[jj], Rt)
                if need_gap:
                    gap_c[jj] = g


@njit(cache=True, error_model="numpy")
def fallback_2d(Lt_c, sup, j0, jj, pi_j, Rt):
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
def ctx_chunk(c, nchunks, need_gap, Lt, inS, sup, pi_blk, Rt, stat, gapj):
    """Residual of context chunk c of nchunks: block c of the blocked (dual)
    layout, or the columns of chunk c of the single block of the primal layout."""
    nc, _, mc = Lt.shape
    # (int64 throughout: a prange index may be unsigned, and numba unifies
    # unsigned with signed integers to float)
    b = np.int64(c) if nc > 1 else np.int64(0)
    ja, jb = chunk_bounds(np.int64(c), mc, nchunks) if nc == 1 else (np.int64(0), np.int64(mc))
    residual_block(Lt[b], inS[b], sup, pi_blk[b], Rt, b * mc, stat[0][b], stat[1][b], stat[2][b], stat[3][b],
                   gapj[b], need_gap, ja, jb)


@njit(cache=True, error_model="numpy")
def chunk_bounds(c, n, nchunks):
    return (c * n) // nchunks, ((c + 1) * n) // nchunks


@njit(cache=True, error_model="numpy", inline="always")
def logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt):
    """Primal logits of vocabulary rows v0:v1 (single context block): Lt[0, v0:v1] = W_r[v0:v1] X^T."""
    if v1 > v0:
        matmul_into(Wr[v0:v1], Xt_blk[0], Lt[0][v0:v1], use_blas)


@njit(cache=True, error_model="numpy", inline="always")
def apply_update(v0, v1, dual, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2):
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
def voc_chunk(c, dual, use_blas, method, s, k_next, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2, Xt_blk,
               grad_only=False):
    """Gradient rows v0:v1 of chunk c, then their update and (primal) the next
    step's logits of these rows; NGD (which needs the global norm first) and
    ``grad_only`` store the chunk's squared norm in partial[c] instead and
    leave the update to :func:`update_chunk`."""
    V = Rt.shape[0]
    v0, v1 = chunk_bounds(c, V, partial.shape[0])
    if v1 <= v0:
        partial[c] = 0.0
        return
    if dual:
        matmul_into(Rt[v0:v1], K, Gb[v0:v1], use_blas)
    else:
        matmul_into(Rt[v0:v1], X, Gb[v0:v1], use_blas)
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
        apply_update(v0, v1, dual, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2)
        if not dual:
            logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)


@njit(cache=True, error_model="numpy")
def update_chunk(c, dual, use_blas, method, s, k_next, hp, Rt, Gb, partial, Wr, A, Lt, mom1, mom2, Xt_blk):
    """Update of vocabulary chunk c from the gradient in Gb, then (primal) the
    next step's logits of its rows."""
    v0, v1 = chunk_bounds(c, Rt.shape[0], partial.shape[0])
    apply_update(v0, v1, dual, method, s, k_next, hp, Gb, Rt, Wr, A, Lt, mom1, mom2)
    if not dual:
        logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)


@njit(cache=True, error_model="numpy")
def phase_chunk(phase, c, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2):
    """Chunk c of one phase of a step (PHASE_CTX, PHASE_VOC, PHASE_GRAD, PHASE_UPDATE, PHASE_LOGITS)."""
    if phase == PHASE_CTX:
        ctx_chunk(c, nchunks, need_gap, Lt, inS, sup, pi_blk, Rt, stat, gapj)
    elif phase == PHASE_VOC or phase == PHASE_GRAD:
        voc_chunk(c, not primal, use_blas, method, s, k_next, hp, Rt, X, K, Gb, partial, Wr, A, Lt, mom1, mom2,
                   Xt_blk, phase == PHASE_GRAD)
    elif phase == PHASE_UPDATE:
        update_chunk(c, not primal, use_blas, method, s, k_next, hp, Rt, Gb, partial, Wr, A, Lt, mom1, mom2,
                      Xt_blk)
    else:
        v0, v1 = chunk_bounds(c, Rt.shape[0], partial.shape[0])
        logits_rows(v0, v1, use_blas, Wr, Xt_blk, Lt)


@njit(cache=True, error_model="numpy")
def sum_in_order(a):
    """Sum of a 1-D array in index order."""
    acc = 0.0
    for i in range(a.shape[0]):
        acc += a[i]
    return acc


@njit(cache=True, error_model="numpy")
def update_step_size(method, lr_k, partial):
    """Step size of an update applied after the gradient phase: eta_k, or for NGD
    eta_k / ||grad|| (0, i.e. no update, when the gradient is 0)."""
    if method != METHOD_NGD:
        return lr_k
    g2 = sum_in_order(partial)
    return lr_k / np.sqrt(g2) if g2 > 0.0 else 0.0


# lanes of the flat exp buffer of the tiny kernel (its length is padded to a


@njit(cache=True, parallel=True, error_model="numpy")
def run_phase_parallel(phase, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS, sup,
                       pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2):
    """One phase of a step, chunks in parallel (numba threads; BLAS must be 1-threaded)."""
    for c in prange(nchunks):
        phase_chunk(phase, c, nchunks, primal, use_blas, need_gap, method, s, k_next, hp, Wr, Xt_blk, Lt, inS,
                    sup, pi_blk, Rt, stat, gapj, X, K, Gb, partial, A, mom1, mom2)
