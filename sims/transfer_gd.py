r"""The four knowledge-transfer learners of [ZZ23] trained by full-batch GD on tabular logits.

A student holds one logit vector per input, ``logits`` (S, A), and outputs
:math:`\mathrm{softmax}(\theta_s)`. Its losses are those of
:mod:`theory.transfer` (``gd_loss``: weighted means, derivation and our choices in
``paper/transfer_gd.md``):

* ``ce_sgl``, ``ce_ptl``, ``ce_ful``: NTP cross-entropies with one-hot contexts
  (:func:`theory.transfer.gd_ntp_weights`), trained by the linear-softmax engine
  :func:`sims.gd.run` on data ``H`` = rows of :math:`I_S` at the seen inputs,
  ``P`` = :math:`\hat p_s`, ``pi`` = :math:`\hat\pi_s`; the engine's ``W`` (A, S) is
  ``logits.T``. Unseen inputs get no gradient (their logits keep ``init_logits``).
* ``sel_ptl``: the squared error on normalised log-probabilities at the observed
  labels, :math:`\frac1n\sum_{s,a}n_{s,a}\frac12[\log\pi_\theta(a|s)-\log\pi^*(a|s)]^2`,
  by its own Numba kernel (:func:`_sel_kernel`); gradient
  :math:`w_{s,b}r_{s,b}-\pi_\theta(b|s)\sum_aw_{s,a}r_{s,a}` (:func:`theory.transfer.gd_loss_gradient`).

Both paths record the logits at checkpoints (:func:`sims.engine.record_steps`) and
resume bitwise: ``train_student(..., k1 + k2)`` equals
``train_student(..., k1).extend(k2)``. Data sets come from
:func:`sims.transfer.sample_counts` (the sampler of the closed-form Monte Carlo), so a
GD student and the closed-form learners can be compared on the same count matrices.

References: [ZZ23] Zhao and Zhu, ICLR 2024, arXiv 2310.07838; [T24] Thrampoulidis,
NeurIPS 2024, arXiv 2402.18551.

Examples
--------
>>> import numpy as np
>>> from theory import transfer
>>> from sims.transfer_gd import train_student
>>> inst = transfer.instance0(2, 3)
>>> counts = np.array([[3, 1, 1], [0, 0, 0]])
>>> traj = train_student("ce_sgl", counts, inst.pi_star, 20000, 1.0)
>>> bool(np.allclose(traj.policy(), transfer.estimate("ce_sgl", counts, inst.pi_star), atol=1e-8))
True
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit

from sims import gd
from sims.engine import record_steps
from theory import transfer as _tt
from theory._validation import as_choice, as_int, as_real, as_real_array
from theory.transfer._common import validate_pi_star

__all__ = ["train_student", "policies_from_logits"]


def policies_from_logits(logits) -> np.ndarray:
    r"""Row-wise softmax :math:`\pi(\cdot|s)=\mathrm{softmax}(\theta_s)` (log-sum-exp stable).

    Parameters
    ----------
    logits : array_like, shape (..., S, A)

    Returns
    -------
    ndarray, shape of ``logits``
    """
    th = as_real_array(logits, "logits")
    if th.ndim < 2:
        raise ValueError(f"logits must have shape (..., S, A), got {th.shape}")
    z = th - th.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@njit(cache=True)
def _sel_kernel(theta, w, logp, lr, k0, nsteps, rec, out):
    """``nsteps`` GD steps on SEL_ptl from step ``k0``, in place on ``theta`` (S, A).

    ``w`` (S, A) are the weights n_{s,a}/n, ``logp`` log pi* (used where w > 0);
    ``rec`` the recorded steps, ``out`` (len(rec), S, A) the logits written at them.
    Returns the number of rows written.
    """
    S, A = theta.shape
    q = np.empty(A)
    r = np.empty(A)
    j = 0
    while j < rec.shape[0] and rec[j] < k0:
        j += 1
    nrec = 0
    if j < rec.shape[0] and rec[j] == k0:
        out[j] = theta
        j += 1
        nrec += 1
    for k in range(k0 + 1, k0 + nsteps + 1):
        for s in range(S):
            mx = theta[s, 0]
            for a in range(1, A):
                if theta[s, a] > mx:
                    mx = theta[s, a]
            z = 0.0
            for a in range(A):
                q[a] = np.exp(theta[s, a] - mx)
                z += q[a]
            lse = mx + np.log(z)
            c = 0.0
            for a in range(A):
                q[a] /= z
                if w[s, a] > 0.0:
                    r[a] = w[s, a] * (theta[s, a] - lse - logp[s, a])
                    c += r[a]
                else:
                    r[a] = 0.0
            for a in range(A):
                theta[s, a] -= lr * (r[a] - c * q[a])
        if j < rec.shape[0] and rec[j] == k:
            out[j] = theta
            j += 1
            nrec += 1
    return nrec


@dataclass(frozen=True, eq=False)
class StudentTrajectory:
    r"""Logits of a GD-trained student at its checkpoints.

    Attributes
    ----------
    learner : str
        One of :data:`theory.transfer.LEARNERS`.
    lr : float
        Constant step size :math:`\eta`.
    steps : ndarray of int64, shape (n_rec,)
        Recorded steps (increasing, ending with :attr:`step`).
    logits : ndarray, shape (n_rec, S, A)
        :math:`\theta` at the recorded steps.
    final_logits : ndarray, shape (S, A)
    step : int
        Steps taken so far.
    """

    learner: str
    lr: float
    steps: np.ndarray
    logits: np.ndarray
    final_logits: np.ndarray
    step: int
    _counts: np.ndarray = field(repr=False)
    _pi_star: np.ndarray = field(repr=False)
    _engine: Any = field(default=None, repr=False)

    def policy(self) -> np.ndarray:
        """Final policy, shape (S, A)."""
        return policies_from_logits(self.final_logits)

    def policies(self) -> np.ndarray:
        """Policies at the checkpoints, shape (n_rec, S, A)."""
        return policies_from_logits(self.logits)

    def extend(self, steps, *, record=None) -> StudentTrajectory:
        """Continue for ``steps`` more steps (bitwise the same as one longer run)."""
        return train_student(self.learner, self._counts, self._pi_star, steps, self.lr, record=record, resume=self)


def _ce_data(learner: str, counts: np.ndarray, pi_star: np.ndarray) -> tuple[types.SimpleNamespace, np.ndarray]:
    P, pi = _tt.gd_ntp_weights(learner, counts, pi_star)
    seen = np.flatnonzero(pi > 0)
    data = types.SimpleNamespace(H=np.eye(pi_star.shape[0])[seen], P=P[seen], pi=pi[seen])
    return data, seen


def _check_counts(counts, pi_star: np.ndarray) -> np.ndarray:
    # gd_loss validates counts against pi_star (integers, shape, support, n >= 1)
    _tt.gd_loss("ce_sgl", counts, pi_star, np.zeros(pi_star.shape))
    return np.asarray(counts, dtype=np.int64)


def train_student(learner: str, counts, pi_star, steps, lr, *, init_logits=None, record=None,
                  resume: StudentTrajectory | None = None) -> StudentTrajectory:
    r"""Train one learner by full-batch GD with constant step on one data set.

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "sel_ptl", "ce_ful"}
    counts : array_like of int, shape (S, A)
        Count matrix :math:`n_{s,a}` (e.g. one of :func:`sims.transfer.sample_counts`), n >= 1.
    pi_star : array_like, shape (S, A)
        Teacher policy.
    steps : int
        GD steps to take (>= 0; added to the resumed run's).
    lr : float
        Step size :math:`\eta>0` on the weighted-mean loss (module docstring). The
        cross-entropies are :math:`\frac12`-smooth in each :math:`\theta_s` times
        :math:`\hat\pi_s\le1`, so any :math:`\eta<4` is stable; SEL_ptl needs
        :math:`\eta\max_{s,a}w_{s,a}` below about 1.
    init_logits : array_like, shape (S, A), optional
        :math:`\theta_0` (default 0, which gives Uniform(A) at unseen inputs, the
        convention of [ZZ23] section 6). Must be None with ``resume``.
    record : None, int or 1-D int array
        Checkpoints, as in :func:`sims.gd.run` (None: ~200 log-spaced; the last step
        is always recorded).
    resume : StudentTrajectory, optional
        Continue this run (same learner, data and step size).

    Returns
    -------
    StudentTrajectory
    """
    learner = as_choice(learner, "learner", _tt.LEARNERS)
    pi_star = validate_pi_star(pi_star)
    counts = _check_counts(counts, pi_star)
    steps = as_int(steps, "steps", low=0, allow_integral_float=True)
    lr = as_real(lr, "lr", low=0, low_open=True)
    S, A = pi_star.shape
    if resume is not None:
        if not isinstance(resume, StudentTrajectory):
            raise TypeError(f"resume must be a StudentTrajectory, got {type(resume).__name__}")
        if init_logits is not None:
            raise ValueError("init_logits must be None when resuming (the state comes from resume)")
        if (resume.learner != learner or resume.lr != lr or not np.array_equal(resume._counts, counts)
                or not np.array_equal(resume._pi_star, pi_star)):
            raise ValueError("resume must come from a run with the same learner, counts, pi_star and lr")
        theta0 = resume.final_logits
        k0 = resume.step
    else:
        theta0 = np.zeros((S, A)) if init_logits is None else as_real_array(init_logits, "init_logits", shape=(S, A))
        k0 = 0
    total = k0 + steps
    rec = record_steps(record, k0, total)
    if learner == "sel_ptl":
        theta = np.array(theta0, dtype=np.float64, order="C")
        w = counts / counts.sum()
        logp = np.log(np.where(w > 0, pi_star, 1.0))
        out = np.zeros((rec.shape[0], S, A))
        _sel_kernel(theta, w, logp, lr, k0, steps, rec, out)
        engine = None
        logits = out
        final = theta
    else:
        data, _ = _ce_data(learner, counts, pi_star)
        if resume is not None:
            engine = gd.run(data, steps, lr, record=rec, record_W=True, references=False, resume=resume._engine)
            keep = engine.steps > k0 if k0 > 0 else np.ones(engine.steps.shape, bool)
            Ws = engine.W_records[keep]
        else:
            engine = gd.run(data, steps, lr, W0=np.ascontiguousarray(theta0.T), record=rec, record_W=True,
                            references=False)
            Ws = engine.W_records
        logits = np.ascontiguousarray(np.transpose(Ws, (0, 2, 1)))
        final = np.ascontiguousarray(engine.W.T)
    if resume is not None:
        logits = np.concatenate([resume.logits, logits])
        rec = np.concatenate([resume.steps, rec])
    for arr in (logits, final, rec):
        arr.setflags(write=False)
    return StudentTrajectory(learner=learner, lr=lr, steps=rec, logits=logits, final_logits=final, step=total,
                             _counts=counts, _pi_star=pi_star, _engine=engine)
