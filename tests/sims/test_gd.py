"""sims.gd is the public face of the linear-softmax engine: every name users import stays there."""

from __future__ import annotations

import sims.linear_softmax as ls
from sims import engine, gd


def test_public_names_reexported():
    names = ["METHODS", "METRIC_NAMES", "SCHEDULES", "Trajectory", "binary_data", "classification_data",
             "log_checkpoints", "logistic_weights", "reference_numpy_run", "run", "run_ensemble"]
    for name in names + ["RunInterrupted", "compile_tiny_kernel", "tiny_kernel_compiled", "F_MAX"]:
        assert getattr(gd, name) is getattr(ls, name), name
    assert gd.log_checkpoints is engine.log_checkpoints
    assert issubclass(gd.Trajectory, engine.Trajectory)
    assert gd._F_MAX == gd.F_MAX == 2000  # still read by sims/experiments/ntp_gd.py
    assert set(gd.__all__) >= set(names)
