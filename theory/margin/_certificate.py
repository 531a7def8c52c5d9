r"""The KKT certificate of a hard-margin QP (one class for every max-margin problem)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory._validation import as_real, as_real_array, as_tolerance

__all__ = ["ACTIVE_SLACK", "ACCEPT_KKT_TOL", "DEFAULT_KKT_TOL", "KKTCertificate", "kkt_certificate"]

#: Constraints whose slack (margin minus 1) is below this are treated as active when
#: polishing a solver's point (paper, Sec. 'Numerics and solvers': "slack below ~1e-6").
ACTIVE_SLACK = 1e-6

#: Default tolerance of :meth:`KKTCertificate.check` (relative residuals; see there).
DEFAULT_KKT_TOL = 1e-8

#: A solver's answer is returned only if every scaled KKT residual is at most this
#: (an unpolished interior-point point at Clarabel's 1e-12 settings has residuals
#: ~1e-8..1e-7; a polished one ~1e-14). Anything worse is retried or refused.
ACCEPT_KKT_TOL = 1e-6


@dataclass(frozen=True)
class KKTCertificate:
    r"""KKT residuals of a hard-margin (max-margin) QP solution.

    For :math:`\min\tfrac12\|W\|^2` s.t. :math:`\langle A_i,W\rangle\ge1` (margin
    constraints) and :math:`\langle B_k,W\rangle=0` (equalities), a point W with
    multipliers :math:`\lambda\ge0`, :math:`\beta` is optimal iff

    .. math::

        \langle B_k,W\rangle=0,\quad \langle A_i,W\rangle\ge1,\quad \lambda\ge0,\quad
        \lambda_i(\langle A_i,W\rangle-1)=0,\quad W=\sum_i\lambda_iA_i+\sum_k\beta_kB_k.

    Every residual below is invariant under rescaling the data
    (:math:`A\to sA`, :math:`W\to W/s`, :math:`\lambda\to\lambda/s^2`) except through
    ``multiplier_scale`` and ``equality_scale``, which are floored at 1.

    Attributes
    ----------
    primal_equality : float
        Largest equality residual :math:`|\langle B_k,W\rangle|` (0 if there are no
        equalities). For the NTP-SVM: the largest spread of in-support logits of one
        context.
    primal_inequality : float
        Largest margin violation :math:`\max(0,\max_i 1-\langle A_i,W\rangle)`, in margin
        units (the margin constraint's right-hand side is 1).
    dual_sign : float
        Smallest inequality multiplier :math:`\min_i\lambda_i` (should be :math:`\ge0`).
    complementarity : float
        :math:`\max_i|\lambda_i(\langle A_i,W\rangle-1)|`.
    stationarity : float
        :math:`\|W-\sum\lambda_iA_i-\sum\beta_kB_k\|_F/\|W\|_F`.
    duality_gap : float
        :math:`|P-D|/P` with :math:`P=\tfrac12\|W\|^2` and dual value
        :math:`D=\sum\lambda_i-\tfrac12\|\sum\lambda_iA_i+\sum\beta_kB_k\|^2`.
    multiplier_scale : float
        :math:`\max(1,\max_i\lambda_i)`, used to make ``dual_sign`` and
        ``complementarity`` relative.
    equality_scale : float
        :math:`\max(1,\max|\text{logit}|)`, used to make ``primal_equality`` relative.

    Notes
    -----
    :meth:`residuals` gives the scaled, nonnegative residuals that :meth:`check`
    compares with a tolerance.
    """

    primal_equality: float
    primal_inequality: float
    dual_sign: float
    complementarity: float
    stationarity: float
    duality_gap: float
    multiplier_scale: float = 1.0
    equality_scale: float = 1.0

    def residuals(self) -> dict[str, float]:
        """Scaled nonnegative residuals, keyed by KKT condition (NaN stays NaN)."""
        return {
            "primal_equality": float(self.primal_equality / self.equality_scale),
            "primal_inequality": float(max(self.primal_inequality, 0.0)) if self.primal_inequality == self.primal_inequality else float("nan"),
            "dual_sign": float(max(-self.dual_sign, 0.0) / self.multiplier_scale) if self.dual_sign == self.dual_sign else float("nan"),
            "complementarity": float(self.complementarity / self.multiplier_scale),
            "stationarity": float(self.stationarity),
            "duality_gap": float(self.duality_gap),
        }

    def failures(self, tol: float = DEFAULT_KKT_TOL) -> tuple[str, ...]:
        """Names of the conditions whose scaled residual exceeds ``tol`` (or is NaN)."""
        tol = as_tolerance(tol, "tol")
        return tuple(k for k, v in self.residuals().items() if not v <= tol)

    def check(self, tol: float = DEFAULT_KKT_TOL) -> bool:
        """True if every scaled residual (see :meth:`residuals`) is at most ``tol``."""
        return not self.failures(tol)

    @property
    def ok(self) -> bool:
        """``check(DEFAULT_KKT_TOL)``."""
        return self.check(DEFAULT_KKT_TOL)

    @property
    def max_residual(self) -> float:
        """Largest scaled residual."""
        return max(self.residuals().values())

    def describe(self) -> str:
        """The scaled residuals as one line of text (for error messages)."""
        return ", ".join(f"{k} {v:.2e}" for k, v in self.residuals().items())


def kkt_certificate(
    margins: np.ndarray,
    multipliers: np.ndarray,
    w: np.ndarray,
    combination: np.ndarray,
    *,
    equality_residual: float = 0.0,
    equality_scale: float = 1.0,
) -> KKTCertificate:
    r"""KKT certificate from the margins, the multipliers, W and the generator combination.

    Parameters
    ----------
    margins : ndarray, shape (n,)
        :math:`\langle A_i,W\rangle` of the inequality rows.
    multipliers : ndarray, shape (n,)
        :math:`\lambda_i`.
    w : ndarray, any shape (p entries)
        The primal point W.
    combination : ndarray, same shape as ``w``
        :math:`\sum_i\lambda_iA_i+\sum_k\beta_kB_k`.
    equality_residual, equality_scale : float
        :math:`\max_k|\langle B_k,W\rangle|` and the scale it is divided by.

    Returns
    -------
    KKTCertificate

    Raises
    ------
    TypeError, ValueError
        Non-numeric or non-finite input, ``margins`` and ``multipliers`` of different
        shapes, ``combination`` not of the shape of ``w``, a negative
        ``equality_residual`` or a nonpositive ``equality_scale``.
    """
    margins = as_real_array(margins, "margins", ndim=1, nonempty=False, copy=False)
    lam = as_real_array(multipliers, "multipliers", nonempty=False, copy=False)
    if lam.shape != margins.shape:
        raise ValueError(f"margins and multipliers must have the same shape (n,), got {margins.shape} and {lam.shape}")
    w = as_real_array(w, "w", copy=False)
    combination = as_real_array(combination, "combination", nonempty=False, copy=False)
    if combination.shape != w.shape:
        raise ValueError(f"combination must have the shape of w, {w.shape}, got {combination.shape}")
    equality_residual = as_real(equality_residual, "equality_residual", low=0.0)
    equality_scale = as_real(equality_scale, "equality_scale", low=0.0, low_open=True)
    nW = float(np.linalg.norm(w))
    slack = margins - 1.0
    primal = 0.5 * nW**2
    dual = float(np.sum(lam)) - 0.5 * float(np.sum(combination * combination))
    return KKTCertificate(
        primal_equality=float(equality_residual),
        primal_inequality=float(max(0.0, -float(slack.min()))) if slack.size else 0.0,
        dual_sign=float(lam.min()) if lam.size else 0.0,
        complementarity=float(np.max(np.abs(lam * slack))) if lam.size else 0.0,
        stationarity=float(np.linalg.norm(w - combination) / max(nW, np.finfo(float).tiny)),
        duality_gap=float(abs(primal - dual) / max(primal, np.finfo(float).tiny)),
        multiplier_scale=float(max(1.0, float(lam.max()) if lam.size else 0.0)),
        equality_scale=float(equality_scale),
    )
