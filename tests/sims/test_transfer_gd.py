"""Tests for sims.transfer_gd: the GD-trained students against plain NumPy updates, resume,
and the predictions of theory.transfer (C/k mass on unobserved labels, SEL_ptl limit, convergence
to the closed forms) on data sets drawn by sims.transfer.sample_counts.
"""

from __future__ import annotations

import numpy as np
import pytest

from sims.transfer import sample_counts
from sims.transfer_gd import policies_from_logits, train_student
from theory import transfer as T
from theory.fitting import loglog_slope

COUNTS = np.array([[5, 1, 0, 0, 2, 0], [0, 0, 0, 0, 0, 0], [1, 2, 3, 1, 1, 4]])
PI_STAR = T.instance0(3, 6).pi_star


def numpy_gd(learner, counts, pi_star, lr, steps, theta0):
    """The tabular GD update written out: logits -= lr * gradient of the weighted-mean loss."""
    theta = theta0.copy()
    n = counts.sum()
    if learner == "sel_ptl":
        w = counts / n
        logp = np.log(np.where(w > 0, pi_star, 1.0))
    else:
        P, pi = T.gd_ntp_weights(learner, counts, pi_star)
    for _ in range(steps):
        z = theta - theta.max(axis=1, keepdims=True)
        q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        if learner == "sel_ptl":
            logq = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
            wr = np.where(w > 0, w * (logq - logp), 0.0)
            g = wr - q * wr.sum(axis=1, keepdims=True)
        else:
            g = pi[:, None] * (q - P)
        theta = theta - lr * g
    return theta


@pytest.mark.parametrize("learner", T.LEARNERS)
def test_gd_equals_numpy_updates_over_1000_steps(learner):
    theta0 = np.random.default_rng(3).standard_normal(PI_STAR.shape)
    traj = train_student(learner, COUNTS, PI_STAR, 1000, 0.9, init_logits=theta0, record=[10, 100])
    ref = numpy_gd(learner, COUNTS, PI_STAR, 0.9, 1000, theta0)
    # the engine works in a reduced basis (dual form here): the same update up to rounding (1e-12)
    np.testing.assert_allclose(traj.final_logits, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(policies_from_logits(traj.final_logits), policies_from_logits(ref), rtol=0, atol=1e-12)
    assert traj.steps.tolist() == [10, 100, 1000]
    np.testing.assert_allclose(policies_from_logits(traj.logits[1]),
                               policies_from_logits(numpy_gd(learner, COUNTS, PI_STAR, 0.9, 100, theta0)), atol=1e-13)


@pytest.mark.parametrize("learner", T.LEARNERS)
def test_resume_is_bitwise(learner):
    theta0 = np.random.default_rng(4).standard_normal(PI_STAR.shape)
    a = train_student(learner, COUNTS, PI_STAR, 600, 1.0, init_logits=theta0, record=[100, 300, 600])
    b = train_student(learner, COUNTS, PI_STAR, 300, 1.0, init_logits=theta0, record=[100, 300]).extend(
        300, record=[600])
    assert np.array_equal(a.final_logits, b.final_logits)
    assert np.array_equal(a.logits, b.logits) and a.steps.tolist() == b.steps.tolist()


def test_unseen_inputs_keep_their_start():
    theta0 = np.random.default_rng(5).standard_normal(PI_STAR.shape)
    for learner in T.LEARNERS:
        traj = train_student(learner, COUNTS, PI_STAR, 50, 1.0, init_logits=theta0, record=1)
        assert np.array_equal(traj.final_logits[1], theta0[1])


@pytest.mark.parametrize("learner", ["ce_sgl", "ce_ptl"])
def test_unobserved_mass_matches_C_over_k_on_sampled_data(learner):
    inst = T.instance0(4, 6)
    counts = sample_counts(inst, 30, 3, 0)
    ks = np.array([3e3, 1e4, 3e4]).astype(int)
    checked = 0
    for c in counts:
        traj = train_student(learner, c, inst.pi_star, int(ks[-1]), 1.0, record=ks)
        P, pi = T.gd_ntp_weights(learner, c, inst.pi_star)
        C = T.unobserved_mass_constant(learner, c, inst.pi_star, 1.0)
        relax = T.gd_relaxation_steps(learner, c, inst.pi_star, 1.0)
        for s in np.flatnonzero(C > 0):
            eps = np.where(P[s] == 0, traj.policies()[:, s], 0).sum(axis=1)
            p = P[s][P[s] > 0]
            H = np.sum(1 / p) / p.size**2  # log-term factor, see tests/theory/test_transfer_gd.py
            bound = (C[s] * H * np.log(ks) + relax[s]) / ks
            # two-sided, relative: |k eps / C - 1| within the remainder's size
            assert np.all(np.abs(ks * eps / C[s] - 1) <= bound), (s, ks * eps / C[s], bound)
            assert abs(loglog_slope(ks, eps).slope + 1) < 0.02  # slope -1; remainder <= 2% over the window
            checked += 1
    assert checked >= 3  # n = 30 on 4 x 6 leaves labels unobserved at several inputs


def test_sel_ptl_kernel_converges_to_the_gradient_flow_limit():
    inst = T.instance0(4, 6)
    counts = sample_counts(inst, 12, 2, 1)
    rng = np.random.default_rng(8)
    for c in counts:
        theta0 = rng.standard_normal(inst.pi_star.shape)
        lim = T.sel_ptl_gd_limit(c, inst.pi_star, theta0)
        relax = T.sel_ptl_relaxation_steps(c, inst.pi_star, 0.5, theta0)
        steps = int(40 * relax[np.isfinite(relax)].max())
        d = [np.abs(train_student("sel_ptl", c, inst.pi_star, m * steps, 0.5 / m, init_logits=theta0,
                                  record=1).policy() - lim).max() for m in (1, 2)]
        # first order in the step: halving it halves the deviation (O(step^2) share within 10%)
        assert 1.8 < d[0] / d[1] < 2.2, d
        conv = T.estimate("sel_ptl", c, inst.pi_star)
        # and the limit is not the uniform-fill convention (by far more than the O(step) deviation)
        assert np.abs(lim - conv).max() > 20 * d[0]


def test_sel_ptl_from_zero_reaches_the_uniform_fill():
    inst = T.instance0(4, 6)
    c = sample_counts(inst, 12, 1, 2)[0]
    relax = T.sel_ptl_relaxation_steps(c, inst.pi_star, 1.0)
    traj = train_student("sel_ptl", c, inst.pi_star, int(40 * relax[np.isfinite(relax)].max()), 1.0, record=1)
    # 40 relaxation times: transient below e^-40 of an O(1) start; GD from 0 keeps U symmetric
    # exactly, so no O(step) term (rounding only)
    np.testing.assert_allclose(traj.policy(), T.estimate("sel_ptl", c, inst.pi_star), rtol=0, atol=1e-12)


def test_ce_ful_converges_to_pi_star_where_unique():
    inst = T.instance0(3, 6)
    c = sample_counts(inst, 40, 1, 3)[0]
    rate = np.nanmax(T.gd_contraction("ce_ful", c, inst.pi_star, 1.0))
    k = int(np.ceil(40 / -np.log(rate)))  # 40 e-foldings of the slowest mode
    traj = train_student("ce_ful", c, inst.pi_star, k, 1.0, record=1)
    # unique minimiser: the closed form to rounding after 40 e-foldings (e^-40 ~ 4e-18)
    np.testing.assert_allclose(traj.policy(), T.estimate("ce_ful", c, inst.pi_star), rtol=0, atol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="learner"):
        train_student("mle", COUNTS, PI_STAR, 10, 1.0)
    with pytest.raises(ValueError, match="lr"):
        train_student("ce_sgl", COUNTS, PI_STAR, 10, -1.0)
    with pytest.raises(ValueError, match="init_logits"):
        train_student("ce_sgl", COUNTS, PI_STAR, 10, 1.0, init_logits=np.zeros((2, 6)))
    with pytest.raises(ValueError, match="counts"):
        train_student("ce_sgl", COUNTS[:2], PI_STAR, 10, 1.0)
    a = train_student("ce_sgl", COUNTS, PI_STAR, 10, 1.0)
    with pytest.raises(ValueError, match="same learner"):
        train_student("ce_ptl", COUNTS, PI_STAR, 10, 1.0, resume=a)
    with pytest.raises(TypeError, match="resume"):
        train_student("ce_sgl", COUNTS, PI_STAR, 10, 1.0, resume="x")
