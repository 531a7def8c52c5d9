r"""The first-layer NTK of a two-layer ReLU net and its random features.

For the [JT20] model :math:`f(x;W)=\frac1{\sqrt m}\sum_s a_s\sigma(\langle w_s,x\rangle)`
with fixed signs :math:`a_s` and Gaussian initial rows :math:`w_s\sim\mathcal N(0,I_d)`,
the gradient features of one neuron at initial weight :math:`z` are
:math:`x\,\mathbb 1[\langle z,x\rangle>0]`, and their kernel is

.. math::

    K_1(x,x')=\mathbb E_{z\sim\mathcal N(0,I_d)}\big[\langle x,x'\rangle
    \mathbb 1[\langle z,x\rangle>0]\,\mathbb 1[\langle z,x'\rangle>0]\big]
    =\langle x,x'\rangle\,\frac{\pi-\theta(x,x')}{2\pi},

with :math:`\theta(x,x')\in[0,\pi]` the angle between x and x' (derived here: the
probability that a Gaussian direction has positive inner product with both x and x'
is the measure of the intersection of two half-circles, :math:`(\pi-\theta)/(2\pi)`).

References: [JT20] Z. Ji, M. Telgarsky, ICLR 2020, arXiv 1909.12292;
[M25] S. Mandal, X. Lin, R. Srikant, L4DC 2025, arXiv 2412.09579.
"""

from __future__ import annotations

import numpy as np

from theory._validation import as_generator, as_int, as_real_array, check_memory

__all__ = ["first_layer_kernel", "activation_overlap", "gaussian_directions", "activation_pattern"]


def _as_inputs(X, name: str, d: int | None = None) -> np.ndarray:
    X = as_real_array(X, name, ndim=2)
    if d is not None and X.shape[1] != d:
        raise ValueError(f"{name} must have shape (n2, {d}) to match X, got {X.shape}")
    return X


def activation_overlap(X, X2=None) -> np.ndarray:
    r"""Probability that a Gaussian neuron is active on both inputs.

    .. math:: P_z(\langle z,x\rangle>0,\ \langle z,x'\rangle>0)=\frac{\pi-\theta(x,x')}{2\pi}.

    Parameters
    ----------
    X : array_like, shape (n, d)
    X2 : array_like, shape (n2, d), optional
        Defaults to ``X``.

    Returns
    -------
    ndarray, shape (n, n2)
        Entries in [0, 1/2]. A zero input is never active (entry 0).
    """
    _precheck_gram_memory(X, X2, "activation_overlap")
    X = _as_inputs(X, "X")
    X2 = X if X2 is None else _as_inputs(X2, "X2", X.shape[1])
    _check_gram_memory(X, X2, "activation_overlap")
    return (np.pi - _angles(X, X2)) / (2.0 * np.pi) * _nonzero(X, X2)


def _check_gram_memory(X: np.ndarray, X2: np.ndarray, what: str) -> None:
    # The (n, n2) result and about three temporaries of that size (angles, mask, X X2^T).
    n, n2 = X.shape[0], X2.shape[0]
    check_memory(32.0 * n * n2, f"{what} of X with {n} rows and X2 with {n2} rows",
                 hint="use fewer rows of X (and X2)")


def _precheck_gram_memory(X, X2, what: str) -> None:
    # Refuse an (n, n2) result that cannot fit before converting the inputs (a huge
    # broadcast view would otherwise be copied and scanned first).
    X2 = X if X2 is None else X2
    if all(isinstance(a, np.ndarray) and a.ndim == 2 for a in (X, X2)):
        _check_gram_memory(X, X2, what)


def _nonzero(X: np.ndarray, X2: np.ndarray) -> np.ndarray:
    return np.outer(np.linalg.norm(X, axis=1) > 0, np.linalg.norm(X2, axis=1) > 0)


def _angles(X: np.ndarray, X2: np.ndarray, block_elems: int = 2**22) -> np.ndarray:
    r"""Angles between rows, :math:`\theta=2\arctan(\|u-u'\|/\|u+u'\|)` for unit u, u'.

    Kahan's form is accurate to rounding for nearly parallel and nearly opposite pairs,
    where :math:`\arccos` of the cosine loses half the digits (an error ~1e-8 in
    :math:`K_1(x,x)`). Zero rows get angle pi/2 (their kernel entries are 0 anyway).
    Computed in row blocks of at most ``block_elems`` floats.
    """
    def unit(A):
        nrm = np.linalg.norm(A, axis=1, keepdims=True)
        return np.divide(A, nrm, out=np.zeros_like(A), where=nrm > 0)

    U, U2 = unit(X), unit(X2)
    out = np.empty((X.shape[0], X2.shape[0]))
    step = max(1, block_elems // max(1, X2.shape[0] * X.shape[1]))
    for s in range(0, X.shape[0], step):
        D = U[s:s + step, None, :] - U2[None, :, :]
        S = U[s:s + step, None, :] + U2[None, :, :]
        out[s:s + step] = 2.0 * np.arctan2(np.linalg.norm(D, axis=2), np.linalg.norm(S, axis=2))
    return out


def first_layer_kernel(X, X2=None) -> np.ndarray:
    r"""The closed-form first-layer NTK :math:`K_1` of a two-layer ReLU net.

    .. math::

        K_1(x,x')=\langle x,x'\rangle\,\frac{\pi-\theta(x,x')}{2\pi},
        \qquad\theta(x,x')=\arccos\frac{\langle x,x'\rangle}{\|x\|\|x'\|}\in[0,\pi],

    the expectation over :math:`z\sim\mathcal N(0,I_d)` of
    :math:`\langle x\mathbb 1[\langle z,x\rangle>0],x'\mathbb 1[\langle z,x'\rangle>0]\rangle`
    ([JT20] §2, the kernel of the features :math:`\phi_i`; derived here;
    check S.1). Positive semi-definite as a Gram matrix of
    features; a zero row gives a zero row of K.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs, one per row (finite).
    X2 : array_like, shape (n2, d), optional
        Second set of inputs; defaults to ``X`` (then the result is symmetric).

    Returns
    -------
    ndarray, shape (n, n2)
        :math:`K_1(x_i, x'_j)`, float64.

    Examples
    --------
    >>> import numpy as np
    >>> float(first_layer_kernel(np.array([[1.0, 0.0]]), np.array([[0.0, 2.0]]))[0, 0])
    0.0
    >>> float(first_layer_kernel(np.array([[1.0, 0.0]]))[0, 0])
    0.5
    """
    _precheck_gram_memory(X, X2, "first_layer_kernel")
    X = _as_inputs(X, "X")
    X2 = X if X2 is None else _as_inputs(X2, "X2", X.shape[1])
    _check_gram_memory(X, X2, "first_layer_kernel")
    return (X @ X2.T) * activation_overlap(X, X2)


def gaussian_directions(n_features, d, seed) -> np.ndarray:
    r"""``n_features`` i.i.d. :math:`z_k\sim\mathcal N(0,I_d)`, the initial neuron weights.

    Parameters
    ----------
    n_features : int >= 1
    d : int >= 1
    seed : int, SeedSequence or Generator

    Returns
    -------
    ndarray, shape (n_features, d)
    """
    K = as_int(n_features, "n_features", low=1)
    d = as_int(d, "d", low=1)
    check_memory(8.0 * K * d, f"gaussian_directions(n_features={K}, d={d})", hint="use fewer features")
    return as_generator(seed).standard_normal((K, d))


def activation_pattern(Z, X) -> np.ndarray:
    r"""The activation matrix :math:`A_{ki}=\mathbb 1[\langle z_k,x_i\rangle>0]` (float64 0/1).

    Parameters
    ----------
    Z : array_like, shape (K, d)
    X : array_like, shape (n, d)

    Returns
    -------
    ndarray, shape (K, n)
    """
    Z = as_real_array(Z, "Z", ndim=2)
    X = _as_inputs(X, "X", Z.shape[1])
    return (Z @ X.T > 0.0).astype(np.float64)
