r"""Binary datasets with a controllable NTK margin γ, all inside the unit ball.

Pure functions of their arguments and of a ``numpy.random.Generator`` (or seed). Every
function returns ``(X, y)`` with ``X`` of shape (n, d), :math:`\|x_i\|\le1`, and ``y``
of shape (n,) in {-1, +1} (float64), ready for :func:`theory.ntk.ntk_margin`.

* :func:`circle_sectors`: the circle labelled :math:`\mathrm{sign}(\sin k\vartheta)` with a
  bias coordinate (the protocol of the soft/hard section): γ falls as k grows.
* :func:`two_clusters`: two clusters on either side of a slab of width ``gap`` around
  a hyperplane through the origin: :math:`\gamma\ge\gamma_{lin}/2\ge\mathrm{gap}/4`.
* :func:`noisy_two_xor`: the noisy 2-XOR distribution ([JT20] §2 example, after Wei,
  Lee, Liu & Ma 2019): :math:`\gamma=\Theta(1/d)`.
* :func:`flip_labels`: optional label noise (flip each label with a probability).
* :func:`digits_pair`, :func:`breast_cancer`: real data shipped with scikit-learn
  (imported lazily inside the loaders: scikit-learn is only a test extra today).

Choices the sources leave open are parameters: the bias value, how points are placed
on the circle, the cluster geometry, the 2-XOR variant, the normalisation of real data.
"""

from __future__ import annotations

import numpy as np

from theory._validation import as_bool, as_choice, as_generator, as_int, as_real, as_real_array, check_memory

#: Rows with norm up to 1 + NORM_SLACK count as inside the unit ball (rounding of normalised data).
NORM_SLACK = 1e-12

__all__ = ["circle_sectors", "two_clusters", "noisy_two_xor", "flip_labels", "digits_pair",
           "breast_cancer", "scale_to_unit_ball"]


def _labels(values: np.ndarray) -> np.ndarray:
    # sign with sign(0) = +1, so every label is in {-1, +1}
    return np.where(values >= 0.0, 1.0, -1.0)


def as_unit_ball_inputs(X, normalize: bool = False, name: str = "X") -> tuple[np.ndarray, float]:
    r"""Inputs (n, d) of the [JT20] setting, :math:`\|x_i\|\le 1`: the one check every caller uses.

    Returns ``(X, divisor)``: X as float64 and 1.0, or, when some row is longer than 1
    and ``normalize`` is true, X divided by its largest row norm and that norm (one common
    factor keeps angles and norm ratios; γ scales by 1/divisor). Longer rows without
    ``normalize`` raise ``ValueError`` naming the row and its norm.
    """
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    X = as_real_array(X, name, ndim=2)
    norms = np.sqrt(np.einsum("ij,ij->i", X, X))
    big = int(np.argmax(norms))
    if norms[big] <= 1.0 + NORM_SLACK:
        return X, 1.0
    if not normalize:
        raise ValueError(
            f"{name} must have rows of Euclidean norm <= 1 (the [JT20] setting); row {big} has norm "
            f"{norms[big]:.6g}. Rescale the data or pass normalize=True to divide by the largest norm"
        )
    divisor = float(norms[big])
    return X / divisor, divisor


def scale_to_unit_ball(X) -> np.ndarray:
    r"""Divide ``X`` (n, d) by its largest row norm, so that :math:`\max_i\|x_i\|=1`.

    Angles and norm ratios are kept (γ scales by the same factor). An all-zero X is
    returned unchanged.
    """
    X = as_real_array(X, "X", ndim=2, nonempty=False)
    m = float(np.linalg.norm(X, axis=1).max()) if X.size else 0.0
    return X / m if m > 0 else X.copy()


def circle_sectors(n, k, seed=None, *, bias: float = 1.0, placement: str = "random",
                   label_noise: float = 0.0):
    r"""Points on the circle labelled :math:`y=\mathrm{sign}(\sin k\vartheta)`, with a bias coordinate.

    .. math:: x=\frac{(\cos\vartheta,\ \sin\vartheta,\ b)}{\sqrt{1+b^2}},\qquad
              y=\mathrm{sign}(\sin k\vartheta)\ (\mathrm{sign}\,0=+1),

    so :math:`\|x\|=1`; the 2k sectors alternate labels and γ falls as k grows. With
    ``bias=0`` the bias coordinate is dropped and d = 2 (then :func:`theory.ntk.ntk_margin`
    computes γ exactly).

    Parameters
    ----------
    n : int >= 1
        Number of points.
    k : int >= 1
        Number of sign changes per half-turn.
    seed : int, SeedSequence or Generator, optional
        Needed for ``placement="random"`` and for label noise.
    bias : float >= 0, default 1
        The constant coordinate b before normalisation (our choice; the protocol's
        calibration run uses b = 1).
    placement : {"random", "even"}, default "random"
        ``"random"``: :math:`\vartheta` i.i.d. uniform on :math:`[0,2\pi)`. ``"even"``:
        :math:`\vartheta_j=2\pi(j+\tfrac12)/n`, a fixed sample (when 2k divides n no
        point lies within :math:`\pi/n` of a label boundary).
    label_noise : float in [0, 1/2], default 0
        Probability of flipping each label (see :func:`flip_labels`).

    Returns
    -------
    X : ndarray, shape (n, 3), or (n, 2) when ``bias == 0``
    y : ndarray, shape (n,)
    """
    n = as_int(n, "n", low=1)
    k = as_int(k, "k", low=1)
    bias = as_real(bias, "bias", low=0.0)
    placement = as_choice(placement, "placement", ("random", "even"))
    label_noise = as_real(label_noise, "label_noise", low=0.0, high=0.5)
    # theta, three columns, X and y: about 8 float64 vectors of length n.
    check_memory(64.0 * n, f"circle_sectors(n={n})", hint="use a smaller n")
    if placement == "random":
        theta = as_generator(seed).uniform(0.0, 2.0 * np.pi, n)
    else:
        theta = 2.0 * np.pi * (np.arange(n) + 0.5) / n
    cols = [np.cos(theta), np.sin(theta)] + ([np.full(n, bias)] if bias > 0 else [])
    X = np.column_stack(cols) / np.sqrt(1.0 + bias ** 2)
    y = _labels(np.sin(k * theta))
    if label_noise:
        y = flip_labels(y, label_noise, seed)
    return X, y


def two_clusters(n, gap, seed, *, d: int = 2, label_noise: float = 0.0):
    r"""Two clusters separated by a slab of width ``gap`` around :math:`e_1^\perp`.

    Sample i has label :math:`y_i=\pm1` (balanced: the first :math:`\lceil n/2\rceil`
    are +1), first coordinate :math:`y_i a_i` with :math:`a_i\sim U[\mathrm{gap}/2,\,1]`,
    and the other coordinates uniform in the ball of radius :math:`\sqrt{1-a_i^2}`, so
    :math:`\|x_i\|\le1` and the linear margin along :math:`e_1` is at least gap/2; hence
    :math:`\gamma\ge\mathrm{gap}/4` by the linear bound (noise-free labels) (derived here).

    Parameters
    ----------
    n : int >= 2
    gap : float in (0, 2]
    seed : int, SeedSequence or Generator
    d : int >= 1, default 2
    label_noise : float in [0, 1/2], default 0

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
    """
    n = as_int(n, "n", low=2)
    gap = as_real(gap, "gap", low=0.0, high=2.0, low_open=True)
    d = as_int(d, "d", low=1)
    label_noise = as_real(label_noise, "label_noise", low=0.0, high=0.5)
    # X, the Gaussian directions and a few length-n vectors.
    check_memory(8.0 * n * (2 * d + 4), f"two_clusters(n={n}, d={d})", hint="use a smaller n or d")
    rng = as_generator(seed)
    y = np.where(np.arange(n) < (n + 1) // 2, 1.0, -1.0)
    a = rng.uniform(gap / 2.0, 1.0, n)
    X = np.zeros((n, d))
    X[:, 0] = y * a
    if d > 1:
        g = rng.standard_normal((n, d - 1))
        g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), np.finfo(float).tiny)
        radius = np.sqrt(np.clip(1.0 - a ** 2, 0.0, None)) * rng.uniform(0.0, 1.0, n) ** (1.0 / (d - 1))
        X[:, 1:] = g * radius[:, None]
    if label_noise:
        y = flip_labels(y, label_noise, rng)
    return X, y


def noisy_two_xor(d, n=None, seed=None, *, variant: str = "axes"):
    r"""The noisy 2-XOR distribution ([JT20] §2 example; construction (not confirmed in the source)).

    ``variant="axes"`` (Wei, Lee, Liu & Ma 2019, as used by [JT20]): the first two
    coordinates are one of :math:`(\pm1,0),(0,\pm1)` with label +1 on the first axis
    and -1 on the second, the other d - 2 coordinates are :math:`\pm1`, and everything
    is divided by :math:`\sqrt{d-1}`, so :math:`\|x\|=1` exactly. ``variant="signs"``
    (this wording): all d coordinates :math:`\pm1`, label the product of the first
    two signs, divided by :math:`\sqrt d` so that :math:`\|x\|=1` (the scale
    :math:`1/\sqrt{d-1}` would give :math:`\|x\|>1`). The two differ by a 45° rotation
    and a rescaling of the first two coordinates. Either way
    :math:`\gamma=\Theta(1/d)`; this separator gives
    :math:`\gamma\ge\arcsin(1/\sqrt{d-1})/(\pi\sqrt{2(d-1)})\approx0.225/d` (derived for
    this variant).

    Parameters
    ----------
    d : int >= 3
    n : int >= 1, optional
        Number of i.i.d. samples from the uniform distribution on the support. ``None``
        returns the whole support (:math:`2^d` points; refused above d = 20).
    seed : int, SeedSequence or Generator, optional
        Needed when ``n`` is given.
    variant : {"axes", "signs"}, default "axes"

    Returns
    -------
    X : ndarray, shape (n, d) or (2**d, d)
    y : ndarray, shape (n,) or (2**d,)
    """
    d = as_int(d, "d", low=3)
    variant = as_choice(variant, "variant", ("axes", "signs"))
    rng = None if seed is None else as_generator(seed)  # checked even when unused (n=None)
    if n is None:
        if d > 20:
            raise ValueError(f"the whole 2-XOR support has 2**d points; d = {d} > 20 is too many, pass n")
        rest = 1.0 - 2.0 * ((np.arange(2 ** (d - 2))[:, None] >> np.arange(d - 2)) & 1)
        head_idx = np.repeat(np.arange(4), rest.shape[0])
        rest = np.tile(rest, (4, 1))
    else:
        n = as_int(n, "n", low=1)
        if rng is None:
            rng = as_generator(seed)  # names the missing seed
        head_idx = rng.integers(0, 4, n)
        rest = rng.choice(np.array([-1.0, 1.0]), size=(n, d - 2))
    if variant == "axes":
        heads = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
        labels = np.array([1.0, 1.0, -1.0, -1.0])
        X = np.column_stack([heads[head_idx], rest]) / np.sqrt(d - 1.0)
    else:
        heads = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
        labels = np.array([1.0, 1.0, -1.0, -1.0])
        X = np.column_stack([heads[head_idx], rest]) / np.sqrt(float(d))
    return X, labels[head_idx]


def flip_labels(y, rate, seed):
    r"""Flip each label independently with probability ``rate`` (label noise).

    Parameters
    ----------
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    rate : float in [0, 1/2]
    seed : int, SeedSequence or Generator

    Returns
    -------
    ndarray, shape (n,)
    """
    y = as_real_array(y, "y", ndim=1, nonempty=False)
    rate = as_real(rate, "rate", low=0.0, high=0.5)
    rng = as_generator(seed)
    flip = rng.random(y.shape[0]) < rate
    return np.where(flip, -y, y)


def digits_pair(a: int = 3, b: int = 8, *, center: bool = True, bias: float = 0.0):
    r"""Two digit classes of ``sklearn.datasets.load_digits`` (8x8 images), label +1 for ``a``.

    The 64 pixel intensities (0..16) are centred by their mean over the pair if
    ``center``, a constant ``bias`` coordinate is appended if ``bias > 0``, and the
    result is divided by its largest row norm (:func:`scale_to_unit_ball`).
    scikit-learn is imported here, lazily.

    Returns
    -------
    X : ndarray, shape (n_a + n_b, 64) or (., 65)
    y : ndarray
    """
    a = as_int(a, "a", low=0, high=9)
    b = as_int(b, "b", low=0, high=9)
    if a == b:
        raise ValueError(f"a and b must be two different digits, got a = b = {a}")
    center = as_bool(center, "center")
    bias = as_real(bias, "bias", low=0.0)
    from sklearn.datasets import load_digits

    data = load_digits()
    keep = (data.target == a) | (data.target == b)
    X = data.data[keep].astype(np.float64)
    y = np.where(data.target[keep] == a, 1.0, -1.0)
    return _prepare(X, center, bias), y


def breast_cancer(*, standardize: bool = True, bias: float = 0.0):
    r"""``sklearn.datasets.load_breast_cancer`` (569 x 30), label +1 for benign.

    Features are standardised (zero mean, unit variance per column) if ``standardize``
    (the raw columns differ in scale by 1e4), a ``bias`` coordinate is appended if
    ``bias > 0``, and the rows are divided by the largest row norm. scikit-learn is
    imported here, lazily.

    Returns
    -------
    X : ndarray, shape (569, 30) or (569, 31)
    y : ndarray, shape (569,)
    """
    standardize = as_bool(standardize, "standardize")
    bias = as_real(bias, "bias", low=0.0)
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    X = data.data.astype(np.float64)
    if standardize:
        X = (X - X.mean(axis=0)) / X.std(axis=0)
    y = np.where(data.target == 1, 1.0, -1.0)
    return _prepare(X, False, bias), y


def _prepare(X: np.ndarray, center: bool, bias: float) -> np.ndarray:
    if center:
        X = X - X.mean(axis=0)
    if bias > 0:
        X = np.column_stack([X, np.full(X.shape[0], bias * np.linalg.norm(X, axis=1).max())])
    return scale_to_unit_ball(X)
