"""Canonical max-margin problems with known optima, and ``assert_kkt``.

Every problem returns its data together with the closed-form answer (derivations in the
docstrings), in the spirit of cvxpy's solver test helpers: tests compare a solver with
the closed form *and* check its KKT certificate.
"""

from __future__ import annotations

import types

import numpy as np

#: Polished KKT points are exact up to rounding (measured residuals ~1e-14 on these
#: problems); 1e-9 leaves room for ill-conditioned Gram matrices and still catches any
#: real violation (a perturbation of W by 1e-4 gives residuals ~1e-4).
KKT_TOL = 1e-9


def assert_kkt(result, tol: float = KKT_TOL, what: str = "") -> None:
    """Assert that ``result.certificate`` holds at ``tol``; the message lists the residuals."""
    cert = result.certificate
    assert cert.check(tol), f"{what} KKT certificate fails at {tol:g}: {cert.describe()}"


def single_point():
    r"""One constraint :math:`x^\top w\ge1`, x = (3, 4): :math:`w=x/\|x\|^2`, :math:`\alpha=1/\|x\|^2`, margin 5."""
    x = np.array([[3.0, 4.0]])
    return types.SimpleNamespace(features=x, w=x[0] / 25.0, alpha=np.array([1 / 25.0]), margin=5.0)


def two_support_vectors():
    r"""Binary data whose first two points are the support vectors.

    With :math:`Z=\mathrm{diag}(y)X` and both constraints active,
    :math:`w=Z_{01}^{-1}\mathbf 1`, :math:`\alpha_{01}=(Z_{01}Z_{01}^\top)^{-1}\mathbf 1>0`,
    and the third point has margin > 1.
    """
    X = np.array([[1.0, 0.25], [-0.2, -1.0], [3.0, 3.0]])
    y = np.array([1.0, -1.0, 1.0])
    Z = y[:, None] * X
    w = np.linalg.solve(Z[:2], np.ones(2))
    a = np.linalg.solve(Z[:2] @ Z[:2].T, np.ones(2))
    return types.SimpleNamespace(X=X, y=y, features=Z, w=w, alpha=np.array([a[0], a[1], 0.0]),
                                 margin=1.0 / np.linalg.norm(w))


def symmetric_three_class(radius: float = 1.0):
    r"""Three points at angles 0, 120, 240 degrees (radius r), one per class.

    The problem is invariant under the rotation by 120 degrees (with the class shift) and
    under the reflection fixing class 0, and its optimum is unique, so :math:`w_k=a\,x_k`.
    The constraints :math:`(w_k-w_j)^\top x_k=a r^2(1-\cos 120°)=\tfrac32ar^2\ge1` give
    :math:`a=2/(3r^2)`, :math:`\|W\|_F^2=3a^2r^2=4/(3r^2)`. All six constraints are active
    with equal multipliers :math:`\alpha`; row k of
    :math:`\sum\alpha(e_{y_i}-e_k)x_i^\top` is :math:`3\alpha x_k`, so
    :math:`\alpha=a/3=2/(9r^2)` (check: :math:`\sum\alpha=4/(3r^2)=\|W\|^2`).
    """
    ang = np.deg2rad([0.0, 120.0, 240.0])
    X = radius * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    y = np.array([0, 1, 2])
    a = 2.0 / (3.0 * radius**2)
    alpha = np.full((3, 3), 2.0 / (9.0 * radius**2))
    alpha[np.arange(3), y] = 0.0
    return types.SimpleNamespace(X=X, y=y, K=3, W=a * X, alpha=alpha, margin=np.sqrt(3.0) * radius / 2.0)


def projected_point():
    r"""One inequality :math:`a^\top w\ge1` and one equality :math:`b^\top w=0`.

    :math:`w=Pa/(a^\top Pa)` with :math:`P=I-bb^\top/\|b\|^2`; multipliers
    :math:`\lambda=1/(a^\top Pa)`, :math:`\beta=-\lambda\,a^\top b/\|b\|^2`.
    """
    a = np.array([1.0, 2.0, 0.5])
    b = np.array([0.0, 1.0, 1.0])
    P = np.eye(3) - np.outer(b, b) / (b @ b)
    lam = 1.0 / (a @ P @ a)
    return types.SimpleNamespace(features=a[None, :], equalities=b[None, :], w=lam * (P @ a),
                                 alpha=np.array([lam]), beta=np.array([-lam * (a @ b) / (b @ b)]))


def random_ntp(m: int, d: int, V: int, S, seed: int, *, H=None):
    """Stand-in NTP data: Gaussian H (rows ~ N(0, I/d)), supports of size S (int or (lo, hi))."""
    rng = np.random.default_rng(seed)
    if H is None:
        H = rng.normal(size=(m, d)) / np.sqrt(d)
    P = np.zeros((m, V))
    for j in range(m):
        k = S if isinstance(S, int) else int(rng.integers(*S))
        s = rng.choice(V, k, replace=False)
        P[j, s] = rng.dirichlet(np.ones(k))
    return types.SimpleNamespace(H=H, P=P, pi=np.full(m, 1.0 / m))


def orthonormal_ntp(m: int = 8, d: int = 10, V: int = 6, seed: int = 5):
    r"""NTP data with orthonormal embeddings (:math:`HH^\top=I`) and the closed form of :math:`W^{mm}`.

    Check N.2 (derived here): the logits of :math:`W^{mm}` are the centred support matrix
    :math:`\tilde S` (entries :math:`1-S_j/V` in-support, :math:`-S_j/V` off-support), so
    :math:`W^{mm}=\tilde S^\top H` and :math:`\|W^{mm}\|_F^2=\sum_jS_j(V-S_j)/V`.
    """
    rng = np.random.default_rng(seed)
    Q = np.linalg.qr(rng.normal(size=(d, m)))[0]
    data = random_ntp(m, d, V, (1, V), seed, H=Q.T)
    S = (data.P > 0).astype(float)
    St = S - S.sum(axis=1, keepdims=True) / V
    return types.SimpleNamespace(data=data, W=St.T @ data.H, logits=St,
                                 norm2=float(np.sum(S.sum(1) * (V - S.sum(1)) / V)))
