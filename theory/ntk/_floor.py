r"""The approximation floor of soft-label training at width m (check S.8, last bullet).

Trained to convergence on the soft targets :math:`p_i=\sigma(g(x_i))` of a teacher g, a
width-m student keeps a loss :math:`L_\infty(m)=\min_WL_{soft}(W)`: its approximation
floor. This module gives the floor of the lazy (random-feature) student and the width it
implies.

**The random-feature student** (derived here). Linearised at :math:`W_0`, the [JT20]
net is :math:`f(x;W_0+\Delta)=f(x;W_0)+\sum_s\langle\Delta_s,\phi_s(x)\rangle` with
features :math:`\phi_s(x)=a_s1[\langle w_s(0),x\rangle>0]\,x/\sqrt m`; their kernel
:math:`\sum_s\langle\phi_s(x),\phi_s(x')\rangle\to K_1(x,x')` as :math:`m\to\infty`.
Let the teacher be the kernel max-margin function
:math:`g(x)=\sum_ic_iK_1(x_i,x)` of RKHS norm :math:`\|g\|_{K_1}=1/\gamma_2`. Then
:math:`g(x)=\mathbb E_z\langle\bar v(z),x\rangle1[\langle z,x\rangle>0]` with
:math:`\bar v(z)=\sum_ic_ix_i1[\langle z,x_i\rangle>0]` and
:math:`\mathbb E_z\|\bar v(z)\|^2=c^\top K_1c=1/\gamma_2^2` exactly. The choice
:math:`\Delta_s=-w_s(0)+a_s\bar v(w_s(0))/\sqrt m` (which also cancels
:math:`f(\cdot;W_0)=\sum_s\langle w_s(0),\phi_s\rangle`) gives the Monte-Carlo average
:math:`f(x)=\frac1m\sum_s\langle\bar v(w_s(0)),x\rangle1[\langle w_s(0),x\rangle>0]` of
m i.i.d. terms of mean g(x), so

.. math::

    \mathbb E_{W_0}\big[(f(x)-g(x))^2\big]\le\frac{\mathbb E_z\|\bar v(z)\|^2\|x\|^2}{m_{eff}}
    \le\frac{\|x\|^2}{\gamma_2^2\,m_{eff}},

with :math:`m_{eff}=m` (standard initialisation) or :math:`m/2` (coupled: the m/2 pairs
share their directions). The binary KL is the Bregman divergence of softplus in the
logit, :math:`\mathrm{KL}(\sigma(g)\|\sigma(f))=\int_g^f(\sigma(u)-\sigma(g))\,du\le(f-g)^2/8`
(:math:`\sigma'\le1/4`). Hence the **upper bound** on the expected floor of the
random-feature student

.. math::

    \mathbb E_{W_0}\big[L^{RF}_\infty(m)\big]\le\frac{\max_i\|x_i\|^2}{8\,\gamma_2^2\,m_{eff}}
    \quad\Longrightarrow\quad
    m^*_{RF}(\varepsilon)\le\frac{\max_i\|x_i\|^2}{8\,\gamma_2^2\,\varepsilon}\ (\times2\ \text{coupled}),

:func:`soft_floor_bound` and :func:`soft_floor_neurons`. It holds on any training set
(in expectation over :math:`W_0`), for every n.

**What is a prediction, not a bound.** (i) The trained network is not its linearisation:
its converged floor is measured (:func:`sims.twolayer.converge`), and the bound is not
proven for it. (ii) The Monte-Carlo choice of Δ is one feasible point; the optimal
random-feature fit can fall faster than 1/m when g is smooth relative to the features
(in low dimension: d = 2 reduces the net to a function of one angle). The scaling
:math:`L_\infty(m)\propto1/(\gamma_2^2m)`, i.e. log-log slopes 1 in 1/m and 2 in
:math:`1/\gamma_2`, and :math:`m^*\propto1/(\gamma^2\varepsilon)`, is check S.8's
prediction for the floor "once optimisation error is negligible" ([M25]'s order), not a
theorem about the network. (iii) A floor measured on n training points
is an approximation floor only when :math:`n\gg md` (m d parameters interpolate n
generic targets otherwise, floor 0), and on data whose γ is set by a gap, not by n.
"""

from __future__ import annotations

import numpy as np

from theory._validation import as_choice, as_real, as_real_array

__all__ = ["soft_floor_bound", "soft_floor_neurons", "FLOOR_INITS"]

#: Initialisations and the number of independent directions among m units.
FLOOR_INITS = ("standard", "coupled")


def _effective(init: str) -> float:
    return 1.0 if as_choice(init, "init", FLOOR_INITS) == "standard" else 0.5


def _positive(value, name: str) -> np.ndarray:
    v = as_real_array(value, name, copy=False)
    if np.any(v <= 0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return v


def _scalar(x):
    return float(x) if np.ndim(x) == 0 else x


def soft_floor_bound(gamma2, width, *, init: str = "standard", input_norm: float = 1.0):
    r"""Upper bound :math:`\|x\|^2_{max}/(8\gamma_2^2m_{eff})` on the expected soft floor of the random-feature student.

    Parameters
    ----------
    gamma2 : float or array_like, > 0
        Kernel margin :math:`\gamma_2` (the teacher's RKHS norm is :math:`1/\gamma_2`).
    width : float or array_like, > 0
        m (broadcast against ``gamma2``).
    init : {"standard", "coupled"}
        :math:`m_{eff}=m` or m/2 (module doc).
    input_norm : float in (0, 1]
        :math:`\max_i\|x_i\|`.

    Returns
    -------
    float or ndarray
        The bound on :math:`\mathbb E_{W_0}\min_\Delta L^{RF}_{soft}` (module doc, derived).
    """
    g = _positive(gamma2, "gamma2")
    m = _positive(width, "width")
    r = as_real(input_norm, "input_norm", low=0.0, high=1.0, low_open=True)
    return _scalar(r ** 2 / (8.0 * g ** 2 * m * _effective(init)))


def soft_floor_neurons(gamma2, eps, *, init: str = "standard", input_norm: float = 1.0):
    r"""Width at which :func:`soft_floor_bound` equals ε: :math:`\|x\|^2_{max}/(8\gamma_2^2\varepsilon)` (x2 coupled).

    An upper bound on the random-feature student's :math:`m^*(\varepsilon)` in expectation
    (module doc); the order :math:`1/(\gamma^2\varepsilon)` of [M25].

    Parameters
    ----------
    gamma2 : float or array_like, > 0
    eps : float or array_like in (0, 1)
    init : {"standard", "coupled"}
    input_norm : float in (0, 1]
    """
    g = _positive(gamma2, "gamma2")
    e = as_real_array(eps, "eps", copy=False)
    if np.any(e <= 0) or np.any(e >= 1):
        raise ValueError(f"eps must be in (0, 1), got {eps!r}")
    r = as_real(input_norm, "input_norm", low=0.0, high=1.0, low_open=True)
    return _scalar(r ** 2 / (8.0 * g ** 2 * e * _effective(init)))
