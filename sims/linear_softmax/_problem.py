r"""The prepared problem of the linear-softmax engine: features, layout, kernel choice (private).

Exact reductions (paper, Sec. 'Numerics and solvers'): GD and NGD only move W inside
:math:`\mathbb R^V \otimes \mathrm{rowspace}(H)`, so when rank(H) = r < d the
engine works with the features X = H B (m, r), B (d, r) an orthonormal basis
of the row space (thin SVD). The kernel form (primal or dual), BLAS use,
chunking and the tiny kernel are chosen from the problem size only, never from
the thread count, so results are bitwise independent of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from sims.engine import blas_controller
from sims.linear_softmax._drivers import matmul as kernel_matmul
from sims.linear_softmax._kernel_args import KernelProblem
from theory.ntp import data_fingerprint, entropy_from_arrays

F_MAX = 2000  # F-metrics need an nF x nF eigendecomposition (~1 s at 2000); skipped above this
F_RCOND = 1e-12  # relative eigenvalue cut-off of the Gram matrix of F's generators
# cost thresholds (multiply-adds per step), tuned on the bench machine; they
# only change speed, never results for a fixed problem size
TINY_MAX = 2_000
BLAS_MIN = 2_000
CHUNK_MIN = 4_000_000
# runs of a tiny problem from this many steps use the tiny kernel compiled for
# their sizes (compiling one takes ~3 s, once per size and machine: numba caches
# it on disk). It saves ~80-150 ns per step over the generic tiny kernel, so the
# compile pays for itself from a few 1e7 steps; a version already built in this
# process is always used.
TINY_FIXED_STEPS = 20_000_000


@dataclass
class Problem:
    """Everything the kernels need about the data, for one method family.

    Built by :func:`prepare`; :meth:`kernel_args` gives the kernels' view.
    """

    H: np.ndarray
    P: np.ndarray
    pi: np.ndarray
    m: int
    d: int
    V: int
    r: int
    space: str  # "rowspace" or "full"
    algorithm: str  # "primal" or "dual"
    B: np.ndarray  # (d, r)
    X: np.ndarray  # (m_pad, r)
    Xt_blk: np.ndarray  # (nc, r, mc)
    K: np.ndarray  # (m_pad, m_pad) or (0, 0)
    nc: int  # context blocks of the layout (dual: = ncc; primal: 1)
    mc: int
    nvc: int  # vocabulary chunks
    ncc: int  # context chunks (dual: blocks; primal: column ranges of the one block)
    use_blas: bool
    tiny: bool
    inS: np.ndarray
    sup: tuple  # (sup_v (m_pad, Smax) int64, sup_p, sup_logp (m_pad, Smax), n_sup (m_pad,) int64)
    pi_blk: np.ndarray
    valid: np.ndarray
    entropy: float
    onehot: bool
    fingerprint: str
    f_j: np.ndarray
    f_blk: np.ndarray
    f_loc: np.ndarray
    f_a: np.ndarray
    f_b: np.ndarray
    KF: np.ndarray
    has_F: bool
    dtype: Any

    @property
    def m_pad(self):
        return self.nc * self.mc

    def kernel_args(self):
        """The :class:`~sims.linear_softmax._kernel_args.KernelProblem` of this problem."""
        return KernelProblem(self.algorithm == "dual", self.use_blas, self.tiny, self.nvc, self.ncc, self.Xt_blk,
                             self.X, self.K, self.inS, self.sup, self.pi_blk, self.valid, self.entropy, self.B)


def sparse_support(P, logP, dtype):
    """Per-context support lists, tokens in increasing order (rows = contexts)."""
    S = P > 0
    n_sup = S.sum(axis=1).astype(np.int64)
    smax = max(int(n_sup.max()), 1)
    sup_v = np.zeros((P.shape[0], smax), dtype=np.int64)
    sup_p = np.zeros((P.shape[0], smax), dtype=dtype)
    sup_lp = np.zeros((P.shape[0], smax), dtype=dtype)
    for j in range(P.shape[0]):
        idx = np.flatnonzero(S[j])
        sup_v[j, :idx.size] = idx
        sup_p[j, :idx.size] = P[j, idx]
        sup_lp[j, :idx.size] = logP[j, idx]
    return sup_v, sup_p, sup_lp, n_sup


def orthonormal_rowspace(H):
    with blas_controller().limit(limits=1, user_api="blas"):
        _, s, vt = np.linalg.svd(H, full_matrices=False)
    tol = s[0] * max(H.shape) * np.finfo(np.float64).eps if s.size and s[0] > 0 else 0.0
    r = int(np.sum(s > tol))
    return np.ascontiguousarray(vt[:r].T), r


def kmatmul(a, b):
    """a @ b through the kernels' fixed-order loops (deterministic bits)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty((a.shape[0], b.shape[1]))
    if a.shape[1] == 0:
        out[:] = 0.0
        return out
    kernel_matmul(a, b, out, False)
    return out


def n_chunks(n):
    """Chunks of a dimension of size n: the largest power of two <= min(4, n // 96).

    A function of the size only (never of the thread count), so that results are
    bitwise independent of the number of threads; powers of two balance 1, 2 or
    4 threads; >= 96 rows per chunk keep each BLAS call efficient (measured at
    (1000, 256, 1000): 4 chunks 84 GFLOP/s, 8 chunks 72 GFLOP/s on 2 cores; with
    the logits GEMM split by vocabulary rows, 4 and 2 chunks take the same time
    per step there, 8.0-8.3 ms on 2 cores).
    """
    c = 1
    while 2 * c <= min(4, n // 96):
        c *= 2
    return c


def choose(m, r, V, method, algorithm):
    if algorithm == "auto":
        if method in ("gd", "ngd") and m * m * V + 2 * m * V < 0.75 * (2 * m * r * V):
            algorithm = "dual"
        else:
            algorithm = "primal"
    cost = m * m * V if algorithm == "dual" else m * r * V
    use_blas = cost >= BLAS_MIN
    if cost >= CHUNK_MIN:
        nc, nvc = n_chunks(m), n_chunks(V)
    else:
        nc = nvc = 1
    tiny = algorithm == "primal" and nc == 1 and not use_blas and cost < TINY_MAX
    return algorithm, use_blas, nc, nvc, tiny


def prepare(H, P, pi, method, algorithm, dtype, basis=None, space=None, chunks=None, use_blas=None, tiny=None):
    m, d = H.shape
    V = P.shape[1]
    if space is None:
        if method == "adam":
            space = "full"
        else:
            B, r = orthonormal_rowspace(H)
            space = "rowspace" if r < d else "full"
            basis = B if space == "rowspace" else None
    if space == "full":
        B = np.eye(d)
        r = d
        X = H.copy()
    else:
        B = np.ascontiguousarray(basis, dtype=np.float64)
        r = B.shape[1]
        X = kmatmul(H, B)
    if method == "adam" and algorithm == "dual":
        raise ValueError("algorithm='dual' is only available for method 'gd' or 'ngd', got method='adam'")
    algo, ub, ncc, nvc, tiny_auto = choose(m, r, V, method, algorithm)
    if chunks is not None:
        ncc, nvc = chunks
    if use_blas is not None:
        ub = use_blas
    tiny = (tiny_auto if tiny is None else tiny) and ncc == 1 and not ub and algo == "primal"
    # the dual updates the logits blocked by context chunks; the primal keeps one
    # block (its logits GEMM is split by vocabulary rows, its residual by columns)
    nc = ncc if algo == "dual" else 1
    mc = -(-m // nc)
    m_pad = nc * mc
    Xp = np.zeros((m_pad, r))
    Xp[:m] = X
    Xt_blk = np.ascontiguousarray(Xp.reshape(nc, mc, r).transpose(0, 2, 1))
    K = kmatmul(Xp, Xp.T) if algo == "dual" else np.zeros((0, 0))
    S = P > 0
    Pp = np.zeros((m_pad, V))
    Pp[:m] = P
    Pp[m:, 0] = 1.0  # padding contexts: valid distribution, zero weight, zero features
    Sp = Pp > 0
    with np.errstate(divide="ignore"):
        logPp = np.where(Sp, np.log(np.where(Sp, Pp, 1.0)), 0.0)
    pip = np.zeros(m_pad)
    pip[:m] = pi

    def blk(a):  # (m_pad, V) -> (nc, V, mc)
        return np.ascontiguousarray(a.reshape(nc, mc, V).transpose(0, 2, 1))

    valid = np.zeros(m_pad, dtype=np.bool_)
    valid[:m] = True
    # generators (e_a - e_b) h_j^T of F, anchor a = first support token
    fj, fa, fb = [], [], []
    for j in range(m):
        sup = np.flatnonzero(S[j])
        for b in sup[1:]:
            fj.append(j)
            fa.append(sup[0])
            fb.append(b)
    fj = np.asarray(fj, dtype=np.int64)
    fa = np.asarray(fa, dtype=np.int64)
    fb = np.asarray(fb, dtype=np.int64)
    nF = fj.size
    has_F = nF <= F_MAX
    if nF and has_F:
        HH = H @ H.T
        tok = ((fa[:, None] == fa[None, :]).astype(float) - (fa[:, None] == fb[None, :])
               - (fb[:, None] == fa[None, :]) + (fb[:, None] == fb[None, :]))
        G = tok * HH[np.ix_(fj, fj)]
        w, U = np.linalg.eigh(G)
        keep = w > F_RCOND * max(w.max(), 0.0) if w.size else np.zeros(0, bool)
        KF = np.ascontiguousarray(U[:, keep] / np.sqrt(w[keep]))
    else:
        KF = np.zeros((nF, 0))
    fdt = np.dtype(dtype)
    return Problem(
        H=H, P=P, pi=pi, m=m, d=d, V=V, r=r, space=space, algorithm=algo, B=B,
        X=np.ascontiguousarray(Xp, dtype=fdt), Xt_blk=np.ascontiguousarray(Xt_blk, dtype=fdt),
        K=np.ascontiguousarray(K, dtype=fdt), nc=nc, mc=mc, nvc=nvc, ncc=ncc, use_blas=bool(ub), tiny=bool(tiny),
        inS=blk(Sp), sup=sparse_support(Pp, logPp, fdt),
        pi_blk=np.ascontiguousarray(pip.reshape(nc, mc), dtype=fdt), valid=np.ascontiguousarray(valid.reshape(nc, mc)),
        entropy=entropy_from_arrays(P, pi), onehot=bool(np.all(S.sum(axis=1) == 1)), fingerprint=data_fingerprint(H, P, pi),
        f_j=fj, f_blk=fj // mc, f_loc=fj % mc, f_a=fa, f_b=fb, KF=KF, has_F=bool(has_F), dtype=fdt,
    )
