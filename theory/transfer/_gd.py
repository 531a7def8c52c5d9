r"""The [ZZ23] learners trained by gradient descent on tabular logits (part of :mod:`theory.transfer`).

A tabular student has one logit vector :math:`\theta_s\in\mathbb R^A` per input and
:math:`\pi_\theta(\cdot|s)=\mathrm{softmax}(\theta_s)`. Its empirical losses, written as
weighted means (the step size :math:`\eta` then means the same thing for every learner
and every n; our choice, documented in ``paper/transfer_gd.md``):

.. math::

    \mathcal L_{\text{ce\_sgl}} &= -\frac1n\sum_{s,a} n_{s,a}\log\pi_\theta(a|s),\qquad
    \mathcal L_{\text{ce\_ful}} = -\frac1n\sum_{s} n_s\sum_a\pi^*(a|s)\log\pi_\theta(a|s),\\
    \mathcal L_{\text{ce\_ptl}} &= -\frac{1}{\sum_{s,b} n_{s,b}\pi^*(b|s)}\sum_{s,a}
        n_{s,a}\pi^*(a|s)\log\pi_\theta(a|s),\\
    \mathcal L_{\text{sel\_ptl}} &= \frac1n\sum_{s,a} n_{s,a}\,\tfrac12
        \big[\log\pi_\theta(a|s)-\log\pi^*(a|s)\big]^2 .

The three cross-entropies are the NTP loss of [T24] with one-hot contexts
:math:`\bar h_s=e_s` (contexts = seen inputs): weight :math:`\hat\pi_s` and next-token
distribution :math:`\hat p_s` (:func:`gd_ntp_weights`; as :class:`theory.ntp.NTPData`: ``H`` =
the rows of :math:`I_S` at the seen inputs, ``P`` and ``pi`` the seen rows), so GD is
:math:`\theta_s\leftarrow\theta_s-\eta\hat\pi_s(\mathrm{softmax}(\theta_s)-\hat p_s)` and
the closed-form learner is :math:`\hat p_s` itself. Where :math:`\hat p_s` has an
unobserved label (support :math:`T_s`, :math:`t_s=|T_s|<A`, :math:`u_s=A-t_s`), no
finite minimiser exists and the NTP theory gives, from :math:`\theta=0` (derived here,
``paper/transfer_gd.md``; the orthonormal case of paper, Sec. 'Beyond the paper: the second-order term
of NTP training'),

.. math::

    \varepsilon_s(k)=\sum_{v\notin T_s}\pi_{\theta_k}(v|s)=\frac{C_s}{k}(1+o(1)),\qquad
    C_s=\frac{t_s\,u_s}{A\,\eta\,\hat\pi_s},

spread equally over the unobserved labels, while every observed label loses the same
:math:`\varepsilon_s/t_s` (not a proportional share):
:math:`\pi_{\theta_k}(z|s)=\hat p_s(z)-\varepsilon_s(k)/t_s` (:func:`gd_policy_prediction`).
Where :math:`\hat p_s` has full support the minimiser is unique and GD converges to it
linearly, with contraction :math:`1-\eta\hat\pi_s\mu_s` per step, :math:`\mu_s` the
smallest positive eigenvalue of :math:`\mathrm{diag}(\hat p_s)-\hat p_s\hat p_s^\top`
(:func:`gd_contraction`).

SEL_ptl has a whole set of minimisers at an input with unobserved labels; gradient flow
from :math:`\theta_0` selects the one with :math:`e^{-\theta_v(\infty)}=e^{-\theta_v(0)}-\Phi`
on the unobserved labels (:func:`sel_ptl_gd_limit`); from a :math:`\theta_0` that is equal
on them (e.g. 0) this is the uniform-leftover convention of [ZZ23] section 6.

References: [ZZ23] Zhao and Zhu, ICLR 2024; [T24] Thrampoulidis, NeurIPS 2024.
"""

from __future__ import annotations

import numpy as np
import scipy.optimize

from theory._validation import as_choice, as_real, as_real_array
from theory.transfer._common import validate_counts, validate_learner, validate_pi_star, validate_rho

__all__ = [
    "GD_CE_LEARNERS",
    "gd_ntp_weights",
    "gd_population_weights",
    "gd_loss",
    "gd_loss_gradient",
    "unobserved_mass_constant",
    "gd_relaxation_steps",
    "gd_policy_prediction",
    "gd_contraction",
    "sel_ptl_gd_limit",
    "sel_ptl_relaxation_steps",
]

#: The learners whose loss is an NTP cross-entropy (trained by :mod:`sims.gd`).
GD_CE_LEARNERS: tuple[str, ...] = ("ce_sgl", "ce_ptl", "ce_ful")


def _ce_learner(learner) -> str:
    return as_choice(learner, "learner", GD_CE_LEARNERS)


def _weights(learner: str, counts: np.ndarray, pi_star: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unvalidated core of :func:`gd_ntp_weights`; ``counts`` float (..., S, A)."""
    n_s = counts.sum(axis=-1)
    if learner == "ce_sgl":
        mass, P = n_s, counts
    elif learner == "ce_ptl":
        P = counts * pi_star
        mass = P.sum(axis=-1)
    else:  # ce_ful
        mass, P = n_s, np.broadcast_to(pi_star, counts.shape)
    seen = n_s > 0
    row = P.sum(axis=-1)
    P = np.where(seen[..., None], P / np.where(row > 0, row, 1.0)[..., None], 0.0)
    pi = mass / mass.sum(axis=-1, keepdims=True)
    return P, pi


def gd_ntp_weights(learner: str, counts, pi_star) -> tuple[np.ndarray, np.ndarray]:
    r"""NTP form :math:`(\hat p_s, \hat\pi_s)` of a cross-entropy learner's empirical loss.

    .. math::

        \text{ce\_sgl: } \hat p_s=\frac{n_{s,\cdot}}{n_s},\ \hat\pi_s=\frac{n_s}{n};\quad
        \text{ce\_ptl: } \hat p_s=\frac{n_{s,\cdot}\pi^*(\cdot|s)}{Z_s},\
            \hat\pi_s=\frac{Z_s}{\sum_{s'}Z_{s'}},\ Z_s=\sum_b n_{s,b}\pi^*(b|s);\quad
        \text{ce\_ful: } \hat p_s=\pi^*(\cdot|s),\ \hat\pi_s=\frac{n_s}{n}.

    The loss is :math:`-\sum_s\hat\pi_s\sum_a\hat p_s(a)\log\pi_\theta(a|s)`; its
    minimiser over the seen inputs is the closed-form learner
    (:func:`theory.transfer.estimate`).

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "ce_ful"}
    counts : array_like of int, shape (S, A)
        Count matrix :math:`n_{s,a}` with n >= 1 samples.
    pi_star : array_like, shape (S, A)

    Returns
    -------
    P : ndarray, shape (S, A)
        :math:`\hat p_s` (zero rows at unseen inputs).
    pi : ndarray, shape (S,)
        :math:`\hat\pi_s` (zero at unseen inputs; sums to 1).
    """
    learner = _ce_learner(learner)
    pi_star = validate_pi_star(pi_star)
    counts = _one_count_matrix(counts, pi_star)
    return _weights(learner, counts, pi_star)


def _one_count_matrix(counts, pi_star: np.ndarray) -> np.ndarray:
    counts = validate_counts(counts, pi_star)
    if counts.ndim != 2:
        raise ValueError(f"counts must be one count matrix of shape (S, A) = {pi_star.shape}, got {counts.shape}")
    if counts.sum() < 1:
        raise ValueError("counts must hold at least one sample (n >= 1), got an all-zero count matrix")
    return counts


def gd_population_weights(learner: str, pi_star, rho) -> tuple[np.ndarray, np.ndarray]:
    r"""The :math:`n\to\infty` limit of :func:`gd_ntp_weights` (almost surely).

    ce_sgl, ce_ful: :math:`(\pi^*(\cdot|s), \rho(s))`; ce_ptl:
    :math:`(\pi^*(\cdot|s)^2/\|\pi^*(\cdot|s)\|_2^2,\ \rho(s)\|\pi^*(\cdot|s)\|_2^2/\sum_{s'}\rho(s')\|\pi^*(\cdot|s')\|_2^2)`.
    GD on these weights is the large-n limit of the GD-trained student at a fixed step
    count k (its risk floor at that k).

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "ce_ful"}
    pi_star : array_like, shape (S, A)
    rho : array_like, shape (S,)

    Returns
    -------
    P : ndarray, shape (S, A)
    pi : ndarray, shape (S,)
    """
    learner = _ce_learner(learner)
    pi_star = validate_pi_star(pi_star)
    rho = validate_rho(rho)
    if rho.shape[0] != pi_star.shape[0]:
        raise ValueError(f"rho must have shape (S,) = ({pi_star.shape[0]},) to match pi_star, got {rho.shape}")
    return _weights(learner, rho[:, None] * pi_star, pi_star)


def _logits(logits, shape) -> np.ndarray:
    return as_real_array(logits, "logits", shape=shape)


def _log_softmax(theta: np.ndarray) -> np.ndarray:
    mx = theta.max(axis=-1, keepdims=True)
    return theta - mx - np.log(np.sum(np.exp(theta - mx), axis=-1, keepdims=True))


def gd_loss(learner: str, counts, pi_star, logits) -> float:
    r"""The empirical loss :math:`\mathcal L(\theta)` of a learner (module docstring).

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "sel_ptl", "ce_ful"}
    counts : array_like of int, shape (S, A)
    pi_star : array_like, shape (S, A)
    logits : array_like, shape (S, A)
        :math:`\theta_s` as rows.

    Returns
    -------
    float
    """
    learner = validate_learner(learner)
    pi_star = validate_pi_star(pi_star)
    counts = _one_count_matrix(counts, pi_star)
    logq = _log_softmax(_logits(logits, pi_star.shape))
    if learner == "sel_ptl":
        w = counts / counts.sum()
        r = np.where(w > 0, logq - np.log(np.where(w > 0, pi_star, 1.0)), 0.0)
        return float(0.5 * np.sum(w * r * r))
    P, pi = _weights(learner, counts, pi_star)
    return float(-np.sum(pi[:, None] * np.where(P > 0, P * logq, 0.0)))


def gd_loss_gradient(learner: str, counts, pi_star, logits) -> np.ndarray:
    r"""Gradient of :func:`gd_loss` with respect to the logits.

    Cross-entropies: :math:`\hat\pi_s(\mathrm{softmax}(\theta_s)-\hat p_s)`. SEL_ptl, with
    :math:`w_{s,a}=n_{s,a}/n` and :math:`r_{s,a}=\log\pi_\theta(a|s)-\log\pi^*(a|s)`:

    .. math:: \partial_{\theta_{s,b}}\mathcal L=w_{s,b}r_{s,b}-\pi_\theta(b|s)\sum_a w_{s,a}r_{s,a}.

    Parameters
    ----------
    learner, counts, pi_star, logits
        As in :func:`gd_loss`.

    Returns
    -------
    ndarray, shape (S, A)
    """
    learner = validate_learner(learner)
    pi_star = validate_pi_star(pi_star)
    counts = _one_count_matrix(counts, pi_star)
    logq = _log_softmax(_logits(logits, pi_star.shape))
    q = np.exp(logq)
    if learner == "sel_ptl":
        w = counts / counts.sum()
        wr = np.where(w > 0, w * (logq - np.log(np.where(w > 0, pi_star, 1.0))), 0.0)
        return wr - q * wr.sum(axis=1, keepdims=True)
    P, pi = _weights(learner, counts, pi_star)
    return pi[:, None] * (q - P) * (pi[:, None] > 0)


def _support_sizes(P: np.ndarray, pi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    A = P.shape[-1]
    seen = pi > 0
    t = np.sum(P > 0, axis=-1)
    return seen, t, A - t


def _lr_and_weights(learner, counts, pi_star, lr) -> tuple[float, np.ndarray, np.ndarray]:
    """Checked step size and the NTP weights ``(P, pi)`` of :func:`gd_ntp_weights`."""
    learner = _ce_learner(learner)
    lr = as_real(lr, "lr", low=0, low_open=True)
    P, pi = gd_ntp_weights(learner, counts, pi_star)
    return lr, P, pi


def unobserved_mass_constant(learner: str, counts, pi_star, lr) -> np.ndarray:
    r""":math:`C_s=\lim_k k\,\varepsilon_s(k)` for GD from :math:`\theta=0` (module docstring).

    .. math:: C_s=\frac{t_s(A-t_s)}{A\,\eta\,\hat\pi_s}

    with :math:`t_s` the number of labels in the support of :math:`\hat p_s`; it is the
    orthonormal case of [T24] and of the paper's Sec. "Beyond the paper: the second-order term of NTP training" (every off-support pair active,
    :math:`\lambda_{sv}=t_s/A`, :math:`k\eta\hat\pi_s\mathbb S_v\to\lambda_{sv}`). Zero
    where :math:`t_s=A` (unique minimiser) and at unseen inputs (no gradient there).

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "ce_ful"}
    counts : array_like of int, shape (S, A)
    pi_star : array_like, shape (S, A)
    lr : float
        Constant GD step :math:`\eta>0` on the weighted-mean loss.

    Returns
    -------
    ndarray, shape (S,)
    """
    lr, P, pi = _lr_and_weights(learner, counts, pi_star, lr)
    seen, t, u = _support_sizes(P, pi)
    A = P.shape[1]
    return np.where(seen, t * u / (A * lr * np.where(seen, pi, 1.0)), 0.0)


def gd_relaxation_steps(learner: str, counts, pi_star, lr) -> np.ndarray:
    r"""Steps :math:`1/(\eta\hat\pi_s\min_{z\in T_s}\hat p_s(z))` after which the observed
    labels of input s are in their quasi-static regime (:func:`gd_policy_prediction`
    applies for :math:`k` well above it); ``inf`` at unseen inputs.

    Parameters
    ----------
    learner, counts, pi_star, lr
        As in :func:`unobserved_mass_constant`.

    Returns
    -------
    ndarray, shape (S,)
    """
    lr, P, pi = _lr_and_weights(learner, counts, pi_star, lr)
    pmin = np.min(np.where(P > 0, P, np.inf), axis=1)
    with np.errstate(divide="ignore"):
        return np.where(pi > 0, 1.0 / (lr * pi * np.where(np.isfinite(pmin), pmin, 1.0)), np.inf)


def gd_policy_prediction(learner: str, counts, pi_star, lr, k) -> np.ndarray:
    r"""Predicted policy of the GD-trained student after k steps from :math:`\theta=0`.

    At a seen input, with :math:`\varepsilon_s=C_s/k` (:func:`unobserved_mass_constant`),

    .. math::

        \pi_k(z|s)=\hat p_s(z)-\varepsilon_s/t_s\ (z\in T_s),\qquad
        \pi_k(v|s)=\varepsilon_s/u_s\ (v\notin T_s),

    i.e. the closed form plus :math:`\varepsilon_s(\mathrm{Unif}(\mathcal A\setminus T_s)
    -\mathrm{Unif}(T_s))` (first order in 1/k; derivation in ``paper/transfer_gd.md``).
    Unseen inputs keep :math:`\mathrm{Uniform}(\mathcal A)`. Valid for
    :math:`k\gg` :func:`gd_relaxation_steps`; rows where the formula would give a
    nonpositive observed-label probability (k far too small) are NaN.

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "ce_ful"}
    counts : array_like of int, shape (S, A)
    pi_star : array_like, shape (S, A)
    lr : float
    k : float
        Step count >= 1.

    Returns
    -------
    ndarray, shape (S, A)
    """
    k = as_real(k, "k", low=1)
    lr, P, pi = _lr_and_weights(learner, counts, pi_star, lr)
    seen, t, u = _support_sizes(P, pi)
    A = P.shape[1]
    eps = np.where(seen, t * u / (A * lr * np.where(seen, pi, 1.0)), 0.0) / k
    obs = P > 0
    q = np.where(obs, P - (eps / np.maximum(t, 1))[:, None], (eps / np.maximum(u, 1))[:, None])
    q[~seen] = 1.0 / A
    bad = seen & np.any(obs & (q <= 0), axis=1)
    q[bad] = np.nan
    return q


def gd_contraction(learner: str, counts, pi_star, lr) -> np.ndarray:
    r"""Per-step contraction :math:`|1-\eta\hat\pi_s\mu_s|` of GD near the minimiser.

    :math:`\mu_s` is the smallest positive eigenvalue of the in-support Hessian
    :math:`\mathrm{diag}(\hat p_s)-\hat p_s\hat p_s^\top` (restricted to the labels of
    :math:`T_s`). Where :math:`T_s` is every label (unique minimiser), the distance of
    the GD policy to :math:`\hat p_s` decays like this factor to the power k; where
    labels are unobserved, the observed part relaxes at this rate to its
    quasi-static :math:`1/k` regime. NaN at unseen inputs and where :math:`t_s=1`.

    Parameters
    ----------
    learner, counts, pi_star, lr
        As in :func:`unobserved_mass_constant`.

    Returns
    -------
    ndarray, shape (S,)
    """
    lr, P, pi = _lr_and_weights(learner, counts, pi_star, lr)
    out = np.full(P.shape[0], np.nan)
    for s in np.flatnonzero(pi > 0):
        p = P[s][P[s] > 0]
        if p.size < 2:
            continue
        ev = np.linalg.eigvalsh(np.diag(p) - np.outer(p, p))
        mu = ev[1]  # ev[0] = 0 (constant direction)
        out[s] = abs(1.0 - lr * pi[s] * mu)
    return out


def _sel_row_limit(theta0: np.ndarray, observed: np.ndarray, pi_row: np.ndarray) -> np.ndarray:
    """Gradient-flow limit of SEL_ptl at one seen input (see :func:`sel_ptl_gd_limit`)."""
    q = np.where(observed, pi_row, 0.0)
    U = np.flatnonzero(~observed)
    if U.size == 0:
        return pi_row.copy()
    M = float(np.sum(pi_row[U]))
    if M <= 0.0:
        return q  # every zero-loss point puts 0 on U: logits there go to -inf
    if U.size == 1:
        q[U] = M
        return q
    t = int(observed.sum())
    # shift-invariance of GD: centre the logits so that b_v = exp(-theta_v) is O(1)
    theta0 = theta0 - theta0[U].max()
    b = np.exp(-theta0[U])
    bmin = b.min()
    rhs = theta0.sum() - np.sum(np.log(pi_row[observed]))

    def g(z):  # d_v = b_v - Phi with Phi = bmin - e^z; g decreases in z
        d = b - bmin + np.exp(z)
        return t * (np.log(np.sum(1.0 / d)) - np.log(M)) - np.sum(np.log(d)) - rhs

    lo, hi = -1.0, 1.0
    while g(lo) < 0:
        lo -= 2.0 * (1.0 + abs(lo))
    while g(hi) > 0:
        hi += 2.0 * (1.0 + abs(hi))
    z = scipy.optimize.brentq(g, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=500)
    inv = 1.0 / (b - bmin + np.exp(z))
    q[U] = M * inv / inv.sum()
    return q


def sel_ptl_gd_limit(counts, pi_star, init_logits=None) -> np.ndarray:
    r"""The policy to which gradient flow on the SEL_ptl loss converges from :math:`\theta_0`.

    At a seen input with observed labels :math:`T` and unobserved ones :math:`U` (leftover
    mass :math:`M=\sum_{v\in U}\pi^*(v|s)`), the flow keeps :math:`\sum_a\theta_a` and the
    differences :math:`e^{-\theta_v}-e^{-\theta_{v'}}` (:math:`v,v'\in U`) fixed, so the
    limit has :math:`\pi(a|s)=\pi^*(a|s)` on :math:`T` and

    .. math::

        \pi(v|s)=M\,\frac{1/(b_v-\Phi)}{\sum_{v'\in U}1/(b_{v'}-\Phi)},\qquad
        b_v=e^{-\theta_{0,v}},

    with :math:`\Phi<\min_U b_v` the unique root of
    :math:`t\log\big(\sum_{v\in U}\tfrac{1}{b_v-\Phi}\big)-t\log M-\sum_{v\in U}\log(b_v-\Phi)
    =\sum_a\theta_{0,a}-\sum_{a\in T}\log\pi^*(a|s)` (monotone in :math:`\Phi`;
    derivation in ``paper/transfer_gd.md``). It equals the uniform-leftover convention
    :math:`M/|U|` iff :math:`\theta_0` is constant on :math:`U` (e.g. :math:`\theta_0=0`)
    or :math:`|U|=1`. It does not depend on the counts beyond which labels were seen, nor
    on the step size (GD with step :math:`\eta` deviates by :math:`O(\eta)`). Assumes the
    flow converges to a zero of the loss. :math:`M=0` gives 0 on U; unseen inputs keep
    :math:`\mathrm{softmax}(\theta_{0,s})`.

    Parameters
    ----------
    counts : array_like of int, shape (S, A)
    pi_star : array_like, shape (S, A)
    init_logits : array_like, shape (S, A), optional
        :math:`\theta_0` as rows (default 0).

    Returns
    -------
    ndarray, shape (S, A)
    """
    pi_star = validate_pi_star(pi_star)
    counts = _one_count_matrix(counts, pi_star)
    theta0 = np.zeros(pi_star.shape) if init_logits is None else as_real_array(
        init_logits, "init_logits", shape=pi_star.shape)
    out = np.exp(_log_softmax(theta0))
    for s in np.flatnonzero(counts.sum(axis=1) > 0):
        out[s] = _sel_row_limit(theta0[s], counts[s] > 0, pi_star[s])
    return out


def sel_ptl_relaxation_steps(counts, pi_star, lr, init_logits=None) -> np.ndarray:
    r"""Steps :math:`1/(\eta\lambda_s)` over which GD on SEL_ptl relaxes to its limit at input s.

    :math:`\lambda_s` is the smallest positive eigenvalue of the loss Hessian at the limit
    :math:`\pi_\infty` of :func:`sel_ptl_gd_limit` (where the residuals vanish),

    .. math:: \nabla^2\mathcal L=\sum_{a\in T_s}w_{s,a}(e_a-\pi_\infty(\cdot|s))(e_a-\pi_\infty(\cdot|s))^\top,
              \qquad w_{s,a}=n_{s,a}/n;

    its null space (the shift of all logits and the :math:`u_s-1` directions along the set
    of minimisers) is not a relaxation direction. Small leftover mass makes
    :math:`\lambda_s` small (moving all observed logits together changes the residuals by
    the leftover mass only). ``inf`` at unseen inputs and where the leftover mass is 0 with
    labels unobserved (no finite limit).

    Parameters
    ----------
    counts : array_like of int, shape (S, A)
    pi_star : array_like, shape (S, A)
    lr : float
    init_logits : array_like, shape (S, A), optional

    Returns
    -------
    ndarray, shape (S,)
    """
    lr = as_real(lr, "lr", low=0, low_open=True)
    lim = sel_ptl_gd_limit(counts, pi_star, init_logits)
    pi_star = validate_pi_star(pi_star)
    counts = _one_count_matrix(counts, pi_star)
    w = counts / counts.sum()
    out = np.full(pi_star.shape[0], np.inf)
    A = pi_star.shape[1]
    for s in np.flatnonzero(counts.sum(axis=1) > 0):
        obs = counts[s] > 0
        if not obs.all() and np.sum(np.where(obs, 0.0, pi_star[s])) <= 0:
            continue
        D = np.eye(A)[obs] - lim[s]
        ev = np.linalg.eigvalsh(D.T @ (w[s, obs][:, None] * D))
        pos = ev[ev > 1e-12 * ev[-1]]
        out[s] = 1.0 / (lr * pos[0])
    return out
