r"""Fast full-batch gradient descent for softmax cross-entropy / next-token prediction.

The model is linear, logits :math:`W \bar h_j` with :math:`W \in \mathbb{R}^{V\times d}`,
trained on the NTP loss of [T24] (eq. 2)

.. math::

    \mathrm{CE}(W) = -\sum_{j=1}^m \hat\pi_j \sum_{z\in\mathcal S_j} \hat p_{j,z}
        \log \mathbb S_z(W\bar h_j),
    \qquad
    \nabla\mathrm{CE}(W) = \sum_j \hat\pi_j\,(\mathbb S(W\bar h_j) - \hat p_j)\,\bar h_j^\top
        = R^\top H,

with data given duck-typed as ``data.H`` (m, d) (context embeddings as rows),
``data.P`` (m, V) (next-token probabilities, sparse rows) and ``data.pi`` (m,)
(context weights), e.g. :class:`theory.ntp.NTPData`. One-hot data (every
support of size 1) is multiclass classification with the cross-entropy loss of
[S18] (section 4); binary logistic regression is its 2-class case
(:func:`binary_data`, :func:`logistic_weights`).

Optimisers (``method``): ``"gd"`` :math:`W_{k+1} = W_k - \eta_k\nabla_k`;
``"ngd"`` (normalised GD, [N19]) :math:`W_{k+1} = W_k - \eta_k\nabla_k/\|\nabla_k\|`;
``"adam"`` (Kingma-Ba, PyTorch form, element-wise in the original coordinates of W)

.. math::

    m_{k+1} = \beta_1 m_k + (1-\beta_1)\nabla_k,\quad
    v_{k+1} = \beta_2 v_k + (1-\beta_2)\nabla_k^{\odot 2},\quad
    W_{k+1} = W_k - \frac{\eta_k}{1-\beta_1^{k+1}}\,
        \frac{m_{k+1}}{\sqrt{v_{k+1}}/\sqrt{1-\beta_2^{k+1}} + \epsilon}

with defaults :math:`\beta_1 = 0.9`, :math:`\beta_2 = 0.99` ([T24] App. A.2) and
:math:`\epsilon = 10^{-8}` (PyTorch's default; [T24] does not state it).

Step-size schedules (``schedule``), with :math:`\eta` = ``lr`` and k = 0, 1, ...:
``"constant"`` :math:`\eta_k = \eta`; ``"power"`` :math:`\eta_k = \eta/(k+1)^p`
(``power`` = p, e.g. 0.5 or 1); ``"loss"`` (loss-adaptive)
:math:`\eta_k = \min(\eta / \max(\mathrm{CE}(W_k) - \mathcal H,\,10^{-300}),\ \eta_{\max})`.
The loss-adaptive rule is the NTP version of the :math:`\eta \propto 1/\mathcal L`
rule of Nacson et al. (AISTATS 2019) and Lyu-Li (``LossBasedLR``, without their
backtracking): for one-hot data :math:`\mathcal H = 0` and it is exactly
:math:`\eta/\mathcal L`; for NTP data the loss tends to the entropy
:math:`\mathcal H > 0`, so the gap (KL form, computed stably) is used instead.
[open] choice: no backtracking; the floor :math:`10^{-300}` only prevents a
division by an underflowed gap (then the gradient is 0 too).

Numerics (numerics spec section 2): float64; the residual is computed in the split
form :math:`r_z = (q_z - p_z) - q_z\varepsilon/(1+\varepsilon)` on the support and
:math:`e^{l_v - \mathrm{lse}_S}/(1+\varepsilon)` off it, so nothing collapses before
logit gaps of ~700 (exp underflow); the loss gap is the KL divergence computed
term by term plus :math:`\log(1+\varepsilon)`.

Exact reductions (numerics spec section 2): GD and NGD only move W inside
:math:`\mathbb R^V \otimes \mathrm{rowspace}(H)`, so when rank(H) = r < d the engine
works with the features :math:`X = H B` (m, r), B (d, r) an orthonormal basis of
the row space (thin SVD), and maps back with :math:`W = W_r B^\top + W_{0,\perp}`,
:math:`W_{0,\perp} = W_0 - W_0 B B^\top` (which never moves). When m < 1.5 r the
dual (logit-space) form :math:`L_{k+1} = L_k - s_k R_k K`, :math:`K = X X^\top`,
:math:`W_k = W_0 - A_k X`, :math:`A_{k+1} = A_k + s_k R_k^\top`, halves the flops.
Adam is not rotation invariant, so it always runs in the original coordinates.

Kernels and threads: the whole loop, checkpoints included, runs in one numba
call (:mod:`sims._gd_kernels`). Tiny problems (m r V < 2000) use a fused loop
over contexts (for runs of >= 2e7 steps compiled for the problem's sizes, so
that its loops unroll: the same arithmetic, 1.2-2x faster); larger ones
alternate a context phase (residual) and a vocabulary phase (gradient GEMM,
update and, in the primal, the next logits GEMM of the same rows of W), with
BLAS (``np.dot``) from m r V >= 2000. From 4e6 multiply-adds per step the
phases are cut into at most 4 power-of-two chunks of >= 96 rows that run on
numba threads while BLAS is held at one thread (one parallel layer, numerics
spec section 2). The
chunking depends only on the problem size, so results are bitwise the same for
any thread count (threaded BLAS is not: OpenBLAS dgemm changes bits with its
thread count), and a resumed run reuses the stored kernel choice, so
``run(k1 + k2)`` and ``run(k1)`` then ``extend(k2)`` give bitwise the same W.

References: [T24] Thrampoulidis, NeurIPS 2024, arXiv 2402.18551; [S18] Soudry et
al., JMLR 2018; [N19] Nacson et al., AISTATS 2019; specs
``shared/spec/ntp_implicit_bias.md`` and ``shared/spec/numerics_and_solvers.md``.

Examples
--------
>>> import numpy as np, types
>>> from sims import gd
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((6, 3)); y = np.array([0, 1, 2, 0, 1, 2])
>>> data = gd.classification_data(X + 3 * np.eye(3)[y], y)
>>> traj = gd.run(data, 1000, 0.5, references=False)
>>> bool(traj.metrics["gap"][-1] < traj.metrics["gap"][1])
True
"""

from __future__ import annotations

import hashlib
import json
import numbers
import time
import types as _types
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from sims import _gd_kernels as _k

__all__ = [
    "METHODS",
    "METRIC_NAMES",
    "SCHEDULES",
    "Trajectory",
    "binary_data",
    "classification_data",
    "log_checkpoints",
    "logistic_weights",
    "reference_numpy_run",
    "run",
    "run_ensemble",
]

METHODS = ("gd", "ngd", "adam")
SCHEDULES = ("constant", "power", "loss")
ALGORITHMS = ("auto", "primal", "dual")

#: Metric names, in the column order of the kernels. See :class:`Trajectory`.
METRIC_NAMES = (
    "loss", "gap", "norm", "cos_mm", "cos_mm_corrected", "cos_perp_mm", "dist_F",
    "norm_F", "norm_perp", "perp_residual", "tilde_residual", "margin", "margin_gap",
    "colsum_maxabs", "colsum_drift", "grad_norm", "lr",
)
assert len(METRIC_NAMES) == _k.N_METRICS

_FORMAT = "sims.gd.Trajectory/1"
_F_MAX = 2000  # F-metrics need an nF x nF eigendecomposition (~1 s at 2000); skipped above this
_F_RCOND = 1e-12  # relative eigenvalue cut-off of the Gram matrix of F's generators
# cost thresholds (multiply-adds per step), tuned on the bench machine; they
# only change speed, never results for a fixed problem size
_TINY_MAX = 2_000
_BLAS_MIN = 2_000
_CHUNK_MIN = 4_000_000
# runs of a tiny problem from this many steps use the tiny kernel compiled for
# their sizes (compiling one takes ~3 s, once per size and machine: numba caches
# it on disk). It saves ~80-150 ns per step over the generic tiny kernel, so the
# compile pays for itself from a few 1e7 steps; a version already built in this
# process is always used.
_TINY_FIXED_STEPS = 20_000_000
_N_RECORD = 200


# ----------------------------------------------------------------------------
# validation helpers


def _check_int(name, value, minimum=0):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, numbers.Real)):
        raise TypeError(f"{name} must be an integer, got {value!r} of type {type(value).__name__}")
    if not isinstance(value, numbers.Integral):
        if not np.isfinite(value) or float(value) != int(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        value = int(value)
    value = int(value)
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_positive(name, value, allow_inf=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if np.isnan(value) or value <= 0 or (np.isinf(value) and not allow_inf):
        accepted = "a positive number (inf allowed)" if allow_inf else "a finite positive number"
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return value


def _check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _check_matrix(name, value, shape):
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real array of shape {shape}, got {type(value).__name__}") from exc
    if arr.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} (V, d), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got non-finite entries")
    return np.ascontiguousarray(arr)


def _check_data(data):
    for attr in ("H", "P", "pi"):
        if not hasattr(data, attr):
            raise TypeError(f"data must have attributes H (m, d), P (m, V) and pi (m,); missing data.{attr}")
    try:
        H = np.array(data.H, dtype=np.float64)
        P = np.array(data.P, dtype=np.float64)
        pi = np.array(data.pi, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError("data.H, data.P and data.pi must be real arrays") from exc
    if H.ndim != 2 or H.shape[0] < 1 or H.shape[1] < 1:
        raise ValueError(f"data.H must be a non-empty 2-D array (m, d), got shape {H.shape}")
    m = H.shape[0]
    if P.ndim != 2 or P.shape[0] != m or P.shape[1] < 2:
        raise ValueError(f"data.P must have shape (m, V) = ({m}, V >= 2), got {P.shape}")
    if pi.shape != (m,):
        raise ValueError(f"data.pi must have shape ({m},), got {pi.shape}")
    for name, arr in (("data.H", H), ("data.P", P), ("data.pi", pi)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
    if np.any(P < 0):
        raise ValueError(f"data.P must be non-negative, got min {P.min()!r}")
    rs = P.sum(axis=1)
    bad = np.abs(rs - 1.0) > 1e-9
    if np.any(bad):
        j = int(np.argmax(bad))
        raise ValueError(f"data.P rows must sum to 1 (tolerance 1e-9), row {j} sums to {rs[j]!r}")
    if np.any(pi < 0) or not np.any(pi > 0):
        raise ValueError("data.pi must be non-negative with at least one positive entry")
    return np.ascontiguousarray(H), np.ascontiguousarray(P), np.ascontiguousarray(pi)


def _fingerprint(H, P, pi):
    h = hashlib.sha256()
    for a in (H, P, pi):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
        h.update(str(a.shape).encode())
    return h.hexdigest()[:24]


def log_checkpoints(total, n=_N_RECORD, start=0):
    """Log-spaced integer checkpoints in [start, total] (0 and ``total`` included).

    ``unique(rint(geomspace(1, total, n)))`` plus 0, restricted to steps
    > ``start`` when ``start`` > 0 (a resumed run), always ending with ``total``.

    Parameters
    ----------
    total : int
        Last step.
    n : int
        Number of log-spaced points before de-duplication.
    start : int
        First step of the segment; steps <= start are dropped when start > 0.

    Returns
    -------
    ndarray of int64, shape (n_rec,)
    """
    total = int(total)
    pts = [0, total]
    if total >= 1:
        pts.extend(np.rint(np.geomspace(1, total, max(int(n), 2))).astype(np.int64).tolist())
    pts = np.unique(np.asarray(pts, dtype=np.int64))
    if start > 0:
        pts = pts[pts > start]
    return pts


# ----------------------------------------------------------------------------
# the prepared problem


@dataclass
class _Problem:
    """Everything the kernels need about the data, for one method family."""

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


def _entropy(P, pi):
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(P > 0, P * np.log(np.where(P > 0, P, 1.0)), 0.0)
    return float(-(pi * t.sum(axis=1)).sum())


def _sparse_support(P, logP, dtype):
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


def _orthonormal_rowspace(H):
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        _, s, vt = np.linalg.svd(H, full_matrices=False)
    tol = s[0] * max(H.shape) * np.finfo(np.float64).eps if s.size and s[0] > 0 else 0.0
    r = int(np.sum(s > tol))
    return np.ascontiguousarray(vt[:r].T), r


def _kmatmul(a, b):
    """a @ b through the kernels' fixed-order loops (deterministic bits)."""
    a = np.ascontiguousarray(a, dtype=np.float64)
    b = np.ascontiguousarray(b, dtype=np.float64)
    out = np.empty((a.shape[0], b.shape[1]))
    if a.shape[1] == 0:
        out[:] = 0.0
        return out
    _k.matmul(a, b, out, False)
    return out


def _n_chunks(n):
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


def _choose(m, r, V, method, algorithm):
    if algorithm == "auto":
        if method in ("gd", "ngd") and m * m * V + 2 * m * V < 0.75 * (2 * m * r * V):
            algorithm = "dual"
        else:
            algorithm = "primal"
    cost = m * m * V if algorithm == "dual" else m * r * V
    use_blas = cost >= _BLAS_MIN
    if cost >= _CHUNK_MIN:
        nc, nvc = _n_chunks(m), _n_chunks(V)
    else:
        nc = nvc = 1
    tiny = algorithm == "primal" and nc == 1 and not use_blas and cost < _TINY_MAX
    return algorithm, use_blas, nc, nvc, tiny


def _prepare(H, P, pi, method, algorithm, dtype, basis=None, space=None, chunks=None, use_blas=None, tiny=None):
    m, d = H.shape
    V = P.shape[1]
    if space is None:
        if method == "adam":
            space = "full"
        else:
            B, r = _orthonormal_rowspace(H)
            space = "rowspace" if r < d else "full"
            basis = B if space == "rowspace" else None
    if space == "full":
        B = np.eye(d)
        r = d
        X = H.copy()
    else:
        B = np.ascontiguousarray(basis, dtype=np.float64)
        r = B.shape[1]
        X = _kmatmul(H, B)
    if method == "adam" and algorithm == "dual":
        raise ValueError("algorithm='dual' is only available for method 'gd' or 'ngd', got method='adam'")
    algo, ub, ncc, nvc, tiny_auto = _choose(m, r, V, method, algorithm)
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
    K = _kmatmul(Xp, Xp.T) if algo == "dual" else np.zeros((0, 0))
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
    has_F = nF <= _F_MAX
    if nF and has_F:
        HH = H @ H.T
        tok = ((fa[:, None] == fa[None, :]).astype(float) - (fa[:, None] == fb[None, :])
               - (fb[:, None] == fa[None, :]) + (fb[:, None] == fb[None, :]))
        G = tok * HH[np.ix_(fj, fj)]
        w, U = np.linalg.eigh(G)
        keep = w > _F_RCOND * max(w.max(), 0.0) if w.size else np.zeros(0, bool)
        KF = np.ascontiguousarray(U[:, keep] / np.sqrt(w[keep]))
    else:
        KF = np.zeros((nF, 0))
    fdt = np.dtype(dtype)
    return _Problem(
        H=H, P=P, pi=pi, m=m, d=d, V=V, r=r, space=space, algorithm=algo, B=B,
        X=np.ascontiguousarray(Xp, dtype=fdt), Xt_blk=np.ascontiguousarray(Xt_blk, dtype=fdt),
        K=np.ascontiguousarray(K, dtype=fdt), nc=nc, mc=mc, nvc=nvc, ncc=ncc, use_blas=bool(ub), tiny=bool(tiny),
        inS=blk(Sp), sup=_sparse_support(Pp, logPp, fdt),
        pi_blk=np.ascontiguousarray(pip.reshape(nc, mc), dtype=fdt), valid=np.ascontiguousarray(valid.reshape(nc, mc)),
        entropy=_entropy(P, pi), onehot=bool(np.all(S.sum(axis=1) == 1)), fingerprint=_fingerprint(H, P, pi),
        f_j=fj, f_blk=fj // mc, f_loc=fj % mc, f_a=fa, f_b=fb, KF=KF, has_F=bool(has_F), dtype=fdt,
    )


# ----------------------------------------------------------------------------
# reference quantities


def _as_ntpdata(data, prob):
    from theory.ntp import NTPData  # noqa: PLC0415 (lazy: theory/ is optional for the engine)

    return data if isinstance(data, NTPData) else NTPData(prob.H, prob.P, prob.pi)


def _theory_W_star(data, prob):
    from theory.ntp import finite_component  # noqa: PLC0415

    res = finite_component(_as_ntpdata(data, prob))
    return np.asarray(getattr(res, "W", res), dtype=np.float64)


def _theory_W_mm(data, prob):
    try:
        from theory.ntp_svm import max_margin_direction  # noqa: PLC0415
    except ImportError:
        from theory.maxmargin import max_margin_direction  # noqa: PLC0415
    res = max_margin_direction(_as_ntpdata(data, prob))
    return np.asarray(getattr(res, "W", res), dtype=np.float64)


def _internal_W_star(prob):
    """Min-norm solution in F of the log-odds equations (spec 4.3), via G_F^+."""
    if prob.f_j.size == 0:
        return np.zeros((prob.V, prob.d))
    j, a, b = prob.f_j, prob.f_a, prob.f_b
    logodds = np.log(prob.P[j, a]) - np.log(prob.P[j, b])
    c = prob.KF @ (prob.KF.T @ logodds)
    W = np.zeros((prob.V, prob.d))
    np.add.at(W, a, c[:, None] * prob.H[j])
    np.add.at(W, b, -c[:, None] * prob.H[j])
    return W


def _resolve_references(data, prob, W_star, W_mm, w_tilde, compute):
    V, d = prob.V, prob.d
    src = {}
    out = {}
    for name, val in (("W_star", W_star), ("W_mm", W_mm), ("w_tilde", w_tilde)):
        if val is not None:
            out[name] = _check_matrix(name, val, (V, d))
            src[name] = "given"
        else:
            out[name] = None
            src[name] = "unavailable"
    if out["W_star"] is None and prob.onehot:
        out["W_star"] = np.zeros((V, d))
        src["W_star"] = "zero (one-hot data: F = {0})"
    if compute and out["W_star"] is None:
        try:
            out["W_star"] = _check_matrix("W_star", _theory_W_star(data, prob), (V, d))
            src["W_star"] = "theory.ntp.finite_component"
        except (ImportError, ValueError) as exc:
            # theory.ntp absent, or it rejects the data (e.g. a full-support context)
            if prob.has_F:
                out["W_star"] = _internal_W_star(prob)
                src["W_star"] = f"internal (G_F pseudo-inverse of the log-odds equations; {type(exc).__name__})"
    if compute and out["W_mm"] is None:
        try:
            out["W_mm"] = _check_matrix("W_mm", _theory_W_mm(data, prob), (V, d))
            src["W_mm"] = "theory max_margin_direction"
        except Exception as exc:  # absent module, non-separable data, solver failure: metrics become NaN
            warnings.warn(f"W_mm unavailable ({type(exc).__name__}: {exc}); the max-margin metrics are NaN. "
                          "Pass W_mm=... or references=False.", UserWarning, stacklevel=3)
    return out, src


def _ref_arrays(prob, refs, W0p):
    """Feature-space parts (3, V, r), perp Gram (4, 4), logit diffs b* and flags."""
    B = prob.B
    parts = np.zeros((3, prob.V, prob.r))
    perps = [W0p]
    has = np.zeros(4, dtype=np.bool_)
    for i, name in enumerate(("W_star", "W_mm", "w_tilde")):
        A = refs[name]
        if A is None:
            perps.append(np.zeros((prob.V, prob.d)))
            continue
        has[i] = True
        if prob.space == "full":
            parts[i] = A
            perps.append(np.zeros_like(A))
        else:
            parts[i] = _kmatmul(A, B)
            perps.append(A - _kmatmul(parts[i], B.T))
    has[3] = prob.has_F
    flat = np.stack([p.ravel() for p in perps])
    cp = flat @ flat.T
    if refs["W_star"] is not None and prob.f_j.size:
        Ls = prob.H @ refs["W_star"].T
        bstar = Ls[prob.f_j, prob.f_a] - Ls[prob.f_j, prob.f_b]
    else:
        bstar = np.zeros(prob.f_j.size)
    wmm_norm = float(np.linalg.norm(refs["W_mm"])) if refs["W_mm"] is not None else np.nan
    return parts, cp, np.ascontiguousarray(bstar), has, wmm_norm


# ----------------------------------------------------------------------------
# Trajectory


class Trajectory:
    """Result of :func:`run`: checkpoints, metrics, final W and the resumable state.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
        Recorded steps k (W_k is the iterate after k updates; 0 = W_0).
    metrics : dict of str -> ndarray of float64, shape (n_rec,)
        One array per name in :data:`METRIC_NAMES` (also readable as attributes,
        ``traj.gap``); NaN where a reference quantity is unavailable:

        - ``loss``: CE(W_k) = entropy + gap; ``gap``: CE(W_k) - H
          = sum_j pi_j KL(p_j || S(W_k h_j)) (stable form);
        - ``norm``: ||W_k||_F; ``norm_F``: ||P_F W_k||; ``norm_perp``: ||P_perp W_k||;
        - ``cos_mm``: cos(W_k, W^mm); ``cos_mm_corrected``: cos(W_k - W*, W^mm);
          ``cos_perp_mm``: cos(P_perp W_k, W^mm);
        - ``dist_F``: ||P_F(W_k) - W*||; ``perp_residual``:
          ||P_perp(W_k) - log(k) W^mm|| (k >= 1);
        - ``tilde_residual``: ||W_k - W* - log(k) W^mm - W~|| (k >= 1, needs
          ``w_tilde``; for one-hot data W* = 0 and this is Soudry et al.'s
          ||w(t) - w_hat log t - w_tilde||);
        - ``margin``: min_{j, z in S_j, v not in S_j} (e_z - e_v)^T W_k h_j / ||W_k||;
          ``margin_gap``: 1/||W^mm|| - margin;
        - ``colsum_maxabs``: max_i |(1^T W_k)_i|; ``colsum_drift``:
          max_i |(1^T (W_k - W_0))_i| (0 up to rounding for GD/NGD);
        - ``grad_norm``: ||grad CE(W_k)||; ``lr``: the step size eta_k of step k.

        The F-metrics (``norm_F``, ``norm_perp``, ``cos_perp_mm``, ``dist_F``,
        ``perp_residual``) use the Gram matrix of the sum_j (S_j - 1) generators of
        F and are NaN when there are more than 2000 of them.
    W : ndarray, shape (V, d)
        The final iterate W_step.
    W_records : ndarray, shape (n_rec, V, d), or None
        W_k at the checkpoints if ``record_W=True``.
    state : dict
        What a resumed run needs: ``step`` (int), ``W_r0`` (V, r) and
        ``W0_perp`` (V, d) (W_0 split along the feature basis), ``basis`` (d, r)
        or None; primal: ``W_r`` (V, r), ``adam_m``, ``adam_v`` (V, r); dual:
        ``A`` (V, m), ``logits`` (m, V). Here r = rank(H) (or d for Adam).
    config : dict
        JSON-able run settings: ``method``, ``lr``, ``schedule``, ``power``,
        ``lr_max``, ``beta1``, ``beta2``, ``adam_eps``, ``dtype``, ``algorithm``
        ("primal"/"dual"), ``space`` ("rowspace"/"full"), ``rank``, ``shape``
        [m, d, V], ``chunks`` [context, vocabulary], ``use_blas``,
        ``tiny_kernel``, ``data_fingerprint``, ``record_W``.
    W_star, W_mm, w_tilde : ndarray (V, d) or None
        The reference quantities used for the metrics.
    entropy : float
        The entropy lower bound H of the data.
    info : dict
        JSON-able metadata: reference sources, threads, timings per segment,
        numba/numpy versions.
    """

    def __init__(self, steps, metrics, W, state, config, W_star=None, W_mm=None, w_tilde=None,
                 entropy=float("nan"), info=None, W_records=None):
        self.steps = np.asarray(steps, dtype=np.int64)
        self.metrics = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
        self.W = W
        self.W_records = W_records
        self.state = state
        self.config = config
        self.W_star = W_star
        self.W_mm = W_mm
        self.w_tilde = w_tilde
        self.entropy = float(entropy)
        self.info = info if info is not None else {}
        self._problem = None
        self._data = None

    @property
    def step(self) -> int:
        """Number of steps taken so far."""
        return int(self.state["step"])

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(name)

    def __len__(self):
        return int(self.steps.size)

    def __repr__(self):
        c = self.config
        return (f"Trajectory(method={c.get('method')!r}, lr={c.get('lr')!r}, schedule={c.get('schedule')!r}, "
                f"step={self.step}, n_records={len(self)}, shape(m, d, V)={tuple(c.get('shape', ()))})")

    def at(self, step):
        """Metrics at a recorded step, as a dict of floats."""
        idx = np.flatnonzero(self.steps == step)
        if idx.size == 0:
            raise ValueError(f"step {step!r} was not recorded; recorded steps are {self.steps.tolist()[:10]}...")
        return {k: float(v[idx[0]]) for k, v in self.metrics.items()}

    def to_dict(self) -> dict:
        """Plain dict of numpy arrays and JSON-able scalars (None for absent arrays).

        Keys: ``format``, ``steps``, ``metrics`` (dict), ``W``, ``W_records``,
        ``state`` (dict of arrays plus ``step``), ``config``, ``W_star``, ``W_mm``,
        ``w_tilde``, ``entropy``, ``info``. :meth:`from_dict` inverts it exactly.
        """
        return {
            "format": _FORMAT,
            "steps": self.steps.copy(),
            "metrics": {k: v.copy() for k, v in self.metrics.items()},
            "W": np.array(self.W),
            "W_records": None if self.W_records is None else np.array(self.W_records),
            "state": {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in self.state.items()},
            "config": json.loads(json.dumps(self.config)),
            "W_star": None if self.W_star is None else np.array(self.W_star),
            "W_mm": None if self.W_mm is None else np.array(self.W_mm),
            "w_tilde": None if self.w_tilde is None else np.array(self.w_tilde),
            "entropy": self.entropy,
            "info": json.loads(json.dumps(self.info)),
        }

    @classmethod
    def from_dict(cls, d) -> Trajectory:
        """Rebuild a Trajectory from :meth:`to_dict` output (e.g. read from the store)."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"d must be a dict produced by Trajectory.to_dict (format {_FORMAT!r})")

        def arr(x):
            return None if x is None else np.array(x)

        state = {k: (np.array(v) if isinstance(v, np.ndarray) else v) for k, v in d["state"].items()}
        return cls(steps=np.array(d["steps"]), metrics={k: np.array(v) for k, v in d["metrics"].items()},
                   W=np.array(d["W"]), state=state, config=dict(d["config"]), W_star=arr(d["W_star"]),
                   W_mm=arr(d["W_mm"]), w_tilde=arr(d["w_tilde"]), entropy=d["entropy"], info=dict(d["info"]),
                   W_records=arr(d["W_records"]))

    def extend(self, steps, data=None, *, record=None, threads=None) -> Trajectory:
        """Continue this run for ``steps`` more steps with the same settings.

        Bitwise identical to having run ``self.step + steps`` steps at once.
        ``data`` may be omitted if this trajectory was produced in this process
        by :func:`run` (it keeps a reference to its data).
        """
        if data is None:
            data = self._data
        if data is None:
            raise ValueError("data is required to extend a trajectory read back with from_dict")
        c = self.config
        return run(data, steps, c["lr"], c["method"], schedule=c["schedule"], power=c["power"],
                   lr_max=c["lr_max"], beta1=c["beta1"], beta2=c["beta2"], adam_eps=c["adam_eps"],
                   record=record, record_W=c["record_W"], resume=self, threads=threads,
                   dtype=np.dtype(c["dtype"]).type)


# ----------------------------------------------------------------------------
# state handling


def _new_state(prob, W0):
    V, r, d = prob.V, prob.r, prob.d
    if prob.space == "full":
        Wr0 = W0.copy()
        W0p = np.zeros((V, d))
    else:
        Wr0 = _kmatmul(W0, prob.B)
        W0p = W0 - _kmatmul(Wr0, prob.B.T)
    st = {"step": 0, "W0_perp": W0p, "basis": prob.B if prob.space == "rowspace" else None,
          "W_r0": Wr0}
    if prob.algorithm == "dual":
        st["A"] = np.zeros((V, prob.m))
        Lt = np.zeros((prob.nc, V, prob.mc), dtype=prob.dtype)
        _k.init_logits(Wr0.astype(prob.dtype), prob.Xt_blk, Lt, False)
        st["logits"] = _unblock(Lt, prob.m)
    else:
        st["W_r"] = Wr0.copy()
    if prob.algorithm == "primal":
        st["adam_m"] = np.zeros((V, r))
        st["adam_v"] = np.zeros((V, r))
    return st


def _unblock(Lt, m):
    nc, V, mc = Lt.shape
    return np.ascontiguousarray(Lt.transpose(0, 2, 1).reshape(nc * mc, V)[:m])


def _block(L, nc, mc, dtype):
    m, V = L.shape
    Lp = np.zeros((nc * mc, V), dtype=dtype)
    Lp[:m] = L
    return np.ascontiguousarray(Lp.reshape(nc, mc, V).transpose(0, 2, 1))


def _kernel_state(prob, st):
    """Working arrays (kernel dtype, padded) from a state dict."""
    dt = prob.dtype
    V, r = prob.V, prob.r
    Wr0 = np.ascontiguousarray(st["W_r0"], dtype=dt)
    if prob.algorithm == "dual":
        Wr = np.zeros((V, r), dtype=dt)
        A = np.zeros((V, prob.m_pad), dtype=dt)
        A[:, :prob.m] = st["A"]
        Lt = _block(np.asarray(st["logits"]), prob.nc, prob.mc, dt)
        mom1 = np.zeros((0, 0), dtype=dt)
        mom2 = np.zeros((0, 0), dtype=dt)
    else:
        Wr = np.array(st["W_r"], dtype=dt)
        A = np.zeros((0, 0), dtype=dt)
        Lt = np.zeros((prob.nc, V, prob.mc), dtype=dt)
        mom1 = np.array(st["adam_m"], dtype=dt)
        mom2 = np.array(st["adam_v"], dtype=dt)
    return Wr, Wr0, A, Lt, mom1, mom2


def _state_from_kernel(prob, st_old, step, Wr, Wr0, A, Lt, mom1, mom2):
    st = {"step": int(step), "W0_perp": st_old["W0_perp"], "basis": st_old["basis"], "W_r0": st_old["W_r0"]}
    if prob.algorithm == "dual":
        st["A"] = np.ascontiguousarray(A[:, :prob.m])
        st["logits"] = _unblock(Lt, prob.m)
    else:
        st["W_r"] = Wr.copy()
        st["adam_m"] = mom1.copy()
        st["adam_v"] = mom2.copy()
    return st


def _final_W(prob, st):
    if prob.algorithm == "dual":
        Wc = np.asarray(st["W_r0"], dtype=np.float64) - _kmatmul(st["A"], prob.X[:prob.m].astype(np.float64))
    else:
        Wc = np.asarray(st["W_r"], dtype=np.float64)
    if prob.space == "full":
        return Wc + st["W0_perp"]
    return _kmatmul(Wc, prob.B.T) + st["W0_perp"]


def _scratch(prob):
    dt = prob.dtype
    V, r, m_pad, nc, mc = prob.V, prob.r, prob.m_pad, prob.nc, prob.mc
    gcols = r if prob.algorithm == "primal" else m_pad
    lead = ()
    return dict(
        Rt=np.zeros(lead + (V, m_pad), dtype=dt),
        Gb=np.zeros(lead + (V, gcols), dtype=dt),
        # (m_S, s_S, eps, other per-context constants): separate allocations
        stat=tuple(np.zeros(lead + (nc, mc)) for _ in range(3)) + (np.zeros(lead + (nc, _k.N_STAT, mc)),),
        gapj=np.zeros(lead + (nc, mc)),
        partial=np.zeros(lead + (prob.nvc,)),
        Wc=np.zeros(lead + (V, r), dtype=dt),
        gscratch=np.zeros(lead + (3, max(prob.f_j.size, r, V, 1))),
    )


_HP_KEYS = ("lr", "power", "lr_max", "beta1", "beta2", "adam_eps")


def _hp_vector(cfg):
    hp = np.zeros(_k.N_HP)
    hp[_k.HP_LR] = cfg["lr"]
    hp[_k.HP_POWER] = cfg["power"]
    hp[_k.HP_LR_MAX] = cfg["lr_max"]
    hp[_k.HP_BETA1] = cfg["beta1"]
    hp[_k.HP_BETA2] = cfg["beta2"]
    hp[_k.HP_ADAM_EPS] = cfg["adam_eps"]
    return hp


def _validate_settings(lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, dtype, algorithm):
    method = _check_choice("method", method, METHODS)
    schedule = _check_choice("schedule", schedule, SCHEDULES)
    algorithm = _check_choice("algorithm", algorithm, ALGORITHMS)
    lr = _check_positive("lr", lr)
    power = _check_positive("power", power)
    lr_max = _check_positive("lr_max", lr_max, allow_inf=True)
    for name, b in (("beta1", beta1), ("beta2", beta2)):
        if isinstance(b, bool) or not isinstance(b, numbers.Real) or not (0.0 <= float(b) < 1.0):
            raise ValueError(f"{name} must be a number in [0, 1), got {b!r}")
    adam_eps = _check_positive("adam_eps", adam_eps)
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be np.float64 or np.float32, got {dtype!r}") from exc
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise ValueError(f"dtype must be np.float64 or np.float32, got {dtype!r}")
    if dt == np.float32:
        warnings.warn(
            "dtype=float32: weights, logits, residuals and gradients are stored in float32 "
            "(about 7 significant digits). The in-support residual is an O(1/k) difference of O(1) "
            "numbers, so float32 loses it after ~1e6 steps, leaks ~1e-7 per step into F-perp and "
            "saturates the softmax at logit gaps ~17 (numerics spec section 2); use float64 for results.",
            UserWarning, stacklevel=3)
    return dict(method=method, schedule=schedule, lr=lr, power=power, lr_max=lr_max, beta1=float(beta1),
                beta2=float(beta2), adam_eps=adam_eps, dtype=dt.name, algorithm=algorithm)


def _record_steps(record, k0, total):
    if record is None:
        return log_checkpoints(total, _N_RECORD, k0)
    if isinstance(record, (numbers.Integral,)) and not isinstance(record, bool):
        n = _check_int("record", record, 1)
        return log_checkpoints(total, n, k0)
    try:
        arr = np.asarray(record)
    except Exception as exc:  # pragma: no cover
        raise TypeError(f"record must be None, an int or a 1-D array of steps, got {record!r}") from exc
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"record must be None, an int or a 1-D integer array of steps, got {record!r}")
    arr = arr.astype(np.int64)
    lo = k0 + 1 if k0 > 0 else 0
    if arr.size and (arr.min() < lo or arr.max() > total):
        raise ValueError(f"record steps must lie in [{lo}, {total}], got range [{arr.min()}, {arr.max()}]")
    return np.unique(np.append(arr, total))


def _threads(threads):
    import numba

    if threads is None:
        return int(numba.config.NUMBA_NUM_THREADS)
    return _check_int("threads", threads, 1)


_CONTROLLER = None


def _blas_controller():
    """A cached threadpoolctl controller that sees numba's BLAS (scipy's OpenBLAS)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        import scipy.linalg.cython_blas  # noqa: F401, PLC0415 (the BLAS numba's np.dot calls)
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


class _ThreadScope:
    """numba thread count set, BLAS limited to 1 thread (one parallel layer)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        import numba  # noqa: PLC0415

        self._old = numba.get_num_threads()
        numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))
        self._tp = _blas_controller().limit(limits=1, user_api="blas")
        self._tp.__enter__()
        return self

    def __exit__(self, *exc):
        import numba  # noqa: PLC0415

        self._tp.__exit__(*exc)
        numba.set_num_threads(self._old)


def _serial_kernel(prob, steps):
    """The serial driver: drive, or for tiny problems drive_tiny, compiled for the
    problem's sizes when the run is long or that version exists already (both
    versions do the same arithmetic: bitwise the same iterates)."""
    if not prob.tiny:
        return _k.drive
    if prob.dtype == np.float64 and (steps >= _TINY_FIXED_STEPS or _k.has_drive_tiny_fixed(prob.m, prob.V, prob.r)):
        return _k.drive_tiny_fixed(prob.m, prob.V, prob.r)
    return _k.drive_tiny


def _run_info(threads, par, prob):
    import numba

    return {"threads": int(threads), "parallel_chunks": bool(par), "numba": numba.__version__,
            "numpy": np.__version__, "use_blas": prob.use_blas, "tiny_kernel": prob.tiny,
            "chunks": [prob.ncc, prob.nvc]}


# ----------------------------------------------------------------------------
# public entry points


def run(data, steps, lr, method="gd", *, W0=None, schedule="constant", power=0.5, lr_max=np.inf,
        beta1=0.9, beta2=0.99, adam_eps=1e-8, record=None, record_W=False, W_star=None, W_mm=None,
        w_tilde=None, references=True, resume=None, dtype=np.float64, algorithm="auto",
        threads=None) -> Trajectory:
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
        ``theory.ntp.finite_component`` and ``max_margin_direction`` when
        ``references`` is True (W* = 0 for one-hot data; if ``theory.ntp`` is absent
        W* is computed internally as the min-norm solution on F of the log-odds
        equations). w_tilde is only used when given.
    references : bool
        Compute missing W*/W^mm (can be expensive for large m V); False skips it.
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
        numba threads for the chunked kernels of large problems (default all:
        ``numba.config.NUMBA_NUM_THREADS``); BLAS is limited to 1 thread during
        the run. Results do not depend on it.

    Returns
    -------
    Trajectory
        Recorded steps, metrics, final W (V, d) and the resumable state.

    Raises
    ------
    TypeError, ValueError
        For malformed data, non-integer or negative ``steps``, a non-positive or
        non-finite ``lr``, a W0 of the wrong shape, or an unknown method/schedule.

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
    with _ThreadScope(_threads(threads)):  # BLAS at 1 thread also during the set-up (no spinning pools)
        return _run(data, steps, lr, method, W0, schedule, power, lr_max, beta1, beta2, adam_eps, record, record_W,
                    W_star, W_mm, w_tilde, references, resume, dtype, algorithm, threads)


def _run(data, steps, lr, method, W0, schedule, power, lr_max, beta1, beta2, adam_eps, record, record_W, W_star,
         W_mm, w_tilde, references, resume, dtype, algorithm, threads):
    t_start = time.perf_counter()
    steps = _check_int("steps", steps, 0)
    H, P, pi = _check_data(data)
    m, d = H.shape
    V = P.shape[1]
    cfg = _validate_settings(lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, dtype, algorithm)
    if not isinstance(record_W, (bool, np.bool_)):
        raise TypeError(f"record_W must be a bool, got {record_W!r}")
    threads = _threads(threads)

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
        fp = _fingerprint(H, P, pi)
        if fp != rc["data_fingerprint"]:
            raise ValueError("data differs from the data of the resumed run (fingerprint mismatch)")
        prob = resume._problem
        if prob is None or prob.fingerprint != fp:
            prob = _prepare(H, P, pi, cfg["method"], rc["algorithm"], cfg["dtype"], basis=resume.state["basis"],
                            space=rc["space"], chunks=tuple(rc["chunks"]), use_blas=rc["use_blas"],
                            tiny=rc["tiny_kernel"])
        cfg["algorithm"] = rc["algorithm"]
        st = resume.state
        W_star = resume.W_star if W_star is None else W_star
        W_mm = resume.W_mm if W_mm is None else W_mm
        w_tilde = resume.w_tilde if w_tilde is None else w_tilde
        compute_refs = False
    else:
        prob = _prepare(H, P, pi, cfg["method"], cfg["algorithm"], cfg["dtype"])
        cfg["algorithm"] = prob.algorithm
        W0 = np.zeros((V, d)) if W0 is None else _check_matrix("W0", W0, (V, d))
        st = _new_state(prob, W0)
        compute_refs = bool(references)
    k0 = int(st["step"])
    total = k0 + steps
    rec = _record_steps(record, k0, total)
    refs, src = _resolve_references(data, prob, W_star, W_mm, w_tilde, compute_refs)

    cfg.update(space=prob.space, rank=prob.r, shape=[m, d, V], chunks=[prob.ncc, prob.nvc],
               use_blas=prob.use_blas, tiny_kernel=prob.tiny, data_fingerprint=prob.fingerprint,
               record_W=bool(record_W))
    Wr, Wr0, A, Lt, mom1, mom2 = _kernel_state(prob, st)
    parts, cp, bstar, has, wmm_norm = _ref_arrays(prob, refs, st["W0_perp"])
    sr0 = np.asarray(st["W_r0"], dtype=np.float64).sum(axis=0)
    s0 = np.asarray(st["W0_perp"]).sum(axis=0)
    out_m = np.full((rec.size, _k.N_METRICS), np.nan)
    out_W = np.zeros((rec.size if record_W else 0, V, d))
    sc = _scratch(prob)
    par = threads > 1 and (prob.ncc > 1 or prob.nvc > 1)
    t_kernel = time.perf_counter()
    kernel = _k.drive_parallel if par else _serial_kernel(prob, steps)
    nrec = kernel(
        k0, steps, rec, out_m, out_W, bool(record_W),
        METHODS.index(cfg["method"]), SCHEDULES.index(cfg["schedule"]), _hp_vector(cfg),
        prob.algorithm == "dual", prob.use_blas, prob.tiny, prob.nvc, prob.ncc,
        prob.Xt_blk, prob.X, prob.K, prob.inS, prob.sup, prob.pi_blk, prob.valid, prob.entropy,
        Wr, Wr0, A, Lt, mom1, mom2,
        sc["Rt"], sc["Gb"], sc["stat"], sc["gapj"], sc["partial"], sc["Wc"], sc["gscratch"],
        parts, has, cp, prob.B, st["W0_perp"], s0, sr0, prob.f_blk, prob.f_loc, prob.f_a, prob.f_b,
        prob.KF, bstar, wmm_norm)
    t_end = time.perf_counter()
    assert nrec == rec.size
    new_st = _state_from_kernel(prob, st, total, Wr, Wr0, A, Lt, mom1, mom2)
    W = _final_W(prob, new_st)
    seg = {"start": k0, "steps": steps, "kernel_seconds": t_end - t_kernel, "setup_seconds": t_kernel - t_start,
           **_run_info(threads, par, prob)}
    metrics = {name: out_m[:, i].copy() for i, name in enumerate(METRIC_NAMES)}
    W_records = out_W if record_W else None
    info = {"references": src, "segments": [seg]}
    if resume is not None:
        metrics = {k: np.concatenate([resume.metrics[k], metrics[k]]) for k in metrics}
        rec = np.concatenate([resume.steps, rec])
        if record_W and resume.W_records is not None:
            W_records = np.concatenate([resume.W_records, out_W])
        elif not record_W:
            W_records = None
        info = {"references": {**resume.info.get("references", {}), **{k: v for k, v in src.items()
                                                                       if v == "given"}},
                "segments": list(resume.info.get("segments", [])) + [seg]}
    traj = Trajectory(rec, metrics, W, new_st, cfg, W_star=refs["W_star"], W_mm=refs["W_mm"],
                      w_tilde=refs["w_tilde"], entropy=prob.entropy, info=info, W_records=W_records)
    traj._problem = prob
    traj._data = data
    return traj


def run_ensemble(data, steps, lrs=None, W0s=None, *, lr=None, method="gd", schedule="constant", power=0.5,
                 lr_max=np.inf, beta1=0.9, beta2=0.99, adam_eps=1e-8, record=None, record_W=False, W_star=None,
                 W_mm=None, w_tilde=None, references=True, dtype=np.float64, algorithm="auto",
                 threads=None) -> list:
    """Many independent runs on the same data in parallel (one member per thread).

    Members differ in step size and/or initial point. Each member runs serially
    in its own thread (the numba kernel releases the GIL; BLAS is limited to 1
    thread, so there is one parallel layer), with the same kernels and chunking
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
        Common step size when ``lrs`` is None.
    other parameters
        As in :func:`run` (w_tilde, when given, is shared by all members).

    Returns
    -------
    list of Trajectory
        One per member, each resumable with :func:`run`.
    """
    with _ThreadScope(1):  # members run one per Python thread; BLAS at 1 thread throughout
        return _run_ensemble(data, steps, lrs, W0s, lr, method, schedule, power, lr_max, beta1, beta2, adam_eps,
                             record, record_W, W_star, W_mm, w_tilde, references, dtype, algorithm, threads)


def _run_ensemble(data, steps, lrs, W0s, lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, record,
                  record_W, W_star, W_mm, w_tilde, references, dtype, algorithm, threads):
    steps = _check_int("steps", steps, 0)
    H, P, pi = _check_data(data)
    m, d = H.shape
    V = P.shape[1]
    if lrs is None and lr is None:
        raise ValueError("give lrs (one step size per member) or lr (common step size)")
    if lrs is not None:
        lrs_list = list(np.atleast_1d(np.asarray(lrs, dtype=object)))
        if len(lrs_list) == 0:
            raise ValueError("lrs must not be empty")
    if W0s is not None:
        W0_list = [_check_matrix(f"W0s[{i}]", w, (V, d)) for i, w in enumerate(W0s)]
        if len(W0_list) == 0:
            raise ValueError("W0s must not be empty")
    n = len(lrs_list) if lrs is not None else (len(W0_list) if W0s is not None else 1)
    if lrs is not None and W0s is not None and len(lrs_list) != len(W0_list):
        raise ValueError(f"lrs and W0s must have the same length, got {len(lrs_list)} and {len(W0_list)}")
    if lrs is None:
        lrs_list = [lr] * n
    if W0s is None:
        W0_list = [np.zeros((V, d))] * n
    cfgs = [_validate_settings(lr_i, method, schedule, power, lr_max, beta1, beta2, adam_eps,
                               dtype if i == 0 else np.float64, algorithm) for i, lr_i in enumerate(lrs_list)]
    for c in cfgs:
        c["dtype"] = cfgs[0]["dtype"]
    threads = _threads(threads)
    prob = _prepare(H, P, pi, cfgs[0]["method"], cfgs[0]["algorithm"], cfgs[0]["dtype"])
    rec = _record_steps(record, 0, steps)
    refs, src = _resolve_references(data, prob, W_star, W_mm, w_tilde, bool(references))
    states = [_new_state(prob, W0) for W0 in W0_list]
    kstates = [_kernel_state(prob, st) for st in states]
    out_m = np.full((n, rec.size, _k.N_METRICS), np.nan)
    out_W = np.zeros((n, rec.size if record_W else 0, V, d))
    method_id = METHODS.index(cfgs[0]["method"])
    sched_id = SCHEDULES.index(cfgs[0]["schedule"])
    kernel = _serial_kernel(prob, steps)  # chosen (and created) once, before the threads

    def member(i):
        Wr, Wr0, A, Lt, mom1, mom2 = kstates[i]
        parts, cp, bstar, has, wmm_norm = _ref_arrays(prob, refs, states[i]["W0_perp"])
        sr0 = np.asarray(states[i]["W_r0"], dtype=np.float64).sum(axis=0)
        s0 = np.asarray(states[i]["W0_perp"]).sum(axis=0)
        sc = _scratch(prob)
        kernel(0, steps, rec, out_m[i], out_W[i], bool(record_W), method_id, sched_id, _hp_vector(cfgs[i]),
               prob.algorithm == "dual", prob.use_blas, prob.tiny, prob.nvc, prob.ncc,
               prob.Xt_blk, prob.X, prob.K, prob.inS, prob.sup, prob.pi_blk, prob.valid,
               prob.entropy, Wr, Wr0, A, Lt, mom1, mom2,
               sc["Rt"], sc["Gb"], sc["stat"], sc["gapj"], sc["partial"], sc["Wc"], sc["gscratch"],
               parts, has, cp, prob.B, states[i]["W0_perp"], s0, sr0, prob.f_blk, prob.f_loc, prob.f_a,
               prob.f_b, prob.KF, bstar, wmm_norm)

    t0 = time.perf_counter()
    if threads == 1 or n == 1:
        for i in range(n):
            member(i)
    else:
        # drive releases the GIL (nogil=True): one member per Python thread
        with ThreadPoolExecutor(max_workers=min(threads, n)) as pool:
            list(pool.map(member, range(n)))
    dt = time.perf_counter() - t0
    out = []
    for i in range(n):
        cfg = dict(cfgs[i])
        cfg.update(algorithm=prob.algorithm, space=prob.space, rank=prob.r, shape=[m, d, V],
                   chunks=[prob.ncc, prob.nvc], use_blas=prob.use_blas, tiny_kernel=prob.tiny,
                   data_fingerprint=prob.fingerprint, record_W=bool(record_W))
        new_st = _state_from_kernel(prob, states[i], steps, *kstates[i])
        seg = {"start": 0, "steps": steps, "kernel_seconds": dt, "ensemble_members": n,
               **_run_info(threads, False, prob)}
        traj = Trajectory(rec.copy(), {name: out_m[i, :, j].copy() for j, name in enumerate(METRIC_NAMES)},
                          _final_W(prob, new_st), new_st, cfg, W_star=refs["W_star"], W_mm=refs["W_mm"],
                          w_tilde=refs["w_tilde"], entropy=prob.entropy,
                          info={"references": src, "segments": [seg]},
                          W_records=out_W[i].copy() if record_W else None)
        traj._problem = prob
        traj._data = data
        out.append(traj)
    return out


# ----------------------------------------------------------------------------
# plain NumPy reference and data helpers


def reference_numpy_run(data, steps, lr, method="gd", *, W0=None, schedule="constant", power=0.5,
                        lr_max=np.inf, beta1=0.9, beta2=0.99, adam_eps=1e-8):
    """The same update as :func:`run` in plain NumPy, in the original coordinates.

    Textbook formulas: logits L = H W^T, softmax with the row max subtracted,
    R = pi (softmax - P), gradient R^T H; the loss gap for the loss-adaptive
    schedule is sum_j pi_j sum_z p_jz (log p_jz - log softmax_z). No row-space
    reduction, no split residual. Used by the tests and the benchmark.

    Parameters
    ----------
    data, steps, lr, method, W0, schedule, power, lr_max, beta1, beta2, adam_eps
        As in :func:`run`.

    Returns
    -------
    W : ndarray, shape (V, d)
        The iterate after ``steps`` steps.
    """
    steps = _check_int("steps", steps, 0)
    H, P, pi = _check_data(data)
    cfg = _validate_settings(lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, np.float64, "auto")
    V, d = P.shape[1], H.shape[1]
    W = np.zeros((V, d)) if W0 is None else _check_matrix("W0", W0, (V, d)).copy()
    mom1 = np.zeros_like(W)
    mom2 = np.zeros_like(W)
    S = P > 0
    logP = np.log(np.where(S, P, 1.0))
    for k in range(steps):
        L = H @ W.T
        L = L - L.max(axis=1, keepdims=True)
        E = np.exp(L)
        Z = E.sum(axis=1, keepdims=True)
        G = (pi[:, None] * (E / Z - P)).T @ H
        if cfg["schedule"] == "power":
            eta = lr / (k + 1.0) ** power
        elif cfg["schedule"] == "loss":
            logsm = L - np.log(Z)
            gap = float(np.sum(pi * np.sum(np.where(S, P * (logP - logsm), 0.0), axis=1)))
            eta = min(lr / max(gap, _k.GAP_FLOOR), lr_max)
        else:
            eta = lr
        if cfg["method"] == "gd":
            W = W - eta * G
        elif cfg["method"] == "ngd":
            g = np.linalg.norm(G)
            if g > 0:
                W = W - (eta / g) * G
        else:
            t = k + 1
            mom1 = beta1 * mom1 + (1 - beta1) * G
            mom2 = beta2 * mom2 + (1 - beta2) * G * G
            W = W - (eta / (1 - beta1 ** t)) * mom1 / (np.sqrt(mom2) / np.sqrt(1 - beta2 ** t) + adam_eps)
    return W


def _make_data(H, P, pi):
    """theory.ntp.NTPData when available, else a SimpleNamespace with H, P, pi."""
    try:
        from theory.ntp import NTPData  # noqa: PLC0415
    except ImportError:
        return _types.SimpleNamespace(H=H, P=P, pi=pi)
    return NTPData(H, P, pi)


def classification_data(X, y, n_classes=None, pi=None):
    """One-hot NTP data for multiclass classification (every support of size 1).

    With P = onehot(y) the NTP loss is the weighted multiclass cross-entropy
    sum_n pi_n (-log S_{y_n}(W x_n)) of [S18] section 4; the default pi_n = 1/n
    makes it the mean (GD with step eta on the mean = step eta/n on the sum).

    Parameters
    ----------
    X : array (n, d)
        Inputs as rows.
    y : int array (n,)
        Labels in 0..n_classes-1.
    n_classes : int, optional
        V (default max(y) + 1, at least 2).
    pi : array (n,), optional
        Weights (default 1/n).

    Returns
    -------
    data with H = X (n, d), P (n, V) one-hot, pi (n,)
    """
    X = np.array(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array (n, d), got shape {X.shape}")
    y = np.asarray(y)
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be an integer array of shape ({X.shape[0]},), got {y.dtype} {y.shape}")
    V = int(max(y.max() + 1, 2)) if n_classes is None else _check_int("n_classes", n_classes, 2)
    if y.min() < 0 or y.max() >= V:
        raise ValueError(f"labels y must lie in [0, {V - 1}], got range [{y.min()}, {y.max()}]")
    P = np.zeros((X.shape[0], V))
    P[np.arange(X.shape[0]), y] = 1.0
    pi = np.full(X.shape[0], 1.0 / X.shape[0]) if pi is None else np.array(pi, dtype=np.float64)
    return _make_data(X, P, pi)


def binary_data(X, y, pi=None):
    r"""Binary logistic regression as 2-class softmax data.

    Labels y_n in {-1, +1} (or {0, 1}, read as 0 -> -1) map to classes
    c_n = 0 for y_n = +1 and c_n = 1 for y_n = -1. With w = w_0 - w_1
    (:func:`logistic_weights`) the 2-class cross-entropy is the logistic loss

    .. math::

        -\log \mathbb S_{c_n}(W x_n) = \log\left(1 + e^{-y_n w^\top x_n}\right),

    and since 1^T grad = 0 (w_0 + w_1 never moves), GD on W with step eta is GD
    on the logistic loss sum_n pi_n log(1 + exp(-y_n w^T x_n)) with step 2 eta on w.
    The NTP-SVM solution of this data is W^mm = [w_hat/2; -w_hat/2] with w_hat
    the hard-margin SVM (min ||w|| s.t. y_n w^T x_n >= 1), ||W^mm|| = ||w_hat||/sqrt 2.

    Parameters
    ----------
    X : array (n, d)
    y : array (n,) of {-1, +1} or {0, 1}
    pi : array (n,), optional
        Weights (default 1/n).

    Returns
    -------
    data with H = X, P (n, 2), pi
    """
    y = np.asarray(y)
    vals = set(np.unique(y).tolist())
    if not (vals <= {-1, 1} or vals <= {0, 1}):
        raise ValueError(f"y must take values in {{-1, +1}} or {{0, 1}}, got {sorted(vals)}")
    pos = y == 1
    return classification_data(X, np.where(pos, 0, 1).astype(np.int64), n_classes=2, pi=pi)


def logistic_weights(W):
    """w = w_0 - w_1 of a 2-class weight matrix W (2, d) (see :func:`binary_data`).

    Parameters
    ----------
    W : array (2, d) or (..., 2, d)

    Returns
    -------
    ndarray (d,) or (..., d)
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim < 2 or W.shape[-2] != 2:
        raise ValueError(f"W must have shape (..., 2, d), got {W.shape}")
    return W[..., 0, :] - W[..., 1, :]
