r"""Hard-margin SVMs without bias, their KKT certificates, and Soudry et al.'s :math:`\tilde w`.

Implements the one-hot side of the max-margin theory:

    [S18] D. Soudry, E. Hoffer, M. S. Nacson, S. Gunasekar, N. Srebro, *The Implicit Bias
    of Gradient Descent on Separable Data*, JMLR 19(70), 2018, arXiv 1710.10345.

* :func:`binary_svm`: :math:`\hat w=\arg\min\|w\|^2` s.t. :math:`y_i w^\top x_i\ge1`
  ([S18] eq. 4, no bias), the limit direction of GD on the logistic / exponential loss.
* :func:`multiclass_svm`: the K-class hard-margin SVM of [S18] §4 (Thm 7),
  :math:`\min\sum_k\|w_k\|^2` s.t. :math:`(w_{y_i}-w_k)^\top x_i\ge1` for all
  :math:`k\ne y_i`; the hard-margin Crammer-Singer / Weston-Watkins machine without bias.
* :func:`binary_w_tilde`, :func:`multiclass_w_tilde`: the finite offset :math:`\tilde w` in
  :math:`w(t)=\hat w\log t+\tilde w+o(1)` ([S18] Thm 3 and its multiclass analogue).
* :class:`KKTCertificate` (defined in :mod:`theory.margin`, re-exported here).

Both SVMs are solved by the shared convex-margin pipeline :func:`theory.margin.solve_margin`:
rescaling of X by a power of two when its largest row norm is far from 1 (so the answer
does not depend on the data's scale), cvxpy + Clarabel (named explicitly, tight
tolerances), **polish** on the active set (paper, Sec. 'Numerics and solvers') and a KKT certificate;
a point whose certificate fails is never returned (``theory.margin.MarginSolverError``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from theory._validation import as_int, as_real, as_real_array, check_memory
from theory.margin import (
    ACTIVE_SLACK,
    CLARABEL_OPTIONS,
    DEFAULT_KKT_TOL,
    KKTCertificate,
    DenseRows,
    NotSeparableError,
    PairRows,
    involved_rows,
    solve_margin,
    support_farkas,
)

__all__ = [
    "ACTIVE_SLACK",
    "CLARABEL_OPTIONS",
    "DEFAULT_KKT_TOL",
    "KKTCertificate",
    "BinarySVMResult",
    "MulticlassSVMResult",
    "WTildeResult",
    "binary_svm",
    "multiclass_svm",
    "binary_w_tilde",
    "multiclass_w_tilde",
    "constraint_generators",
    "soudry_predictions",
]


# --------------------------------------------------------------------------------------
# input checks (theory._validation) and the one-hot constraint families
# --------------------------------------------------------------------------------------
def _as_matrix(x: Any, name: str) -> np.ndarray:
    """Finite float64 2-D array with at least one row and column, or an error naming ``name``."""
    return as_real_array(x, name, ndim=2)


def _binary_labels(y: Any, n: int) -> np.ndarray:
    arr = as_real_array(y, "y", shape=(n,))
    bad = np.flatnonzero(~np.isin(arr, (-1.0, 1.0)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"binary labels y must be -1 or +1 (no 0/1 coding); y[{i}] = {float(arr[i])!r}"
            + (f" ({bad.size} bad labels)" if bad.size > 1 else "")
        )
    return arr


def _class_labels(y: Any, n: int, K: Any) -> tuple[np.ndarray, int]:
    arr = as_real_array(y, "y", shape=(n,))
    frac = np.flatnonzero(arr != np.round(arr))
    if frac.size:
        i = int(frac[0])
        raise ValueError(f"y must contain integer class labels 0..K-1; y[{i}] = {float(arr[i])!r}")
    arr = arr.astype(np.int64)
    if arr.min() < 0:
        i = int(np.argmin(arr))
        raise ValueError(f"class labels must be in 0..K-1; y[{i}] = {arr[i]}")
    if K is None:
        K = max(int(arr.max()) + 1, 2)
    else:
        K = as_int(K, "K", low=2)
        if arr.max() >= K:
            i = int(np.argmax(arr))
            raise ValueError(f"class labels must be in 0..K-1 = 0..{K - 1}; y[{i}] = {arr[i]}")
    return arr, K


class _BinaryRows(DenseRows):
    """Rows y_i x_i of the binary SVM; infeasibility reported with the sample weights."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        super().__init__(y[:, None] * X)
        self.X, self.y = X, y

    def scaled(self, factor):
        return _BinaryRows(self.X * factor, self.y)

    def farkas(self):
        support = np.zeros((self.X.shape[0], 2), dtype=bool)
        support[np.arange(self.X.shape[0]), (self.y > 0).astype(int)] = True
        return support_farkas(self.X, support)

    def describe_infeasible(self, R):
        lam = np.abs(R).max(axis=1)
        idx = involved_rows(R)
        lam = lam / lam[list(idx)].sum()
        return (f"Farkas certificate: samples {list(idx)} with weights "
                f"{[round(float(lam[i]), 6) for i in idx]} satisfy sum_i lambda_i y_i x_i = 0")


class _MulticlassRows(PairRows):
    """Generators (e_{y_i} - e_k) x_i^T; infeasibility reported with the samples involved."""

    def __init__(self, X: np.ndarray, y: np.ndarray, K: int):
        ii, kk = np.nonzero(np.arange(K)[None, :] != y[:, None])
        super().__init__(X, (ii, y[ii], kk), K)
        self.y = y

    def scaled(self, factor):
        return _MulticlassRows(self.X * factor, self.y, self.n_classes)

    def farkas(self):
        support = np.zeros((self.X.shape[0], self.n_classes), dtype=bool)
        support[np.arange(self.X.shape[0]), self.y] = True
        return support_farkas(self.X, support)

    def describe_infeasible(self, R):
        return f"a Farkas certificate combines the margin constraints of samples {list(involved_rows(R))} into 0 >= 1"


# --------------------------------------------------------------------------------------
# binary SVM
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BinarySVMResult:
    r"""Hard-margin binary SVM without bias.

    Attributes
    ----------
    w : ndarray, shape (d,)
        :math:`\hat w`.
    margin : float
        :math:`1/\|\hat w\|`, the geometric margin.
    alpha : ndarray, shape (n,)
        Dual variables: :math:`\hat w=\sum_i\alpha_iy_ix_i`, :math:`\alpha\ge0`.
    active : ndarray of int
        Indices with :math:`y_i\hat w^\top x_i-1\le` :data:`ACTIVE_SLACK`.
    support_vectors : ndarray of int
        Indices with :math:`\alpha_i>10^{-9}\max\alpha`.
    solver : str
        ``prob.solver_stats.solver_name`` of the cvxpy solve (``"CLARABEL"``).
    status : str
        cvxpy status.
    solve_time : float
        Wall time of the whole call in seconds.
    polished : bool
        Whether the active-set polish was accepted.
    certificate : KKTCertificate
        Of the problem solved (data divided by ``scale``; all residuals are relative).
    scale : float
        Power of two X was divided by before solving (1.0: as given; see
        :func:`theory.margin.power_of_two_scale`).
    notes : str
    """

    w: np.ndarray
    margin: float
    alpha: np.ndarray
    active: np.ndarray
    support_vectors: np.ndarray
    solver: str
    status: str
    solve_time: float
    polished: bool
    certificate: KKTCertificate
    scale: float = 1.0
    notes: str = ""


def binary_svm(X: Any, y: Any) -> BinarySVMResult:
    r"""Hard-margin SVM through the origin ([S18] eq. 4), with a KKT certificate.

    .. math::

        \hat w=\arg\min_w\ \tfrac12\|w\|^2\quad\text{s.t.}\quad y_i\,w^\top x_i\ge1,\ i\in[n].

    Parameters
    ----------
    X : array_like, shape (n, d)
        Samples as rows.
    y : array_like, shape (n,)
        Labels in {-1, +1}.

    Returns
    -------
    BinarySVMResult

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, labels other than ±1, or data not linearly separable through
        the origin (the message lists the samples of a Farkas certificate: nonnegative
        weights, summing to 1, with :math:`\sum_i\lambda_iy_ix_i=0`).
    theory.margin.MarginSolverError
        (a ``RuntimeError``) no point with a valid KKT certificate (status and residuals in
        the message); never returned silently.

    Notes
    -----
    Solved by :func:`theory.margin.solve_margin` on the rows :math:`Z=\mathrm{diag}(y)X`
    (divided by a power of two first when far from unit size, so that
    ``binary_svm(s * X, y).w == binary_svm(X, y).w / s``): cvxpy + Clarabel
    (:data:`CLARABEL_OPTIONS`), then polished on the active set: with :math:`Z_A` the active
    rows, :math:`\alpha_A=(Z_AZ_A^\top)^{-1}\mathbf 1` and :math:`\hat w=Z_A^\top\alpha_A`.
    Equivalent to ``theory.margin.hard_margin_svm(y[:, None] * X)``.
    """
    t0 = time.perf_counter()
    X = _as_matrix(X, "X")
    n, d = X.shape
    y = _binary_labels(y, n)
    check_memory(8.0 * n * d * 6, f"binary_svm(X of shape {X.shape})")
    rows = _BinaryRows(X, y)
    try:
        pt = solve_margin(rows, what="the binary SVM")
    except NotSeparableError as exc:
        raise NotSeparableError(
            "X, y are not linearly separable through the origin (no w with y_i w^T x_i >= 1); "
            + rows.describe_infeasible(exc.certificate), exc.certificate
        ) from None
    w_fin, alpha = pt.w, pt.ineq_multipliers
    margins = rows.A @ w_fin
    active = np.flatnonzero(margins - 1.0 <= ACTIVE_SLACK)
    sv = np.flatnonzero(alpha > 1e-9 * max(float(alpha.max()), np.finfo(float).tiny))
    return BinarySVMResult(
        w=w_fin,
        margin=1.0 / float(np.linalg.norm(w_fin)),
        alpha=alpha,
        active=active,
        support_vectors=sv,
        solver=pt.solver,
        status=pt.status,
        solve_time=time.perf_counter() - t0,
        polished=pt.polished,
        certificate=pt.certificate,
        scale=pt.scale,
        notes=pt.notes,
    )


# --------------------------------------------------------------------------------------
# multiclass SVM
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MulticlassSVMResult:
    r"""K-class hard-margin SVM without bias ([S18] §4).

    Attributes
    ----------
    W : ndarray, shape (K, d)
        :math:`\hat W` (row k is :math:`\hat w_k`).
    margin : float
        :math:`1/\|\hat W\|_F`.
    alpha : ndarray, shape (n, K)
        Dual variables :math:`\alpha_{ik}\ge0` of the constraints
        :math:`(w_{y_i}-w_k)^\top x_i\ge1` (0 at :math:`k=y_i`):
        :math:`\hat W=\sum_{i,k}\alpha_{ik}(e_{y_i}-e_k)x_i^\top`.
    active : ndarray of int, shape (n_active, 2)
        Pairs (i, k) with slack at most :data:`ACTIVE_SLACK`.
    solver, status, solve_time, polished, certificate, scale, notes
        As in :class:`BinarySVMResult`.
    """

    W: np.ndarray
    margin: float
    alpha: np.ndarray
    active: np.ndarray
    solver: str
    status: str
    solve_time: float
    polished: bool
    certificate: KKTCertificate
    scale: float = 1.0
    notes: str = ""


def multiclass_svm(X: Any, y: Any, K: int | None = None) -> MulticlassSVMResult:
    r"""K-class hard-margin SVM without bias ([S18] §4, Thm 7), with a KKT certificate.

    .. math::

        \hat W=\arg\min_{W\in\mathbb R^{K\times d}}\ \tfrac12\|W\|_F^2\quad\text{s.t.}\quad
        (w_{y_i}-w_k)^\top x_i\ge1\quad\forall i,\ \forall k\ne y_i.

    This is [T24]'s NTP-SVM with one-hot supports, and the hard-margin limit of
    Crammer-Singer's multiclass SVM (scikit-learn ``LinearSVC(multi_class="crammer_singer",
    fit_intercept=False)`` with large C).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Samples as rows.
    y : array_like of int, shape (n,)
        Labels in ``0..K-1``.
    K : int, optional
        Number of classes (>= 2); default ``max(y) + 1`` (at least 2). Classes without
        samples still get constraints (every sample must beat them by 1).

    Returns
    -------
    MulticlassSVMResult

    Raises
    ------
    ValueError
        Bad shapes, NaN/inf, labels outside ``0..K-1``, or data not multiclass-separable
        through the origin (the message names the samples of a Farkas certificate).
    """
    t0 = time.perf_counter()
    X = _as_matrix(X, "X")
    n, d = X.shape
    y, K = _class_labels(y, n, K)
    check_memory(8.0 * n * (K - 1) * (d + 2) * 4 + 8.0 * n * n, f"multiclass_svm(X of shape {X.shape}, K={K})")
    rows = _MulticlassRows(X, y, K)
    try:
        pt = solve_margin(rows, what="the multiclass SVM")
    except NotSeparableError as exc:
        raise NotSeparableError(
            "X, y are not multiclass-separable through the origin (no W with (w_y - w_k)^T x_i >= 1); "
            + rows.describe_infeasible(exc.certificate), exc.certificate
        ) from None
    ii, _, kk = rows.ineq
    W_fin, lam = pt.w, pt.ineq_multipliers
    marg = rows.values(W_fin)[0]
    alpha = np.zeros((n, K))
    alpha[ii, kk] = lam
    sel = marg - 1.0 <= ACTIVE_SLACK
    return MulticlassSVMResult(
        W=W_fin,
        margin=1.0 / float(np.linalg.norm(W_fin)),
        alpha=alpha,
        active=np.stack([ii[sel], kk[sel]], axis=1),
        solver=pt.solver,
        status=pt.status,
        solve_time=time.perf_counter() - t0,
        polished=pt.polished,
        certificate=pt.certificate,
        scale=pt.scale,
        notes=pt.notes,
    )


# --------------------------------------------------------------------------------------
# second-order term w-tilde
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WTildeResult:
    r"""The finite offset :math:`\tilde w` of GD on separable data ([S18] Thm 3).

    Attributes
    ----------
    w_tilde : ndarray, shape (d,) (binary) or (K, d) (multiclass)
        :math:`\tilde w=\tilde w_{\mathcal S}+\tilde w_0`, the limit of
        :math:`w(t)-\hat w\log t`.
    w_hat : ndarray, same shape
        The hard-margin SVM solution.
    determined : ndarray, same shape
        :math:`\tilde w_{\mathcal S}`: the part fixed by the support-vector equations (in the
        span of the support-vector generators).
    from_init : ndarray, same shape
        :math:`\tilde w_0`: the projection of the initialisation onto the orthogonal
        complement of the span of all constraint generators (GD never moves it).
    alpha : ndarray
        SVM dual variables ((n,) binary, (n, K) multiclass).
    support : ndarray of int
        Support-vector indices (binary) or (i, k) pairs (multiclass, shape (s, 2)).
    lr : float
        Step size the offset refers to (GD on the **summed** loss).
    equation_residual : float
        :math:`\max_{\mathcal S}|\eta\exp(-\langle g_s,\tilde w\rangle)/\alpha_s-1|`.
    """

    w_tilde: np.ndarray
    w_hat: np.ndarray
    determined: np.ndarray
    from_init: np.ndarray
    alpha: np.ndarray
    support: np.ndarray
    lr: float
    equation_residual: float


def _rank(A: np.ndarray, rtol: float = 1e-10) -> int:
    if A.size == 0:
        return 0
    s = np.linalg.svd(A, compute_uv=False)
    return int(np.sum(s > rtol * s[0])) if s[0] > 0 else 0


def _wtilde_checks(gens: np.ndarray, alpha_s: np.ndarray, n_active: int, full_dim: int, what: str) -> None:
    if n_active != alpha_s.size:
        raise ValueError(
            f"strict complementarity fails: {n_active} {what} constraints are active but only "
            f"{alpha_s.size} have a positive SVM multiplier (a degenerate, measure-zero data set); "
            f"[S18]'s almost-every-data formula for w_tilde does not apply"
        )
    r = _rank(gens)
    if r != gens.shape[0]:
        raise ValueError(
            f"the {gens.shape[0]} support-vector generators are linearly dependent (rank {r}); the "
            f"equations eta*exp(-<g_s, w_tilde>) = alpha_s need not have a solution (not almost-every data)"
        )
    if r != full_dim:
        raise ValueError(
            f"the support vectors span a subspace of dimension {r} < {full_dim}, the span of the data's "
            f"constraint generators: the component of lim(w(t) - w_hat log t) outside the support-vector "
            f"span is fixed by the whole GD trajectory (summed non-support-vector gradients), not by a "
            f"closed form. w_tilde is only implemented when the support vectors span the data ([S18] Thm 3)"
        )


def binary_w_tilde(X: Any, y: Any, lr: float, w0: Any = None) -> WTildeResult:
    r"""Second-order term :math:`\tilde w` of GD on separable binary data ([S18] Thm 3).

    For GD :math:`w(t+1)=w(t)-\eta\nabla\mathcal L(w(t))` on the **summed** loss
    :math:`\mathcal L(w)=\sum_i\ell(y_iw^\top x_i)` with an exponential tail
    :math:`-\ell'(u)\sim e^{-u}` (logistic :math:`\log(1+e^{-u})` and exponential
    :math:`e^{-u}` alike), [S18] Thm 3 states :math:`w(t)=\hat w\log t+\rho(t)` with
    :math:`\rho` bounded for almost every data set; its proof works with the vector
    :math:`\tilde w` defined by

    .. math::

        \eta\,\exp(-y_s x_s^\top\tilde w)=\alpha_s\quad\text{for every support vector }s,

    with :math:`\alpha` the SVM dual variables (:math:`\hat w=\sum_s\alpha_sy_sx_s`), and
    :math:`\rho(t)\to\tilde w` when the support vectors span the data. [The exact
    theorem text could not be retrieved here; the equations below were re-derived (Notes)
    and are confirmed numerically by GD in ``tests/theory/test_maxmargin.py``, where
    :math:`\|w(t)-\hat w\log t-\tilde w\|` decays at the predicted rate.]

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    lr : float
        GD step size :math:`\eta` on the summed loss. For the **mean** loss
        :math:`\frac1n\sum_i\ell` pass ``lr / n``.
    w0 : array_like, shape (d,), optional
        GD initialisation (default 0). Only its component orthogonal to the span of the
        data enters :math:`\tilde w` (GD never changes it).

    Returns
    -------
    WTildeResult

    Raises
    ------
    ValueError
        Bad input, non-separable data, or a violated almost-every-data assumption:
        strict complementarity (every active constraint has :math:`\alpha_s>0`),
        linearly independent support vectors, support vectors spanning the data.

    Notes
    -----
    Derivation sketch (derived here, matching [S18] §3): inserting
    :math:`w(t)=\hat w\log t+\tilde w+r(t)` in the GD update, the support-vector terms of
    the gradient are :math:`\eta e^{-y_sx_s^\top\tilde w}y_sx_s/t` and must equal
    :math:`\hat w/t=\sum_s\alpha_sy_sx_s/t`; non-support vectors contribute
    :math:`O(t^{-\theta})`, :math:`\theta>1`, which is summable. The logistic loss's
    :math:`-\ell'(u)=e^{-u}+O(e^{-2u})` differs from the exponential's by :math:`O(t^{-2})`,
    also summable, so both losses share :math:`\tilde w`. The equations fix
    :math:`\tilde w` only inside the support-vector span; this function requires that
    span to be the whole span of the data, so the remaining part is the initialisation's
    component orthogonal to the data, which GD never moves. Convergence
    :math:`r(t)\to0` is polynomial in t (linearising, :math:`r` decays like
    :math:`t^{-\lambda}` with :math:`\lambda` the smallest eigenvalue of
    :math:`\sum_s\alpha_s z_sz_s^\top` on the span, and like :math:`t^{1-\theta}`).
    """
    lr = as_real(lr, "lr", low=0.0, low_open=True)
    X = _as_matrix(X, "X")
    n, d = X.shape
    svm = binary_svm(X, y)
    yy = _binary_labels(y, n)
    Z = yy[:, None] * X
    w0 = np.zeros(d) if w0 is None else as_real_array(w0, "w0", shape=(d,))
    sv = svm.support_vectors
    _wtilde_checks(Z[sv], svm.alpha[sv], svm.active.size, _rank(Z), "margin")
    rhs = np.log(lr / svm.alpha[sv])
    det = Z[sv].T @ scipy.linalg.solve(Z[sv] @ Z[sv].T, rhs, assume_a="pos")  # min-norm: in the span
    U = scipy.linalg.orth(Z.T)
    init = w0 - U @ (U.T @ w0)
    w_t = det + init
    res = float(np.max(np.abs(lr * np.exp(-(Z[sv] @ w_t)) / svm.alpha[sv] - 1.0)))
    return WTildeResult(
        w_tilde=w_t,
        w_hat=svm.w,
        determined=det,
        from_init=init,
        alpha=svm.alpha,
        support=sv,
        lr=lr,
        equation_residual=res,
    )


def multiclass_w_tilde(X: Any, y: Any, lr: float, K: int | None = None, W0: Any = None) -> WTildeResult:
    r"""Second-order term :math:`\tilde W` of GD on multiclass cross-entropy ([S18] §4 analogue).

    GD :math:`W(t+1)=W(t)-\eta\nabla\mathcal L(W(t))` on the **summed** cross-entropy
    :math:`\mathcal L(W)=\sum_i\log\big(1+\sum_{k\ne y_i}e^{-(w_{y_i}-w_k)^\top x_i}\big)`
    satisfies :math:`W(t)=\hat W\log t+\rho(t)` with :math:`\hat W` the K-class SVM
    ([S18] Thm 7). With generators :math:`g_{ik}=(e_{y_i}-e_k)x_i^\top` the gradient is
    :math:`-\sum_{i,k}\mathbb S_k(Wx_i)g_{ik}`, and :math:`\mathbb S_k(Wx_i)=
    e^{-\langle g_{ik},W\rangle}(1+O(1/t))` in the tail, so Kesler's construction turns the
    binary argument into

    .. math::

        \eta\,\exp(-\langle g_{ik},\tilde W\rangle)=\alpha_{ik}\quad\text{for every support
        pair }(i,k),

    with :math:`\alpha` the multiclass SVM multipliers. (derived here: [S18] state Thm 7 for the
    direction and a bounded residual; the explicit :math:`\tilde W` is the Kesler analogue of
    their binary equation.)

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like of int, shape (n,)
        Labels in ``0..K-1``.
    lr : float
        Step size on the summed loss (``lr / n`` for the mean loss).
    K : int, optional
        Number of classes.
    W0 : array_like, shape (K, d), optional
        Initialisation (default 0). Its part outside
        :math:`\{W:\mathbf 1^\top W=0,\ \text{rows in span}(X)\}` (the span of all
        generators) is never changed by GD and is added to :math:`\tilde W`.

    Returns
    -------
    WTildeResult
        ``support`` holds the (i, k) support pairs, ``alpha`` the (n, K) multipliers.

    Raises
    ------
    ValueError
        As :func:`binary_w_tilde`; the spanning condition reads: the support-pair generators
        span the :math:`(K-1)\,\mathrm{rank}(X)`-dimensional span of all generators.
    """
    lr = as_real(lr, "lr", low=0.0, low_open=True)
    X = _as_matrix(X, "X")
    n, d = X.shape
    yy, K = _class_labels(y, n, K)
    svm = multiclass_svm(X, yy, K)
    W0 = np.zeros((K, d)) if W0 is None else _as_matrix(W0, "W0")
    if W0.shape != (K, d):
        raise ValueError(f"W0 must have shape (K, d) = ({K}, {d}), got {W0.shape}")
    a = svm.alpha
    scale = max(float(a.max()), np.finfo(float).tiny)
    si, sk = np.nonzero(a > 1e-9 * scale)
    gens = np.zeros((si.size, K, d))
    gens[np.arange(si.size), yy[si], :] += X[si]
    gens[np.arange(si.size), sk, :] -= X[si]
    gens = gens.reshape(si.size, K * d)
    rX = _rank(X)
    _wtilde_checks(gens, a[si, sk], svm.active.shape[0], (K - 1) * rX, "pair")
    rhs = np.log(lr / a[si, sk])
    mu = scipy.linalg.solve(gens @ gens.T, rhs, assume_a="pos")
    det = (gens.T @ mu).reshape(K, d)
    U = scipy.linalg.orth(X.T)
    C = np.eye(K) - 1.0 / K
    init = W0 - C @ W0 @ U @ U.T
    W_t = det + init
    res = float(np.max(np.abs(lr * np.exp(-(gens @ W_t.ravel())) / a[si, sk] - 1.0)))
    return WTildeResult(
        w_tilde=W_t,
        w_hat=svm.W,
        determined=det,
        from_init=init,
        alpha=a,
        support=np.stack([si, sk], axis=1),
        lr=lr,
        equation_residual=res,
    )


def constraint_generators(X: np.ndarray, y: np.ndarray, K: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All margin-constraint generators as flat vectors.

    Returns
    -------
    G : ndarray, shape (n_con, p)
        Binary (K None): rows :math:`y_nx_n` (p = d). Multiclass: rows
        :math:`\\mathrm{vec}((e_{y_n}-e_k)x_n^\\top)` for k ≠ y_n (p = K d).
    sample : ndarray of int, shape (n_con,)
        Sample index n of each constraint.
    cls : ndarray of int, shape (n_con,)
        The competing class k (-1 for binary).
    """
    X = _as_matrix(X, "X")
    n, d = X.shape
    if K is None:
        y = _binary_labels(y, n)
    else:
        y, K = _class_labels(y, n, K)
    check_memory(8.0 * n * max(K or 1, 1) ** 2 * d, f"constraint_generators(X of shape {X.shape}, K={K})")
    if K is None:
        return y[:, None] * X, np.arange(n), np.full(n, -1)
    ii, kk = np.nonzero(np.arange(K)[None, :] != y[:, None])
    G = np.zeros((ii.size, K, d))
    G[np.arange(ii.size), y[ii]] += X[ii]
    G[np.arange(ii.size), kk] -= X[ii]
    return G.reshape(ii.size, K * d), ii, kk


def soudry_predictions(G: np.ndarray, alpha: np.ndarray, W_hat: np.ndarray, W_tilde: np.ndarray,
                       lr_eff: float) -> dict:
    r"""Leading constants and the residual rate of GD on separable one-hot data ([S18] asymptotics).

    (derived here) Inserting :math:`W_k=\hat W\log k+\tilde W` into the loss, the direction, the
    margin and the norm, with :math:`\eta_\Sigma e^{-\langle g_s,\tilde W\rangle}=\alpha_s` on the
    support constraints and :math:`\hat W=\sum_s\alpha_sg_s`:

    * :math:`k\,\mathcal L(W_k)\to\|\hat W\|^2/\eta` (mean loss, step :math:`\eta`);
    * :math:`\log k\,\|W_k/\|W_k\|-\hat W/\|\hat W\|\|\to\|P_\perp\tilde W\|/\|\hat W\|`;
    * :math:`\log k\,(1/\|\hat W\|-\min_n\langle g_n,W_k\rangle/\|W_k\|)\to
      (\max_s\log\alpha_s-\sum_s\alpha_s\log\alpha_s/\sum_s\alpha_s)/\|\hat W\|`;
    * :math:`\|W_k\|-\|\hat W\|\log k\to\langle\hat W,\tilde W\rangle/\|\hat W\|`;
    * :math:`\|W_k-\hat W\log k-\tilde W\|=O(k^{-\rho})`,
      :math:`\rho=\min(\lambda_{\min}(M),\theta-1,1)`, :math:`M=\sum_s\alpha_sg_sg_s^\top`,
      :math:`\theta` the smallest non-support margin (the one-hot case of
      :func:`theory.ntp_asymptotics.ntp_w_tilde`'s exponent).

    Parameters
    ----------
    G : ndarray, shape (n_con, p)
        Constraint generators (:func:`constraint_generators`).
    alpha : ndarray, shape (n_con,)
        SVM multipliers of those constraints.
    W_hat : ndarray, p entries in any shape
        The hard-margin SVM solution.
    W_tilde : ndarray, same shape as ``W_hat``
        The second-order term for step ``lr_eff`` on the mean loss.
    lr_eff : float
        GD step on the mean loss in the panel's units.

    Returns
    -------
    dict of float and lists
        ``loss_times_k`` (:math:`\\|\\hat W\\|^2/\\eta`), ``direction_times_log_k``,
        ``one_minus_cos_times_log2_k``, ``margin_gap_times_log_k``, ``norm_offset``,
        ``M_eigenvalues``, ``lambda_min``, ``theta`` (smallest inactive margin),
        ``residual_rate`` :math:`\\rho`.
    """
    w = as_real_array(W_hat, "W_hat").ravel()
    G = as_real_array(G, "G", shape=(None, w.size))
    wt = as_real_array(W_tilde, "W_tilde")
    if wt.shape != np.shape(W_hat):
        raise ValueError(f"W_tilde must have the shape of W_hat, {np.shape(W_hat)}, got {wt.shape}")
    wt = wt.ravel()
    a = as_real_array(alpha, "alpha", shape=(G.shape[0],))
    if a.min() < 0 or a.max() <= 0:
        raise ValueError(f"alpha must be >= 0 with a positive entry (SVM multipliers), got min {a.min()!r}, max {a.max()!r}")
    lr_eff = as_real(lr_eff, "lr_eff", low=0.0, low_open=True)
    nw = float(np.linalg.norm(w))
    if nw == 0:
        raise ValueError("W_hat must be nonzero (the hard-margin SVM solution)")
    u = w / nw
    sup = a > 1e-9 * a.max()
    a_s, G_s = a[sup], G[sup]
    perp = wt - (u @ wt) * u
    c_dir = float(np.linalg.norm(perp)) / nw
    c_margin = float(np.log(a_s).max() - (a_s @ np.log(a_s)) / a_s.sum()) / nw
    sq = np.sqrt(a_s)
    lam = np.linalg.eigvalsh((sq[:, None] * (G_s @ G_s.T)) * sq[None, :])
    inactive = (G @ w)[~sup]
    theta = float(inactive.min()) if inactive.size else float("inf")
    lam_min = float(lam.min())
    return {
        "loss_times_k": nw**2 / lr_eff,
        "direction_times_log_k": c_dir,
        "one_minus_cos_times_log2_k": 0.5 * c_dir**2,
        "margin_gap_times_log_k": c_margin,
        "norm_offset": float(u @ wt),
        "M_eigenvalues": lam.tolist(),
        "lambda_min": lam_min,
        "theta": theta,
        "residual_rate": float(min(lam_min, theta - 1.0, 1.0)),
    }
