r"""NTP data: the distinct-context training set :class:`NTPData`, its constructors,
one-hot classification data and content keys (part of :mod:`theory.ntp`)."""

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

from theory._validation import as_choice, as_generator, as_int, as_real, as_real_array, check_memory

__all__ = [
    "SUM_TOL",
    "TOY_2D_SUPPORTS",
    "TOY_2D_EMBEDDINGS",
    "NTPData",
    "classification_data",
    "binary_data",
    "logistic_weights",
    "data_fingerprint",
    "readonly",
]

#: Tolerance on ``|sum(row) - 1|`` for rows of ``P`` and for ``pi``.
SUM_TOL = 1e-9

#: Supports of the 2-D toy of [T24] Figs. 1-2 (0-based; the paper's 1-based labels are
#: {1,2,5}, {1,4,5}, {2,3,4}), for contexts A, B, C in that order.
TOY_2D_SUPPORTS: tuple[tuple[int, ...], ...] = ((0, 1, 4), (0, 3, 4), (1, 2, 3))

#: Context embeddings of the 2-D toy (not given in [T24]; our choice): unit vectors at 90, 210 and
#: 330 degrees (A on top, B lower left, C lower right). With these supports they are
#: NTP-compatible (the 6 generators of F are independent) and NTP-separable (checked by
#: a linear program in the tests), although d = 2 < m = 3; only about a quarter of
#: Gaussian 3x2 embeddings are separable for these supports.
TOY_2D_EMBEDDINGS: np.ndarray = np.array(
    [[np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))] for a in (90.0, 210.0, 330.0)]
)
TOY_2D_EMBEDDINGS.setflags(write=False)

_EMBEDDINGS = ("gaussian", "unit", "orthonormal", "one_hot")


def readonly(a: np.ndarray) -> np.ndarray:
    """Mark ``a`` read-only and return it."""
    a.setflags(write=False)
    return a


# --------------------------------------------------------------------------------------
# data model
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class NTPData:
    r"""A next-token-prediction training set in distinct-context form :math:`\mathcal T_m`.

    [T24] §2 (paper, Sec. 'Implicit bias of next-token prediction in linear models'): :math:`\mathcal T_m=\{(\bar
    h_j,\hat\pi_j,\hat p_j)\}_{j\in[m]}`.
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
        H = as_real_array(self.H, "H", ndim=2)
        P = as_real_array(self.P, "P", ndim=2)
        pi = as_real_array(self.pi, "pi", ndim=1)
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
            if isinstance(self.contexts, (str, bytes)):
                raise TypeError(f"contexts must be a sequence of m = {m} labels, got the string {self.contexts!r}")
            contexts = tuple(self.contexts)
            if len(contexts) != m:
                raise ValueError(f"contexts must have length m = {m}, got {len(contexts)}")
            object.__setattr__(self, "contexts", contexts)
        if self.vocabulary is not None:
            if isinstance(self.vocabulary, (str, bytes)):
                raise TypeError(f"vocabulary must be a sequence of V = {V} labels, got the string {self.vocabulary!r}")
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
        object.__setattr__(self, "H", readonly(H))
        object.__setattr__(self, "P", readonly(P))
        object.__setattr__(self, "pi", readonly(pi))

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
        return readonly(self.P > 0)

    @functools.cached_property
    def support_sizes(self) -> np.ndarray:
        """Support sizes :math:`S_j`, shape (m,)."""
        return readonly(self.support.sum(axis=1))

    @functools.cached_property
    def supports(self) -> tuple[np.ndarray, ...]:
        """``supports[j]``: sorted in-support token ids of context j."""
        return tuple(readonly(np.flatnonzero(row)) for row in self.support)

    @functools.cached_property
    def anchors(self) -> np.ndarray:
        """Anchor token per context: most probable in-support token (smallest id on ties)."""
        return readonly(np.argmax(np.where(self.support, self.P, -1.0), axis=1))

    @functools.cached_property
    def is_one_hot(self) -> bool:
        """True if every context has a single next token (all :math:`S_j=1`)."""
        return bool(np.all(self.support_sizes == 1))

    @functools.cached_property
    def log_P(self) -> np.ndarray:
        r""":math:`\log\hat p_{j,z}` on the supports and 0 off them, shape (m, V)."""
        out = np.zeros_like(self.P)
        np.log(self.P, out=out, where=self.support)
        return readonly(out)

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
        generated" (our choice); Dirichlet(1) matches its reported entropy (paper, Sec. 'Implicit bias of
        next-token prediction in linear models') and
        N(0, 1) entries are the reference setting of the appendix 'Checks'. How :math:`\hat\pi` arises from
        n = 5000 sequences is not stated (our choice); the multinomial-plus-one count model
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
            :math:`\|\bar h\|^2` (check N.9).
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
        m = as_int(m, "m", low=1)
        d = as_int(d, "d", low=1)
        V = as_int(V, "V", low=2)
        rng = as_generator(rng, "rng")
        if isinstance(support_size, (str, bytes)):
            raise TypeError(f"support_size must be an int or a sequence of m = {m} ints, got {support_size!r}")
        sizes = np.broadcast_to(np.asarray(support_size), (m,)) if np.ndim(support_size) == 0 else np.asarray(support_size)
        if sizes.shape != (m,) or sizes.dtype.kind not in "iu":
            raise ValueError(
                f"support_size must be an int or a sequence of m = {m} ints, got {support_size!r}"
            )
        if np.any(sizes < 1) or np.any(sizes > V - 1):
            raise ValueError(f"support_size entries must lie in [1, V - 1] = [1, {V - 1}], got {support_size!r}")
        alpha = as_real(alpha, "alpha", low=0, low_open=True)
        scale = as_real(scale, "scale", low=0, low_open=True)
        embedding = as_choice(embedding, "embedding", _EMBEDDINGS)
        check_memory(8.0 * 3 * m * (V + d), f"NTPData.synthetic(m={m}, d={d}, V={V})",
                     hint="P (m, V) and H (m, d) are dense float64 arrays, copied once by validation")
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
            n = as_int(n, "n", low=m)
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
        scale=scale)``; see :meth:`synthetic` for the documented choices.
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
        and 5 follow A and B; Fig. 1's caption conflicts with it; our choice).
        Embeddings default to :data:`TOY_2D_EMBEDDINGS` (unit vectors at 90, 210, 330
        degrees; our choice). :math:`\hat\pi` is uniform (1/3 each, our choice).

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
            rng = as_generator(rng, "rng")
            probs = np.stack([rng.dirichlet(np.ones(3)) for _ in range(3)])
        else:
            probs = as_real_array(probabilities, "probabilities", ndim=2)
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
        K = as_int(context_length, "context_length", low=1)
        t0 = as_int(min_context_length, "min_context_length", low=0, high=K)
        full_support = as_choice(full_support, "full_support", ("error", "drop"))
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
        V = max(max_tok + 1, 2) if vocab_size is None else as_int(vocab_size, "vocab_size", low=2)
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
            k = as_int(max_contexts, "max_contexts", low=1)
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
        object.__setattr__(obj, name, readonly(np.array(arr, dtype=np.float64)))
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
        scale = as_real(scale, "scale", low=0, low_open=True)
        if embed == "one_hot":
            if d is not None and d != m:
                raise ValueError(f"embed='one_hot' uses d = m = {m}; got d = {d}")
            return scale * np.eye(m)
        d = m + 1 if d is None else as_int(d, "d", low=1)
        if rng is None:
            raise TypeError("embed='gaussian' needs rng (a numpy.random.Generator or an int seed)")
        return _make_embeddings("gaussian", m, d, as_generator(rng, "rng"), float(scale))
    if not callable(embed):
        raise TypeError(f"embed must be a callable or 'gaussian'/'one_hot', got {type(embed).__name__}")
    rows = []
    for c in contexts:
        h = as_real_array(embed(c), f"embed({c!r})", ndim=1)
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
