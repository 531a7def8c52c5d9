r"""The NTK separation margin γ of a finite dataset: estimates, bounds and certificates.

Definition ([JT20] Assumption 2.1; not confirmed
against the paper's full text): with :math:`\phi_i(z)=y_ix_i\mathbb 1[\langle z,x_i\rangle>0]`
and :math:`z\sim\mu_N=\mathcal N(0,I_d)`,

.. math::

    \gamma^*=\sup_{\|\bar v(z)\|_2\le1\ \forall z}\ \min_i\ \mathbb E_z\langle\bar v(z),\phi_i(z)\rangle
    =\min_{q\in\Delta_n}\mathbb E_z\|\psi_q(z)\|_2,\qquad \psi_q(z)=\sum_iq_i\phi_i(z)

(the second form by Sion's minimax theorem (derived here)). The estimators and bounds
computed by :func:`ntk_margin`:

* **random features** (derived here): the same program with :math:`\mu_N` replaced by the
  empirical measure of K Gaussian draws :math:`z_k` (:mod:`theory.ntk._program`),
  solved as a primal SOCP and as its dual over the simplex; the certified bracket
  ``[rf_primal, rf_dual]`` contains :math:`\gamma_K`. Its distance to
  :math:`\gamma^*` is at most ``rf_error`` :math:`=\sqrt{2\ln(2(n+1)/\delta)/K}` with
  probability :math:`\ge1-\delta`: Hoeffding for the fixed optimal :math:`\bar v^*`
  (n margins with terms in [-1, 1]) gives :math:`\gamma_K\ge\gamma^*-\epsilon`, and
  Hoeffding for the fixed optimal :math:`q^*` (one average of terms in [0, 1]) gives
  :math:`\gamma_K\le\gamma^*+\epsilon`; the union over the n + 1 events gives the log
  term. The typical error is :math:`O(K^{-1/2})` with a smaller constant.
* **exact in d = 2** (derived here): the program over the arcs of the arrangement of the
  lines :math:`x_i^\perp` (:mod:`theory.ntk._arrangement`); bracket ``[exact_primal,
  exact_dual]``. In d = 1 the two half-lines, each of mass 1/2.
* **kernel sandwich** (derived here): :math:`\gamma_2^2\le\gamma^*\le\gamma_2` with

  .. math::

      \gamma_2=\min_{q\in\Delta_n}\sqrt{q^\top Qq},\qquad Q_{ij}=y_iy_jK_1(x_i,x_j),

  the *geometric* margin :math:`1/\|w\|` of the hard-margin kernel SVM without bias on
  :math:`K_1` (:func:`theory.ntk.first_layer_kernel`); with its dual variables
  :math:`\alpha` (:math:`w=\sum_i\alpha_iy_i\phi(x_i)`) one has :math:`q=\alpha/\sum\alpha`
  and :math:`\gamma_2=(\sum_i\alpha_i)^{-1/2}`. Upper bound: Jensen,
  :math:`\mathbb E\|\psi_q\|\le(\mathbb E\|\psi_q\|^2)^{1/2}=(q^\top Qq)^{1/2}`. Lower
  bound: :math:`\|\psi_q(z)\|\le\sum_iq_i\|x_i\|\le1` needs :math:`\|x_i\|\le1`, and
  then :math:`\mathbb E\|\psi_q\|\ge\mathbb E\|\psi_q\|^2=q^\top Qq\ge\gamma_2^2`. The
  SVM is solved by :func:`theory.margin.hard_margin_svm` on the Gram matrix Q.
* **linear bound** (derived here): if a unit vector u separates the data with margin
  :math:`\gamma_{lin}=\min_iy_i\langle u,x_i\rangle>0`, then :math:`\bar v\equiv u` gives
  :math:`\gamma^*\ge\gamma_{lin}/2` (each :math:`x_i\ne0` is active with probability
  1/2). :math:`\gamma_{lin}` is the max-min linear margin, an SOCP (Clarabel).

Contradictory data (two positively parallel inputs, in particular equal ones, with
opposite labels, or a zero input) has :math:`\gamma^*=0`: the features of the pair are
positive multiples of each other with opposite signs, so no :math:`\bar v` gives both a
positive margin. Then no program is solved and the message names the samples.

References: [JT20] Z. Ji, M. Telgarsky, ICLR 2020, arXiv 1909.12292; [M25] S. Mandal,
X. Lin, R. Srikant, L4DC 2025, arXiv 2412.09579; [MO] A. Munteanu, S. Omlor (ICLR 2026
submission) for the cell-arrangement view.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from theory._validation import (as_bool, as_choice, as_generator, as_int, as_options, as_real, as_real_array,
                                as_sign_labels)
from theory.ntk._arrangement import arc_cells_2d, half_line_cells_1d
from theory.ntk.data import NORM_SLACK, as_unit_ball_inputs  # noqa: F401 (NORM_SLACK re-exported)
from theory.ntk._kernel import activation_pattern, first_layer_kernel
from theory.ntk._program import (CLARABEL_SOCP_OPTIONS, MARGIN_SOLVERS, random_feature_patterns,
                                 solve_margin_program, unique_patterns)

__all__ = ["NTKMarginResult", "ntk_margin", "check_ntk_data", "contradictory_pairs",
           "kernel_margin", "linear_margin", "random_feature_error", "uniform_dual_mc"]

#: Inputs may exceed the unit ball by this much (rounding of a normalisation).

#: Two inputs count as positively parallel when their cosine is at least 1 - this.
PARALLEL_TOL = 1e-12


@dataclass(frozen=True)
class NTKMarginResult:
    r"""The NTK margin γ of a dataset, its bounds and how each number was obtained.

    Attributes
    ----------
    gamma : float
        Best estimate of :math:`\gamma^*`: the midpoint of the exact bracket in d <= 2,
        else of the random-feature bracket; 0 for contradictory data.
    method : str
        Source of ``gamma``: ``"exact-d1"``, ``"exact-d2"``, ``"random-features"`` or
        ``"contradictory"``.
    lower, upper : float
        Deterministic bounds on :math:`\gamma^*`: ``lower`` is the largest of
        :math:`\gamma_2^2`, :math:`\gamma_{lin}/2` and ``exact_primal``; ``upper`` the
        smallest of :math:`\gamma_2` and ``exact_dual`` (those that were computed;
        ``upper`` is ``inf`` when none was).
    rf_primal, rf_dual, rf_gap : float or None
        Certified bracket of the random-feature margin :math:`\gamma_K` and its width.
    rf_error : float or None
        Stated error :math:`\sqrt{2\ln(2(n+1)/\delta)/K}` of :math:`\gamma_K` about
        :math:`\gamma^*` (probability :math:`\ge1-\delta`).
    n_features : int
        K, the number of Gaussian directions drawn.
    n_patterns : int or None
        Distinct activation patterns among them (the size of the solved program).
    exact_primal, exact_dual, exact_gap : float or None
        Certified bracket of the exact value (None unless d <= 2).
    gamma2 : float or None
        Kernel-SVM margin :math:`\gamma_2` (upper bound); ``gamma2**2`` is a lower bound.
    kernel_solver : str or None
        How :math:`\gamma_2` was solved (from :func:`theory.margin.hard_margin_svm`).
    gamma_linear : float or None
        Max-min linear margin :math:`\gamma_{lin}` (may be <= 0: not linearly separable).
    linear_bound : float or None
        :math:`\max(\gamma_{lin},0)/2`, a lower bound on :math:`\gamma^*`.
    solver : str
        cvxpy solver of the SOCPs (``"CLARABEL"``).
    seed : object
        The ``seed`` argument as given (int, or the type name of a Generator/SeedSequence).
    delta : float
        Failure probability used in ``rf_error``.
    scale : float
        Factor the inputs were multiplied by (1 unless ``normalize=True`` shrank them).
    contradictions : tuple of tuple of int
        Offending sample pairs (i, j) (and (i, i) for a zero input) when γ = 0.
    message : str
        Human-readable summary of the above.
    q : ndarray, shape (n,)
        Dual weights of the method that gave ``gamma`` (support = the hardest samples).
    """

    gamma: float
    method: str
    lower: float
    upper: float
    n: int
    d: int
    n_features: int
    n_patterns: int | None
    rf_primal: float | None
    rf_dual: float | None
    rf_gap: float | None
    rf_error: float | None
    exact_primal: float | None
    exact_dual: float | None
    exact_gap: float | None
    gamma2: float | None
    kernel_solver: str | None
    gamma_linear: float | None
    linear_bound: float | None
    solver: str
    seed: object
    delta: float
    scale: float
    contradictions: tuple
    message: str
    q: np.ndarray = field(repr=False, compare=False)

    @property
    def gamma2_squared(self) -> float | None:
        r""":math:`\gamma_2^2`, the kernel lower bound."""
        return None if self.gamma2 is None else self.gamma2 ** 2


def check_ntk_data(X, y, normalize: bool = False) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Validate a binary dataset for the NTK margin; return ``(X, y, scale)``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Finite real inputs with :math:`\|x_i\|\le1` (the [JT20] setting).
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    normalize : bool
        If true and some :math:`\|x_i\|>1`, divide every input by the largest norm (angles
        and norm ratios are kept; γ scales by the same factor, returned as ``scale``).

    Raises
    ------
    ValueError
        Non-finite or mis-shaped inputs, labels outside {-1, +1}, or :math:`\|x_i\|>1`
        without ``normalize``.
    TypeError
        Non-numeric input, or ``normalize`` not a bool.
    """
    X, divisor = as_unit_ball_inputs(X, normalize)
    n = X.shape[0]
    y = as_real_array(y, "y", ndim=1)
    if y.shape[0] != n:
        raise ValueError(f"y must have shape ({n},) to match X of shape {X.shape}, got {y.shape}")
    bad = np.nonzero((y != 1.0) & (y != -1.0))[0]
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"y must contain only the labels -1 and +1; y[{i}] = {float(y[i])!r}")
    scale = 1.0 / divisor
    return X, y, scale


def contradictory_pairs(X: np.ndarray, y: np.ndarray) -> list[tuple[int, int]]:
    r"""Sample pairs that force :math:`\gamma^*=0`.

    Pairs (i, j), i < j, of positively parallel inputs (cosine >= 1 - 1e-12, which
    includes equal inputs) with opposite labels, and (i, i) for a zero input.

    ``X`` (n, d) finite inputs (any norm: only directions matter), ``y`` (n,) labels in
    {-1, +1}.
    """
    X, y = _check_xy(X, y)
    norms = np.linalg.norm(X, axis=1)
    out = [(int(i), int(i)) for i in np.nonzero(norms == 0)[0]]
    nz = np.nonzero(norms > 0)[0]
    U = X[nz] / norms[nz, None]
    pos, neg = nz[y[nz] > 0], nz[y[nz] < 0]
    if pos.size and neg.size:
        idx = {int(k): r for r, k in enumerate(nz)}
        Up = U[[idx[int(k)] for k in pos]]
        Un = U[[idx[int(k)] for k in neg]]
        for start in range(0, pos.size, 1024):  # blocks keep the cosine matrix small
            cos = Up[start:start + 1024] @ Un.T
            for a, b in zip(*np.nonzero(cos >= 1.0 - PARALLEL_TOL)):
                i, j = int(pos[start + a]), int(neg[b])
                out.append((min(i, j), max(i, j)))
    return sorted(set(out))


def _check_xy(X, y) -> tuple[np.ndarray, np.ndarray]:
    """X (n, d) finite and nonempty, y (n,) in {-1, +1} (no norm condition)."""
    X = as_real_array(X, "X", ndim=2, copy=False)
    return X, as_sign_labels(y, "y", X.shape[0])


def random_feature_error(n, n_features, delta) -> float:
    r"""Stated error :math:`\sqrt{2\ln(2(n+1)/\delta)/K}` of :math:`\gamma_K` about :math:`\gamma^*`.

    Holds with probability :math:`\ge1-\delta` over the K Gaussian draws (Hoeffding at
    the optimal :math:`\bar v^*` and at the optimal :math:`q^*`, union bound) (derived here).
    """
    n = as_int(n, "n", low=1)
    K = as_int(n_features, "n_features", low=1)
    delta = as_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    return float(np.sqrt(2.0 * np.log(2.0 * (n + 1) / delta) / K))


def kernel_margin(X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, str]:
    r""":math:`\gamma_2`, the geometric margin of the kernel SVM on :math:`K_1` (see module doc).

    Returns ``(gamma2, q, how)`` with :math:`q=\alpha/\sum\alpha` and ``how`` naming the
    solver. Requires :func:`theory.margin.hard_margin_svm`. ``X`` (n, d) finite, ``y``
    (n,) in {-1, +1}; the sandwich :math:`\gamma_2^2\le\gamma^*` needs
    :math:`\|x_i\|\le1`, :math:`\gamma_2` itself does not.
    """
    from theory.margin import hard_margin_svm

    X, y = _check_xy(X, y)

    Q = np.outer(y, y) * first_layer_kernel(X)
    res = hard_margin_svm(gram=Q)
    alpha = np.asarray(res.alpha, dtype=np.float64)
    q = alpha / alpha.sum()
    gamma2 = float(np.sqrt(max(q @ Q @ q, 0.0)))
    how = (f"theory.margin.hard_margin_svm(gram=y y^T * K1) [{res.solver}, {res.status}, "
           f"polished={res.polished}, margin={res.margin:.6g}]")
    return gamma2, q, how


def linear_margin(X: np.ndarray, y: np.ndarray, solver_options: dict | None = None) -> float:
    r"""Max-min linear margin :math:`\max_{\|u\|\le1}\min_iy_i\langle u,x_i\rangle` (SOCP, Clarabel).

    Negative or zero when the data is not linearly separable through the origin. ``X``
    (n, d) finite, ``y`` (n,) in {-1, +1}, ``solver_options`` None or a dict of Clarabel
    settings overriding :data:`CLARABEL_SOCP_OPTIONS`.
    """
    import cvxpy as cp

    X, y = _check_xy(X, y)
    solver_options = as_options(solver_options, "solver_options")

    u = cp.Variable(X.shape[1])
    t = cp.Variable()
    prob = cp.Problem(cp.Maximize(t), [cp.multiply(y, X @ u) >= t, cp.norm(u, 2) <= 1])
    prob.solve(solver=cp.CLARABEL, **{**CLARABEL_SOCP_OPTIONS, **solver_options})
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"Clarabel returned status {prob.status!r} on the linear margin SOCP")
    uv = np.asarray(u.value, dtype=np.float64)
    uv = uv / max(np.linalg.norm(uv), 1.0)
    return float(np.min(y * (X @ uv)))  # certified: the margin of a feasible u


def ntk_margin(X, y, n_features, seed, *, normalize: bool = False, delta: float = 0.05,
               exact: str = "auto", kernel_bounds: bool = True, linear_bound: bool = True,
               solver_options: dict | None = None, rf_solver: str = "clarabel",
               rf_options: dict | None = None) -> NTKMarginResult:
    r"""The NTK separation margin γ of a binary dataset ([JT20] Assumption 2.1).

    .. math::

        \gamma^*=\sup_{\|\bar v\|_\infty\le1}\min_i\mathbb E_{z\sim\mathcal N(0,I_d)}
        \langle\bar v(z),y_ix_i\mathbb 1[\langle z,x_i\rangle>0]\rangle
        =\min_{q\in\Delta_n}\mathbb E_z\Big\|\sum_iq_iy_ix_i\mathbb 1[\langle z,x_i\rangle>0]\Big\|

    estimated by random features (primal SOCP and dual simplex program, certified gap),
    computed exactly in d = 2, and bounded by the kernel sandwich
    :math:`\gamma_2^2\le\gamma^*\le\gamma_2` and the linear bound
    :math:`\gamma^*\ge\gamma_{lin}/2`; see :mod:`theory.ntk._margin` for the derivations.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs with :math:`\|x_i\|\le1`.
    y : array_like, shape (n,)
        Labels in {-1, +1}.
    n_features : int >= 1
        Number K of Gaussian directions for the random-feature program. The stated error
        is :math:`\sqrt{2\ln(2(n+1)/\delta)/K}`, so :math:`K\gg\ln(n)/\gamma^2` is needed.
    seed : int, SeedSequence or Generator
        Source of the K directions.
    normalize : bool, default False
        Divide X by its largest row norm when that exceeds 1 (recorded as ``scale``);
        otherwise such inputs raise ``ValueError``.
    delta : float in (0, 1), default 0.05
        Failure probability of the stated random-feature error.
    exact : {"auto", "never"}, default "auto"
        Compute the exact value when d <= 2 ("auto") or not ("never").
    kernel_bounds : bool, default True
        Compute :math:`\gamma_2` with :func:`theory.margin.hard_margin_svm`.
    linear_bound : bool, default True
        Compute :math:`\gamma_{lin}` and the bound :math:`\gamma_{lin}/2`.
    solver_options : dict, optional
        Clarabel settings for the SOCPs (defaults :data:`CLARABEL_SOCP_OPTIONS`).
    rf_solver : {"clarabel", "first-order"}, default "clarabel"
        Solver of the random-feature program (:func:`theory.ntk.solve_margin_program`):
        Clarabel (gap ~1e-9; many minutes from about 1e7 nonzeros C n d / 2 up, e.g.
        K = 1000 on a digits pair) or the first-order dual solver (certified relative gap
        1e-3 by default, far below ``rf_error``). The exact d <= 2 program and the bounds
        always use Clarabel.
    rf_options : dict, optional
        Settings of ``rf_solver``: Clarabel settings (default ``solver_options``), or
        for "first-order" the keys of :data:`theory.ntk.FIRST_ORDER_OPTIONS`.

    Returns
    -------
    NTKMarginResult

    Raises
    ------
    ValueError, TypeError
        Bad inputs (see :func:`check_ntk_data`), ``n_features < 1``, ``delta`` outside
        (0, 1), an unknown ``exact``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]]); y = np.array([1.0, -1.0])
    >>> r = ntk_margin(X, y, n_features=200, seed=0, kernel_bounds=False)
    >>> r.method, round(r.gamma, 6)   # (1 + 1/sqrt(2))/4: four quadrants of z
    ('exact-d2', 0.426777)
    """
    X, y, scale = check_ntk_data(X, y, normalize)
    n, d = X.shape
    K = as_int(n_features, "n_features", low=1)
    delta = as_real(delta, "delta", low=0.0, high=1.0, low_open=True, high_open=True)
    exact = as_choice(exact, "exact", ("auto", "never"))
    kernel_bounds = as_bool(kernel_bounds, "kernel_bounds")
    linear_bound = as_bool(linear_bound, "linear_bound")
    solver_options = as_options(solver_options, "solver_options")
    rf_solver = as_choice(rf_solver, "rf_solver", MARGIN_SOLVERS)
    rf_options = as_options(rf_options, "rf_options")
    if not rf_options and rf_solver == "clarabel":
        rf_options = solver_options
    gen = as_generator(seed)
    seed_record = seed if isinstance(seed, (int, np.integer)) else type(seed).__name__
    rf_error = random_feature_error(n, K, delta)

    bad = contradictory_pairs(X, y)
    if bad:
        shown = ", ".join(f"x[{i}] is zero" if i == j else f"x[{i}] ~ x[{j}] with labels {y[i]:+.0f}/{y[j]:+.0f}"
                          for i, j in bad[:10])
        more = f" (and {len(bad) - 10} more)" if len(bad) > 10 else ""
        msg = ("gamma = 0: contradictory data, positively parallel inputs with opposite labels or zero "
               f"inputs: {shown}{more}")
        return NTKMarginResult(
            gamma=0.0, method="contradictory", lower=0.0, upper=0.0, n=n, d=d, n_features=K,
            n_patterns=None, rf_primal=None, rf_dual=None, rf_gap=None, rf_error=rf_error,
            exact_primal=None, exact_dual=None, exact_gap=None, gamma2=None, kernel_solver=None,
            gamma_linear=None, linear_bound=None, solver="none", seed=seed_record, delta=delta,
            scale=scale, contradictions=tuple(bad), message=msg, q=np.full(n, np.nan))

    Yx = y[:, None] * X
    P, w = random_feature_patterns(X, K, gen)
    rf = solve_margin_program(P, w, Yx, rf_options, solver=rf_solver)
    solvers = {rf.solver}
    lowers, uppers = [], []
    notes = [f"random features: K={K}, {rf.n_patterns} patterns, bracket [{rf.primal:.6g}, {rf.dual:.6g}] "
             f"({rf.solver}), stated error {rf_error:.3g} (delta={delta:g})"]

    ex = None
    if d <= 2 and exact == "auto":
        Pc, mu = half_line_cells_1d(X) if d == 1 else arc_cells_2d(X)[:2]
        Pc, mu = unique_patterns(Pc, mu)
        ex = solve_margin_program(Pc, mu, Yx, solver_options)
        solvers.add(ex.solver)
        lowers.append(ex.primal)
        uppers.append(ex.dual)
        notes.append(f"exact d={d}: {ex.n_patterns} cells, bracket [{ex.primal:.6g}, {ex.dual:.6g}]")

    gamma2 = kernel_how = None
    if kernel_bounds:
        from theory.margin import NotSeparableError

        try:
            gamma2, _, kernel_how = kernel_margin(X, y)
        except NotSeparableError as exc:  # no RKHS separator: gamma* <= gamma2 = 0
            gamma2, kernel_how = 0.0, f"theory.margin.hard_margin_svm: not separable ({exc})"
        lowers.append(gamma2 ** 2)
        uppers.append(gamma2)
        notes.append(f"kernel sandwich: gamma2^2 = {gamma2 ** 2:.6g} <= gamma <= gamma2 = {gamma2:.6g}")

    g_lin = lin_bound = None
    if linear_bound:
        g_lin = linear_margin(X, y, solver_options)
        lin_bound = max(g_lin, 0.0) / 2.0
        lowers.append(lin_bound)
        notes.append(f"linear bound: gamma_lin/2 = {lin_bound:.6g}")

    if ex is not None:
        gamma, method, q = 0.5 * (ex.primal + ex.dual), f"exact-d{d}", ex.q
    else:
        gamma, method, q = 0.5 * (rf.primal + rf.dual), "random-features", rf.q
    return NTKMarginResult(
        gamma=float(gamma), method=method, lower=float(max(lowers, default=0.0)),
        upper=float(min(uppers, default=np.inf)), n=n, d=d, n_features=K, n_patterns=rf.n_patterns,
        rf_primal=rf.primal, rf_dual=rf.dual, rf_gap=rf.gap, rf_error=rf_error,
        exact_primal=None if ex is None else ex.primal, exact_dual=None if ex is None else ex.dual,
        exact_gap=None if ex is None else ex.gap, gamma2=gamma2, kernel_solver=kernel_how,
        gamma_linear=g_lin, linear_bound=lin_bound, solver="+".join(sorted(solvers)), seed=seed_record,
        delta=delta, scale=scale, contradictions=(), message=f"gamma = {gamma:.6g} ({method}); " + "; ".join(notes),
        q=q)


def uniform_dual_mc(X, y, n_samples, seed, *, batch: int = 512) -> tuple[float, float]:
    r"""Monte Carlo value of the dual objective at the uniform weights, with its standard error.

    .. math::

        \bar\gamma=\mathbb E_{z\sim\mathcal N(0,I_d)}\Big\|\frac1n\sum_iy_ix_i
        \mathbb 1[\langle z,x_i\rangle>0]\Big\|\ \ge\ \gamma^*,

    an upper bound on :math:`\gamma^*` for any data (the dual at a feasible q), and
    **equal** to :math:`\gamma^*` when a group of orthogonal maps acts transitively on the
    samples, mapping :math:`(x_i,y_i)` to :math:`(x_{\pi(i)},s\,y_{\pi(i)})` with one sign
    s per map (derived here: the dual objective is convex and invariant under the induced
    permutations of q, so averaging an optimal q over the group gives the uniform q).
    The whole support of :func:`theory.ntk.data.noisy_two_xor` is such a dataset (sign
    flips of coordinates 3..d, reflections and the swap of the first two coordinates).

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    n_samples : int >= 2
        Number of Gaussian draws.
    seed : int, SeedSequence or Generator
    batch : int >= 1
        Draws per block (memory n * batch).

    Returns
    -------
    value, standard_error : float, float
    """
    X, y, _ = check_ntk_data(X, y)
    N = as_int(n_samples, "n_samples", low=2)
    batch = as_int(batch, "batch", low=1)
    rng = as_generator(seed)
    Yx = y[:, None] * X / X.shape[0]
    vals = []
    for start in range(0, N, batch):
        Z = rng.standard_normal((min(batch, N - start), X.shape[1]))
        vals.append(np.linalg.norm(activation_pattern(Z, X) @ Yx, axis=1))
    v = np.concatenate(vals)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(N))
