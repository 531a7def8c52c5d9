"""[JT20] Theorem 2.2 plumbing and the soft/hard neuron orders of [M25] with their crossover."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from theory.ntk import (
    crossover_eps,
    crossover_gamma,
    hard_label_budget,
    hard_label_neurons,
    initial_output_bound,
    jt_width_bound,
    soft_label_neurons,
)


def _rounds_to(x, shown: str) -> bool:
    """``x`` rounds to the table entry ``shown`` (half a unit of its last digit)."""
    mantissa = shown.split("e")[0]
    digits = len(mantissa.replace(".", "").lstrip("0"))
    value = float(shown)
    unit = 10 ** (math.floor(math.log10(value)) - digits + 1)
    return abs(x - value) <= 0.5 * unit


@pytest.mark.parametrize(
    "gamma, eps, lam, width, iters",
    [(0.1, 0.01, "424", "7.36e14", "3.59e7"), (0.2, 0.1, "166", "1.8e12", "5.5e5")],
)
def test_jt_reproduces_the_spec_table(gamma, eps, lam, width, iters):
    # Theorem of [JT20] as implemented, its worked examples and check S.4 (n = 1000, delta = 0.1, eta = 1); each
    # entry must round to the printed digits (half a unit in the last shown digit)
    b = jt_width_bound(gamma, eps, 1000, 0.1)
    assert _rounds_to(b.lam, lam), b.lam
    assert _rounds_to(b.width, width), b.width
    assert _rounds_to(b.iterations, iters), b.iterations
    assert b.probability == pytest.approx(0.7)
    assert b.movement == pytest.approx(4 * b.lam / gamma)


def test_jt_scalings():
    b = jt_width_bound(0.1, 0.01, 1000, 0.1)
    h = jt_width_bound(0.05, 0.01, 1000, 0.1)
    # lambda ~ 1/gamma, M ~ lambda^2/gamma^6 ~ gamma^-8: halving gamma multiplies M by 2^8
    assert h.width / b.width == pytest.approx(256, rel=1e-12)
    # T = ceil(2 lambda^2/(eta eps)) ~ gamma^-2: x4 up to the ceiling (relative 1/T)
    assert h.iterations / b.iterations == pytest.approx(4, rel=2 / b.iterations)
    # eps 0.1 -> 0.01 changes M only by the squared ratio of the log terms
    a = math.sqrt(2 * math.log(4 * 1000 / 0.1))
    e1 = jt_width_bound(0.1, 0.1, 1000, 0.1)
    assert b.width / e1.width == pytest.approx(((a + math.log(400)) / (a + math.log(40))) ** 2, rel=1e-12)
    # eta enters T only
    s = jt_width_bound(0.1, 0.01, 1000, 0.1, eta=0.5)
    assert s.width == b.width and s.iterations == pytest.approx(2 * b.iterations, abs=2)


def test_jt_constants_are_parameters():
    b = jt_width_bound(0.1, 0.01, 1000, 0.1)
    assert jt_width_bound(0.1, 0.01, 1000, 0.1, width_constant=1).width == pytest.approx(b.width / 4096, rel=1e-12)
    c = jt_width_bound(0.1, 0.01, 1000, 0.1, margin_divisor=2)
    assert c.lam == pytest.approx(b.lam / 2, rel=1e-12)
    d = jt_width_bound(0.1, 0.01, 1000, 0.1, init_constant=8, init_log_factor=1, loss_log_factor=1)
    assert d.lam == pytest.approx((math.sqrt(8 * math.log(1000 / 0.1)) + math.log(100)) / 0.025, rel=1e-12)
    assert dict(b.constants)["width_constant"] == 4096.0


def test_finite_width_helpers():
    b = jt_width_bound(0.1, 0.01, 1000, 0.1)
    assert b.movement_bound(10_000) == pytest.approx(4 * b.lam / (0.1 * 100), rel=1e-14)
    assert b.suffices(10 ** 15) and not b.suffices(10 ** 14)
    assert initial_output_bound(1000, 0.1) == pytest.approx(math.sqrt(2 * math.log(40_000)), rel=1e-15)
    with pytest.raises(ValueError, match="width must be an integer >= 1, got 0"):
        b.movement_bound(0)
    with pytest.raises(TypeError, match="width must be an integer"):
        b.suffices(2.5)


@pytest.mark.seeds(2)
def test_initial_output_bound_holds_at_initialisation(rng):
    # check S.3: over many initialisations, P(max_i |f(x_i; W0)| > sqrt(2 ln(4n/delta))) <= delta.
    # f(x; W0) = m^-1/2 sum_s a_s relu(<w_s, x>), w_s ~ N(0, I), a_s = +-1, ||x|| <= 1.
    from theory.ntk import circle_sectors

    n, m, delta, trials = 20, 256, 0.2, 400
    X, _ = circle_sectors(n, 1, rng)
    bound = initial_output_bound(n, delta)
    exceed = 0
    for _ in range(trials):
        W = rng.standard_normal((m, X.shape[1]))
        a = rng.choice([-1.0, 1.0], m)
        f = np.maximum(X @ W.T, 0.0) @ a / np.sqrt(m)
        exceed += np.max(np.abs(f)) > bound
    # an upper bound, so the check is one-sided by nature; binomial slack of 4 standard errors
    assert exceed / trials <= delta + 4 * np.sqrt(delta * (1 - delta) / trials)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(eps=1.0), r"eps must be a finite number in \(0, 1\), got 1.0"),
        (dict(eps=0.0), "eps must be"),
        (dict(gamma=0.0), "gamma must be"),
        (dict(gamma=1.5), "gamma must be"),
        (dict(delta=0.4), "delta must be"),
        (dict(n=0), "n must be an integer >= 1"),
        (dict(eta=2.0), "eta must be"),
        (dict(width_constant=-1.0), "width_constant must be"),
    ],
)
def test_jt_bad_input(kwargs, pattern):
    args = dict(gamma=0.1, eps=0.01, n=100, delta=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=pattern):
        jt_width_bound(args.pop("gamma"), args.pop("eps"), args.pop("n"), args.pop("delta"), **args)


def test_orders_and_their_constants():
    assert soft_label_neurons(0.1, 0.01) == pytest.approx(1 / (0.01 * 0.01))
    assert hard_label_neurons(0.1, 0.01, c_hard=2) == pytest.approx(2 * math.log(100) / 1e-4)
    # broadcasting over a grid
    G, E = np.meshgrid([0.05, 0.1], [0.01, 0.1])
    assert soft_label_neurons(G, E).shape == (2, 2)
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\)"):
        soft_label_neurons(0.1, 1.0)
    with pytest.raises(ValueError, match="c_soft must be"):
        soft_label_neurons(0.1, 0.5, c_soft=0)


CONSTANTS = [(1.0, 1.0), (3.0, 0.5), (0.2, 4.0)]


@pytest.mark.parametrize("c_soft, c_hard", CONSTANTS)
def test_crossover_matches_sympy_solution(c_soft, c_hard):
    g, e, Cs, Ch = sp.symbols("gamma epsilon C_s C_h", positive=True)
    eq = sp.Eq(Cs / (g ** 2 * e), Ch * sp.log(1 / e) / g ** 4)
    (g_sol,) = sp.solve(eq, g)  # sympy: sqrt(C_h eps (-log eps)/C_s)
    (e_sol,) = sp.solve(eq, e)  # sympy: exp(LambertW(-C_s gamma^2/C_h)), the principal branch
    vals = {Cs: c_soft, Ch: c_hard}
    for eps in [1e-6, 1e-3, 0.05, 0.3, 0.9]:
        ref = float(g_sol.subs(vals).subs(e, eps))
        # closed form vs sympy: both double precision evaluations of the same expression
        assert crossover_gamma(eps, c_soft=c_soft, c_hard=c_hard) == pytest.approx(ref, rel=1e-12)
    e_sol_m1 = e_sol.replace(sp.LambertW, lambda x: sp.LambertW(x, -1))
    s_max = math.sqrt(c_hard / c_soft * math.exp(-1))  # largest gamma with a real crossover
    for gam in [1e-3, 0.01, 0.1, 0.5 * s_max, 0.99 * s_max]:
        if gam > 1:
            continue
        for branch, expr in ((0, e_sol), (-1, e_sol_m1)):
            ref = float(sp.N(expr.subs(vals).subs(g, gam), 30))
            mine = crossover_eps(gam, c_soft=c_soft, c_hard=c_hard, branch=branch)
            assert mine == pytest.approx(ref, rel=1e-10)
            # both roots satisfy the equality: the two orders are equal there
            if 0 < mine < 1:
                assert soft_label_neurons(gam, mine, c_soft=c_soft) == pytest.approx(
                    hard_label_neurons(gam, mine, c_hard=c_hard), rel=1e-8)


def test_crossover_regions():
    gam = 0.05
    lo = crossover_eps(gam, branch=-1)
    hi = crossover_eps(gam, branch=0)
    assert 0 < lo < math.exp(-1) < hi < 1
    # soft needs fewer neurons exactly between the roots; hard wins outside (log in 1/eps)
    for eps, soft_wins in [(lo / 10, False), (math.sqrt(lo * hi), True), (0.5 * (hi + 1), False)]:
        assert (soft_label_neurons(gam, eps) < hard_label_neurons(gam, eps)) == soft_wins
    # gamma <= eps < 1/e lies in the soft-wins region (the abstract's condition; paper, soft/hard section)
    for eps in np.geomspace(1e-8, 0.36, 40):
        g = np.geomspace(1e-6, eps, 7)
        assert np.all(soft_label_neurons(g, eps) < hard_label_neurons(g, eps))
    # no crossover when (C_soft/C_hard) gamma^2 > 1/e: NaN, and hard wins everywhere
    assert math.isnan(crossover_eps(0.9))
    assert np.all(soft_label_neurons(0.9, np.geomspace(1e-9, 0.99, 50)) > hard_label_neurons(0.9, np.geomspace(1e-9, 0.99, 50)))
    with pytest.raises(ValueError, match="branch must be 0 or -1"):
        crossover_eps(0.1, branch=1)


def test_hard_label_budget_is_the_normalised_jt_iterations():
    # T_hard = ceil(c_H lambda_bar^2/(eta gamma^2 eps)), lambda_bar = gamma lambda/4 of jt_width_bound (same constants)
    for gamma, eps, n in [(0.2, 0.1, 64), (0.03, 0.01, 64), (0.1, 0.02, 1000)]:
        b = jt_width_bound(gamma, eps, n, 0.1)
        lam_bar = gamma * b.lam / 4
        t = hard_label_budget(gamma, eps, n, 0.1)
        assert t == math.ceil(lam_bar ** 2 / (gamma ** 2 * eps))
        # [JT20]'s own T is c_H = 2 * 4^2 = 32 times this one (up to the two ceilings: relative 1/t)
        assert b.iterations / t == pytest.approx(32, rel=1 / t)
        assert hard_label_budget(gamma, eps, n, 0.1, budget_constant=0.25) == math.ceil(0.25 * lam_bar ** 2
                                                                                         / (gamma ** 2 * eps))
        assert hard_label_budget(gamma, eps, n, 0.1, eta=0.5) == math.ceil(2 * lam_bar ** 2 / (gamma ** 2 * eps))


def test_hard_label_budget_carries_the_log_squared_factor():
    # against the common budget 1/(gamma^2 eps) the ratio is lambda_bar(eps)^2 = (sqrt(2 ln(4n/delta)) + ln(4/eps))^2:
    # two-sided, at the precision of the ceiling (relative 1/T)
    a = math.sqrt(2 * math.log(4 * 64 / 0.1))
    for eps in (0.1, 0.01, 1e-4):
        t = hard_label_budget(0.05, eps, 64, 0.1)
        common = 1 / (0.05 ** 2 * eps)
        assert t / common == pytest.approx((a + math.log(4 / eps)) ** 2, rel=1 / t)
    # eps 0.1 -> 0.01 at fixed gamma: x10 from 1/eps times the squared ratio of the log terms (not x10 alone)
    r = hard_label_budget(0.05, 0.01, 64, 0.1) / hard_label_budget(0.05, 0.1, 64, 0.1)
    expect = 10 * ((a + math.log(400)) / (a + math.log(40))) ** 2
    assert r == pytest.approx(expect, rel=1e-4) and r > 10 * 1.3
    # halving gamma: x4 (lambda ~ 1/gamma)
    assert hard_label_budget(0.025, 0.01, 64, 0.1) / hard_label_budget(0.05, 0.01, 64, 0.1) == pytest.approx(4, rel=1e-5)
