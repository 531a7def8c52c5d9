"""Data checks of the linear-softmax engine, at the boundary (private)."""

from __future__ import annotations

import numpy as np

from theory._validation import as_probability_rows, as_real_array, check_shape


def check_data(data):
    """(H (m, d), P (m, V), pi (m,)) as C-contiguous float64 arrays, checked.

    ``data`` is duck-typed: any object with attributes ``H``, ``P`` and ``pi``.

    Raises
    ------
    TypeError
        If an attribute is missing or not a real array.
    ValueError
        For wrong shapes, non-finite entries, rows of P that are not
        distributions (tolerance 1e-9), V < 2, or weights pi that are negative
        or all zero.
    """
    for attr in ("H", "P", "pi"):
        if not hasattr(data, attr):
            raise TypeError(f"data must have attributes H (m, d), P (m, V) and pi (m,); missing data.{attr} "
                            f"(got {type(data).__name__})")
    H = as_real_array(data.H, "data.H", ndim=2)
    m = H.shape[0]
    P = as_probability_rows(data.P, "data.P", ndim=2)
    if P.shape[0] != m or P.shape[1] < 2:
        raise ValueError(f"data.P must have shape (m, V) = ({m}, V >= 2), got {P.shape}")
    pi = as_real_array(data.pi, "data.pi", ndim=1)
    check_shape(pi, "data.pi", (m,))
    if np.any(pi < 0) or not np.any(pi > 0):
        raise ValueError(f"data.pi must be non-negative with at least one positive entry, got min {pi.min()!r}, "
                         f"max {pi.max()!r}")
    return np.ascontiguousarray(H), np.ascontiguousarray(P), np.ascontiguousarray(pi)


def check_matrix(name, value, shape):
    """``value`` as a C-contiguous finite float64 array of the given shape."""
    return np.ascontiguousarray(as_real_array(value, name, shape=shape))
