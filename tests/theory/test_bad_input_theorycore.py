"""Bad input across the public API of theory.ntp, theory.transfer, theory.ntp_asymptotics,
theory.text_corpus, theory.fitting and sims.transfer (issue 9).

One table of (call, exception, message fragment), walked by kind: non-finite, wrong shape,
wrong type, complex, empty, out of range, huge (memory estimated and refused before any
allocation; exact formulas whose cost grows with n refused before the work starts).
Every message must name the argument and say what is accepted.
"""

from __future__ import annotations

import numpy as np
import pytest

import sims.transfer as ST
from theory import fitting as F
from theory import ntp as N
from theory import text_corpus as TC
from theory import transfer as T
from theory.ntp_asymptotics import ntp_w_tilde

DATA = N.NTPData.toy_2d(probabilities=np.full((3, 3), 1 / 3))
W = np.zeros((5, 2))
INST = T.instance0(3, 4)

CASES = [
    # ---------------------------------------------------------------- theory.ntp: data
    ("NTPData complex H", lambda: N.NTPData(DATA.H + 0j, DATA.P, DATA.pi), TypeError, "H must be real"),
    ("NTPData NaN pi", lambda: N.NTPData(DATA.H, DATA.P, [np.nan, 0.5, 0.5]), ValueError, "pi must be finite"),
    ("NTPData empty", lambda: N.NTPData(np.zeros((0, 2)), np.zeros((0, 3)), np.zeros(0)), ValueError, "H must not be empty"),
    ("NTPData meta", lambda: N.NTPData(DATA.H, DATA.P, DATA.pi, meta=[1]), TypeError, "meta must be a mapping"),
    ("synthetic huge", lambda: N.NTPData.synthetic(10**5, 10**5, 10**5, 2, 0), ValueError,
     "NTPData.synthetic(m=100000, d=100000, V=100000) needs about"),
    ("synthetic m float", lambda: N.NTPData.synthetic(3.0, 2, 5, 2, 0), TypeError, "m must be an integer"),
    ("synthetic alpha NaN", lambda: N.NTPData.synthetic(3, 2, 5, 2, 0, alpha=np.nan), ValueError, "alpha must be a finite number > 0"),
    ("synthetic alpha complex", lambda: N.NTPData.synthetic(3, 2, 5, 2, 0, alpha=1j), TypeError, "alpha must be a real number"),
    ("synthetic scale 0", lambda: N.NTPData.synthetic(3, 2, 5, 2, 0, scale=0.0), ValueError, "scale must be a finite number > 0"),
    ("synthetic support str", lambda: N.NTPData.synthetic(3, 2, 5, "2", 0), TypeError, "support_size must be an int"),
    ("synthetic support float", lambda: N.NTPData.synthetic(3, 2, 5, 2.5, 0), ValueError, "support_size must be an int"),
    ("synthetic embedding", lambda: N.NTPData.synthetic(3, 2, 5, 2, 0, embedding="sphere"), ValueError, "embedding must be one of"),
    ("synthetic n < m", lambda: N.NTPData.synthetic(3, 2, 5, 2, 0, n=2), ValueError, "n must be an integer >= 3, got 2"),
    ("synthetic rng", lambda: N.NTPData.synthetic(3, 2, 5, 2, "seed"), TypeError, "rng must be an int >= 0"),
    ("toy_2d NaN probabilities", lambda: N.NTPData.toy_2d(probabilities=np.full((3, 3), np.nan)), ValueError, "probabilities must be finite"),
    ("from_sequences K = 0", lambda: N.NTPData.from_sequences([[0, 1]], 0, "one_hot"), ValueError, "context_length must be an integer >= 1"),
    ("from_sequences float tokens", lambda: N.NTPData.from_sequences([[0.5, 1]], 1, "one_hot"), TypeError, "sequences[0] must be a 1-D sequence of int"),
    ("from_sequences full_support", lambda: N.NTPData.from_sequences([[0, 1, 0, 2]], 1, "one_hot", full_support="keep"),
     ValueError, "full_support must be one of 'error', 'drop'"),
    ("from_sequences scale NaN", lambda: N.NTPData.from_sequences([[0, 1, 0, 2]], 1, "one_hot", scale=np.nan), ValueError, "scale must be a finite number > 0"),
    ("from_sequences complex embedding", lambda: N.NTPData.from_sequences([[0, 1, 0, 2]], 1, lambda c: np.ones(2) * 1j),
     TypeError, "must be real"),
    ("from_sequences NaN embedding", lambda: N.NTPData.from_sequences([[0, 1, 0, 2]], 1, lambda c: np.full(2, np.nan)),
     ValueError, "must be finite"),
    ("classification_data NaN X", lambda: N.classification_data([[np.nan]], [0]), ValueError, "X must be finite"),
    ("classification_data huge", lambda: N.classification_data(np.ones((10**5, 1)), np.zeros(10**5, int), n_classes=10**6),
     ValueError, "classification_data(n=100000, n_classes=1000000) needs about"),
    ("logistic_weights complex", lambda: N.logistic_weights(np.ones((2, 2)) * 1j), TypeError, "W must be real"),
    ("data_fingerprint string", lambda: N.data_fingerprint("a", DATA.P, DATA.pi), TypeError, "H must be a real numeric array"),
    ("entropy_from_arrays NaN", lambda: N.entropy_from_arrays([[np.nan, 1.0]], [1.0]), ValueError, "P must be finite"),
    # ---------------------------------------------------------------- theory.ntp: losses, F, W*
    ("ntp_loss complex W", lambda: N.ntp_loss(W + 1j, DATA), TypeError, "W must be real"),
    ("ntp_loss NaN W", lambda: N.ntp_loss(W * np.nan, DATA), ValueError, "W must be finite"),
    ("ntp_loss overflowing logits", lambda: N.ntp_loss(np.full((5, 2), 1e308) * [[1, -1]], N.NTPData(
        [[1.0, -1.0], [1.0, 1.0], [0.5, 0.5]], DATA.P, DATA.pi)), ValueError, "W is too large: the logits"),
    ("loss_gap per_context", lambda: N.loss_gap(W, DATA, per_context="yes"), TypeError, "per_context must be True or False"),
    ("entropy of non-data", lambda: N.entropy(None), TypeError, "data must be an NTPData"),
    ("in_support_residual shape", lambda: N.in_support_residual(np.zeros((2, 5)), DATA), ValueError, r"logits must have shape (m, V) = (3, 5)"),
    ("in_support_residual inf", lambda: N.in_support_residual(np.full((3, 5), np.inf), DATA), ValueError, "logits must be finite"),
    ("data_subspace rank_tol NaN", lambda: N.data_subspace(DATA, rank_tol=np.nan), ValueError, "rank_tol must be a finite number in (0, 1)"),
    ("data_subspace rank_tol str", lambda: N.data_subspace(DATA, rank_tol="1e-10"), TypeError, "rank_tol must be a real number"),
    ("data_subspace method", lambda: N.data_subspace(DATA, method="qr"), ValueError, "method must be one of 'auto', 'dense', 'blocks'"),
    ("project complex", lambda: N.data_subspace(DATA).project(W + 1j), TypeError, "W must be real"),
    ("project 4-D", lambda: N.data_subspace(DATA).project(np.zeros((1, 1, 5, 2))), ValueError, "W must have shape (V, d) = (5, 2)"),
    ("finite_component tol -1", lambda: N.finite_component(DATA, tol=-1), ValueError, "tol must be a finite number > 0"),
    ("finite_component tol 0", lambda: N.finite_component(DATA, tol=0), ValueError, "tol must be a finite number > 0"),
    ("finite_component tol NaN", lambda: N.finite_component(DATA, tol=np.nan), ValueError, "tol must be a finite number > 0"),
    ("finite_component tol str", lambda: N.finite_component(DATA, tol="small"), TypeError, "tol must be a real number"),
    ("finite_component subspace", lambda: N.finite_component(DATA, subspace=3), TypeError, "subspace must be a DataSubspace"),
    ("genie_bound NaN R", lambda: N.genie_bound(DATA, np.nan), ValueError, "R must be a finite number"),
    ("genie_bound NaN in R array", lambda: N.genie_bound(DATA, [1.0, np.nan]), ValueError, "R must be finite"),
    ("genie_bound complex R", lambda: N.genie_bound(DATA, 1j), TypeError, "R must be a real number"),
    ("genie_bound W_star shape", lambda: N.genie_bound(DATA, 1.0, W_star=np.zeros((2, 2))), ValueError, "W_star must have shape (V, d) = (5, 2)"),
    ("smoothness_bound non-data", lambda: N.smoothness_bound(3), TypeError, "data must be an NTPData"),
    # ---------------------------------------------------------------- theory.ntp_asymptotics
    ("ntp_w_tilde lr NaN", lambda: ntp_w_tilde(DATA, np.nan), ValueError, "lr must be a finite number > 0, got nan"),
    ("ntp_w_tilde lr complex", lambda: ntp_w_tilde(DATA, 1j), TypeError, "lr must be a real number"),
    ("ntp_w_tilde W0 complex", lambda: ntp_w_tilde(DATA, 0.5, W0=W + 1j), TypeError, "W0 must be real"),
    ("ntp_w_tilde W0 string", lambda: ntp_w_tilde(DATA, 0.5, W0="zeros"), TypeError, "W0 must be a real numeric array"),
    ("ntp_w_tilde subspace", lambda: ntp_w_tilde(DATA, 0.5, subspace=3), TypeError, "subspace must be a DataSubspace"),
    # ---------------------------------------------------------------- theory.transfer
    ("Instance complex rho", lambda: T.Instance([1.0 + 0j], [[1.0]]), TypeError, "rho must be real"),
    ("Instance string rho", lambda: T.Instance("a", [[1.0]]), TypeError, "rho must be a real numeric array"),
    ("Instance NaN pi_star", lambda: T.Instance([1.0], [[np.nan, 1.0]]), ValueError, "pi_star must be finite"),
    ("instance0 huge", lambda: T.instance0(10**5, 10**5), ValueError, "instance0(S=100000, A=100000) needs about"),
    ("instance1 huge", lambda: T.instance1(10**5, 10**5, 10**12), ValueError, "instance1(S=100000, A=100000) needs about"),
    ("instance3 huge", lambda: T.instance3(10**5, 10**5, 10**12), ValueError, "instance3(S=100000, A=100000) needs about"),
    ("instance0 float S", lambda: T.instance0(2.0, 3), TypeError, "S must be an integer"),
    ("estimate complex counts", lambda: T.estimate("ce_sgl", np.array([[1 + 0j, 0]]), [[0.5, 0.5]]), TypeError, "counts must be an integer array"),
    ("estimate NaN counts", lambda: T.estimate("ce_sgl", np.array([[np.nan, 0]]), [[0.5, 0.5]]), ValueError, "counts must hold nonnegative integers"),
    ("estimate learner", lambda: T.estimate(3, [[1, 0]], [[0.5, 0.5]]), ValueError, "learner must be one of"),
    ("tv_risk complex", lambda: T.tv_risk(np.ones((1, 2)) * 1j, [[0.5, 0.5]], [1.0]), TypeError, "pi_hat must be real"),
    ("tv_risk NaN", lambda: T.tv_risk([[np.nan, 0.5]], [[0.5, 0.5]], [1.0]), ValueError, "pi_hat must be finite"),
    ("partial_ce_limit empty", lambda: T.partial_ce_limit([]), ValueError, "pi_star must have shape (S, A) with S, A >= 1"),
    ("ce_ptl_limit_risk non-instance", lambda: T.ce_ptl_limit_risk(3), TypeError, "instance must be a theory.transfer.Instance"),
    ("expected_missing_mass n < 0", lambda: T.expected_missing_mass([1.0], -1), ValueError, "n must be an integer >= 0, got -1"),
    ("expected_missing_mass n float", lambda: T.expected_missing_mass([1.0], 2.5), TypeError, "n must be an integer"),
    # n = 1e12 is computed since the de Moivre form (seconds); 1e15 is refused with a time estimate
    ("expected_risk_ce_sgl huge n", lambda: T.expected_risk_ce_sgl(INST, 10**15), ValueError,
     "expected_risk_ce_sgl at n = 1000000000000000 would sum about"),
    ("expected_risk_ce_ptl huge n", lambda: T.expected_risk_ce_ptl(INST, 10**12), ValueError,
     "expected_risk_ce_ptl at n = 1000000000000 would sum about"),
    ("sel_ptl exact: cancelling series", lambda: T.expected_risk_sel_ptl_instance2(10, 101, 10**5), ValueError,
     "inclusion-exclusion series cancels"),
    ("sel_ptl exact: huge K", lambda: T.expected_risk_sel_ptl_instance2(3, 10**7, 10**12), ValueError, "it accepts K <= 300"),
    ("sel_ptl_limit huge A", lambda: T.sel_ptl_limit_instance2(3, 10**12), ValueError, "sel_ptl_limit_instance2(S=3, A=1000000000000) needs about"),
    ("mle_risk_normal_approx complex n", lambda: T.mle_risk_normal_approx(3, 4, 1j), TypeError, "n must be real"),
    ("mle_risk_normal_approx string n", lambda: T.mle_risk_normal_approx(3, 4, "100"), TypeError, "n must be a positive number"),
    ("mle_risk_normal_approx empty n", lambda: T.mle_risk_normal_approx(3, 4, []), ValueError, "n must be positive and finite"),
    ("lower_bound_level1 NaN n", lambda: T.lower_bound_level1(3, 4, np.nan), ValueError, "n must be positive and finite"),
    ("lower_bound_level1 strict", lambda: T.lower_bound_level1(3, 4, 100, strict="no"), TypeError, "strict must be True or False"),
    ("upper_bound_mle_hp delta NaN", lambda: T.upper_bound_mle_hp(3, 4, 100, np.nan), ValueError, "delta must be a number"),
    ("upper_bound_mle_hp delta str", lambda: T.upper_bound_mle_hp(3, 4, 100, "0.05"), TypeError, "delta must be a real number"),
    ("upper_bound_mle_hp delta complex", lambda: T.upper_bound_mle_hp(3, 4, 100, 0.1j), TypeError, "delta must be a real number"),
    ("upper_bound_mle_expectation rho", lambda: T.upper_bound_mle_expectation(3, 4, 100, rho=[1.0]), ValueError, "rho must have shape (S,) = (3,)"),
    ("upper_bound_ce_ful_hp inf n", lambda: T.upper_bound_ce_ful_hp(3, np.inf, 0.05), ValueError, "n must be positive and finite"),
    ("instance_exists kind", lambda: T.instance_exists(None, 1, 2, 3), ValueError, "kind must be one of"),
    # ---------------------------------------------------------------- sims.transfer
    ("simulate_risks huge repeats", lambda: ST.simulate_risks(INST, None, 10, 10**12, 0), ValueError, "sample_risks(repeats=1000000000000) needs about"),
    ("sample_counts huge repeats", lambda: ST.sample_counts(INST, 10, 10**10, 0), ValueError, "sample_counts(repeats=10000000000)"),
    ("sample_risks n above int64", lambda: ST.sample_risks(INST, None, 10**19, 10, 0), ValueError, "n must be at most 2**62"),
    ("sample_risks huge tables", lambda: ST.sample_risks(INST, None, 10**18, 10, 0), ValueError, "sampling tables for n = 1000000000000000000"),
    ("sample_risks seed", lambda: ST.sample_risks(INST, None, 10, 10, -1), ValueError, "seed must be a nonnegative integer"),
    ("sample_risks chunk", lambda: ST.sample_risks(INST, None, 10, 10, 0, method="numpy", chunk=2.5), TypeError, "chunk must be an integer"),
    ("sample_risks instance", lambda: ST.sample_risks(None, None, 10, 10, 0), TypeError, "instance must be a theory.transfer.Instance"),
    # ---------------------------------------------------------------- text corpus, fitting
    ("tokenize_chars string", lambda: TC.tokenize_chars("abc"), TypeError, "docs must be a sequence of documents"),
    ("tokenize_chars lowercase", lambda: TC.tokenize_chars(["abc"], lowercase="no"), TypeError, "lowercase must be True or False"),
    ("tokenize_words non-str", lambda: TC.tokenize_words([3]), TypeError, "docs[0] must be a str"),
    ("tokenize_words vocab float", lambda: TC.tokenize_words(["abc"], vocab_size=2.5), TypeError, "vocab_size must be an integer"),
    ("tokenize_words vocab 1", lambda: TC.tokenize_words(["abc"], vocab_size=1), ValueError, "vocab_size must be an integer >= 2"),
    ("stdlib_docstrings empty", lambda: TC.stdlib_docstrings([]), ValueError, "modules must name at least one"),
    ("loglog_slope complex", lambda: F.loglog_slope([1, 2, 3], [1, 2, 3j]), TypeError, "y must be real"),
    ("semilog_slope level", lambda: F.semilog_slope([1, 2, 3], [1, 2, 3], level=0), ValueError, "level must be a finite number in (0, 1)"),
]


@pytest.mark.parametrize("call, exc, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_with_a_message(call, exc, fragment):
    with pytest.raises(exc) as info:
        call()
    assert fragment in str(info.value), str(info.value)
