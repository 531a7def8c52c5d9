r"""The two-layer ReLU model, its initialisations and input checks.

.. math::

    f(x; W) = \frac{1}{\sqrt m}\sum_{s=1}^m a_s\,\mathrm{relu}(\langle w_s, x\rangle),
    \qquad W \in \mathbb R^{m\times d}\ \text{(rows } w_s),\quad a_s \in \{-1, +1\}\ \text{fixed},

the [JT] setting of paper, Sec. 'Soft- versus hard-label training of two-layer ReLU networks': only W is trained,
NTK scaling 1/sqrt(m), no bias, inputs with ||x|| <= 1, relu'(0) = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from theory._validation import as_choice, as_int, as_real_array, check_memory, check_shape
from theory.ntk.data import as_unit_ball_inputs

__all__ = ["INITS", "KINDS", "TwoLayerParams", "forward", "init_two_layer"]

INITS = ("standard", "coupled")
KINDS = ("hard", "soft")

# ||x|| <= 1 is checked with this relative slack, so that rows normalised in
# floating point (norm 1 + a few eps) pass


@dataclass(frozen=True)
class TwoLayerParams:
    """Parameters of one network.

    Attributes
    ----------
    W : ndarray, shape (m, d)
        First-layer weights (rows w_s), the trained part.
    a : ndarray, shape (m,)
        Output signs a_s in {-1, +1}, fixed.

    Both are checked on construction (finite, real, m >= 1, d >= 1, matching m, signs
    in {-1, +1}) and held as float64 (no copy when they already are).
    """

    W: np.ndarray
    a: np.ndarray

    def __post_init__(self):
        W = as_real_array(self.W, "W", ndim=2, copy=False)
        a = as_real_array(self.a, "a", ndim=1, copy=False)
        check_shape(a, "a", (W.shape[0],))
        bad = np.flatnonzero(np.abs(a) != 1.0)
        if bad.size:
            raise ValueError(f"a must hold output signs in {{-1, +1}}; a[{bad[0]}] = {float(a[bad[0]])!r}")
        object.__setattr__(self, "W", W)
        object.__setattr__(self, "a", a)

    @property
    def width(self) -> int:
        """m, the number of hidden units."""
        return int(self.W.shape[0])

    @property
    def dim(self) -> int:
        """d, the input dimension."""
        return int(self.W.shape[1])


def init_two_layer(d, width, seed=0, init="standard") -> TwoLayerParams:
    r"""Draw initial parameters W_0 (m, d) and a (m,).

    ``"standard"``: :math:`w_{s,0} \sim N(0, I_d)` and :math:`a_s \sim \mathrm{Unif}\{\pm1\}`,
    all independent. ``"coupled"`` (the symmetric initialisation of [MOSW22]): m/2
    independent pairs, rows 2k and 2k+1 equal with opposite signs, so that
    :math:`f(\cdot; W_0) \equiv 0` exactly (the pair's terms cancel in floating point
    because they are added next to each other).

    W and a come from two independent streams spawned from ``seed``, filled row by
    row, so for one seed the network of width m is the first m units of the network
    of width 2m (nested widths) (a package choice).

    Parameters
    ----------
    d : int
        Input dimension, >= 1.
    width : int
        m >= 1 (even for ``"coupled"``).
    seed : int, numpy.random.SeedSequence
        Seed of the draw.
    init : {"standard", "coupled"}

    Returns
    -------
    TwoLayerParams
    """
    d = as_int(d, "d", low=1)
    width = as_int(width, "width", low=1)
    init = as_choice(init, "init", INITS)
    # W (width x d) and a (width,) in float64, plus the generators' temporaries.
    check_memory(16.0 * width * (d + 1), f"init_two_layer(d={d}, width={width})", hint="use a smaller width")
    ss = _seed_sequence(seed)
    w_seq, a_seq = ss.spawn(2)
    rw = np.random.default_rng(w_seq)
    ra = np.random.default_rng(a_seq)
    if init == "standard":
        W = rw.standard_normal((width, d))
        a = 2.0 * ra.integers(0, 2, size=width).astype(np.float64) - 1.0
    else:
        if width % 2:
            raise ValueError(f"width must be even for init='coupled' (pairs of units), got {width}")
        half = width // 2
        Wh = rw.standard_normal((half, d))
        ah = 2.0 * ra.integers(0, 2, size=half).astype(np.float64) - 1.0
        W = np.repeat(Wh, 2, axis=0)
        a = np.empty(width)
        a[0::2] = ah
        a[1::2] = -ah
    return TwoLayerParams(W=np.ascontiguousarray(W), a=a)


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int >= 0 or a numpy.random.SeedSequence, got {seed!r} "
                        f"of type {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed}")
    return np.random.SeedSequence(int(seed))


def check_seed(seed, name: str = "seed"):
    """``seed`` unchanged if it is an int >= 0 or a numpy.random.SeedSequence; else a clear error naming ``name``."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= 0 or a numpy.random.SeedSequence, got {seed!r} "
                        f"of type {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"{name} must be an int >= 0, got {seed}")
    return seed


def check_params(params, d=None) -> TwoLayerParams:
    """Validate a TwoLayerParams (float64 W (m, d), a (m,) in {-1, +1})."""
    if not isinstance(params, TwoLayerParams):
        raise TypeError(f"params must be a TwoLayerParams (see init_two_layer), got {type(params).__name__}")
    W = as_real_array(params.W, "params.W", ndim=2)
    if d is not None and W.shape[1] != d:
        raise ValueError(f"params.W must have shape (m, {d}) to match X, got {W.shape}")
    a = as_real_array(params.a, "params.a", ndim=1)
    check_shape(a, "params.a", (W.shape[0],))
    bad = np.flatnonzero(np.abs(a) != 1.0)
    if bad.size:
        raise ValueError(f"params.a must hold output signs in {{-1, +1}}; params.a[{bad[0]}] = {float(a[bad[0]])!r}")
    return TwoLayerParams(W=np.ascontiguousarray(W), a=a)


def check_inputs(X, normalize=False):
    """X as a float64 (n, d) array with every row norm <= 1.

    Returns ``(X, scale)``. Rows longer than 1 are refused unless ``normalize``;
    then X is divided by its largest row norm (one common factor, which keeps the
    geometry) and ``scale`` is that factor (1.0 otherwise) (a package choice).
    """
    X, scale = as_unit_ball_inputs(X, normalize)
    return np.ascontiguousarray(X), scale


def check_targets(targets, n, kind):
    """Targets for ``kind``: labels in {-1, +1} (hard) or probabilities in [0, 1] (soft), shape (n,)."""
    name = "targets"
    t = as_real_array(targets, name, ndim=1)
    check_shape(t, name, (n,))
    if kind == "hard":
        bad = np.flatnonzero((t != 1.0) & (t != -1.0))
        if bad.size:
            raise ValueError(f"{name} must be labels in {{-1, +1}} for kind='hard'; "
                             f"{name}[{bad[0]}] = {float(t[bad[0]])!r}")
    else:
        bad = np.flatnonzero((t < 0.0) | (t > 1.0))
        if bad.size:
            raise ValueError(f"{name} must be probabilities in [0, 1] for kind='soft'; "
                             f"{name}[{bad[0]}] = {float(t[bad[0]])!r}")
    return t


def check_labels(labels, n):
    """Labels in {-1, +1}, shape (n,)."""
    y = as_real_array(labels, "labels", ndim=1)
    check_shape(y, "labels", (n,))
    bad = np.flatnonzero((y != 1.0) & (y != -1.0))
    if bad.size:
        raise ValueError(f"labels must be in {{-1, +1}}; labels[{bad[0]}] = {float(y[bad[0]])!r}")
    return y


def forward(params, X, *, normalize=False) -> np.ndarray:
    r"""Network outputs :math:`f(x_i; W)` for the rows of X.

    Parameters
    ----------
    params : TwoLayerParams
        W (m, d), a (m,).
    X : array_like, shape (n, d)
        Inputs with ||x_i|| <= 1 (see ``normalize``).
    normalize : bool
        Divide X by its largest row norm when it exceeds 1 instead of refusing.

    Returns
    -------
    ndarray, shape (n,)
        :math:`f_i = m^{-1/2}\sum_s a_s \mathrm{relu}(\langle w_s, x_i\rangle)`, summed
        over s in order by the same kernel as training (coupled pairs cancel exactly).
    """
    from sims.twolayer._train import outputs  # noqa: PLC0415 (kernel wrapper lives with the runner)

    X, _ = check_inputs(X, normalize)
    params = check_params(params, X.shape[1])
    return outputs(params, X)
