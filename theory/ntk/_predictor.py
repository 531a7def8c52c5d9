r"""The kernel-limit teacher from the random-feature margin program: a predictor on new points.

The primal of the margin program (:mod:`theory.ntk._program`) gives, for K Gaussian
directions :math:`z_k` and their activation patterns on the training set, a separator
:math:`v_k` with :math:`\|v_k\|\le1` (one per distinct pattern) and the certified margin
:math:`\gamma_K=\min_i\frac1K\sum_k1[\langle z_k,x_i\rangle>0]\,y_i\langle v_k,x_i\rangle`.
Its predictor is the width-K network in tangent form (derived here;
paper, Sec. 'Soft- versus hard-label training of two-layer ReLU networks')

.. math::

    h(x)=\frac1K\sum_{k=1}^K1[\langle z_k,x\rangle>0]\,\langle v_k,x\rangle,
    \qquad g(x)=\frac{h(x)}{\gamma_K},

so that :math:`y_ig(x_i)\ge1` on the training set (the scale :math:`c\propto1/\gamma` of [M25]'s kernel-limit teacher).
On a new point the pattern of :math:`z_k` can differ from every training pattern; each
direction keeps the :math:`v_k` of its own training pattern. Directions active on no
training point get :math:`v_k=0` (a package choice; they do not change any training
margin).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from theory._validation import as_generator, as_int, as_real_array, check_memory
from theory.ntk._margin import check_ntk_data, contradictory_pairs
from theory.ntk._program import solve_margin_program

__all__ = ["MarginPredictor", "margin_predictor"]


@dataclass(frozen=True)
class MarginPredictor:
    r"""The predictor :math:`g(x)=h(x)/\gamma_K` of the random-feature margin program.

    Attributes
    ----------
    directions : ndarray, shape (K, d)
        The Gaussian directions :math:`z_k`.
    separator : ndarray, shape (K, d)
        :math:`v_k` (norm <= 1; 0 for directions inactive on the whole training set).
    margin : float
        :math:`\gamma_K`, the certified primal margin of ``separator`` on the training set.
    gap : float
        Certified primal-dual gap of the program.
    solver : str
    n_patterns : int
        Distinct activation patterns on the training set.
    """

    directions: np.ndarray = field(repr=False)
    separator: np.ndarray = field(repr=False)
    margin: float
    gap: float
    solver: str
    n_patterns: int

    def margin_function(self, X) -> np.ndarray:
        r""":math:`h(x)` on the rows of X (n, d), shape (n,); evaluated in row blocks (memory ~ 8 MiB)."""
        X = as_real_array(X, "X", ndim=2, nonempty=False)
        K, d = self.directions.shape
        if X.shape[1] != d:
            raise ValueError(f"X must have {d} columns (the predictor's input dimension), got shape {X.shape}")
        out = np.empty(X.shape[0])
        block = max(1, 1_000_000 // max(K, 1))
        for lo in range(0, X.shape[0], block):
            xb = X[lo:lo + block]
            act = (xb @ self.directions.T > 0.0).astype(np.float64)  # (b, K)
            out[lo:lo + block] = np.einsum("bd,bd->b", act @ self.separator, xb) / K
        return out

    def __call__(self, X) -> np.ndarray:
        r""":math:`g(x)=h(x)/\gamma_K`, shape (n,)."""
        return self.margin_function(X) / self.margin


def margin_predictor(X, y, n_features, seed, *, solver_options: dict | None = None) -> MarginPredictor:
    r"""Solve the random-feature margin program on (X, y) and return its predictor.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs with :math:`\|x_i\|\le1`.
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    n_features : int >= 1
        K, the number of Gaussian directions (the teacher's width).
    seed : int, SeedSequence or Generator
        Source of the directions.
    solver_options : dict, optional
        Clarabel settings (see :data:`theory.ntk.CLARABEL_SOCP_OPTIONS`).

    Returns
    -------
    MarginPredictor
        ``predictor(X)`` is :math:`g` with :math:`y_ig(x_i)\ge1` on the training set.

    Raises
    ------
    ValueError
        Bad X or y, or contradictory data / a non-positive certified margin (no
        separator: γ = 0), naming the samples.
    """
    X, y, _ = check_ntk_data(X, y)
    K = as_int(n_features, "n_features", low=1)
    if solver_options is not None and not isinstance(solver_options, dict):
        raise TypeError(f"solver_options must be a dict of Clarabel settings or None, got {solver_options!r}")
    rng = as_generator(seed)
    n, d = X.shape
    bad = contradictory_pairs(X, y)
    if bad:
        raise ValueError(f"the NTK margin is 0 (contradictory samples {bad[:5]}): no margin-program teacher exists")
    # Z and V (K x d float64 each) and the boolean patterns (K x n bytes).
    check_memory(16.0 * K * d + 2.0 * K * n, f"margin_predictor(n_features={K}, n={n}, d={d})",
                 hint="use fewer random features")
    Z = rng.standard_normal((K, d))
    packed = np.packbits(Z @ X.T > 0.0, axis=1)
    keep = packed.any(axis=1)
    uniq, inverse = np.unique(packed[keep], axis=0, return_inverse=True)
    inverse = inverse.ravel()
    w = np.bincount(inverse, minlength=uniq.shape[0]) / K
    P = np.unpackbits(uniq, axis=1, count=n).astype(np.float64)
    res = solve_margin_program(P, w, y[:, None] * X, solver_options)
    if not res.primal > 0:
        raise ValueError(f"the random-feature margin program found no positive margin (certified primal "
                         f"{res.primal:.3g} with K = {K}); use more random features")
    V = res.V / np.maximum(np.linalg.norm(res.V, axis=1), 1.0)[:, None]  # the feasible V primal_value certifies
    sep = np.zeros((K, d))
    sep[keep] = V[inverse]
    return MarginPredictor(directions=Z, separator=sep, margin=float(res.primal), gap=float(res.gap),
                           solver=res.solver, n_patterns=int(res.n_patterns))
