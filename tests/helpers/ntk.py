"""Independent reference computations for the NTK tests (not used by the package).

* :func:`mc_kernel`: Monte Carlo estimate of the first-layer NTK and its standard error.
* :func:`simplex_qp_margin`: ``min_{q in simplex} sqrt(q^T Q q)`` by accelerated projected
  gradient (FISTA), a solver independent of cvxpy/Clarabel for cross-checking gamma_2.
"""

from __future__ import annotations

import numpy as np


def mc_kernel(X, X2, n_draws, rng, batch=20_000):
    """Monte Carlo ``E_z[<x,x'> 1[<z,x> > 0] 1[<z,x'> > 0]]`` over z ~ N(0, I).

    Returns ``(estimate, standard_error)``, both of shape (n, n2); the standard error
    of each entry is ``|<x,x'>| * sd(indicator product) / sqrt(n_draws)``.
    """
    X = np.asarray(X, float)
    X2 = np.asarray(X2, float)
    both = np.zeros((X.shape[0], X2.shape[0]))
    done = 0
    while done < n_draws:
        b = min(batch, n_draws - done)
        Z = rng.standard_normal((b, X.shape[1]))
        A = (Z @ X.T > 0).astype(float)
        B = (Z @ X2.T > 0).astype(float)
        both += A.T @ B
        done += b
    p = both / n_draws
    dot = X @ X2.T
    se = np.abs(dot) * np.sqrt(p * (1 - p) / (n_draws - 1))
    return dot * p, se


def _project_simplex(v):
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1.0
    rho = np.nonzero(u - css / np.arange(1, v.size + 1) > 0)[0][-1]
    return np.maximum(v - css[rho] / (rho + 1.0), 0.0)


def simplex_qp_margin(Q, iters=20_000, tol=1e-14):
    """``min_{q in simplex} sqrt(q^T Q q)`` by FISTA with restarts; returns ``(value, q)``."""
    Q = np.asarray(Q, float)
    n = Q.shape[0]
    L = max(np.linalg.eigvalsh(Q)[-1], 1e-300)
    q = np.full(n, 1.0 / n)
    z, t, f_old = q.copy(), 1.0, q @ Q @ q
    for _ in range(iters):
        q_new = _project_simplex(z - (Q @ z) / L)
        f_new = q_new @ Q @ q_new
        if f_new > f_old:  # adaptive restart keeps the iteration monotone
            z, t = q.copy(), 1.0
            continue
        t_new = 0.5 * (1 + np.sqrt(1 + 4 * t * t))
        z = q_new + (t - 1) / t_new * (q_new - q)
        if abs(f_old - f_new) <= tol * max(f_new, 1e-300) and np.max(np.abs(q_new - q)) < 1e-12:
            q = q_new
            break
        q, t, f_old = q_new, t_new, f_new
    return float(np.sqrt(max(q @ Q @ q, 0.0))), q
