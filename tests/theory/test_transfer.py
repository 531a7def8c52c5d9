"""Tests for theory.transfer: instances, closed-form learners, exact risks, limits, bounds.

References are independent of the code under test: sympy derivations (stationarity /
KKT conditions on the simplex, the expected missing mass by enumerating all samples),
brute-force enumeration of every count matrix weighted by its multinomial probability,
exact rational arithmetic, 50-digit mpmath, and the printed numbers of the checks T.k
(paper, appendix 'Checks') at their printed precision.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import transfer as T


# ----------------------------------------------------------------------------- helpers
def all_count_matrices(instance: T.Instance, n: int):
    """Every count matrix of total n on the positive cells, with its multinomial pmf.

    Returns counts (N, S, A) int and probabilities (N,), computed with lgamma in log
    space; the probabilities sum to 1.
    """
    joint = instance.joint.ravel()
    cells = np.flatnonzero(joint > 0)
    k = cells.size
    rows, logp = [], []
    # compositions of n into k parts via stars and bars
    for bars in itertools.combinations(range(n + k - 1), k - 1):
        parts = np.diff(np.concatenate([[-1], bars, [n + k - 1]])) - 1
        rows.append(parts)
        lp = math.lgamma(n + 1) - sum(math.lgamma(c + 1) for c in parts)
        lp += sum(c * math.log(joint[cell]) for c, cell in zip(parts, cells) if c)
        logp.append(lp)
    parts = np.array(rows)
    counts = np.zeros((parts.shape[0], instance.S * instance.A), dtype=np.int64)
    counts[:, cells] = parts
    return counts.reshape(-1, instance.S, instance.A), np.exp(np.array(logp))


def brute_force_risk(instance: T.Instance, learner: str, n: int) -> float:
    counts, prob = all_count_matrices(instance, n)
    assert abs(prob.sum() - 1.0) < 1e-12  # the enumeration is complete
    pi_hat = T.estimate(learner, counts, instance.pi_star)
    return float(prob @ T.tv_risk(pi_hat, instance.pi_star, instance.rho))


@st.composite
def instances_and_counts(draw, max_s=4, max_a=5, max_count=6):
    """A random instance (with zero entries) and a count matrix consistent with it."""
    S = draw(st.integers(1, max_s))
    A = draw(st.integers(1, max_a))
    weight = st.one_of(st.just(0.0), st.floats(0.01, 1.0))
    W = np.array(draw(st.lists(st.lists(weight, min_size=A, max_size=A), min_size=S, max_size=S)))
    W[W.sum(axis=1) == 0, 0] = 1.0
    r = np.array(draw(st.lists(st.floats(0.0, 1.0), min_size=S, max_size=S)))
    if r.sum() == 0:
        r[0] = 1.0
    inst = T.Instance(r / r.sum(), W / W.sum(axis=1, keepdims=True))
    C = np.array(
        draw(st.lists(st.lists(st.integers(0, max_count), min_size=A, max_size=A), min_size=S, max_size=S))
    )
    C[inst.pi_star == 0] = 0
    return inst, C


# ----------------------------------------------------------------------------- Instance
def test_instance_is_frozen_validated_and_hashable():
    inst = T.Instance([0.25, 0.75], [[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    assert (inst.S, inst.A) == (2, 3)
    assert inst.rho.dtype == np.float64 and not inst.rho.flags.writeable
    assert inst == T.Instance(np.array([0.25, 0.75]), np.array([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]]))
    assert hash(inst) == hash(T.Instance([0.25, 0.75], [[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]]))
    assert inst != T.Instance([0.75, 0.25], [[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]])
    np.testing.assert_allclose(inst.joint.sum(), 1.0, rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "rho, pi_star, match",
    [
        ([0.5, 0.5], [[0.5, 0.5], [0.5, 0.4]], r"row 1 sums to 0\.9"),
        ([0.5, 0.5], [[1.2, -0.2], [0.5, 0.5]], r"pi_star must be nonnegative.*pi_star\[0, 1\] = -0\.2"),
        ([0.6, 0.6], [[0.5, 0.5], [0.5, 0.5]], r"rho must sum to 1"),
        ([1.5, -0.5], [[0.5, 0.5], [0.5, 0.5]], r"rho must be nonnegative"),
        ([0.5, 0.5], [0.5, 0.5], r"pi_star must have shape \(S, A\)"),
        ([[0.5, 0.5]], [[0.5, 0.5]], r"rho must have shape \(S,\)"),
        ([1.0], [[0.5, 0.5], [0.5, 0.5]], r"pi_star must have one row per input"),
        ([0.5, 0.5], [[np.nan, 1.0], [0.5, 0.5]], r"pi_star must be finite"),
    ],
)
def test_instance_rejects_bad_input(rho, pi_star, match):
    with pytest.raises(ValueError, match=match):
        T.Instance(rho, pi_star)


def test_instance_rejects_non_numeric():
    with pytest.raises(TypeError, match="rho must be a real numeric array"):
        T.Instance(["a", "b"], [[1.0], [1.0]])


def test_instance0_matches_spec():
    inst = T.instance0(100, 25)
    np.testing.assert_allclose(inst.rho, 1 / 100)
    # check T.1: 0.52 on one label and 0.02 on each of the others
    heavy = inst.pi_star[np.arange(100), np.arange(100) % 25]
    np.testing.assert_allclose(heavy, 0.52, rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.sort(inst.pi_star, axis=1)[:, :-1], 0.02, rtol=0, atol=1e-15)


@pytest.mark.parametrize("S, A, n", [(10, 10, 10**4), (3, 7, 100), (2, 4, 2)])
def test_instance1_matches_spec(S, A, n):
    inst = T.instance1(S, A, n)
    Ae = A - A % 2
    delta = math.sqrt(S * Ae / n) / 4
    np.testing.assert_allclose(inst.pi_star[:, 0:Ae:2], (1 + delta) / Ae, rtol=1e-15)
    np.testing.assert_allclose(inst.pi_star[:, 1:Ae:2], (1 - delta) / Ae, rtol=1e-15, atol=1e-17)
    if A % 2:
        assert np.all(inst.pi_star[:, -1] == 0)  # odd A: the last label gets mass 0
    np.testing.assert_allclose(inst.rho, 1 / S)


def test_instance2_and_3_match_spec():
    S, A, n = 10, 11, 1000
    i2, i3 = T.instance2(S, A, n), T.instance3(S, A, n)
    row = np.zeros(A)
    row[[0, 2, 4, 6, 8]] = S / (n + 1)
    row[10] = 1 - S * 5 / (n + 1)
    np.testing.assert_allclose(i2.pi_star, np.tile(row, (S, 1)), rtol=1e-15)
    np.testing.assert_allclose(i2.rho, 1 / S)
    # Instance 3 uses Instance 2's teacher (the paper's "Instance 3" is a slip)
    np.testing.assert_array_equal(i3.pi_star, i2.pi_star)
    # C.4 corrected: the heavy input gets 1 - (S-1)/(n+1)
    np.testing.assert_allclose(i3.rho[:-1], 1 / (n + 1), rtol=1e-15)
    np.testing.assert_allclose(i3.rho[-1], 1 - (S - 1) / (n + 1), rtol=1e-15)
    # even A: label A gets mass 0 and A-1 plays its role
    i2e = T.instance2(4, 6, 20)
    np.testing.assert_allclose(i2e.pi_star[0], [4 / 21, 0, 4 / 21, 0, 1 - 8 / 21, 0], rtol=1e-15)


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: T.instance1(100, 100, 624), ValueError, r"n >= S\*A'/16 = 625"),
        (lambda: T.instance1(10, 1, 100), ValueError, r"A must be an integer >= 2"),
        (lambda: T.instance2(50, 51, 1248), ValueError, r"n \+ 1 >= S\*\(A'-1\)/2 = 1250"),
        (lambda: T.instance3(10, 11, 48), ValueError, r"instance3 needs n \+ 1 >= S\*\(A'-1\)/2 = 50"),
        (lambda: T.instance2(10, 2, 100), ValueError, r"A must be an integer >= 3"),
        (lambda: T.instance0(0, 3), ValueError, r"S must be an integer >= 1"),
        (lambda: T.instance1(10, 10, 0), ValueError, r"n must be an integer >= 1"),
        (lambda: T.instance1(10, 10, 1e4), TypeError, r"n must be an integer"),
        (lambda: T.instance0(True, 3), TypeError, r"S must be an integer"),
    ],
)
def test_constructor_preconditions(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_constructor_boundary_cases_are_valid():
    # n = SA/16 gives Delta = 1: the even labels get exactly 0
    inst = T.instance1(100, 100, 625)
    assert inst.pi_star[:, 1::2].max() == 0.0
    # n + 1 = SK gives a heavy label of mass exactly 0
    assert T.instance2(50, 51, 1249).pi_star[:, 50].max() == 0.0


# ----------------------------------------------------------------------------- learners
def test_estimate_hand_example():
    pi_star = np.array([[0.5, 0.3, 0.2, 0.0], [0.25, 0.25, 0.25, 0.25]])
    counts = np.array([[2, 1, 0, 0], [0, 0, 0, 0]])
    u = np.full(4, 0.25)
    expected = {
        "ce_sgl": [[2 / 3, 1 / 3, 0, 0], u],
        "ce_ptl": [[1.0 / 1.3, 0.3 / 1.3, 0, 0], u],
        # leftover 0.2 spread over the two unseen labels
        "sel_ptl": [[0.5, 0.3, 0.1, 0.1], u],
        "ce_ful": [pi_star[0], u],
    }
    for learner, rows in expected.items():
        np.testing.assert_allclose(T.estimate(learner, counts, pi_star), np.array(rows), rtol=1e-15, atol=1e-16)


def test_estimate_batch_matches_single():
    inst = T.instance0(3, 4)
    rng = np.random.default_rng(0)
    counts = rng.multinomial(7, inst.joint.ravel(), size=5).reshape(5, 3, 4)
    for learner in T.LEARNERS:
        batch = T.estimate(learner, counts, inst.pi_star)
        single = np.stack([T.estimate(learner, c, inst.pi_star) for c in counts])
        np.testing.assert_array_equal(batch, single)
        risks = T.tv_risk(batch, inst.pi_star, inst.rho)
        assert risks.shape == (5,)
        # batched matmul vs a single dot: summation order differs by a few ulps
        np.testing.assert_allclose(
            risks, [T.tv_risk(p, inst.pi_star, inst.rho) for p in single], rtol=0, atol=1e-15
        )


@pytest.mark.parametrize(
    "learner, counts, pi_star, exc, match",
    [
        ("mle", [[1, 0]], [[0.5, 0.5]], ValueError, r"learner must be one of \('ce_sgl', 'ce_ptl', 'sel_ptl', 'ce_ful'\)"),
        ("ce_sgl", [[1, -1]], [[0.5, 0.5]], ValueError, r"counts must be nonnegative; counts\[\(0, 1\)\] = -1"),
        ("ce_sgl", [[1, 0, 0]], [[0.5, 0.5]], ValueError, r"counts must have shape \(S, A\) = \(1, 2\)"),
        ("ce_sgl", [1, 0], [[0.5, 0.5]], ValueError, r"counts must have shape"),
        ("ce_sgl", [[1.5, 0]], [[0.5, 0.5]], ValueError, r"counts must hold nonnegative integers"),
        ("ce_ptl", [[1, 1]], [[1.0, 0.0]], ValueError, r"pi_star\[0, 1\] = 0"),
        ("ce_ful", [[1, 1]], [[0.6, 0.6]], ValueError, r"row 0 sums to 1\.2"),
        ("sel_ptl", [[1, 1]], [[1.1, -0.1]], ValueError, r"pi_star must be nonnegative"),
        ("ce_sgl", [["a", "b"]], [[0.5, 0.5]], TypeError, r"counts must be an integer array"),
    ],
)
def test_estimate_rejects_bad_input(learner, counts, pi_star, exc, match):
    with pytest.raises(exc, match=match):
        T.estimate(learner, counts, pi_star)


def test_tv_risk_rejects_bad_input():
    pi = [[0.5, 0.5]]
    with pytest.raises(ValueError, match=r"pi_hat must have shape \(S, A\) = \(1, 2\)"):
        T.tv_risk([[1.0, 0.0, 0.0]], pi, [1.0])
    with pytest.raises(ValueError, match=r"pi_star must have shape \(S, A\) with S = len\(rho\) = 2"):
        T.tv_risk([[1.0, 0.0]], pi, [0.5, 0.5])
    with pytest.raises(ValueError, match="rho must sum to 1"):
        T.tv_risk([[1.0, 0.0]], pi, [0.5])


def test_ce_ptl_stationarity_sympy():
    """Lagrangian of -sum_a w_a log pi_a on the simplex (w_a = n_a pi*_a) gives w / sum(w)."""
    A = 3
    pis = sympy.symbols("pi1:%d" % (A + 1), positive=True)
    w = sympy.symbols("w1:%d" % (A + 1), positive=True)
    lam = sympy.Symbol("lam")
    objective = -sum(wa * sympy.log(pa) for wa, pa in zip(w, pis))
    lagrangian = objective + lam * (sum(pis) - 1)
    eqs = [sympy.diff(lagrangian, pa) for pa in pis] + [sum(pis) - 1]
    (sol,) = sympy.solve(eqs, [*pis, lam], dict=True)
    for wa, pa in zip(w, pis):
        assert sympy.simplify(sol[pa] - wa / sum(w)) == 0
    # the closed form at numbers, all labels seen
    counts = np.array([[3, 1, 2]])
    pi_star = np.array([[0.2, 0.5, 0.3]])
    subs = {wa: sympy.Rational(int(c)) * sympy.Rational(str(p)) for wa, c, p in zip(w, counts[0], pi_star[0])}
    want = [float(sol[pa].subs(subs)) for pa in pis]
    np.testing.assert_allclose(T.estimate("ce_ptl", counts, pi_star)[0], want, rtol=1e-14)
    # a label with n_a = 0 (w_3 = 0): KKT with multiplier mu_3 for pi_3 >= 0.
    # Stationarity -w_a/pi_a + lam - mu_a = 0 at the closed form (pi_3 = 0) gives
    # lam = w1 + w2 from the seen labels and mu_3 = lam > 0: dual feasible, and
    # complementary slackness mu_3 * pi_3 = 0 holds.
    cand = {pis[0]: w[0] / (w[0] + w[1]), pis[1]: w[1] / (w[0] + w[1])}
    obj2 = -(w[0] * sympy.log(pis[0]) + w[1] * sympy.log(pis[1]))
    lam_val = sympy.simplify(-sympy.diff(obj2, pis[0]).subs(cand))
    assert sympy.simplify(lam_val + sympy.diff(obj2, pis[1]).subs(cand)) == 0
    mu3 = lam_val - 0  # d objective / d pi_3 = 0 since w_3 = 0
    assert sympy.simplify(mu3 - (w[0] + w[1])) == 0 and mu3.is_positive
    got = T.estimate("ce_ptl", np.array([[3, 1, 0]]), pi_star)[0]
    np.testing.assert_allclose(got, [0.6 / 1.1, 0.5 / 1.1, 0.0], rtol=1e-14)


def test_sel_ptl_stationarity_sympy():
    """Stationary points of sum_a n_a/2 (log pi_a - log pi*_a)^2 on the simplex.

    With an unseen label (n_3 = 0, pi_3 > 0) its stationarity equation forces
    lam = 0, then the seen labels satisfy n_a log(pi_a/pi*_a)/pi_a = 0, i.e.
    pi_a = pi*_a, and the constraint gives pi_3 the leftover mass; the objective
    is 0 there, its global minimum.
    """
    pis = sympy.symbols("pi1:4", positive=True)
    p = sympy.symbols("p1:4", positive=True)
    n1, n2 = sympy.symbols("n1 n2", positive=True)
    lam = sympy.Symbol("lam")
    objective = n1 / 2 * (sympy.log(pis[0]) - sympy.log(p[0])) ** 2 + n2 / 2 * (
        sympy.log(pis[1]) - sympy.log(p[1])
    ) ** 2
    lagrangian = objective + lam * (sum(pis) - 1)
    grads = [sympy.diff(lagrangian, pa) for pa in pis]
    assert grads[2] == lam  # unseen label: stationarity is lam = 0
    seen_eqs = [g.subs(lam, 0) for g in grads[:2]]
    sol0 = sympy.solve(seen_eqs[0], pis[0])
    sol1 = sympy.solve(seen_eqs[1], pis[1])
    assert sol0 == [p[0]] and sol1 == [p[1]]
    pi3 = sympy.solve(sum(pis) - 1, pis[2])[0].subs({pis[0]: p[0], pis[1]: p[1]})
    assert sympy.simplify(pi3 - (1 - p[0] - p[1])) == 0
    assert sympy.simplify(objective.subs({pis[0]: p[0], pis[1]: p[1]})) == 0
    # the closed form matches, and with two unseen labels it lies in the solution set
    # {pi_seen = pi*_seen, sum(pi_unseen) = leftover}: the uniform split
    pi_star = np.array([[0.2, 0.5, 0.3]])
    np.testing.assert_allclose(T.estimate("sel_ptl", np.array([[4, 1, 0]]), pi_star)[0], [0.2, 0.5, 0.3], rtol=1e-15)
    pi_star4 = np.array([[0.2, 0.5, 0.1, 0.2]])
    got = T.estimate("sel_ptl", np.array([[4, 1, 0, 0]]), pi_star4)[0]
    np.testing.assert_allclose(got, [0.2, 0.5, 0.15, 0.15], rtol=1e-15)


def test_partial_ce_limit_toy_case():
    """Check T.1 toy case, with the limit recomputed in exact rationals."""
    p = [Fraction(6, 10), Fraction(3, 10), Fraction(1, 10)]
    sq = [x * x for x in p]
    want = [x / sum(sq) for x in sq]
    want_tv = sum(abs(a - b) for a, b in zip(want, p)) / 2
    got = T.partial_ce_limit([0.6, 0.3, 0.1])
    np.testing.assert_allclose(got, [float(x) for x in want], rtol=1e-15)
    # the toy check prints (0.7826, 0.1957, 0.0217) and TV 0.1826: 4 decimals
    np.testing.assert_allclose(got, [0.7826, 0.1957, 0.0217], rtol=0, atol=1e-4)
    tv = T.ce_ptl_limit_risk(T.Instance([1.0], [[0.6, 0.3, 0.1]]))
    assert abs(tv - float(want_tv)) < 1e-15
    assert abs(tv - 0.1826) < 1e-4


def test_partial_ce_limit_fixed_points_are_uniform_and_dirac():
    # paper, Sec. 'Knowledge transfer over finite domains': ce_ptl is consistent only for Uniform or Dirac teacher rows
    pi = np.array([[0.25] * 4, [0, 1.0, 0, 0], [0, 0.5, 0.5, 0], [0.4, 0.3, 0.2, 0.1]])
    lim = T.partial_ce_limit(pi)
    np.testing.assert_allclose(lim[:3], pi[:3], rtol=1e-15)
    assert 0.5 * np.abs(lim[3] - pi[3]).sum() > 0.1
    # squaring shrinks the small probabilities and inflates the large one
    assert lim[3, 0] > pi[3, 0] and lim[3, 3] < pi[3, 3]


@settings(max_examples=60, deadline=None)
@given(instances_and_counts())
def test_estimates_are_distributions_and_respect_risk_bounds(data):
    inst, counts = data
    n_s = counts.sum(axis=1)
    for learner in T.LEARNERS:
        est = T.estimate(learner, counts, inst.pi_star)
        assert np.all(est >= 0)
        np.testing.assert_allclose(est.sum(axis=1), 1.0, rtol=0, atol=1e-12)
        # every learner depends on counts only through frequencies or support
        np.testing.assert_allclose(T.estimate(learner, 3 * counts, inst.pi_star), est, rtol=1e-13, atol=1e-15)
    # ce_ful is exact at seen inputs: risk <= realised input missing mass (Thm 5.2)
    ful = T.tv_risk(T.estimate("ce_ful", counts, inst.pi_star), inst.pi_star, inst.rho)
    assert ful <= inst.rho[n_s == 0].sum() + 1e-15
    # sel_ptl at a seen input errs only on unseen labels: TV <= their mass (Thm 4.4 proof)
    sel = T.estimate("sel_ptl", counts, inst.pi_star)
    for s in np.flatnonzero(n_s > 0):
        tv = 0.5 * np.abs(sel[s] - inst.pi_star[s]).sum()
        assert tv <= inst.pi_star[s][counts[s] == 0].sum() + 1e-15


# ----------------------------------------------------------------------------- exact risks
def test_expected_missing_mass_sympy():
    """E m0 = sum_s rho_s (1-rho_s)^n, derived by summing over all S^n samples (S=3, n=3)."""
    r1, r2 = sympy.symbols("r1 r2", positive=True)
    t = sympy.symbols("t1:4", positive=True)
    rho = [r1, r2, 1 - r1 - r2]
    n = 3
    missing = 0
    risk = 0
    for seq in itertools.product(range(3), repeat=n):
        prob = sympy.Mul(*[rho[s] for s in seq])
        missing += prob * sum(rho[s] for s in range(3) if s not in seq)
        risk += prob * sum(rho[s] * t[s] for s in range(3) if s not in seq)
    closed = sum(r * (1 - r) ** n for r in rho)
    assert sympy.expand(missing - closed) == 0
    assert sympy.expand(risk - sum(r * tt * (1 - r) ** n for r, tt in zip(rho, t))) == 0
    vals = {r1: sympy.Rational(1, 5), r2: sympy.Rational(3, 10)}
    got = T.expected_missing_mass([0.2, 0.3, 0.5], n)
    assert abs(got - float(missing.subs(vals))) < 1e-15
    # and the ce_ful risk is the same sum weighted by TV(Uniform, pi*_s)
    inst = T.Instance([0.2, 0.3, 0.5], [[1.0, 0.0], [0.5, 0.5], [0.9, 0.1]])
    tvals = {t[0]: sympy.Rational(1, 2), t[1]: 0, t[2]: sympy.Rational(2, 5)}
    assert abs(T.expected_risk_ce_ful(inst, n) - float(risk.subs({**vals, **tvals}))) < 1e-15


def test_expected_missing_mass_is_stable_for_tiny_rho():
    rho = np.array([1e-12, 1 - 1e-12])
    n = 10**6
    # (1 - 1e-12)^1e6 = exp(-1e-6 - 5e-19 ...): first-order expansion, error ~1e-24
    want = 1e-12 * (1 - 1e-6 + 5e-13)
    assert abs(T.expected_missing_mass(rho, n) - want) < 1e-22
    assert T.expected_missing_mass([1.0], 5) == 0.0
    assert T.expected_missing_mass([1.0], 0) == 1.0


@pytest.mark.parametrize(
    "inst, n",
    [(T.instance0(2, 3), 4), (T.Instance([0.1, 0.3, 0.6], [[0.7, 0.3], [0.5, 0.5], [1.0, 0.0]]), 5), (T.instance3(2, 3, 3), 3)],
)
def test_expected_risk_ce_ful_matches_enumeration(inst, n):
    assert abs(T.expected_risk_ce_ful(inst, n) - brute_force_risk(inst, "ce_ful", n)) < 1e-14


ENUMERATED = [
    (T.instance0(1, 3), 6),
    (T.instance0(2, 3), 5),
    (T.instance0(2, 4), 4),
    (T.instance0(3, 2), 4),
    (T.instance0(1, 5), 7),
    (T.instance0(1, 1), 3),
    (T.instance2(2, 5, 5), 5),
    (T.instance2(1, 5, 1), 1),  # n + 1 = SK: heavy label of mass 0
    (T.instance3(3, 4, 3), 4),
    (T.Instance([0.1, 0.9], [[0.2, 0.2, 0.6, 0.0], [0.5, 0.5, 0.0, 0.0]]), 5),
    (T.Instance([0.2, 0.3, 0.5], [[0.1, 0.1, 0.1, 0.7], [0.0, 1.0, 0.0, 0.0], [0.6, 0.2, 0.2, 0.0]]), 4),
]
GENERAL = [
    (T.instance1(2, 4, 1), 5),
    (T.instance1(1, 5, 2), 6),
    (T.Instance([0.2, 0.3, 0.5], [[0.1, 0.1, 0.1, 0.7], [0.0, 1.0, 0.0, 0.0], [0.6, 0.1, 0.1, 0.2]]), 4),
]


@pytest.mark.parametrize("inst, n", ENUMERATED)
def test_expected_risk_ce_ptl_matches_enumeration(inst, n):
    assert abs(T.expected_risk_ce_ptl(inst, n) - brute_force_risk(inst, "ce_ptl", n)) < 1e-13


@pytest.mark.parametrize("inst, n", ENUMERATED + GENERAL)
def test_expected_risk_ce_sgl_matches_enumeration(inst, n):
    assert abs(T.expected_risk_ce_sgl(inst, n) - brute_force_risk(inst, "ce_sgl", n)) < 1e-13


@pytest.mark.parametrize("r", [0.1, 1 / 3, 0.5, 0.9, 1e-3, 0.999])
def test_expected_risk_ce_sgl_one_input_is_the_binomial_mean_absolute_deviation(r):
    # one input (rho = 1, so n_s = n) and two labels: the risk is E|Bin(n, r) - n r| / n
    inst = T.Instance([1.0], [[r, 1.0 - r]])
    # small n: the definition sum_k |k - n r| pmf(k), at 40 digits
    for n in (1, 2, 7, 30, 137):
        with mpmath.workdps(40):
            rr = mpmath.mpf(r)
            want = sum(abs(k - n * rr) * mpmath.binomial(n, k) * rr**k * (1 - rr) ** (n - k)
                       for k in range(n + 1)) / n
        got = T.expected_risk_ce_sgl(inst, n)
        assert abs(got - want) <= 1e-13 * want  # measured <= 2e-15: one pmf, no cancellation
    # large n (1e6 .. 1e11): de Moivre's closed form, 2 nu (1 - r) pmf(nu; n, r) with
    # nu = floor(n r) + 1, at 40 digits (the package's pmf is its only floating-point step;
    # measured <= 1.5e-15, where the former CDF form was off by 1e-11 at 1e6 and 4e-9 at 1e8)
    for n in (10**6 + 3, 10**8 + 17, 10**11 + 5):
        with mpmath.workdps(40):
            rr = mpmath.mpf(r)
            nu = int(mpmath.floor(n * rr)) + 1
            want = 2 * nu * (1 - rr) * mpmath.exp(mpmath.loggamma(n + 1) - mpmath.loggamma(nu + 1)
                                                  - mpmath.loggamma(n - nu + 1) + nu * mpmath.log(rr)
                                                  + (n - nu) * mpmath.log(1 - rr)) / n
        got = T.expected_risk_ce_sgl(inst, n)
        assert abs(got - want) <= 1e-13 * want


def _check_ce_sgl_against_monte_carlo(inst, n, repeats, seed):
    from sims.transfer import simulate_risk

    exact = T.expected_risk_ce_sgl(inst, n)
    est = simulate_risk(inst, "ce_sgl", n, repeats, seed)
    # 4 Monte Carlo standard errors (two-sided false alarm ~6e-5)
    assert abs(est.mean - exact) < 4 * est.stderr, (exact, est.mean, est.stderr)
    return exact


def test_expected_risk_ce_sgl_at_large_n_matches_monte_carlo():
    # n = 1e9: ~2.3e5 terms per label value (the former CDF form took minutes here)
    exact = _check_ce_sgl_against_monte_carlo(T.instance0(10, 10), 10**9, 20_000, 7)
    # two-sided: sqrt(n) * risk sits at its large-n value (3.10219 at n = 1e6 .. 1e12, measured)
    assert abs(exact * math.sqrt(1e9) - 3.1022) < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("kind, args", [("instance0", (10, 10)), ("instance1", (5, 6, 10**12))])
def test_expected_risk_ce_sgl_at_n_1e12_matches_monte_carlo(kind, args):
    _check_ce_sgl_against_monte_carlo(getattr(T, kind)(*args), 10**12, 20_000, 11)


def test_expected_risk_ce_sgl_refuses_with_a_time_estimate():
    with pytest.raises(ValueError, match=r"n = 1000000000000000 would sum about 4\.55e\+08 binomial terms, about \d+ s"):
        T.expected_risk_ce_sgl(T.instance0(10, 10), 10**15)


def test_expected_risk_ce_ptl_rejects_unsupported_rows():
    with pytest.raises(ValueError, match=r"expected_risk_ce_ptl needs every row of pi_star"):
        T.expected_risk_ce_ptl(T.instance1(10, 10, 1000), 1000)


def test_expected_risk_ce_sgl_reproduces_spec_check3():
    # check T.3: normal approximation 0.03785 and reference simulation 0.03791 (its
    # Monte Carlo error is not stated; 1e-4 is ~4 standard errors at 2,000 repeats)
    got = T.expected_risk_ce_sgl(T.instance1(10, 10, 10**4), 10**4)
    assert abs(got - 0.03791) < 1e-4
    assert abs(got - T.mle_risk_normal_approx(10, 10, 1e4)) < 2e-4  # O(1/sqrt(n/S)) correction


@pytest.mark.parametrize("S, A, lo, want", [(10, 10, 2500, -0.501), (100, 100, 2500, -0.495)])
def test_exact_level1_slope_matches_reference(S, A, lo, want):
    """Check T.3 [reference simulation]: slopes over [2.5e3, 1e6], 3 decimals printed."""
    ns = np.unique(np.round(np.logspace(np.log10(lo), 6, 9)).astype(int))
    risks = [T.expected_risk_ce_sgl(T.instance1(S, A, int(n)), int(n)) for n in ns]
    slope = np.polyfit(np.log(ns), np.log(risks), 1)[0]
    assert abs(slope - want) < 2e-3  # 3 printed decimals plus the reference's own MC noise


@pytest.mark.parametrize("S, A, n", [(1, 3, 3), (2, 3, 4), (2, 5, 5), (2, 4, 4), (1, 5, 1), (3, 5, 5), (1, 7, 4)])
def test_expected_risk_sel_ptl_instance2_matches_enumeration(S, A, n):
    # (1, 5, 1) and (3, 5, 5) have n + 1 = SK: the heavy label has mass 0
    want = brute_force_risk(T.instance2(S, A, n), "sel_ptl", n)
    assert abs(T.expected_risk_sel_ptl_instance2(S, A, n) - want) < 1e-13


@pytest.mark.parametrize("S, A, n", [(50, 51, 1249), (50, 51, 10**6), (10, 11, 1000)])
def test_expected_risk_sel_ptl_instance2_float_accuracy(S, A, n):
    """The alternating inclusion-exclusion sum, redone at 50 digits with mpmath."""
    K = (A - 1) // 2 if A % 2 else (A - 2) // 2
    Z0 = A - K - 1
    with mpmath.workdps(50):
        q = mpmath.mpf(S) / (n + 1)
        pH = 1 - K * q

        def G(x):
            return (1 - (1 - x) / S) ** n

        total = mpmath.mpf(0)
        for u in range(K + 1):
            f = (u * q + pH) / (u + Z0 + 1)
            g_miss = (u * abs(f - q) + abs(f - pH) + Z0 * f) / 2
            g_seen = Z0 * u * q / (u + Z0)
            for i in range(K - u + 1):
                c = (-1) ** i * math.comb(K, u) * math.comb(K - u, i)
                total += c * ((G(1 - (u + i) * q) - G((K - u - i) * q)) * g_seen + G((K - u - i) * q) * g_miss)
        row = [q if (j < 2 * K and j % 2 == 0) else 0 for j in range(A)]
        row[2 * K] = pH
        tvu = sum(abs(x - mpmath.mpf(1) / A) for x in row) / 2
        fK = (K * q + pH) / (K + Z0 + 1)
        total += G(0) * (tvu - (K * abs(fK - q) + abs(fK - pH) + Z0 * fK) / 2)
        want = float(total)
    assert abs(T.expected_risk_sel_ptl_instance2(S, A, n) - want) <= 1e-10 * want


# ----------------------------------------------------------------------------- limits
def test_sel_ptl_limit_instance2():
    # check T.5: S K E[U/(U+K)], U ~ Bin(K, 1/e); recomputed with math.comb
    S, A = 10, 11
    K = 5
    e1 = math.exp(-1)
    want = S * K * sum(math.comb(K, u) * e1**u * (1 - e1) ** (K - u) * u / (u + K) for u in range(K + 1))
    assert abs(T.sel_ptl_limit_instance2(S, A) - want) < 1e-13
    # the exact finite-n risk converges to it like 1/n (n E TV - limit = -5.4e-3 at 1e3)
    for n in (10**3, 10**5, 10**7):
        gap = n * T.expected_risk_sel_ptl_instance2(S, A, n) - want
        assert -0.01 * 1e3 / n < gap < 0  # approached from below, O(1/n)
    # check T.7: E[U/(U+K)] -> e^-1/(1+e^-1) ~ 0.269 for large A (rate 1/K)
    A = 2001
    ratio = T.sel_ptl_limit_instance2(S, A) / (S * (A - 1) / 2)
    assert abs(ratio - e1 / (1 + e1)) < 1e-3


def test_ce_ful_limit_instance3():
    S, A = 10, 11
    want = (S - 1) * math.exp(-1) * (1 - 1 / A)
    assert abs(T.ce_ful_limit_instance3(S, A) - want) < 1e-15
    # check T.6: 2.84e-3 at n = 1e3 (printed to 3 digits), n E TV at the limit by 1e6
    assert abs(T.expected_risk_ce_ful(T.instance3(S, A, 1000), 1000) - 2.84e-3) < 0.005e-3
    for n in (10**6, 10**8):
        got = n * T.expected_risk_ce_ful(T.instance3(S, A, n), n)
        # the light-input TV(U, pi*) -> 1 - 1/A at rate S K/n and (1-1/(n+1))^n -> 1/e at rate 1/n
        assert abs(got - want) < 200 / n


def test_ce_ptl_exact_risk_approaches_limit_from_below():
    lim = T.ce_ptl_limit_risk(T.instance0(100, 25))
    # limit = TV(p^2/|p|^2, p) with p = (0.52, 0.02 x 24): heavy 0.2704/0.28 - 0.52
    assert abs(lim - (0.2704 / 0.28 - 0.52)) < 1e-15
    risks = [T.expected_risk_ce_ptl(T.instance0(100, 25), n) for n in (10**3, 10**4, 10**5)]
    assert risks[0] < risks[1] < risks[2] < lim
    # the deficit shrinks like S/n (second-order delta method): ratio ~10 per decade
    gaps = lim - np.array(risks)
    assert 8 < gaps[1] / gaps[2] < 12
    # [ZZ23] Fig. 1(a) (not confirmed in the source): plateau ~0.44
    assert abs(risks[0] - 0.44) < 0.01
    # bandit (1, 100): essentially at the limit by n = 100 (check T.1)
    lim_b = T.ce_ptl_limit_risk(T.instance0(1, 100))
    assert 0 < lim_b - T.expected_risk_ce_ptl(T.instance0(1, 100), 100) < 1e-3 * lim_b


def test_poisson_mean_absolute_deviation_in_ce_sgl_limit():
    # E|P_lam - lam| = 2 lam pmf(lam) for integer lam, checked by direct summation
    S, A = 10, 11
    K = 5

    def mad(lam):
        return math.fsum(abs(k - lam) * math.exp(-lam + k * math.log(lam) - math.lgamma(k + 1)) for k in range(200))

    assert abs(T.ce_sgl_limit_instance2(S, A) - S / 2 * (K * mad(1) + mad(K))) < 1e-12
    assert T.ce_ptl_limit_instance2(S, A) == 50.0  # check T.8: S K


# ----------------------------------------------------------------------------- bounds
def test_bounds_reproduce_spec_numbers():
    # the checks T.k, printed to 3 significant figures
    assert abs(T.lower_bound_level1(10, 10, 1e4) - 3.79e-3) < 0.005e-3  # check 4
    assert abs(T.lower_bound_level2(10, 11, 1e3) - 9.19e-3) < 0.005e-3  # check 5
    assert abs(T.lower_bound_level3(10, 11, 1e3) - 1.65e-3) < 0.005e-3  # check 6
    assert abs(T.upper_bound_mle_hp(10, 10, 1e4, 0.05) - 0.128) < 0.0005  # check 10
    assert abs(T.upper_bound_ce_ful_hp(10, 1e3, 0.1) - 0.0263) < 0.00005  # check 10
    assert abs(T.mle_risk_normal_approx(10, 10, 1e4) - 0.03785) < 0.000005  # check 3
    # the explicit constants, recomputed
    assert T.lower_bound_level1(3, 4, 100) == pytest.approx(math.exp(-0.5) / 16 * math.sqrt(0.12), rel=1e-15)
    assert T.upper_bound_ce_ful_expectation(7, 50) == pytest.approx(28 / 450, rel=1e-15)
    got = T.upper_bound_sel_ptl_hp(5, 9, 1e3, 0.05)
    L = math.log(7 / 0.05)
    want = (4 * 9 / 9 + 3 * math.sqrt(9 * L)) / 1e3 * (60 + 200 / 99 * 5 * math.log(35 / 0.05)) + 20 / 9e3 + 3 * math.sqrt(5) * L / 1e3
    assert got == pytest.approx(want, rel=1e-14)


def test_bounds_vectorise_over_n():
    n = np.array([1e3, 1e4, 1e5])
    np.testing.assert_allclose(T.lower_bound_level1(10, 10, n), [T.lower_bound_level1(10, 10, x) for x in n], rtol=1e-15)
    assert T.upper_bound_mle_expectation(4, 6, n).shape == (3,)


def test_mle_expectation_bound_uses_rho():
    S, A, n = 4, 6, 100
    uniform = T.upper_bound_mle_expectation(S, A, n, rho=np.full(S, 0.25))
    assert uniform == pytest.approx(T.upper_bound_mle_expectation(S, A, n), rel=1e-15)
    # sum sqrt(rho) is maximal at uniform rho
    assert T.upper_bound_mle_expectation(S, A, n, rho=[0.7, 0.1, 0.1, 0.1]) < uniform
    # two-sided: the bound of [ZZ23] (E TV <= sqrt(A/(2n)) sum_s sqrt(rho(s)) + sqrt(S/n)), by hand
    # (uniform rho: sqrt(SA/(2n)) + sqrt(S/n)); a few ulps of float64 arithmetic
    assert uniform == pytest.approx(math.sqrt(24 / 200) + math.sqrt(4 / 100), rel=1e-14)
    rho = [0.7, 0.1, 0.1, 0.1]
    want = math.sqrt(6 / 200) * (math.sqrt(0.7) + 3 * math.sqrt(0.1)) + math.sqrt(4 / 100)
    assert T.upper_bound_mle_expectation(S, A, n, rho=rho) == pytest.approx(want, rel=1e-14)
    with pytest.raises(ValueError, match=r"rho must have shape \(S,\) = \(4,\)"):
        T.upper_bound_mle_expectation(S, A, n, rho=[0.5, 0.5])


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: T.lower_bound_level1(10, 10, 24), r"Thm 3.1 holds only for n >= S\*A/4 = 25"),
        (lambda: T.lower_bound_level1(10, 1, 100), r"Thm 3.1 holds only for A > 1"),
        (lambda: T.lower_bound_level2(10, 11, 48), r"Thm 4.1 holds only for n >= S\*\(A-1\)/2 - 1 = 49"),
        (lambda: T.lower_bound_level2(10, 2, 100), r"Thm 4.1 holds only for A > 2"),
        (lambda: T.lower_bound_level3(10, 11, 9), r"Thm 5.1 holds only for n > S - 1 = 9"),
        (lambda: T.lower_bound_level3(1, 11, 9), r"Thm 5.1 holds only for S > 1 and A > 1"),
        (lambda: T.upper_bound_mle_hp(10, 10, 100, 1.0), r"delta must lie in \(0, 1\)"),
        (lambda: T.upper_bound_ce_ful_hp(10, 100, 0.2), r"delta must lie in \(0, 0.1\]"),
        (lambda: T.upper_bound_sel_ptl_hp(1, 10, 100, 0.05), r"Thm 4.4 \(explicit form\) holds only for \|S\| > 1"),
        (lambda: T.upper_bound_sel_ptl_hp(3, 10, 100, 0.6), r"delta must lie in \(0, 0.5\)"),
        (lambda: T.lower_bound_level1(10, 10, -5), r"n must be positive"),
    ],
)
def test_bounds_reject_out_of_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bounds_strict_false_evaluates_formula():
    assert T.lower_bound_level1(10, 10, 10, strict=False) == pytest.approx(math.exp(-0.5) / 16 * math.sqrt(10), rel=1e-15)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30), st.integers(1, 10**6))
def test_lemma_e5_missing_mass_bound(weights, n):
    w = np.array(weights)
    if w.sum() == 0:
        w[0] = 1.0
    rho = w / w.sum()
    S = rho.size
    # x(1-x)^n <= 1/(e n) <= 4/(9n) (Lemma E.5); relative slack for rounding
    got = T.expected_missing_mass(rho, n)
    assert got <= S / (math.e * n) * (1 + 1e-12)
    assert S / (math.e * n) <= T.upper_bound_ce_ful_expectation(S, n)


@pytest.mark.parametrize("S, A, n", [(2, 2, 2), (10, 11, 1000), (50, 3, 10**4), (5, 100, 7)])
def test_lower_bound_level3_on_its_vertex(S, A, n):
    """Thm 5.1's prior: rho of Instance 3 and a deterministic teacher. ce_ful (Uniform at
    unseen inputs) is Bayes-optimal there (any output at an unseen input has expected TV
    1 - 1/A under the uniform Dirac prior), so its exact risk is at least the constant."""
    rho = np.full(S, 1.0 / (n + 1))
    rho[-1] = 1.0 - (S - 1) / (n + 1)
    dirac = np.zeros((S, A))
    dirac[np.arange(S), np.arange(S) % A] = 1.0
    risk = T.expected_risk_ce_ful(T.Instance(rho, dirac), n)
    assert risk >= T.lower_bound_level3(S, A, n)
    # and it equals sum_s rho(1-rho)^n (1 - 1/A) (TV(Uniform, Dirac) = 1 - 1/A)
    assert risk == pytest.approx(T.expected_missing_mass(rho, n) * (1 - 1 / A), rel=1e-13)


# ------------------------------------------------------------- ranges of existence/validity
def test_instance_exists_is_the_builders_rule():
    """instance_exists(kind, S, A, n) is True exactly when build_instance succeeds."""
    for kind in T.INSTANCE_KINDS:
        for S in (1, 2, 5, 10):
            for A in (1, 2, 3, 4, 5, 10, 11):
                n_min = T.instance_min_n(kind, S, A)
                for n in range(1, 60):
                    try:
                        T.build_instance(kind, S, A, n)
                        built = True
                    except ValueError:
                        built = False
                    assert T.instance_exists(kind, S, A, n) == built, (kind, S, A, n)
                    assert built == (n_min is not None and n >= n_min), (kind, S, A, n, n_min)


def test_instance_min_n_values():
    assert T.instance_min_n("instance1", 10, 10) == 7  # 16 n >= 100
    assert T.instance_min_n("instance1", 10, 11) == 7  # A' = 10 for odd A
    assert T.instance_min_n("instance1", 100, 100) == 625
    assert T.instance_min_n("instance2", 10, 11) == 49  # n + 1 >= 10 * 5
    assert T.instance_min_n("instance3", 50, 51) == 1249
    assert T.instance_min_n("instance2", 10, 12) == 49  # A'' = 11 for even A
    assert T.instance_min_n("instance2", 10, 2) is None and T.instance_min_n("instance1", 3, 1) is None
    assert T.build_instance("instance2", 10, 11, 49) == T.instance2(10, 11, 49)
    assert T.build_instance("instance0", 3, 4) == T.instance0(3, 4)


@pytest.mark.parametrize("level", [1, 2, 3])
def test_lower_bound_holds_is_the_strict_rule(level):
    for S in (1, 2, 10):
        for A in (1, 2, 3, 11):
            for n in (1, 2, 3.5, 8, 9, 10, 24, 25, 48, 49, 50, 1e4):
                try:
                    T.lower_bound(level, S, A, n)
                    ok = True
                except ValueError:
                    ok = False
                assert T.lower_bound_holds(level, S, A, n) == ok, (level, S, A, n)
    n = np.array([8.0, 9.0, 10.0])
    np.testing.assert_array_equal(T.lower_bound_holds(3, 10, 2, n), [False, False, True])  # n > S - 1 = 9
    assert T.lower_bound(2, 10, 11, 1e3) == T.lower_bound_level2(10, 11, 1e3)


@pytest.mark.parametrize(
    "call, exc, msg",
    [
        (lambda: T.instance_exists("instance4", 2, 3, 5), ValueError, "kind must be one of"),
        (lambda: T.instance_exists("instance1", 0, 3, 5), ValueError, r"S must be an integer >= 1, got 0"),
        (lambda: T.instance_exists("instance1", 2, 3, 5.5), TypeError, "n must be an integer"),
        (lambda: T.build_instance("instance1", 2, 3), TypeError, "needs the sample size n"),
        (lambda: T.lower_bound_holds(4, 2, 3, 5), ValueError, r"level must be an integer in \[1, 3\]"),
        (lambda: T.lower_bound_holds(1, 2, 3, np.nan), ValueError, "n must be positive and finite"),
    ],
)
def test_range_helpers_refuse_bad_input(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_package_keeps_every_public_name():
    """theory.transfer became a package: every name importable from the old module still is."""
    before = ["Instance", "LEARNERS", "SUM_TOL", "ce_ful_limit_instance3", "ce_ptl_limit_instance2",
              "ce_ptl_limit_risk", "ce_sgl_limit_instance2", "estimate", "expected_missing_mass",
              "expected_risk_ce_ful", "expected_risk_ce_ptl", "expected_risk_ce_sgl",
              "expected_risk_sel_ptl_instance2", "instance0", "instance1", "instance2", "instance3",
              "lower_bound_level1", "lower_bound_level2", "lower_bound_level3", "mle_risk_normal_approx",
              "partial_ce_limit", "sel_ptl_limit_instance2", "tv_risk", "tv_to_uniform",
              "upper_bound_ce_ful_expectation", "upper_bound_ce_ful_hp", "upper_bound_mle_expectation",
              "upper_bound_mle_hp", "upper_bound_sel_ptl_hp", "xi", "xi_tilde"]
    missing = [name for name in before + list(T.__all__) if not hasattr(T, name)]
    assert not missing, missing
    assert set(before) <= set(T.__all__)
