"""Tests for theory.ntp: NTP data model, loss/entropy/gap/gradient, data subspace F and W*.

Reference results are closed forms (orthonormal embeddings, check N.2
and §5.2), a sympy derivation, mpmath at 50 digits, hand counts, a linear program and
cross-method agreement (dense SVD basis vs block Gram solver).
"""

from __future__ import annotations

import collections
import pickle

import mpmath
import numpy as np
import pytest
import scipy.optimize
import sympy

from theory import text_corpus
from theory.ntp import (
    TOY_2D_SUPPORTS,
    NTPData,
    binary_data,
    classification_data,
    data_fingerprint,
    data_subspace,
    entropy,
    entropy_from_arrays,
    finite_component,
    genie_bound,
    in_support_residual,
    log_odds_residual,
    logistic_weights,
    loss_gap,
    ntp_gradient,
    ntp_loss,
    smoothness_bound,
)

EPS = np.finfo(float).eps


# ----------------------------------------------------------------------------- helpers
def centered_support(data: NTPData) -> np.ndarray:
    """S~ = S (I - 11^T/V) as an (m, V) matrix: 1 - S_j/V in-support, -S_j/V off-support."""
    return data.support - data.support_sizes[:, None] / data.V


def separating_direction(data: NTPData) -> np.ndarray:
    """W^d with logits H W^dT = S~ (needs rank H = m): in F-perp, every margin exactly 1.

    For orthonormal H this is the closed-form W^mm of check N.2 (derived here).
    """
    return centered_support(data).T @ np.linalg.solve(data.H @ data.H.T, data.H)


def mp_loss_gap(W: np.ndarray, data: NTPData, dps: int = 50) -> mpmath.mpf:
    """sum_j pi_j KL(p_j || softmax(W h_j)) at `dps` digits on the exact float inputs.

    The float rows of P sum to 1 only up to an ulp; a KL with unnormalised p is off by
    O(eps) absolutely (it is even negative near the optimum), which would swamp a 1e-12
    gap. The reference therefore normalises p_j and pi exactly (in mpmath) first.
    """
    with mpmath.workdps(dps):
        H = [[mpmath.mpf(float(x)) for x in row] for row in data.H]
        Wm = [[mpmath.mpf(float(x)) for x in row] for row in W]
        pis = [mpmath.mpf(float(x)) for x in data.pi]
        pis = [x / mpmath.fsum(pis) for x in pis]
        total = mpmath.mpf(0)
        for j in range(data.m):
            logits = [mpmath.fsum(Wm[v][i] * H[j][i] for i in range(data.d)) for v in range(data.V)]
            lse = mpmath.log(mpmath.fsum(mpmath.exp(x) for x in logits))
            ps = [mpmath.mpf(float(data.P[j, z])) for z in data.supports[j]]
            ps = [x / mpmath.fsum(ps) for x in ps]
            kl = mpmath.fsum(
                p * (mpmath.log(p) - logits[z] + lse) for p, z in zip(ps, data.supports[j])
            )
            total += pis[j] * kl
        return +total


def lp_separable(data: NTPData) -> bool:
    """Feasibility of NTP-separability (6a)+(6b) in anchored form, by a linear program."""
    V, d = data.V, data.d
    A_eq, A_ub = [], []
    for j in range(data.m):
        a = data.anchors[j]
        for v in range(V):
            row = np.zeros((V, d))
            row[a] += data.H[j]
            row[v] -= data.H[j]
            if data.support[j, v] and v != a:
                A_eq.append(row.ravel())
            elif not data.support[j, v]:
                A_ub.append(-row.ravel())  # -(e_a - e_v)^T W h_j <= -1
    res = scipy.optimize.linprog(
        np.zeros(V * d), A_ub=np.array(A_ub), b_ub=-np.ones(len(A_ub)),
        A_eq=np.array(A_eq) if A_eq else None, b_eq=np.zeros(len(A_eq)) if A_eq else None,
        bounds=[(None, None)] * (V * d), method="highs",
    )
    return res.status == 0


def generator(data: NTPData, j: int, a: int, b: int) -> np.ndarray:
    g = np.zeros((data.V, data.d))
    g[a] += data.H[j]
    g[b] -= data.H[j]
    return g


# ----------------------------------------------------------------------------- gradient
@pytest.mark.parametrize("seed", [0, 1])
def test_gradient_matches_central_differences(seed):
    rng = np.random.default_rng(seed)
    data = NTPData.synthetic(5, 4, 6, [1, 2, 3, 5, 2], rng, n=40)
    W = 0.7 * rng.standard_normal((data.V, data.d))
    G = ntp_gradient(W, data)
    h = 1e-5
    fd = np.zeros_like(W)
    for idx in np.ndindex(*W.shape):
        E = np.zeros_like(W)
        E[idx] = h
        fd[idx] = (ntp_loss(W + E, data) - ntp_loss(W - E, data)) / (2 * h)
    # central-difference truncation h^2 |f'''|/6 ~ 1e-10 plus rounding eps*CE/h ~ 1e-11
    np.testing.assert_allclose(G, fd, rtol=0, atol=1e-8)
    # 1^T grad = 0 (derived here); rounding of O(1) residuals only
    assert np.abs(G.sum(axis=0)).max() < 1e-15 * 50


def test_gradient_and_loss_match_sympy():
    V, d = 3, 2
    Hs = [[sympy.Rational(1, 2), sympy.Rational(-3, 2)], [2, sympy.Rational(1, 3)]]
    Ps = [[sympy.Rational(1, 4), sympy.Rational(3, 4), 0], [0, 0, 1]]
    pis = [sympy.Rational(2, 5), sympy.Rational(3, 5)]
    w = sympy.Matrix(V, d, lambda v, i: sympy.Symbol(f"w{v}{i}"))
    ce = 0
    for j in range(2):
        logits = w * sympy.Matrix(Hs[j])
        lse = sympy.log(sum(sympy.exp(logits[v]) for v in range(V)))
        ce += -pis[j] * sum(Ps[j][z] * (logits[z] - lse) for z in range(V) if Ps[j][z] != 0)
    rng = np.random.default_rng(3)
    W0 = rng.standard_normal((V, d))
    subs = {w[v, i]: sympy.Float(float(W0[v, i]), 40) for v in range(V) for i in range(d)}
    grad_sym = np.array([[float(sympy.diff(ce, w[v, i]).evalf(30, subs=subs)) for i in range(d)] for v in range(V)])
    data = NTPData(
        np.array(Hs, dtype=float), np.array(Ps, dtype=float), np.array(pis, dtype=float)
    )
    # both are the same formula in float64 vs 30 digits: agreement to a few ulps of O(1) numbers
    np.testing.assert_allclose(ntp_gradient(W0, data), grad_sym, rtol=1e-13, atol=1e-15)
    assert ntp_loss(W0, data) == pytest.approx(float(ce.evalf(30, subs=subs)), rel=1e-14)


def test_smoothness_bound_is_a_lipschitz_constant_of_the_gradient():
    rng = np.random.default_rng(7)
    data = NTPData.synthetic(8, 5, 6, 3, rng, n=100)
    L = smoothness_bound(data)
    ratios = []
    for _ in range(50):
        W1, W2 = rng.standard_normal((2, data.V, data.d))
        W2 = W1 + 1e-2 * W2  # near-local: the bound is attained only in the limit
        ratios.append(
            np.linalg.norm(ntp_gradient(W1, data) - ntp_gradient(W2, data)) / np.linalg.norm(W1 - W2)
        )
    # L <= 1/2 lambda_max(sum pi h h^T) is a proven upper bound (diag(s) - ss^T <= I/2)
    assert max(ratios) <= L
    assert max(ratios) > 0.05 * L  # and not vacuous
    # the value itself, by an independent method: 1/2 sigma_max(diag(sqrt pi) H)^2 by the SVD;
    # both are backward-stable in float64, so they agree to a few ulps of lambda_max
    sigma = np.linalg.svd(np.sqrt(data.pi)[:, None] * data.H, compute_uv=False)[0]
    assert L == pytest.approx(0.5 * sigma**2, rel=1e-12)


def test_smoothness_bound_is_attained_with_one_shared_embedding():
    """Two-sided: with V = 2 and every context on the same embedding h, the Hessian at W = 0 is
    sum_j pi_j (diag(s) - ss^T) (x) h h^T with s = (1/2, 1/2), whose top eigenvalue is exactly
    1/2 |h|^2 = 1/2 lambda_max(sum pi h h^T): the bound is the gradient's Lipschitz constant here.
    A dropped factor 1/2 or pi_j (sum pi = 1 hides neither: m = 4 identical rows) changes it."""
    rng = np.random.default_rng(11)
    h = rng.standard_normal(3)
    H = np.tile(h, (4, 1))
    P = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])  # S_j = 1 < V = 2
    data = NTPData(H, P, np.array([0.1, 0.2, 0.3, 0.4]))
    L = smoothness_bound(data)
    assert L == pytest.approx(0.5 * h @ h, rel=1e-13)  # the closed form, eigensolver accuracy
    D = np.outer([1.0, -1.0], h) / (np.sqrt(2.0) * np.linalg.norm(h))  # top eigenvector, |D| = 1
    e = 1e-3 / np.linalg.norm(h)
    hess_D = (ntp_gradient(e * D, data) - ntp_gradient(-e * D, data)) / (2 * e)
    # central difference: truncation O(e^2 |h|^2) = O(1e-6) relative (fourth derivative of the
    # loss along D, bounded by |h|^4 / 8 for the logistic function); rounding ~ eps/e ~ 1e-13
    assert np.linalg.norm(hess_D) == pytest.approx(L, rel=1e-5)


# ----------------------------------------------------------------------------- loss gap
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [0.1, 3.0, 300.0])
def test_ce_equals_entropy_plus_gap(seed, scale):
    rng = np.random.default_rng(seed)
    data = NTPData.synthetic(7, 5, 8, [1, 2, 3, 4, 5, 6, 7], rng, n=50)
    W = scale * rng.standard_normal((data.V, data.d))
    ce, H, gap = ntp_loss(W, data), entropy(data), loss_gap(W, data)
    Lmax = np.abs(data.H @ W.T).max()
    # each -log softmax term carries ~ a few eps*(|l| + log V) rounding; CE ~ O(|l|)
    assert abs(ce - (H + gap)) <= 8 * EPS * (ce + Lmax + np.log(data.V))
    assert gap > 0


def test_loss_gap_matches_mpmath_for_generic_W():
    rng = np.random.default_rng(11)
    data = NTPData.synthetic(6, 8, 5, [1, 2, 3, 4, 2, 3], rng, n=100)
    W = 3.0 * rng.standard_normal((data.V, data.d))
    ref = mp_loss_gap(W, data)
    # O(1) gap: relative error a few eps times the logit scale
    assert abs(loss_gap(W, data) - float(ref)) <= 1e-14 * float(ref)


@pytest.fixture(scope="module")
def full_rank_instance():
    rng = np.random.default_rng(0)
    data = NTPData.synthetic(6, 8, 5, [1, 2, 3, 4, 2, 3], rng, n=100)
    sub = data_subspace(data)
    return data, sub, finite_component(data, subspace=sub).W, separating_direction(data)


def test_loss_gap_accurate_at_1e_12_off_support_dominated(full_rank_instance):
    data, _, Ws, Wd = full_rank_instance
    W = Ws + 27.0 * Wd  # in-support log-odds exact, out-of-support mass ~ e^-27
    ref = float(mp_loss_gap(W, data))
    assert 1e-13 < ref < 1e-10
    # exp(t) with |t| <~ 60 has relative error ~ 60*eps; loss_gap only adds O(eps)
    assert abs(loss_gap(W, data) - ref) <= 1e-12 * ref
    # the naive difference of two O(1) numbers cannot get there (documents why loss_gap exists)
    assert abs(ntp_loss(W, data) - entropy(data) - ref) > 1e-8 * ref


def test_loss_gap_accurate_at_1e_12_in_support_dominated(full_rank_instance):
    data, sub, Ws, Wd = full_rank_instance
    D = sub.project(np.random.default_rng(5).standard_normal((data.V, data.d)))
    W = Ws + 1e-6 * D + 60.0 * Wd  # KL(p || q) ~ 1e-12 dominates; e^-60 mass negligible
    ref = float(mp_loss_gap(W, data))
    assert 1e-13 < ref < 1e-10
    # conditioning of KL near its minimum: eps*(spread of in-support logits) / |w| with
    # |w| ~ sqrt(2*gap) ~ 1e-6 gives ~1e-9 relative (measured 2e-10)
    assert abs(loss_gap(W, data) - ref) <= 1e-8 * ref


def test_loss_gap_and_gradient_finite_for_huge_logits():
    rng = np.random.default_rng(2)
    data = NTPData.synthetic(5, 4, 6, 3, rng)
    W = 1e4 * rng.standard_normal((data.V, data.d))
    gap, ce = loss_gap(W, data), ntp_loss(W, data)
    # no overflow; at this scale the naive difference is accurate (relative eps * |l| / CE)
    assert np.isfinite(gap) and gap == pytest.approx(ce - entropy(data), rel=1e-12)
    G = ntp_gradient(W, data)
    assert np.all(np.isfinite(G))


def test_in_support_residual_matches_mpmath_in_large_gap_regime(full_rank_instance):
    data, _, Ws, Wd = full_rank_instance
    L = data.H @ (Ws + 45.0 * Wd).T
    r = in_support_residual(L, data)
    with mpmath.workdps(50):
        for j in range(data.m):
            ls = [mpmath.mpf(float(x)) for x in L[j]]
            Z = mpmath.fsum(mpmath.exp(x) for x in ls)
            for v in range(data.V):
                ref = mpmath.exp(ls[v]) / Z - mpmath.mpf(float(data.P[j, v]))
                if data.support[j, v]:
                    # q from max-shifted exponentials has ~eps relative error and q - p
                    # cancels O(1) numbers: ~eps absolute (measured <= 0.5 eps), although
                    # |logits| ~ 36 here (a lse-shifted q would carry ~36 eps)
                    assert abs(r[j, v] - float(ref)) <= 2 * EPS
                else:
                    # out-of-support probabilities ~ e^-45: full relative accuracy kept
                    assert abs(r[j, v] - float(ref)) <= 1e-13 * abs(float(ref))
    assert np.abs(r.sum(axis=1)).max() <= 4 * EPS


def test_in_support_residual_keeps_tiny_out_of_support_mass_balanced(full_rank_instance):
    data, _, Ws, Wd = full_rank_instance
    L = data.H @ (Ws + 40.0 * Wd).T  # out-of-support mass eps_j ~ e^-40 ~ 1e-18 < eps
    r = in_support_residual(L, data)
    with mpmath.workdps(50):
        for j in range(data.m):
            ls = [mpmath.mpf(float(x)) for x in L[j]]
            Z = mpmath.fsum(mpmath.exp(x) for x in ls)
            mass_out = float(mpmath.fsum(mpmath.exp(ls[v]) for v in range(data.V) if not data.support[j, v]) / Z)
            in_sum = np.sum(r[j, data.support[j]])
            # sum over S of (softmax - p) = -(out-of-support mass): relative accuracy
            # ~ eps * |logits| ~ 1e-14, where an uncorrected q - p would carry ~eps absolute
            assert abs(in_sum + mass_out) <= 1e-12 * mass_out
            assert abs(np.sum(r[j])) <= 1e-12 * mass_out


def test_in_support_residual_equals_naive_softmax_at_moderate_logits():
    rng = np.random.default_rng(4)
    data = NTPData.synthetic(6, 5, 7, [1, 2, 3, 4, 5, 6], rng)
    L = 2.0 * rng.standard_normal((data.m, data.V))
    s = np.exp(L - L.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    # two float64 evaluations of the same O(1) quantities
    np.testing.assert_allclose(in_support_residual(L, data), s - data.P, rtol=0, atol=1e-15)


# ----------------------------------------------------------------------------- data subspace F
@pytest.mark.parametrize(
    "m,d,V,S,expected",
    [(50, 60, 10, 6, 250), (7, 9, 6, [1, 2, 3, 4, 5, 1, 2], 11), (4, 4, 5, 4, 12)],
)
def test_dim_F_is_sum_of_support_sizes_minus_one_for_full_rank_H(m, d, V, S, expected):
    data = NTPData.synthetic(m, d, V, S, np.random.default_rng(m))
    dense = data_subspace(data, method="dense")
    blocks = data_subspace(data, method="blocks")
    assert dense.dim == blocks.dim == expected == int(np.sum(data.support_sizes - 1))
    # reference simulation: A.2 sizes give dim F = 250, dim F-perp = 350
    if m == 50:
        assert data.V * data.d - dense.dim == 350
    W = np.random.default_rng(1).standard_normal((V, d))
    # two independent exact methods; cond(H H^T) ~ 1e2..1e3 bounds the blocks error
    np.testing.assert_allclose(blocks.project(W), dense.project(W), rtol=0, atol=1e-11)


def test_dim_F_and_compatibility_with_repeated_embeddings():
    # two contexts with the same embedding: generators of the overlapping supports coincide
    H = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    P = np.array([[0.2, 0.3, 0.5, 0, 0], [0, 0.3, 0.5, 0.2, 0], [0.5, 0, 0, 0, 0.5]])
    data = NTPData(H, P, np.full(3, 1 / 3))
    sub = data_subspace(data)  # auto -> dense, the only method for rank H < m
    # span{(e_a - e_b) h^T : a, b in {0,1,2} or {1,2,3}} = U({0,1,2,3}) (x) h: dim 3, plus 1
    assert sub.n_generators == 5 and sub.dim == 4
    fc = finite_component(data, subspace=sub)
    # log-odds of tokens 1 vs 2 agree in both contexts (0.3 vs 0.5) -> compatible
    assert fc.compatible and fc.max_residual < 1e-13
    P_bad = P.copy()
    P_bad[1, 1:4] = [0.5, 0.3, 0.2]
    fc_bad = finite_component(NTPData(H, P_bad, np.full(3, 1 / 3)))
    assert not fc_bad.compatible and fc_bad.max_residual > 0.1
    with pytest.raises(ValueError, match="rank H = m"):
        data_subspace(data, method="blocks")


@pytest.mark.parametrize("method", ["dense", "blocks"])
def test_projections_are_complementary_orthogonal_projectors(method):
    rng = np.random.default_rng(12)
    data = NTPData.synthetic(12, 15, 8, [1, 2, 3, 4, 5, 6, 7, 3, 3, 2, 1, 4], rng)
    sub = data_subspace(data, method=method)
    W = rng.standard_normal((data.V, data.d))
    Wf, Wo = sub.project(W), sub.project_orth(W)
    scale = np.linalg.norm(W)
    # all identities hold to rounding of O(cond) * eps; cond(H H^T) < 1e3 here
    tol = 1e-12 * scale
    assert np.abs(Wf + Wo - W).max() <= tol
    assert np.abs(sub.project(Wf) - Wf).max() <= tol
    assert np.abs(sub.project(Wo)).max() <= tol
    assert abs(np.sum(Wf * Wo)) <= tol * scale
    # F within {1^T W = 0}, paper, Sec. 'Implicit bias of next-token prediction in linear models'
    assert np.abs(Wf.sum(axis=0)).max() <= tol
    for j in range(data.m):  # every generator (anchored or not) lies in F
        for a in data.supports[j]:
            for b in data.supports[j]:
                if a < b:
                    g = generator(data, j, a, b)
                    assert np.abs(sub.project(g) - g).max() <= 1e-12 * np.abs(g).max()
    ones = np.outer(np.ones(data.V), rng.standard_normal(data.d))
    assert np.abs(sub.project(ones)).max() <= tol  # 1 u^T in F-perp
    batch = rng.standard_normal((3, data.V, data.d))
    np.testing.assert_allclose(sub.project(batch), np.stack([sub.project(b) for b in batch]), atol=1e-14)
    # the orthonormal basis (built lazily by SVD for 'blocks') reproduces the projection
    Q = sub.basis.reshape(sub.dim, -1)
    assert sub.dim == 29  # sum_j (S_j - 1) for S = 1,2,3,4,5,6,7,3,3,2,1,4 (m = 12 <= d = 15)
    np.testing.assert_allclose(Q @ Q.T, np.eye(sub.dim), atol=1e-13)
    np.testing.assert_allclose(sub.project(W).ravel(), Q.T @ (Q @ W.ravel()), rtol=0, atol=tol)


def test_dense_bases_are_orthonormal_and_complementary():
    rng = np.random.default_rng(6)
    data = NTPData.synthetic(6, 4, 5, [2, 3, 4, 2, 1, 3], rng)  # d < m: H not full column rank
    sub = data_subspace(data, method="dense")
    Q = sub.basis.reshape(sub.dim, -1)
    N = sub.orth_basis.reshape(-1, data.V * data.d)
    assert Q.shape[0] + N.shape[0] == data.V * data.d
    # orthonormality from LAPACK SVD / null_space: a few eps * dimension
    np.testing.assert_allclose(Q @ Q.T, np.eye(sub.dim), atol=1e-13)
    np.testing.assert_allclose(N @ N.T, np.eye(N.shape[0]), atol=1e-13)
    assert np.abs(Q @ N.T).max() < 1e-13
    W = rng.standard_normal((data.V, data.d))
    np.testing.assert_allclose(sub.project(W).ravel(), Q.T @ (Q @ W.ravel()), atol=1e-13)
    # here generators are dependent (d = 4 < m = 6): dim F is the rank of the generator set
    G = np.stack([generator(data, j, data.anchors[j], z).ravel()
                  for j in range(data.m) for z in data.supports[j] if z != data.anchors[j]])
    assert sub.dim == np.linalg.matrix_rank(G, tol=1e-10 * np.linalg.norm(G, 2))


# ----------------------------------------------------------------------------- W*
@pytest.mark.parametrize("method", ["dense", "blocks"])
def test_finite_component_solves_log_odds_inside_F(method):
    rng = np.random.default_rng(21)
    data = NTPData.synthetic(10, 13, 7, [1, 2, 3, 4, 5, 6, 2, 3, 4, 5], rng, n=300)
    sub = data_subspace(data, method=method)
    fc = finite_component(data, subspace=sub)
    Ws = fc.W
    assert fc.compatible and fc.method == method and fc.dim_F == fc.n_equations == 25
    # lstsq solution of a well-conditioned system with O(1) right-hand sides
    assert fc.max_residual < 1e-12 and np.abs(log_odds_residual(Ws, data)).max() < 1e-12
    assert np.abs(sub.project(Ws) - Ws).max() < 1e-12  # W* in F
    assert np.abs(Ws.sum(axis=0)).max() < 1e-12  # 1^T W* = 0
    # independent route: any solution W^p of the log-odds equations projects to W* (paper, Sec. 'Implicit bias of
    # next-token prediction in linear models')
    Lp = np.where(data.support, data.log_P, 0.0) + rng.standard_normal((data.m, 1))
    Lp = np.where(data.support, Lp, 5 * rng.standard_normal(Lp.shape))
    Wp = Lp.T @ np.linalg.solve(data.H @ data.H.T, data.H)
    assert np.abs(log_odds_residual(Wp, data)).max() < 1e-12
    np.testing.assert_allclose(sub.project(Wp), Ws, rtol=0, atol=1e-11)
    # W* does not depend on pi
    other = data.with_pi(rng.dirichlet(np.ones(data.m)))
    np.testing.assert_allclose(finite_component(other, method=method).W, Ws, rtol=0, atol=1e-14)
    # CE_F(W*) = H: in-support conditionals exact, so KL(p||q) = 0 (Lemma 4)
    Pq = np.exp(np.where(data.support, data.H @ Ws.T, -np.inf))
    np.testing.assert_allclose(Pq / Pq.sum(axis=1, keepdims=True), data.P, atol=1e-13)


def _dense_generators(data: NTPData) -> tuple[np.ndarray, np.ndarray]:
    """The anchored generators as rows of an (N, V d) matrix and the log-odds b (independent of theory)."""
    rows, b = [], []
    for j in range(data.m):
        a = int(np.argmax(data.P[j]))  # the anchor: most probable token, smallest id on ties
        for z in np.flatnonzero(data.P[j] > 0):
            if z != a:
                g = np.zeros((data.V, data.d))
                g[a] += data.H[j]
                g[z] -= data.H[j]
                rows.append(g.ravel())
                b.append(np.log(data.P[j, a] / data.P[j, z]))
    return np.array(rows), np.array(b)


@pytest.mark.parametrize("seed, m, d, V, S, decay", [(0, 60, 12, 30, 3, 0), (1, 80, 20, 40, 4, 0),
                                                     (2, 45, 9, 25, 2, 0), (3, 50, 30, 12, [1, 2, 3, 4, 5] * 10, 0),
                                                     (4, 60, 12, 30, 3, 5)])
def test_dense_gram_path_gives_the_svd_w_star(seed, m, d, V, S, decay):
    # rank H = d < m (the blocks method cannot run) and N < V d: the Gram path
    data = NTPData.synthetic(m, d, V, S, np.random.default_rng(seed))
    if decay:  # embedding directions scaled down to 10^-decay: ill-conditioned generators
        data = NTPData(data.H @ np.diag(np.logspace(0, -decay, d)), data.P, data.pi)
    fc = finite_component(data)
    assert fc.method == "dense" and fc.algorithm == "gram" and fc.compatible
    A, b = _dense_generators(data)
    # reference: LAPACK's SVD-based minimum-norm least squares on the dense generators
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    # 1e-10 relative: both are backward stable and the Gram solve is refined through A, so
    # the error is ~eps cond(A): cond of the normalised generators is 3-10 here (measured),
    # ~700 with decay 5 (measured error 3e-14 there; unrefined it would be ~eps cond^2)
    assert np.linalg.norm(fc.W.ravel() - x_ref) <= 1e-10 * np.linalg.norm(x_ref)
    # first-order conditions of min ||W|| s.t. A vec(W) = b: feasibility and W = A^T y
    assert np.abs(A @ fc.W.ravel() - b).max() < 1e-10 * max(1.0, np.abs(b).max())
    y = np.linalg.lstsq(A.T, fc.W.ravel(), rcond=None)[0]
    assert np.linalg.norm(A.T @ y - fc.W.ravel()) <= 1e-11 * np.linalg.norm(fc.W)
    # the projection of the same subspace agrees with the SVD basis (built on demand)
    sub = data_subspace(data)
    assert sub.algorithm == "gram" and sub.dim == A.shape[0]
    W = np.random.default_rng(seed + 10).standard_normal((2, data.V, data.d))
    Q = sub.basis.reshape(sub.dim, -1)
    ref = (W.reshape(2, -1) @ Q.T @ Q).reshape(W.shape)
    assert np.linalg.norm(sub.project(W) - ref) <= 1e-10 * np.linalg.norm(ref)


def test_dense_path_falls_back_to_the_svd_for_dependent_generators():
    base = NTPData.synthetic(10, 6, 8, 3, np.random.default_rng(3))
    # every context twice (same embedding, same distribution): every generator appears twice
    data = NTPData(np.vstack([base.H, base.H]), np.vstack([base.P, base.P]), np.full(20, 0.05))
    fc = finite_component(data)
    assert fc.algorithm == "svd" and fc.compatible and fc.dim_F == fc.n_equations // 2
    A, b = _dense_generators(data)
    x_ref = np.linalg.lstsq(A, b, rcond=None)[0]
    assert np.linalg.norm(fc.W.ravel() - x_ref) <= 1e-10 * np.linalg.norm(x_ref)


def test_orthonormal_embeddings_closed_forms():
    data = NTPData.synthetic(50, 60, 10, 6, np.random.default_rng(0), n=5000, embedding="orthonormal")
    np.testing.assert_allclose(data.H @ data.H.T, np.eye(50), atol=1e-14)
    Ws = finite_component(data).W
    logp_centred = np.where(
        data.support,
        data.log_P - (data.log_P.sum(axis=1) / data.support_sizes)[:, None],
        0.0,
    )
    # check N.2 (derived here): logits of W* = centred in-support log-probabilities, 0 off
    # support (reference simulation reached 2e-14; 1e-9 is the tolerance of check N.2)
    np.testing.assert_allclose(data.H @ Ws.T, logp_centred, rtol=0, atol=1e-9)
    # closed-form W^mm (logits = centred support matrix) is in F-perp, with margins 1,
    # and ||W^mm||^2 = sum_j S_j (V - S_j)/V = 120 (check N.2)
    Wmm = separating_direction(data)
    sub = data_subspace(data)
    assert np.abs(sub.project(Wmm)).max() < 1e-13
    assert np.sum(Wmm ** 2) == pytest.approx(120.0, rel=1e-13)
    assert np.abs(Wmm.sum(axis=0)).max() < 1e-13


def test_one_hot_supports_give_trivial_F():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((9, 4))
    y = np.array([0, 1, 2, 0, 1, 2, 3, 3, 0])
    data = NTPData.one_hot(X, y)
    assert data.is_one_hot and data.V == 4 and entropy(data) == 0.0
    np.testing.assert_allclose(data.pi, 1 / 9)
    for method in ("dense", "auto"):
        sub = data_subspace(data, method=method)
        assert sub.dim == 0
        W = rng.standard_normal((4, 4))
        assert np.all(sub.project(W) == 0) and np.all(sub.project_orth(W) == W)
    fc = finite_component(data)
    assert fc.dim_F == 0 and np.all(fc.W == 0) and fc.compatible
    W = rng.standard_normal((4, 4))
    assert loss_gap(W, data) == pytest.approx(ntp_loss(W, data), rel=1e-14)  # H = 0


# ----------------------------------------------------------------------------- genie ray
def _ray_closed_form(data, Ws, R):
    """Gap along W* + R W^d when every margin of W^d is exactly 1: sum pi log1p(eps_j(0) e^-R)."""
    L = data.H @ Ws.T
    lse_in = np.log(np.sum(np.where(data.support, np.exp(L), 0), axis=1))
    eps0 = np.sum(np.where(data.support, 0, np.exp(L)), axis=1) / np.exp(lse_in)
    return float(data.pi @ np.log1p(eps0 * np.exp(-R)))


@pytest.mark.parametrize("embedding", ["orthonormal", "gaussian"])
def test_log_gap_has_slope_minus_one_along_genie_ray(embedding):
    data = NTPData.synthetic(50, 60, 10, 6, np.random.default_rng(0), n=5000, embedding=embedding)
    Ws = finite_component(data).W
    # orthonormal H: closed-form W^mm (paper, Sec. 'Implicit bias of next-token prediction in linear models');
    # gaussian: a feasible direction with all
    # margins exactly 1 (not W^mm, but the ray gap then has the same closed form)
    Wd = separating_direction(data)
    Rs = np.array([5.0, 10.0, 20.0, 30.0])
    gaps = np.array([loss_gap(Ws + R * Wd, data) for R in Rs])
    ref = np.array([_ray_closed_form(data, Ws, R) for R in Rs])
    # loss_gap's relative accuracy in this regime is ~R*eps (see the 1e-12 tests)
    np.testing.assert_allclose(gaps, ref, rtol=1e-11)
    slope = np.diff(np.log(gaps[2:])) / np.diff(Rs[2:])
    # exact slope is -1 + O(eps_j e^-R): |deviation| < V e^{-20+|W*|M} ~ 1e-6 at worst
    assert abs(slope[0] + 1) < 1e-5
    bound = genie_bound(data, Rs, W_star=Ws)
    assert genie_bound(data, Rs[0]) == pytest.approx(bound[0], rel=1e-12)  # computes W* itself
    assert np.all(gaps <= bound)
    assert np.all(gaps > 0)


def test_genie_bound_closed_form_on_orthonormal_embeddings():
    """Two-sided: the genie bound is C e^-R with C = V e^{|W*| M}, M = sqrt(2) max_j |h_j| (check N.4;
    [T24] eq. 9/25). With orthonormal embeddings |h_j| = 1 and |W*|_F is the norm of
    its logits, the centred in-support log-probabilities (paper, Sec. 'Implicit bias of next-token prediction in
    linear models'): both known without the solver."""
    data = NTPData.synthetic(12, 15, 7, 3, np.random.default_rng(5), n=800, embedding="orthonormal")
    logp_centred = np.where(
        data.support, data.log_P - (data.log_P.sum(axis=1) / data.support_sizes)[:, None], 0.0
    )
    norm_Ws = np.linalg.norm(logp_centred)  # W* lies in the row space of H, so |W*| = |H W*^T|
    Rs = np.array([0.0, 3.0, 40.0])
    want = 7 * np.exp(np.sqrt(2.0) * norm_Ws - Rs)
    # W* by the subspace solver (~1e-13 relative) enters through exp(|W*| M): C's error ~ |W*| M 1e-13 < 1e-11
    np.testing.assert_allclose(genie_bound(data, Rs), want, rtol=1e-11)
    # and the bound holds along the ray W* + R W^d of the closed-form direction (margins exactly 1)
    Ws = finite_component(data).W
    Wd = separating_direction(data)
    gaps = np.array([loss_gap(Ws + R * Wd, data) for R in Rs])
    assert np.all(gaps <= want)


def test_genie_ray_with_ntp_svm_direction():
    ntp_svm = pytest.importorskip("theory.ntp_svm")
    data = NTPData.synthetic(20, 25, 8, 3, np.random.default_rng(4), n=1000)
    Ws = finite_component(data).W
    Wmm = np.asarray(ntp_svm.max_margin_direction(data).W)
    Rs = np.array([20.0, 30.0])
    gaps = np.array([loss_gap(Ws + R * Wmm, data) for R in Rs])
    slope = np.diff(np.log(gaps))[0] / np.diff(Rs)[0]
    # slope = -(gap-weighted mean margin) <= -1 (margins >= 1, solver tol 1e-6 relative),
    # tending to -1 as R grows; non-active margins > 1 decay like e^{-R (margin - 1)}
    assert -1.1 < slope < -1 + 1e-4
    assert np.all(gaps <= genie_bound(data, Rs, W_star=Ws))


# ----------------------------------------------------------------------------- constructors
def test_paper_a2_instance_shapes_and_counts():
    data = NTPData.paper_a2(np.random.default_rng(0))
    assert (data.m, data.d, data.V) == (50, 60, 10)
    assert np.all(data.support_sizes == 6)
    counts = data.pi * 5000
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)  # pi = integer counts / n
    assert counts.min() >= 1 and round(counts.sum()) == 5000
    np.testing.assert_allclose(data.P.sum(axis=1), 1.0, atol=1e-15)
    assert 1.0 < entropy(data) < np.log(6)  # Dirichlet(1) on 6 atoms: mean H_6 - 1 = 1.45
    same = NTPData.paper_a2(np.random.default_rng(0))
    assert same.digest == data.digest
    # P and pi are drawn before H: changing d or the embedding keeps them
    other = NTPData.synthetic(50, 80, 10, 6, np.random.default_rng(0), n=5000, embedding="unit")
    assert np.array_equal(other.P, data.P) and np.array_equal(other.pi, data.pi)
    np.testing.assert_allclose(np.linalg.norm(other.H, axis=1), 1.0, atol=1e-14)


def test_toy_2d_matches_paper_supports_and_is_separable():
    data = NTPData.toy_2d(np.random.default_rng(0))
    assert (data.m, data.d, data.V) == (3, 2, 5)
    one_based = [set((np.flatnonzero(row) + 1).tolist()) for row in data.support]
    assert one_based == [{1, 2, 5}, {1, 4, 5}, {2, 3, 4}]
    assert [tuple(s) for s in data.supports] == list(TOY_2D_SUPPORTS)
    # the documented embedding choice: compatible (dim F = 6 = number of equations) ...
    fc = finite_component(data)
    assert fc.dim_F == 6 and fc.compatible
    # ... and separable although d < m (LP feasibility)
    assert lp_separable(data)
    given = NTPData.toy_2d(probabilities=[[0.5, 0.25, 0.25]] * 3)
    assert given.P[0, 0] == 0.5 and given.P[2, 3] == 0.25


def test_lp_helper_detects_non_separable_data():
    # guards the LP used above: identical embeddings with different supports are not separable
    H = np.array([[1.0, 0.0], [1.0, 0.0]])
    P = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]])
    assert not lp_separable(NTPData(H, P, [0.5, 0.5]))


def test_from_sequences_hand_counts():
    seqs = [[0, 1, 2, 1], [0, 1, 0]]
    data = NTPData.from_sequences(seqs, context_length=1, embed="one_hot")
    # pairs: (0)->1, (1)->2, (2)->1 | (0)->1, (1)->0 ; n = 5
    assert data.contexts == ((0,), (1,), (2,))
    np.testing.assert_allclose(data.pi, [2 / 5, 2 / 5, 1 / 5])
    np.testing.assert_allclose(data.P, [[0, 1, 0], [0.5, 0, 0.5], [0, 1, 0]])
    assert data.meta["n_examples"] == 5
    assert entropy(data) == pytest.approx(2 / 5 * np.log(2))
    # window 2: contexts are the prefixes (0), (0,1), (1,2); (0,1) seen twice
    data2 = NTPData.from_sequences(seqs, context_length=2, embed=lambda c: [len(c), sum(c), 1.0])
    assert data2.contexts == ((0,), (0, 1), (1, 2))
    np.testing.assert_allclose(data2.pi, [2 / 5, 2 / 5, 1 / 5])
    np.testing.assert_allclose(data2.P, [[0, 1, 0], [0.5, 0, 0.5], [0, 1, 0]])
    np.testing.assert_allclose(data2.H, [[1, 0, 1], [2, 1, 1], [2, 3, 1]])
    # only full windows
    data3 = NTPData.from_sequences(seqs, 2, "one_hot", min_context_length=2)
    assert data3.contexts == ((0, 1), (1, 2)) and data3.meta["n_examples"] == 3


def test_from_sequences_full_prefixes_are_appendix_c_contexts():
    seqs = [[3, 1, 4, 1, 5], [3, 1, 4, 2], [3, 1]]
    data = NTPData.from_sequences(seqs, context_length=10, embed="gaussian", d=7, rng=0, vocab_size=6)
    expected = collections.Counter()
    for s in seqs:
        for t in range(1, len(s)):
            expected[tuple(s[:t])] += 1
    assert set(data.contexts) == set(expected)
    n = sum(expected.values())
    for j, c in enumerate(data.contexts):
        assert data.pi[j] == pytest.approx(expected[c] / n)
    assert data.V == 6 and data.H.shape == (len(expected), 7)


def test_from_sequences_full_support_and_max_contexts():
    seqs = [[0, 1, 0, 2, 0, 0, 1, 2, 1]]
    with pytest.raises(ValueError, match=r"context \(0,\) is followed by all V = 3 tokens"):
        NTPData.from_sequences(seqs, 1, "one_hot")
    data = NTPData.from_sequences(seqs, 1, "one_hot", full_support="drop")
    assert (0,) not in data.contexts and data.meta["n_dropped_full_support"] == 1
    # remaining: (1)->0,2,2? pairs: 1->0, 2->0, 1->2, 2->1 : (1,) twice, (2,) twice
    assert data.contexts == ((1,), (2,))
    np.testing.assert_allclose(data.pi, [0.5, 0.5])
    top = NTPData.from_sequences([[0, 1, 0, 1, 0, 2]], 1, "one_hot", max_contexts=1)
    assert top.contexts == ((0,),) and top.pi[0] == 1.0  # (0,) occurs 3 times, (1,) twice


def _direct_char_counts(K):
    """Independent recount of char contexts from the raw docstrings (no tokenizer reuse)."""
    pairs = collections.Counter()
    for doc in text_corpus.stdlib_docstrings():
        text = " ".join(doc.split()).lower()
        for t in range(1, len(text)):
            pairs[(text[max(0, t - K):t], text[t])] += 1
    return pairs


def test_text_loader_is_deterministic_and_matches_a_direct_count():
    data = NTPData.from_text("char", context_length=2, max_contexts=60, rng=3)
    again = NTPData.from_text("char", context_length=2, max_contexts=60, rng=3)
    assert data.digest == again.digest and data.contexts == again.contexts
    assert data.meta["python"] == text_corpus.python_version()
    pairs = _direct_char_counts(2)
    ctx_count = collections.Counter()
    followers = collections.defaultdict(set)
    for (c, z), k in pairs.items():
        ctx_count[c] += k
        followers[c].add(z)
    V = data.V
    assert set(data.vocabulary) == {z for (_, z) in pairs} | {ch for (c, _) in pairs for ch in c}
    kept = ["".join(data.vocabulary[i] for i in c) for c in data.contexts]
    eligible = {c for c in ctx_count if len(followers[c]) < V}
    assert set(kept) <= eligible and len(kept) == 60
    # the kept contexts are the most frequent eligible ones
    assert min(ctx_count[c] for c in kept) >= max(ctx_count[c] for c in eligible - set(kept))
    n_kept = sum(ctx_count[c] for c in kept)
    assert data.meta["n_kept"] == n_kept
    H_direct = 0.0
    for j, c in enumerate(kept):
        assert data.pi[j] == pytest.approx(ctx_count[c] / n_kept, rel=1e-14)
        for v, z in enumerate(data.vocabulary):
            assert data.P[j, v] == pytest.approx(pairs.get((c, z), 0) / ctx_count[c], rel=1e-14)
            k = pairs.get((c, z), 0)
            if k:
                H_direct -= k / n_kept * np.log(k / ctx_count[c])
    assert entropy(data) == pytest.approx(H_direct, rel=1e-12)
    assert data.d == data.m + 1  # default Gaussian embedding with d = m + 1


def test_word_level_text_loader():
    data = NTPData.from_text("word", context_length=1, vocab_size=40, max_contexts=None)
    assert data.V == 40 and data.vocabulary[-1] == text_corpus.UNKNOWN_WORD
    assert data.vocabulary[0] == "the"
    assert np.all(data.support_sizes < data.V)
    assert 0.5 < entropy(data) < np.log(40)
    fc = finite_component(data)  # d = m + 1: compatible (Lemma 1)
    assert fc.compatible


# ----------------------------------------------------------------------------- validation
_H = np.eye(2)
_P = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]])
_PI = np.array([0.5, 0.5])


@pytest.mark.parametrize(
    "kwargs,exc,match",
    [
        (dict(P=[[0.5, 0.4, 0.0], [0, 0, 1]]), ValueError, r"rows of P must sum to 1.*row 0 of P sums to 0\.9"),
        (dict(P=[[0.5, 0.6, -0.1], [0, 0, 1]]), ValueError, r"P must be nonnegative; P\[0, 2\] = -0\.1"),
        (dict(P=[[0.2, 0.3, 0.5], [0, 0, 1]]), ValueError, r"row 0 of P has positive probability on all V = 3"),
        (dict(P=_P[:1]), ValueError, r"P has 1 rows but H has 2 rows"),
        (dict(pi=[1.0]), ValueError, r"pi must have shape \(m,\) = \(2,\)"),
        (dict(H=np.ones(2)), ValueError, r"H must be 2-dimensional"),
        (dict(H=[[1.0, np.nan], [0, 1]]), ValueError, r"H must be finite.*H\[0, 1\] = nan"),
        (dict(P=[[0.5, np.inf, 0], [0, 0, 1]]), ValueError, r"P must be finite"),
        (dict(pi=[0.0, 1.0]), ValueError, r"pi must be strictly positive.*pi\[0\] = 0\.0"),
        (dict(pi=[0.5, 0.6]), ValueError, r"pi must sum to 1"),
        (dict(H=_H * 1j), TypeError, r"H must be real"),
        (dict(H="abc"), TypeError, r"H must be a real numeric array"),
        (dict(P=[[1.0], [1.0]]), ValueError, r"at least 2 columns"),
    ],
)
def test_bad_input_names_the_argument(kwargs, exc, match):
    args = dict(H=_H, P=_P, pi=_PI)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        NTPData(**args)


def test_valid_input_is_frozen_and_normalised():
    data = NTPData(_H.tolist(), [[0.5 + 4e-10, 0.5, 0], [0, 0, 1]], _PI)
    assert data.P.dtype == np.float64 and not data.P.flags.writeable
    assert abs(data.P[0].sum() - 1) <= EPS
    with pytest.raises(AttributeError):
        data.H = np.zeros((2, 2))
    assert data.anchors.tolist() == [0, 2]  # most probable in-support token
    assert data.support_sizes.tolist() == [2, 1] and not data.is_one_hot


def test_pickle_round_trip_keeps_content_and_immutability():
    data = NTPData.from_text("char", context_length=1, max_contexts=10, rng=0)
    back = pickle.loads(pickle.dumps(data))
    assert back.digest == data.digest and back.contexts == data.contexts
    assert back.vocabulary == data.vocabulary and dict(back.meta) == dict(data.meta)
    assert not back.P.flags.writeable
    sub = pickle.loads(pickle.dumps(data_subspace(data, method="blocks")))  # e.g. for joblib workers
    W = np.random.default_rng(0).standard_normal((data.V, data.d))
    np.testing.assert_array_equal(sub.project(W), data_subspace(data, method="blocks").project(W))


def test_functions_validate_W_and_arguments():
    data = NTPData(_H, _P, _PI)
    with pytest.raises(ValueError, match=r"W must have shape \(V, d\) = \(3, 2\), got \(2, 3\)"):
        ntp_loss(np.zeros((2, 3)), data)
    with pytest.raises(ValueError, match=r"W must be finite"):
        ntp_gradient(np.full((3, 2), np.nan), data)
    with pytest.raises(TypeError, match="data must be an NTPData"):
        entropy(_P)
    with pytest.raises(ValueError, match="method must be"):
        data_subspace(data, method="qr")
    with pytest.raises(ValueError, match=r"support_size entries must lie in \[1, V - 1\] = \[1, 4\]"):
        NTPData.synthetic(3, 2, 5, 5, 0)
    with pytest.raises(TypeError, match="rng must be an int >= 0, a numpy.random.SeedSequence or a numpy.random.Generator"):
        NTPData.synthetic(3, 2, 5, 2, None)
    with pytest.raises(ValueError, match="level must be 'char' or 'word'"):
        NTPData.from_text("byte")
    with pytest.raises(ValueError, match="embed must return vectors of one length"):
        NTPData.from_sequences([[0, 1, 2, 0]], 1, embed=lambda c: np.ones(c[0] + 1))
    with pytest.raises(ValueError, match=r"token id 5 in sequences is >= vocab_size = 3"):
        NTPData.from_sequences([[0, 5, 1]], 1, "one_hot", vocab_size=3)


# ------------------------------------------------------------- classification data, keys
def test_classification_data_explicit_arrays():
    X = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    data = classification_data(X, [2, 0, 2])
    np.testing.assert_array_equal(data.H, X)
    np.testing.assert_array_equal(data.P, [[0, 0, 1], [1, 0, 0], [0, 0, 1]])
    # 1/3 three times sums to exactly 1.0 in float64, so renormalisation keeps 1/3
    assert data.pi.tolist() == [1 / 3, 1 / 3, 1 / 3]
    assert data.is_one_hot and entropy(data) == 0.0
    wide = classification_data(X, [0, 0, 0], n_classes=4, pi=[0.5, 0.25, 0.25])
    np.testing.assert_array_equal(wide.P, [[1, 0, 0, 0]] * 3)
    assert wide.pi.tolist() == [0.5, 0.25, 0.25]
    one = classification_data([[1.0]], [0])  # default V = max(y) + 1 but at least 2
    np.testing.assert_array_equal(one.P, [[1.0, 0.0]])
    # NTPData.one_hot is the same construction (bit for bit), float labels that are whole accepted
    other = NTPData.one_hot(X, np.array([2.0, 0.0, 2.0]))
    assert other.digest == data.digest and other.meta["source"] == data.meta["source"] == "one_hot"


def test_classification_data_keeps_pi_bits_of_the_renormalisation():
    # 1/10 ten times sums to 0.9999999999999999; NTPData divides by that sum, which is what
    # sims.gd.classification_data always returned (stored fingerprints depend on these bits)
    data = classification_data(np.eye(10), np.arange(10) % 3)
    expected = np.full(10, 0.1) / np.full(10, 0.1).sum()
    assert data.pi.tobytes() == expected.tobytes()


def test_binary_data_maps_plus_one_to_class_zero():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    for y in ([1, -1, 1], [1, 0, 1]):
        data = binary_data(X, y)
        np.testing.assert_array_equal(data.P, [[1, 0], [0, 1], [1, 0]])
        np.testing.assert_array_equal(data.H, X)
    W = np.array([[1.0, 2.0], [0.5, -1.0]])
    np.testing.assert_array_equal(logistic_weights(W), [0.5, 3.0])
    np.testing.assert_array_equal(logistic_weights(np.stack([W, 2 * W])), [[0.5, 3.0], [1.0, 6.0]])
    # the 2-class cross-entropy at W is the logistic loss at w = w_0 - w_1
    y = np.array([1, -1, 1])
    logistic = np.mean(np.log1p(np.exp(-y * (X @ logistic_weights(W)))))
    assert ntp_loss(W, binary_data(X, y)) == pytest.approx(logistic, rel=1e-14)  # a few roundings


@pytest.mark.parametrize(
    "call, exc, msg",
    [
        (lambda: classification_data(np.ones((3, 2)), [0, 1]), ValueError, r"y must have shape \(n,\) = \(3,\)"),
        (lambda: classification_data(np.ones((2, 2)), [0, 0.5]), TypeError, r"y\[1\] = 0.5 is not a whole"),
        (lambda: classification_data(np.ones((2, 2)), [0, -1]), ValueError, "nonnegative class labels"),
        (lambda: classification_data(np.ones((2, 2)), [0, 3], n_classes=3), ValueError, r"lie in \[0, 2\]"),
        (lambda: classification_data(np.ones((2, 2)), [True, False]), TypeError, "integer class labels"),
        (lambda: classification_data(np.ones((2, 2)) + 1j, [0, 1]), TypeError, "X must be real"),
        (lambda: classification_data(np.ones((2, 2)), [0, 1], n_classes=1), ValueError, "n_classes must be an integer >= 2"),
        (lambda: classification_data(np.ones((2, 2)), [0, 1], pi=[1.0, 0.0]), ValueError, "pi must be strictly positive"),
        (lambda: binary_data(np.ones((2, 2)), [2, 1]), ValueError, r"values in \{-1, \+1\} or \{0, 1\}"),
        (lambda: binary_data(np.ones((2, 2)), "ab"), TypeError, "got the string"),
        (lambda: logistic_weights(np.ones((3, 2))), ValueError, r"shape \(2, d\) or \(..., 2, d\), got \(3, 2\)"),
        (lambda: data_fingerprint(np.ones((2, 2)), np.ones((3, 2)), np.ones(2)), ValueError, "must agree on m"),
        (lambda: entropy_from_arrays(np.ones((2, 2)), np.ones(3)), ValueError, r"pi must have shape \(m,\) = \(2,\)"),
        (lambda: entropy_from_arrays([[-0.5, 1.5]], [1.0]), ValueError, r"P\[0, 0\] = -0.5"),
    ],
)
def test_classification_helpers_refuse_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_data_fingerprint_hashes_bytes_then_shape():
    import hashlib

    H, P, pi = np.eye(2), np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]), np.array([0.25, 0.75])
    h = hashlib.sha256()
    for a in (H, P, pi):
        h.update(a.astype("<f8").tobytes())
        h.update(str(a.shape).encode())
    assert data_fingerprint(H, P, pi) == h.hexdigest()[:24]
    assert data_fingerprint(H.tolist(), P.astype(np.float32), pi) == data_fingerprint(H, P, pi)  # values exact in f32
    assert data_fingerprint(H, P, pi[::-1]) != data_fingerprint(H, P, pi)
    # the same bytes split differently between H and P give a different key (shapes are hashed)
    assert data_fingerprint([[1.0, 1.0]], [[1.0, 1.0, 0.0, 0.0]], [1.0]) != data_fingerprint(
        [[1.0, 1.0, 1.0, 1.0]], [[0.0, 0.0]], [1.0])


def test_entropy_from_arrays_is_the_entropy_formula():
    P = np.array([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.25, 0.25, 0.5, 0.0]])
    pi = np.array([0.5, 0.25, 0.25])
    exact = 0.5 * np.log(2) + 0.25 * (1.5 * np.log(2))
    assert entropy_from_arrays(P, pi) == pytest.approx(exact, rel=4 * EPS)  # a few roundings
    assert entropy(NTPData(np.eye(3), P, pi)) == entropy_from_arrays(P, pi)
    # pi used as given, not renormalised (the engine's weights)
    assert entropy_from_arrays(P, 2 * pi) == pytest.approx(2 * exact, rel=4 * EPS)


# ----------------------------------------------------------------------------- large (slow)
@pytest.mark.slow
def test_blocks_subspace_at_m1000_V1000_d1001():
    data = NTPData.synthetic(1000, 1001, 1000, 6, np.random.default_rng(0), n=100_000)
    sub = data_subspace(data)
    assert sub.method == "blocks" and sub.dim == 5000
    rng = np.random.default_rng(1)
    W = rng.standard_normal((data.V, data.d))
    Wf = sub.project(W)
    # rounding ~ cond(H H^T) * eps, cond ~ 1e7 for a 1000 x 1001 Gaussian H
    assert np.abs(sub.project(Wf) - Wf).max() <= 1e-8 * np.abs(Wf).max()
    assert abs(np.sum(Wf * (W - Wf))) <= 1e-8 * np.sum(W * W)
    for j in (0, 500, 999):
        a = data.anchors[j]
        z = next(v for v in data.supports[j] if v != a)
        g = generator(data, j, a, z)
        assert np.abs(sub.project(g) - g).max() <= 1e-8 * np.abs(g).max()
    fc = finite_component(data, subspace=sub)
    assert fc.compatible and fc.max_residual < 1e-9
    assert np.abs(fc.W.sum(axis=0)).max() < 1e-10


def test_shared_random_ntp_factory():
    from tests.helpers.instances import random_ntp

    a = random_ntp(5, 4, 6, 3, seed=1)
    assert (a.m, a.d, a.V) == (5, 4, 6) and a.support_sizes.tolist() == [3] * 5
    assert random_ntp(5, 4, 6, 3, seed=1).digest == a.digest != random_ntp(5, 4, 6, 3, seed=2).digest
    b = random_ntp(5, 4, 6, 3, seed=1, scale=2.0, n=100)
    np.testing.assert_array_equal(b.P, a.P)  # supports and probabilities are drawn first
    counts = b.pi * 100  # counts / n, each count >= 1; 1e-12: the rounding of c / 100 * 100
    assert np.abs(counts - np.round(counts)).max() < 1e-12 and np.round(counts).min() >= 1


def test_package_keeps_every_public_name():
    """theory.ntp became a package: every name importable from the old module still is."""
    import theory.ntp as ntp

    before = ["DataSubspace", "FiniteComponent", "NTPData", "SUM_TOL", "TOY_2D_EMBEDDINGS", "TOY_2D_SUPPORTS",
              "check_separability", "data_subspace", "entropy", "finite_component", "genie_bound",
              "in_support_residual", "log_odds_residual", "loss_gap", "max_margin_direction", "ntp_gradient",
              "ntp_loss", "smoothness_bound"]
    missing = [name for name in before + list(ntp.__all__) if not hasattr(ntp, name)]
    assert not missing, missing
    assert set(before) <= set(ntp.__all__)
    assert pickle.loads(pickle.dumps(NTPData.toy_2d(0))).digest == NTPData.toy_2d(0).digest
