r"""Second-order term of GD on NTP data: :math:`W_k=W^\star+\log(k)\,W^{mm}+\tilde W+o(1)`.

[T24] Thm 2 gives the first two terms of the GD iterates on NTP-separable, NTP-compatible
data: :math:`P_F(W_k)\to W^\star` and :math:`P_\perp(W_k)/\log k\to W^{mm}`. This module
implements the next term, the NTP analogue of Soudry et al.'s :math:`\tilde w` ([S18] Thm
3; :func:`theory.maxmargin.multiclass_w_tilde` is the one-hot case). The derivation is in
``paper/sections/ntp_w_tilde.tex`` (section "Beyond the paper" of ``paper/main.tex``)
(derived here: this package; not in [T24]); in short:

* Off-support probabilities of the active pairs decay like :math:`1/k` with a known
  constant,

  .. math:: k\,\eta\,\hat\pi_j\,\mathbb S_v(W_k\bar h_j)\to\lambda_{jv}\qquad
            ((j,v)\ \text{active}),

  with :math:`\lambda_{jv}` the NTP-SVM multipliers (:attr:`NTPMaxMarginResult.ineq_multipliers`).
  Equivalently, with generators :math:`g_{jv}=(e_{z_j}-e_v)\bar h_j^\top` and
  :math:`A_{jv}=P_\perp g_{jv}`, the limit :math:`\tilde W\in F^\perp` satisfies

  .. math:: \langle\tilde W,A_{jv}\rangle=\log\frac{\eta\hat\pi_j}{\lambda_{jv}}+u_{jv},
            \qquad u_{jv}=(W^\star\bar h_j)_v-\operatorname{lse}_{z\in\mathcal S_j}(W^\star\bar h_j)_z,

  which fixes the component :math:`\tilde W_{\mathcal A}` of :math:`\tilde W` in
  :math:`\mathcal A=\mathrm{span}\{A_{jv}:(j,v)\ \text{active}\}`.
* GD never moves the component of :math:`W_0` outside
  :math:`\mathcal G=(I-\tfrac1V\mathbf 1\mathbf 1^\top)\,\mathbb R^{V\times d}\,P_H`
  (centred columns, rows in the span of the embeddings); it is part of :math:`\tilde W`.
* The rest of :math:`\tilde W`, in :math:`(\mathcal G\cap F^\perp)\ominus\mathcal A`
  (dimension :attr:`NTPSecondOrder.free_dim`), is fixed by the summed gradients of the
  non-active pairs along the whole trajectory: a finite limit, but no closed form. It is
  zero-dimensional exactly when the active generators span :math:`\mathcal G\cap F^\perp`
  (:attr:`NTPSecondOrder.spanning`), the analogue of [S18]'s "support vectors span the
  data"; orthonormal embeddings always qualify (every margin is active).
* The finite part carries a :math:`1/k` correction: :math:`P_F(W_k)=W^\star+E/k+o(1/k)`
  (:attr:`NTPSecondOrder.finite_correction`), the quasi-static balance between the
  curvature of CE on F and the push of the active pairs; it is reached after
  :math:`\sim1/(\eta\mu_F)` steps.
* Linearising the dynamics in :math:`\tau=\log k` gives the rate at which the
  :math:`\mathcal A`-component converges: :math:`k^{-\nu}` with

  .. math:: \nu=\min\Big(1,\ \kappa_{\min}-1,\ \mu_{\min}\big(\Lambda^{1/2}\Gamma\Lambda^{1/2}\big)\Big),

  :math:`\kappa_{\min}` the smallest margin of :math:`W^{mm}` among non-active pairs,
  :math:`\Gamma_{ab}=\langle A_a,A_b\rangle` and :math:`\Lambda=\mathrm{diag}(\lambda)`.
  Generic random instances have :math:`\kappa_{\min}` barely above 1 and tiny multipliers,
  so :math:`\nu` can be ~1e-3: the second-order term is then invisible at any practical
  horizon even though it exists.
* Resonance: :math:`\Gamma\Lambda` always has the eigenvalue 1 (eigenvector
  :math:`\mathbf 1`, since :math:`\Gamma\lambda=\mathbf 1`: a shift of :math:`\log k`), and
  the :math:`1/k` forcing (discretisation, off-support mass, :math:`E/k`) has rate 1. So when
  :math:`\nu=1` (and more generally when a forcing rate :math:`\kappa_{jv}-1` equals an
  eigenvalue :math:`\nu` of :math:`\Gamma\Lambda`) the remainder is
  :math:`k^{-\nu}(c_1\log k+c_0)`: :attr:`NTPSecondOrder.log_power` = 1 and
  :math:`c_1` = :attr:`NTPSecondOrder.log_coefficient` (paper, Sec. 'Resonance: when a log k factor appears').

Conditions (checked; :class:`ValueError` otherwise): NTP-compatible and NTP-separable data;
strict complementarity (every tight pair has :math:`\lambda_{jv}>0`); linearly independent
active generators :math:`A_{jv}` (both hold for almost every embedding).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.integrate
import scipy.linalg

from theory._validation import as_real, as_real_array
from theory.ntp import DataSubspace, NTPData, data_subspace, finite_component
from theory.ntp_svm import NTPMaxMarginResult, max_margin_direction

__all__ = ["NTPSecondOrder", "ntp_w_tilde", "quasi_static_correction"]

#: Multipliers below this fraction of the largest count as zero (strict complementarity test).
MULTIPLIER_TOL = 1e-9
#: Largest stack of active generators materialised (entries n_active * V * d).
MAX_ENTRIES = 60_000_000
#: Two decay exponents closer than this count as equal (resonance): the exponents come from
#: the NTP-SVM margins and multipliers, solved to ~1e-8 relative (Clarabel / the dual solver).
RESONANCE_TOL = 1e-6


def _lse_rows(L: np.ndarray, mask: np.ndarray) -> np.ndarray:
    Lm = np.where(mask, L, -np.inf)
    mx = Lm.max(axis=1)
    return mx + np.log(np.sum(np.exp(Lm - mx[:, None]), axis=1))


@dataclass(frozen=True, eq=False)
class NTPSecondOrder:
    r"""Result of :func:`ntp_w_tilde`: :math:`\tilde W`, its ingredients and diagnostics.

    Attributes
    ----------
    W_tilde : ndarray, shape (V, d)
        ``determined + from_init``. Equal to :math:`\lim_k(W_k-W^\star-\log(k)W^{mm})` when
        :attr:`spanning`; otherwise that limit also has a trajectory-dependent part in a
        subspace of dimension :attr:`free_dim`.
    determined : ndarray, shape (V, d)
        :math:`\tilde W_{\mathcal A}`, the minimum-norm solution in
        :math:`\mathcal A` of the active-pair equations.
    from_init : ndarray, shape (V, d)
        Component of :math:`W_0` outside :math:`\mathcal G` (GD never moves it).
    W_star, W_mm : ndarray, shape (V, d)
        :math:`W^\star` ([T24] eq. 4) and :math:`W^{mm}` ([T24] Def. 3).
    active : ndarray of int, shape (n_active, 2)
        Active pairs (j, v), :math:`v\notin\mathcal S_j`.
    multipliers : ndarray, shape (n_active,)
        :math:`\lambda_{jv}>0` of the active pairs.
    offsets : ndarray, shape (n_active,)
        Right-hand sides :math:`b_{jv}=\log(\eta\hat\pi_j/\lambda_{jv})+u_{jv}`.
    lr : float
        GD step size :math:`\eta` on the :math:`\hat\pi`-weighted loss of :mod:`sims.gd`.
    spanning : bool
        Whether the active generators span :math:`\mathcal G\cap F^\perp`.
    moving_dim : int
        :math:`\dim(\mathcal G\cap F^\perp)=(V-1)\,\mathrm{rank}(H)-\dim F`.
    free_dim : int
        ``moving_dim - n_active``.
    kappa_min : float
        Smallest :math:`W^{mm}` margin among non-active off-support pairs (``inf`` if none).
    restoring_min : float
        :math:`\mu_{\min}(\Lambda^{1/2}\Gamma\Lambda^{1/2})`.
    rate_exponent : float
        :math:`\nu=\min(1,\kappa_{\min}-1,\mu_{\min})`.
    equation_residual : float
        :math:`\max_a|\eta\hat\pi_j e^{u_a-\langle\tilde W,A_a\rangle}/\lambda_a-1|`.
    finite_correction : ndarray, shape (V, d), or None
        :math:`E` in :math:`P_F(W_k)=W^\star+E/k+o(1/k)`:
        :math:`E=\eta^{-1}\mathcal H_F^{-1}P_F\sum_a\lambda_a(\hat p_j-e_v)\bar h_j^\top` with
        :math:`\mathcal H_F` the Hessian of CE at :math:`W^\star` restricted to F (None when
        F's basis is too large to materialise).
    finite_curvature : float
        :math:`\mu_F=\lambda_{\min}(\mathcal H_F)`; :math:`P_F(W_k)` relaxes to its
        :math:`E/k` regime on the time scale :math:`1/(\eta\mu_F)` (NaN if not computed).
    log_power : int
        1 when the slowest rate :math:`\nu` is resonant (an eigenvalue of
        :math:`\Gamma\Lambda` equal to a forcing rate, with a forcing component on its
        eigenspace), 0 otherwise: :attr:`determined_residual` behaves like
        :math:`k^{-\nu}(\log k)^p`.
    log_coefficient : float
        :math:`c_1=\|P_\nu h_\nu\|_{\Gamma^{-1}}` with :math:`h_\nu` the forcing of rate
        :math:`\nu` and :math:`P_\nu` the spectral projector of :math:`\Gamma\Lambda` on the
        eigenvalue :math:`\nu`: :math:`k^{\nu}\,\|\text{determined residual}\|` grows by
        :math:`c_1` per unit of :math:`\log k` (0 when ``log_power`` is 0; NaN when E is not
        computed and :math:`\nu=1`).
    solver : str
        Solver of :math:`W^{mm}`.
    """

    W_tilde: np.ndarray
    determined: np.ndarray
    from_init: np.ndarray
    W_star: np.ndarray
    W_mm: np.ndarray
    active: np.ndarray
    multipliers: np.ndarray
    offsets: np.ndarray
    lr: float
    spanning: bool
    moving_dim: int
    free_dim: int
    kappa_min: float
    restoring_min: float
    rate_exponent: float
    equation_residual: float
    finite_correction: np.ndarray | None
    finite_curvature: float
    solver: str
    log_power: int = 0
    log_coefficient: float = 0.0
    _A: np.ndarray = field(default=None, repr=False)
    _gram: np.ndarray = field(default=None, repr=False)
    _chol: Any = field(default=None, repr=False)
    _H: np.ndarray = field(default=None, repr=False)
    _pi: np.ndarray = field(default=None, repr=False)

    @property
    def n_active(self) -> int:
        return int(self.active.shape[0])

    def _stack(self, W: Any, k: Any) -> tuple[np.ndarray, np.ndarray, bool]:
        W = as_real_array(W, "W")
        single = W.ndim == 2
        W = W[None] if single else W
        if W.ndim != 3 or W.shape[1:] != self.W_mm.shape:
            raise ValueError(f"W must have shape {self.W_mm.shape} or (n, *{self.W_mm.shape}), got {W.shape}")
        k = np.atleast_1d(as_real_array(k, "k", finite=False))
        if k.shape != (W.shape[0],) or not np.all(np.isfinite(k)) or np.any(k < 1):
            raise ValueError(f"k must hold {W.shape[0]} finite iteration counts >= 1, got {k!r}")
        return W, k, single

    def active_deviation(self, W: Any, k: Any) -> np.ndarray:
        r""":math:`\langle W_k,A_a\rangle-\log k-b_a` for the active pairs (-> 0).

        Parameters
        ----------
        W : array_like, shape (V, d) or (n, V, d)
        k : float or array_like, shape (n,)
            Iteration counts (>= 1).

        Returns
        -------
        ndarray, shape (n_active,) or (n, n_active)
        """
        W, k, single = self._stack(W, k)
        dev = W.reshape(W.shape[0], -1) @ self._A.T - np.log(k)[:, None] - self.offsets[None, :]
        return dev[0] if single else dev

    def predict_deviation(self, deviation: Any, k_from: float, k_to: float) -> np.ndarray:
        r"""Evolve active-pair deviations by the reduced log-time dynamics (``paper/sections/ntp_w_tilde.tex``).

        With :math:`\tau=\log k` and :math:`\delta_a` the :meth:`active_deviation`,

        .. math:: \frac{d\delta}{d\tau}=\Gamma\Lambda\,(e^{-\delta}-\mathbf 1),

        i.e. GD restricted to the active pairs once :math:`P_F W_k=W^\star` and the
        non-active pairs are negligible; linearised, :math:`\delta\sim e^{-\Gamma\Lambda\tau}`,
        hence :attr:`rate_exponent`. Integrated with ``scipy.integrate.solve_ivp`` (LSODA,
        rtol 1e-10, atol 1e-10 max|deviation|).

        Parameters
        ----------
        deviation : array_like, shape (n_active,)
            :math:`\delta` at iteration ``k_from``.
        k_from, k_to : float
            Iteration counts, ``1 <= k_from <= k_to``.

        Returns
        -------
        ndarray, shape (n_active,)
        """
        dev = as_real_array(deviation, "deviation", nonempty=False)
        if dev.shape != (self.n_active,):
            raise ValueError(f"deviation must have shape ({self.n_active},), got {dev.shape}")
        k_from = as_real(k_from, "k_from", low=1)
        k_to = as_real(k_to, "k_to", low=1)
        if not k_from <= k_to:
            raise ValueError(f"need 1 <= k_from <= k_to < inf, got k_from={k_from!r}, k_to={k_to!r}")
        gram = self._gram
        lam = self.multipliers
        sol = scipy.integrate.solve_ivp(
            lambda _t, x: gram @ (lam * np.expm1(-x)), (np.log(k_from), np.log(k_to)), dev,
            method="LSODA", rtol=1e-10, atol=1e-10 * max(float(np.abs(dev).max()), 1e-300),
        )
        if not sol.success:  # pragma: no cover - LSODA on a smooth, contracting system
            raise RuntimeError(f"solve_ivp failed: {sol.message}")
        return sol.y[:, -1]

    def determined_residual(self, W: Any, k: Any) -> np.ndarray | float:
        r""":math:`\|P_{\mathcal A}(W_k-W^\star-\log(k)W^{mm})-\tilde W_{\mathcal A}\|_F`.

        Computed as :math:`\sqrt{\delta^\top\Gamma^{-1}\delta}` with :math:`\delta` from
        :meth:`active_deviation`. Decays like :math:`k^{-\nu}` (:attr:`rate_exponent`).
        """
        dev = np.atleast_2d(self.active_deviation(W, k))
        sol = scipy.linalg.cho_solve(self._chol, dev.T)
        out = np.sqrt(np.maximum(np.sum(dev.T * sol, axis=0), 0.0))
        return float(out[0]) if np.ndim(W) == 2 else out

    def residual(self, W: Any, k: Any) -> np.ndarray | float:
        r""":math:`\|W_k-W^\star-\log(k)W^{mm}-\tilde W\|_F` (-> 0 when :attr:`spanning`)."""
        Ws, kk, single = self._stack(W, k)
        R = Ws - self.W_star - np.log(kk)[:, None, None] * self.W_mm - self.W_tilde
        out = np.linalg.norm(R.reshape(R.shape[0], -1), axis=1)
        return float(out[0]) if single else out

    def mass_ratio(self, W: Any, k: Any) -> np.ndarray:
        r""":math:`k\,\eta\,\hat\pi_j\,\mathbb S_v(W_k\bar h_j)/\lambda_{jv}` of the active pairs (-> 1).

        Returns
        -------
        ndarray, shape (n_active,) or (n, n_active)
        """
        Ws, kk, single = self._stack(W, k)
        j, v = self.active[:, 0], self.active[:, 1]
        out = np.empty((Ws.shape[0], self.n_active))
        for i, Wi in enumerate(Ws):
            L = self._H @ Wi.T
            logs = L[j, v] - _lse_rows(L, np.ones_like(L, dtype=bool))[j]
            out[i] = np.exp(np.log(kk[i] * self.lr * self._pi[j] / self.multipliers) + logs)
        return out[0] if single else out


def _finite_hessian(data: NTPData, sub: DataSubspace) -> tuple[np.ndarray, np.ndarray] | None:
    """``(Q, H_F)``: F's orthonormal basis as rows (dim, V*d) and the CE Hessian at W* on F
    (None if F's basis is too large to materialise)."""
    V, d = data.V, data.d
    try:
        Q = sub.basis.reshape(sub.dim, V * d)
    except ValueError:
        return None
    # Hessian of CE at W*: sum_j pi_j (diag p_j - p_j p_j^T) (x) h_j h_j^T, applied to the basis
    B = Q.reshape(sub.dim, V, d)
    L = np.einsum("kvd,md->kmv", B, data.H)  # logits of each basis matrix, (dim, m, V)
    P = data.P[None]
    R = data.pi[None, :, None] * (P * L - P * np.sum(P * L, axis=2, keepdims=True))
    HQ = np.einsum("kmv,md->kvd", R, data.H).reshape(sub.dim, V * d)
    HF = Q @ HQ.T
    return Q, 0.5 * (HF + HF.T)


def _finite_correction(data: NTPData, sub: DataSubspace, j: np.ndarray, v: np.ndarray, lam: np.ndarray,
                       lr: float) -> tuple[np.ndarray | None, float]:
    """E and mu_F (see NTPSecondOrder); (None, nan) if F's basis is too large or F = {0}."""
    V, d = data.V, data.d
    if sub.dim == 0:
        return np.zeros((V, d)), np.nan
    got = _finite_hessian(data, sub)
    if got is None:
        return None, np.nan
    Q, HF = got
    push = np.einsum("a,av,ad->vd", lam, data.P[j] - np.eye(V)[v], data.H[j])
    c = scipy.linalg.solve(HF, Q @ push.ravel(), assume_a="pos")
    mu_F = float(np.linalg.eigvalsh(HF)[0])
    return (Q.T @ c).reshape(V, d) / lr, mu_F


def quasi_static_correction(data: NTPData, W: Any, k: Any, *, subspace: DataSubspace | None = None) -> np.ndarray:
    r"""The 1/k correction of the finite part at the current off-support masses.

    The F-part of the GD step balances the curvature of CE on F against the push of every
    off-support pair at its current mass (paper, Sec. 'The quasi-static balance at the current masses'):

    .. math:: k\,(P_FW_k-W^\star)\approx E(W_k)=k\,\mathcal H_F^{-1}P_F\sum_j\hat\pi_j
              \sum_{v\notin\mathcal S_j}\mathbb S_v(W_k\bar h_j)\,(\hat p_j-e_v)\bar h_j^\top,

    up to the quasi-static lag, relative :math:`O(1/(\eta\mu_Fk))`, and terms second order in
    :math:`P_FW_k-W^\star` and the off-support mass. With the limit masses
    :math:`k\eta\hat\pi_j\mathbb S_v\to\lambda_{jv}` (active pairs; the others vanish) it tends
    to :attr:`NTPSecondOrder.finite_correction`; the difference is first order in the mass
    deviations, which on generic instances converge only like :math:`k^{-\nu}`.

    Parameters
    ----------
    data : NTPData
        NTP-compatible data.
    W : array_like, shape (V, d) or (n, V, d)
        Iterates.
    k : float or array_like, shape (n,)
        Their iteration counts (>= 1).
    subspace : DataSubspace, optional
        Precomputed :func:`theory.ntp.data_subspace`.

    Returns
    -------
    ndarray, shape (V, d) or (n, V, d)

    Raises
    ------
    ValueError
        Bad shapes or counts; F's basis too large to materialise.
    """
    if not isinstance(data, NTPData):
        raise TypeError(f"data must be a theory.ntp.NTPData, got {type(data).__name__}")
    V, d = data.V, data.d
    Ws = as_real_array(W, "W")
    single = Ws.ndim == 2
    Ws = Ws[None] if single else Ws
    if Ws.ndim != 3 or Ws.shape[1:] != (V, d):
        raise ValueError(f"W must have shape {(V, d)} or (n, {V}, {d}), got {Ws.shape}")
    kk = np.atleast_1d(as_real_array(k, "k", finite=False))
    if kk.shape != (Ws.shape[0],) or not np.all(np.isfinite(kk)) or np.any(kk < 1):
        raise ValueError(f"k must hold {Ws.shape[0]} finite iteration counts >= 1, got {k!r}")
    if subspace is not None and (not isinstance(subspace, DataSubspace) or subspace.shape != (V, d)):
        raise TypeError(f"subspace must be a DataSubspace of shape {(V, d)} built from data, got {subspace!r:.80}")
    sub = data_subspace(data) if subspace is None else subspace
    if sub.dim == 0:
        return np.zeros((V, d)) if single else np.zeros_like(Ws)
    got = _finite_hessian(data, sub)
    if got is None:
        raise ValueError(f"F has dimension {sub.dim} in R^({V}x{d}); its basis is too large to materialise")
    Q, HF = got
    off = data.P <= 0
    cho = scipy.linalg.cho_factor(HF)
    out = np.empty_like(Ws)
    for i, Wi in enumerate(Ws):
        L = data.H @ Wi.T
        S = np.exp(L - _lse_rows(L, np.ones_like(off))[:, None]) * off  # off-support softmax, (m, V)
        # sum_v S_v (p_j - e_v) = eps_j p_j - S_j (off-support part)
        G = data.pi[:, None] * (S.sum(axis=1, keepdims=True) * data.P - S)
        push = G.T @ data.H
        out[i] = kk[i] * (Q.T @ scipy.linalg.cho_solve(cho, Q @ push.ravel())).reshape(V, d)
    return out[0] if single else out


def _resonance(data: NTPData, sub: DataSubspace, mm: NTPMaxMarginResult, j, v, lam, A, gram, chol, lr: float,
               nu: float, u: np.ndarray, margins: np.ndarray, nonactive: np.ndarray, W_t: np.ndarray,
               E: np.ndarray | None) -> tuple[int, float]:
    r"""``(log_power, log_coefficient)`` of the rate-:math:`\nu` mode
    (paper, Sec. 'Resonance: when a log k factor appears').

    In :math:`\tau=\log k` the active deviations obey, to first order,
    :math:`d\delta/d\tau=-\Gamma\Lambda\delta+\sum_r h_r e^{-r\tau}`. The rate-1 forcing is
    :math:`g_a=\sum_b\Gamma_{ab}\lambda_b(\varphi_b-e_b)+\tfrac12` (:math:`\varphi_b` the
    first-order logit shift of :math:`E/k`, :math:`e_b` the off-support mass of context
    :math:`j_b` times k, 1/2 from :math:`\log(1+1/k)`); a non-active pair c forces at rate
    :math:`\kappa_c-1` with :math:`\eta\hat\pi_c e^{u_c-\langle\tilde W,A_c\rangle}\Gamma_{ca}`.
    An eigenvalue :math:`\nu` of :math:`\Gamma\Lambda` forced at the same rate grows the
    mode as :math:`\tau e^{-\nu\tau}` with coefficient :math:`P_\nu h_\nu`.
    """
    na = j.size
    if na == 0 or not np.isfinite(nu):
        return 0, 0.0
    M = gram * lam[None, :]
    ev, R = np.linalg.eig(M)
    on = np.abs(ev.real - nu) <= RESONANCE_TOL * max(nu, 1.0)
    if not on.any():
        return 0, 0.0
    h = np.zeros(na)
    forced = False
    if abs(nu - 1.0) <= RESONANCE_TOL:
        forced = True
        if E is None:
            return 1, float("nan")
        EH = data.H @ E.T
        phi = EH[j, v] - np.sum(data.P[j] * EH[j], axis=1)
        mass = np.bincount(j, weights=lam, minlength=data.m)[j] / (lr * data.pi[j])
        h += gram @ (lam * (phi - mass)) + 0.5
    jc, vc = np.nonzero(nonactive & (np.abs(margins - 1.0 - nu) <= RESONANCE_TOL * max(nu, 1.0)))
    if jc.size:
        forced = True
        V, d = data.V, data.d
        z = np.asarray(mm.anchors)[jc]
        Gc = np.zeros((jc.size, V, d))
        Gc[np.arange(jc.size), z, :] += data.H[jc]
        Gc[np.arange(jc.size), vc, :] -= data.H[jc]
        Ac = sub.project_orth(Gc).reshape(jc.size, V * d)
        amp = lr * data.pi[jc] * np.exp(u[jc, vc] - Ac @ W_t.ravel())
        h += (A @ Ac.T) @ amp
    if not forced:
        return 0, 0.0
    P = (R[:, on] @ np.linalg.inv(R)[on, :]).real
    a = P @ h
    c1 = float(np.sqrt(max(a @ scipy.linalg.cho_solve(chol, a), 0.0)))
    return (1, c1) if c1 > 0 else (0, 0.0)


def ntp_w_tilde(
    data: NTPData,
    lr: float,
    *,
    W0: Any = None,
    mm: NTPMaxMarginResult | None = None,
    subspace: DataSubspace | None = None,
) -> NTPSecondOrder:
    r"""The bounded correction :math:`\tilde W` of GD on NTP data (see the module docstring).

    For GD :math:`W_{k+1}=W_k-\eta\nabla\mathrm{CE}(W_k)` on the :math:`\hat\pi`-weighted
    loss (as :func:`sims.gd.run`), predicts

    .. math:: W_k=W^\star+\log(k)\,W^{mm}+\tilde W+o(1)

    with :math:`\tilde W=\tilde W_{\mathcal A}+P_{\mathcal G^\perp}W_0` (+ a
    trajectory-dependent part when not :attr:`NTPSecondOrder.spanning`). For one-hot data
    (:math:`W^\star=0`, :math:`F=\{0\}`) it reduces to
    :func:`theory.maxmargin.multiclass_w_tilde` with step :math:`\eta\hat\pi_j`.

    Parameters
    ----------
    data : NTPData
        NTP-compatible and NTP-separable data.
    lr : float
        Constant GD step size :math:`\eta>0`.
    W0 : array_like, shape (V, d), optional
        Initialisation (default 0).
    mm : NTPMaxMarginResult, optional
        A precomputed :func:`theory.ntp_svm.max_margin_direction` of the same data
        (default: computed with ``solver="dual"``).
    subspace : DataSubspace, optional
        Precomputed :func:`theory.ntp.data_subspace`.

    Returns
    -------
    NTPSecondOrder

    Raises
    ------
    ValueError
        Bad ``lr`` or ``W0``; incompatible data; strict complementarity fails; active
        generators linearly dependent; too many active generators to materialise.

    Examples
    --------
    >>> from theory.ntp import NTPData
    >>> data = NTPData.synthetic(6, 8, 4, 2, rng=0, embedding="orthonormal")
    >>> res = ntp_w_tilde(data, 0.5)
    >>> res.spanning, res.free_dim, res.equation_residual < 1e-10
    (True, 0, True)
    """
    if not isinstance(data, NTPData):
        raise TypeError(f"data must be a theory.ntp.NTPData, got {type(data).__name__}")
    lr = as_real(lr, "lr", low=0, low_open=True)
    m, d, V = data.m, data.d, data.V
    W0 = np.zeros((V, d)) if W0 is None else as_real_array(W0, "W0", shape=(V, d))
    if subspace is not None and (not isinstance(subspace, DataSubspace) or subspace.shape != (V, d)):
        raise TypeError(f"subspace must be a DataSubspace of shape {(V, d)} built from data, got {subspace!r:.80}")
    sub = data_subspace(data) if subspace is None else subspace
    fc = finite_component(data, subspace=sub)
    if not fc.compatible:
        raise ValueError(
            f"data are not NTP-compatible (log-odds residual {fc.relative_residual:.3g} relative): "
            "W* does not exist and neither does the expansion W_k = W* + log(k) W^mm + W~"
        )
    mm = max_margin_direction(data, solver="dual") if mm is None else mm
    if not isinstance(mm, NTPMaxMarginResult) or mm.W.shape != (V, d):
        raise TypeError(f"mm must be an NTPMaxMarginResult of shape {(V, d)} for these data")
    support = data.P > 0
    lam_all = np.asarray(mm.ineq_multipliers)
    pos = lam_all > MULTIPLIER_TOL * max(float(lam_all.max()), np.finfo(float).tiny)
    tight = np.zeros((m, V), dtype=bool)
    tight[mm.active[:, 0], mm.active[:, 1]] = True
    if np.any(tight & ~pos):
        n_bad = int(np.sum(tight & ~pos))
        raise ValueError(
            f"strict complementarity fails: {n_bad} tight margin constraints have a zero NTP-SVM "
            "multiplier (a degenerate, measure-zero configuration); the closed form for W~ does not apply"
        )
    j, v = np.nonzero(pos)
    na = j.size
    if na * V * d > MAX_ENTRIES:
        raise ValueError(
            f"{na} active pairs in R^({V}x{d}) need {na * V * d:,} entries (> {MAX_ENTRIES:,}); "
            "W~ is only materialised for smaller problems"
        )
    z = np.asarray(mm.anchors)[j]
    G = np.zeros((na, V, d))
    G[np.arange(na), z, :] += data.H[j]
    G[np.arange(na), v, :] -= data.H[j]
    A = sub.project_orth(G).reshape(na, V * d) if na else np.zeros((0, V * d))
    gram = A @ A.T
    chol = scipy.linalg.cho_factor(gram, lower=True) if na else None
    if na:
        ev = np.linalg.eigvalsh(gram)
        if ev[0] <= 1e-10 * ev[-1]:
            raise ValueError(
                f"the {na} active generators P_perp((e_z - e_v) h_j^T) are linearly dependent "
                f"(Gram eigenvalues {ev[0]:.3g} .. {ev[-1]:.3g}); the active-pair equations for W~ "
                "need not have a solution (not almost-every data)"
            )
    W_star = np.asarray(fc.W)
    L_star = data.H @ W_star.T
    u = L_star - _lse_rows(L_star, support)[:, None]
    lam = lam_all[j, v]
    b = np.log(lr * data.pi[j] / lam) + u[j, v]
    det = (A.T @ scipy.linalg.cho_solve(chol, b)).reshape(V, d) if na else np.zeros((V, d))
    # GD moves W only inside G = centred columns x row space of H.
    U = scipy.linalg.orth(data.H.T)
    C = np.eye(V) - 1.0 / V
    from_init = W0 - C @ W0 @ U @ U.T
    W_t = det + from_init
    moving = (V - 1) * U.shape[1] - sub.dim
    margins = mm.common_logits[:, None] - data.H @ np.asarray(mm.W).T
    nonactive = ~support & ~pos
    kappa = float(margins[nonactive].min()) if np.any(nonactive) else np.inf
    if na:
        sl = np.sqrt(lam)
        restoring = float(np.linalg.eigvalsh(sl[:, None] * gram * sl[None, :])[0])
        eq_res = float(np.max(np.abs(lr * data.pi[j] * np.exp(u[j, v] - A @ W_t.ravel()) / lam - 1.0)))
    else:
        restoring, eq_res = np.inf, 0.0
    E, mu_F = _finite_correction(data, sub, j, v, lam, lr)
    nu = float(min(1.0, kappa - 1.0, restoring))
    log_power, log_coef = _resonance(data, sub, mm, j, v, lam, A, gram, chol, lr, nu, u, margins, nonactive, W_t, E)
    for arr in (W_t, det, from_init, W_star, b, lam, A) + ((E,) if E is not None else ()):
        arr.setflags(write=False)
    return NTPSecondOrder(
        W_tilde=W_t, determined=det, from_init=from_init, W_star=W_star, W_mm=np.asarray(mm.W),
        active=np.stack([j, v], axis=1).astype(np.int64), multipliers=lam, offsets=b, lr=lr,
        spanning=bool(na == moving), moving_dim=int(moving), free_dim=int(moving - na),
        kappa_min=kappa, restoring_min=restoring, rate_exponent=nu, log_power=log_power, log_coefficient=log_coef,
        equation_residual=eq_res, finite_correction=E, finite_curvature=mu_F, solver=str(mm.solver),
        _A=A, _gram=gram, _chol=chol, _H=np.asarray(data.H),
        _pi=np.asarray(data.pi),
    )
