r"""Bounds of [T24]: smoothness of CE and the loss gap along the genie ray
(part of :mod:`theory.ntp`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from theory._validation import as_real, as_real_array
from theory.ntp._data import NTPData
from theory.ntp._losses import check_data, check_W
from theory.ntp._subspace import finite_component

__all__ = ["smoothness_bound", "genie_bound"]


def smoothness_bound(data: NTPData) -> float:
    r"""Upper bound on the smoothness constant of CE (derived here; paper, Sec. 'Implicit bias of next-token
    prediction in linear models').

    .. math:: L\le\tfrac12\lambda_{\max}\Big(\sum_j\hat\pi_j\bar h_j\bar h_j^\top\Big),

    since the softmax Hessian satisfies :math:`\mathrm{diag}(s)-ss^\top\preceq\frac12 I`.
    [T24]'s GD analysis uses :math:`\eta\le 1/(2L)`; :math:`\eta\le 1/L` with this
    bound is the usual safe choice.

    Parameters
    ----------
    data : NTPData

    Returns
    -------
    float
    """
    data = check_data(data)
    # The largest eigenvalue of the weighted (d, d) Gram matrix, by the symmetric
    # eigensolver; the one-hot experiment's stored step sizes were computed this way.
    gram = (data.pi[:, None] * data.H).T @ data.H
    return 0.5 * float(np.linalg.eigvalsh(gram).max())


def genie_bound(data: NTPData, R: Any, *, W_star: Any = None) -> float | np.ndarray:
    r"""Bound on the loss gap along the "genie" ray :math:`W^\star+R\,W^{mm}` ([T24] eq. 9/25).

    .. math:: \mathrm{CE}(W^\star+RW^{mm})-\mathcal H\le V\,e^{\|W^\star\|M}\,e^{-R},
              \qquad M=\sqrt2\max_j\|\bar h_j\|,

    valid for :math:`W^{mm}` feasible for the NTP-SVM (margins >= 1, in
    :math:`F^\perp`) and :math:`W^\star` solving the log-odds equations.

    Parameters
    ----------
    data : NTPData
    R : float or array_like
        Ray parameter(s), >= 0.
    W_star : array_like, shape (V, d), optional
        Precomputed :math:`W^\star`; computed with :func:`finite_component` if omitted.

    Returns
    -------
    float or ndarray (shape of ``R``)
    """
    data = check_data(data)
    Ws = finite_component(data).W if W_star is None else check_W(W_star, data, "W_star")
    M = np.sqrt(2.0) * np.max(np.linalg.norm(data.H, axis=1))
    # as_real for scalars: as_real_array misses NaN in a 0-d array (theory._validation)
    R = as_real(R, "R", low=0.0) if np.ndim(R) == 0 else as_real_array(R, "R")
    if np.any(R < 0):
        # margins >= 1 give exp(-R * margin) <= exp(-R) only for R >= 0
        raise ValueError(f"R must be >= 0 (the bound uses margins >= 1, valid on R >= 0), got min(R) = {float(np.min(R))!r}")
    out = data.V * np.exp(np.linalg.norm(Ws) * M - R)
    return float(out) if np.ndim(out) == 0 else out
