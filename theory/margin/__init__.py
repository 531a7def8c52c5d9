r"""One convex-margin module for every max-margin problem of the package.

The problem

.. math::

    \min_W\ \tfrac12\|W\|^2\quad\text{s.t.}\quad\langle A_i,W\rangle\ge1,\qquad
    \langle B_k,W\rangle=0,

given dense rows, a Gram matrix only (kernel SVM), or structured generators
(:class:`ConstraintRows` subclasses, e.g. the NTP-SVM's), solved by one pipeline
(:func:`solve_margin`): rescale by a power of two, cvxpy + Clarabel (named, status
recorded), active-set polish, KKT certificate (:class:`KKTCertificate`), refusal of any
point whose certificate fails. Farkas certificates for infeasible systems.

Public entry point for users: :func:`hard_margin_svm`.

Files: ``_certificate.py`` (KKT), ``_clarabel.py`` (the cvxpy call), ``_linalg.py``
(polish algebra, rescaling), ``_farkas.py`` (infeasibility LPs), ``_rows.py`` (constraint
families), ``_solve.py`` (the pipeline and :func:`hard_margin_svm`).
"""

from theory.margin._certificate import ACCEPT_KKT_TOL, ACTIVE_SLACK, DEFAULT_KKT_TOL, KKTCertificate, kkt_certificate
from theory.margin._clarabel import CLARABEL_OPTIONS, solve_clarabel
from theory.margin._farkas import FARKAS_TOL, DenseFarkas, dense_farkas, involved_rows, support_farkas
from theory.margin._linalg import SCALE_BAND, min_norm_multipliers, pair_gram, power_of_two_scale
from theory.margin._rows import ClarabelPoint, ConstraintRows, DenseRows, GramRows, PairRows
from theory.margin._solve import (
    GRAM_RTOL,
    POLISH_TOL,
    MarginPoint,
    MarginSolution,
    MarginSolverError,
    NotSeparableError,
    hard_margin_svm,
    polish_active_set,
    solve_margin,
)

__all__ = [
    "ACCEPT_KKT_TOL", "ACTIVE_SLACK", "CLARABEL_OPTIONS", "DEFAULT_KKT_TOL", "FARKAS_TOL", "GRAM_RTOL",
    "POLISH_TOL", "SCALE_BAND",
    "ClarabelPoint", "ConstraintRows", "DenseFarkas", "DenseRows", "GramRows", "KKTCertificate", "MarginPoint",
    "MarginSolution", "MarginSolverError", "NotSeparableError", "PairRows",
    "dense_farkas", "hard_margin_svm", "involved_rows", "kkt_certificate", "min_norm_multipliers", "pair_gram",
    "polish_active_set", "power_of_two_scale", "solve_clarabel", "solve_margin", "support_farkas",
]
