"""The linear-softmax update in plain NumPy, for tests and the benchmark (private)."""

from __future__ import annotations

import numpy as np

from sims.linear_softmax._constants import GAP_FLOOR
from sims.linear_softmax._data import check_data, check_matrix
from sims.linear_softmax._state import validate_settings
from theory._validation import as_int


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
    steps = as_int(steps, "steps", low=0, allow_integral_float=True)
    H, P, pi = check_data(data)
    cfg = validate_settings(lr, method, schedule, power, lr_max, beta1, beta2, adam_eps, np.float64, "auto")
    V, d = P.shape[1], H.shape[1]
    W = np.zeros((V, d)) if W0 is None else check_matrix("W0", W0, (V, d)).copy()
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
            eta = min(lr / max(gap, GAP_FLOOR), lr_max)
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
