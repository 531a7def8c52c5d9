"""Instance factories shared by the test files (import them; do not copy them).

* :func:`random_ntp`: random NTP data (supports of size S, Dirichlet(1) probabilities,
  Gaussian embeddings), bit for bit the ``_random_ntp`` that ``tests/sims/test_gd.py``
  defined, so switching to it changes no test's data.
* :func:`overparameterised_ntp`: the [T24] App. A.2 sizes.
* :func:`separable_binary`, :func:`separable_multiclass`: Gaussian classification data
  (separable with high probability when d is close to n).
"""

from __future__ import annotations

import numpy as np

from theory.ntp import NTPData

__all__ = ["random_ntp", "overparameterised_ntp", "separable_binary", "separable_multiclass"]


def random_ntp(m: int, d: int, V: int, S: int, seed, scale: float = 1.0, n: int | None = None) -> NTPData:
    """Random NTP instance: supports of size S, Dirichlet(1) probabilities, Gaussian H.

    Draws from ``numpy.random.default_rng(seed)`` in this order: for each context a
    support (``choice(V, S, replace=False)``, not sorted) and its Dirichlet(1)
    probabilities; then pi (Dirichlet(1) over contexts, or with ``n`` the counts
    ``1 + Multinomial(n - m, 1/m)`` over n); then ``H = scale * N(0, 1)^(m x d)``.
    (Not the same draws as :meth:`NTPData.synthetic`, which sorts supports and draws
    pi differently.)
    """
    rng = np.random.default_rng(seed)
    P = np.zeros((m, V))
    for j in range(m):
        sup = rng.choice(V, S, replace=False)
        P[j, sup] = rng.dirichlet(np.ones(S))
    if n is None:
        pi = rng.dirichlet(np.ones(m))
    else:
        pi = (1 + rng.multinomial(n - m, np.full(m, 1.0 / m))) / n
    H = scale * rng.standard_normal((m, d))
    return NTPData(H, P, pi)


def overparameterised_ntp(seed) -> NTPData:
    """[T24] App. A.2 sizes (m, d, V, S) = (50, 60, 10, 6), n = 5000, h_j ~ N(0, I_60)."""
    return random_ntp(50, 60, 10, 6, seed, n=5000)


def separable_binary(rng: np.random.Generator, n: int = 40, d: int = 30):
    """(X (n, d) Gaussian, y (n,) in {-1, +1} with probability 1/2 each)."""
    X = rng.normal(size=(n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return X, y


def separable_multiclass(rng: np.random.Generator, n: int = 40, d: int = 25, K: int = 4):
    """(X (n, d) Gaussian, y (n,) uniform in 0..K-1, K)."""
    return rng.normal(size=(n, d)), rng.integers(0, K, n), K
