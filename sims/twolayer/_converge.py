r"""The converged loss of a two-layer net: a trust-region Newton solver with a certificate.

Gradient descent for a prescribed number of steps leaves an optimisation error that
hides the width (paper, Sec. 'Soft- versus hard-label training of two-layer ReLU
networks', protocol findings). :func:`converge` minimises the same training loss
(:func:`sims.twolayer.loss_and_grad`, the simulator's own loss and gradient, one
source of truth) from the same :math:`W_0` with scipy's ``trust-ncg`` and returns the
certificate with the answer.

The Hessian (derived here). The net is piecewise linear in W: with the activation
masks :math:`D_{is}=1[\langle w_s,x_i\rangle>0]` held fixed,
:math:`f_i=\langle J_i,W\rangle` with :math:`(J_i)_s=a_sD_{is}x_i/\sqrt m` (homogeneity),
so :math:`\nabla^2f_i=0` wherever no :math:`\langle w_s,x_i\rangle` is 0 (almost every
W) and the Hessian of :math:`L=\frac1n\sum_i\ell_i(f_i/\tau)` is the Gauss-Newton matrix

.. math::

    H=\frac1{n\tau^2}\sum_i\sigma(f_i/\tau)\,\sigma(-f_i/\tau)\,J_iJ_i^\top

for both losses (the second derivative of the logistic loss and of the binary KL in the
logit is :math:`\sigma\sigma(-\cdot)`; :math:`y_i^2=1`). Inside one activation cell L is
the convex loss of a random-feature model, so a point with zero gradient is the exact
minimiser of that cell's convex problem. The certificate is the gradient norm
:math:`\|\nabla L(W)\|_F` (``converged`` when it is at most ``gtol``) and the Newton
decrement :math:`\frac12 g^\top H^+g`, the second-order estimate of how much the loss
could still fall inside the cell (computed by conjugate gradients on H).

What the certificate does not give. L has kinks where a unit's activation on a sample
changes, and a minimiser often sits on one: there the gradient need not vanish, the
trust region shrinks ("A bad approximation caused failure to predict improvement") and
the decrement, computed for the quadratic model of one cell, over-states the decrease
that is still possible across the kink. The remaining decrease then lies between 0 and
the decrement; the floor returned is an upper estimate within that margin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import scipy.sparse.linalg

from sims.twolayer._model import TwoLayerParams, check_inputs, check_params
from sims.twolayer._train import loss_and_grad, outputs
from theory._validation import as_choice, as_int, as_real, as_real_array

__all__ = ["ConvergedFit", "converge", "gauss_newton_product"]


@dataclass(frozen=True)
class ConvergedFit:
    r"""A minimiser of the training loss found by :func:`converge`, with its certificate.

    Attributes
    ----------
    params : TwoLayerParams
        W (m, d) at the end and the fixed signs a (m,).
    loss : float
        :math:`L(W)` (the simulator's loss).
    initial_loss : float
        :math:`L(W_0)`.
    grad_norm : float
        :math:`\|\nabla L(W)\|_F` at the returned W.
    decrement : float
        Newton decrement :math:`\frac12g^\top H^+g` (H the Gauss-Newton Hessian of the
        cell of W): the quadratic model's estimate of the remaining decrease.
    converged : bool
        ``grad_norm <= gtol``.
    iterations : int
        Trust-region iterations.
    evaluations : int
        Loss-and-gradient evaluations.
    distance : float
        :math:`\|W-W_0\|_F`.
    message : str
        scipy's termination message.
    gtol : float
        The gradient tolerance asked for.
    """

    params: TwoLayerParams
    loss: float
    initial_loss: float
    grad_norm: float
    decrement: float
    converged: bool
    iterations: int
    evaluations: int
    distance: float
    message: str
    gtol: float


def _sigmoid_product(u: np.ndarray) -> np.ndarray:
    r""":math:`\sigma(u)\sigma(-u)`, without cancellation for large |u|."""
    return np.exp(-np.logaddexp(0.0, -u) - np.logaddexp(0.0, u))


class _Curvature:
    """Masks, scaled signs and Hessian weights at one W (recomputed when W changes)."""

    def __init__(self, X, a, temperature):
        self.X, self.a, self.tau = X, a, temperature
        self.key = None

    def at(self, W: np.ndarray):
        if self.key is None or not np.array_equal(self.key, W):
            n = self.X.shape[0]
            m = W.shape[0]
            f = outputs(TwoLayerParams(W=W, a=self.a), self.X)
            self.mask = (self.X @ W.T > 0.0).astype(np.float64)  # relu'(0) = 0, as in the kernels
            self.sa = self.a / np.sqrt(m)
            self.weight = _sigmoid_product(f / self.tau) / (n * self.tau ** 2)
            self.key = W.copy()
        return self

    def product(self, V: np.ndarray) -> np.ndarray:
        """H V for V of shape (m, d), as an (m, d) array."""
        Jv = (self.mask * (self.X @ V.T)) @ self.sa  # (n,): <J_i, V>
        return self.sa[:, None] * ((self.mask * (self.weight * Jv)[:, None]).T @ self.X)


def gauss_newton_product(params, X, V, temperature=1.0, *, normalize=False) -> np.ndarray:
    r"""The Hessian-vector product :math:`HV` of the training loss at W (module doc).

    Parameters
    ----------
    params : TwoLayerParams
        W (m, d), a (m,).
    X : array_like, shape (n, d)
        Inputs, :math:`\|x_i\|\le1` (or ``normalize``).
    V : array_like, shape (m, d)
        Direction.
    temperature : float > 0
        τ of the loss (same for hard and soft).

    Returns
    -------
    ndarray, shape (m, d)
        :math:`\frac1{n\tau^2}\sum_i\sigma\sigma(-\cdot)(f_i/\tau)\langle J_i,V\rangle J_i`, the
        exact Hessian of either loss wherever no :math:`\langle w_s,x_i\rangle` is 0.
    """
    X, _ = check_inputs(X, normalize)
    params = check_params(params, X.shape[1])
    V = as_real_array(V, "V", ndim=2)
    if V.shape != params.W.shape:
        raise ValueError(f"V must have the shape of params.W, {params.W.shape}, got {V.shape}")
    tau = as_real(temperature, "temperature", low=0.0, low_open=True)
    return _Curvature(X, params.a, tau).at(params.W).product(V)


def converge(X, targets, params, kind="soft", temperature=1.0, *, gtol=1e-10, max_iter=1000,
             normalize=False) -> ConvergedFit:
    r"""Minimise the training loss from ``params`` by trust-region Newton-CG, with a certificate.

    The loss and gradient are :func:`sims.twolayer.loss_and_grad` (the simulator's), the
    Hessian-vector products the Gauss-Newton form of the module doc (exact almost
    everywhere), and the solver scipy's ``trust-ncg`` stopped at
    :math:`\|\nabla L\|_F\le` ``gtol`` or after ``max_iter`` iterations.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, :math:`\|x_i\|\le1` (or ``normalize``).
    targets : array_like, shape (n,), or Teacher
        Labels in {-1, +1} (``kind="hard"``) or teacher probabilities in [0, 1] / a
        :class:`~sims.twolayer.Teacher` (``kind="soft"``).
    params : TwoLayerParams
        The start :math:`W_0` (m, d) and the fixed signs a (m,).
    kind : {"soft", "hard"}
    temperature : float > 0
    gtol : float > 0
        Certificate threshold on :math:`\|\nabla L(W)\|_F`.
    max_iter : int >= 1
        Trust-region iterations at most.

    Returns
    -------
    ConvergedFit
        ``converged`` says whether the gradient certificate was met.

    Examples
    --------
    >>> import numpy as np
    >>> from sims import twolayer
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((200, 3)); X /= np.linalg.norm(X, axis=1, keepdims=True)
    >>> p = 1 / (1 + np.exp(-2 * X[:, 0]))
    >>> fit = twolayer.converge(X, p, twolayer.init_two_layer(3, 8, 0, "coupled"))
    >>> bool(fit.converged and fit.loss < fit.initial_loss)
    True
    """
    X, _ = check_inputs(X, normalize)
    params = check_params(params, X.shape[1])
    kind = as_choice(kind, "kind", ("soft", "hard"))
    tau = as_real(temperature, "temperature", low=0.0, low_open=True)
    gtol = as_real(gtol, "gtol", low=0.0, low_open=True)
    max_iter = as_int(max_iter, "max_iter", low=1)
    shape = params.W.shape
    a = params.a
    loss_and_grad(params, X, targets, kind, tau)  # validates the targets once, with the simulator's messages
    curv = _Curvature(X, a, tau)
    count = [0]

    def fun(w):
        count[0] += 1
        loss, grad = loss_and_grad(TwoLayerParams(W=w.reshape(shape), a=a), X, targets, kind, tau)
        return loss, grad.ravel()

    def hessp(w, v):
        return curv.at(w.reshape(shape)).product(v.reshape(shape)).ravel()

    w0 = params.W.ravel().copy()
    initial_loss = fun(w0)[0]
    res = scipy.optimize.minimize(fun, w0, jac=True, hessp=hessp, method="trust-ncg",
                                  options={"gtol": gtol, "maxiter": max_iter})
    W = res.x.reshape(shape).copy()
    loss, grad = loss_and_grad(TwoLayerParams(W=W, a=a), X, targets, kind, tau)
    gnorm = float(np.linalg.norm(grad))
    return ConvergedFit(params=TwoLayerParams(W=W, a=a), loss=float(loss), initial_loss=float(initial_loss),
                        grad_norm=gnorm, decrement=_decrement(curv.at(W), grad), converged=gnorm <= gtol,
                        iterations=int(res.nit), evaluations=count[0],
                        distance=float(np.linalg.norm(W - params.W)), message=str(res.message), gtol=gtol)


def _decrement(curv: _Curvature, grad: np.ndarray) -> float:
    r""":math:`\frac12g^\top H^+g` by conjugate gradients (H is PSD; g lies in its range, span of the :math:`J_i`)."""
    g = grad.ravel()
    if not np.any(g):
        return 0.0
    shape = grad.shape
    op = scipy.sparse.linalg.LinearOperator((g.size, g.size), dtype=np.float64,
                                            matvec=lambda v: curv.product(v.reshape(shape)).ravel())
    step, _ = scipy.sparse.linalg.cg(op, g, rtol=1e-10, maxiter=10 * g.size)
    return float(max(0.5 * g @ step, 0.0))
