r"""Linear next-token prediction: data model, loss, entropy bound, data subspace F and W*.

Implements the smooth ("finite") side of

    [T24] C. Thrampoulidis, *Implicit Optimization Bias of Next-Token Prediction in
    Linear Models*, NeurIPS 2024, arXiv 2402.18551.

Notation (paper, Sec. 'Implicit bias of next-token prediction in linear models'). There are :math:`m` distinct
contexts with
fixed embeddings :math:`\bar h_j\in\mathbb R^d` (the **rows** ``H[j]`` of ``H``), a
vocabulary of :math:`V` tokens, empirical context frequencies :math:`\hat\pi_j` and
next-token distributions :math:`\hat p_j` with supports :math:`\mathcal S_j`. The model
is the linear decoder :math:`W\in\mathbb R^{V\times d}` (array shape ``(V, d)``) with
logits :math:`W\bar h_j`; the logit matrix of all contexts is ``H @ W.T`` (shape
``(m, V)``).

* :func:`ntp_loss` is the cross-entropy (eq. 2), :func:`entropy` its lower bound
  :math:`\mathcal H`, and :func:`loss_gap` the difference
  :math:`\sum_j\hat\pi_j\,\mathrm{KL}(\hat p_j\,\|\,\mathbb S(W\bar h_j))`, computed directly
  (never as a difference of two losses): ~1e-15 relative accuracy when the
  out-of-support mass dominates, ~1e-10 when a 1e-12 gap comes from in-support
  mismatch (the KL's own conditioning), where ``ntp_loss - entropy`` has ~1e-4.
* :func:`data_subspace` builds the data subspace :math:`F` (eq. 5) with projections onto
  :math:`F` and :math:`F^\perp`; :func:`finite_component` returns :math:`W^\star`, the
  unique solution of the log-odds equations (eq. 4) inside :math:`F`.

The max-margin side (NTP-separability, the NTP-SVM direction :math:`W^{mm}`) lives in
``theory.ntp_svm`` / ``theory.maxmargin``.

The package is split by topic: ``_data`` (the data model and its constructors),
``_losses`` (loss, entropy, gap, residual, gradient), ``_subspace`` (F and W*) and
``_bounds``; every public name is importable from ``theory.ntp``.
"""

from __future__ import annotations

from theory.ntp._bounds import genie_bound, smoothness_bound
from theory.ntp._data import (
    SUM_TOL,
    TOY_2D_EMBEDDINGS,
    TOY_2D_SUPPORTS,
    NTPData,
    binary_data,
    classification_data,
    data_fingerprint,
    logistic_weights,
)
from theory.ntp._losses import (
    entropy,
    entropy_from_arrays,
    in_support_residual,
    log_odds_residual,
    loss_gap,
    ntp_gradient,
    ntp_loss,
)
from theory.ntp._subspace import DataSubspace, FiniteComponent, data_subspace, finite_component

# The max-margin side (NTP-SVM, separability) lives in theory.ntp_svm, which only
# duck-types NTPData; re-exported here so ``theory.ntp`` is the model's one entry point.
from theory.ntp_svm import check_separability, max_margin_direction  # noqa: E402

__all__ = [
    "NTPData",
    "classification_data",
    "binary_data",
    "logistic_weights",
    "data_fingerprint",
    "entropy_from_arrays",
    "DataSubspace",
    "FiniteComponent",
    "entropy",
    "ntp_loss",
    "loss_gap",
    "ntp_gradient",
    "in_support_residual",
    "log_odds_residual",
    "data_subspace",
    "finite_component",
    "smoothness_bound",
    "genie_bound",
    "SUM_TOL",
    "TOY_2D_SUPPORTS",
    "TOY_2D_EMBEDDINGS",
    "check_separability",
    "max_margin_direction",
]
