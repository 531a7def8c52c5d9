r"""The linear-softmax engine: full-batch GD / NGD / Adam on softmax cross-entropy (NTP).

Public as :mod:`sims.gd` (``from sims import gd; gd.run(...)``), which re-exports
this package; the model-independent parts (checkpoints, threads, trajectory
container, progress and interrupts) are in :mod:`sims.engine`.

The model is linear, logits :math:`W \bar h_j` with :math:`W \in \mathbb{R}^{V\times d}`,
trained on the NTP loss of [T24] (eq. 2)

.. math::

    \mathrm{CE}(W) = -\sum_{j=1}^m \hat\pi_j \sum_{z\in\mathcal S_j} \hat p_{j,z}
        \log \mathbb S_z(W\bar h_j),
    \qquad
    \nabla\mathrm{CE}(W) = \sum_j \hat\pi_j\,(\mathbb S(W\bar h_j) - \hat p_j)\,\bar h_j^\top
        = R^\top H,

with data given duck-typed as ``data.H`` (m, d) (context embeddings as rows),
``data.P`` (m, V) (next-token probabilities, sparse rows) and ``data.pi`` (m,)
(context weights), e.g. :class:`theory.ntp.NTPData`. One-hot data (every
support of size 1) is multiclass classification with the cross-entropy loss of
[S18] (section 4); binary logistic regression is its 2-class case
(:func:`binary_data`, :func:`logistic_weights`).

Optimisers (``method``): ``"gd"`` :math:`W_{k+1} = W_k - \eta_k\nabla_k`;
``"ngd"`` (normalised GD, [N19]) :math:`W_{k+1} = W_k - \eta_k\nabla_k/\|\nabla_k\|`;
``"adam"`` (Kingma-Ba, PyTorch form, element-wise in the original coordinates of W)

.. math::

    m_{k+1} = \beta_1 m_k + (1-\beta_1)\nabla_k,\quad
    v_{k+1} = \beta_2 v_k + (1-\beta_2)\nabla_k^{\odot 2},\quad
    W_{k+1} = W_k - \frac{\eta_k}{1-\beta_1^{k+1}}\,
        \frac{m_{k+1}}{\sqrt{v_{k+1}}/\sqrt{1-\beta_2^{k+1}} + \epsilon}

with defaults :math:`\beta_1 = 0.9`, :math:`\beta_2 = 0.99` ([T24] App. A.2) and
:math:`\epsilon = 10^{-8}` (PyTorch's default; [T24] does not state it).

Step-size schedules (``schedule``), with :math:`\eta` = ``lr`` and k = 0, 1, ...:
``"constant"`` :math:`\eta_k = \eta`; ``"power"`` :math:`\eta_k = \eta/(k+1)^p`
(``power`` = p, e.g. 0.5 or 1); ``"loss"`` (loss-adaptive)
:math:`\eta_k = \min(\eta / \max(\mathrm{CE}(W_k) - \mathcal H,\,10^{-300}),\ \eta_{\max})`.
The loss-adaptive rule is the NTP version of the :math:`\eta \propto 1/\mathcal L`
rule of Nacson et al. (AISTATS 2019) and Lyu-Li (``LossBasedLR``, without their
backtracking): for one-hot data :math:`\mathcal H = 0` and it is exactly
:math:`\eta/\mathcal L`; for NTP data the loss tends to the entropy
:math:`\mathcal H > 0`, so the gap (KL form, computed stably) is used instead.
Our choice: no backtracking; the floor :math:`10^{-300}` only prevents a
division by an underflowed gap (then the gradient is 0 too).

Numerics (paper, Sec. 'Numerics and solvers'): float64; the residual is computed in the split
form :math:`r_z = (q_z - p_z) - q_z\varepsilon/(1+\varepsilon)` on the support and
:math:`e^{l_v - \mathrm{lse}_S}/(1+\varepsilon)` off it, so nothing collapses before
logit gaps of ~700 (exp underflow); the loss gap is the KL divergence computed
term by term plus :math:`\log(1+\varepsilon)`.

Exact reductions (paper, Sec. 'Numerics and solvers'): GD and NGD only move W inside
:math:`\mathbb R^V \otimes \mathrm{rowspace}(H)`, so when rank(H) = r < d the engine
works with the features :math:`X = H B` (m, r), B (d, r) an orthonormal basis of
the row space (thin SVD), and maps back with :math:`W = W_r B^\top + W_{0,\perp}`,
:math:`W_{0,\perp} = W_0 - W_0 B B^\top` (which never moves). When m < 1.5 r the
dual (logit-space) form :math:`L_{k+1} = L_k - s_k R_k K`, :math:`K = X X^\top`,
:math:`W_k = W_0 - A_k X`, :math:`A_{k+1} = A_k + s_k R_k^\top`, halves the flops.
Adam is not rotation invariant, so it always runs in the original coordinates.

Kernels and threads: the loop, checkpoints included, runs inside numba (one
call per segment of ~0.25 s in the main thread, so that a progress bar moves
and Ctrl-C stops cleanly with a resumable :class:`RunInterrupted`; one call
elsewhere). Tiny problems (m r V < 2000) use a fused loop
over contexts (for runs of >= 2e7 steps compiled for the problem's sizes, so
that its loops unroll: the same arithmetic, 1.2-2x faster); larger ones
alternate a context phase (residual) and a vocabulary phase (gradient GEMM,
update and, in the primal, the next logits GEMM of the same rows of W), with
BLAS (``np.dot``) from m r V >= 2000. From 4e6 multiply-adds per step the
phases are cut into at most 4 power-of-two chunks of >= 96 rows that run on
numba threads while BLAS is held at one thread (one parallel layer, numerics
paper, Sec. 'Numerics and solvers'); ``threads=None`` uses the caller's numba thread count, never
more. The chunking depends only on the problem size, so results are bitwise the same for
any thread count (threaded BLAS is not: OpenBLAS dgemm changes bits with its
thread count), and a resumed run reuses the stored kernel choice, so
``run(k1 + k2)`` and ``run(k1)`` then ``extend(k2)`` give bitwise the same W.

Files (one topic each): ``_run`` (:func:`run`, :func:`run_ensemble`),
``_problem`` (features, layout, kernel choice), ``_references`` (W*, W^mm),
``_state`` (settings, resumable state), ``_trajectory``, ``_numpy_reference``;
numba kernels: ``_kernel_args`` (the named tuples they take), ``_drivers``
(serial/parallel/tiny drivers), ``_chunks`` (residual, gradient, update per
chunk), ``_metrics``, ``_exp``, ``_constants``. One-hot data helpers, the entropy
and the data fingerprint come from :mod:`theory.ntp`.

References: [T24] Thrampoulidis, NeurIPS 2024, arXiv 2402.18551; [S18] Soudry et
al., JMLR 2018; [N19] Nacson et al., AISTATS 2019; the math: paper, Secs. 'Implicit bias of
next-token prediction in linear models', 'The one-hot anchor ...' and 'Numerics and solvers'.

Examples
--------
>>> import numpy as np, types
>>> from sims import gd
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((6, 3)); y = np.array([0, 1, 2, 0, 1, 2])
>>> data = gd.classification_data(X + 3 * np.eye(3)[y], y)
>>> traj = gd.run(data, 1000, 0.5, references=False)
>>> bool(traj.metrics["gap"][-1] < traj.metrics["gap"][1])
True
"""


from __future__ import annotations

from sims.engine import RunInterrupted, log_checkpoints
from sims.linear_softmax._numpy_reference import reference_numpy_run
from sims.linear_softmax._problem import F_MAX
from sims.linear_softmax._references import REFERENCE_SOLVERS
from sims.linear_softmax._run import (
    METRIC_NAMES, compile_tiny_kernel, run, run_ensemble, tiny_kernel_compiled,
)
from sims.linear_softmax._state import ALGORITHMS, METHODS, SCHEDULES
from sims.linear_softmax._trajectory import Trajectory
from theory.ntp import binary_data, classification_data, logistic_weights

__all__ = [
    "ALGORITHMS",
    "F_MAX",
    "METHODS",
    "METRIC_NAMES",
    "REFERENCE_SOLVERS",
    "RunInterrupted",
    "SCHEDULES",
    "Trajectory",
    "binary_data",
    "classification_data",
    "compile_tiny_kernel",
    "log_checkpoints",
    "logistic_weights",
    "reference_numpy_run",
    "run",
    "run_ensemble",
    "tiny_kernel_compiled",
]
