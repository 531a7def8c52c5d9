"""Tests of theory.maxmargin: bias-free hard-margin SVMs, KKT certificates and Soudry et al.'s w-tilde."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from theory.maxmargin import (
    KKTCertificate,
    binary_svm,
    binary_w_tilde,
    multiclass_svm,
    multiclass_w_tilde,
)

# A polished KKT point is exact up to rounding (measured residuals ~1e-14); 1e-9 leaves
# room for ill-conditioned Gram matrices while still catching any real violation.
KKT_TOL = 1e-9


def _separable_binary(rng, n=40, d=30):
    X = rng.normal(size=(n, d))
    y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    return X, y


def _separable_multiclass(rng, n=40, d=25, K=4):
    return rng.normal(size=(n, d)), rng.integers(0, K, n), K


# --------------------------------------------------------------------------------------
# binary SVM
# --------------------------------------------------------------------------------------
def test_binary_svm_single_point_closed_form():
    # one constraint x^T w >= 1: w_hat = x / ||x||^2 and alpha = 1 / ||x||^2
    x = np.array([[3.0, 4.0]])
    res = binary_svm(x, [1])
    np.testing.assert_allclose(res.w, [3 / 25, 4 / 25], rtol=1e-12)
    np.testing.assert_allclose(res.alpha, [1 / 25], rtol=1e-12)
    assert res.margin == pytest.approx(5.0, rel=1e-12)
    assert res.solver == "CLARABEL"


def test_binary_svm_two_support_vectors_closed_form():
    # both constraints active: Z w = 1 with Z = diag(y) X, alpha = (Z Z^T)^{-1} 1 > 0
    X = np.array([[1.0, 0.25], [-0.2, -1.0], [3.0, 3.0]])
    y = np.array([1.0, -1.0, 1.0])
    Z = y[:, None] * X
    w = np.linalg.solve(Z[:2], np.ones(2))
    alpha = np.linalg.solve(Z[:2] @ Z[:2].T, np.ones(2))
    res = binary_svm(X, y)
    np.testing.assert_allclose(res.w, w, rtol=1e-12)  # polished: exact up to rounding
    np.testing.assert_allclose(res.alpha, [alpha[0], alpha[1], 0.0], rtol=1e-10, atol=1e-13)
    assert res.support_vectors.tolist() == [0, 1]
    assert res.active.tolist() == [0, 1]


@pytest.mark.parametrize("seed", [0, 1])
def test_binary_svm_certificate_and_sklearn(seed):
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(seed)
    X, y = _separable_binary(rng)
    res = binary_svm(X, y)
    assert res.polished
    assert res.certificate.check(KKT_TOL), res.certificate.residuals()
    Z = y[:, None] * X
    np.testing.assert_allclose(Z.T @ res.alpha, res.w, rtol=1e-12, atol=1e-14)  # w = sum alpha_i y_i x_i
    assert (res.alpha >= 0).all()
    np.testing.assert_allclose(Z[res.support_vectors] @ res.w, 1.0, atol=1e-12)
    # liblinear's dual coordinate descent, hinge loss, no intercept; C only needs to exceed
    # max alpha (hard margin); its stopping tolerance limits agreement to ~1e-8 here, so 1e-5.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LinearSVC(loss="hinge", fit_intercept=False, dual=True, C=1e4, tol=1e-10, max_iter=1_000_000)
        clf.fit(X, y)
    w_sk = clf.coef_[0]
    assert np.min(Z @ w_sk) >= 1 - 1e-5
    assert np.linalg.norm(w_sk - res.w) / np.linalg.norm(res.w) < 1e-5


def test_binary_svm_errors():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"-1 or \+1"):
        binary_svm(X, [0, 1])
    with pytest.raises(ValueError, match="shape"):
        binary_svm(X, [1, -1, 1])
    with pytest.raises(ValueError, match="finite"):
        binary_svm([[np.nan, 0.0], [0.0, 1.0]], [1, -1])
    with pytest.raises(ValueError, match="2-dimensional"):
        binary_svm([1.0, 2.0], [1, -1])
    with pytest.raises(TypeError):
        binary_svm("abc", [1])
    # identical points with opposite labels: lambda = (1/2, 1/2) gives sum lambda y x = 0
    with pytest.raises(ValueError, match=r"not linearly separable.*samples \[0, 1\]"):
        binary_svm([[1.0, 2.0], [1.0, 2.0]], [1, -1])


# --------------------------------------------------------------------------------------
# multiclass SVM
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 3])
def test_multiclass_svm_certificate_and_crammer_singer(seed):
    from sklearn.svm import LinearSVC

    rng = np.random.default_rng(seed)
    X, y, K = _separable_multiclass(rng)
    res = multiclass_svm(X, y, K)
    assert res.W.shape == (K, X.shape[1])
    assert res.polished and res.solver == "CLARABEL"
    assert res.certificate.check(KKT_TOL), res.certificate.residuals()
    # stationarity written out: W = sum alpha_ik (e_{y_i} - e_k) x_i^T
    W = np.zeros_like(res.W)
    for i, k in zip(*np.nonzero(res.alpha)):
        W[y[i]] += res.alpha[i, k] * X[i]
        W[k] -= res.alpha[i, k] * X[i]
    np.testing.assert_allclose(W, res.W, rtol=1e-10, atol=1e-12)
    assert np.all(res.alpha[np.arange(len(y)), y] == 0)
    # Crammer-Singer without intercept, hard-margin limit (spec: reproduced to 4e-7 rel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = LinearSVC(multi_class="crammer_singer", fit_intercept=False, C=1e4, tol=1e-10, max_iter=1_000_000)
        clf.fit(X, y)
    W_sk = clf.coef_
    L = X @ W_sk.T
    marg = L[np.arange(len(y)), y][:, None] - L
    marg[np.arange(len(y)), y] = np.inf
    assert marg.min() >= 1 - 1e-5  # sklearn's objective normalisation gives margins 1 at the hard limit
    assert np.linalg.norm(W_sk - res.W) / np.linalg.norm(res.W) < 1e-5


def test_multiclass_svm_sums_to_zero_and_margin():
    rng = np.random.default_rng(7)
    X, y, K = _separable_multiclass(rng, n=30, d=20, K=3)
    res = multiclass_svm(X, y)
    # 1^T W = 0: the generators (e_y - e_k) x^T have zero column sums
    assert np.abs(res.W.sum(axis=0)).max() < 1e-12 * np.abs(res.W).max()
    assert res.margin == pytest.approx(1 / np.linalg.norm(res.W), rel=1e-14)
    L = X @ res.W.T
    for i, k in res.active:
        assert L[i, y[i]] - L[i, k] == pytest.approx(1.0, abs=1e-10)


def test_multiclass_svm_errors():
    X = np.eye(3)
    with pytest.raises(ValueError, match="K must be an integer >= 2"):
        multiclass_svm(X, [0, 0, 0], K=1)
    with pytest.raises(ValueError, match=r"0\.\.K-1"):
        multiclass_svm(X, [0, 1, 3], K=3)
    with pytest.raises(ValueError, match=r"0\.\.K-1"):
        multiclass_svm(X, [0, -1, 1])
    with pytest.raises(ValueError, match="integer"):
        multiclass_svm(X, [0.5, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        multiclass_svm(X, [0, 1])
    # two identical points with different labels cannot both win by a margin
    with pytest.raises(ValueError, match=r"not multiclass-separable.*samples \[0, 1\]"):
        multiclass_svm([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], [0, 1, 2])


def test_certificate_detects_perturbation():
    rng = np.random.default_rng(11)
    X, y = _separable_binary(rng, n=20, d=15)
    res = binary_svm(X, y)
    assert res.certificate.check(KKT_TOL)
    # shrinking w by 1e-4 violates the active margins by 1e-4 and breaks stationarity
    from theory.margin import kkt_certificate

    Z = y[:, None] * X
    w = res.w * (1 - 1e-4)
    bad = kkt_certificate(Z @ w, res.alpha, w, Z.T @ res.alpha)
    assert not bad.check(KKT_TOL)
    assert set(bad.failures(KKT_TOL)) >= {"primal_inequality", "stationarity"}
    with pytest.raises(ValueError):
        bad.check(-1.0)
    assert isinstance(bad, KKTCertificate)


# --------------------------------------------------------------------------------------
# w-tilde ([S18] Thm 3)
# --------------------------------------------------------------------------------------
# 2-D binary data: support vectors z1 = (1, 0.25), z2 = (0.2, 1) (z = y x) and three
# non-support vectors with margins ~2.2 under w_hat, so the non-SV terms decay like t^-1.2.
BIN_Z = np.array([[1.0, 0.25], [0.2, 1.0], [1.5, 1.2], [2.0, 0.8], [0.9, 1.9]])
BIN_Y = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
BIN_X = BIN_Y[:, None] * BIN_Z

# 3-class 2-D data (angles 0, 120, 240 degrees plus noise, rounded): the four support pairs
# span the 4-dimensional generator space, smallest linearised rate 0.78.
MC_X = np.array(
    [[0.915, 0.336], [0.562, 0.465], [0.163, 1.164], [-0.154, 1.08], [-0.737, -0.596], [0.32, -0.996]]
)
MC_Y = np.array([0, 0, 1, 1, 2, 2])


def _gd_binary(lr, steps, loss, checkpoints):
    w = np.zeros(2)
    out = {}
    for t in range(1, steps + 1):
        u = BIN_Z @ w
        g = 0.5 * (1 - np.tanh(u / 2)) if loss == "logistic" else np.exp(-u)  # -l'(u)
        w = w + lr * (BIN_Z.T @ g)
        if t in checkpoints:
            out[t] = w.copy()
    return out


def _linearised_rate(gens, alpha):
    # r(t) ~ t^-lambda, lambda = smallest eigenvalue of sum_s alpha_s g_s g_s^T on the span
    sa = np.sqrt(alpha)
    return float(np.linalg.eigvalsh(sa[:, None] * (gens @ gens.T) * sa[None, :]).min())


@pytest.mark.parametrize("loss", ["logistic", "exponential"])
def test_binary_w_tilde_matches_gd(loss):
    lr = 0.5
    wt = binary_w_tilde(BIN_X, BIN_Y, lr)
    assert wt.support.tolist() == [0, 1]
    assert wt.equation_residual < 1e-12  # eta exp(-z_s^T w_tilde) = alpha_s solved exactly
    np.testing.assert_allclose(wt.from_init, 0.0, atol=1e-15)  # SVs span R^2
    cps = (10**3, 10**4, 10**5)
    traj = _gd_binary(lr, 10**5, loss, set(cps))
    err = [np.linalg.norm(traj[t] - wt.w_hat * np.log(t) - wt.w_tilde) for t in cps]
    assert err[0] > err[1] > err[2]
    lam = _linearised_rate(BIN_Z[:2], wt.alpha[:2])  # 0.40 for these data
    slope = np.log10(err[1] / err[2])
    # the residual decays like t^-lambda (linearised SV dynamics); other terms decay faster.
    # Measured slopes 0.40 (logistic) and 0.41 (exponential) vs lambda = 0.40: 15% band.
    assert abs(slope - lam) < 0.15 * lam, (slope, lam)
    # measured 1.2% (logistic) and 3.2% (exponential: larger early transient) of the norm
    assert err[2] < 0.05 * np.linalg.norm(wt.w_tilde)
    # the step-size factor matters: w_tilde for eta = 1 misses the GD limit by |log 2|-ish
    wrong = binary_w_tilde(BIN_X, BIN_Y, 1.0).w_tilde
    err_wrong = np.linalg.norm(traj[10**5] - wt.w_hat * np.log(10**5) - wrong)
    assert err_wrong > 20 * err[2]


def test_w_tilde_same_for_both_losses_and_init():
    wt = binary_w_tilde(BIN_X, BIN_Y, 0.5, w0=np.array([3.0, -1.0]))
    # the SVs span R^2, so GD forgets the initialisation entirely
    np.testing.assert_allclose(wt.w_tilde, binary_w_tilde(BIN_X, BIN_Y, 0.5).w_tilde, rtol=1e-12)
    # in 3-D with data in the x-y plane, the z-component of w0 is kept
    X3 = np.hstack([BIN_X, np.zeros((5, 1))])
    w3 = binary_w_tilde(X3, BIN_Y, 0.5, w0=np.array([3.0, -1.0, 2.5]))
    np.testing.assert_allclose(w3.from_init, [0.0, 0.0, 2.5], atol=1e-14)
    np.testing.assert_allclose(w3.w_tilde[:2], wt.w_tilde, rtol=1e-12)


def test_multiclass_w_tilde_keeps_what_gd_never_moves():
    """The CE gradient (softmax - Y)^T X has zero column sums over classes and rows in span(X), so
    GD keeps W0's class mean (1/K) 1 1^T W0 and W0's part outside span(X) forever; w_tilde's
    from_init is exactly that, and the determined part does not depend on W0."""
    rng = np.random.default_rng(2)
    X3 = np.hstack([MC_X, np.zeros((6, 1))])  # data in the x-y plane of R^3
    W0 = rng.standard_normal((3, 3))
    res = multiclass_w_tilde(X3, MC_Y, 0.5, W0=W0)
    P = np.diag([1.0, 1.0, 0.0])  # projector on span(X)
    kept = np.full((3, 3), 1.0 / 3) @ W0 @ P + W0 @ (np.eye(3) - P)
    np.testing.assert_allclose(res.from_init, kept, atol=1e-14)  # a few roundings of O(1) numbers
    ref = multiclass_w_tilde(MC_X, MC_Y, 0.5)
    # the same SVM solved twice (padded by a zero column): multipliers agree to ~1e-12
    np.testing.assert_allclose(res.determined[:, :2], ref.determined, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.determined[:, 2], 0.0, atol=1e-14)
    # and the invariants hold along real GD steps: 200 steps of the mean CE gradient from W0
    W = W0.copy()
    Y = np.eye(3)[MC_Y]
    for _ in range(200):
        Z = X3 @ W.T
        S = np.exp(Z - Z.max(axis=1, keepdims=True))
        S /= S.sum(axis=1, keepdims=True)
        W -= 0.5 * (S - Y).T @ X3 / len(MC_Y)
    moved = W - kept
    # GD moves only the centred, in-span part: rounding of 200 steps of O(1) updates
    np.testing.assert_allclose(moved.sum(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(moved[:, 2], 0.0, atol=1e-12)


def test_multiclass_w_tilde_matches_gd():
    lr = 0.5
    res = multiclass_w_tilde(MC_X, MC_Y, lr)
    assert res.w_tilde.shape == (3, 2)
    assert res.equation_residual < 1e-12
    Y = np.eye(3)[MC_Y]
    W = np.zeros((3, 2))
    cps = (10**3, 10**4, 10**5)
    err = []
    for t in range(1, 10**5 + 1):
        L = MC_X @ W.T
        L -= L.max(axis=1, keepdims=True)
        p = np.exp(L)
        p /= p.sum(axis=1, keepdims=True)
        W -= lr * (p - Y).T @ MC_X  # summed cross-entropy
        if t in cps:
            err.append(np.linalg.norm(W - res.w_hat * np.log(t) - res.w_tilde))
    assert err[0] > err[1] > err[2]
    si, sk = res.support.T
    gens = np.zeros((si.size, 3, 2))
    gens[np.arange(si.size), MC_Y[si]] += MC_X[si]
    gens[np.arange(si.size), sk] -= MC_X[si]
    lam = _linearised_rate(gens.reshape(si.size, -1), res.alpha[si, sk])  # 0.78
    slope = np.log10(err[1] / err[2])  # measured 0.74
    assert abs(slope - lam) < 0.15 * lam, (slope, lam)
    assert err[2] < 0.01 * np.linalg.norm(res.w_tilde)  # measured 0.6e-2 / 4.6 ~ 1.3e-3


def test_w_tilde_assumption_failures():
    # a single support vector in R^2 does not span the data: the orthogonal part is
    # trajectory-dependent, so the function refuses
    X = np.array([[1.0, 0.0], [2.0, 3.0]])
    with pytest.raises(ValueError, match="span"):
        binary_w_tilde(X, [1, 1], 0.1)
    with pytest.raises(ValueError, match="lr"):
        binary_w_tilde(BIN_X, BIN_Y, -0.1)
    with pytest.raises(ValueError, match="w0"):
        binary_w_tilde(BIN_X, BIN_Y, 0.1, w0=np.zeros(3))
    with pytest.raises(ValueError, match="W0"):
        multiclass_w_tilde(MC_X, MC_Y, 0.1, W0=np.zeros((2, 2)))


def test_generators_and_predictions_bad_input():
    from theory.maxmargin import constraint_generators, soudry_predictions

    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"-1 or \+1"):
        constraint_generators(X, np.array([0, 1]), None)
    with pytest.raises(ValueError, match=r"class labels must be in 0..K-1 = 0..1"):
        constraint_generators(X, np.array([0, 2]), 2)
    with pytest.raises(TypeError, match="X must be real"):
        constraint_generators(X * 1j, np.array([1, -1]), None)
    G, i, k = constraint_generators(X, np.array([0, 1]), 2)
    assert G.shape == (2, 4) and i.tolist() == [0, 1] and k.tolist() == [1, 0]
    svm = multiclass_svm(X, [0, 1], 2)
    a = svm.alpha[i, k]
    with pytest.raises(ValueError, match="lr_eff must be a finite number > 0"):
        soudry_predictions(G, a, svm.W, svm.W, 0.0)
    with pytest.raises(ValueError, match=r"alpha must have shape \(2,\)"):
        soudry_predictions(G, a[:1], svm.W, svm.W, 1.0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        soudry_predictions(G, -a, svm.W, svm.W, 1.0)
    with pytest.raises(ValueError, match="W_tilde must be finite"):
        soudry_predictions(G, a, svm.W, svm.W * np.nan, 1.0)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        binary_w_tilde(X, [1, -1], -1.0)


# --------------------------------------------------------------------------------------
# Soudry et al.'s constants: limits of the expansion W_k = W_hat log k + W_tilde
# --------------------------------------------------------------------------------------
@pytest.mark.seeds(3)
def test_soudry_constants_are_the_limits_of_the_expansion(rng):
    """Two-sided: each constant of soudry_predictions equals the quantity it names, evaluated by
    its definition on w_k = w_hat t + w_tilde at t = log k = 1e4 (no GD, so only the O(1/t)
    next term of the expansion separates the two). The definitions are computed directly (the
    mean exponential loss, the normalised direction, 1 - cos, the min normalised margin, the
    norm), not through the closed forms under test."""
    from theory.margin import NotSeparableError
    from theory.maxmargin import soudry_predictions

    n, d, lr_eff, t = 8, 3, 0.7, 1e4
    y = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    # draw until the theorem's hypotheses hold (support vectors span the data, so w_tilde exists;
    # non-support margins theta - 1 > 50 / t, so their loss terms e^{-(theta-1) t} < e^-50)
    for _ in range(100):
        X = rng.normal(size=(n, d)) + 2.0 * y[:, None] * rng.normal(size=d)  # separable for most draws
        try:
            svm = binary_svm(X, y)
        except NotSeparableError:
            continue
        G = y[:, None] * X
        theta = np.min((G @ svm.w)[svm.alpha <= 1e-9 * svm.alpha.max()], initial=np.inf)
        if (theta - 1) * t <= 50 or len(svm.support_vectors) < d:
            continue
        break
    else:  # pragma: no cover - most draws qualify
        pytest.fail("no draw met the hypotheses")
    wt = binary_w_tilde(X, y, lr_eff / n)  # mean-loss step lr_eff = summed-loss step lr_eff / n
    pred = soudry_predictions(G, svm.alpha, svm.w, wt.w_tilde, lr_eff)
    w_hat, w_t = svm.w, wt.w_tilde
    nw = np.linalg.norm(w_hat)
    # the O(1/t) next terms carry coefficients ~ (|w_tilde| / |w_hat|)^k, k <= 2; keep them small
    ratio = np.linalg.norm(w_t) / nw
    assert ratio < 10
    rtol = 10 * max(ratio, 1.0) ** 2 / t  # the O(1/t) next term; rounding (~1e-12 here) is far below
    w_k = w_hat * t + w_t
    nk = np.linalg.norm(w_k)
    # k L(w_k) = mean_i exp(t - <g_i, w_k>): non-support terms < e^-50 (drawn so), and
    # |<g_s, w_hat> - 1| ~ 1e-12 (polished KKT point) costs t 1e-12 = 1e-8
    loss_k = np.mean(np.exp(t - G @ w_k))
    assert loss_k == pytest.approx(pred["loss_times_k"], rel=1e-7)
    direction = t * np.linalg.norm(w_k / nk - w_hat / nw)
    assert direction == pytest.approx(pred["direction_times_log_k"], rel=rtol)
    one_minus_cos = t**2 * (1.0 - (w_k @ w_hat) / (nk * nw))  # 1 - cos ~ 1e-8: rounding ~1e-8 relative
    assert one_minus_cos == pytest.approx(pred["one_minus_cos_times_log2_k"], rel=rtol)
    gap = t * (1.0 / nw - np.min(G @ w_k) / nk)
    assert gap == pytest.approx(pred["margin_gap_times_log_k"], rel=rtol)
    assert nk - nw * t == pytest.approx(pred["norm_offset"], rel=rtol, abs=rtol * nw)
    # the constants are not degenerate for these data (so the checks above can fail)
    assert pred["direction_times_log_k"] > 1e-3 and pred["margin_gap_times_log_k"] > 1e-3
