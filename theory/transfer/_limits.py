r"""Large-n limits of the risks and the normal approximation of the MLE risk (part of :mod:`theory.transfer`; notation and references there)."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from theory._validation import as_int, as_real_array, check_memory
from theory.transfer._common import positive_n, scalar_or_array, validate_pi_star
from theory.transfer._instances import Instance, check_instance, instance2_parts
from theory.transfer._learners import tv_rows

__all__ = ["partial_ce_limit", "ce_ptl_limit_risk", "sel_ptl_limit_instance2", "ce_sgl_limit_instance2", "ce_ptl_limit_instance2", "ce_ful_limit_instance3", "mle_risk_normal_approx"]


def partial_ce_limit(pi_star) -> np.ndarray:
    r"""Almost-sure limit of ``ce_ptl`` ([ZZ23] Lemma 4.2 / Thm 4.3).

    .. math::

        \hat\pi_{\text{ce\_ptl}}(a|s) \to \frac{\pi^*(a|s)^2}{\sum_b \pi^*(b|s)^2}

    at every input with :math:`\rho(s) > 0`. Computed on rows scaled by their
    maximum so that tiny probabilities do not underflow before the ratio.

    Parameters
    ----------
    pi_star : array_like, shape (A,) or (S, A)
        Teacher distribution(s).

    Returns
    -------
    numpy.ndarray, same shape as ``pi_star``
    """
    arr = as_real_array(pi_star, "pi_star", nonempty=False)
    if arr.ndim == 1:
        return partial_ce_limit(arr[None, :])[0]
    arr = validate_pi_star(arr)
    scaled = arr / arr.max(axis=-1, keepdims=True)
    sq = scaled * scaled
    return sq / sq.sum(axis=-1, keepdims=True)


def ce_ptl_limit_risk(instance: Instance) -> float:
    r"""Asymptotic risk of ``ce_ptl`` ([ZZ23] Thm 4.3, paper, Sec. 'Knowledge transfer over finite domains').

    .. math::

        \lim_{n\to\infty}\mathrm{TV}(\hat\pi_{\text{ce\_ptl}}, \pi^*|\rho)
            = \sum_s \rho(s)\,\mathrm{TV}\Big(\frac{\pi^*(\cdot|s)^2}{\|\pi^*(\cdot|s)\|_2^2},
              \pi^*(\cdot|s)\Big)\quad\text{a.s.}

    Parameters
    ----------
    instance : Instance

    Returns
    -------
    float
    """
    check_instance(instance)
    limit = partial_ce_limit(instance.pi_star)
    return float(tv_rows(limit, instance.pi_star) @ instance.rho)


def sel_ptl_limit_instance2(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``sel_ptl`` on Instance 2 (derived here).

    .. math::

        n\,\mathbb E\,\mathrm{TV} \to S\,Z_0\,\mathbb E\Big[\frac{U}{U+Z_0}\Big],
        \qquad U \sim \mathrm{Bin}(K, e^{-1}),

    with :math:`K` light labels and :math:`Z_0` zero-mass labels (:math:`Z_0 = K`
    for odd A, which is check T.5's :math:`SK\,\mathbb E[U/(U+K)]`;
    :math:`Z_0 = K+1` for even A). At a seen input each light label (mass
    :math:`S/(n+1)`) is missed with probability :math:`\to e^{-1}`; with U of them
    missed the uniform fill spreads :math:`US/(n+1)` over :math:`U+Z_0` labels,
    giving :math:`\mathrm{TV} = Z_0 U S/((n+1)(U+Z_0))`. The expectation is an exact
    finite sum over the binomial pmf.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    K, Z0 = instance2_parts(S, A)
    check_memory(8.0 * 4 * (K + 1), f"sel_ptl_limit_instance2(S={S}, A={A})",
                 hint="the binomial pmf over the K + 1 values of U is materialised")
    u = np.arange(K + 1)
    pmf = stats.binom.pmf(u, K, math.exp(-1.0))
    return float(S * Z0 * np.sum(pmf * u / (u + Z0)))


def ce_sgl_limit_instance2(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``ce_sgl`` on Instance 2 (derived here).

    At a seen input with :math:`n_s \approx n/S` samples the K light counts are
    asymptotically i.i.d. :math:`\mathrm{Poisson}(1)` and the heavy label absorbs
    their fluctuation, so
    :math:`\mathrm{TV}_s = \frac1{2n_s}[\sum_l |c_l - 1| + |\sum_l c_l - K|]` and

    .. math::

        n\,\mathbb E\,\mathrm{TV} \to \frac S2\Big[K\,\mathbb E|P_1 - 1|
            + \mathbb E|P_K - K|\Big],\qquad P_\lambda\sim\mathrm{Poisson}(\lambda),

    with :math:`\mathbb E|P_\lambda-\lambda|
    = 2\lambda\,\mathrm{pmf}_\lambda(\lfloor\lambda\rfloor)`.
    (Check T.8 leaves this constant to simulation.) The approach is
    slow, of relative order :math:`\sqrt{S/n}`: the Poisson mean absolute deviation
    has a kink at integer means and :math:`n_s S/(n+1)` fluctuates around 1 by
    :math:`\sqrt{S/n}`; :func:`expected_risk_ce_sgl` gives the finite-n value.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    K, _ = instance2_parts(S, A)

    def mad(lam: int) -> float:
        return 2.0 * lam * float(stats.poisson.pmf(lam, lam))

    return 0.5 * S * (K * mad(1) + mad(K))


def ce_ptl_limit_instance2(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``ce_ptl`` on Instance 2 (derived here).

    ``ce_ptl`` weights each count by :math:`\pi^*`, so at a seen input the light
    labels get :math:`O(S^2/n^2)` and the heavy label almost everything:
    :math:`\mathrm{TV}_s \to Kq = SK/(n+1)`, hence
    :math:`n\,\mathbb E\,\mathrm{TV} \to SK` (check T.8), approached
    from below.

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    K, _ = instance2_parts(S, A)
    return float(S * K)


def ce_ful_limit_instance3(S: int, A: int) -> float:
    r"""Limit of :math:`n\,\mathbb E\,\mathrm{TV}` of ``ce_ful`` on Instance 3 (derived here).

    Each of the :math:`S-1` light inputs (mass :math:`1/(n+1)`) is unseen with
    probability :math:`(1-\frac1{n+1})^n \to e^{-1}`, and then contributes
    :math:`\mathrm{TV}(\mathrm{Uniform}, \pi^*(\cdot|s)) \to 1-1/A` because
    :math:`\pi^*` tends to a Dirac; the heavy input is unseen with probability
    :math:`((S-1)/(n+1))^n \to 0`:

    .. math::

        n\,\mathbb E\,\mathrm{TV} \to (S-1)\,e^{-1}\,(1-1/A)

    (check T.6; compare the finite-n :func:`expected_risk_ce_ful`).

    Parameters
    ----------
    S, A : int
        S >= 1, A >= 3.

    Returns
    -------
    float
    """
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=3)
    return (S - 1) * math.exp(-1.0) * (1.0 - 1.0 / A)


def mle_risk_normal_approx(S: int, A: int, n):
    r"""Normal approximation of the MLE risk near the uniform teacher (derived here).

    For :math:`n/S \gg A` and :math:`\pi^* \approx \mathrm{Uniform}(A)`, each
    :math:`|n_{s,a}/n_s - 1/A|` has mean :math:`\approx\sqrt{2(1/A)(1-1/A)/(\pi n/S)}`, so

    .. math::

        \mathbb E\,\mathrm{TV}(\hat\pi_{\text{ce\_sgl}}, \pi^*|\rho)
            \approx \sqrt{\frac{S(A-1)}{2\pi n}}

    (check T.3: 0.03785 for (10, 10) at n = 1e4).

    Parameters
    ----------
    S, A : int
    n : float or array_like
        Positive sample size(s).

    Returns
    -------
    float or numpy.ndarray
    """
    S = as_int(S, "S", low=1)
    A = as_int(A, "A", low=1)
    n = positive_n(n)
    return scalar_or_array(np.sqrt(S * (A - 1) / (2.0 * np.pi * n)))
