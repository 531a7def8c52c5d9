"""A plain NumPy loop of the same (projected) GD updates, for cross-checks and benchmarks.

Written independently of the Numba kernels: whole-matrix NumPy operations, the
losses from :mod:`numpy` / :func:`numpy.logaddexp`. It has no checkpoints or
ensembles and does not hold BLAS at one thread.
"""

from __future__ import annotations

import numpy as np

from sims.twolayer._model import check_inputs, check_params, check_targets
from theory._validation import as_choice, as_int, as_real

__all__ = ["reference_numpy_run"]


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def reference_numpy_run(X, targets, params, steps, lr, *, kind="hard", temperature=1.0, project_radius=None):
    r"""Full-batch (projected) GD by a plain NumPy loop.

    Each step: :math:`Z = X W^\top` (n, m); :math:`f = \mathrm{relu}(Z)\,a/\sqrt m`;
    residual :math:`r = \partial L/\partial f` (hard: :math:`-y\,\sigma(-y f/\tau)/(\tau n)`,
    soft: :math:`(\sigma(f/\tau) - p)/(\tau n)`);
    :math:`G = (1[Z > 0] \odot r\,(a/\sqrt m)^\top)^\top X`; :math:`W \leftarrow W - \eta G`,
    then :math:`W \leftarrow W_0 + (W - W_0)\min(1, R/\|W - W_0\|_F)` if ``project_radius``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    targets : array_like, shape (n,)
        Labels in {-1, +1} (hard) or probabilities in [0, 1] (soft).
    params : TwoLayerParams
        Initial W_0 (m, d) and a (m,).
    steps : int
    lr : float
    kind : {"hard", "soft"}
    temperature : float
    project_radius : float or None

    Returns
    -------
    W : ndarray, shape (m, d)
        W_T.
    losses : ndarray, shape (steps + 1,)
        L(W_t) for t = 0..T (soft: the KL as p log p + q log q + CE, the naive form).
    """
    X, _ = check_inputs(X)
    params = check_params(params, X.shape[1])
    kind = as_choice(kind, "kind", ("hard", "soft"))
    steps = as_int(steps, "steps", low=0)
    lr = as_real(lr, "lr", low=0.0, low_open=True)
    tau = as_real(temperature, "temperature", low=0.0, low_open=True)
    if project_radius is not None:
        project_radius = as_real(project_radius, "project_radius", low=0.0, low_open=True)
    n = X.shape[0]
    t = check_targets(targets, n, kind)
    W0 = params.W.copy()
    W = params.W.copy()
    a_scaled = params.a / np.sqrt(params.W.shape[0])
    losses = np.empty(steps + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = np.where(t > 0, t * np.log(t), 0.0) + np.where(t < 1, (1 - t) * np.log1p(-t), 0.0)
    for k in range(steps + 1):
        Z = X @ W.T
        f = np.maximum(Z, 0.0) @ params.a / np.sqrt(params.W.shape[0])
        g = f / tau
        if kind == "hard":
            losses[k] = np.mean(np.logaddexp(0.0, -t * g))
            r = -t * _sigmoid(-t * g) / (tau * n)
        else:
            losses[k] = np.mean(ent + t * np.logaddexp(0.0, -g) + (1 - t) * np.logaddexp(0.0, g))
            r = (_sigmoid(g) - t) / (tau * n)
        if k == steps:
            break
        G = ((Z > 0) * (r[:, None] * a_scaled[None, :])).T @ X
        W -= lr * G
        if project_radius is not None:
            dist = np.linalg.norm(W - W0)
            if dist > project_radius:
                W = W0 + (W - W0) * (project_radius / dist)
    return W, losses
