r"""Two-layer ReLU networks trained by (projected) gradient descent on hard or soft labels.

The simulator of the fourth model family (paper, Sec. 'Soft- versus hard-label training of
two-layer ReLU networks'): :math:`f(x; W) = m^{-1/2}\sum_s a_s\,\mathrm{relu}(\langle w_s, x\rangle)`
with fixed signs a_s and only W trained, standard or coupled initialisation, full-
batch GD or GD projected onto :math:`\|W - W_0\|_F \le R`, logistic loss on labels or
KL to a teacher's probabilities (with temperature), and whole seeds-by-widths
ensembles in one call (Numba/BLAS kernels, members side by side on threads).

Threads (one parallel layer, paper, Sec. 'Numerics and solvers'): BLAS is held at one thread.
An ensemble's members go to ``threads`` threads, widest first, each member one
serial kernel call per segment with no synchronisation between steps. A lone
network's tasks (row chunks x sample blocks) can run on numba threads: above a
size threshold it times both ways on short probes and runs the faster (see
``sims.twolayer.chunk_threads`` to force either). A member's arithmetic is the same
in every case, so results are bitwise independent of the thread count and of the
ensemble it runs in.

Files: ``_model`` (the network, initialisations, input checks), ``_kernels``
(Numba kernels), ``_train`` (runs, ensembles, loss and gradient), ``_teachers``
(distillation targets), ``_converge`` (the converged loss by trust-region Newton, with a
certificate), ``_reference`` (a plain NumPy loop for cross-checks),
``_trajectory`` (the trajectory container on sims.engine).

Examples
--------
>>> import numpy as np
>>> from sims import twolayer
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((40, 3)); X /= np.linalg.norm(X, axis=1, keepdims=True)
>>> y = np.where(X[:, 0] > 0, 1.0, -1.0)
>>> traj = twolayer.run(X, y, width=64, steps=200, lr=1.0, seed=1)
>>> bool(traj.loss[-1] < traj.loss[0])
True
"""

from sims.twolayer._converge import ConvergedFit, converge, gauss_newton_product
from sims.twolayer._kernels import METRIC_NAMES
from sims.twolayer._model import INITS, KINDS, TwoLayerParams, forward, init_two_layer
from sims.twolayer._reference import reference_numpy_run
from sims.twolayer._trajectory import TwoLayerTrajectory
from sims.twolayer._teachers import Teacher, kernel_teacher, teacher_from_logits, wide_network_teacher
from sims.twolayer._train import TwoLayerEnsemble, chunk_threads, loss_and_grad, run, run_ensemble

__all__ = [
    "ConvergedFit",
    "converge",
    "gauss_newton_product",
    "INITS",
    "KINDS",
    "METRIC_NAMES",
    "Teacher",
    "TwoLayerEnsemble",
    "TwoLayerParams",
    "chunk_threads",
    "TwoLayerTrajectory",
    "forward",
    "init_two_layer",
    "kernel_teacher",
    "loss_and_grad",
    "reference_numpy_run",
    "run",
    "run_ensemble",
    "teacher_from_logits",
    "wide_network_teacher",
]
