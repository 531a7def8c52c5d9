"""Constants shared by the linear-softmax kernels and their Python wrapper."""

from __future__ import annotations

import numpy as np

METHOD_GD, METHOD_NGD, METHOD_ADAM = 0, 1, 2
SCHED_CONSTANT, SCHED_POWER, SCHED_LOSS = 0, 1, 2

# hyper-parameter vector
HP_LR, HP_POWER, HP_LR_MAX, HP_BETA1, HP_BETA2, HP_ADAM_EPS = range(6)
N_HP = 6

# metric columns (names in sims.gd.METRIC_NAMES, same order)
(
    M_LOSS, M_GAP, M_NORM, M_COS_MM, M_COS_MM_CORRECTED, M_COS_PERP_MM, M_DIST_F,
    M_NORM_F, M_NORM_PERP, M_PERP_RESIDUAL, M_TILDE_RESIDUAL, M_MARGIN, M_MARGIN_GAP,
    M_COLSUM_MAXABS, M_COLSUM_DRIFT, M_GRAD_NORM, M_LR,
) = range(17)
N_METRICS = 17

# A context whose out-of-support sum eps * s_S = sum_{v not in S} exp(l_v - m_S)
# exceeds SO_MAX = e^600 (an out-of-support logit ~600 above the in-support max)
# uses the plain (global-max) softmax instead of the split form: there the split
# form would overflow, and the plain form is as accurate.
OVERFLOW_GAP = 600.0
SO_MAX = float(np.exp(OVERFLOW_GAP))
# Floor of the loss gap in the loss-adaptive schedule (the gap can underflow to 0).
GAP_FLOOR = 1e-300
# rows of the per-block context constants array (1/s_S, eps/(1+eps), pi/(s_S (1+eps)))
N_STAT = 3

# phases of a step: residual (context chunks); gradient and update, gradient
# only (with partial norms), update only, logits only (vocabulary chunks; in the
# primal the update of a chunk of rows is followed by the next step's logits of
# the same rows, so a step has two parallel phases and no barrier between the
# update and the logits GEMM)
PHASE_CTX, PHASE_VOC, PHASE_UPDATE, PHASE_GRAD, PHASE_LOGITS = 0, 1, 2, 3, 4

# lanes of the flat exp buffer of the tiny kernel (its length is padded to a
# multiple, so the vectorised exp loop has no scalar remainder)
TINY_LANES = 8
