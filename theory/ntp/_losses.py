r"""NTP cross-entropy, its infimum (the entropy), the loss gap, the stable softmax residual
and gradient, and the log-odds residuals (part of :mod:`theory.ntp`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.special

from theory._validation import as_real_array
from theory.ntp._data import SUM_TOL, NTPData

__all__ = [
    "entropy_from_arrays",
    "entropy",
    "ntp_loss",
    "loss_gap",
    "in_support_residual",
    "ntp_gradient",
    "log_odds_residual",
    "check_data",
    "check_W",
    "log_odds_matrix",
    "logits",
]


def _masked_lse(L: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of ``L`` over ``mask`` (every row must have a True entry)."""
    mx = np.max(np.where(mask, L, -np.inf), axis=-1)
    z = np.exp(np.where(mask, L - mx[..., None], -np.inf))
    return mx + np.log(np.sum(z, axis=-1))


def entropy_from_arrays(P: Any, pi: Any) -> float:
    r"""Entropy :math:`-\sum_j\pi_j\sum_{z:P_{jz}>0}P_{jz}\log P_{jz}` of raw arrays (nats).

    The one formula behind :func:`entropy` and the GD engine's stored entropy (and
    hence its loss gaps): row sums :math:`t_j=\sum_z P_{jz}\log P_{jz}` (0 log 0 = 0),
    then ``-(pi * t).sum()`` (NumPy pairwise summation). ``pi`` is used as given (not
    renormalised).

    Parameters
    ----------
    P : array_like, shape (m, V)
        Nonnegative, finite, rows summing to 1 (within :data:`theory.ntp.SUM_TOL`).
    pi : array_like, shape (m,)
        Nonnegative, finite weights.

    Returns
    -------
    float
    """
    P = as_real_array(P, "P", ndim=2, copy=False)
    pi = as_real_array(pi, "pi", ndim=1, copy=False)
    if pi.shape != (P.shape[0],):
        raise ValueError(f"pi must have shape (m,) = ({P.shape[0]},) to match P, got {pi.shape}")
    if np.any(P < 0):
        j, v = (int(i) for i in np.argwhere(P < 0)[0])
        raise ValueError(f"P must be nonnegative; P[{j}, {v}] = {float(P[j, v])!r}")
    sums = P.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOL)
    if off.size:
        j = int(off[0])
        raise ValueError(f"rows of P must sum to 1 (tolerance {SUM_TOL:g}); row {j} of P sums to {float(sums[j])!r}")
    if np.any(pi < 0):
        j = int(np.flatnonzero(pi < 0)[0])
        raise ValueError(f"pi must be nonnegative; pi[{j}] = {float(pi[j])!r}")
    S = P > 0
    t = np.where(S, P * np.log(np.where(S, P, 1.0)), 0.0)
    return float(-(pi * t.sum(axis=1)).sum())


# --------------------------------------------------------------------------------------
# loss, entropy, gap, gradient
# --------------------------------------------------------------------------------------
def check_data(data: Any) -> NTPData:
    if not isinstance(data, NTPData):
        raise TypeError(f"data must be an NTPData instance, got {type(data).__name__}")
    return data


def check_W(W: Any, data: NTPData, name: str = "W") -> np.ndarray:
    W = as_real_array(W, name, ndim=2)
    if W.shape != (data.V, data.d):
        raise ValueError(f"{name} must have shape (V, d) = ({data.V}, {data.d}), got {W.shape}")
    return W


def logits(W: np.ndarray, data: NTPData, name: str = "W") -> np.ndarray:
    """``H @ W.T`` (shape (m, V)), refusing a ``W`` so large that the logits overflow."""
    with np.errstate(over="ignore", invalid="ignore"):
        L = data.H @ W.T
    if not np.all(np.isfinite(L)):
        raise ValueError(
            f"{name} is too large: the logits H @ {name}.T overflow float64 (max |{name}| = "
            f"{float(np.max(np.abs(W))):.3g}); use a W whose logits are finite"
        )
    return L


def _check_logits(L: Any, data: NTPData) -> np.ndarray:
    L = as_real_array(L, "logits", ndim=2)
    if L.shape != (data.m, data.V):
        raise ValueError(f"logits must have shape (m, V) = ({data.m}, {data.V}), got {L.shape}")
    return L


def entropy(data: NTPData) -> float:
    r"""Empirical T-gram entropy :math:`\mathcal H`, the infimum of the NTP loss.

    .. math:: \mathcal H = -\sum_{j}\hat\pi_j\sum_{z\in\mathcal S_j}\hat p_{j,z}\log\hat p_{j,z}

    ([T24] §2, paper, Sec. 'Implicit bias of next-token prediction in linear models'; nats). Zero for one-hot data.
    Computed by
    :func:`entropy_from_arrays` (the same formula as the GD engine).

    Parameters
    ----------
    data : NTPData

    Returns
    -------
    float
    """
    data = check_data(data)
    return entropy_from_arrays(data.P, data.pi)


def ntp_loss(W: Any, data: NTPData) -> float:
    r"""NTP cross-entropy, [T24] eq. (2).

    .. math:: \mathrm{CE}(W) = -\sum_j\hat\pi_j\sum_{z\in\mathcal S_j}\hat p_{j,z}
              \log\mathbb S_z(W\bar h_j),\qquad
              -\log\mathbb S_z(\ell) = \operatorname{lse}(\ell)-\ell_z,

    with the log-softmax computed by a shifted log-sum-exp (every term is a
    nonnegative number, no overflow for any finite logits).

    Parameters
    ----------
    W : array_like, shape (V, d)
        Decoder.
    data : NTPData

    Returns
    -------
    float
        Always >= :func:`entropy` (strictly, since every support is a strict subset
        of the vocabulary). Use :func:`loss_gap` for :math:`\mathrm{CE}-\mathcal H`.
    """
    data = check_data(data)
    W = check_W(W, data)
    L = logits(W, data)
    neg_logsm = scipy.special.logsumexp(L, axis=1, keepdims=True) - L
    return float(data.pi @ np.where(data.support, data.P * neg_logsm, 0.0).sum(axis=1))


def loss_gap(W: Any, data: NTPData, *, per_context: bool = False) -> float | np.ndarray:
    r"""Excess loss :math:`\mathrm{CE}(W)-\mathcal H=\sum_j\hat\pi_j\mathrm{KL}(\hat p_j\,\|\,\mathbb S(W\bar h_j))`.

    Computed directly, never as ``ntp_loss - entropy``. With logits :math:`\ell=W\bar h_j`,
    in-support softmax :math:`q_z=e^{\ell_z-\operatorname{lse}_{\mathcal S}(\ell)}` and
    out-of-support mass ratio
    :math:`\varepsilon=\sum_{v\notin\mathcal S}e^{\ell_v-\operatorname{lse}_{\mathcal S}(\ell)}`,
    the softmax on the support is :math:`q_z/(1+\varepsilon)`, hence the exact split into
    two **nonnegative** parts

    .. math:: \mathrm{KL}(\hat p\,\|\,\mathbb S(\ell)) = \mathrm{KL}(\hat p\,\|\,q)
              + \log(1+\varepsilon).

    * :math:`\log(1+\varepsilon)` = ``logaddexp(0, log eps)`` (accurate for
      :math:`\varepsilon` down to underflow; this is the part that decays like
      :math:`e^{-R}` along :math:`W^\star+RW^{mm}`).
    * With :math:`u_z=\ell_z-\max_{\mathcal S}\ell-\log\hat p_z` and
      :math:`w=u-\mathbb E_{\hat p}u`,
      :math:`\mathrm{KL}(\hat p\|q)=\log\mathbb E_{\hat p}e^{w}=\log\!\big(1+\sum_z\hat p_z
      (e^{w_z}-1-w_z)\big)` because :math:`\mathbb E_{\hat p}w=0`; every summand
      ``expm1(w) - w`` is >= 0, so there is no cancellation and the relative error is of
      order :math:`\epsilon_{\rm mach}\,\mathrm{spread}_{\mathcal S}(\ell)/\max|w|`
      (~1e-10 at a gap of 1e-12 with O(1) log-odds), which is the conditioning of the KL
      itself. Rows with :math:`\max w>50` use the equivalent
      :math:`\operatorname{lse}(w+\log\hat p)`.
    * The KL treats :math:`\hat p_j` as exactly normalised (it is, up to one ulp,
      see :class:`NTPData`); for a KL of unnormalised vectors an O(eps) offset would
      swamp gaps below ~1e-15.

    Parameters
    ----------
    W : array_like, shape (V, d)
        Decoder.
    data : NTPData
    per_context : bool
        Return the vector of :math:`\mathrm{KL}_j` (unweighted, shape (m,)) instead of
        the :math:`\hat\pi`-weighted sum.

    Returns
    -------
    float or ndarray of shape (m,)
    """
    data = check_data(data)
    W = check_W(W, data)
    if not isinstance(per_context, (bool, np.bool_)):
        raise TypeError(f"per_context must be True or False, got {per_context!r}")
    kl = _kl_rows(logits(W, data), data)
    return kl if per_context else float(data.pi @ kl)


def _split_logits(L: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift each row by its largest in-support logit.

    Returns ``a = L - max_S L`` (in-support entries <= 0, and exact when the in-support
    logits are within a factor 2 of each other), ``log_s_in = log sum_S e^a`` (in
    [0, log S_j]) and ``t = lse_out(a) - log_s_in = log(eps)``. Working with ``a``
    makes the in-support quantities depend on logit differences only, so their
    rounding error scales with the spread of the in-support logits, not with |L|.
    """
    mx_in = np.max(np.where(S, L, -np.inf), axis=1)
    a = L - mx_in[:, None]
    log_s_in = np.log(np.sum(np.exp(np.where(S, a, -np.inf)), axis=1))
    t = _masked_lse(a, ~S) - log_s_in  # out-of-support set nonempty: every S_j < V
    return a, log_s_in, t


def _kl_rows(L: np.ndarray, data: NTPData) -> np.ndarray:
    S = data.support
    a, _, t = _split_logits(L, S)
    off = np.logaddexp(0.0, t)  # log(1 + eps)
    P, logP = data.P, data.log_P
    u = np.where(S, a - logP, 0.0)
    w = np.where(S, u - np.sum(P * u, axis=1, keepdims=True), 0.0)
    wmax = np.max(np.where(S, w, -np.inf), axis=1)
    wc = np.minimum(w, 50.0)
    small = np.log1p(np.sum(P * (np.expm1(wc) - wc), axis=1))
    big = _masked_lse(np.where(S, w + logP, -np.inf), S)
    return np.where(wmax <= 50.0, small, big) + off


def in_support_residual(logits: Any, data: NTPData) -> np.ndarray:
    r"""Softmax residual :math:`\mathbb S(\ell_j)-\hat p_j` for all contexts, computed stably.

    Follows paper, Sec. 'Numerics and solvers'. With :math:`q` the softmax over
    :math:`\mathcal S_j` and :math:`t=\operatorname{lse}_{\notin\mathcal S}(\ell)-
    \operatorname{lse}_{\mathcal S}(\ell)` (so :math:`\varepsilon=e^t`,
    :math:`\varepsilon/(1+\varepsilon)=\sigma(t)`):

    .. math:: r_z = (q_z-\hat p_z) - q_z\,\sigma(t)\quad (z\in\mathcal S_j),\qquad
              r_v = e^{\ell_v-\operatorname{lse}_{\mathcal S}(\ell)-\log(1+e^{t})}
              \quad (v\notin\mathcal S_j).

    Implementation details (a Numba kernel can mirror them row by row): logits are
    shifted by the largest in-support logit, so q has ~eps relative error; the computed
    :math:`\delta=q-\hat p` is corrected to :math:`\delta-\hat p\sum_{\mathcal S}\delta`
    (the exact :math:`\delta` sums to 0), so that :math:`\sum_{z\in\mathcal S}r_z=
    -\varepsilon/(1+\varepsilon)` and the row sum 0 hold to **relative** accuracy even
    when :math:`\varepsilon\ll\epsilon_{\rm mach}` (the :math:`F^\perp` part of the
    gradient is then not swamped by rounding). Out-of-support entries stay accurate
    down to 1e-308 and nothing overflows for any finite logits.

    Parameters
    ----------
    logits : array_like, shape (m, V)
        ``H @ W.T``.
    data : NTPData

    Returns
    -------
    ndarray, shape (m, V)
        Rows sum to 0 up to rounding.
    """
    data = check_data(data)
    L = _check_logits(logits, data)
    return _residual(L, data)


def _residual(L: np.ndarray, data: NTPData) -> np.ndarray:
    S = data.support
    a, log_s_in, t = _split_logits(L, S)
    e_in = np.exp(np.where(S, a, -np.inf))
    q = e_in / np.exp(log_s_in)[:, None]  # softmax over the support, ~eps relative error
    sig = scipy.special.expit(t)[:, None]  # eps / (1 + eps)
    log1p_eps = np.logaddexp(0.0, t)[:, None]
    delta = q - data.P
    # q - p sums to 0 exactly in exact arithmetic; remove its O(eps) rounding sum so that
    # the in-support total is -eps/(1+eps) to full relative accuracy (no eps-sized leak
    # into F-perp when the true out-of-support mass is far below eps).
    delta = delta - data.P * np.sum(delta, axis=1, keepdims=True)
    r_in = delta - q * sig
    r_out = np.exp(np.where(S, -np.inf, a - log_s_in[:, None] - log1p_eps))
    return np.where(S, r_in, r_out)


def ntp_gradient(W: Any, data: NTPData) -> np.ndarray:
    r"""Gradient of the NTP loss, [T24] §3 / paper, Sec. 'Implicit bias of next-token prediction in linear models'.

    .. math:: \nabla\mathrm{CE}(W)=\sum_j\hat\pi_j\big(\mathbb S(W\bar h_j)-\hat p_j\big)\bar h_j^\top

    with the residual from :func:`in_support_residual`. Column sums vanish
    (:math:`\mathbf 1^\top\nabla\mathrm{CE}=0`), so GD preserves :math:`\mathbf 1^\top W`.

    Parameters
    ----------
    W : array_like, shape (V, d)
    data : NTPData

    Returns
    -------
    ndarray, shape (V, d)
    """
    data = check_data(data)
    W = check_W(W, data)
    R = _residual(logits(W, data), data)
    return (R * data.pi[:, None]).T @ data.H


def log_odds_residual(W: Any, data: NTPData) -> np.ndarray:
    r"""Residuals of the log-odds (compatibility) equations, [T24] Def. 1 / eq. (4).

    For context j with anchor :math:`z_j` (:attr:`NTPData.anchors`) and
    :math:`z\in\mathcal S_j`:

    .. math:: r_{j,z} = (e_{z_j}-e_z)^\top W\bar h_j - \log(\hat p_{j,z_j}/\hat p_{j,z}),

    and :math:`r_{j,z}=0` for the anchor and for off-support tokens. ``W`` solves the
    equations for all pairs :math:`z\ne z'\in\mathcal S_j` iff all residuals vanish.

    Parameters
    ----------
    W : array_like, shape (V, d)
    data : NTPData

    Returns
    -------
    ndarray, shape (m, V)
    """
    data = check_data(data)
    W = check_W(W, data)
    return log_odds_matrix(logits(W, data), data)


def log_odds_matrix(L: np.ndarray, data: NTPData) -> np.ndarray:
    rows = np.arange(data.m)
    a = data.anchors
    diff = (L[rows, a][:, None] - L) - (data.log_P[rows, a][:, None] - data.log_P)
    return np.where(data.support, diff, 0.0)


