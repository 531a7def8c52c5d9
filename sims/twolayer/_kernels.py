r"""Numba kernels of the two-layer ReLU simulator (one loop over the steps per call).

Members of a call share the inputs X (n, d) and the targets; member k owns the
rows ``[start_k, start_k + m_k)`` of one stacked first layer W (M, d). The rows
are cut into *chunks* and the samples into *blocks*; a *task* is one chunk x one
block. The cuts of a member depend only on its width m_k and n
(:func:`member_chunks`, :func:`member_blocks`): narrow members (one chunk) cut n
into about n / 384 blocks (at most 4), wider members keep one block. So a
member's arithmetic is the same alone and in any call, serial or threaded.

One step (tasks on numba threads, ``parallel``, or on the calling thread without
the GIL; BLAS is held at one thread either way):

1. per task, ``Z = W[c] X[b]^T`` (BLAS) into a per-worker buffer (cache-resident),
   the activation mask ``1[Z > 0]`` as bytes, and the partial sums
   ``fpart[c, i] = sum_{s in c} a_s relu(Z[s, i])`` (s in order), i in block b;
2. per member (serial, O(n) each): ``f_i = (sum_c fpart[c, i]) / sqrt(m)`` (chunks
   in order), the loss and the residual ``r_i = dL/df_i``;
3. per task, the buffer ``B[s, i] = (r_i a_s / sqrt(m)) 1[Z[s, i] > 0]`` from the
   mask and ``G_b[c] = B X[b]`` (BLAS); a chunk of one block updates
   ``W[c] -= lr G[c]`` in the task, a chunk of several blocks after the phase
   (``G = sum_b G_b`` in block order, :func:`reduce_blocks`);
4. projected GD only: per member ``||W - W0||_F``, and rows pulled back to the
   ball ``W <- W0 + (W - W0) R / ||W - W0||_F`` when outside.

Losses, with g = f / tau (``temperature`` tau) and n samples:

* hard (``KIND_HARD``), y in {-1, +1}: ``ln(1 + e^{-y g})`` (softplus),
  dL/df = ``-y sigma(-y g) / (tau n)``;
* soft (``KIND_SOFT``), teacher probability p with logit t:
  ``KL(Ber(p) || Ber(sigma(g)))`` = the Bregman divergence of softplus between g and
  t, computed directly (:func:`kl_bernoulli_logit`), dL/df = ``(sigma(g) - p) / (tau n)``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

KIND_HARD = 0
KIND_SOFT = 1

#: Column order of the per-checkpoint metrics written by :func:`drive`.
METRIC_NAMES = ("loss", "avg_loss", "accuracy", "min_margin", "mean_margin", "lazy", "distance")
N_METRICS = len(METRIC_NAMES)

# chunk sizes: rows per chunk about 131072 / n (within [32, 1024]), so that a chunk's
# pre-activations (rows x n float64, about 1 MiB) stay in cache between the GEMM
# that writes them and the loop that reads them; smaller GEMMs lose BLAS efficiency.
_CHUNK_ELEMENTS = 131072
_MIN_CHUNK_ROWS = 32
_MAX_CHUNK_ROWS = 1024


def member_chunks(width: int, n: int):
    """Row ranges ``[(lo, hi), ...]`` of one member of width ``width`` (from row 0),
    for n samples. Depends only on (width, n), never on the ensemble or threads."""
    target = min(_MAX_CHUNK_ROWS, max(_MIN_CHUNK_ROWS, _CHUNK_ELEMENTS // max(n, 1)))
    nc = max(1, int(round(width / target)))
    # interior edges are even, so the coupled pairs (rows 2k, 2k + 1) stay in one
    # chunk: one BLAS call computes both rows identically and their terms cancel
    edges = [2 * (((width * j) // nc) // 2) for j in range(nc)] + [width]
    return [(edges[j], edges[j + 1]) for j in range(nc)]


# sample blocks: a member of a single row chunk (narrow: m <= about 1.5 x 131072 / n)
# also cuts its samples into blocks of at least _BLOCK_SAMPLES (at most _MAX_BLOCKS),
# so that a lone narrow network has tasks for two threads; its gradient is then the
# sum of the blocks' partial products (in block order). Wider members have enough
# chunks, and one block keeps their backward GEMM at full depth n.
_BLOCK_SAMPLES = 384
_MAX_BLOCKS = 4


def member_blocks(width: int, n: int):
    """Sample ranges ``[(i0, i1), ...]`` of one member; like :func:`member_chunks`
    they depend only on (width, n)."""
    nb = 1
    if len(member_chunks(width, n)) == 1:
        nb = min(_MAX_BLOCKS, max(1, n // _BLOCK_SAMPLES))
    edges = [(n * j) // nb for j in range(nb + 1)]
    return [(edges[j], edges[j + 1]) for j in range(nb)]


# ----------------------------------------------------------------------------
# scalar loss functions


@njit(cache=True, inline="always")
def softplus(x):
    """ln(1 + e^x) without overflow or cancellation."""
    if x > 0.0:
        return x + math.log1p(math.exp(-x))
    return math.log1p(math.exp(x))


@njit(cache=True, inline="always")
def sigmoid(x):
    """1 / (1 + e^{-x}) without overflow."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@njit(cache=True)
def kl_bernoulli_logit(p, q, t, g):
    r"""KL(Ber(p) || Ber(sigma(g))) for a teacher with p = sigma(t), q = 1 - p.

    Equal to the Bregman divergence of softplus,
    :math:`\int_t^g (\sigma(u) - p)\,du`, and computed without subtracting two
    cross-entropies: with :math:`\delta = g - t`,

    * :math:`|\delta| < 10^{-3}`: the Taylor series
      :math:`pq\,\delta^2/2 + pq(q-p)\,\delta^3/6 + pq(1-6pq)\,\delta^4/24 + pq(q-p)(1-12pq)\,\delta^5/120`
      (truncation below 1e-13 relative);
    * otherwise :math:`\mathrm{log1p}(p\,\mathrm{expm1}(\delta)) - p\delta` if p <= q,
      else :math:`\mathrm{log1p}(q\,\mathrm{expm1}(-\delta)) + q\delta` (both exact
      identities; the other one is used where expm1 would overflow, |delta| > 700).

    Rounding error: about 4 eps min(p, q) |delta| absolute, i.e. relative
    <= 8 eps / |delta| <= 2e-12 (at the switch), instead of eps * CE for "CE - entropy".
    p = 1 (t = inf) gives softplus(-g) and p = 0 gives softplus(g).
    """
    if q == 0.0:
        return softplus(-g)
    if p == 0.0:
        return softplus(g)
    d = g - t
    if abs(d) < 1e-3:
        pq = p * q
        d2 = d * d
        return pq * d2 * (0.5 + d * ((q - p) / 6.0 + d * ((1.0 - 6.0 * pq) / 24.0
                                                           + d * (q - p) * (1.0 - 12.0 * pq) / 120.0)))
    # both forms are exact; the one scaled by min(p, q) has the smaller rounding
    # error (about 4 eps min(p, q) |delta| absolute); expm1 must not overflow
    # log1p(A) = log(1 + A) is evaluated as log(q + p e^d) (resp. log(p + q e^-d))
    # once A is far from 0: then the small one of p, q enters without rounding
    if (p <= q and d < 700.0) or d < -700.0:
        A = p * math.expm1(d)
        return (math.log1p(A) if abs(A) < 0.5 else math.log(q + p * math.exp(d))) - p * d
    B = q * math.expm1(-d)
    return (math.log1p(B) if abs(B) < 0.5 else math.log(p + q * math.exp(-d))) + q * d


@njit(cache=True, inline="always")
def soft_residual(p, q, g):
    """sigma(g) - p, taken from the side where the teacher probability is small."""
    if p > 0.5:
        return q - sigmoid(-g)
    return sigmoid(g) - p


# ----------------------------------------------------------------------------
# the phases of one step
#
# ``tasks`` = (task_lo, task_hi, task_i0, task_i1, task_chunk, task_slot, task_xoff):
# task t covers the rows [lo, hi) of chunk ``task_chunk[t]`` and the samples
# [i0, i1), block number ``task_slot[t]`` of its member's sample blocks; the
# block's inputs, transposed, are ``XTB[xoff : xoff + d (i1 - i0)]`` read as a
# (d, i1 - i0) array. ``chunks`` = (chunk_lo, chunk_hi, chunk_member, chunk_blocks).
# ``buf`` (n_buf, rows x samples of the largest task) is scratch per worker:
# worker th takes the tasks th, th + n_buf, th + 2 n_buf, ... (a task's
# arithmetic does not depend on the worker that runs it).


@njit(cache=True, inline="always")
def _forward_task(t, W, XTB, a, tasks, mask, z_flat, fpart):
    task_lo, task_hi, task_i0, task_i1, task_chunk, _, task_xoff = tasks
    d = W.shape[1]
    lo = task_lo[t]
    hi = task_hi[t]
    i0 = task_i0[t]
    w = task_i1[t] - i0
    off = task_xoff[t]
    xt = XTB[off:off + d * w].reshape((d, w))
    z_all = z_flat[: (hi - lo) * w].reshape((hi - lo, w))
    np.dot(W[lo:hi], xt, z_all)
    fp = fpart[task_chunk[t], i0:i0 + w]
    for i in range(w):
        fp[i] = 0.0
    for s in range(lo, hi):
        z = z_all[s - lo]
        ms = mask[s, i0:i0 + w]
        av = a[s]
        for i in range(w):  # branch-free so that it vectorises; relu(z) = 0 adds +-0
            fp[i] += av * max(z[i], 0.0)
            ms[i] = z[i] > 0.0


@njit(cache=True, parallel=True)
def forward_tasks(W, XTB, a, tasks, mask, buf, fpart):
    """Phase 1: per task, Z = W[lo:hi] X[i0:i1]^T (into the worker's buffer), the mask
    1[Z > 0] and fpart[c, i] = sum_{s in chunk c} a_s relu(Z[s, i]), i in the block."""
    n_tasks = tasks[0].size
    n_buf = buf.shape[0]
    for th in prange(n_buf):
        for t in range(th, n_tasks, n_buf):
            _forward_task(t, W, XTB, a, tasks, mask, buf[th], fpart)


@njit(cache=True, nogil=True)
def forward_tasks_serial(W, XTB, a, tasks, mask, buf, fpart):
    """:func:`forward_tasks` on the calling thread (the same BLAS calls: OpenBLAS
    gives a row of a product bits that depend on the row's place in the call, so
    one GEMM over all rows would break the bitwise equality with lone runs)."""
    for t in range(tasks[0].size):
        _forward_task(t, W, XTB, a, tasks, mask, buf[0], fpart)


@njit(cache=True, nogil=True)
def outputs_and_residuals(fpart, member_chunk_lo, member_chunk_hi, inv_sqrt_m, kind, tgt, tp, tq, temperature,
                          f, r, loss):
    """Phase 2: per member k, f[k] (n,), residual r[k] = dL/df and loss[k]."""
    n_members, n = f.shape
    tau = temperature
    scale = 1.0 / (tau * n)
    for k in range(n_members):
        fk = f[k]
        for i in range(n):
            fk[i] = 0.0
        for c in range(member_chunk_lo[k], member_chunk_hi[k]):
            fp = fpart[c]
            for i in range(n):
                fk[i] += fp[i]
        acc = 0.0
        for i in range(n):
            fk[i] *= inv_sqrt_m[k]
            g = fk[i] / tau
            if kind == KIND_HARD:
                y = tgt[i]
                acc += softplus(-y * g)
                r[k, i] = -y * sigmoid(-y * g) * scale
            else:
                acc += kl_bernoulli_logit(tp[i], tq[i], tgt[i], g)
                r[k, i] = soft_residual(tp[i], tq[i], g) * scale
        loss[k] = acc / n


@njit(cache=True, inline="always")
def _update_rows(W, W0, lo, hi, lr, Gs):
    """W[lo:hi] -= lr G[lo:hi]; returns ||W[lo:hi] - W0[lo:hi]||_F^2."""
    d = W.shape[1]
    acc = 0.0
    for s in range(lo, hi):
        for j in range(d):
            W[s, j] -= lr * Gs[s, j]
            e = W[s, j] - W0[s, j]
            acc += e * e
    return acc


@njit(cache=True, inline="always")
def _backward_task(t, W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, z_flat, G, sqdist):
    """B = (r_i a_s / sqrt(m)) 1[z_si > 0] on the task's rows and samples (in the worker's
    buffer), G[slot, lo:hi] = B X[i0:i1]; a chunk of one block is also updated here."""
    task_lo, task_hi, task_i0, task_i1, task_chunk, task_slot, _ = tasks
    _, _, chunk_member, chunk_blocks = chunks
    lo = task_lo[t]
    hi = task_hi[t]
    i0 = task_i0[t]
    w = task_i1[t] - i0
    c = task_chunk[t]
    k = chunk_member[c]
    rk = r[k, i0:i0 + w]
    b_all = z_flat[: (hi - lo) * w].reshape((hi - lo, w))
    for s in range(lo, hi):
        b = b_all[s - lo]
        ms = mask[s, i0:i0 + w]
        coef = a[s] * inv_sqrt_m[k]
        for i in range(w):
            b[i] = rk[i] * coef if ms[i] else 0.0
    Gs = G[task_slot[t]]
    np.dot(b_all, X[i0:i0 + w], Gs[lo:hi])
    if chunk_blocks[c] == 1:
        sqdist[c] = _update_rows(W, W0, lo, hi, lr, Gs)


@njit(cache=True, parallel=True)
def backward_tasks(W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, buf, G, sqdist):
    """Phase 3: per task, G[slot] = (mask * r a^T / sqrt(m))^T X on its rows and samples;
    the chunks of one sample block also do W -= lr G and sqdist[c] = ||W[c] - W0[c]||_F^2."""
    n_tasks = tasks[0].size
    n_buf = buf.shape[0]
    for th in prange(n_buf):
        for t in range(th, n_tasks, n_buf):
            _backward_task(t, W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, buf[th], G, sqdist)


@njit(cache=True, nogil=True)
def backward_tasks_serial(W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, buf, G, sqdist):
    """:func:`backward_tasks` on the calling thread (the same BLAS calls)."""
    for t in range(tasks[0].size):
        _backward_task(t, W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, buf[0], G, sqdist)


@njit(cache=True, nogil=True)
def reduce_blocks(W, W0, chunks, lr, G, sqdist):
    """Phase 3b, for the chunks whose samples are cut into several blocks: G[0] <- the
    sum of the blocks' partial gradients (block order), W -= lr G[0], sqdist[c]. Serial:
    only single-chunk members have several blocks, so this is O(m d) per member."""
    chunk_lo, chunk_hi, _, chunk_blocks = chunks
    d = W.shape[1]
    for c in range(chunk_lo.size):
        nb = chunk_blocks[c]
        if nb == 1:
            continue
        for s in range(chunk_lo[c], chunk_hi[c]):
            for j in range(d):
                g = G[0, s, j]
                for b in range(1, nb):
                    g += G[b, s, j]
                G[0, s, j] = g
        sqdist[c] = _update_rows(W, W0, chunk_lo[c], chunk_hi[c], lr, G[0])


@njit(cache=True, nogil=True)
def project(W, W0, chunk_lo, chunk_hi, chunk_member, member_chunk_lo, member_chunk_hi, sqdist, radius):
    """Phase 4 (projected GD): pull each member back onto ||W - W0||_F <= radius
    (O(m d), serial: it is rarely active and cheap next to the GEMMs)."""
    n_members = member_chunk_lo.size
    d = W.shape[1]
    for k in range(n_members):
        tot = 0.0
        for c in range(member_chunk_lo[k], member_chunk_hi[k]):
            tot += sqdist[c]
        norm = math.sqrt(tot)
        if norm > radius:
            fac = radius / norm
            for c in range(member_chunk_lo[k], member_chunk_hi[k]):
                for s in range(chunk_lo[c], chunk_hi[c]):
                    for j in range(d):
                        W[s, j] = W0[s, j] + (W[s, j] - W0[s, j]) * fac


@njit(cache=True, nogil=True)
def record_metrics(W, W0, f, labels, loss, cum_loss, step, member_lo, member_hi, width, out):
    """Metrics of every member at the current iterate (see METRIC_NAMES)."""
    n_members, n = f.shape
    d = W.shape[1]
    for k in range(n_members):
        correct = 0
        mmin = np.inf
        msum = 0.0
        for i in range(n):
            marg = labels[i] * f[k, i]
            if marg > 0.0:
                correct += 1
            if marg < mmin:
                mmin = marg
            msum += marg
        lazy = 0.0
        dist = 0.0
        for s in range(member_lo[k], member_hi[k]):
            rs = 0.0
            for j in range(d):
                e = W[s, j] - W0[s, j]
                rs += e * e
            dist += rs
            if rs > lazy:
                lazy = rs
        out[k, 0] = loss[k]
        out[k, 1] = cum_loss[k] / step if step > 0 else np.nan
        out[k, 2] = correct / n
        out[k, 3] = mmin
        out[k, 4] = msum / n
        out[k, 5] = math.sqrt(width[k]) * math.sqrt(lazy)
        out[k, 6] = math.sqrt(dist)


@njit(cache=True, nogil=True)
def drive(W, W0, X, XTB, a, tasks, chunks, members, kind, tgt, tp, tq, labels, temperature, lr, radius, step0,
          steps, cum_loss, rec_steps, metrics, f, scratch, parallel, have_forward):
    """Run ``steps`` GD steps from absolute step ``step0``; record at ``rec_steps``.

    ``tasks``, ``chunks``: see the phases above; ``members`` = (member_lo,
    member_hi, member_chunk_lo, member_chunk_hi, width, inv_sqrt_m); ``scratch`` =
    (mask (M, n) uint8, buf (n_buf, rows x samples of the largest task), G
    (n_slots, M, d), fpart (n_chunks, n), r (n_members, n), loss (n_members,),
    sqdist (n_chunks,)). ``radius`` = inf for plain GD. ``cum_loss`` (n_members,)
    carries sum_{t < step} L(W_t) (updated in place); ``f`` (n_members, n) holds
    the outputs of the last iterate on return. ``parallel``: run the tasks of the
    GEMM phases on n_buf numba threads (else all on the calling thread, without
    the GIL; the arithmetic is the same). ``have_forward``: the scratch (mask, r,
    loss) and ``f`` already hold the forward pass of W at ``step0`` (the end of the
    previous segment), so it is not computed again. Returns the number of records
    written.
    """
    chunk_lo, chunk_hi, chunk_member, chunk_blocks = chunks
    member_lo, member_hi, member_chunk_lo, member_chunk_hi, width, inv_sqrt_m = members
    mask, buf, G, fpart, r, loss, sqdist = scratch
    split = False
    for c in range(chunk_blocks.size):
        split = split or chunk_blocks[c] > 1
    j = 0
    n_rec = rec_steps.size
    while j < n_rec and rec_steps[j] < step0:
        j += 1
    for t in range(steps + 1):
        step = step0 + t
        if t > 0 or not have_forward:
            if parallel:
                forward_tasks(W, XTB, a, tasks, mask, buf, fpart)
            else:
                forward_tasks_serial(W, XTB, a, tasks, mask, buf, fpart)
            outputs_and_residuals(fpart, member_chunk_lo, member_chunk_hi, inv_sqrt_m, kind, tgt, tp, tq,
                                  temperature, f, r, loss)
        if j < n_rec and rec_steps[j] == step:
            record_metrics(W, W0, f, labels, loss, cum_loss, step, member_lo, member_hi, width, metrics[j])
            j += 1
        if t == steps:
            break
        for k in range(loss.size):
            cum_loss[k] += loss[k]
        if parallel:
            backward_tasks(W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, buf, G, sqdist)
        else:
            backward_tasks_serial(W, W0, X, a, tasks, chunks, inv_sqrt_m, r, lr, mask, buf, G, sqdist)
        if split:
            reduce_blocks(W, W0, chunks, lr, G, sqdist)
        if radius < np.inf:
            project(W, W0, chunk_lo, chunk_hi, chunk_member, member_chunk_lo, member_chunk_hi, sqdist, radius)
    return j
