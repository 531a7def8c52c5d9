r"""Linear next-token prediction: data model, loss, entropy bound, data subspace F and W*.

Implements the smooth ("finite") side of

    [T24] C. Thrampoulidis, *Implicit Optimization Bias of Next-Token Prediction in
    Linear Models*, NeurIPS 2024, arXiv 2402.18551.

Notation (spec ``ntp_implicit_bias.md`` §1). There are :math:`m` distinct contexts with
fixed embeddings :math:`\bar h_j\in\mathbb R^d` (the **rows** ``H[j]`` of ``H``), a
vocabulary of :math:`V` tokens, empirical context frequencies :math:`\hat\pi_j` and
next-token distributions :math:`\hat p_j` with supports :math:`\mathcal S_j`. The model
is the linear decoder :math:`W\in\mathbb R^{V\times d}` (array shape ``(V, d)``) with
logits :math:`W\bar h_j`; the logit matrix of all contexts is ``H @ W.T`` (shape
``(m, V)``).

* :func:`ntp_loss` is the cross-entropy (eq. 2), :func:`entropy` its lower bound
  :math:`\mathcal H`, and :func:`loss_gap` the difference
  :math:`\sum_j\hat\pi_j\,\mathrm{KL}(\hat p_j\,\|\,\mathbb S(W\bar h_j))`, computed directly
  (never as a difference of two losses): ~1e-15 relative accuracy when the
  out-of-support mass dominates, ~1e-10 when a 1e-12 gap comes from in-support
  mismatch (the KL's own conditioning), where ``ntp_loss - entropy`` has ~1e-4.
* :func:`data_subspace` builds the data subspace :math:`F` (eq. 5) with projections onto
  :math:`F` and :math:`F^\perp`; :func:`finite_component` returns :math:`W^\star`, the
  unique solution of the log-odds equations (eq. 4) inside :math:`F`.

The max-margin side (NTP-separability, the NTP-SVM direction :math:`W^{mm}`) lives in
``theory.ntp_svm`` / ``theory.maxmargin``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import types
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.special

from theory._validation import as_int, as_real_array, check_memory

__all__ = [
    "NTPData",
    "classification_data",
    "binary_data",
    "logistic_weights",
    "data_fingerprint",
    "entropy_from_arrays",
    "DataSubspace",
    "FiniteComponent",
    "entropy",
    "ntp_loss",
    "loss_gap",
    "ntp_gradient",
    "in_support_residual",
    "log_odds_residual",
    "data_subspace",
    "finite_component",
    "smoothness_bound",
    "genie_bound",
    "TOY_2D_SUPPORTS",
    "TOY_2D_EMBEDDINGS",
]

#: Tolerance on ``|sum(row) - 1|`` for rows of ``P`` and for ``pi``.
SUM_TOL = 1e-9

#: Supports of the 2-D toy of [T24] Figs. 1-2 (0-based; the paper's 1-based labels are
#: {1,2,5}, {1,4,5}, {2,3,4}), for contexts A, B, C in that order.
TOY_2D_SUPPORTS: tuple[tuple[int, ...], ...] = ((0, 1, 4), (0, 3, 4), (1, 2, 3))

#: Context embeddings of the 2-D toy ([open] in [T24]): unit vectors at 90, 210 and
#: 330 degrees (A on top, B lower left, C lower right). With these supports they are
#: NTP-compatible (the 6 generators of F are independent) and NTP-separable (checked by
#: a linear program in the tests), although d = 2 < m = 3; only about a quarter of
#: Gaussian 3x2 embeddings are separable for these supports.
TOY_2D_EMBEDDINGS: np.ndarray = np.array(
    [[np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))] for a in (90.0, 210.0, 330.0)]
)
TOY_2D_EMBEDDINGS.setflags(write=False)

_EMBEDDINGS = ("gaussian", "unit", "orthonormal", "one_hot")


# --------------------------------------------------------------------------------------
# input helpers
# --------------------------------------------------------------------------------------
def _as_real_array(x: Any, name: str, ndim: int | None = None) -> np.ndarray:
    """Convert ``x`` to a finite float64 array, or raise an error naming ``name``."""
    if isinstance(x, np.ndarray) and x.dtype == object or isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a real numeric array, got {type(x).__name__} {x!r:.80}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged nested lists etc.
        raise TypeError(f"{name} must be a real numeric array; conversion failed: {exc}") from exc
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64, copy=True)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(int(i) for i in bad[0])
        raise ValueError(
            f"{name} must be finite (no NaN or inf); {name}[{', '.join(map(str, idx))}] = {float(arr[idx])!r}"
        )
    return arr


def _as_rng(rng: Any, name: str = "rng") -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be a numpy.random.Generator or an int seed, got {type(rng).__name__} {rng!r}"
    )


def _as_int(x: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(x).__name__} {x!r}")
    x = int(x)
    if x < low or (high is not None and x > high):
        rng_txt = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be {rng_txt}, got {x}")
    return x


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def _masked_lse(L: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Row-wise log-sum-exp of ``L`` over ``mask`` (every row must have a True entry)."""
    mx = np.max(np.where(mask, L, -np.inf), axis=-1)
    z = np.exp(np.where(mask, L - mx[..., None], -np.inf))
    return mx + np.log(np.sum(z, axis=-1))


# --------------------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class NTPData:
    r"""A next-token-prediction training set in distinct-context form :math:`\mathcal T_m`.

    [T24] §2 (spec §1.1): :math:`\mathcal T_m=\{(\bar h_j,\hat\pi_j,\hat p_j)\}_{j\in[m]}`.
    Arrays are converted to float64, validated, copied and made read-only; after
    validation the rows of ``P`` and ``pi`` are divided by their sums (a relative change
    of at most :data:`SUM_TOL`), so that :func:`entropy`, :func:`ntp_loss` and
    :func:`loss_gap` refer to the same normalised distributions.

    Parameters
    ----------
    H : array_like, shape (m, d)
        Distinct-context embeddings as **rows**: :math:`\bar h_j` = ``H[j]``. (The paper's
        :math:`\bar H\in\mathbb R^{d\times m}` is ``H.T``.)
    P : array_like, shape (m, V)
        Next-token distributions :math:`\hat p_{j,z}=\hat p(z\mid\bar x_j)`: nonnegative,
        rows summing to 1 (tolerance :data:`SUM_TOL`), and every support
        :math:`\mathcal S_j=\{z:\hat p_{j,z}>0\}` a **strict** subset of the vocabulary.
        (The theory allows full-support contexts; they have no margin constraints (6b).
        The package requires at least one out-of-support token per context, so that
        every context takes part in the max-margin problem; filter such contexts, e.g.
        with ``full_support="drop"`` in :meth:`from_sequences`.)
    pi : array_like, shape (m,)
        Context frequencies :math:`\hat\pi_j>0`, summing to 1 (tolerance :data:`SUM_TOL`).
    contexts : tuple, optional, keyword-only
        Length-``m`` labels of the contexts (e.g. token tuples); metadata only.
    vocabulary : tuple, optional, keyword-only
        Length-``V`` labels of the tokens (e.g. characters); metadata only.
    meta : mapping, optional, keyword-only
        Provenance (source, seed, Python version, ...); stored read-only.

    Attributes
    ----------
    m, d, V : int
        Number of distinct contexts, embedding dimension, vocabulary size.
    support : ndarray of bool, shape (m, V)
        ``P > 0``.
    support_sizes : ndarray of int, shape (m,)
        :math:`S_j=|\mathcal S_j|`.
    supports : tuple of ndarray of int
        ``supports[j]`` = sorted token ids of :math:`\mathcal S_j`.
    anchors : ndarray of int, shape (m,)
        The anchor token :math:`z_j\in\mathcal S_j` used in the anchored generators of F
        and in the log-odds equations: the **most probable** in-support token (smallest
        id on ties). Any anchor gives the same F and W*; the most probable one makes
        every log-odds :math:`\log(\hat p_{j,z_j}/\hat p_{j,z})` nonnegative.
    is_one_hot : bool
        Every :math:`S_j=1` (one-hot classification, [T24] Remark 1).
    log_P : ndarray, shape (m, V)
        :math:`\log\hat p_{j,z}` in-support, 0 off-support.
    digest : str
        SHA-256 of ``(H, P, pi)``: a stable key for result stores.

    Raises
    ------
    TypeError
        Non-numeric or complex input.
    ValueError
        Wrong dimensions or inconsistent shapes, NaN/inf, negative entries of ``P``, rows
        of ``P`` not summing to 1, a row of ``P`` supported on the whole vocabulary,
        nonpositive ``pi`` or ``pi`` not summing to 1. Messages name the argument and
        the offending row.

    Notes
    -----
    Distinct contexts may share an embedding; then the data can fail to be
    NTP-compatible (see :func:`finite_component`). Arrays compare by identity
    (``eq=False``); compare :attr:`digest` for content equality.

    Examples
    --------
    >>> import numpy as np
    >>> data = NTPData(H=np.eye(2), P=[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]], pi=[0.25, 0.75])
    >>> data.m, data.d, data.V, data.support_sizes.tolist()
    (2, 2, 3, [2, 1])
    """

    H: np.ndarray
    P: np.ndarray
    pi: np.ndarray
    contexts: tuple | None = field(default=None, kw_only=True, repr=False)
    vocabulary: tuple | None = field(default=None, kw_only=True, repr=False)
    meta: Mapping[str, Any] = field(default_factory=dict, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        H = _as_real_array(self.H, "H", ndim=2)
        P = _as_real_array(self.P, "P", ndim=2)
        pi = _as_real_array(self.pi, "pi", ndim=1)
        m, d = H.shape
        if m < 1 or d < 1:
            raise ValueError(f"H must have shape (m, d) with m >= 1 and d >= 1, got {H.shape}")
        if P.shape[0] != m:
            raise ValueError(
                f"P has {P.shape[0]} rows but H has {m} rows; P must have shape (m, V) = ({m}, V), "
                f"one row per distinct context (got P.shape = {P.shape})"
            )
        V = P.shape[1]
        if V < 2:
            raise ValueError(f"P must have at least 2 columns (vocabulary size V >= 2), got P.shape = {P.shape}")
        if pi.shape != (m,):
            raise ValueError(f"pi must have shape (m,) = ({m},) to match H and P, got {pi.shape}")
        neg = np.argwhere(P < 0)
        if neg.size:
            j, v = (int(i) for i in neg[0])
            raise ValueError(f"P must be nonnegative; P[{j}, {v}] = {float(P[j, v])!r} (row {j} of P)")
        sums = P.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > SUM_TOL)
        if bad.size:
            j = int(bad[0])
            raise ValueError(
                f"rows of P must sum to 1 (tolerance {SUM_TOL:g}); row {j} of P sums to {float(sums[j])!r}"
                + (f" ({bad.size} bad rows in total)" if bad.size > 1 else "")
            )
        support = P > 0
        full = np.flatnonzero(support.all(axis=1))
        if full.size:
            j = int(full[0])
            raise ValueError(
                f"row {j} of P has positive probability on all V = {V} tokens; every support must be a "
                f"strict subset of the vocabulary (at least one out-of-support token per context, the "
                f"paper's S_j < V setting), otherwise the context has no NTP margin constraints. "
                f"Drop such contexts (e.g. full_support='drop' in NTPData.from_sequences)"
                + (f"; {full.size} such rows in total" if full.size > 1 else "")
            )
        nonpos = np.flatnonzero(pi <= 0)
        if nonpos.size:
            j = int(nonpos[0])
            raise ValueError(f"pi must be strictly positive (every context occurs); pi[{j}] = {float(pi[j])!r}")
        if abs(pi.sum() - 1.0) > SUM_TOL:
            raise ValueError(f"pi must sum to 1 (tolerance {SUM_TOL:g}); it sums to {float(pi.sum())!r}")
        if self.contexts is not None:
            contexts = tuple(self.contexts)
            if len(contexts) != m:
                raise ValueError(f"contexts must have length m = {m}, got {len(contexts)}")
            object.__setattr__(self, "contexts", contexts)
        if self.vocabulary is not None:
            vocabulary = tuple(self.vocabulary)
            if len(vocabulary) != V:
                raise ValueError(f"vocabulary must have length V = {V}, got {len(vocabulary)}")
            object.__setattr__(self, "vocabulary", vocabulary)
        if not isinstance(self.meta, Mapping):
            raise TypeError(f"meta must be a mapping, got {type(self.meta).__name__}")
        object.__setattr__(self, "meta", types.MappingProxyType(dict(self.meta)))
        # Renormalise (a change of at most SUM_TOL) so that entropy, loss and gap refer to
        # exactly the same distributions; the gap's O(eps) meaning depends on it.
        P = P / P.sum(axis=1, keepdims=True)
        pi = pi / pi.sum()
        object.__setattr__(self, "H", _readonly(H))
        object.__setattr__(self, "P", _readonly(P))
        object.__setattr__(self, "pi", _readonly(pi))

    # ---------------------------------------------------------------- basic properties
    @property
    def m(self) -> int:
        """Number of distinct contexts."""
        return self.H.shape[0]

    @property
    def d(self) -> int:
        """Embedding dimension."""
        return self.H.shape[1]

    @property
    def V(self) -> int:
        """Vocabulary size."""
        return self.P.shape[1]

    @functools.cached_property
    def support(self) -> np.ndarray:
        """Boolean support matrix ``P > 0``, shape (m, V)."""
        return _readonly(self.P > 0)

    @functools.cached_property
    def support_sizes(self) -> np.ndarray:
        """Support sizes :math:`S_j`, shape (m,)."""
        return _readonly(self.support.sum(axis=1))

    @functools.cached_property
    def supports(self) -> tuple[np.ndarray, ...]:
        """``supports[j]``: sorted in-support token ids of context j."""
        return tuple(_readonly(np.flatnonzero(row)) for row in self.support)

    @functools.cached_property
    def anchors(self) -> np.ndarray:
        """Anchor token per context: most probable in-support token (smallest id on ties)."""
        return _readonly(np.argmax(np.where(self.support, self.P, -1.0), axis=1))

    @functools.cached_property
    def is_one_hot(self) -> bool:
        """True if every context has a single next token (all :math:`S_j=1`)."""
        return bool(np.all(self.support_sizes == 1))

    @functools.cached_property
    def log_P(self) -> np.ndarray:
        r""":math:`\log\hat p_{j,z}` on the supports and 0 off them, shape (m, V)."""
        out = np.zeros_like(self.P)
        np.log(self.P, out=out, where=self.support)
        return _readonly(out)

    @functools.cached_property
    def digest(self) -> str:
        """SHA-256 hex digest of the shapes and bytes of ``H``, ``P``, ``pi``."""
        h = hashlib.sha256()
        for a in (self.H, self.P, self.pi):
            h.update(repr(a.shape).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def __repr__(self) -> str:
        S = self.support_sizes
        return (
            f"NTPData(m={self.m}, d={self.d}, V={self.V}, S_j in [{S.min()}, {S.max()}], "
            f"digest={self.digest[:12]})"
        )

    def __reduce__(self) -> tuple:
        # mappingproxy is not picklable, and re-running __post_init__ could change the
        # last bit of P through renormalisation: restore the validated arrays verbatim.
        return (_restore_ntpdata, (self.H, self.P, self.pi, self.contexts, self.vocabulary, dict(self.meta)))

    def with_pi(self, pi: Any) -> NTPData:
        """Return a copy with new context frequencies ``pi`` (shape (m,)), revalidated."""
        return dataclasses.replace(self, pi=pi)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def synthetic(
        cls,
        m: int,
        d: int,
        V: int,
        support_size: int | Sequence[int],
        rng: np.random.Generator | int,
        *,
        n: int | None = None,
        embedding: str = "gaussian",
        scale: float = 1.0,
        alpha: float = 1.0,
    ) -> NTPData:
        r"""Random instance in the style of [T24] App. A.2.

        Draws, **in this order** (so that changing ``d`` or ``embedding`` keeps the same
        supports, probabilities and frequencies for a given seed):

        1. for j = 0..m-1: a support of ``support_size`` distinct tokens drawn uniformly
           without replacement (``rng.choice``), then
           :math:`\hat p_j|_{\mathcal S_j}\sim\mathrm{Dirichlet}(\alpha\mathbf 1)`
           (redrawn in the measure-zero event of an exact zero);
        2. frequencies: with ``n`` given, counts
           :math:`c_j = 1 + \mathrm{Multinomial}(n-m, \mathbf 1/m)_j` (every context
           occurs at least once, :math:`\hat\pi_j\ge 1/n`) and :math:`\hat\pi=c/n`;
           with ``n=None``, uniform :math:`\hat\pi_j=1/m`;
        3. embeddings ``H`` (see ``embedding``).

        The paper says only that embeddings, supports and probabilities are "randomly
        generated" ([open]); Dirichlet(1) matches its reported entropy (spec §1.9) and
        N(0, 1) entries are the spec §5 reference choice. How :math:`\hat\pi` arises from
        n = 5000 sequences is not stated ([open]); the multinomial-plus-one count model
        above is this package's choice.

        Parameters
        ----------
        m, d, V : int
            Contexts (>= 1), embedding dimension (>= 1), vocabulary size (>= 2).
        support_size : int or sequence of int, shape (m,)
            :math:`S_j`, each in ``[1, V - 1]``.
        rng : numpy.random.Generator or int
            Source of randomness (an int is used as a seed for ``default_rng``).
        n : int, optional
            Number of training sequences (>= m) from which the counts are drawn.
        embedding : {"gaussian", "unit", "orthonormal", "one_hot"}
            ``"gaussian"``: i.i.d. :math:`N(0,\mathrm{scale}^2)` entries (full rank a.s.,
            so d > m gives compatible and separable data, [T24] Lemma 1);
            ``"unit"``: Gaussian rows rescaled to norm ``scale``; ``"orthonormal"``:
            orthonormal rows times ``scale`` (needs d >= m; a Haar-random orthonormal
            frame from a QR decomposition); ``"one_hot"``: ``H[j] = scale * e_j`` (needs
            d >= m).
        scale : float
            Embedding scale (> 0). The GD dynamics depend on step size times
            :math:`\|\bar h\|^2` (spec §5.9).
        alpha : float
            Dirichlet concentration (> 0).

        Returns
        -------
        NTPData
            With ``meta`` recording the generator settings.

        Examples
        --------
        >>> data = NTPData.synthetic(50, 60, 10, 6, rng=0, n=5000)   # [T24] App. A.2 sizes
        >>> (data.m, data.d, data.V, int(data.support_sizes[0]))
        (50, 60, 10, 6)
        """
        m = _as_int(m, "m", 1)
        d = _as_int(d, "d", 1)
        V = _as_int(V, "V", 2)
        rng = _as_rng(rng)
        sizes = np.broadcast_to(np.asarray(support_size), (m,)) if np.ndim(support_size) == 0 else np.asarray(support_size)
        if sizes.shape != (m,) or sizes.dtype.kind not in "iu":
            raise ValueError(
                f"support_size must be an int or a sequence of m = {m} ints, got {support_size!r}"
            )
        if np.any(sizes < 1) or np.any(sizes > V - 1):
            raise ValueError(f"support_size entries must lie in [1, V - 1] = [1, {V - 1}], got {support_size!r}")
        if not (np.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a positive finite float, got {alpha!r}")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive finite float, got {scale!r}")
        if embedding not in _EMBEDDINGS:
            raise ValueError(f"embedding must be one of {_EMBEDDINGS}, got {embedding!r}")
        if embedding in ("orthonormal", "one_hot") and d < m:
            raise ValueError(f"embedding={embedding!r} needs d >= m, got d = {d} < m = {m}")
        P = np.zeros((m, V))
        for j in range(m):
            S = np.sort(rng.choice(V, size=int(sizes[j]), replace=False))
            for _ in range(100):
                p = rng.dirichlet(np.full(S.size, float(alpha)))
                if np.all(p > 0):
                    break
            else:  # pragma: no cover - needs absurdly small alpha
                raise ValueError(f"alpha = {alpha!r} is too small: Dirichlet draws keep underflowing to 0")
            P[j, S] = p / p.sum()
        if n is None:
            pi = np.full(m, 1.0 / m)
        else:
            n = _as_int(n, "n", m)
            counts = 1 + rng.multinomial(n - m, np.full(m, 1.0 / m))
            pi = counts / n
        H = _make_embeddings(embedding, m, d, rng, float(scale))
        meta = dict(
            source="synthetic", embedding=embedding, scale=float(scale), alpha=float(alpha), n=n,
        )
        return cls(H, P, pi, meta=meta)

    @classmethod
    def paper_a2(
        cls, rng: np.random.Generator | int, *, embedding: str = "gaussian", scale: float = 1.0
    ) -> NTPData:
        """The overparameterised set-up of [T24] App. A.2: m=50, d=60, V=10, S_j=6, n=5000.

        Shorthand for ``NTPData.synthetic(50, 60, 10, 6, rng, n=5000, embedding=embedding,
        scale=scale)``; see :meth:`synthetic` for the documented [open] choices.
        """
        return cls.synthetic(50, 60, 10, 6, rng, n=5000, embedding=embedding, scale=scale)

    @classmethod
    def toy_2d(
        cls,
        rng: np.random.Generator | int | None = None,
        *,
        probabilities: Any = None,
        H: Any = None,
    ) -> NTPData:
        r"""The 2-D toy of [T24] Figs. 1-2: m = 3, d = 2, V = 5, S_j = 3.

        Supports :data:`TOY_2D_SUPPORTS` = {1,2,5}, {1,4,5}, {2,3,4} in the paper's 1-based
        labels, assigned to contexts A, B, C in that order (this follows Fig. 2: words 1
        and 5 follow A and B; Fig. 1's caption conflicts with it, spec §1.9 [open]).
        Embeddings default to :data:`TOY_2D_EMBEDDINGS` (unit vectors at 90, 210, 330
        degrees; [open]). :math:`\hat\pi` is uniform (1/3 each, [open]).

        Parameters
        ----------
        rng : numpy.random.Generator or int, optional
            Draws :math:`\hat p_j|_{\mathcal S_j}\sim\mathrm{Dirichlet}(1,1,1)` ("assigned
            randomly" in the paper; its realisation had entropy 0.8811). Required unless
            ``probabilities`` is given.
        probabilities : array_like, shape (3, 3), optional
            In-support probabilities, row j listed in the order of ``TOY_2D_SUPPORTS[j]``.
        H : array_like, shape (3, 2), optional
            Alternative embeddings.

        Returns
        -------
        NTPData
        """
        if probabilities is None:
            if rng is None:
                raise TypeError("toy_2d needs rng (Generator or int seed) when probabilities is not given")
            rng = _as_rng(rng)
            probs = np.stack([rng.dirichlet(np.ones(3)) for _ in range(3)])
        else:
            probs = _as_real_array(probabilities, "probabilities", ndim=2)
            if probs.shape != (3, 3):
                raise ValueError(f"probabilities must have shape (3, 3), got {probs.shape}")
        P = np.zeros((3, 5))
        for j, S in enumerate(TOY_2D_SUPPORTS):
            P[j, list(S)] = probs[j]
        H = TOY_2D_EMBEDDINGS if H is None else H
        return cls(H, P, np.full(3, 1.0 / 3.0), contexts=("A", "B", "C"), meta=dict(source="toy_2d"))

    @classmethod
    def one_hot(cls, X: Any, y: Any, V: int | None = None) -> NTPData:
        r"""One-hot classification data as an NTP instance (all :math:`S_j=1`, [T24] Remark 1).

        Each sample is one context: ``H = X``, ``P[i] = e_{y_i}``, :math:`\hat\pi_i=1/n`
        (so :func:`ntp_loss` is the **mean** multiclass cross-entropy of [S18], whose
        loss is the sum; rescale step sizes by n to compare). Samples are not merged:
        repeated rows of ``X`` stay separate contexts. Same construction as
        :func:`classification_data` (``NTPData.one_hot(X, y, V)`` is
        ``classification_data(X, y, n_classes=V)``).

        Parameters
        ----------
        X : array_like, shape (n, d)
            Features.
        y : array_like of int, shape (n,)
            Labels in ``[0, V)``.
        V : int, optional
            Number of classes (>= 2); default ``max(y) + 1`` (at least 2).

        Returns
        -------
        NTPData
        """
        return classification_data(X, y, n_classes=V)

    @classmethod
    def from_sequences(
        cls,
        sequences: Sequence[Sequence[int]],
        context_length: int,
        embed: Callable[[tuple[int, ...]], Any] | str,
        *,
        vocab_size: int | None = None,
        min_context_length: int = 1,
        max_contexts: int | None = None,
        full_support: str = "error",
        d: int | None = None,
        rng: np.random.Generator | int | None = None,
        scale: float = 1.0,
    ) -> NTPData:
        r"""Distinct contexts, their counts and next-token distributions from token sequences.

        Every position of every sequence is a training example ([T24] App. C: the
        all-positions autoregressive loss). For a sequence :math:`s` and each position
        :math:`t` with ``min_context_length <= t < len(s)``, the example is

        .. math:: \big(\text{context}=(s_{\max(0,t-K)},\dots,s_{t-1}),\ \text{next}=s_t\big),
                  \qquad K=\texttt{context\_length},

        i.e. the last at most K tokens before position t. Contexts are token tuples, so a
        prefix shorter than K is a different context from any K-token window. With
        ``context_length >= max(len(s)) - 1`` every context is a whole prefix and each
        (prefix length, distinct prefix) pair is one context, exactly as in App. C; with
        a smaller K this is the K-gram (Markov) version. Counting over all examples,

        .. math:: \hat\pi_j = \frac{n_j}{n},\qquad \hat p_{j,z}=\frac{n_{j,z}}{n_j},

        with :math:`n_{j,z}` the count of context j followed by z,
        :math:`n_j=\sum_z n_{j,z}` and n the number of examples kept. Contexts are ordered
        by (length, token tuple).

        Parameters
        ----------
        sequences : sequence of sequences of int
            Token ids (nonnegative ints).
        context_length : int
            Window K >= 1.
        embed : callable or {"gaussian", "one_hot"}
            Callable mapping a context (tuple of int) to a vector of length d (called
            once per kept context, in order); or ``"gaussian"``: i.i.d.
            :math:`N(0,\mathrm{scale}^2)` entries drawn from ``rng`` in context order, with
            ``d`` defaulting to m + 1 (full rank a.s., hence NTP-compatible and separable,
            [T24] Lemma 1); or ``"one_hot"``: ``H = scale * I_m`` (orthonormal, d = m).
        vocab_size : int, optional
            V; default 1 + the largest token id.
        min_context_length : int
            Skip positions t < min_context_length (default 1: the empty context is not
            used). Set it to K to keep only full windows.
        max_contexts : int, optional
            Keep only the ``max_contexts`` most frequent contexts (ties: earlier in the
            canonical order); :math:`\hat\pi` is renormalised over the kept ones.
        full_support : {"error", "drop"}
            What to do with a context followed by every token of the vocabulary:
            raise ``ValueError`` or drop it (before ``max_contexts`` is applied).
        d : int, optional
            Embedding dimension for ``embed="gaussian"``.
        rng : numpy.random.Generator or int, optional
            Needed for ``embed="gaussian"``.
        scale : float
            Scale of the built-in embeddings.

        Returns
        -------
        NTPData
            ``contexts`` holds the context tuples and ``meta`` the counts ``n_examples``
            (all positions used), ``n_kept`` (examples of kept contexts) and the options.

        Raises
        ------
        TypeError, ValueError
            Bad sequences, tokens outside ``[0, vocab_size)``, bad options, no
            examples, or a full-support context with ``full_support="error"``.
        """
        K = _as_int(context_length, "context_length", 1)
        t0 = _as_int(min_context_length, "min_context_length", 0, K)
        if full_support not in ("error", "drop"):
            raise ValueError(f"full_support must be 'error' or 'drop', got {full_support!r}")
        if isinstance(sequences, (str, bytes)) or not hasattr(sequences, "__iter__"):
            raise TypeError(f"sequences must be an iterable of token-id sequences, got {type(sequences).__name__}")
        seqs: list[np.ndarray] = []
        for i, s in enumerate(sequences):
            a = np.asarray(s)
            if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
                raise TypeError(f"sequences[{i}] must be a 1-D sequence of int token ids, got {s!r:.80}")
            if a.size and a.min() < 0:
                raise ValueError(f"sequences[{i}] contains a negative token id {a.min()}")
            seqs.append(a.astype(np.int64))
        max_tok = max((int(a.max()) for a in seqs if a.size), default=-1)
        V = max(max_tok + 1, 2) if vocab_size is None else _as_int(vocab_size, "vocab_size", 2)
        if max_tok >= V:
            raise ValueError(f"token id {max_tok} in sequences is >= vocab_size = {V}")
        counts: dict[tuple[int, ...], Counter] = {}
        for a in seqs:
            toks = a.tolist()
            for t in range(max(t0, 0), len(toks)):
                ctx = tuple(toks[max(0, t - K): t])
                counts.setdefault(ctx, Counter())[toks[t]] += 1
        n_examples = sum(sum(c.values()) for c in counts.values())
        if n_examples == 0:
            raise ValueError(
                f"sequences produce no (context, next token) pairs with min_context_length = {t0}; "
                "need sequences longer than min_context_length"
            )
        order = sorted(counts, key=lambda c: (len(c), c))
        full = [c for c in order if len(counts[c]) == V]
        if full and full_support == "error":
            raise ValueError(
                f"context {full[0]!r} is followed by all V = {V} tokens (support = whole vocabulary), "
                f"{len(full)} such contexts; pass full_support='drop' to discard them"
            )
        order = [c for c in order if len(counts[c]) < V]
        if not order:
            raise ValueError("every context has full support; no context left after full_support='drop'")
        if max_contexts is not None:
            k = _as_int(max_contexts, "max_contexts", 1)
            rank = sorted(range(len(order)), key=lambda i: (-sum(counts[order[i]].values()), i))
            keep = sorted(rank[:k])
            order = [order[i] for i in keep]
        n_j = np.array([sum(counts[c].values()) for c in order], dtype=np.float64)
        P = np.zeros((len(order), V))
        for j, c in enumerate(order):
            for z, cnt in counts[c].items():
                P[j, z] = cnt
        P /= n_j[:, None]
        pi = n_j / n_j.sum()
        H = _embed_contexts(embed, order, d=d, rng=rng, scale=scale)
        meta = dict(
            source="sequences", context_length=K, min_context_length=t0, n_examples=int(n_examples),
            n_kept=int(n_j.sum()), n_dropped_full_support=len(full), max_contexts=max_contexts,
            embed=embed if isinstance(embed, str) else getattr(embed, "__name__", "callable"),
        )
        return cls(H, P, pi, contexts=tuple(order), meta=meta)

    @classmethod
    def from_text(
        cls,
        level: str = "char",
        context_length: int = 2,
        *,
        max_contexts: int | None = 100,
        embed: Callable[[tuple[int, ...]], Any] | str = "gaussian",
        d: int | None = None,
        rng: np.random.Generator | int | None = 0,
        scale: float = 1.0,
        vocab_size: int | None = None,
        lowercase: bool = True,
        min_context_length: int = 1,
        modules: Sequence[str] | None = None,
    ) -> NTPData:
        r"""A real-language instance built from the docstrings of the standard library.

        The text is :func:`theory.text_corpus.stdlib_docstrings` (fixed module list,
        read via import; no download, no file access of our own), one sequence per
        docstring, tokenised by characters (:func:`~theory.text_corpus.tokenize_chars`:
        lower-cased, whitespace runs collapsed to one space) or by words
        (:func:`~theory.text_corpus.tokenize_words`: lower-cased ``[a-z]+`` runs, optional
        ``vocab_size`` with an ``<unk>`` token). Contexts, :math:`\hat\pi` and
        :math:`\hat p` are counted by :meth:`from_sequences` with
        ``full_support="drop"``, keeping the ``max_contexts`` most frequent contexts.
        The text, hence the instance, depends on the Python version, recorded in
        ``meta["python"]``.

        Parameters
        ----------
        level : {"char", "word"}
            Tokenisation.
        context_length : int
            Window K (see :meth:`from_sequences`).
        max_contexts : int or None
            Number of most frequent contexts kept (default 100); None keeps all.
        embed : callable or {"gaussian", "one_hot"}
            As in :meth:`from_sequences`. Default ``"gaussian"`` with d = m + 1
            (separable, [T24] Lemma 1) and N(0, scale^2) entries.
        d : int, optional
            Embedding dimension for ``"gaussian"`` (default m + 1).
        rng : numpy.random.Generator or int
            Seed for the Gaussian embeddings (default 0, so the default instance is
            deterministic).
        scale : float
            Embedding scale.
        vocab_size : int, optional
            Word level only: vocabulary size including ``<unk>``.
        lowercase : bool
            Character level only: lower-case the text (default True).
        min_context_length : int
            As in :meth:`from_sequences`.
        modules : sequence of str, optional
            Standard-library modules to read; default
            :data:`theory.text_corpus.DEFAULT_MODULES`.

        Returns
        -------
        NTPData
            ``vocabulary`` holds the characters/words, ``contexts`` the token tuples,
            ``meta`` the source, level, Python version and counts.
        """
        from theory import text_corpus

        if level not in ("char", "word"):
            raise ValueError(f"level must be 'char' or 'word', got {level!r}")
        mods = text_corpus.DEFAULT_MODULES if modules is None else tuple(modules)
        docs = text_corpus.stdlib_docstrings(mods)
        if level == "char":
            if vocab_size is not None:
                raise ValueError("vocab_size applies to level='word' only; the character vocabulary is the text's")
            seqs, vocab = text_corpus.tokenize_chars(docs, lowercase=lowercase)
        else:
            seqs, vocab = text_corpus.tokenize_words(docs, vocab_size=vocab_size)
        base = cls.from_sequences(
            seqs, context_length, embed, vocab_size=len(vocab), min_context_length=min_context_length,
            max_contexts=max_contexts, full_support="drop", d=d, rng=rng, scale=scale,
        )
        meta = dict(base.meta)
        meta.update(
            source="stdlib-docstrings", level=level, python=text_corpus.python_version(),
            n_documents=len(docs), modules=mods,
        )
        return cls(base.H, base.P, base.pi, contexts=base.contexts, vocabulary=vocab, meta=meta)


def _restore_ntpdata(H, P, pi, contexts, vocabulary, meta) -> NTPData:
    obj = object.__new__(NTPData)
    for name, arr in (("H", H), ("P", P), ("pi", pi)):
        object.__setattr__(obj, name, _readonly(np.array(arr, dtype=np.float64)))
    object.__setattr__(obj, "contexts", contexts)
    object.__setattr__(obj, "vocabulary", vocabulary)
    object.__setattr__(obj, "meta", types.MappingProxyType(dict(meta)))
    return obj


def _make_embeddings(kind: str, m: int, d: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    if kind == "gaussian":
        return scale * rng.standard_normal((m, d))
    if kind == "unit":
        G = rng.standard_normal((m, d))
        return scale * G / np.linalg.norm(G, axis=1, keepdims=True)
    if kind == "orthonormal":
        Q, R = np.linalg.qr(rng.standard_normal((d, m)))
        Q = Q * np.sign(np.diag(R))  # Haar-distributed frame
        return scale * Q.T
    if kind == "one_hot":
        return scale * np.eye(m, d)
    raise ValueError(f"embedding must be one of {_EMBEDDINGS}, got {kind!r}")  # pragma: no cover


def _embed_contexts(
    embed: Any, contexts: list[tuple[int, ...]], *, d: int | None, rng: Any, scale: float
) -> np.ndarray:
    m = len(contexts)
    if isinstance(embed, str):
        if embed not in ("gaussian", "one_hot"):
            raise ValueError(f"embed must be a callable, 'gaussian' or 'one_hot', got {embed!r}")
        if not (np.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive finite float, got {scale!r}")
        if embed == "one_hot":
            if d is not None and d != m:
                raise ValueError(f"embed='one_hot' uses d = m = {m}; got d = {d}")
            return scale * np.eye(m)
        d = m + 1 if d is None else _as_int(d, "d", 1)
        if rng is None:
            raise TypeError("embed='gaussian' needs rng (a numpy.random.Generator or an int seed)")
        return _make_embeddings("gaussian", m, d, _as_rng(rng), float(scale))
    if not callable(embed):
        raise TypeError(f"embed must be a callable or 'gaussian'/'one_hot', got {type(embed).__name__}")
    rows = []
    for c in contexts:
        h = _as_real_array(embed(c), f"embed({c!r})", ndim=1)
        if rows and h.shape != rows[0].shape:
            raise ValueError(
                f"embed must return vectors of one length; embed({contexts[0]!r}) has length "
                f"{rows[0].shape[0]} but embed({c!r}) has length {h.shape[0]}"
            )
        rows.append(h)
    return np.stack(rows)


# --------------------------------------------------------------------------------------
# classification data, fingerprints
# --------------------------------------------------------------------------------------
def _as_labels(y: Any, n: int) -> np.ndarray:
    """Integer labels of shape (n,) as int64 (integer dtype, or floats that are whole)."""
    if isinstance(y, (str, bytes)):
        raise TypeError(f"y must be an array of integer labels, got the string {y!r:.80}")
    y_arr = np.asarray(y)
    if y_arr.ndim != 1 or y_arr.shape[0] != n:
        raise ValueError(f"y must have shape (n,) = ({n},) to match X, got {y_arr.shape}")
    if y_arr.dtype.kind == "b" or y_arr.dtype.kind not in "iuf":
        raise TypeError(f"y must contain integer class labels, got dtype {y_arr.dtype}")
    if y_arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(y_arr) | (np.mod(y_arr, 1) != 0))
        if bad.size:
            j = int(bad[0])
            raise TypeError(f"y must contain integer class labels; y[{j}] = {float(y_arr[j])!r} is not a whole number")
    return y_arr.astype(np.int64)


def classification_data(X: Any, y: Any, n_classes: int | None = None, pi: Any = None) -> NTPData:
    r"""One-hot NTP data for multiclass classification (every support of size 1).

    With :math:`P=\mathrm{onehot}(y)` the NTP loss is the weighted multiclass
    cross-entropy :math:`\sum_n\pi_n(-\log\mathbb S_{y_n}(Wx_n))` of [S18] §4 ([T24]
    Remark 1); the default :math:`\pi_n=1/n` makes it the mean (GD with step
    :math:`\eta` on the mean = step :math:`\eta/n` on the sum). Each sample is its own
    context (repeated rows of X are not merged). :meth:`NTPData.one_hot` is this
    function with the default weights.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs as rows (``H = X``).
    y : array_like of int, shape (n,)
        Labels in ``[0, n_classes)`` (integer dtype, or floats that are whole numbers).
    n_classes : int, optional
        V >= 2 (default ``max(y) + 1``, at least 2).
    pi : array_like, shape (n,), optional
        Positive weights summing to 1 (default ``1/n`` each); renormalised as in
        :class:`NTPData`.

    Returns
    -------
    NTPData
        ``H = X`` (n, d), ``P`` (n, V) one-hot, ``pi`` (n,); ``meta["source"] = "one_hot"``.

    Raises
    ------
    TypeError
        Non-numeric/complex X, non-integer labels.
    ValueError
        Wrong shapes, empty X, negative labels or labels >= n_classes, bad pi.

    Examples
    --------
    >>> data = classification_data([[1.0, 0.0], [0.0, 1.0]], [1, 0])
    >>> data.P.tolist(), data.pi.tolist()
    ([[0.0, 1.0], [1.0, 0.0]], [0.5, 0.5])
    """
    X = as_real_array(X, "X", ndim=2)
    n = X.shape[0]
    if n < 1 or X.shape[1] < 1:
        raise ValueError(f"X must have shape (n, d) with n >= 1 and d >= 1, got {X.shape}")
    y_arr = _as_labels(y, n)
    if y_arr.min() < 0:
        raise ValueError(f"y must be nonnegative class labels, got min(y) = {y_arr.min()}")
    V = max(int(y_arr.max()) + 1, 2) if n_classes is None else as_int(n_classes, "n_classes", low=2)
    if y_arr.max() >= V:
        raise ValueError(f"labels y must lie in [0, {V - 1}] (n_classes = {V}), got max(y) = {y_arr.max()}")
    check_memory(8.0 * n * V, f"classification_data(n={n}, n_classes={V})",
                 hint="the one-hot matrix P is dense (n, n_classes) float64")
    P = np.zeros((n, V))
    P[np.arange(n), y_arr] = 1.0
    pi_arr = np.full(n, 1.0 / n) if pi is None else as_real_array(pi, "pi", ndim=1)
    return NTPData(X, P, pi_arr, meta=dict(source="one_hot"))


def binary_data(X: Any, y: Any, pi: Any = None) -> NTPData:
    r"""Binary logistic regression as 2-class softmax data.

    Labels :math:`y_n\in\{-1,+1\}` (or :math:`\{0,1\}`, read as 0 -> -1) map to classes
    :math:`c_n=0` for :math:`y_n=+1` and :math:`c_n=1` for :math:`y_n=-1`. With
    :math:`w=w_0-w_1` (:func:`logistic_weights`) the 2-class cross-entropy is the
    logistic loss

    .. math:: -\log\mathbb S_{c_n}(Wx_n)=\log\big(1+e^{-y_nw^\top x_n}\big),

    and since :math:`\mathbf 1^\top\nabla=0` (:math:`w_0+w_1` never moves), GD on W with
    step :math:`\eta` is GD on :math:`\sum_n\pi_n\log(1+e^{-y_nw^\top x_n})` with step
    :math:`2\eta` on w. The NTP-SVM solution of these data is
    :math:`W^{mm}=[\hat w/2;-\hat w/2]` with :math:`\hat w` the hard-margin SVM,
    :math:`\|W^{mm}\|=\|\hat w\|/\sqrt2`.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
        Values in {-1, +1} or in {0, 1}.
    pi : array_like, shape (n,), optional
        Weights (default 1/n).

    Returns
    -------
    NTPData
        ``H = X``, ``P`` (n, 2), ``pi``.
    """
    if isinstance(y, (str, bytes)):
        raise TypeError(f"y must be an array of labels in {{-1, +1}} or {{0, 1}}, got the string {y!r:.80}")
    y_arr = np.asarray(y)
    if y_arr.dtype.kind not in "biuf":
        raise TypeError(f"y must be an array of labels in {{-1, +1}} or {{0, 1}}, got dtype {y_arr.dtype}")
    vals = set(np.unique(y_arr).tolist())
    if not (vals <= {-1, 1} or vals <= {0, 1}):
        shown = sorted(vals)[:10]
        raise ValueError(f"y must take values in {{-1, +1}} or {{0, 1}}, got the values {shown}")
    return classification_data(X, np.where(y_arr == 1, 0, 1).astype(np.int64), n_classes=2, pi=pi)


def logistic_weights(W: Any) -> np.ndarray:
    r""":math:`w=w_0-w_1` of a 2-class weight matrix (see :func:`binary_data`).

    Parameters
    ----------
    W : array_like, shape (2, d) or (..., 2, d)

    Returns
    -------
    ndarray, shape (d,) or (..., d)
    """
    W = as_real_array(W, "W")
    if W.ndim < 2 or W.shape[-2] != 2:
        raise ValueError(f"W must have shape (2, d) or (..., 2, d), got {W.shape}")
    return W[..., 0, :] - W[..., 1, :]


def data_fingerprint(H: Any, P: Any, pi: Any) -> str:
    """Short content key of NTP arrays: 24 hex digits of SHA-256 over their bytes and shapes.

    Hashes, for ``H``, ``P``, ``pi`` in turn, the little-endian float64 bytes (C order)
    followed by ``str(shape)``. This is the key stored with GD trajectories
    (``data_fingerprint``), so it must not change. (:attr:`NTPData.digest` is a
    different, longer key of the same arrays.)

    Parameters
    ----------
    H : array_like, shape (m, d)
    P : array_like, shape (m, V)
    pi : array_like, shape (m,)

    Returns
    -------
    str
        24 lowercase hex digits.
    """
    H = as_real_array(H, "H", ndim=2, copy=False)
    P = as_real_array(P, "P", ndim=2, copy=False)
    pi = as_real_array(pi, "pi", ndim=1, copy=False)
    if P.shape[0] != H.shape[0] or pi.shape != (H.shape[0],):
        raise ValueError(
            f"H (m, d), P (m, V) and pi (m,) must agree on m; got shapes {H.shape}, {P.shape}, {pi.shape}"
        )
    h = hashlib.sha256()
    for a in (H, P, pi):
        h.update(np.ascontiguousarray(a, dtype="<f8").tobytes())
        h.update(str(a.shape).encode())
    return h.hexdigest()[:24]


def entropy_from_arrays(P: Any, pi: Any) -> float:
    r"""Entropy :math:`-\sum_j\pi_j\sum_{z:P_{jz}>0}P_{jz}\log P_{jz}` of raw arrays (nats).

    The one formula behind :func:`entropy` and the GD engine's stored entropy (and
    hence its loss gaps): row sums :math:`t_j=\sum_z P_{jz}\log P_{jz}` (0 log 0 = 0),
    then ``-(pi * t).sum()`` (NumPy pairwise summation). ``pi`` is used as given (not
    renormalised).

    Parameters
    ----------
    P : array_like, shape (m, V)
        Nonnegative, finite.
    pi : array_like, shape (m,)
        Nonnegative, finite weights.

    Returns
    -------
    float
    """
    P = as_real_array(P, "P", ndim=2, copy=False)
    pi = as_real_array(pi, "pi", ndim=1, copy=False)
    if pi.shape != (P.shape[0],):
        raise ValueError(f"pi must have shape (m,) = ({P.shape[0]},) to match P, got {pi.shape}")
    if np.any(P < 0):
        j, v = (int(i) for i in np.argwhere(P < 0)[0])
        raise ValueError(f"P must be nonnegative; P[{j}, {v}] = {float(P[j, v])!r}")
    if np.any(pi < 0):
        j = int(np.flatnonzero(pi < 0)[0])
        raise ValueError(f"pi must be nonnegative; pi[{j}] = {float(pi[j])!r}")
    S = P > 0
    t = np.where(S, P * np.log(np.where(S, P, 1.0)), 0.0)
    return float(-(pi * t.sum(axis=1)).sum())


# --------------------------------------------------------------------------------------
# loss, entropy, gap, gradient
# --------------------------------------------------------------------------------------
def _check_data(data: Any) -> NTPData:
    if not isinstance(data, NTPData):
        raise TypeError(f"data must be an NTPData instance, got {type(data).__name__}")
    return data


def _check_W(W: Any, data: NTPData, name: str = "W") -> np.ndarray:
    W = _as_real_array(W, name, ndim=2)
    if W.shape != (data.V, data.d):
        raise ValueError(f"{name} must have shape (V, d) = ({data.V}, {data.d}), got {W.shape}")
    return W


def _check_logits(L: Any, data: NTPData) -> np.ndarray:
    L = _as_real_array(L, "logits", ndim=2)
    if L.shape != (data.m, data.V):
        raise ValueError(f"logits must have shape (m, V) = ({data.m}, {data.V}), got {L.shape}")
    return L


def entropy(data: NTPData) -> float:
    r"""Empirical T-gram entropy :math:`\mathcal H`, the infimum of the NTP loss.

    .. math:: \mathcal H = -\sum_{j}\hat\pi_j\sum_{z\in\mathcal S_j}\hat p_{j,z}\log\hat p_{j,z}

    ([T24] §2, spec §1.2; nats). Zero for one-hot data. Computed by
    :func:`entropy_from_arrays` (the same formula as the GD engine).

    Parameters
    ----------
    data : NTPData

    Returns
    -------
    float
    """
    data = _check_data(data)
    return entropy_from_arrays(data.P, data.pi)


def ntp_loss(W: Any, data: NTPData) -> float:
    r"""NTP cross-entropy, [T24] eq. (2).

    .. math:: \mathrm{CE}(W) = -\sum_j\hat\pi_j\sum_{z\in\mathcal S_j}\hat p_{j,z}
              \log\mathbb S_z(W\bar h_j),\qquad
              -\log\mathbb S_z(\ell) = \operatorname{lse}(\ell)-\ell_z,

    with the log-softmax computed by a shifted log-sum-exp (every term is a
    nonnegative number, no overflow for any finite logits).

    Parameters
    ----------
    W : array_like, shape (V, d)
        Decoder.
    data : NTPData

    Returns
    -------
    float
        Always >= :func:`entropy` (strictly, since every support is a strict subset
        of the vocabulary). Use :func:`loss_gap` for :math:`\mathrm{CE}-\mathcal H`.
    """
    data = _check_data(data)
    W = _check_W(W, data)
    L = data.H @ W.T
    neg_logsm = scipy.special.logsumexp(L, axis=1, keepdims=True) - L
    return float(data.pi @ np.where(data.support, data.P * neg_logsm, 0.0).sum(axis=1))


def loss_gap(W: Any, data: NTPData, *, per_context: bool = False) -> float | np.ndarray:
    r"""Excess loss :math:`\mathrm{CE}(W)-\mathcal H=\sum_j\hat\pi_j\mathrm{KL}(\hat p_j\,\|\,\mathbb S(W\bar h_j))`.

    Computed directly, never as ``ntp_loss - entropy``. With logits :math:`\ell=W\bar h_j`,
    in-support softmax :math:`q_z=e^{\ell_z-\operatorname{lse}_{\mathcal S}(\ell)}` and
    out-of-support mass ratio
    :math:`\varepsilon=\sum_{v\notin\mathcal S}e^{\ell_v-\operatorname{lse}_{\mathcal S}(\ell)}`,
    the softmax on the support is :math:`q_z/(1+\varepsilon)`, hence the exact split into
    two **nonnegative** parts

    .. math:: \mathrm{KL}(\hat p\,\|\,\mathbb S(\ell)) = \mathrm{KL}(\hat p\,\|\,q)
              + \log(1+\varepsilon).

    * :math:`\log(1+\varepsilon)` = ``logaddexp(0, log eps)`` (accurate for
      :math:`\varepsilon` down to underflow; this is the part that decays like
      :math:`e^{-R}` along :math:`W^\star+RW^{mm}`).
    * With :math:`u_z=\ell_z-\max_{\mathcal S}\ell-\log\hat p_z` and
      :math:`w=u-\mathbb E_{\hat p}u`,
      :math:`\mathrm{KL}(\hat p\|q)=\log\mathbb E_{\hat p}e^{w}=\log\!\big(1+\sum_z\hat p_z
      (e^{w_z}-1-w_z)\big)` because :math:`\mathbb E_{\hat p}w=0`; every summand
      ``expm1(w) - w`` is >= 0, so there is no cancellation and the relative error is of
      order :math:`\epsilon_{\rm mach}\,\mathrm{spread}_{\mathcal S}(\ell)/\max|w|`
      (~1e-10 at a gap of 1e-12 with O(1) log-odds), which is the conditioning of the KL
      itself. Rows with :math:`\max w>50` use the equivalent
      :math:`\operatorname{lse}(w+\log\hat p)`.
    * The KL treats :math:`\hat p_j` as exactly normalised (it is, up to one ulp,
      see :class:`NTPData`); for a KL of unnormalised vectors an O(eps) offset would
      swamp gaps below ~1e-15.

    Parameters
    ----------
    W : array_like, shape (V, d)
        Decoder.
    data : NTPData
    per_context : bool
        Return the vector of :math:`\mathrm{KL}_j` (unweighted, shape (m,)) instead of
        the :math:`\hat\pi`-weighted sum.

    Returns
    -------
    float or ndarray of shape (m,)
    """
    data = _check_data(data)
    W = _check_W(W, data)
    kl = _kl_rows(data.H @ W.T, data)
    return kl if per_context else float(data.pi @ kl)


def _split_logits(L: np.ndarray, S: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shift each row by its largest in-support logit.

    Returns ``a = L - max_S L`` (in-support entries <= 0, and exact when the in-support
    logits are within a factor 2 of each other), ``log_s_in = log sum_S e^a`` (in
    [0, log S_j]) and ``t = lse_out(a) - log_s_in = log(eps)``. Working with ``a``
    makes the in-support quantities depend on logit differences only, so their
    rounding error scales with the spread of the in-support logits, not with |L|.
    """
    mx_in = np.max(np.where(S, L, -np.inf), axis=1)
    a = L - mx_in[:, None]
    log_s_in = np.log(np.sum(np.exp(np.where(S, a, -np.inf)), axis=1))
    t = _masked_lse(a, ~S) - log_s_in  # out-of-support set nonempty: every S_j < V
    return a, log_s_in, t


def _kl_rows(L: np.ndarray, data: NTPData) -> np.ndarray:
    S = data.support
    a, _, t = _split_logits(L, S)
    off = np.logaddexp(0.0, t)  # log(1 + eps)
    P, logP = data.P, data.log_P
    u = np.where(S, a - logP, 0.0)
    w = np.where(S, u - np.sum(P * u, axis=1, keepdims=True), 0.0)
    wmax = np.max(np.where(S, w, -np.inf), axis=1)
    wc = np.minimum(w, 50.0)
    small = np.log1p(np.sum(P * (np.expm1(wc) - wc), axis=1))
    big = _masked_lse(np.where(S, w + logP, -np.inf), S)
    return np.where(wmax <= 50.0, small, big) + off


def in_support_residual(logits: Any, data: NTPData) -> np.ndarray:
    r"""Softmax residual :math:`\mathbb S(\ell_j)-\hat p_j` for all contexts, computed stably.

    Follows spec ``numerics_and_solvers.md`` §2. With :math:`q` the softmax over
    :math:`\mathcal S_j` and :math:`t=\operatorname{lse}_{\notin\mathcal S}(\ell)-
    \operatorname{lse}_{\mathcal S}(\ell)` (so :math:`\varepsilon=e^t`,
    :math:`\varepsilon/(1+\varepsilon)=\sigma(t)`):

    .. math:: r_z = (q_z-\hat p_z) - q_z\,\sigma(t)\quad (z\in\mathcal S_j),\qquad
              r_v = e^{\ell_v-\operatorname{lse}_{\mathcal S}(\ell)-\log(1+e^{t})}
              \quad (v\notin\mathcal S_j).

    Implementation details (a Numba kernel can mirror them row by row): logits are
    shifted by the largest in-support logit, so q has ~eps relative error; the computed
    :math:`\delta=q-\hat p` is corrected to :math:`\delta-\hat p\sum_{\mathcal S}\delta`
    (the exact :math:`\delta` sums to 0), so that :math:`\sum_{z\in\mathcal S}r_z=
    -\varepsilon/(1+\varepsilon)` and the row sum 0 hold to **relative** accuracy even
    when :math:`\varepsilon\ll\epsilon_{\rm mach}` (the :math:`F^\perp` part of the
    gradient is then not swamped by rounding). Out-of-support entries stay accurate
    down to 1e-308 and nothing overflows for any finite logits.

    Parameters
    ----------
    logits : array_like, shape (m, V)
        ``H @ W.T``.
    data : NTPData

    Returns
    -------
    ndarray, shape (m, V)
        Rows sum to 0 up to rounding.
    """
    data = _check_data(data)
    L = _check_logits(logits, data)
    return _residual(L, data)


def _residual(L: np.ndarray, data: NTPData) -> np.ndarray:
    S = data.support
    a, log_s_in, t = _split_logits(L, S)
    e_in = np.exp(np.where(S, a, -np.inf))
    q = e_in / np.exp(log_s_in)[:, None]  # softmax over the support, ~eps relative error
    sig = scipy.special.expit(t)[:, None]  # eps / (1 + eps)
    log1p_eps = np.logaddexp(0.0, t)[:, None]
    delta = q - data.P
    # q - p sums to 0 exactly in exact arithmetic; remove its O(eps) rounding sum so that
    # the in-support total is -eps/(1+eps) to full relative accuracy (no eps-sized leak
    # into F-perp when the true out-of-support mass is far below eps).
    delta = delta - data.P * np.sum(delta, axis=1, keepdims=True)
    r_in = delta - q * sig
    r_out = np.exp(np.where(S, -np.inf, a - log_s_in[:, None] - log1p_eps))
    return np.where(S, r_in, r_out)


def ntp_gradient(W: Any, data: NTPData) -> np.ndarray:
    r"""Gradient of the NTP loss, [T24] §3 / spec §1.2.

    .. math:: \nabla\mathrm{CE}(W)=\sum_j\hat\pi_j\big(\mathbb S(W\bar h_j)-\hat p_j\big)\bar h_j^\top

    with the residual from :func:`in_support_residual`. Column sums vanish
    (:math:`\mathbf 1^\top\nabla\mathrm{CE}=0`), so GD preserves :math:`\mathbf 1^\top W`.

    Parameters
    ----------
    W : array_like, shape (V, d)
    data : NTPData

    Returns
    -------
    ndarray, shape (V, d)
    """
    data = _check_data(data)
    W = _check_W(W, data)
    R = _residual(data.H @ W.T, data)
    return (R * data.pi[:, None]).T @ data.H


def log_odds_residual(W: Any, data: NTPData) -> np.ndarray:
    r"""Residuals of the log-odds (compatibility) equations, [T24] Def. 1 / eq. (4).

    For context j with anchor :math:`z_j` (:attr:`NTPData.anchors`) and
    :math:`z\in\mathcal S_j`:

    .. math:: r_{j,z} = (e_{z_j}-e_z)^\top W\bar h_j - \log(\hat p_{j,z_j}/\hat p_{j,z}),

    and :math:`r_{j,z}=0` for the anchor and for off-support tokens. ``W`` solves the
    equations for all pairs :math:`z\ne z'\in\mathcal S_j` iff all residuals vanish.

    Parameters
    ----------
    W : array_like, shape (V, d)
    data : NTPData

    Returns
    -------
    ndarray, shape (m, V)
    """
    data = _check_data(data)
    W = _check_W(W, data)
    return _log_odds_res(data.H @ W.T, data)


def _log_odds_res(L: np.ndarray, data: NTPData) -> np.ndarray:
    rows = np.arange(data.m)
    a = data.anchors
    diff = (L[rows, a][:, None] - L) - (data.log_P[rows, a][:, None] - data.log_P)
    return np.where(data.support, diff, 0.0)


def smoothness_bound(data: NTPData) -> float:
    r"""Upper bound on the smoothness constant of CE (spec §1.7, [derived]).

    .. math:: L\le\tfrac12\lambda_{\max}\Big(\sum_j\hat\pi_j\bar h_j\bar h_j^\top\Big),

    since the softmax Hessian satisfies :math:`\mathrm{diag}(s)-ss^\top\preceq\frac12 I`.
    [T24]'s GD analysis uses :math:`\eta\le 1/(2L)`; :math:`\eta\le 1/L` with this
    bound is the usual safe choice.

    Parameters
    ----------
    data : NTPData

    Returns
    -------
    float
    """
    data = _check_data(data)
    s = np.linalg.norm(np.sqrt(data.pi)[:, None] * data.H, ord=2)
    return 0.5 * float(s) ** 2


def genie_bound(data: NTPData, R: Any, *, W_star: Any = None) -> float | np.ndarray:
    r"""Bound on the loss gap along the "genie" ray :math:`W^\star+R\,W^{mm}` ([T24] eq. 9/25).

    .. math:: \mathrm{CE}(W^\star+RW^{mm})-\mathcal H\le V\,e^{\|W^\star\|M}\,e^{-R},
              \qquad M=\sqrt2\max_j\|\bar h_j\|,

    valid for :math:`W^{mm}` feasible for the NTP-SVM (margins >= 1, in
    :math:`F^\perp`) and :math:`W^\star` solving the log-odds equations.

    Parameters
    ----------
    data : NTPData
    R : float or array_like
        Ray parameter(s).
    W_star : array_like, shape (V, d), optional
        Precomputed :math:`W^\star`; computed with :func:`finite_component` if omitted.

    Returns
    -------
    float or ndarray (shape of ``R``)
    """
    data = _check_data(data)
    Ws = finite_component(data).W if W_star is None else _check_W(W_star, data, "W_star")
    M = np.sqrt(2.0) * np.max(np.linalg.norm(data.H, axis=1))
    out = data.V * np.exp(np.linalg.norm(Ws) * M - np.asarray(R, dtype=np.float64))
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------------------
# data subspace F and the finite component W*
# --------------------------------------------------------------------------------------
def _generator_index(data: NTPData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(context j, anchor z_j, other token z') for every anchored generator."""
    S = data.support.copy()
    S[np.arange(data.m), data.anchors] = False
    jj, zz = np.nonzero(S)
    return jj, data.anchors[jj], zz


class _DenseF:
    """Orthonormal basis of F in the coordinates of the row space of H (thin SVD)."""

    def __init__(self, data: NTPData, rank_tol: float) -> None:
        V, d, m = data.V, data.d, data.m
        U, s, Vh = np.linalg.svd(data.H, full_matrices=False)
        r = int(np.sum(s > s[0] * max(m, d) * np.finfo(float).eps)) if s.size and s[0] > 0 else 0
        self.V, self.d, self.r = V, d, r
        self.Vh = Vh[:r]  # (r, d): orthonormal basis of the row space of H
        Y = U[:, :r] * s[:r]  # (m, r): h_j = Y[j] @ Vh
        jj, aa, zz = _generator_index(data)
        A = np.zeros((jj.size, V, r))
        idx = np.arange(jj.size)
        A[idx, aa] = Y[jj]
        A[idx, zz] = -Y[jj]
        A = A.reshape(jj.size, V * r)
        norms = np.linalg.norm(A, axis=1)
        keep = norms > 0
        self.n_generators = int(jj.size)
        self.gen = (jj[keep], aa[keep], zz[keep])
        self.row_norms = norms[keep]
        A = A[keep] / norms[keep, None]
        if A.size:
            Ug, sg, Vtg = np.linalg.svd(A, full_matrices=False)
            k = int(np.sum(sg > rank_tol * sg[0]))
        else:
            Ug, sg, Vtg, k = np.zeros((0, 0)), np.zeros(0), np.zeros((0, V * r)), 0
        self.Ug, self.sg, self.k = Ug[:, :k], sg[:k], k
        self.Q = Vtg[:k]  # (k, V*r), orthonormal rows spanning F (reduced coordinates)

    def project(self, W: np.ndarray) -> np.ndarray:
        Wr = (W @ self.Vh.T).reshape(*W.shape[:-2], self.V * self.r)
        coef = Wr @ self.Q.T
        return (coef @ self.Q).reshape(*W.shape[:-2], self.V, self.r) @ self.Vh

    def basis(self) -> np.ndarray:
        return self.Q.reshape(self.k, self.V, self.r) @ self.Vh

    def orth_basis(self) -> np.ndarray:
        V, d, r = self.V, self.d, self.r
        B1 = scipy.linalg.null_space(self.Q) if self.k else np.eye(V * r)
        B1 = B1.T.reshape(-1, V, r) @ self.Vh
        N = scipy.linalg.null_space(self.Vh) if r else np.eye(d)  # (d, d - r): complement of rowspace(H)
        B2 = np.einsum("vw,ik->vkwi", np.eye(V), N).reshape(V * N.shape[1], V, d)
        return np.concatenate([B1, B2], axis=0)

    def finite_component(self, data: NTPData) -> np.ndarray:
        jj, aa, zz = self.gen
        b = (data.log_P[jj, aa] - data.log_P[jj, zz]) / self.row_norms
        x = self.Q.T @ ((self.Ug.T @ b) / self.sg) if self.k else np.zeros(self.V * self.r)
        return x.reshape(self.V, self.r) @ self.Vh


class _BlocksF:
    r"""Projection onto F through the Gram system of the generators (no dense basis).

    Every element of F is :math:`CH` with :math:`C\in\mathbb R^{V\times m}`,
    :math:`C_{vj}=0` for :math:`v\notin\mathcal S_j` and zero column sums. Minimising
    :math:`\|W-CH\|^2` over such C (multipliers :math:`\mu\in\mathbb R^m` for the
    column sums) gives, with :math:`G=HH^\top`, :math:`B=WH^\top` and
    :math:`J_v=\{j: v\in\mathcal S_j\}`:

    .. math:: C_{v,J_v} = (B_{v,J_v}-\mu_{J_v})G_{J_vJ_v}^{-1},\qquad
              \Big(\sum_v L_v^\top G_{J_vJ_v}^{-1}L_v\Big)\mu=\sum_v L_v^\top
              G_{J_vJ_v}^{-1}B_{v,J_v}^\top .

    Needs rank(H) = m. Cost per projection: two (V, m, d) products plus V small
    Cholesky solves and one m x m solve.
    """

    CACHE_ENTRIES = 20_000_000

    def __init__(self, data: NTPData, cond_max: float) -> None:
        H = data.H
        self.H, self.V, self.m, self.data = H, data.V, data.m, data
        G = H @ H.T
        ev = np.linalg.eigvalsh(G)
        if not (ev[-1] > 0 and ev[0] > ev[-1] / cond_max):
            raise np.linalg.LinAlgError(
                f"method='blocks' needs linearly independent context embeddings (rank H = m = {data.m}); "
                f"the Gram matrix H H^T has condition number {ev[-1] / max(ev[0], 1e-300):.3g} > {cond_max:.3g}"
            )
        self.G = G
        self.cond = float(ev[-1] / ev[0])
        self.J = [np.flatnonzero(data.support[:, v]) for v in range(data.V)]
        cache = sum(j.size ** 2 for j in self.J) <= self.CACHE_ENTRIES
        K = np.zeros((data.m, data.m))
        self.factors: list[Any] = []
        for Jv in self.J:
            if Jv.size == 0:
                self.factors.append(None)
                continue
            c = scipy.linalg.cho_factor(G[np.ix_(Jv, Jv)], lower=True, check_finite=False)
            K[np.ix_(Jv, Jv)] += scipy.linalg.cho_solve(c, np.eye(Jv.size), check_finite=False)
            self.factors.append(c if cache else None)
        self.K = scipy.linalg.cho_factor(K, lower=True, check_finite=False)
        self.dim = int(np.sum(data.support_sizes - 1))

    def _factor(self, v: int) -> Any:
        c = self.factors[v]
        if c is None:
            Jv = self.J[v]
            c = scipy.linalg.cho_factor(self.G[np.ix_(Jv, Jv)], lower=True, check_finite=False)
        return c

    def solve_C(self, B: np.ndarray) -> np.ndarray:
        """C in the constraint set with (C G)[v, j] - B[v, j] constant over v in S_j."""
        b = np.zeros(self.m)
        for v, Jv in enumerate(self.J):
            if Jv.size:
                b[Jv] += scipy.linalg.cho_solve(self._factor(v), B[v, Jv], check_finite=False)
        mu = scipy.linalg.cho_solve(self.K, b, check_finite=False)
        C = np.zeros((self.V, self.m))
        for v, Jv in enumerate(self.J):
            if Jv.size:  # uncached factors are recomputed: memory over time for huge supports
                C[v, Jv] = scipy.linalg.cho_solve(self._factor(v), B[v, Jv] - mu[Jv], check_finite=False)
        return C

    def project(self, W: np.ndarray) -> np.ndarray:
        if W.ndim == 3:
            return np.stack([self.project(w) for w in W])
        return self.solve_C(W @ self.H.T) @ self.H

    def finite_component(self, data: NTPData) -> np.ndarray:
        return self.solve_C(np.where(data.support, data.log_P, 0.0).T) @ self.H

    @functools.cached_property
    def dense(self) -> _DenseF:
        return _DenseF(self.data, 1e-10)


@dataclass(frozen=True, eq=False)
class DataSubspace:
    r"""The data subspace :math:`F\subset\mathbb R^{V\times d}` of [T24] eq. (5).

    .. math:: F=\operatorname{span}\{(e_z-e_{z'})\bar h_j^\top:\ z\ne z'\in\mathcal S_j,\ j\in[m]\}
              =\operatorname{span}\{(e_{z_j}-e_{z'})\bar h_j^\top:\ z'\in\mathcal S_j\setminus\{z_j\}\}

    (anchored generators, anchors :attr:`NTPData.anchors`). Matrices are identified with
    vectors by C-order flattening (``W.ravel()``, index ``v * d + i``); inner product is
    Frobenius. Build it with :func:`data_subspace`.

    Attributes
    ----------
    dim : int
        :math:`\dim F` (= :math:`\sum_j(S_j-1)` when the embeddings are linearly
        independent).
    shape : tuple of int
        ``(V, d)``.
    method : {"dense", "blocks"}
        How projections are computed (see :func:`data_subspace`).
    rank_tol : float
        Relative singular-value threshold used for the rank of the generators
        (``"dense"``).
    n_generators : int
        Number of anchored generators, :math:`\sum_j(S_j-1)`.
    """

    dim: int
    shape: tuple[int, int]
    method: str
    rank_tol: float
    n_generators: int
    _impl: Any = field(repr=False)

    def _check(self, W: Any, name: str = "W") -> np.ndarray:
        W = _as_real_array(W, name)
        if W.ndim not in (2, 3) or W.shape[-2:] != self.shape:
            raise ValueError(
                f"{name} must have shape (V, d) = {self.shape} or (k, V, d) for a batch, got {W.shape}"
            )
        return W

    def project(self, W: Any) -> np.ndarray:
        r"""Orthogonal projection :math:`P_F(W)`.

        Parameters
        ----------
        W : array_like, shape (V, d) or (k, V, d)

        Returns
        -------
        ndarray, same shape as ``W``
        """
        W = self._check(W)
        if self.dim == 0:
            return np.zeros_like(W)
        return self._impl.project(W)

    def project_orth(self, W: Any) -> np.ndarray:
        r"""Orthogonal projection onto :math:`F^\perp`: :math:`W-P_F(W)`.

        Parameters
        ----------
        W : array_like, shape (V, d) or (k, V, d)

        Returns
        -------
        ndarray, same shape as ``W``
        """
        W = self._check(W)
        return W - self.project(W)

    @functools.cached_property
    def basis(self) -> np.ndarray:
        r"""Orthonormal basis of F, shape ``(dim, V, d)`` (``basis[k]`` is a V x d matrix).

        As a matrix, ``Q = basis.reshape(dim, V * d).T`` (shape (V*d, dim)) has
        :math:`Q^\top Q=I` and :math:`P_F(W)=QQ^\top\mathrm{vec}(W)`. Available for
        ``method="dense"``, and otherwise when the generator matrix has at most 5e7
        entries (it is then built on first access, with ``rank_tol = 1e-10``).
        """
        V, d = self.shape
        if self.method != "dense":
            if self.n_generators * V * min(d, self._impl.m) > 50_000_000:
                raise ValueError(
                    f"basis is too large to materialise here ({self.n_generators} generators in "
                    f"R^({V}x{d})); use project / project_orth"
                )
            return _readonly(self._impl.dense.basis())
        return _readonly(self._impl.basis())

    @functools.cached_property
    def orth_basis(self) -> np.ndarray:
        r"""Orthonormal basis of :math:`F^\perp`, shape ``(V*d - dim, V, d)``.

        The complement of F inside :math:`\mathbb R^V\otimes\mathrm{rowspace}(H)` followed
        by :math:`e_v n^\top` for an orthonormal basis n of the null space of H. Only for
        :math:`(Vd)^2\le 5\cdot10^7`.
        """
        V, d = self.shape
        if (V * d) ** 2 > 50_000_000:
            raise ValueError(
                f"orth_basis is only materialised for (V d)^2 <= 5e7; here V d = {V * d}; use project_orth"
            )
        impl = self._impl if self.method == "dense" else self._impl.dense
        return _readonly(impl.orth_basis())


def data_subspace(data: NTPData, *, method: str = "auto", rank_tol: float = 1e-10) -> DataSubspace:
    r"""Build the data subspace F of [T24] eq. (5) with its projections.

    Two exact methods:

    * ``"dense"``: thin SVD :math:`H=U\Sigma V_H^\top` (rank r at the usual
      :math:`\max(m,d)\,\epsilon_{\rm mach}` threshold) so that F lives in
      :math:`\mathbb R^V\otimes\mathrm{rowspace}(H)\cong\mathbb R^{V\times r}`; the
      anchored generators :math:`(e_{z_j}-e_{z'})(U\Sigma)_j` are normalised to unit norm
      and an SVD gives an orthonormal basis, keeping singular values above
      ``rank_tol`` times the largest (spec §4 step 2). Handles any H (rank-deficient,
      repeated embeddings, zero rows). Cost
      :math:`O(N\,Vr\min(N,Vr))` with :math:`N=\sum_j(S_j-1)`.
    * ``"blocks"``: no basis; solves the Gram system of the generators, which is
      block-structured (:math:`\langle(e_a-e_b)\bar h_j^\top,(e_c-e_e)\bar h_k^\top\rangle
      =(e_a-e_b)^\top(e_c-e_e)\,\bar h_j^\top\bar h_k`), token by token with an
      m x m Schur complement for the zero-column-sum constraints (see the class
      ``_BlocksF``). Needs linearly independent embeddings (rank H = m, the d > m
      regime of [T24] Lemma 1) with cond(H H^T) <= 1e12; projection accuracy is about
      cond(H H^T) machine epsilons. Then :math:`\dim F=\sum_j(S_j-1)` exactly.
      Scales to m = V = 1000, d = 1001.
    * ``"auto"`` (default): ``"dense"`` when its SVD is cheap,
      :math:`N\cdot Vr\cdot\min(N,Vr)\le 2\cdot10^8` (r = min(m, d)), e.g. the [T24]
      App. A.2 sizes; otherwise ``"blocks"`` if rank H = m, else ``"dense"``.

    Parameters
    ----------
    data : NTPData
    method : {"auto", "dense", "blocks"}
    rank_tol : float
        Relative rank threshold for the dense method (default 1e-10, spec §4).

    Returns
    -------
    DataSubspace

    Raises
    ------
    ValueError
        Unknown method, or ``"blocks"`` requested/required with linearly dependent
        embeddings.

    Examples
    --------
    >>> data = NTPData.synthetic(50, 60, 10, 6, rng=0)
    >>> data_subspace(data).dim          # sum_j (S_j - 1), spec §1.3
    250
    """
    data = _check_data(data)
    if method not in ("auto", "dense", "blocks"):
        raise ValueError(f"method must be 'auto', 'dense' or 'blocks', got {method!r}")
    if not (np.isfinite(rank_tol) and 0 < rank_tol < 1):
        raise ValueError(f"rank_tol must be a float in (0, 1), got {rank_tol!r}")
    N = int(np.sum(data.support_sizes - 1))
    impl: Any = None
    if method == "auto":
        Vr = data.V * min(data.m, data.d)
        method = "dense"
        if N * Vr * min(N, Vr) > 2e8:
            try:
                impl, method = _BlocksF(data, cond_max=1e12), "blocks"
            except np.linalg.LinAlgError:
                pass
    if impl is not None:
        dim = impl.dim
    elif method == "dense":
        impl = _DenseF(data, rank_tol)
        dim = impl.k
    else:
        try:
            impl = _BlocksF(data, cond_max=1e12)
        except np.linalg.LinAlgError as exc:
            raise ValueError(
                f"data_subspace(method='blocks') failed: {exc}. Use method='dense' (exact for any H, "
                "but memory and time grow like the dense generator matrix)"
            ) from exc
        dim = impl.dim
    return DataSubspace(dim=dim, shape=(data.V, data.d), method=method, rank_tol=rank_tol,
                        n_generators=N, _impl=impl)


@dataclass(frozen=True, eq=False)
class FiniteComponent:
    r"""Result of :func:`finite_component`.

    Attributes
    ----------
    W : ndarray, shape (V, d)
        :math:`W^\star` (read-only).
    max_residual : float
        :math:`\max_{j,z}|r_{j,z}|` of :func:`log_odds_residual` at :math:`W^\star`.
    relative_residual : float
        ``max_residual / max(1, max |log-odds|)``.
    compatible : bool
        ``relative_residual <= tol``: the data are NTP_H-compatible ([T24] Def. 1).
    tol : float
        Threshold used for ``compatible``.
    dim_F : int
        :math:`\dim F`.
    n_equations : int
        :math:`\sum_j(S_j-1)` anchored log-odds equations.
    method : str
        ``"dense"`` or ``"blocks"`` (see :func:`data_subspace`).
    """

    W: np.ndarray
    max_residual: float
    relative_residual: float
    compatible: bool
    tol: float
    dim_F: int
    n_equations: int
    method: str


def finite_component(
    data: NTPData,
    *,
    subspace: DataSubspace | None = None,
    method: str = "auto",
    rank_tol: float = 1e-10,
    tol: float = 1e-8,
) -> FiniteComponent:
    r""":math:`W^\star`: the unique solution in F of the log-odds equations, [T24] eq. (4).

    .. math:: (e_{z_j}-e_{z'})^\top W\bar h_j=\log\frac{\hat p_{j,z_j}}{\hat p_{j,z'}},
              \quad z'\in\mathcal S_j\setminus\{z_j\},\ j\in[m],\qquad W\in F.

    Stacked as :math:`A\,\mathrm{vec}(W)=b`, :math:`W^\star=A^+b` is the minimum-norm
    solution and lies in :math:`\mathrm{rowspace}(A)=F` (spec §1.4). ``"dense"`` uses
    the SVD of the (row-normalised) generators; ``"blocks"`` solves the same Gram
    system as :meth:`DataSubspace.project` with the log-probabilities in place of the
    logits (logit differences of :math:`CH` on each support = log-odds). W* does not
    depend on :math:`\hat\pi`; :math:`\mathbf 1^\top W^\star=0`; it is the minimiser of
    CE on F (Lemma 4) and the limit of :math:`P_F(W_k)` under GD (Thm. 2).

    If the data are not compatible (possible only when the embeddings are linearly
    dependent), the returned W is the least-squares solution in F of the
    row-normalised equations and ``compatible`` is False; check the residual.

    Parameters
    ----------
    data : NTPData
    subspace : DataSubspace, optional
        Reuse a subspace built by :func:`data_subspace` for the same data.
    method, rank_tol
        Passed to :func:`data_subspace` when ``subspace`` is None.
    tol : float
        Relative residual threshold for ``compatible`` (default 1e-8).

    Returns
    -------
    FiniteComponent
        ``finite_component(data).W`` is the (V, d) matrix.

    Examples
    --------
    >>> import numpy as np
    >>> data = NTPData.synthetic(4, 6, 5, 3, rng=1)
    >>> fc = finite_component(data)
    >>> fc.compatible, bool(np.abs(fc.W.sum(axis=0)).max() < 1e-12)
    (True, True)
    """
    data = _check_data(data)
    if subspace is None:
        subspace = data_subspace(data, method=method, rank_tol=rank_tol)
    elif not isinstance(subspace, DataSubspace) or subspace.shape != (data.V, data.d):
        raise TypeError(f"subspace must be a DataSubspace of shape {(data.V, data.d)} built from data")
    W = np.zeros((data.V, data.d)) if subspace.dim == 0 else subspace._impl.finite_component(data)
    res = _log_odds_res(data.H @ W.T, data)
    max_res = float(np.max(np.abs(res))) if res.size else 0.0
    scale = max(1.0, float(np.max(np.abs(_log_odds_res(np.zeros((data.m, data.V)), data)))))
    return FiniteComponent(
        W=_readonly(W), max_residual=max_res, relative_residual=max_res / scale,
        compatible=bool(max_res / scale <= tol), tol=tol, dim_F=subspace.dim,
        n_equations=int(np.sum(data.support_sizes - 1)), method=subspace.method,
    )


# The max-margin side (NTP-SVM, separability) lives in theory.ntp_svm, which only
# duck-types NTPData; re-exported here so ``theory.ntp`` is the model's one entry point.
from theory.ntp_svm import check_separability, max_margin_direction  # noqa: E402

__all__ += ["check_separability", "max_margin_direction"]
