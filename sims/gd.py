"""Full-batch GD / NGD / Adam for softmax cross-entropy (next-token prediction).

The engine lives in :mod:`sims.linear_softmax` (documentation of the model, the
optimisers, the schedules, the numerics and the kernels); this module keeps the
names users import (``from sims import gd; gd.run(...)``) and re-exports them.

Examples
--------
>>> import numpy as np
>>> from sims import gd
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((6, 3)); y = np.array([0, 1, 2, 0, 1, 2])
>>> data = gd.classification_data(X + 3 * np.eye(3)[y], y)
>>> traj = gd.run(data, 1000, 0.5, references=False)
>>> bool(traj.metrics["gap"][-1] < traj.metrics["gap"][1])
True
"""

from __future__ import annotations

from sims.linear_softmax import (
    ALGORITHMS, F_MAX, METHODS, METRIC_NAMES, REFERENCE_SOLVERS, SCHEDULES, RunInterrupted, Trajectory, binary_data,
    classification_data, compile_tiny_kernel, log_checkpoints, logistic_weights, reference_numpy_run, run,
    run_ensemble, tiny_kernel_compiled,
)

#: F-metrics are skipped (NaN) above this many generators of F (kept under its old
#: private name for sims/experiments/ntp_gd.py; the public name is F_MAX).
_F_MAX = F_MAX

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
