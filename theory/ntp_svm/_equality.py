"""Structured equality solve of the NTP-SVM on a working set (the active-set step)."""

from __future__ import annotations

import numpy as np
import scipy.linalg
from threadpoolctl import threadpool_limits

from theory.ntp_svm._problem import RANK_RTOL


def equality_solve(
    G: np.ndarray, sup: np.ndarray, act: np.ndarray, X: np.ndarray | None = None, store_limit: float = 4e7
):
    r"""Solve the NTP-SVM with the working set ``act`` of margin constraints as equalities.

    With :math:`K_v=\{j: v\in\mathcal S_j\}\cup\{j:(j,v)\in\texttt{act}\}` and
    :math:`\delta_{jv}=1` on ``act``, the stationarity and feasibility equations are, per
    token v, :math:`G_{K_vK_v}R_{K_v,v}=c_{K_v}-\delta_{K_v,v}` (logits of the working
    constraints), :math:`R_{jv}=0` for :math:`j\notin K_v`, and :math:`R\mathbf 1=0`.
    Eliminating R column by column gives the m x m Schur system
    :math:`M c=b`, :math:`M=\sum_vE_vG_{K_v}^{-1}E_v^\top`,
    :math:`b=\sum_vE_vG_{K_v}^{-1}\delta_v` (Cholesky per block; columns with equal
    :math:`K_v` share one factorisation).

    Singular blocks (rank(H) < m; ``X`` with :math:`H=XQ^\top` is then used for an SVD
    :math:`X_{K_v}=U_vs_vV_v^\top`): :math:`G_{K_v}^{-1}` becomes the pseudo-inverse, and
    solvability requires :math:`(I-U_vU_v^\top)(c_{K_v}-\delta_v)=0`. Summed over v these
    are the m x m conditions :math:`A c=a` with :math:`A=\sum_vE_v(I-U_vU_v^\top)E_v^\top`;
    c minimises :math:`\tfrac12c^\top Mc-b^\top c` on that affine set (null-space
    method), and R gets the null-space part :math:`(I-U_vU_v^\top)\lambda_{K_v}` with
    :math:`A\lambda=b-Mc`, which restores :math:`R\mathbf 1=0`.

    Returns
    -------
    R : ndarray, shape (m, V)
    c : ndarray, shape (m,)
    """
    m, V = sup.shape
    K = sup | act
    delta = act.astype(float)
    keys = np.packbits(K, axis=0).T
    groups: dict[bytes, list[int]] = {}
    for v in range(V):
        groups.setdefault(keys[v].tobytes(), []).append(v)
    M = np.zeros((m, m))
    b = np.zeros(m)
    A = np.zeros((m, m))
    a = np.zeros(m)
    singular = False
    blocks = []
    total = sum(int(K[:, cols[0]].sum()) ** 2 for cols in groups.values())
    store = total <= store_limit

    def factor(idx: np.ndarray):
        """(pseudo-)inverse of G_KK and, if singular, the orthonormal range basis U."""
        Gk = G[np.ix_(idx, idx)]
        try:
            cf = scipy.linalg.cho_factor(Gk, lower=True, check_finite=False)
            if np.diag(cf[0]).min() ** 2 >= 1e-13 * max(float(np.diag(Gk).max()), np.finfo(float).tiny):
                return scipy.linalg.cho_solve(cf, np.eye(idx.size), check_finite=False), None
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            pass
        if X is not None:
            U, sv, _ = np.linalg.svd(X[idx], full_matrices=False)
            keep = sv > np.sqrt(RANK_RTOL) * max(float(sv.max()), np.finfo(float).tiny)
            U, w = U[:, keep], sv[keep] ** 2
        else:
            w, U = np.linalg.eigh(Gk)
            keep = w > RANK_RTOL * max(float(w.max()), np.finfo(float).tiny)
            U, w = U[:, keep], w[keep]
        return (U / w) @ U.T, U

    with threadpool_limits(limits=1, user_api="blas"):
        for cols in groups.values():
            idx = np.flatnonzero(K[:, cols[0]])
            if idx.size == 0:
                continue
            Ginv, U = factor(idx)
            dsum = delta[np.ix_(idx, cols)].sum(axis=1)
            M[np.ix_(idx, idx)] += len(cols) * Ginv
            b[idx] += Ginv @ dsum
            if U is not None and U.shape[1] < idx.size:
                singular = True
                Pn = np.eye(idx.size) - U @ U.T  # projector onto null(G_KK)
                A[np.ix_(idx, idx)] += len(cols) * Pn
                a[idx] += Pn @ dsum
            else:
                U = None
            blocks.append((cols, idx, Ginv if store else None, U))
    if not singular:
        try:
            c = scipy.linalg.solve(M, b, assume_a="pos", check_finite=False)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            c = scipy.linalg.lstsq(M, b, check_finite=False)[0]
        lam = None
    else:
        wA, VA = np.linalg.eigh(A)
        rng_ = wA > RANK_RTOL * max(float(wA.max()), np.finfo(float).tiny)
        Ar, Z = VA[:, rng_], VA[:, ~rng_]
        c0 = Ar @ ((Ar.T @ a) / wA[rng_])  # minimum-norm solution of A c = a
        if Z.shape[1]:
            t = scipy.linalg.lstsq(Z.T @ M @ Z, Z.T @ (b - M @ c0), check_finite=False)[0]
            c = c0 + Z @ t
        else:
            c = c0
        lam = Ar @ ((Ar.T @ (b - M @ c)) / wA[rng_])
    R = np.zeros((m, V))
    with threadpool_limits(limits=1, user_api="blas"):
        for cols, idx, Ginv, U in blocks:
            if Ginv is None:
                Ginv, U = factor(idx)
                if U is not None and U.shape[1] >= idx.size:
                    U = None
            Rb = Ginv @ (c[idx, None] - delta[np.ix_(idx, cols)])
            if U is not None and lam is not None:
                Rb += (lam[idx] - U @ (U.T @ lam[idx]))[:, None]
            R[np.ix_(idx, cols)] = Rb
    return R, c
