r"""The exact NTK margin in d = 1 and d = 2 from the arrangement of the lines :math:`x_i^\perp`.

The activation pattern :math:`z\mapsto(\mathbb 1[\langle z,x_i\rangle>0])_i` depends
only on the direction of z and is constant on the cells of the central arrangement of
the lines :math:`x_i^\perp` ([MO]; derived here). In
d = 2 a direction is an angle :math:`\varphi\in[0,2\pi)`; sample i is active on the
open half-circle :math:`(\vartheta_i-\pi/2,\vartheta_i+\pi/2)` around its angle
:math:`\vartheta_i`, so the breakpoints are the :math:`\le2n` angles
:math:`\vartheta_i\pm\pi/2`, the cells are the arcs between consecutive breakpoints, and
the Gaussian measure of an arc c is :math:`\mu(c)=|c|/(2\pi)` (a standard Gaussian
direction is uniform on the circle). A separator :math:`\bar v` can be taken constant on
each cell (averaging it over a cell keeps the norm bound and every margin), so

.. math::

    \gamma^*=\max_{\|v_c\|\le1}\min_i\sum_c\mu(c)A_{ci}\,y_i\langle v_c,x_i\rangle
    =\min_{q\in\Delta_n}\sum_c\mu(c)\Big\|\sum_{i\,\text{active in}\,c}q_iy_ix_i\Big\|,

a finite SOCP with at most 2n cones: exact up to the solver's accuracy, which the
certified primal-dual bracket reports.
"""

from __future__ import annotations

import numpy as np

from theory._validation import as_real_array

__all__ = ["arc_cells_2d", "half_line_cells_1d"]


def arc_cells_2d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""The arcs of the arrangement :math:`\{x_i^\perp\}` in the plane.

    Parameters
    ----------
    X : array_like, shape (n, 2)
        Finite inputs, n >= 1 (zero rows are never active and add no breakpoint).

    Returns
    -------
    patterns : ndarray, shape (C, n)
        0/1 activation pattern of each arc (evaluated at the arc's midpoint).
    measures : ndarray, shape (C,)
        Arc length / (2π); they sum to 1.
    midpoints : ndarray, shape (C,)
        Mid angle of each arc, in [0, 2π).
    """
    X = as_real_array(X, "X", ndim=2, copy=False)
    if X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) for the exact d = 2 margin, got {X.shape}")
    nonzero = np.linalg.norm(X, axis=1) > 0
    theta = np.arctan2(X[nonzero, 1], X[nonzero, 0])
    two_pi = 2.0 * np.pi
    if theta.size == 0:
        mid = np.array([np.pi])
        return np.zeros((1, X.shape[0])), np.ones(1), mid
    breaks = np.unique(np.mod(np.concatenate([theta + np.pi / 2, theta - np.pi / 2]), two_pi))
    lengths = np.diff(np.append(breaks, breaks[0] + two_pi))
    mids = np.mod(breaks + lengths / 2.0, two_pi)
    keep = lengths > 0
    breaks, lengths, mids = breaks[keep], lengths[keep], mids[keep]
    U = np.c_[np.cos(mids), np.sin(mids)]
    patterns = (U @ X.T > 0.0).astype(np.float64)
    return patterns, lengths / two_pi, mids


def half_line_cells_1d(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The two cells :math:`z>0`, :math:`z<0` of the line (d = 1), each of Gaussian mass 1/2.

    Returns ``patterns`` (2, n) with :math:`\mathbb 1[x_i>0]` and :math:`\mathbb 1[x_i<0]`,
    and ``measures`` = (1/2, 1/2) (derived here).
    """
    X = as_real_array(X, "X", ndim=2, copy=False)
    if X.shape[1] != 1:
        raise ValueError(f"X must have shape (n, 1) for the exact d = 1 margin, got {X.shape}")
    x = X[:, 0]
    return np.stack([(x > 0), (x < 0)]).astype(np.float64), np.array([0.5, 0.5])
