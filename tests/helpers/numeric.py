"""Relative closeness, with messages that show the numbers."""

from __future__ import annotations

import numpy as np


def rel_err(a, b) -> float:
    """``||a - b|| / max(||b||, tiny)`` in the Frobenius norm (float64)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), np.finfo(float).tiny))


def assert_close_matrices(actual, expected, rtol: float, what: str = "") -> None:
    """Assert ``rel_err(actual, expected) <= rtol``; the message gives the error."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shapes {actual.shape} != {expected.shape}"
    err = rel_err(actual, expected)
    assert err <= rtol, f"{what}: relative error {err:.3e} > {rtol:.1e}"
