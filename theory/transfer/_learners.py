r"""The four learners of [ZZ23] from count matrices, and the TV risk (part of :mod:`theory.transfer`; notation and references there)."""

from __future__ import annotations

import numpy as np

from theory._validation import as_probability_rows
from theory.transfer._common import scalar_or_array, validate_counts, validate_learner, validate_pi_star, validate_rho

__all__ = ["estimate", "estimate_counts", "tv_rows", "tv_risk", "tv_to_uniform"]


def estimate_counts(learner: str, counts: np.ndarray, pi_star: np.ndarray) -> np.ndarray:
    """Unvalidated core of :func:`estimate`; ``counts`` float (..., S, A)."""
    A = pi_star.shape[-1]
    n_s = counts.sum(axis=-1, keepdims=True)
    seen = n_s > 0
    if learner == "ce_sgl":
        est = counts / np.where(seen, n_s, 1.0)
    elif learner == "ce_ptl":
        weights = counts * pi_star
        Z = weights.sum(axis=-1, keepdims=True)
        est = np.where(Z > 0, weights / np.where(Z > 0, Z, 1.0), 1.0 / A)
    elif learner == "sel_ptl":
        observed = counts > 0
        unseen_mass = np.where(observed, 0.0, pi_star).sum(axis=-1, keepdims=True)
        n_unseen = A - observed.sum(axis=-1, keepdims=True)
        fill = unseen_mass / np.maximum(n_unseen, 1)
        est = np.where(observed, pi_star, fill)
    else:  # ce_ful
        est = np.broadcast_to(pi_star, counts.shape)
    return np.where(seen, est, 1.0 / A)


def estimate(learner: str, counts, pi_star) -> np.ndarray:
    r"""Closed-form minimiser of a learner's loss from the count matrix.

    For a seen input (:math:`n_s > 0`):

    * ``"ce_sgl"`` (MLE, minimises :math:`-\sum_i\log\pi(a_i|s_i)`):
      :math:`\hat\pi(a|s) = n_{s,a}/n_s`;
    * ``"ce_ptl"`` (minimises :math:`-\sum_i\pi^*(a_i|s_i)\log\pi(a_i|s_i)`):
      :math:`\hat\pi(a|s) = n_{s,a}\pi^*(a|s)/\sum_b n_{s,b}\pi^*(b|s)`;
    * ``"sel_ptl"`` (minimises :math:`\sum_i\tfrac12[\log\pi(a_i|s_i) -
      \log\pi^*(a_i|s_i)]^2`, whose minimisers match :math:`\pi^*` on the seen
      labels): :math:`\pi^*(a|s)` on seen labels, the leftover mass
      :math:`\sum_{a: n_{s,a}=0}\pi^*(a|s)` spread uniformly over the unseen
      labels;
    * ``"ce_ful"`` (minimises :math:`\sum_i \mathrm{KL}(\pi^*(\cdot|s_i)\|\pi(\cdot|s_i))`):
      :math:`\hat\pi(\cdot|s) = \pi^*(\cdot|s)`.

    Unseen inputs get :math:`\mathrm{Uniform}(\mathcal A)` ([ZZ23] section 6);
    ``ce_sgl``/``ce_ptl`` put 0 on unseen labels of a seen input. The leftover
    mass of ``sel_ptl`` is summed over the unseen labels (equal to
    :math:`1-\sum_{\text{seen}}\pi^*` when the row sums to exactly 1, but free of
    cancellation when it is tiny).

    Parameters
    ----------
    learner : {"ce_sgl", "ce_ptl", "sel_ptl", "ce_ful"}
        See :data:`LEARNERS`.
    counts : array_like of int, shape (S, A) or (R, S, A)
        Count matrix :math:`n_{s,a}` (optionally a batch of R of them);
        nonnegative integers, zero wherever ``pi_star`` is zero.
    pi_star : array_like, shape (S, A)
        Teacher policy (rows are distributions).

    Returns
    -------
    numpy.ndarray, shape of ``counts``
        :math:`\hat\pi(a|s)`, float64; each row a distribution.

    Raises
    ------
    ValueError
        Unknown learner, bad shapes, negative or non-integral counts, counts on
        labels the teacher never emits, or ``pi_star`` not a policy.
    """
    learner = validate_learner(learner)
    pi_star = validate_pi_star(pi_star)
    counts = validate_counts(counts, pi_star)
    return estimate_counts(learner, counts, pi_star)


def tv_rows(pi_hat: np.ndarray, pi_star: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(pi_hat - pi_star).sum(axis=-1)


def tv_risk(pi_hat, pi_star, rho):
    r"""The :math:`\rho`-weighted total-variation risk ([ZZ23] section 2).

    .. math::

        \mathrm{TV}(\hat\pi, \pi^*|\rho) = \sum_s \rho(s)\,\tfrac12
            \sum_a |\hat\pi(a|s) - \pi^*(a|s)|

    Parameters
    ----------
    pi_hat : array_like, shape (S, A) or (R, S, A)
        Estimated policy (a batch of R of them): rows nonnegative, summing to 1.
    pi_star : array_like, shape (S, A)
        Teacher policy.
    rho : array_like, shape (S,)
        Input distribution.

    Returns
    -------
    float or numpy.ndarray of shape (R,)
    """
    rho = validate_rho(rho)
    pi_star = validate_pi_star(pi_star)
    if pi_star.shape[0] != rho.shape[0]:
        raise ValueError(
            f"pi_star must have shape (S, A) with S = len(rho) = {rho.shape[0]}, got "
            f"{pi_star.shape}"
        )
    pi_hat = as_probability_rows(pi_hat, "pi_hat")
    if pi_hat.ndim not in (2, 3) or pi_hat.shape[-2:] != pi_star.shape:
        raise ValueError(
            f"pi_hat must have shape (S, A) = {pi_star.shape} or (R, S, A), got {pi_hat.shape}"
        )
    risk = tv_rows(pi_hat, pi_star) @ rho
    return scalar_or_array(risk)


def tv_to_uniform(pi_star) -> np.ndarray:
    r"""Row-wise :math:`\mathrm{TV}(\mathrm{Uniform}(\mathcal A), \pi^*(\cdot|s))`.

    Parameters
    ----------
    pi_star : array_like, shape (S, A)

    Returns
    -------
    numpy.ndarray, shape (S,)
    """
    pi_star = validate_pi_star(pi_star)
    return tv_rows(np.full(pi_star.shape[1], 1.0 / pi_star.shape[1]), pi_star)
