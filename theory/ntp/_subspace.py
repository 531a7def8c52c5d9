r"""The data subspace F of [T24] eq. (5), its projections, and the finite component W*
(eq. 4) (part of :mod:`theory.ntp`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse

from theory._validation import as_choice, as_real, as_real_array, as_tolerance, check_memory
from theory.margin import pair_gram
from theory.ntp._data import NTPData, readonly
from theory.ntp._losses import check_data, log_odds_matrix

__all__ = ["DataSubspace", "FiniteComponent", "data_subspace", "finite_component"]


# --------------------------------------------------------------------------------------
# data subspace F and the finite component W*
# --------------------------------------------------------------------------------------
def _generator_index(data: NTPData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context j, anchor z_j, other token z') for every anchored generator."""
    S = data.support.copy()
    S[np.arange(data.m), data.anchors] = False
    jj, zz = np.nonzero(S)
    return jj, data.anchors[jj], zz


class _DenseF:
    r"""F in the coordinates of the row space of H (thin SVD :math:`H=U\Sigma V_H^\top`).

    With :math:`Y=U\Sigma` (m, r), F is spanned by the anchored generators
    :math:`a_g=(e_{z_j}-e_{z'})\otimes y_j\in\mathbb R^{V r}`, normalised to unit norm
    (rows of :math:`A`, shape (N, V r)). Two exact ways to use them:

    * **Gram** (when the generators are linearly independent and N < V r): the Gram
      matrix :math:`K=AA^\top` (N, N) is formed from :math:`YY^\top` in :math:`O(N^2)`
      (:func:`theory.margin.pair_gram`, never materialising A), Cholesky-factorised, and
      :math:`W^\star=A^\top K^{-1}b`, :math:`P_F(w)=A^\top K^{-1}Aw`, each with two steps of
      refinement whose residual is computed through A itself (corrected semi-normal
      equations), so the error is that of an orthogonal method, not of the squared
      condition number. Cost :math:`O(N^3+N^2+mrV)` instead of the SVD's
      :math:`O(N^2Vr)`; at (m, d, V) = (600, 300, 400) with supports of 3 this is
      ~2e9 flops instead of 1.7e11. Used only when every eigenvalue of K is above
      :math:`\max(100N\epsilon_{\rm mach},(2\,\mathrm{rank\_tol})^2)\lambda_{\max}`:
      then the SVD would keep all N directions too, so both give the same F and W*.
    * **SVD** of A (otherwise: dependent or nearly dependent generators, where a rank
      decision at ``rank_tol`` is needed, or N >= V r): the basis Q of F from the right
      singular vectors, singular values above ``rank_tol`` times the largest kept.

    The SVD factors are also built on first use of :meth:`basis` / :meth:`orth_basis`.
    """

    def __init__(self, data: NTPData, rank_tol: float) -> None:
        V, d, m = data.V, data.d, data.m
        U, s, Vh = np.linalg.svd(data.H, full_matrices=False)
        r = int(np.sum(s > s[0] * max(m, d) * np.finfo(float).eps)) if s.size and s[0] > 0 else 0
        self.V, self.d, self.m, self.r, self.rank_tol = V, d, m, r, rank_tol
        self.Vh = Vh[:r]  # (r, d): orthonormal basis of the row space of H
        self.Y = U[:, :r] * s[:r]  # (m, r): h_j = Y[j] @ Vh
        jj, aa, zz = _generator_index(data)
        # ||(e_a - e_z) y_j|| = sqrt(2) ||y_j||
        norms = np.sqrt(2.0) * np.linalg.norm(self.Y[jj], axis=1) if r else np.zeros(jj.size)
        keep = norms > 0
        self.n_generators = int(jj.size)
        self.gen = (jj[keep], aa[keep], zz[keep])
        self.row_norms = norms[keep]
        N = int(keep.sum())
        self.chol = None
        if 0 < N < V * r:
            self._try_gram(N)
        if self.chol is None:
            self._svd()

    # -- Gram path --------------------------------------------------------------------
    def _try_gram(self, N: int) -> None:
        jj, aa, zz = self.gen
        m, V = self.m, self.V
        check_memory(8.0 * (6 * N * N + m * m), f"data_subspace(method='dense') Gram matrix of {N} generators",
                     hint="use method='blocks' (needs linearly independent embeddings)")
        # S (V m, N): column g holds +1/||a_g|| at (z_j, j) and -1/||a_g|| at (z', j), so that
        # A x = S^T vec(W_r Y^T) and A^T c = (S c).reshape(V, m) @ Y for W_r of shape (V, r)
        g = np.arange(N)
        inv = 1.0 / self.row_norms
        self.S = scipy.sparse.csr_matrix(
            (np.concatenate([inv, -inv]), (np.concatenate([aa * m + jj, zz * m + jj]), np.concatenate([g, g]))),
            shape=(V * m, N),
        )
        K = pair_gram(jj, aa, zz, self.Y @ self.Y.T) * np.outer(inv, inv)
        ev = scipy.linalg.eigvalsh(K, check_finite=False)
        floor = max(100.0 * N * np.finfo(float).eps, (2.0 * self.rank_tol) ** 2) * ev[-1]
        if not ev[0] > floor:
            return  # dependent or nearly dependent generators: the SVD decides the rank
        self.chol = scipy.linalg.cho_factor(K, lower=True, check_finite=False)
        self.k = N

    def _apply(self, Wr: np.ndarray) -> np.ndarray:
        """A vec(W_r) for W_r of shape (..., V, r): shape (..., N)."""
        L = Wr @ self.Y.T  # (..., V, m)
        return (L.reshape(*Wr.shape[:-2], self.V * self.m) @ self.S)

    def _adjoint(self, c: np.ndarray) -> np.ndarray:
        """A^T c for c of shape (..., N): shape (..., V, r)."""
        C = (self.S @ c.reshape(-1, c.shape[-1]).T).T.reshape(*c.shape[:-1], self.V, self.m)
        return C @ self.Y

    def _min_norm(self, rhs: np.ndarray) -> np.ndarray:
        """A^T y with A A^T y = rhs (shape (..., N)), refined twice through A."""
        y = scipy.linalg.cho_solve(self.chol, rhs.reshape(-1, rhs.shape[-1]).T, check_finite=False).T
        y = y.reshape(rhs.shape)
        for _ in range(2):
            y = y + scipy.linalg.cho_solve(
                self.chol, (rhs - self._apply(self._adjoint(y))).reshape(-1, rhs.shape[-1]).T, check_finite=False
            ).T.reshape(rhs.shape)
        return self._adjoint(y)

    # -- SVD path ---------------------------------------------------------------------
    def _svd(self) -> None:
        """Orthonormal basis Q (k, V r) of F from the SVD of the normalised generators."""
        if getattr(self, "Q", None) is not None:
            return
        V, r = self.V, self.r
        jj, aa, zz = self.gen
        N = jj.size
        check_memory(8.0 * 3 * N * V * r, f"data_subspace(method='dense') with {N} generators in R^({V}x{r})",
                     hint="use method='blocks' (needs linearly independent embeddings)")
        A = np.zeros((N, V, r))
        idx = np.arange(N)
        A[idx, aa] = self.Y[jj]
        A[idx, zz] = -self.Y[jj]
        A = A.reshape(N, V * r) / self.row_norms[:, None]
        if A.size:
            Ug, sg, Vtg = np.linalg.svd(A, full_matrices=False)
            k = int(np.sum(sg > self.rank_tol * sg[0]))
        else:
            Ug, sg, Vtg, k = np.zeros((0, 0)), np.zeros(0), np.zeros((0, V * r)), 0
        self.Ug, self.sg = Ug[:, :k], sg[:k]
        self.Q = Vtg[:k]  # (k, V*r), orthonormal rows spanning F (reduced coordinates)
        if self.chol is None:
            self.k = k

    # -- operations -------------------------------------------------------------------
    def project(self, W: np.ndarray) -> np.ndarray:
        Wr = W @ self.Vh.T
        if self.chol is not None:
            return self._min_norm(self._apply(Wr)) @ self.Vh
        Wr = Wr.reshape(*W.shape[:-2], self.V * self.r)
        coef = Wr @ self.Q.T
        return (coef @ self.Q).reshape(*W.shape[:-2], self.V, self.r) @ self.Vh

    def basis(self) -> np.ndarray:
        self._svd()
        return self.Q.reshape(-1, self.V, self.r) @ self.Vh

    def orth_basis(self) -> np.ndarray:
        self._svd()
        V, d, r = self.V, self.d, self.r
        B1 = scipy.linalg.null_space(self.Q) if self.Q.shape[0] else np.eye(V * r)
        B1 = B1.T.reshape(-1, V, r) @ self.Vh
        N = scipy.linalg.null_space(self.Vh) if r else np.eye(d)  # (d, d - r): complement of rowspace(H)
        B2 = np.einsum("vw,ik->vkwi", np.eye(V), N).reshape(V * N.shape[1], V, d)
        return np.concatenate([B1, B2], axis=0)

    def finite_component(self, data: NTPData) -> np.ndarray:
        jj, aa, zz = self.gen
        b = (data.log_P[jj, aa] - data.log_P[jj, zz]) / self.row_norms
        if self.chol is not None:
            return self._min_norm(b) @ self.Vh
        x = self.Q.T @ ((self.Ug.T @ b) / self.sg) if self.k else np.zeros(self.V * self.r)
        return x.reshape(self.V, self.r) @ self.Vh


class _BlocksF:
    r"""Projection onto F through the Gram system of the generators (no dense basis).

    Every element of F is :math:`CH` with :math:`C\in\mathbb R^{V\times m}`,
    :math:`C_{vj}=0` for :math:`v\notin\mathcal S_j` and zero column sums. Minimising
    :math:`\|W-CH\|^2` over such C (multipliers :math:`\mu\in\mathbb R^m` for the
    column sums) gives, with :math:`G=HH^\top`, :math:`B=WH^\top` and
    :math:`J_v=\{j: v\in\mathcal S_j\}`:

    .. math:: C_{v,J_v} = (B_{v,J_v}-\mu_{J_v})G_{J_vJ_v}^{-1},\qquad
              \Big(\sum_v L_v^\top G_{J_vJ_v}^{-1}L_v\Big)\mu=\sum_v L_v^\top
              G_{J_vJ_v}^{-1}B_{v,J_v}^\top .

    Needs rank(H) = m. Cost per projection: two (V, m, d) products plus V small
    Cholesky solves and one m x m solve.
    """

    CACHE_ENTRIES = 20_000_000

    def __init__(self, data: NTPData, cond_max: float) -> None:
        H = data.H
        self.H, self.V, self.m, self.data = H, data.V, data.m, data
        G = H @ H.T
        ev = np.linalg.eigvalsh(G)
        if not (ev[-1] > 0 and ev[0] > ev[-1] / cond_max):
            raise np.linalg.LinAlgError(
                f"method='blocks' needs linearly independent context embeddings (rank H = m = {data.m}); "
                f"the Gram matrix H H^T has condition number {ev[-1] / max(ev[0], 1e-300):.3g} > {cond_max:.3g}"
            )
        self.G = G
        self.cond = float(ev[-1] / ev[0])
        self.J = [np.flatnonzero(data.support[:, v]) for v in range(data.V)]
        cache = sum(j.size ** 2 for j in self.J) <= self.CACHE_ENTRIES
        K = np.zeros((data.m, data.m))
        self.factors: list[Any] = []
        for Jv in self.J:
            if Jv.size == 0:
                self.factors.append(None)
                continue
            c = scipy.linalg.cho_factor(G[np.ix_(Jv, Jv)], lower=True, check_finite=False)
            K[np.ix_(Jv, Jv)] += scipy.linalg.cho_solve(c, np.eye(Jv.size), check_finite=False)
            self.factors.append(c if cache else None)
        self.K = scipy.linalg.cho_factor(K, lower=True, check_finite=False)
        self.dim = int(np.sum(data.support_sizes - 1))

    def _factor(self, v: int) -> Any:
        c = self.factors[v]
        if c is None:
            Jv = self.J[v]
            c = scipy.linalg.cho_factor(self.G[np.ix_(Jv, Jv)], lower=True, check_finite=False)
        return c

    def solve_C(self, B: np.ndarray) -> np.ndarray:
        """C in the constraint set with (C G)[v, j] - B[v, j] constant over v in S_j."""
        b = np.zeros(self.m)
        for v, Jv in enumerate(self.J):
            if Jv.size:
                b[Jv] += scipy.linalg.cho_solve(self._factor(v), B[v, Jv], check_finite=False)
        mu = scipy.linalg.cho_solve(self.K, b, check_finite=False)
        C = np.zeros((self.V, self.m))
        for v, Jv in enumerate(self.J):
            if Jv.size:  # uncached factors are recomputed: memory over time for huge supports
                C[v, Jv] = scipy.linalg.cho_solve(self._factor(v), B[v, Jv] - mu[Jv], check_finite=False)
        return C

    def project(self, W: np.ndarray) -> np.ndarray:
        if W.ndim == 3:
            return np.stack([self.project(w) for w in W])
        return self.solve_C(W @ self.H.T) @ self.H

    def finite_component(self, data: NTPData) -> np.ndarray:
        return self.solve_C(np.where(data.support, data.log_P, 0.0).T) @ self.H

    @functools.cached_property
    def dense(self) -> _DenseF:
        return _DenseF(self.data, 1e-10)


@dataclass(frozen=True, eq=False)
class DataSubspace:
    r"""The data subspace :math:`F\subset\mathbb R^{V\times d}` of [T24] eq. (5).

    .. math:: F=\operatorname{span}\{(e_z-e_{z'})\bar h_j^\top:\ z\ne z'\in\mathcal S_j,\ j\in[m]\}
              =\operatorname{span}\{(e_{z_j}-e_{z'})\bar h_j^\top:\ z'\in\mathcal S_j\setminus\{z_j\}\}

    (anchored generators, anchors :attr:`NTPData.anchors`). Matrices are identified with
    vectors by C-order flattening (``W.ravel()``, index ``v * d + i``); inner product is
    Frobenius. Build it with :func:`data_subspace`.

    Attributes
    ----------
    dim : int
        :math:`\dim F` (= :math:`\sum_j(S_j-1)` when the embeddings are linearly
        independent).
    shape : tuple of int
        ``(V, d)``.
    method : {"dense", "blocks"}
        How projections are computed (see :func:`data_subspace`).
    rank_tol : float
        Relative singular-value threshold used for the rank of the generators
        (``"dense"``).
    n_generators : int
        Number of anchored generators, :math:`\sum_j(S_j-1)`.
    algorithm : {"gram", "svd", "blocks"}
        What ``"dense"`` ran: a Cholesky solve with the generators' Gram matrix
        (independent generators, fewer than V r) or the SVD of the generators (see
        :func:`data_subspace`); ``"blocks"`` for the blocks method.
    """

    dim: int
    shape: tuple[int, int]
    method: str
    rank_tol: float
    n_generators: int
    _impl: Any = field(repr=False)
    algorithm: str = "svd"

    def _check(self, W: Any, name: str = "W") -> np.ndarray:
        W = as_real_array(W, name)
        if W.ndim not in (2, 3) or W.shape[-2:] != self.shape:
            raise ValueError(
                f"{name} must have shape (V, d) = {self.shape} or (k, V, d) for a batch, got {W.shape}"
            )
        return W

    def project(self, W: Any) -> np.ndarray:
        r"""Orthogonal projection :math:`P_F(W)`.

        Parameters
        ----------
        W : array_like, shape (V, d) or (k, V, d)

        Returns
        -------
        ndarray, same shape as ``W``
        """
        W = self._check(W)
        if self.dim == 0:
            return np.zeros_like(W)
        return self._impl.project(W)

    def project_orth(self, W: Any) -> np.ndarray:
        r"""Orthogonal projection onto :math:`F^\perp`: :math:`W-P_F(W)`.

        Parameters
        ----------
        W : array_like, shape (V, d) or (k, V, d)

        Returns
        -------
        ndarray, same shape as ``W``
        """
        W = self._check(W)
        return W - self.project(W)

    @functools.cached_property
    def basis(self) -> np.ndarray:
        r"""Orthonormal basis of F, shape ``(dim, V, d)`` (``basis[k]`` is a V x d matrix).

        As a matrix, ``Q = basis.reshape(dim, V * d).T`` (shape (V*d, dim)) has
        :math:`Q^\top Q=I` and :math:`P_F(W)=QQ^\top\mathrm{vec}(W)`. Available for
        ``method="dense"``, and otherwise when the generator matrix has at most 5e7
        entries (it is then built on first access, with ``rank_tol = 1e-10``).
        """
        V, d = self.shape
        if self.method != "dense":
            if self.n_generators * V * min(d, self._impl.m) > 50_000_000:
                raise ValueError(
                    f"basis is too large to materialise here ({self.n_generators} generators in "
                    f"R^({V}x{d})); use project / project_orth"
                )
            return readonly(self._impl.dense.basis())
        return readonly(self._impl.basis())

    @functools.cached_property
    def orth_basis(self) -> np.ndarray:
        r"""Orthonormal basis of :math:`F^\perp`, shape ``(V*d - dim, V, d)``.

        The complement of F inside :math:`\mathbb R^V\otimes\mathrm{rowspace}(H)` followed
        by :math:`e_v n^\top` for an orthonormal basis n of the null space of H. Only for
        :math:`(Vd)^2\le 5\cdot10^7`.
        """
        V, d = self.shape
        if (V * d) ** 2 > 50_000_000:
            raise ValueError(
                f"orth_basis is only materialised for (V d)^2 <= 5e7; here V d = {V * d}; use project_orth"
            )
        impl = self._impl if self.method == "dense" else self._impl.dense
        return readonly(impl.orth_basis())


def data_subspace(data: NTPData, *, method: str = "auto", rank_tol: float = 1e-10) -> DataSubspace:
    r"""Build the data subspace F of [T24] eq. (5) with its projections.

    Two exact methods:

    * ``"dense"``: thin SVD :math:`H=U\Sigma V_H^\top` (rank r at the usual
      :math:`\max(m,d)\,\epsilon_{\rm mach}` threshold) so that F lives in
      :math:`\mathbb R^V\otimes\mathrm{rowspace}(H)\cong\mathbb R^{V\times r}`; the
      anchored generators :math:`(e_{z_j}-e_{z'})(U\Sigma)_j` are normalised to unit norm
      and an SVD gives an orthonormal basis, keeping singular values above
      ``rank_tol`` times the largest (paper, Sec. 'Implicit bias of next-token prediction in linear models').
      Handles any H (rank-deficient,
      repeated embeddings, zero rows). Cost
      :math:`O(N\,Vr\min(N,Vr))` with :math:`N=\sum_j(S_j-1)`. When :math:`N<Vr` and
      the generators are independent (their Gram matrix, formed in :math:`O(N^2)`, has
      every eigenvalue above :math:`\max(100N\epsilon,(2\,\mathrm{rank\_tol})^2)` times
      the largest), the same F and W* come instead from a Cholesky solve with that Gram
      matrix, :math:`O(N^3)`, refined through the generators (``algorithm="gram"``); the
      SVD is then built only if :attr:`DataSubspace.basis` is asked for.
    * ``"blocks"``: no basis; solves the Gram system of the generators, which is
      block-structured (:math:`\langle(e_a-e_b)\bar h_j^\top,(e_c-e_e)\bar h_k^\top\rangle
      =(e_a-e_b)^\top(e_c-e_e)\,\bar h_j^\top\bar h_k`), token by token with an
      m x m Schur complement for the zero-column-sum constraints (see the class
      ``_BlocksF``). Needs linearly independent embeddings (rank H = m, the d > m
      regime of [T24] Lemma 1) with cond(H H^T) <= 1e12; projection accuracy is about
      cond(H H^T) machine epsilons. Then :math:`\dim F=\sum_j(S_j-1)` exactly.
      Scales to m = V = 1000, d = 1001.
    * ``"auto"`` (default): ``"dense"`` when its SVD is cheap,
      :math:`N\cdot Vr\cdot\min(N,Vr)\le 2\cdot10^8` (r = min(m, d)), e.g. the [T24]
      App. A.2 sizes; otherwise ``"blocks"`` if rank H = m, else ``"dense"``.

    Parameters
    ----------
    data : NTPData
    method : {"auto", "dense", "blocks"}
    rank_tol : float
        Relative rank threshold for the dense method (default 1e-10, paper, Sec. 'Implicit bias of next-token
        prediction in linear models').

    Returns
    -------
    DataSubspace

    Raises
    ------
    ValueError
        Unknown method, or ``"blocks"`` requested/required with linearly dependent
        embeddings.

    Examples
    --------
    >>> data = NTPData.synthetic(50, 60, 10, 6, rng=0)
    >>> data_subspace(data).dim          # sum_j (S_j - 1)
    250
    """
    data = check_data(data)
    method = as_choice(method, "method", ("auto", "dense", "blocks"))
    rank_tol = as_real(rank_tol, "rank_tol", low=0.0, high=1.0, low_open=True, high_open=True)
    N = int(np.sum(data.support_sizes - 1))
    impl: Any = None
    if method == "auto":
        Vr = data.V * min(data.m, data.d)
        method = "dense"
        if N * Vr * min(N, Vr) > 2e8:
            try:
                impl, method = _BlocksF(data, cond_max=1e12), "blocks"
            except np.linalg.LinAlgError:
                pass
    if impl is not None:
        dim = impl.dim
    elif method == "dense":
        impl = _DenseF(data, rank_tol)
        dim = impl.k
    else:
        try:
            impl = _BlocksF(data, cond_max=1e12)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                f"data_subspace(method='blocks') failed: {exc}. Use method='dense' (exact for any H, "
                "but memory and time grow like the dense generator matrix)"
            ) from exc
        dim = impl.dim
    algorithm = "blocks" if method == "blocks" else ("gram" if impl.chol is not None else "svd")
    return DataSubspace(dim=dim, shape=(data.V, data.d), method=method, rank_tol=rank_tol,
                        n_generators=N, _impl=impl, algorithm=algorithm)


@dataclass(frozen=True, eq=False)
class FiniteComponent:
    r"""Result of :func:`finite_component`.

    Attributes
    ----------
    W : ndarray, shape (V, d)
        :math:`W^\star` (read-only).
    max_residual : float
        :math:`\max_{j,z}|r_{j,z}|` of :func:`log_odds_residual` at :math:`W^\star`.
    relative_residual : float
        ``max_residual / max(1, max |log-odds|)``.
    compatible : bool
        ``relative_residual <= tol``: the data are NTP_H-compatible ([T24] Def. 1).
    tol : float
        Threshold used for ``compatible``.
    dim_F : int
        :math:`\dim F`.
    n_equations : int
        :math:`\sum_j(S_j-1)` anchored log-odds equations.
    method : str
        ``"dense"`` or ``"blocks"`` (see :func:`data_subspace`).
    algorithm : str
        ``"gram"``, ``"svd"`` or ``"blocks"`` (:attr:`DataSubspace.algorithm`).
    """

    W: np.ndarray
    max_residual: float
    relative_residual: float
    compatible: bool
    tol: float
    dim_F: int
    n_equations: int
    method: str
    algorithm: str = "svd"


def finite_component(
    data: NTPData,
    *,
    subspace: DataSubspace | None = None,
    method: str = "auto",
    rank_tol: float = 1e-10,
    tol: float = 1e-8,
) -> FiniteComponent:
    r""":math:`W^\star`: the unique solution in F of the log-odds equations, [T24] eq. (4).

    .. math:: (e_{z_j}-e_{z'})^\top W\bar h_j=\log\frac{\hat p_{j,z_j}}{\hat p_{j,z'}},
              \quad z'\in\mathcal S_j\setminus\{z_j\},\ j\in[m],\qquad W\in F.

    Stacked as :math:`A\,\mathrm{vec}(W)=b`, :math:`W^\star=A^+b` is the minimum-norm
    solution and lies in :math:`\mathrm{rowspace}(A)=F` (paper, Sec. 'Implicit bias of next-token prediction in
    linear models'). ``"dense"`` uses
    the SVD of the (row-normalised) generators; ``"blocks"`` solves the same Gram
    system as :meth:`DataSubspace.project` with the log-probabilities in place of the
    logits (logit differences of :math:`CH` on each support = log-odds). W* does not
    depend on :math:`\hat\pi`; :math:`\mathbf 1^\top W^\star=0`; it is the minimiser of
    CE on F (Lemma 4) and the limit of :math:`P_F(W_k)` under GD (Thm. 2).

    If the data are not compatible (possible only when the embeddings are linearly
    dependent), the returned W is the least-squares solution in F of the
    row-normalised equations and ``compatible`` is False; check the residual.

    Parameters
    ----------
    data : NTPData
    subspace : DataSubspace, optional
        Reuse a subspace built by :func:`data_subspace` for the same data.
    method, rank_tol
        Passed to :func:`data_subspace` when ``subspace`` is None.
    tol : float
        Relative residual threshold for ``compatible`` (default 1e-8).

    Returns
    -------
    FiniteComponent
        ``finite_component(data).W`` is the (V, d) matrix.

    Examples
    --------
    >>> import numpy as np
    >>> data = NTPData.synthetic(4, 6, 5, 3, rng=1)
    >>> fc = finite_component(data)
    >>> fc.compatible, bool(np.abs(fc.W.sum(axis=0)).max() < 1e-12)
    (True, True)
    """
    data = check_data(data)
    tol = as_tolerance(tol, "tol")
    if subspace is None:
        subspace = data_subspace(data, method=method, rank_tol=rank_tol)
    elif not isinstance(subspace, DataSubspace) or subspace.shape != (data.V, data.d):
        raise TypeError(f"subspace must be a DataSubspace of shape {(data.V, data.d)} built from data")
    W = np.zeros((data.V, data.d)) if subspace.dim == 0 else subspace._impl.finite_component(data)
    res = log_odds_matrix(data.H @ W.T, data)
    max_res = float(np.max(np.abs(res))) if res.size else 0.0
    scale = max(1.0, float(np.max(np.abs(log_odds_matrix(np.zeros((data.m, data.V)), data)))))
    return FiniteComponent(
        W=readonly(W), max_residual=max_res, relative_residual=max_res / scale,
        compatible=bool(max_res / scale <= tol), tol=tol, dim_F=subspace.dim,
        n_equations=int(np.sum(data.support_sizes - 1)), method=subspace.method, algorithm=subspace.algorithm,
    )


# The max-margin side (NTP-SVM, separability) lives in theory.ntp_svm, which only
# duck-types NTPData; re-exported here so ``theory.ntp`` is the model's one entry point.
