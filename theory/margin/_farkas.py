"""Farkas certificates of infeasible margin systems (LPs with HiGHS)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse

from theory._validation import as_bool_array, as_real_array, as_tolerance

__all__ = ["FARKAS_TOL", "DenseFarkas", "dense_farkas", "involved_rows", "support_farkas"]

#: A Farkas certificate is accepted when its combination residual (relative to the size
#: of the combined terms) is at most this; HiGHS' interior point ends near 1e-10 relative.
FARKAS_TOL = 1e-8


def support_farkas(X: np.ndarray, support: np.ndarray) -> np.ndarray | None:
    r"""Farkas certificate of non-separability of support-constrained margin constraints.

    The system (in :math:`Y\in\mathbb R^{V\times r}`, :math:`c\in\mathbb R^m`)
    :math:`x_j^\top y_z=c_j` (:math:`z\in\mathcal S_j`), :math:`x_j^\top y_v\le c_j-1`
    (:math:`v\notin\mathcal S_j`) is infeasible iff there is :math:`R\in\mathbb R^{m\times V}`
    with :math:`R_{jv}\le0` off-support, free in-support, zero row sums,
    :math:`X^\top R=0` and :math:`\sum_{\rm off}(-R_{jv})=1` (then
    :math:`\sum_j r_jh_j^\top=0` combines margin generators with nonnegative weights and
    equality generators with free weights into zero while the weighted right-hand sides
    sum to 1 > 0). Solved as an LP with HiGHS, minimising :math:`\sum_{\rm in}|R_{jz}|`
    so that few contexts are involved.

    Parameters
    ----------
    X : ndarray, shape (m, r)
        Context embeddings (rows), finite.
    support : ndarray of bool, shape (m, V)
        :math:`\mathcal S_j` as rows.

    Returns
    -------
    R : ndarray, shape (m, V), or None if the LP finds no certificate (separable).
    """
    X = as_real_array(X, "X", ndim=2, copy=False)
    m, r = X.shape
    support = as_bool_array(support, "support", shape=(m, None))
    V = support.shape[1]
    sup = support.ravel()
    idx_off = np.flatnonzero(~sup)
    idx_in = np.flatnonzero(sup)
    n_off, n_in = idx_off.size, idx_in.size
    # variable layout: [R_off (n_off), p (n_in), n (n_in)], R_in = p - n
    nvar = n_off + 2 * n_in

    def cols(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        j, v = np.divmod(flat, V)
        return j, v, np.arange(flat.size)

    rows, colsi, vals = [], [], []
    # X^T R = 0 -> row (v, k): sum_j X[j, k] R[j, v]
    for block, sign, offset, flat in ((0, 1.0, 0, idx_off), (1, 1.0, n_off, idx_in), (2, -1.0, n_off + n_in, idx_in)):
        j, v, t = cols(flat)
        rr = (v[:, None] * r + np.arange(r)[None, :]).ravel()
        cc = np.repeat(offset + t, r)
        vv = (sign * X[j, :]).ravel()
        rows.append(rr)
        colsi.append(cc)
        vals.append(vv)
        # row sums: row V*r + j
        rows.append(V * r + j)
        colsi.append(offset + t)
        vals.append(np.full(t.size, sign))
    # normalisation sum_off R = -1
    rows.append(np.full(n_off, V * r + m))
    colsi.append(np.arange(n_off))
    vals.append(np.ones(n_off))
    A = scipy.sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(colsi))), shape=(V * r + m + 1, nvar)
    )
    b = np.zeros(V * r + m + 1)
    b[-1] = -1.0
    cost = np.concatenate([np.zeros(n_off), np.ones(2 * n_in)])
    bounds = [(None, 0.0)] * n_off + [(0.0, None)] * (2 * n_in)
    res = scipy.optimize.linprog(cost, A_eq=A, b_eq=b, bounds=bounds, method="highs-ipm")
    if res.status != 0:
        return None
    x = res.x
    R = np.zeros(m * V)
    R[idx_off] = x[:n_off]
    R[idx_in] = x[n_off : n_off + n_in] - x[n_off + n_in :]
    return R.reshape(m, V)


def involved_rows(R: np.ndarray, rtol: float = 1e-9) -> tuple[int, ...]:
    r"""Rows of a certificate matrix with an entry above ``rtol`` times its largest entry.

    Parameters
    ----------
    R : ndarray, shape (m, V)
        E.g. the Farkas certificate of :func:`support_farkas`; finite.
    rtol : float
        Relative threshold, > 0.

    Returns
    -------
    tuple of int
        Indices j with :math:`\max_v|R_{jv}|>\mathrm{rtol}\cdot\max|R|` (empty if R = 0).
    """
    R = as_real_array(R, "R", ndim=2, copy=False)
    rtol = as_tolerance(rtol, "rtol")
    scale = float(np.abs(R).max())
    return tuple(int(j) for j in np.flatnonzero(np.abs(R).max(axis=1) > rtol * scale))


@dataclass(frozen=True)
class DenseFarkas:
    r"""Certificate that :math:`Aw\ge\mathbf 1`, :math:`Bw=0` has no solution.

    Weights :math:`\lambda\ge0` with :math:`\sum_i\lambda_i=1` and free :math:`\beta` with
    :math:`A^\top\lambda+B^\top\beta=0`; a solution w would give
    :math:`0=\langle A^\top\lambda+B^\top\beta,w\rangle\ge\sum\lambda_i=1`.

    Attributes
    ----------
    ineq_weights : ndarray, shape (n,)
        :math:`\lambda`.
    eq_weights : ndarray, shape (q,)
        :math:`\beta`.
    combination_residual : float
        :math:`\|A^\top\lambda+B^\top\beta\|/(\sum_i\lambda_i\|a_i\|+\sum_k|\beta_k|\|b_k\|)`.
    rows : tuple of int
        Inequality rows with a weight above :math:`10^{-9}\max\lambda`.
    """

    ineq_weights: np.ndarray
    eq_weights: np.ndarray
    combination_residual: float
    rows: tuple[int, ...]

    @property
    def ok(self) -> bool:
        """Combination residual at most :data:`FARKAS_TOL` and weights nonnegative."""
        return bool(self.combination_residual <= FARKAS_TOL and self.ineq_weights.min() >= -FARKAS_TOL)


def dense_farkas(A: np.ndarray, B: np.ndarray | None = None) -> DenseFarkas | None:
    r"""Farkas certificate of infeasibility of :math:`Aw\ge\mathbf 1`, :math:`Bw=0`, or None.

    Solves the LP :math:`\min\ \mathbf 0` s.t. :math:`A^\top\lambda+B^\top\beta=0`,
    :math:`\mathbf 1^\top\lambda=1`, :math:`\lambda\ge0` with HiGHS. Pass rows of unit-ish
    size (the LP's tolerances are absolute).

    Parameters
    ----------
    A : ndarray, shape (n, p)
    B : ndarray, shape (q, p), optional

    Returns
    -------
    DenseFarkas or None
        None when the LP is infeasible (then the margin system is feasible).
    """
    A = as_real_array(A, "A", ndim=2)
    n, p = A.shape
    B = np.zeros((0, p)) if B is None else as_real_array(B, "B", shape=(None, p), nonempty=False)
    q = B.shape[0]
    Aeq = np.zeros((p + 1, n + q))
    Aeq[:p, :n] = A.T
    Aeq[:p, n:] = B.T
    Aeq[p, :n] = 1.0
    beq = np.zeros(p + 1)
    beq[p] = 1.0
    bounds = [(0.0, None)] * n + [(None, None)] * q
    res = scipy.optimize.linprog(np.zeros(n + q), A_eq=Aeq, b_eq=beq, bounds=bounds, method="highs")
    if res.status != 0:
        return None
    lam, beta = res.x[:n], res.x[n:]
    comb = A.T @ lam + B.T @ beta
    denom = float(lam @ np.linalg.norm(A, axis=1) + np.abs(beta) @ np.linalg.norm(B, axis=1))
    rows = tuple(int(i) for i in np.flatnonzero(lam > 1e-9 * max(float(lam.max()), np.finfo(float).tiny)))
    return DenseFarkas(
        ineq_weights=lam,
        eq_weights=beta,
        combination_residual=float(np.linalg.norm(comb) / max(denom, np.finfo(float).tiny)),
        rows=rows,
    )
