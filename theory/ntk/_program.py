r"""The NTK-margin program over a finite set of neurons, primal and dual, with its gap.

For inputs :math:`x_i` with labels :math:`y_i` and a finite family of initial neuron
weights (random features :math:`z_k`, or the cells of a hyperplane arrangement) with
weights :math:`w_k\ge0`, :math:`\sum_kw_k=1`, and activation pattern
:math:`A_{ki}=\mathbb 1[\langle z_k,x_i\rangle>0]`, the NTK margin of that family is
([JT20] Assumption 2.1 with :math:`\mu_N` replaced by :math:`\sum_kw_k\delta_{z_k}`;
derived here; check S.1)

.. math::

    \gamma_w=\max_{\|v_k\|\le1}\ \min_i\ \sum_kw_kA_{ki}\,y_i\langle v_k,x_i\rangle
    =\min_{q\in\Delta_n}\ \sum_kw_k\Big\|\sum_iq_iA_{ki}y_ix_i\Big\|_2 .

The equality is LP/SOCP duality (Sion's minimax theorem on a compact convex set). Weak
duality makes the pair a certificate: for *any* feasible :math:`V` (rows of norm
:math:`\le1`) and *any* :math:`q\in\Delta_n`,
``primal_value(V) <= gamma_w <= dual_value(q)``; both are evaluated here in numpy at the
solver's points (projected onto the feasible sets), so the reported bracket does not
rely on the solver's own objective.

Neurons with the same activation pattern are interchangeable (the optimal
:math:`v_k` depends on k only through :math:`A_{k\cdot}`, and both objectives are
concave/convex in it), so the program is solved over the distinct patterns with their
total weights: exact, and much smaller when K is large and d is small (at most
:math:`O(n^{d-1})` patterns).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from theory._validation import as_choice, as_generator, as_int, as_options, as_real, as_real_array, check_memory

__all__ = ["MarginProgramResult", "CLARABEL_SOCP_OPTIONS", "FIRST_ORDER_OPTIONS", "MARGIN_SOLVERS", "primal_value",
           "dual_value",
           "project_simplex", "random_feature_patterns", "solve_margin_program", "unique_patterns"]

#: Clarabel settings for the margin SOCPs. Tighter than Clarabel's defaults (1e-8); the
#: bracket is certified in numpy regardless, so "solved inaccurate" answers are kept and
#: simply show a larger gap.
CLARABEL_SOCP_OPTIONS = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, max_iter=400)

#: Solvers of :func:`solve_margin_program`: the primal and dual SOCPs by cvxpy + Clarabel
#: (gap ~1e-9, minutes from about 1e7 nonzeros C n d / 2 up), or the dual by the
#: first-order method of :func:`solve_margin_program` (gap to a stated relative tolerance,
#: a few matrix products per step).
MARGIN_SOLVERS = ("clarabel", "first-order")

#: Settings of the first-order solver: stop when the certified gap dual - primal is at most
#: ``rel_gap`` times the dual value, or after ``max_iter`` gradient steps. The default gap,
#: 1e-3 of gamma, is far below the random-feature error sqrt(2 ln(2(n+1)/delta)/K) at any
#: K for which the first-order solver is worth using (0.14 at n = 357, K = 1000).
FIRST_ORDER_OPTIONS = dict(rel_gap=1e-3, max_iter=20_000)


@dataclass(frozen=True)
class MarginProgramResult:
    r"""Solution of the weighted NTK-margin program (see the module docstring).

    Attributes
    ----------
    primal : float
        :math:`\min_i` margin of the returned separator ``V`` (a certified lower bound).
    dual : float
        Dual objective at the returned ``q`` (a certified upper bound).
    gap : float
        ``dual - primal`` (>= 0 up to rounding by weak duality).
    V : ndarray, shape (C, d)
        Separator per pattern, rows of norm <= 1.
    q : ndarray, shape (n,)
        Dual weights on the samples, in the simplex.
    solver : str
        ``prob.solver_stats.solver_name`` of the cvxpy solves (``"CLARABEL"``).
    status : tuple of str
        cvxpy status of the primal and of the dual solve.
    n_patterns : int
        Number C of distinct activation patterns the program was solved over.
    """

    primal: float
    dual: float
    gap: float
    V: np.ndarray = field(repr=False, compare=False)
    q: np.ndarray = field(repr=False, compare=False)
    solver: str
    status: tuple
    n_patterns: int


def unique_patterns(A: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge identical rows of the 0/1 matrix ``A`` (K, n), summing their ``weights``.

    Rows with no active sample are dropped (they contribute nothing to either side).

    Parameters
    ----------
    A : array_like of bool or real, shape (K, n)
        Activation patterns; an entry counts as active when it is > 0.
    weights : array_like, shape (K,)
        Finite, nonnegative weight of each row.

    Returns
    -------
    patterns : ndarray, shape (C, n)
        The distinct nonzero rows, as float64 0/1.
    weights : ndarray, shape (C,)
        Their summed weights.
    """
    A = as_real_array(A, "A", ndim=2, copy=False) > 0
    weights = _check_weights(weights, "weights", A.shape[0])
    return _merge_packed(np.packbits(A, axis=1), weights, A.shape[1])


def _check_weights(w, name: str, size: int) -> np.ndarray:
    w = as_real_array(w, name, shape=(size,), copy=False)
    neg = np.flatnonzero(w < 0)
    if neg.size:
        raise ValueError(f"{name} must be nonnegative (weights of a measure on neurons); "
                         f"{name}[{neg[0]}] = {float(w[neg[0]])!r}")
    return w


def _check_program(P, w, Y) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P (C, n), w (C,) >= 0 and Y (n, d) as float64, finite, nonempty and of matching shapes."""
    P = as_real_array(P, "P", ndim=2, copy=False)
    C, n = P.shape
    w = _check_weights(w, "w", C)
    Y = as_real_array(Y, "Y", shape=(n, None), copy=False)
    return P, w, Y


def _merge_packed(packed: np.ndarray, weights: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    keep = packed.any(axis=1)
    packed, weights = packed[keep], weights[keep]
    if packed.shape[0] == 0:
        return np.zeros((0, n)), np.zeros(0)
    uniq, inverse = np.unique(packed, axis=0, return_inverse=True)
    w = np.bincount(inverse.ravel(), weights=weights, minlength=uniq.shape[0])
    return np.unpackbits(uniq, axis=1, count=n).astype(np.float64), w


def random_feature_patterns(X: np.ndarray, n_features: int, rng: np.random.Generator,
                            block: int = 65536) -> tuple[np.ndarray, np.ndarray]:
    r"""Distinct activation patterns of ``n_features`` Gaussian directions, with their frequencies.

    Draws :math:`z_k\sim\mathcal N(0,I_d)` (X of shape (n, d), ``rng`` a Generator or
    an int seed >= 0, ``n_features`` and ``block`` ints >= 1) in blocks of ``block`` rows from ``rng`` (the
    same stream as one draw of shape (n_features, d)) and never holds the (K, n) matrix:
    memory is about K * n / 8 bytes for the packed patterns.

    Returns
    -------
    patterns : ndarray, shape (C, n)
    weights : ndarray, shape (C,)
        Frequency / K of each pattern (all-inactive directions dropped).
    """
    X = as_real_array(X, "X", ndim=2, copy=False)
    n_features = as_int(n_features, "n_features", low=1)
    rng = as_generator(rng, "rng")
    block = as_int(block, "block", low=1)
    n, d = X.shape
    check_memory(float(n_features) * ((n + 7) // 8 + 16), f"n_features={n_features} random-feature patterns for n={n}",
                 hint="use fewer random features")
    packs = []
    for start in range(0, n_features, block):
        Z = rng.standard_normal((min(block, n_features - start), d))
        packs.append(np.packbits(Z @ X.T > 0.0, axis=1))
    packed = np.concatenate(packs)
    return _merge_packed(packed, np.full(packed.shape[0], 1.0 / n_features), n)


def primal_value(P: np.ndarray, w: np.ndarray, Y: np.ndarray, V: np.ndarray) -> float:
    r""":math:`\min_i\sum_cw_cP_{ci}\langle v_c,y_ix_i\rangle` after scaling rows of V to norm <= 1.

    ``P`` (C, n) patterns, ``w`` (C,) nonnegative weights, ``Y`` (n, d) rows :math:`y_ix_i`,
    ``V`` (C, d); all finite.
    """
    P, w, Y = _check_program(P, w, Y)
    V = as_real_array(V, "V", shape=(P.shape[0], Y.shape[1]), copy=False)
    return _primal_value(P, w, Y, V)


def _primal_value(P, w, Y, V) -> float:
    norms = np.linalg.norm(V, axis=1)
    V = V / np.maximum(norms, 1.0)[:, None]
    margins = np.einsum("ci,ci->i", P * w[:, None], V @ Y.T)
    return float(margins.min())


def project_simplex(q: np.ndarray) -> np.ndarray:
    """Euclidean projection of ``q`` (finite, shape (n,), n >= 1) onto the probability simplex (sort-based, exact)."""
    return _project_simplex(as_real_array(q, "q", ndim=1, copy=False))


def _project_simplex(q: np.ndarray) -> np.ndarray:
    u = np.sort(q)[::-1]
    css = np.cumsum(u) - 1.0
    idx = np.arange(1, q.size + 1)
    rho = np.nonzero(u - css / idx > 0)[0][-1]
    return np.maximum(q - css[rho] / (rho + 1.0), 0.0)


def dual_value(P: np.ndarray, w: np.ndarray, Y: np.ndarray, q: np.ndarray) -> float:
    r""":math:`\sum_cw_c\|\sum_iq_iP_{ci}y_ix_i\|` at ``q`` (n,) projected onto the simplex.

    ``P`` (C, n), ``w`` (C,) >= 0, ``Y`` (n, d) as in :func:`primal_value`; all finite.
    """
    P, w, Y = _check_program(P, w, Y)
    q = as_real_array(q, "q", shape=(P.shape[1],), copy=False)
    return _dual_value(P, w, Y, q)


def _dual_value(P, w, Y, q) -> float:
    q = _project_simplex(q)
    return float(w @ np.linalg.norm(P @ (q[:, None] * Y), axis=1))


def solve_margin_program(P: np.ndarray, w: np.ndarray, Y: np.ndarray,
                         solver_options: dict | None = None, *, solver: str = "clarabel") -> MarginProgramResult:
    r"""Solve the margin program (primal and dual); certify the bracket in numpy.

    ``solver="clarabel"``: the primal and the dual SOCP with cvxpy + Clarabel (gap ~1e-9;
    the programs have about C n d / 2 nonzeros, and from about 1e7 of them, e.g. K = 1000
    random features on a digits pair, a solve takes many minutes). ``solver="first-order"``:
    the dual over the simplex by Nesterov smoothing and an accelerated projected gradient,
    every step giving a feasible primal point too (module ``theory.ntk._program``); it
    stops at a certified relative gap ``rel_gap`` (default 1e-3). Either way ``primal`` and
    ``dual`` are recomputed in numpy at the returned points, so
    ``primal <= gamma_w <= dual`` holds whatever the solver's accuracy.

    Parameters
    ----------
    P : ndarray, shape (C, n)
        Distinct activation patterns (0/1).
    w : ndarray, shape (C,)
        Their weights (nonnegative; they sum to 1 for a probability measure on neurons).
    Y : ndarray, shape (n, d)
        Rows :math:`y_ix_i`.
    solver_options : dict, optional
        Clarabel settings, overriding :data:`CLARABEL_SOCP_OPTIONS`; for
        ``solver="first-order"`` the keys of :data:`FIRST_ORDER_OPTIONS` (``rel_gap`` in
        (0, 1), ``max_iter`` >= 1).
    solver : {"clarabel", "first-order"}, default "clarabel"

    Returns
    -------
    MarginProgramResult
        ``status`` is the cvxpy status of the two solves, or for the first-order solver
        ``("converged" | "max_iter", "<k> iterations")``.
    """
    P, w, Y = _check_program(P, w, Y)
    solver_options = as_options(solver_options, "solver_options")
    solver = as_choice(solver, "solver", MARGIN_SOLVERS)
    C, n = P.shape
    d = Y.shape[1]
    if solver == "first-order":
        return _solve_first_order(P, w, Y, solver_options)

    import cvxpy as cp

    check_memory(8.0 * 12 * C * n * d, f"the NTK margin program ({C} patterns, n={n}, d={d})",
                 hint="use fewer random features or fewer samples")
    opts = {**CLARABEL_SOCP_OPTIONS, **solver_options}
    Pw = P * w[:, None]

    # Primal: max t s.t. sum_c w_c P_ci <v_c, y_i x_i> >= t, ||v_c|| <= 1.
    V = cp.Variable((C, d))
    t = cp.Variable()
    margins = cp.sum(cp.multiply(Pw.T @ V, Y), axis=1)
    primal = cp.Problem(cp.Maximize(t), [margins >= t, cp.norm(V, 2, axis=1) <= 1])
    _solve(primal, opts, "primal")

    # Dual: min_q sum_c w_c || sum_i q_i P_ci y_i x_i ||, q in the simplex.
    q = cp.Variable(n, nonneg=True)
    psi = P @ cp.multiply(cp.reshape(q, (n, 1), order="C"), Y)
    dual = cp.Problem(cp.Minimize(w @ cp.norm(psi, 2, axis=1)), [cp.sum(q) == 1])
    _solve(dual, opts, "dual")

    Vv = np.asarray(V.value, dtype=np.float64)
    qv = np.asarray(q.value, dtype=np.float64)
    lo = _primal_value(P, w, Y, Vv)
    hi = _dual_value(P, w, Y, qv)
    names = {getattr(p.solver_stats, "solver_name", None) or "CLARABEL" for p in (primal, dual)}
    return MarginProgramResult(primal=lo, dual=hi, gap=hi - lo, V=Vv, q=_project_simplex(qv),
                               solver="+".join(sorted(names)), status=(primal.status, dual.status),
                               n_patterns=C)


def _solve(prob, opts: dict, which: str) -> None:
    import cvxpy as cp

    try:
        with warnings.catch_warnings():
            # "Solution may be inaccurate": the bracket is certified in numpy afterwards.
            warnings.filterwarnings("ignore", message="Solution may be inaccurate", category=UserWarning)
            prob.solve(solver=cp.CLARABEL, **opts)
    except cp.error.SolverError as exc:  # pragma: no cover - solver failure is rare
        raise RuntimeError(f"Clarabel failed on the NTK margin {which} program: {exc}") from exc
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise RuntimeError(f"Clarabel returned status {prob.status!r} on the NTK margin {which} program")


def _solve_first_order(P, w, Y, options: dict) -> MarginProgramResult:
    unknown = sorted(set(options) - set(FIRST_ORDER_OPTIONS))
    if unknown:
        raise ValueError(f"solver_options for solver='first-order' may set {sorted(FIRST_ORDER_OPTIONS)}; "
                         f"got the unknown key(s) {unknown}")
    opts = {**FIRST_ORDER_OPTIONS, **options}
    rel_gap = as_real(opts["rel_gap"], "solver_options['rel_gap']", low=0.0, high=1.0, low_open=True, high_open=True)
    max_iter = as_int(opts["max_iter"], "solver_options['max_iter']", low=1)
    C, n = P.shape
    d = Y.shape[1]
    # P, P * w, the (C, d) iterates and the (C, n) margins, and the (n, n) matrix of the step size.
    check_memory(8.0 * (3 * C * n + 4 * C * d + 3 * n * n), f"the first-order NTK margin solver ({C} patterns, "
                 f"n={n}, d={d})", hint="use fewer random features or fewer samples")
    V, q, status, iterations = _first_order_margin(P, w, Y, rel_gap, max_iter)
    lo = _primal_value(P, w, Y, V)
    hi = _dual_value(P, w, Y, q)
    return MarginProgramResult(primal=lo, dual=hi, gap=hi - lo, V=V, q=_project_simplex(q), solver="first-order",
                               status=(status, f"{iterations} iterations"), n_patterns=C)


def _first_order_margin(P: np.ndarray, w: np.ndarray, Y: np.ndarray, rel_gap: float,
                        max_iter: int) -> tuple[np.ndarray, np.ndarray, str, int]:
    r"""The dual over the simplex by Nesterov smoothing and an accelerated projected gradient.

    The dual objective :math:`F(q)=\sum_cw_c\|u_c(q)\|`, :math:`u_c(q)=\sum_iq_iP_{ci}y_ix_i`,
    is replaced by its smoothing :math:`F_\mu(q)=\max_{\|v_c\|\le1}\sum_cw_c(\langle v_c,u_c\rangle
    -\tfrac\mu2\|v_c\|^2)` (Huber on each norm), :math:`F-\mu/2\le F_\mu\le F` when
    :math:`\sum_cw_c=1`. Its gradient :math:`\nabla F_\mu(q)_i=\sum_cw_cP_{ci}\langle v_c,y_ix_i\rangle`
    with :math:`v_c=u_c/\max(\|u_c\|,\mu)` is :math:`1/\mu`-Lipschitz times
    :math:`\lambda_{max}((P^\top WP)\odot(YY^\top))`, and its maximiser :math:`V` is a
    feasible primal point whose margins are that gradient, so every step gives a primal
    bound :math:`\min_i\nabla F_\mu(q)_i` and a dual bound :math:`F(q)` for free.

    An accelerated projected gradient whose points all stay in the simplex (P. Tseng, *On
    accelerated proximal gradient methods for convex-concave optimization*, 2008) runs on :math:`F_\mu` (Y. Nesterov, *Smooth minimization of non-smooth
    functions*, Math. Program. 103, 2005). The primal candidates are V at each step and
    the running average of those V with weights :math:`1/\theta_k` (convex combinations
    of feasible points stay feasible, and their margins are the same average of the
    margins). :math:`\mu` starts at half the dual value at the uniform q and is divided by
    4, with a restart from the best dual point, each time the certified gap falls below
    :math:`\mu` (the smoothed optimum has a true gap of at most :math:`\mu/2`). The
    primal side converges more slowly than the dual (V recovered from an inexact q is a
    loose bound): the certified gap, not the dual
    alone, is the stopping rule. Returns (V, q, status, iterations) with the best primal
    and dual points found.
    """
    C, n = P.shape
    Pw = P * w[:, None]
    # lambda_max of sum_c w_c B_c B_c^T, B_c = diag(P_c) Y: the Hessian bound of F_mu times mu.
    H = (P.T @ Pw) * (Y @ Y.T)
    lip = float(np.linalg.eigvalsh(H)[-1]) if n <= 2000 else float(_lanczos_max(H))
    lip = max(lip, np.finfo(float).tiny)

    def step_data(q, mu):
        U = P @ (q[:, None] * Y)                                   # (C, d)
        norms = np.sqrt(np.einsum("cd,cd->c", U, U))
        V = U / np.maximum(norms, mu)[:, None]
        g = np.einsum("ci,ci->i", Pw, V @ Y.T)                     # margins of V = grad F_mu(q)
        return g, V, float(w @ norms)

    q0 = np.full(n, 1.0 / n)
    g, V, F = step_data(q0, 1.0)
    best_dual, best_q = F, q0.copy()
    best_primal, best_V = float(g.min()), V.copy()
    mu = max(0.5 * F, np.finfo(float).tiny)  # F = 0: every u_c vanishes, gamma_w = 0 and V = 0
    x = z = q0
    theta, it, status = 1.0, 0, "max_iter"
    avg_w, avg_g, avg_V = 0.0, np.zeros(n), np.zeros_like(V)
    while it < max_iter:
        yk = (1.0 - theta) * x + theta * z
        g, V, F = step_data(yk, mu)
        it += 1
        if F < best_dual:
            best_dual, best_q = F, yk.copy()
        a = 1.0 / theta
        avg_w += a
        avg_g += a * g
        avg_V += a * V
        for cand_g, cand_V in ((g, V), (avg_g / avg_w, None)):
            p = float(cand_g.min())
            if p > best_primal:
                best_primal, best_V = p, (cand_V.copy() if cand_V is not None else avg_V / avg_w)
        gap = best_dual - best_primal
        if gap <= rel_gap * abs(best_dual):
            status = "converged"
            break
        z = _project_simplex(z - g / (theta * lip / mu))
        x = (1.0 - theta) * x + theta * z
        theta = 0.5 * (np.sqrt(theta ** 4 + 4.0 * theta ** 2) - theta ** 2)
        if gap <= mu:  # this smoothing is solved: a finer one, restarted from the best dual point
            mu *= 0.25
            x = z = best_q
            theta, avg_w = 1.0, 0.0
            avg_g[:] = 0.0
            avg_V[:] = 0.0
    return best_V, best_q, status, it


def _lanczos_max(H: np.ndarray) -> float:
    import scipy.sparse.linalg

    return float(scipy.sparse.linalg.eigsh(H, k=1, which="LA", return_eigenvectors=False, tol=1e-6)[0]) * (1 + 1e-5)
