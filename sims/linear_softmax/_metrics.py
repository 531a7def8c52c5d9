"""Metrics at a checkpoint and the step-size schedule of the linear-softmax kernels (private)."""

from __future__ import annotations

import numpy as np
from numba import njit

from sims.linear_softmax._chunks import matmul_into
from sims.linear_softmax._constants import (
    GAP_FLOOR, HP_LR, HP_LR_MAX, HP_POWER, M_COLSUM_DRIFT, M_COLSUM_MAXABS, M_COS_MM, M_COS_MM_CORRECTED,
    M_COS_PERP_MM, M_DIST_F, M_GAP, M_GRAD_NORM, M_LOSS, M_LR, M_MARGIN, M_MARGIN_GAP, M_NORM, M_NORM_F,
    M_NORM_PERP, M_PERP_RESIDUAL, M_TILDE_RESIDUAL, SCHED_LOSS, SCHED_POWER,
)

# ----------------------------------------------------------------------------
# metrics at a checkpoint


@njit(cache=True, error_model="numpy")
def dot(a, b):
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
    matmul_into(A, X, out, use_blas)
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
    nrm2 = dot(flat, flat) + cp[0, 0]
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
        ip = dot(flat, mm) + cp[0, 2]
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
    matmul_into(Rt, X, G, use_blas)
    g2 = 0.0
    for v in range(V):
        for t in range(r):
            g2 += np.float64(G[v, t]) * np.float64(G[v, t])
    row[M_GRAD_NORM] = np.sqrt(g2)


# ----------------------------------------------------------------------------
# the driver


@njit(cache=True, error_model="numpy")
def step_size(k, gap, method, schedule, hp):
    """eta_k of the schedule (constant, power, loss-adaptive with the gap floor)."""
    lr = hp[HP_LR]
    if schedule == SCHED_POWER:
        return lr / (k + 1.0) ** hp[HP_POWER]
    if schedule == SCHED_LOSS:
        return min(lr / max(gap, GAP_FLOOR), hp[HP_LR_MAX])
    return lr


@njit(cache=True, error_model="numpy")
def gap_lr(need_gap, gapj, k, method, schedule, hp):
    """Loss gap (sum of the per-context terms in a fixed order) and eta_k."""
    gap = np.nan
    if need_gap:
        gap = 0.0
        for c in range(gapj.shape[0]):
            for jj in range(gapj.shape[1]):
                gap += gapj[c, jj]
    return gap, step_size(k, gap, method, schedule, hp)


@njit(cache=True, error_model="numpy")
def checkpoint(k, gap, lr_k, irec, rec, pb, st, sc, rf, grad_norm=np.nan):
    """Metrics row ``irec`` of ``rec.metrics`` at step k (and W_k if ``rec.record_W``).

    Arguments are the kernel tuples (:mod:`sims.linear_softmax._kernel_args`);
    ``grad_norm`` as in :func:`metrics`.
    """
    use_blas = pb.use_blas
    B = pb.B
    Wc = sc.Wc
    current_wr(pb.dual, st.Wr, st.Wr0, st.A, pb.X, Wc, use_blas)
    metrics(k, gap, lr_k, pb.entropy, st.Lt, pb.inS, pb.valid, sc.Rt, pb.X, Wc, rf.refs, rf.has_ref, rf.cp, B,
            rf.s0, rf.sr0, rf.f_blk, rf.f_loc, rf.f_a, rf.f_b, rf.KF, rf.bstar, rf.wmm_norm, rec.metrics[irec],
            use_blas, sc.gscratch, grad_norm)
    if rec.record_W:
        outw = rec.W[irec]
        matmul_into(Wc.astype(np.float64), B.T.copy(), outw, use_blas)
        W0p = rf.W0p
        for v in range(outw.shape[0]):
            for i in range(outw.shape[1]):
                outw[v, i] += W0p[v, i]


@njit(cache=True, error_model="numpy")
def first_record(rec_steps, k0):
    """Index of the first recorded step >= k0 (a resumed segment starts there)."""
    irec = 0
    while irec < rec_steps.shape[0] and rec_steps[irec] < k0:
        irec += 1
    return irec
