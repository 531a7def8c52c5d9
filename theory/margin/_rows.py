r"""Constraint rows of a hard-margin QP: dense features, a Gram matrix, or structured generators.

A :class:`ConstraintRows` object describes the problem

.. math::

    \min_W\ \tfrac12\|W\|_F^2\quad\text{s.t.}\quad\langle A_i,W\rangle\ge1\ (i<n),\qquad
    \langle B_k,W\rangle=0\ (k<q)

through the operations the solver needs (values of the rows at W, combinations of rows,
Gram blocks, a Clarabel formulation, rescaling, a Farkas certificate). Subclass it to give
a structured family of generators (the NTP-SVM in :mod:`theory.ntp_svm` does) to
:func:`theory.margin.solve_margin`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import as_index_array, as_int, as_real_array
from theory.margin._certificate import KKTCertificate, kkt_certificate
from theory.margin._clarabel import solve_clarabel
from theory.margin._farkas import DenseFarkas, dense_farkas
from theory.margin._linalg import min_norm_multipliers, pair_gram

__all__ = ["ClarabelPoint", "ConstraintRows", "DenseRows", "GramRows", "PairRows"]


class ClarabelPoint(tuple):
    """``(w, lam, beta, status, solver, iterations)`` of one Clarabel solve (w None if none)."""

    __slots__ = ()

    def __new__(cls, w, lam, beta, status, solver, iterations):
        return super().__new__(cls, (w, lam, beta, status, solver, iterations))


class ConstraintRows:
    r"""Interface of a margin problem's rows (see the module docstring).

    Attributes
    ----------
    n_ineq : int
        Number n of inequality rows :math:`A_i`.
    n_eq : int
        Number q of equality rows :math:`B_k`.
    """

    n_ineq: int
    n_eq: int

    # -- required ----------------------------------------------------------------------
    def values(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(<A_i, W>)_i`` (shape (n,)) and ``(<B_k, W>)_k`` (shape (q,))."""
        raise NotImplementedError

    def combine(self, lam: np.ndarray, beta: np.ndarray, *, sparse: bool = False) -> np.ndarray:
        r""":math:`\sum_i\lambda_iA_i+\sum_k\beta_kB_k` (a point W); ``sparse``: skip zero ``lam``."""
        raise NotImplementedError

    def gram(self, active: np.ndarray) -> np.ndarray:
        """Gram matrix of the rows ``[B_0..B_{q-1}, A_active...]`` (equalities first)."""
        raise NotImplementedError

    def row_scale(self) -> float:
        """Size of the rows (largest row norm or a proxy); used to rescale to unit size."""
        raise NotImplementedError

    def scaled(self, factor: float) -> "ConstraintRows":
        """The same rows multiplied by ``factor``."""
        raise NotImplementedError

    def clarabel(self) -> ClarabelPoint:
        """Solve the QP with cvxpy + Clarabel; multipliers in this object's row order."""
        raise NotImplementedError

    # -- defaults ------------------------------------------------------------------------
    def equality_solve(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        r"""Minimum-norm point with the ``active`` inequality rows and all equalities tight.

        Returns the multipliers ``(lam, beta)`` (``lam`` of shape (n,), zero off
        ``active``) of :math:`W=\sum\lambda_iA_i+\sum\beta_kB_k` solving
        :math:`\langle A_i,W\rangle=1` (i active), :math:`\langle B_k,W\rangle=0`.
        """
        idx = np.flatnonzero(active)
        rhs = np.concatenate([np.zeros(self.n_eq), np.ones(idx.size)])
        mu = min_norm_multipliers(self.gram(idx), rhs)
        lam = np.zeros(self.n_ineq)
        lam[idx] = mu[self.n_eq:]
        return lam, mu[: self.n_eq]

    def certificate(self, w: np.ndarray, lam: np.ndarray, beta: np.ndarray) -> KKTCertificate:
        """KKT certificate of ``(w, lam, beta)``."""
        a, b = self.values(w)
        return kkt_certificate(a, lam, w, self.combine(lam, beta),
                               equality_residual=float(np.max(np.abs(b))) if b.size else 0.0)

    def farkas(self) -> Any:
        """A verified certificate that the rows admit no feasible W, or None."""
        return None

    def describe_infeasible(self, cert: Any) -> str:
        """Text naming what a Farkas certificate combines (for error messages)."""
        return f"a Farkas certificate combines inequality rows {list(getattr(cert, 'rows', ()))} into 0 >= 1"


class DenseRows(ConstraintRows):
    r"""Rows given as dense matrices: ``A`` (n, p) inequalities, ``B`` (q, p) equalities.

    W is a vector of length p.
    """

    def __init__(self, A: np.ndarray, B: np.ndarray | None = None):
        A = as_real_array(A, "A", ndim=2, copy=False)
        self.A = A
        self.B = (np.zeros((0, A.shape[1])) if B is None
                  else as_real_array(B, "B", shape=(None, A.shape[1]), nonempty=False, copy=False))
        self.n_ineq, self.n_eq = A.shape[0], self.B.shape[0]

    def values(self, w):
        return self.A @ w, self.B @ w

    def combine(self, lam, beta, *, sparse=False):
        if sparse:  # only the rows with a nonzero multiplier (the polish's active rows)
            idx = np.flatnonzero(lam)
            out = self.A[idx].T @ lam[idx]
        else:
            out = self.A.T @ lam
        return out + self.B.T @ beta if self.n_eq else out

    def gram(self, active):
        M = np.concatenate([self.B, self.A[active]]) if self.n_eq else self.A[active]
        return M @ M.T

    def row_scale(self):
        norms = np.linalg.norm(np.concatenate([self.A, self.B]), axis=1)
        return float(norms.max())

    def scaled(self, factor):
        return DenseRows(self.A * factor, self.B * factor)

    def clarabel(self):
        import cvxpy as cp

        w = cp.Variable(self.A.shape[1])
        cons = [self.A @ w >= 1]
        if self.n_eq:
            cons.append(self.B @ w == 0)
        prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(w)), cons)
        status, name, _ = solve_clarabel(prob)
        iters = int(getattr(prob.solver_stats, "num_iters", 0) or 0)
        if w.value is None:
            return ClarabelPoint(None, None, None, status, name, iters)
        lam = np.maximum(np.asarray(cons[0].dual_value, dtype=float), 0.0)
        # cvxpy's equality dual y enters the Lagrangian as + y^T (B w); W = A^T lam - B^T y
        beta = -np.asarray(cons[1].dual_value, dtype=float) if self.n_eq else np.zeros(0)
        return ClarabelPoint(np.asarray(w.value, dtype=float), lam, beta, status, name, iters)

    def farkas(self) -> DenseFarkas | None:
        cert = dense_farkas(self.A, self.B if self.n_eq else None)
        return cert if cert is not None and cert.ok else None


class GramRows(DenseRows):
    r"""Rows known only through their Gram matrix :math:`K=AA^\top` (kernel SVM, no equalities).

    Internally :math:`A=U\Lambda^{1/2}` from the eigendecomposition :math:`K=U\Lambda U^\top`
    (eigenvalues below :math:`n\,\epsilon\,\lambda_{\max}` dropped), so W lives in
    :math:`\mathbb R^r`, r = rank K; Gram blocks are taken from K itself.
    """

    def __init__(self, K: np.ndarray, features: np.ndarray | None = None):
        K = as_real_array(K, "K", ndim=2, copy=False)
        if K.shape != (K.shape[0], K.shape[0]):
            raise ValueError(f"K must be a square (n, n) Gram matrix, got shape {K.shape}")
        self.K = K
        if features is not None:
            features = as_real_array(features, "features", shape=(K.shape[0], None), copy=False)
        else:
            evals, U = np.linalg.eigh(K)
            keep = evals > K.shape[0] * np.finfo(float).eps * max(float(evals[-1]), 0.0)
            features = U[:, keep] * np.sqrt(evals[keep])
            if features.shape[1] == 0:
                features = np.zeros((K.shape[0], 1))
        super().__init__(features)

    def gram(self, active):
        return self.K[np.ix_(active, active)]

    def row_scale(self):
        return float(np.sqrt(max(float(np.max(np.diag(self.K))), 0.0)))

    def scaled(self, factor):
        return GramRows(self.K * (factor * factor), self.A * factor)


class PairRows(ConstraintRows):
    r"""Generators :math:`(e_a-e_b)x_i^\top\in\mathbb R^{K\times d}` of multiclass / NTP margins.

    Parameters
    ----------
    X : ndarray, shape (N, d)
        Samples / context embeddings as rows.
    ineq : tuple of three int arrays (i, a, b), each shape (n,)
        Inequality generators :math:`(e_{a}-e_{b})x_{i}^\top` (row ``i``, classes a, b).
    eq : tuple of three int arrays, optional
        Equality generators in the same form.
    n_classes : int
        K (rows of W).
    """

    def __init__(self, X: np.ndarray, ineq: tuple, n_classes: int, eq: tuple | None = None):
        self.X = as_real_array(X, "X", ndim=2, copy=False)
        self.n_classes = as_int(n_classes, "n_classes", low=2)
        self.ineq = self._generators(ineq, "ineq")
        empty = np.zeros(0, dtype=np.int64)
        self.eq = (empty, empty, empty) if eq is None else self._generators(eq, "eq")
        self.n_ineq, self.n_eq = self.ineq[0].size, self.eq[0].size
        self._G = None

    def _generators(self, gens: Any, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``gens`` as three int64 arrays (i, a, b) of one length, indices in range."""
        if not isinstance(gens, (tuple, list)) or len(gens) != 3:
            raise TypeError(
                f"{name} must be a tuple of three integer arrays (i, a, b), got {str(gens)[:60]!r} "
                f"of type {type(gens).__name__}"
            )
        N, K = self.X.shape[0], self.n_classes
        i = as_index_array(gens[0], f"{name}[0] (sample indices i)", high=N)
        a = as_index_array(gens[1], f"{name}[1] (classes a)", high=K)
        b = as_index_array(gens[2], f"{name}[2] (classes b)", high=K)
        if not i.shape == a.shape == b.shape:
            raise ValueError(f"{name} must hold three arrays of one length, got shapes {i.shape}, {a.shape}, {b.shape}")
        return i, a, b

    @property
    def G(self) -> np.ndarray:
        r""":math:`XX^\top`, computed once."""
        if self._G is None:
            self._G = self.X @ self.X.T
        return self._G

    def values(self, W):
        L = self.X @ W.T
        (i, a, b), (je, ae, be) = self.ineq, self.eq
        return L[i, a] - L[i, b], L[je, ae] - L[je, be]

    def coefficients(self, lam, beta) -> np.ndarray:
        r""":math:`R\in\mathbb R^{N\times K}` with :math:`\sum\lambda A+\sum\beta B=R^\top X`."""
        (i, a, b), (je, ae, be) = self.ineq, self.eq
        R = np.zeros((self.X.shape[0], self.n_classes))
        j = np.concatenate([je, i])
        mu = np.concatenate([beta, lam])
        np.add.at(R, (j, np.concatenate([ae, a])), mu)
        np.add.at(R, (j, np.concatenate([be, b])), -mu)
        return R

    def combine(self, lam, beta, *, sparse=False):
        return self.coefficients(lam, beta).T @ self.X

    def gram(self, active):
        (i, a, b), (je, ae, be) = self.ineq, self.eq
        return pair_gram(np.concatenate([je, i[active]]), np.concatenate([ae, a[active]]),
                         np.concatenate([be, b[active]]), self.G)

    def row_scale(self):
        return float(np.linalg.norm(self.X, axis=1).max())

    def scaled(self, factor):
        return PairRows(self.X * factor, self.ineq, self.n_classes, self.eq)

    def clarabel(self):
        import cvxpy as cp

        (i, a, b), (je, ae, be) = self.ineq, self.eq
        W = cp.Variable((self.n_classes, self.X.shape[1]))
        Lg = self.X @ W.T
        cons = [Lg[i, a] - Lg[i, b] >= 1]
        if self.n_eq:
            cons.append(Lg[je, ae] - Lg[je, be] == 0)
        prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(W)), cons)
        status, name, _ = solve_clarabel(prob)
        iters = int(getattr(prob.solver_stats, "num_iters", 0) or 0)
        if W.value is None:
            return ClarabelPoint(None, None, None, status, name, iters)
        lam = np.maximum(np.asarray(cons[0].dual_value, dtype=float), 0.0)
        beta = -np.asarray(cons[1].dual_value, dtype=float) if self.n_eq else np.zeros(0)
        return ClarabelPoint(np.asarray(W.value, dtype=float), lam, beta, status, name, iters)
