r"""NTP-separability and the NTP-SVM max-margin direction :math:`W^{mm}`, with certificates.

Implements the max-margin side of

    [T24] C. Thrampoulidis, *Implicit Optimization Bias of Next-Token Prediction in Linear
    Models*, NeurIPS 2024, arXiv 2402.18551 (Defs. 2-3, Lemma 1),

and the logit-space ("unconstrained features") view of

    [Z24] Y. Zhao, T. Behnia, V. Vakilian, C. Thrampoulidis, *Implicit Geometry of
    Next-token Prediction*, arXiv 2408.15417.

Conventions (paper, Sec. 'Implicit bias of next-token prediction in linear models'): the functions accept any
object ``data``
with attributes ``H`` (shape (m, d), rows :math:`\bar h_j`) and ``P`` (shape (m, V),
supports :math:`\mathcal S_j=\{z:P_{jz}>0\}`), e.g. :class:`theory.ntp.NTPData`; only the
supports matter here. ``W`` has shape (V, d) and the logits are ``H @ W.T`` (m, V).
The anchor :math:`z_j` of context j is its most probable token (smallest id on ties), as
in :class:`theory.ntp.NTPData`.

Dual representation used throughout. Every feasible direction of the NTP-SVM dual is a
matrix :math:`R\in\mathbb R^{m\times V}` with

.. math::

    W=\sum_j r_j\bar h_j^\top=R^\top H,\qquad R_{jv}=-\lambda_{jv}\le0\ (v\notin\mathcal S_j),
    \qquad \sum_v R_{jv}=0,

i.e. the combination :math:`\sum_{j,v}\lambda_{jv}(e_{z_j}-e_v)\bar h_j^\top+
\sum_{j,z\ne z_j}\beta_{jz}(e_{z_j}-e_z)\bar h_j^\top` of margin generators (multipliers
:math:`\lambda\ge0`) and anchored equality generators (free :math:`\beta_{jz}=-R_{jz}`).
The dual of the NTP-SVM is :math:`\max_R\ \sum_{\rm off}\lambda_{jv}-\tfrac12\|R^\top H\|^2`
over that cone (derived here); it only involves :math:`G=HH^\top`.

Module map (files of this package, re-exported here): ``_direction.py``
:func:`max_margin_direction` (solver choice, rescaling, retries) over two independent solvers
(``_clarabel.py``: :class:`NTPRows` through :func:`theory.margin.solve_margin`; ``_dual.py``:
FISTA + active set, with ``_equality.py``; ``_problem.py`` and ``_result.py`` hold the
set-up and the result), ``_separability.py`` :func:`check_separability`,
:func:`nonseparable_instance`, and ``_logits.py`` with the logit-space functions :func:`centered_support_matrix`, :func:`nuclear_norm_max_margin_logits`,
:func:`sparse_plus_low_rank`.
"""

from theory.ntp_svm._clarabel import NTPRows
from theory.ntp_svm._direction import clarabel_size, max_margin_direction
from theory.ntp_svm._logits import (
    LogitSplit,
    NuclearMaxMarginResult,
    centered_support_matrix,
    nuclear_norm_max_margin_logits,
    sparse_plus_low_rank,
)
from theory.ntp_svm._problem import (
    AUTO_CLARABEL_MAX_NNZ,
    GRAM_LIMIT,
    LP_PRECHECK_NNZ,
    RANK_RTOL,
    RETRY_CLARABEL_MAX_NNZ,
    SDP_OPTIONS,
    SOLVERS,
)
from theory.ntp_svm._result import NTPMaxMarginResult
from theory.ntp_svm._separability import (
    FarkasCertificate,
    SeparabilityResult,
    SupportData,
    check_separability,
    nonseparable_instance,
)

__all__ = [
    "SOLVERS",
    "AUTO_CLARABEL_MAX_NNZ",
    "RETRY_CLARABEL_MAX_NNZ",
    "GRAM_LIMIT",
    "LP_PRECHECK_NNZ",
    "RANK_RTOL",
    "SDP_OPTIONS",
    "NTPRows",
    "NTPMaxMarginResult",
    "FarkasCertificate",
    "SeparabilityResult",
    "SupportData",
    "NuclearMaxMarginResult",
    "LogitSplit",
    "clarabel_size",
    "max_margin_direction",
    "check_separability",
    "nonseparable_instance",
    "centered_support_matrix",
    "nuclear_norm_max_margin_logits",
    "sparse_plus_low_rank",
]
