r"""Width and iteration bounds: [JT20] Theorem 2.2 and the soft/hard orders of [M25].

* :func:`jt_width_bound`: :math:`\lambda`, the width M and the iterations T of [JT20]
  Theorem 2.2 (constants not confirmed in the source: they are our reconstruction;
  each one is a keyword parameter with that default).
* :func:`soft_label_neurons`, :func:`hard_label_neurons`: the order-level neuron
  requirements of [M25], :math:`C_{soft}/(\gamma^2\varepsilon)` and
  :math:`C_{hard}\ln(1/\varepsilon)/\gamma^4` [paper for the orders; the constants are
  not given; our choice: default 1].
* :func:`crossover_gamma`, :func:`crossover_eps`: where the two are equal (derived here).
* :func:`hard_label_budget`: the [JT20]-shaped iteration budget of hard-label GD,
  :math:`T\propto\bar\lambda^2/(\gamma^2\varepsilon)` with the normalised
  :math:`\bar\lambda=\gamma\lambda/c_3` (our normalisation, documented there).

References: [JT20] Z. Ji, M. Telgarsky, *Polylogarithmic width suffices for gradient
descent to achieve arbitrarily small test error with shallow ReLU networks*, ICLR 2020,
arXiv 1909.12292; [M25] S. Mandal, X. Lin, R. Srikant, *A Theoretical Analysis of
Soft-Label vs Hard-Label Training in Neural Networks*, L4DC 2025, arXiv 2412.09579.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.special

from theory._validation import as_int, as_real, as_real_array

__all__ = ["JTWidthBound", "jt_width_bound", "initial_output_bound", "hard_label_budget", "soft_label_neurons",
           "hard_label_neurons", "crossover_gamma", "crossover_eps"]


@dataclass(frozen=True)
class JTWidthBound:
    r"""The quantities of [JT20] Theorem 2.2 for one (γ, ε, n, δ, η).

    Attributes
    ----------
    lam : float
        :math:`\lambda=(\sqrt{c_0\ln(c_1n/\delta)}+\ln(c_2/\varepsilon))/(\gamma/c_3)`.
    width : float
        :math:`M=c_M\lambda^2/\gamma^6`, the width any :math:`m\ge M` satisfies the theorem
        with (a float: it is astronomically large for small γ).
    iterations : int
        :math:`T=\lceil c_T\lambda^2/(\eta\varepsilon)\rceil`.
    movement : float
        :math:`c_R\lambda/\gamma`: the bound on :math:`\sqrt m\,\|w_{s,t}-w_{s,0}\|_2`
        for all t < T and all neurons s (lazy regime).
    probability : float
        :math:`1-3\delta`, the probability over the initialisation.
    gamma, eps, n, delta, eta : float, float, int, float, float
        The inputs.
    constants : tuple of (str, float)
        The constants used, by name.
    """

    lam: float
    width: float
    iterations: int
    movement: float
    probability: float
    gamma: float
    eps: float
    n: int
    delta: float
    eta: float
    constants: tuple

    def movement_bound(self, width) -> float:
        r"""Per-neuron movement bound :math:`c_R\lambda/(\gamma\sqrt m)` at width m (int >= 1).

        [JT20] Thm 2.2 (not confirmed in the source): bounds :math:`\|w_{s,t}-w_{s,0}\|_2` for all t < T and
        all s, when :math:`m\ge M`.
        """
        m = as_int(width, "width", low=1)
        return self.movement / math.sqrt(m)

    def suffices(self, width) -> bool:
        """Whether a width m (int >= 1) satisfies the theorem's hypothesis m >= M."""
        return as_int(width, "width", low=1) >= self.width


def initial_output_bound(n, delta, *, init_constant: float = 2.0, init_log_factor: float = 4.0) -> float:
    r"""High-probability bound :math:`\sqrt{2\ln(4n/\delta)}` on :math:`\max_i|f(x_i;W_0)|`.

    Standard initialisation of the [JT20] model (not confirmed in the source): with probability
    :math:`\ge1-\delta`, :math:`\max_{i\le n}|f(x_i;W_0)|\le\sqrt{c_0\ln(c_1n/\delta)}`,
    the first term of :math:`\lambda` in :func:`jt_width_bound` (same constants).
    """
    n = as_int(n, "n", low=1)
    delta = as_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    c0 = as_real(init_constant, "init_constant", low=0.0, low_open=True)
    c1 = as_real(init_log_factor, "init_log_factor", low=0.0, low_open=True)
    return math.sqrt(c0 * math.log(c1 * n / delta))


def jt_width_bound(gamma, eps, n, delta, *, eta: float = 1.0, init_constant: float = 2.0,
                   init_log_factor: float = 4.0, loss_log_factor: float = 4.0,
                   margin_divisor: float = 4.0, width_constant: float = 4096.0,
                   iteration_constant: float = 2.0, movement_constant: float = 4.0) -> JTWidthBound:
    r"""[JT20] Theorem 2.2: the width M and the iterations T for average training risk ≤ ε.

    Statement (not confirmed against the full text; the implied :math:`\gamma^{-8}`
    width is confirmed by [MOSW22]): under Assumption 2.1 with margin γ, for
    :math:`\varepsilon\in(0,1)`, :math:`\delta\in(0,1/3)`, any width :math:`m\ge M` and any
    constant step :math:`\eta\le1`, with probability :math:`\ge1-3\delta` over the
    initialisation, :math:`\frac1T\sum_{t<T}\hat R(W_t)\le\varepsilon`, where

    .. math::

        \lambda=\frac{\sqrt{2\ln(4n/\delta)}+\ln(4/\varepsilon)}{\gamma/4},\qquad
        M=\frac{4096\,\lambda^2}{\gamma^6},\qquad
        T=\Big\lceil\frac{2\lambda^2}{\eta\varepsilon}\Big\rceil,

    and :math:`\|w_{s,t}-w_{s,0}\|_2\le4\lambda/(\gamma\sqrt m)` for t < T. The numbers
    2, 4, 4, 4, 4096, 2, 4 are the keyword constants below (defaults = our reconstruction).

    Parameters
    ----------
    gamma : float in (0, 1]
        NTK margin (:func:`theory.ntk.ntk_margin`).
    eps : float in (0, 1)
        Target average logistic risk.
    n : int >= 1
        Number of samples.
    delta : float in (0, 1/3)
        Failure probability per event.
    eta : float in (0, 1], default 1
        Constant step size.
    init_constant, init_log_factor : float > 0
        :math:`c_0, c_1` in :math:`\sqrt{c_0\ln(c_1n/\delta)}` (the bound on the initial
        outputs, :math:`\max_i|f(x_i;W_0)|`).
    loss_log_factor : float > 0
        :math:`c_2` in :math:`\ln(c_2/\varepsilon)`.
    margin_divisor : float > 0
        :math:`c_3` in the denominator :math:`\gamma/c_3`.
    width_constant : float > 0
        :math:`c_M` in :math:`M=c_M\lambda^2/\gamma^6`.
    iteration_constant : float > 0
        :math:`c_T` in T.
    movement_constant : float > 0
        :math:`c_R` in the movement bound.

    Returns
    -------
    JTWidthBound

    Examples
    --------
    >>> b = jt_width_bound(0.1, 0.01, 1000, 0.1)
    >>> round(b.lam), f"{b.width:.3g}", f"{b.iterations:.3g}"
    (424, '7.36e+14', '3.59e+07')
    """
    gamma = as_real(gamma, "gamma", low=0.0, high=1.0, low_open=True)
    eps = as_real(eps, "eps", low=0.0, high=1.0, low_open=True, high_open=True)
    n = as_int(n, "n", low=1)
    delta = as_real(delta, "delta", low=0.0, high=1.0 / 3.0, low_open=True, high_open=True)
    eta = as_real(eta, "eta", low=0.0, high=1.0, low_open=True)
    consts = dict(init_constant=init_constant, init_log_factor=init_log_factor,
                  loss_log_factor=loss_log_factor, margin_divisor=margin_divisor,
                  width_constant=width_constant, iteration_constant=iteration_constant,
                  movement_constant=movement_constant)
    c = {k: as_real(v, k, low=0.0, low_open=True) for k, v in consts.items()}
    init = initial_output_bound(n, delta, init_constant=c["init_constant"], init_log_factor=c["init_log_factor"])
    lam = (init + math.log(c["loss_log_factor"] / eps)) / (gamma / c["margin_divisor"])
    width = c["width_constant"] * lam ** 2 / gamma ** 6
    iterations = math.ceil(c["iteration_constant"] * lam ** 2 / (eta * eps))
    return JTWidthBound(lam=lam, width=width, iterations=int(iterations),
                        movement=c["movement_constant"] * lam / gamma, probability=1.0 - 3.0 * delta,
                        gamma=gamma, eps=eps, n=n, delta=delta, eta=eta, constants=tuple(c.items()))


def hard_label_budget(gamma, eps, n, delta, *, eta: float = 1.0, budget_constant: float = 1.0,
                      init_constant: float = 2.0, init_log_factor: float = 4.0,
                      loss_log_factor: float = 4.0) -> int:
    r"""The [JT20]-shaped iteration budget of hard-label GD, normalised (our choice).

    .. math::

        T_{hard}(\varepsilon,\gamma)=\Big\lceil\frac{c_H\,\bar\lambda(\varepsilon)^2}{\eta\,\gamma^2\,\varepsilon}\Big\rceil,
        \qquad\bar\lambda(\varepsilon)=\frac{\gamma\lambda}{c_3}=\sqrt{c_0\ln(c_1n/\delta)}+\ln(c_2/\varepsilon),

    with λ of :func:`jt_width_bound` (the same constants :math:`c_0,c_1,c_2`): this is
    :func:`jt_width_bound`'s ``iterations`` with ``margin_divisor=1`` and
    ``iteration_constant`` :math:`=c_H`. [JT20]'s own T is :math:`c_H=2c_3^2=32`.

    Why this normalisation (derived here): :math:`\bar\lambda` is the logit a reference
    :math:`U=W_0+\bar\lambda\,\bar v/\gamma` reaches on every sample (the initial output
    plus :math:`\ln(c_2/\varepsilon)`, so its logistic loss is below ε/2 for the default
    :math:`c_2`), and the convex-GD bound
    :math:`\frac1T\sum_{t<T}\hat R(W_t)\le\hat R(U)+\|U-W_0\|^2/(2\eta T)` puts the second
    term at ε/2 exactly when :math:`T=\bar\lambda^2/(\eta\gamma^2\varepsilon)`, i.e.
    :math:`c_H=1`. Against the common budget :math:`c_T/(\gamma^2\varepsilon)` of both
    losses the ratio is :math:`(c_H/c_T)\bar\lambda^2`: the :math:`\ln^2(1/\varepsilon)`
    (and :math:`\ln(n/\delta)`) factor of [JT20]'s :math:`T\propto\lambda^2/\varepsilon`.

    Parameters
    ----------
    gamma : float in (0, 1]
        The margin (the experiments pass the kernel margin :math:`\gamma_2`).
    eps : float in (0, 1)
        Target average logistic risk.
    n : int >= 1
    delta : float in (0, 1/3)
    eta : float in (0, 1], default 1
    budget_constant : float > 0, default 1
        :math:`c_H`.
    init_constant, init_log_factor, loss_log_factor : float > 0
        :math:`c_0, c_1, c_2` of :func:`jt_width_bound`.

    Returns
    -------
    int
        :math:`T_{hard}` (at least 1).

    Examples
    --------
    >>> hard_label_budget(0.2, 0.1, 64, 0.1)  # 58.5 times the common 1/(gamma^2 eps) = 250
    14634
    """
    c_h = as_real(budget_constant, "budget_constant", low=0.0, low_open=True)
    b = jt_width_bound(gamma, eps, n, delta, eta=eta, init_constant=init_constant, init_log_factor=init_log_factor,
                       loss_log_factor=loss_log_factor, margin_divisor=1.0, iteration_constant=c_h)
    return max(1, b.iterations)


def _gamma_eps(gamma, eps, eps_name: str = "eps"):
    return _as_gamma(gamma), _as_eps(eps, eps_name)


def _as_gamma(gamma, name: str = "gamma") -> np.ndarray:
    """A margin or an array of margins, each finite in (0, 1] (a real scalar or array, not a string)."""
    g = as_real_array(gamma, name, copy=False)
    if np.any(g <= 0) or np.any(g > 1):
        raise ValueError(f"{name} must be in (0, 1], got {gamma!r}")
    return g


def _as_eps(eps, name: str = "eps") -> np.ndarray:
    """An accuracy or an array of them, each finite in (0, 1) (a real scalar or array, not a string)."""
    e = as_real_array(eps, name, copy=False)
    if np.any(e <= 0) or np.any(e >= 1):
        raise ValueError(f"{name} must be in (0, 1), got {eps!r}")
    return e


def _scalar(x):
    return float(x) if np.ndim(x) == 0 else x


def soft_label_neurons(gamma, eps, *, c_soft: float = 1.0):
    r"""[M25]'s soft-label neuron order :math:`m_{soft}=C_{soft}/(\gamma^2\varepsilon)`.

    [paper] for the order :math:`O(1/(\gamma^2\varepsilon))` (average soft KL loss < ε);
    the constant :math:`C_{soft}` is not given (our choice: 1). ``gamma`` and ``eps`` broadcast.
    """
    c_soft = as_real(c_soft, "c_soft", low=0.0, low_open=True)
    g, e = _gamma_eps(gamma, eps)
    return _scalar(c_soft / (g ** 2 * e))


def hard_label_neurons(gamma, eps, *, c_hard: float = 1.0):
    r"""[M25]'s hard-label neuron order :math:`m_{hard}=C_{hard}\ln(1/\varepsilon)/\gamma^4`.

    [paper] for the order :math:`O(\gamma^{-4}\ln(1/\varepsilon))` (average logistic loss
    < ε, an adapted [JT20] analysis); :math:`C_{hard}` is not given (our choice: 1).
    """
    c_hard = as_real(c_hard, "c_hard", low=0.0, low_open=True)
    g, e = _gamma_eps(gamma, eps)
    return _scalar(c_hard * np.log(1.0 / e) / g ** 4)


def crossover_gamma(eps, *, c_soft: float = 1.0, c_hard: float = 1.0):
    r"""The margin at which the soft and hard orders are equal, as a function of ε.

    .. math::

        \frac{C_{soft}}{\gamma^2\varepsilon}=\frac{C_{hard}\ln(1/\varepsilon)}{\gamma^4}
        \iff\gamma^2=\frac{C_{hard}}{C_{soft}}\,\varepsilon\ln\frac1\varepsilon
        \iff\gamma_\times(\varepsilon)=\sqrt{\frac{C_{hard}}{C_{soft}}\,\varepsilon\ln\frac1\varepsilon}
        \quad[\text{derived}].

    Soft labels need fewer neurons iff :math:`\gamma<\gamma_\times(\varepsilon)` (small
    margin, hard data). The result may exceed 1 (no admissible γ is above it).
    """
    c_soft = as_real(c_soft, "c_soft", low=0.0, low_open=True)
    c_hard = as_real(c_hard, "c_hard", low=0.0, low_open=True)
    e = _as_eps(eps)
    return _scalar(np.sqrt(c_hard / c_soft * e * np.log(1.0 / e)))


def crossover_eps(gamma, *, c_soft: float = 1.0, c_hard: float = 1.0, branch: int = -1):
    r"""The accuracy ε at which the soft and hard orders are equal, for a margin γ.

    With :math:`s=(C_{soft}/C_{hard})\gamma^2`, the equality is
    :math:`\varepsilon\ln(1/\varepsilon)=s`; writing :math:`\varepsilon=e^{-u}` gives
    :math:`-u\,e^{-u}=-s`, so :math:`-u=W_k(-s)` and (derived here)

    .. math:: \varepsilon_\times(\gamma)=\exp\big(W_k(-s)\big)=\frac{-s}{W_k(-s)},

    real for :math:`s\le1/e`. :math:`\varepsilon\ln(1/\varepsilon)` rises on
    :math:`(0,1/e)` and falls on :math:`(1/e,1)`, so there are two roots:
    ``branch=-1`` (:math:`W_{-1}`, default) gives the small one, :math:`\varepsilon<1/e`,
    below which the hard order (logarithmic in 1/ε) wins again; ``branch=0`` gives the
    root in :math:`(1/e,1)`. Soft needs fewer neurons for ε between the two roots. For
    :math:`s>1/e` the orders never meet (hard is smaller for every ε) and the result is
    NaN. Uses ``scipy.special.lambertw``.
    """
    c_soft = as_real(c_soft, "c_soft", low=0.0, low_open=True)
    c_hard = as_real(c_hard, "c_hard", low=0.0, low_open=True)
    branch = as_int(branch, "branch")
    if branch not in (0, -1):
        raise ValueError(f"branch must be 0 or -1 (the real branches of Lambert W), got {branch}")
    g = _as_gamma(gamma)
    s = c_soft / c_hard * g ** 2
    with np.errstate(invalid="ignore"):
        w = scipy.special.lambertw(-s, k=branch)
    real = (s <= np.exp(-1.0)) & np.isfinite(w.real)
    out = np.where(real, np.exp(np.where(real, w.real, 0.0)), np.nan)
    return _scalar(out)
