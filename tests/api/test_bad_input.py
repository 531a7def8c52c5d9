"""Bad input walked across the whole public API (issue 9, "What the tests must show").

Every function or class in the ``__all__`` of the modules in :data:`MODULES` gets one
valid call in :data:`VALID` (tiny shared fixtures). Bad calls are derived from it by
replacing one argument at a time, by kind:

* ``nonfinite``: NaN / inf in an array or a number;
* ``shape``: an array with an extra axis;
* ``type``: a string, ``None`` (where None is not a documented default) or a complex array;
* ``empty``: an array with zero rows;
* ``range``: values listed per argument in :data:`VALID` (negative counts, zero or negative
  step sizes and tolerances, probabilities outside [0, 1], unknown choices);
* ``huge``: sizes that cannot fit in memory, which must be refused before allocating
  (each such call runs with a 5 s alarm, so a call that tries to allocate fails the test
  rather than the machine).

A bad call gives a *clear* error when it raises ``ValueError`` or ``TypeError`` whose
message names the argument. Calls known not to do so today are listed, with the reason,
in :data:`KNOWN_GAPS`; they run as strict ``xfail`` so that fixing one makes the list
shrink. ``python -m tests.api.test_bad_input`` prints the tally (per kind and per
function) without pytest.
"""

from __future__ import annotations

import collections
import importlib
import inspect
import atexit
import pathlib
import re
import shutil
import signal
import sys
import tempfile
import warnings

import numpy as np
import pytest

MODULES = (
    "theory.ntp", "theory.ntp_svm", "theory.maxmargin", "theory.margin",
    "theory.ntp_asymptotics", "theory.transfer", "theory.fitting", "theory.ntk",
    "sims.gd", "sims.transfer", "sims.twolayer", "sims.engine", "sims.store", "sims.paper",
    "sims.transfer_gd",
)

# ----------------------------------------------------------------------------- fixtures
from sims import engine as E  # noqa: E402
from sims import gd as GD  # noqa: E402
from sims import paper as PA  # noqa: E402
from sims import store as ST  # noqa: E402
from sims import transfer as STR  # noqa: E402
from sims import transfer_gd as STG  # noqa: E402
from sims import twolayer as TL  # noqa: E402
from theory import fitting as F  # noqa: E402
from theory import margin as M  # noqa: E402
from theory import maxmargin as MM  # noqa: E402
from theory import ntk as K  # noqa: E402
from theory import ntp as N  # noqa: E402
from theory import ntp_asymptotics as NA  # noqa: E402
from theory import ntp_svm as SVM  # noqa: E402
from theory import transfer as T  # noqa: E402

DATA = N.NTPData.toy_2d(probabilities=np.full((3, 3), 1 / 3))
W5 = np.zeros((5, 2))                      # (V, d) for the toy data
# Four separable points in the unit ball, labels +-1 (binary) and 0/1 (class indices).
X = np.array([[0.8, 0.2], [0.3, 0.9], [-0.8, -0.1], [-0.2, -0.9]])
YPM = np.array([1.0, 1.0, -1.0, -1.0])
Y01 = np.array([1, 1, 0, 0])
Y3 = np.array([0, 1, 2, 2])
INST = T.instance0(3, 4)
COUNTS = np.array([[2, 1, 0, 0], [0, 3, 0, 0], [1, 1, 1, 0]])
GRID = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
LINE = np.array([2.0, 4.1, 7.9, 16.2, 31.8])
PARAMS = TL.init_two_layer(2, 4, seed=0)
TEACHER = TL.teacher_from_logits(np.array([1.0, 0.5, -0.5, -1.0]))
SUPPORT = SVM.nonseparable_instance()
A_ROWS = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])   # margin rows a_i . w >= 1
# Files the store calls write go to a private temporary folder, removed at exit.
TMP = pathlib.Path(tempfile.mkdtemp(prefix="ibl-bad-input-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)
HUGE = 10**7                                                # a count whose n x n / m x V array cannot fit

# ------------------------------------------------------------------------ valid calls
# name -> dict(call=fn, args=(...), kwargs={...}, range={arg: [bad values]},
#              huge={arg: value}, none_ok=(args where None is a documented value),
#              skip_kinds={arg: (kinds, reason)})
VALID: dict[str, dict] = {}


def valid(name, call, *args, range=None, huge=None, none_ok=(), skip=None, **kwargs):
    VALID[name] = dict(call=call, args=args, kwargs=kwargs, range=range or {},
                       huge=huge or {}, none_ok=set(none_ok), skip=skip or {})


# theory.ntp
valid("theory.ntp.NTPData", N.NTPData, DATA.H, DATA.P, DATA.pi)
valid("theory.ntp.classification_data", N.classification_data, X, Y3,
      range={"y": [np.array([0, 1, 2, -1])], "n_classes": [0, -2, 2]}, none_ok=("n_classes", "pi"))
valid("theory.ntp.binary_data", N.binary_data, X, YPM, range={"y": [np.array([1, 2, 3, 4])]},
      none_ok=("pi",))
# W of shape (..., 2, d) is documented (a stack of weight matrices), so the fixture has
# d = 3: its extra axis, (2, 3, 1), is then a bad shape rather than a stack of two (2, 1).
valid("theory.ntp.logistic_weights", N.logistic_weights, np.ones((2, 3)))
valid("theory.ntp.data_fingerprint", N.data_fingerprint, DATA.H, DATA.P, DATA.pi)
valid("theory.ntp.entropy_from_arrays", N.entropy_from_arrays, DATA.P, DATA.pi,
      range={"P": [DATA.P * 2], "pi": [-DATA.pi]})
valid("theory.ntp.entropy", N.entropy, DATA)
valid("theory.ntp.ntp_loss", N.ntp_loss, W5, DATA)
valid("theory.ntp.loss_gap", N.loss_gap, W5, DATA)
valid("theory.ntp.ntp_gradient", N.ntp_gradient, W5, DATA)
valid("theory.ntp.in_support_residual", N.in_support_residual, DATA.H @ W5.T, DATA)
valid("theory.ntp.log_odds_residual", N.log_odds_residual, W5, DATA)
valid("theory.ntp.data_subspace", N.data_subspace, DATA,
      range={"method": ["nope"], "rank_tol": [-1.0]})
valid("theory.ntp.finite_component", N.finite_component, DATA, none_ok=("subspace",),
      range={"method": ["nope"], "rank_tol": [-1.0], "tol": [0.0, -1.0]})
valid("theory.ntp.smoothness_bound", N.smoothness_bound, DATA)
valid("theory.ntp.genie_bound", N.genie_bound, DATA, 2.0, range={"R": [-1.0]}, none_ok=("W_star",))
valid("theory.ntp.check_separability", N.check_separability, DATA)
valid("theory.ntp.max_margin_direction", N.max_margin_direction, DATA,
      range={"solver": ["nope"], "max_iter": [0, -1]})
# theory.ntp_svm (same check_separability / max_margin_direction objects as theory.ntp)
valid("theory.ntp_svm.clarabel_size", SVM.clarabel_size, 3, 2, 5,
      range={"m": [-1], "d": [-1], "V": [-1]})
valid("theory.ntp_svm.max_margin_direction", SVM.max_margin_direction, DATA,
      range={"solver": ["nope"], "max_iter": [0, -1]})
valid("theory.ntp_svm.check_separability", SVM.check_separability, DATA)
valid("theory.ntp_svm.centered_support_matrix", SVM.centered_support_matrix, SUPPORT)
valid("theory.ntp_svm.nuclear_norm_max_margin_logits", SVM.nuclear_norm_max_margin_logits, SUPPORT)
valid("theory.ntp_svm.sparse_plus_low_rank", SVM.sparse_plus_low_rank, DATA.H @ W5.T, DATA.P,
      range={"P": [DATA.P * 2]}, none_ok=("reference",))
valid("theory.ntp_svm.NTPRows", SVM.NTPRows, None,
      skip={"pb": (("*",), "takes the solver's internal Problem object, built by max_margin_direction")})
valid("theory.ntp_svm.SupportData", SVM.SupportData, SUPPORT.H, SUPPORT.P, SUPPORT.pi)
# theory.maxmargin
valid("theory.maxmargin.binary_svm", MM.binary_svm, X, YPM, range={"y": [np.array([1, 2, 3, 4])]})
valid("theory.maxmargin.multiclass_svm", MM.multiclass_svm, X, Y3,
      range={"y": [np.array([0, 1, 2, -1])], "K": [0, 2]}, none_ok=("K",))
valid("theory.maxmargin.binary_w_tilde", MM.binary_w_tilde, X, YPM, 0.5,
      range={"lr": [0.0, -1.0]}, none_ok=("w0",))
valid("theory.maxmargin.multiclass_w_tilde", MM.multiclass_w_tilde, X, Y3, 0.5,
      range={"lr": [0.0, -1.0], "K": [0]}, none_ok=("K", "W0"))
valid("theory.maxmargin.constraint_generators", MM.constraint_generators, X, Y3, 3,
      range={"K": [0, 2]}, none_ok=("K",))
valid("theory.maxmargin.soudry_predictions", MM.soudry_predictions,
      np.ones((4, 2)), np.ones(4), np.ones((1, 2)), np.ones((1, 2)), 0.5, range={"lr_eff": [0.0, -1.0]})
# theory.margin
valid("theory.margin.dense_farkas", M.dense_farkas, A_ROWS, none_ok=("B",))
valid("theory.margin.hard_margin_svm", M.hard_margin_svm, A_ROWS, none_ok=("features", "gram", "equalities"),
      range={"solver": ["nope"]})
valid("theory.margin.involved_rows", M.involved_rows, A_ROWS, range={"rtol": [-1.0]})
valid("theory.margin.kkt_certificate", M.kkt_certificate, np.ones(3), np.zeros(3), np.zeros(2), np.zeros(2))
valid("theory.margin.min_norm_multipliers", M.min_norm_multipliers, A_ROWS @ A_ROWS.T, np.ones(3))
valid("theory.margin.pair_gram", M.pair_gram, np.array([0, 1]), np.array([0, 1]), np.array([1, 0]), np.eye(2))
valid("theory.margin.polish_active_set", M.polish_active_set, M.DenseRows(A_ROWS), np.array([True, True, False]),
      range={"max_rounds": [-1], "tol": [-1.0]})
# size 0 (all-zero rows) is documented: no rescaling, the solver's Farkas check reports them
valid("theory.margin.power_of_two_scale", M.power_of_two_scale, 3.0, range={"size": [-1.0]})
valid("theory.margin.solve_clarabel", M.solve_clarabel, None,
      skip={"prob": (("*",), "takes a cvxpy Problem; only the solvers build it")})
valid("theory.margin.solve_margin", M.solve_margin, M.DenseRows(A_ROWS), range={"accept_tol": [-1.0]})
valid("theory.margin.support_farkas", M.support_farkas, X[:2], np.array([[True, False, False], [False, True, False]]))
valid("theory.margin.DenseRows", M.DenseRows, A_ROWS, none_ok=("B",))
valid("theory.margin.GramRows", M.GramRows, A_ROWS @ A_ROWS.T, none_ok=("features",))
valid("theory.margin.PairRows", M.PairRows, X, (np.array([0, 1]), np.array([1, 0]), np.array([0, 1])), 2,
      none_ok=("eq",))
# theory.ntp_asymptotics
valid("theory.ntp_asymptotics.ntp_w_tilde", NA.ntp_w_tilde, DATA, 0.5,
      range={"lr": [0.0, -1.0]}, none_ok=("W0", "mm", "subspace"))
valid("theory.ntp_asymptotics.quasi_static_correction", NA.quasi_static_correction, DATA,
      np.zeros((DATA.V, DATA.d)), 10.0, range={"k": [0.0, -1.0]}, none_ok=("subspace",))
# theory.transfer
# The bounds are curves in n: a real n (e.g. 20.5, or an array of n) is valid input.
REAL_N = {"n": (("type:float",), "the bounds take real n (curves), so a non-integer n is valid")}
valid("theory.transfer.Instance", T.Instance, INST.rho, INST.pi_star,
      range={"rho": [-INST.rho], "pi_star": [INST.pi_star * 2]})
for _f in ("instance_min_n",):
    valid(f"theory.transfer.{_f}", getattr(T, _f), "instance0", 3, 4,
          range={"kind": ["nope"], "S": [0, -1], "A": [0, -1]})
valid("theory.transfer.instance_exists", T.instance_exists, "instance1", 3, 4, 20,
      range={"kind": ["nope"], "S": [-1], "A": [-1], "n": [-1]})
valid("theory.transfer.build_instance", T.build_instance, "instance1", 3, 4, 20,
      range={"kind": ["nope"], "S": [0, -1], "A": [0, -1], "n": [-1]}, none_ok=("n",),
      huge={"S": 10**12})
valid("theory.transfer.lower_bound_holds", T.lower_bound_holds, 1, 3, 4, 20,
      range={"level": [0, 7], "S": [-1], "A": [-1], "n": [-1]}, skip=REAL_N)
valid("theory.transfer.lower_bound", T.lower_bound, 1, 3, 4, 20,
      range={"level": [0, 7], "S": [-1], "A": [-1], "n": [-1]}, skip=REAL_N)
valid("theory.transfer.instance0", T.instance0, 3, 4, range={"S": [0, -1], "A": [0, -1]}, huge={"S": 10**12})
for _f in ("instance1", "instance2", "instance3"):
    valid(f"theory.transfer.{_f}", getattr(T, _f), 3, 4, 20,
          range={"S": [0, -1], "A": [0, -1], "n": [-1]}, huge={"S": 10**12})
valid("theory.transfer.estimate", T.estimate, "ce_ful", COUNTS, INST.pi_star,
      range={"learner": ["nope"], "counts": [-COUNTS]})
valid("theory.transfer.tv_risk", T.tv_risk, INST.pi_star, INST.pi_star, INST.rho,
      range={"pi_hat": [INST.pi_star * 2], "rho": [-INST.rho]})
valid("theory.transfer.tv_to_uniform", T.tv_to_uniform, INST.pi_star, range={"pi_star": [-INST.pi_star]})
valid("theory.transfer.partial_ce_limit", T.partial_ce_limit, INST.pi_star, range={"pi_star": [-INST.pi_star]})
valid("theory.transfer.ce_ptl_limit_risk", T.ce_ptl_limit_risk, INST)
valid("theory.transfer.expected_missing_mass", T.expected_missing_mass, INST.rho, 10,
      range={"rho": [-INST.rho], "n": [-1]})
for _f in ("expected_risk_ce_ful", "expected_risk_ce_sgl", "expected_risk_ce_ptl"):
    valid(f"theory.transfer.{_f}", getattr(T, _f), INST, 10, range={"n": [-1]})
valid("theory.transfer.expected_risk_sel_ptl_instance2", T.expected_risk_sel_ptl_instance2, 3, 4, 20,
      range={"S": [0, -1], "A": [0, -1], "n": [-1]})
for _f in ("sel_ptl_limit_instance2", "ce_sgl_limit_instance2", "ce_ptl_limit_instance2", "ce_ful_limit_instance3"):
    valid(f"theory.transfer.{_f}", getattr(T, _f), 3, 4, range={"S": [0, -1], "A": [0, -1]})
valid("theory.transfer.mle_risk_normal_approx", T.mle_risk_normal_approx, 3, 4, 20,
      range={"S": [0, -1], "A": [0, -1], "n": [-1]})
valid("theory.transfer.xi", T.xi, INST.pi_star, range={"pi_star": [-INST.pi_star]})
valid("theory.transfer.xi_tilde", T.xi_tilde, INST.pi_star, range={"pi_star": [-INST.pi_star]})
for _f in ("lower_bound_level1", "lower_bound_level2", "lower_bound_level3", "mle_risk_normal_approx"):
    valid(f"theory.transfer.{_f}", getattr(T, _f), 3, 4, 20, range={"S": [0, -1], "A": [0, -1], "n": [-1]},
          skip=REAL_N)
valid("theory.transfer.upper_bound_mle_hp", T.upper_bound_mle_hp, 3, 4, 20, 0.1,
      range={"S": [0, -1], "A": [0, -1], "n": [-1], "delta": [0.0, 1.5]}, skip=REAL_N)
valid("theory.transfer.upper_bound_mle_expectation", T.upper_bound_mle_expectation, 3, 4, 20,
      range={"S": [0, -1], "A": [0, -1], "n": [-1]}, none_ok=("rho",), skip=REAL_N)
valid("theory.transfer.upper_bound_sel_ptl_hp", T.upper_bound_sel_ptl_hp, 3, 4, 20, 0.1,
      range={"S": [0, -1], "A": [0, -1], "n": [-1], "delta": [0.0, 1.5]}, skip=REAL_N)
valid("theory.transfer.upper_bound_ce_ful_hp", T.upper_bound_ce_ful_hp, 3, 20, 0.1,
      range={"S": [0, -1], "n": [-1], "delta": [0.0, 1.5]}, skip=REAL_N)
valid("theory.transfer.upper_bound_ce_ful_expectation", T.upper_bound_ce_ful_expectation, 3, 20,
      range={"S": [0, -1], "n": [-1]}, skip=REAL_N)
# theory.transfer: the learners trained by GD
_LR = {"lr": [0.0, -1.0]}
valid("theory.transfer.gd_ntp_weights", T.gd_ntp_weights, "ce_sgl", COUNTS, INST.pi_star,
      range={"learner": ["sel_ptl", "nope"], "counts": [-COUNTS, 0 * COUNTS]})
valid("theory.transfer.gd_population_weights", T.gd_population_weights, "ce_ptl", INST.pi_star, INST.rho,
      range={"learner": ["sel_ptl"], "rho": [-INST.rho], "pi_star": [INST.pi_star * 2]})
for _f in ("gd_loss", "gd_loss_gradient"):
    valid(f"theory.transfer.{_f}", getattr(T, _f), "sel_ptl", COUNTS, INST.pi_star, np.zeros((3, 4)),
          range={"learner": ["nope"], "counts": [-COUNTS]})
for _f in ("unobserved_mass_constant", "gd_relaxation_steps", "gd_contraction"):
    valid(f"theory.transfer.{_f}", getattr(T, _f), "ce_sgl", COUNTS, INST.pi_star, 1.0,
          range={"learner": ["sel_ptl"], "counts": [-COUNTS], **_LR})
valid("theory.transfer.gd_policy_prediction", T.gd_policy_prediction, "ce_sgl", COUNTS, INST.pi_star, 1.0, 10.0,
      range={"learner": ["sel_ptl"], "counts": [-COUNTS], "k": [0.5, -1.0], **_LR})
valid("theory.transfer.sel_ptl_gd_limit", T.sel_ptl_gd_limit, COUNTS, INST.pi_star, np.zeros((3, 4)),
      range={"counts": [-COUNTS]}, none_ok=("init_logits",))
valid("theory.transfer.sel_ptl_relaxation_steps", T.sel_ptl_relaxation_steps, COUNTS, INST.pi_star, 1.0,
      np.zeros((3, 4)), range={"counts": [-COUNTS], **_LR}, none_ok=("init_logits",))
# theory.fitting
for _f in ("loglog_slope", "semilog_slope", "linear_fit"):
    valid(f"theory.fitting.{_f}", getattr(F, _f), GRID, LINE, none_ok=("window",),
          range={"level": [0.0, 1.0, -0.5]})
valid("theory.fitting.loglog_slope", F.loglog_slope, GRID, LINE, none_ok=("window",),
      range={"x": [-GRID], "y": [-LINE], "level": [0.0, 1.0, -0.5]})
# theory.ntk
valid("theory.ntk.as_unit_ball_inputs", K.as_unit_ball_inputs, X, range={"X": [X * 10]})
valid("theory.ntk.scale_to_unit_ball", K.scale_to_unit_ball, X,
      skip={"X": (("empty:zero_rows",), "documented: an empty X is returned unchanged")})
# K1 is a closed form for any x in R^d (homogeneous of degree 2; tests/theory/ntk/test_ntk_kernel.py
# checks it off the unit ball), so X * 10 is valid input there; the unit ball is ntk_margin's condition.
valid("theory.ntk.first_layer_kernel", K.first_layer_kernel, X, none_ok=("X2",),
      huge={"X": np.broadcast_to(X[:1], (HUGE, 2))})
valid("theory.ntk.activation_overlap", K.activation_overlap, X, none_ok=("X2",),
      huge={"X": np.broadcast_to(X[:1], (HUGE, 2))})
valid("theory.ntk.gaussian_directions", K.gaussian_directions, 5, 2, 0,
      range={"n_features": [0, -1], "d": [0, -1], "seed": [-1]}, huge={"n_features": 10**12})
valid("theory.ntk.activation_pattern", K.activation_pattern, np.ones((5, 2)), X)
valid("theory.ntk.arc_cells_2d", K.arc_cells_2d, X)
valid("theory.ntk.half_line_cells_1d", K.half_line_cells_1d, np.array([[0.5], [-0.3], [0.2]]))
valid("theory.ntk.ntk_margin", K.ntk_margin, X, YPM, 20, 0, exact="never", kernel_bounds=False,
      range={"y": [np.array([1, 2, 3, 4])], "n_features": [0, -1], "delta": [0.0, 1.5],
             "exact": ["nope"], "X": [X * 10], "rf_solver": ["nope"]}, huge={"n_features": 10**13},
      none_ok=("solver_options", "rf_options"))
valid("theory.ntk.check_ntk_data", K.check_ntk_data, X, YPM, range={"y": [np.array([1, 2, 3, 4])]})
valid("theory.ntk.contradictory_pairs", K.contradictory_pairs, X, YPM)
valid("theory.ntk.kernel_margin", K.kernel_margin, X, YPM)
valid("theory.ntk.linear_margin", K.linear_margin, X, YPM, none_ok=("solver_options",))
valid("theory.ntk.random_feature_error", K.random_feature_error, 4, 20, 0.1,
      range={"n": [0, -1], "n_features": [0, -1], "delta": [0.0, 1.5]})
valid("theory.ntk.uniform_dual_mc", K.uniform_dual_mc, X, YPM, 50, 0,
      # no huge n_samples: the Monte Carlo runs in batches of constant memory
      range={"n_samples": [0, -1], "batch": [0, -1]})
valid("theory.ntk.solve_margin_program", K.solve_margin_program,
      np.array([[1, 0, 1, 0], [0, 1, 0, 1]], dtype=float), np.array([0.5, 0.5]), X * YPM[:, None],
      none_ok=("solver_options",), range={"solver": ["nope"], "w": [np.array([0.5, -0.5])]})
valid("theory.ntk.margin_predictor", K.margin_predictor, X, YPM, 20, 0, none_ok=("solver_options",),
      range={"n_features": [0, -1], "y": [np.array([1, 2, 3, 4])]}, huge={"n_features": 10**15})
valid("theory.ntk.primal_value", K.primal_value, np.ones((2, 4)), np.array([0.5, 0.5]), X * YPM[:, None], np.zeros((2, 2)))
valid("theory.ntk.dual_value", K.dual_value, np.ones((2, 4)), np.array([0.5, 0.5]), X * YPM[:, None], np.full(4, 0.25))
valid("theory.ntk.project_simplex", K.project_simplex, np.array([0.2, 0.5, 0.9]))
valid("theory.ntk.random_feature_patterns", K.random_feature_patterns, X, 10, np.random.default_rng(0),
      range={"n_features": [0, -1], "block": [0, -1]}, huge={"n_features": 10**15})
valid("theory.ntk.unique_patterns", K.unique_patterns, np.array([[1, 0], [1, 0], [0, 1]], dtype=bool),
      np.ones(3) / 3)
valid("theory.ntk.jt_width_bound", K.jt_width_bound, 0.1, 0.1, 10, 0.1,
      range={"gamma": [0.0, -1.0], "eps": [0.0, -1.0], "n": [0, -1], "delta": [0.0, 1.5], "eta": [0.0, -1.0]})
valid("theory.ntk.hard_label_budget", K.hard_label_budget, 0.1, 0.1, 10, 0.1,
      range={"gamma": [0.0, -1.0], "eps": [0.0, -1.0], "n": [0, -1], "delta": [0.0, 1.5], "eta": [0.0, -1.0],
             "budget_constant": [0.0, -1.0]})
valid("theory.ntk.initial_output_bound", K.initial_output_bound, 10, 0.1,
      range={"n": [0, -1], "delta": [0.0, 1.5]})
valid("theory.ntk.soft_label_neurons", K.soft_label_neurons, 0.1, 0.1,
      range={"gamma": [0.0, -1.0], "eps": [0.0, -1.0], "c_soft": [0.0, -1.0]})
valid("theory.ntk.hard_label_neurons", K.hard_label_neurons, 0.1, 0.1,
      range={"gamma": [0.0, -1.0], "eps": [0.0, -1.0], "c_hard": [0.0, -1.0]})
valid("theory.ntk.crossover_gamma", K.crossover_gamma, 0.1, range={"eps": [0.0, -1.0], "c_soft": [0.0]})
valid("theory.ntk.crossover_eps", K.crossover_eps, 0.1, range={"gamma": [0.0, -1.0], "branch": [5]})
valid("theory.ntk.soft_floor_bound", K.soft_floor_bound, 0.1, 8.0,
      range={"gamma2": [0.0, -1.0], "width": [0.0, -1.0], "init": ["nope"], "input_norm": [0.0, 1.5]})
valid("theory.ntk.soft_floor_neurons", K.soft_floor_neurons, 0.1, 0.01,
      range={"gamma2": [0.0, -1.0], "eps": [0.0, 1.5], "init": ["nope"], "input_norm": [0.0, 1.5]})
valid("theory.ntk.circle_sectors", K.circle_sectors, 8, 2, 0,
      range={"n": [0, -1], "k": [0, -1], "placement": ["nope"], "label_noise": [-0.1, 1.5]},
      huge={"n": 10**13})
valid("theory.ntk.two_clusters", K.two_clusters, 8, 0.1, 0,
      range={"n": [0, -1], "gap": [-1.0], "d": [0, -1], "label_noise": [-0.1, 1.5]}, huge={"n": 10**13})
valid("theory.ntk.noisy_two_xor", K.noisy_two_xor, 3, none_ok=("n", "seed"),
      range={"d": [0, -1], "variant": ["nope"]}, huge={"d": 10**6})
valid("theory.ntk.flip_labels", K.flip_labels, YPM, 0.25, 0, range={"rate": [-0.1, 1.5]},
      skip={"y": (("empty:zero_rows",), "no labels to flip is valid (returns an empty array)")})
valid("theory.ntk.digits_pair", K.digits_pair, range={"a": [-1, 10], "b": [-1, 10]})
valid("theory.ntk.breast_cancer", K.breast_cancer)
# sims.gd
# lr_max=inf is the default (no cap), and dtype=None means float64 (numpy's np.dtype(None)).
LR_MAX_INF = {"lr_max": (("nonfinite:inf",), "inf is the default lr_max (no cap)")}
valid("sims.gd.binary_data", GD.binary_data, X, YPM, none_ok=("pi",))
valid("sims.gd.classification_data", GD.classification_data, X, Y3, none_ok=("n_classes", "pi"))
valid("sims.gd.logistic_weights", GD.logistic_weights, np.ones((2, 3)))  # d = 3: see theory.ntp above
valid("sims.gd.log_checkpoints", GD.log_checkpoints, 100, range={"total": [-1], "n": [0, -1], "start": [-1]},
      huge={"n": 10**13})
valid("sims.gd.run", GD.run, DATA, 5, 0.5, skip=LR_MAX_INF, none_ok=("dtype",),
      range={"steps": [-1], "lr": [0.0, -1.0], "method": ["nope"], "schedule": ["nope"]},
      )
valid("sims.gd.reference_numpy_run", GD.reference_numpy_run, DATA, 5, 0.5, skip=LR_MAX_INF,
      range={"steps": [-1], "lr": [0.0, -1.0], "method": ["nope"]})
valid("sims.gd.run_ensemble", GD.run_ensemble, DATA, 5, [0.5, 0.25], skip=LR_MAX_INF,
      none_ok=("W0s", "lr", "lrs", "dtype"),
      range={"steps": [-1], "lrs": [[0.0, -1.0]]})
valid("sims.gd.compile_tiny_kernel", GD.compile_tiny_kernel, 3, 5, 2,
      range={"m": [0, -1], "V": [0, -1], "r": [0, -1]})
valid("sims.gd.tiny_kernel_compiled", GD.tiny_kernel_compiled, 3, 5, 2,
      range={"m": [-1], "V": [-1], "r": [-1]})
valid("sims.gd.Trajectory", GD.Trajectory, None, None, None, None, None,
      skip={"*": (("*",), "a result container the engine builds, not user input")})
valid("sims.gd.RunInterrupted", GD.RunInterrupted, None,
      skip={"*": (("*",), "an exception type carrying a partial trajectory")})
# sims.transfer_gd
valid("sims.transfer_gd.train_student", STG.train_student, "sel_ptl", COUNTS, INST.pi_star, 5, 1.0,
      range={"learner": ["nope"], "counts": [-COUNTS], "steps": [-1], "lr": [0.0, -1.0]},
      none_ok=("init_logits", "record", "resume"))
valid("sims.transfer_gd.policies_from_logits", STG.policies_from_logits, np.zeros((3, 4)),
      skip={"logits": (("shape:extra_axis",), "documented: logits of shape (..., S, A), a stack is valid")})
# sims.transfer
valid("sims.transfer.simulate_risk", STR.simulate_risk, INST, "ce_ful", 10, 20, 0,
      range={"learner": ["nope"], "n": [0, -1], "repeats": [0, -1], "method": ["nope"], "seed": [-1]},
      huge={"repeats": 10**15})
# learners=None is documented (all four learners)
valid("sims.transfer.simulate_risks", STR.simulate_risks, INST, ["ce_ful"], 10, 20, 0, none_ok=("chunk", "learners"),
      range={"learners": [["nope"], []], "n": [0, -1], "repeats": [0, -1], "chunk": [0, -1]},
      huge={"repeats": 10**15})
valid("sims.transfer.sample_risks", STR.sample_risks, INST, ["ce_ful"], 10, 20, 0, none_ok=("chunk", "learners"),
      range={"learners": [["nope"], []], "n": [0, -1], "repeats": [0, -1]}, huge={"repeats": 10**15})
valid("sims.transfer.sample_counts", STR.sample_counts, INST, 10, 20, 0,
      range={"n": [-1], "repeats": [0, -1]}, huge={"repeats": 10**15})
valid("sims.transfer.RiskEstimate", STR.RiskEstimate, "ce_ful", 1, 1, 0.0, 0.0, 0.0,
      skip={"*": (("*",), "a result container the simulator builds")})
# sims.twolayer
valid("sims.twolayer.forward", TL.forward, PARAMS, X)
valid("sims.twolayer.converge", TL.converge, X, np.array([0.7, 0.6, 0.3, 0.2]), PARAMS, max_iter=3,
      range={"kind": ["nope"], "targets": [np.array([1, 2, 3, 4.0])], "temperature": [0.0, -1.0],
             "gtol": [0.0, -1.0], "max_iter": [0, -1], "X": [X * 10]})
valid("sims.twolayer.gauss_newton_product", TL.gauss_newton_product, PARAMS, X, np.ones((4, 2)),
      range={"temperature": [0.0, -1.0], "V": [np.ones((2, 4))], "X": [X * 10]})
valid("sims.twolayer.init_two_layer", TL.init_two_layer, 2, 4, 0,
      range={"d": [0, -1], "width": [0, -1], "init": ["nope"], "seed": [-1]}, huge={"width": 10**13})
valid("sims.twolayer.kernel_teacher", TL.kernel_teacher, lambda Z: Z[:, 0], X, range={"temperature": [0.0, -1.0]})
valid("sims.twolayer.loss_and_grad", TL.loss_and_grad, PARAMS, X, YPM,
      range={"kind": ["nope"], "targets": [np.array([1, 2, 3, 4.0])], "temperature": [0.0, -1.0]})
valid("sims.twolayer.reference_numpy_run", TL.reference_numpy_run, X, YPM, PARAMS, 3, 0.5,
      none_ok=("project_radius",), range={"steps": [-1], "lr": [0.0, -1.0], "kind": ["nope"]})
valid("sims.twolayer.run", TL.run, X, YPM, 4, 3, 0.5,
      none_ok=("project_radius", "labels", "record"),
      range={"width": [0, -1], "steps": [-1], "lr": [0.0, -1.0], "kind": ["nope"], "init": ["nope"],
             "X": [X * 10], "project_radius": [0.0, -1.0]},
      huge={"width": 10**13})
valid("sims.twolayer.run_ensemble", TL.run_ensemble, X, YPM, [4], [0], 3, 0.5,
      none_ok=("project_radius", "labels", "record"),
      range={"widths": [[0], []], "seeds": [[-1], []], "steps": [-1], "lr": [0.0, -1.0]},
      huge={"widths": [10**13]})
valid("sims.twolayer.teacher_from_logits", TL.teacher_from_logits, np.array([1.0, -1.0]),
      range={"temperature": [0.0, -1.0], "source": [""]})
valid("sims.twolayer.wide_network_teacher", TL.wide_network_teacher, X, YPM, 4, 3, 0.5,
      range={"width": [0, -1], "steps": [-1], "lr": [0.0, -1.0]}, huge={"width": 10**13})
def _enter_chunk_threads(enabled=True):
    # chunk_threads is a context manager: the switch is read when the block is entered.
    with TL.chunk_threads(enabled):
        pass


valid("sims.twolayer.chunk_threads", _enter_chunk_threads, True)
valid("sims.twolayer.Teacher", TL.Teacher, np.array([1.0, -1.0]), range={"temperature": [0.0, -1.0]})
valid("sims.twolayer.TwoLayerParams", TL.TwoLayerParams, PARAMS.W, PARAMS.a)
valid("sims.twolayer.TwoLayerEnsemble", TL.TwoLayerEnsemble, None, None, None,
      skip={"*": (("*",), "a result container run_ensemble builds")})
valid("sims.twolayer.TwoLayerTrajectory", TL.TwoLayerTrajectory,
      skip={"*": (("*",), "a result container the engine builds")})
# sims.engine
valid("sims.engine.log_checkpoints", E.log_checkpoints, 100, range={"total": [-1], "n": [0, -1], "start": [-1]},
      huge={"n": 10**13})
valid("sims.engine.record_steps", E.record_steps, None, 0, 100, none_ok=("record",),
      range={"record": [-1, np.array([-5, 2])], "k0": [-1], "total": [-1]}, huge={"record": 10**13})
valid("sims.engine.resolve_threads", E.resolve_threads, 1, none_ok=("threads",), range={"threads": [0, -1]})
valid("sims.engine.ThreadScope", E.ThreadScope, 1, none_ok=("n",), range={"n": [0, -1]})
valid("sims.engine.run_segments", E.run_segments, lambda k, n: None, 0, 3,
      none_ok=("progress", "segment_seconds"),
      range={"k0": [-1], "total": [-1], "first_steps": [0, -1], "segment_seconds": [0.0, -1.0]})
valid("sims.engine.wants_progress", E.wants_progress, None, none_ok=("progress",))
valid("sims.engine.Trajectory", E.Trajectory, skip={"*": (("*",), "a result container the engine builds")})
valid("sims.engine.RunInterrupted", E.RunInterrupted, None,
      skip={"*": (("*",), "an exception type carrying a partial trajectory")})
# sims.store
# Any JSON-able value (a string, None, an array) is a valid obj.
valid("sims.store.canonical_json", ST.canonical_json, {"a": 1.0}, range={"obj": [{"a": float("nan")}]},
      skip={"obj": (("type:string", "type:None", "type:array"), "any JSON-able value is valid")})
valid("sims.store.stable_hash", ST.stable_hash, {"a": 1}, range={"length": [0, -1, 1000]},
      skip={"obj": (("type:string", "type:None", "type:array"), "any JSON-able value is valid")})
valid("sims.store.check_store_name", ST.check_store_name, "abc", "value",
      range={"value": ["", "../x", "a/b"]}, skip={"name": (("*",), "the caller's own label for the value")})
valid("sims.store.ResultStore", ST.ResultStore, str(TMP / "store"), none_ok=("root",))
valid("sims.store.atomic_write_text", ST.atomic_write_text, TMP / "atomic.txt", "x",
      skip={"path": (("*",), "filesystem errors (OSError) are the honest answer for a bad path")})
valid("sims.store.Claim", ST.Claim, 1, "host", 0.0, skip={"*": (("*",), "a record read back from a claim file")})
valid("sims.store.StoredRun", ST.StoredRun, "k", "e", {}, {}, {},
      skip={"*": (("*",), "a record the store builds when loading")})
# sims.paper: a tiny manuscript in TMP (the valid calls write its generated/ folder, never the repository's).
PAPER_DIR = TMP / "paper"
(PAPER_DIR / "sections").mkdir(parents=True)
(PAPER_DIR / "main.tex").write_text("\\section{A}\\label{sec:a} \\IBL{sh.jt.lam}, see \\ref{sec:a} \\cite{k}.\n")
(PAPER_DIR / "references.bib").write_text("@misc{k,\n title={T}, year={2020}}\n")
PAPER_OUT = TMP / "paper-generated"
PAPER_OUT.mkdir()
(PAPER_OUT / "numbers.json").write_text('{"source": "none", "numbers": []}')
PAPER_STORE = ST.ResultStore(str(TMP / "paper-store"))
valid("sims.paper.format_value", PA.format_value, 0.5, "sig3", none_ok=("value",),
      range={"style": ["nope"]},
      skip={"value": (("nonfinite:nan", "nonfinite:inf"), "NaN and inf print as n/a (documented)")})
valid("sims.paper.latex_escape", PA.latex_escape, "a_b")
valid("sims.paper.used_keys", PA.used_keys, str(PAPER_DIR), range={"paper_dir": [str(TMP / "no-such-folder")]})
valid("sims.paper.tex_sources", PA.tex_sources, str(PAPER_DIR), range={"paper_dir": [str(TMP / "no-such-folder")]})
valid("sims.paper.lint_numbers", PA.lint_numbers, str(PAPER_DIR), none_ok=("allowed",),
      range={"paper_dir": [str(TMP / "no-such-folder")]})
valid("sims.paper.check_references", PA.check_references, str(PAPER_DIR),
      range={"paper_dir": [str(TMP / "no-such-folder")], "bib": ["no-such.bib"]})
valid("sims.paper.read_numbers", PA.read_numbers, str(PAPER_OUT), range={"outdir": [str(TMP)]})
valid("sims.paper.write_numbers", PA.write_numbers, [], str(TMP / "paper-written"), none_ok=("used",),
      range={"used": ["abc", [1, 2]]})
valid("sims.paper.collect_numbers", PA.collect_numbers, PAPER_STORE,
      none_ok=("measurements", "figure_numbers", "reused"), range={"measurements": [{"no": 1}]})
valid("sims.paper.check_numbers", PA.check_numbers, str(PAPER_OUT), PAPER_STORE, none_ok=("measurements",),
      range={"outdir": [str(TMP)], "measurements": [{"no": 1}]})
valid("sims.paper.generate", PA.generate, PAPER_STORE, str(PAPER_DIR),
      none_ok=("measurements", "figure_numbers", "reused"),
      range={"paper_dir": [str(TMP)], "measurements": [{"no": 1}]})
(TMP / "paper-numbers").mkdir()
valid("sims.paper.figure_state", PA.figure_state, "transfer_fig2", PAPER_STORE, range={"name": ["no_such_figure"]})
valid("sims.paper.stamp_figure_numbers", PA.stamp_figure_numbers, PA.figure_state("transfer_fig2", PAPER_STORE),
      str(TMP / "paper-numbers"), range={"state": [{"figure": "transfer_fig2"}]})
valid("sims.paper.current_figure_numbers", PA.current_figure_numbers, "transfer_fig2", PAPER_STORE,
      str(TMP / "paper-numbers"), range={"name": ["no_such_figure"]})

# Names in the walked __all__ lists that take no input or are result/exception classes
# that users never construct (their fields come from a solver, not from a user).
NOT_WALKED = {
    # no arguments
    "theory.ntp_svm.nonseparable_instance", "sims.engine.blas_controller", "sims.engine.blas_threads",
    "sims.store.default_store_path", "sims.paper.claim_keys", "sims.paper.declared_keys",
    # result containers built by the solvers
    "theory.ntp.DataSubspace", "theory.ntp.FiniteComponent", "theory.ntk.MarginPredictor",
    "theory.ntp_svm.NTPMaxMarginResult", "theory.ntp_svm.FarkasCertificate",
    "theory.ntp_svm.SeparabilityResult", "theory.ntp_svm.NuclearMaxMarginResult",
    "theory.ntp_svm.LogitSplit",
    "theory.maxmargin.KKTCertificate", "theory.maxmargin.BinarySVMResult",
    "theory.maxmargin.MulticlassSVMResult", "theory.maxmargin.WTildeResult",
    "theory.margin.ClarabelPoint", "theory.margin.DenseFarkas", "theory.margin.KKTCertificate",
    "theory.margin.MarginPoint", "theory.margin.MarginSolution",
    "theory.ntp_asymptotics.NTPSecondOrder", "theory.fitting.SlopeFit", "theory.fitting.LinearFit",
    "theory.ntk.NTKMarginResult", "theory.ntk.MarginProgramResult", "theory.ntk.JTWidthBound",
    "sims.twolayer.ConvergedFit",
    # abstract base and exception types
    "theory.margin.ConstraintRows", "theory.margin.MarginSolverError", "theory.margin.NotSeparableError",
    "sims.store.CorruptResult",
    # records: the specs are the package's own code, the numbers come from collect_numbers
    "sims.paper.Spec", "sims.paper.PaperNumber",
}


def public_names() -> list[str]:
    """Qualified names of the functions and classes in the walked ``__all__`` lists."""
    out = []
    for mod_name in MODULES:
        mod = importlib.import_module(mod_name)
        for n in mod.__all__:
            obj = getattr(mod, n)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                out.append(f"{mod_name}.{n}")
    return out


# ------------------------------------------------------------------------ bad calls
class BadCall(collections.namedtuple("BadCall", "func arg kind label call skip_reason")):
    @property
    def id(self):
        return f"{self.func.split('.', 1)[1]}:{self.arg}:{self.kind}:{self.label}"


def _variants(value, none_ok: bool):
    """(kind, label, bad value) derived from one valid argument value."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "fiub":
        if value.dtype.kind in "fi":
            a = np.array(value, dtype=float)
            nan = a.copy()
            nan.flat[0] = np.nan
            inf = a.copy()
            inf.flat[-1] = np.inf
            yield "nonfinite", "nan", nan
            yield "nonfinite", "inf", inf
            yield "type", "complex", a + 1j
        yield "shape", "extra_axis", value[..., None]
        yield "empty", "zero_rows", value[:0]
        yield "type", "string", "abc"
    elif isinstance(value, (bool, np.bool_)):
        yield "type", "string", "yes"
    elif isinstance(value, (int, np.integer)):
        yield "type", "string", "3"
        yield "type", "float", float(value) + 0.5
    elif isinstance(value, float):
        yield "nonfinite", "nan", float("nan")
        yield "nonfinite", "inf", float("inf")
        yield "type", "string", "0.5"
        yield "type", "complex", complex(value, 1.0)
    elif isinstance(value, str):
        yield "type", "int", 3
    elif isinstance(value, (list, tuple)):
        yield "type", "string", "abc"
    elif value is None:
        yield "type", "string", "abc"
        return
    else:  # a data object (NTPData, Instance, Teacher, params, rows, ...)
        yield "type", "string", "abc"
        yield "type", "array", np.zeros(3)
    if value is not None and not none_ok:
        yield "type", "None", None


def bad_calls() -> list[BadCall]:
    calls = []
    for func, spec in VALID.items():
        fn = spec["call"]
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        bound = sig.bind_partial(*spec["args"], **spec["kwargs"]) if sig is not None else None
        arguments = dict(bound.arguments) if bound is not None else {}
        # Keyword arguments with defaults are walked too (their default is the valid value).
        if sig is not None:
            for p in sig.parameters.values():
                if p.name not in arguments and p.default is not inspect._empty and p.kind in (
                        p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                    if callable(p.default) and not isinstance(p.default, type):
                        continue
                    arguments[p.name] = p.default
        kinds: list[tuple[str, str, str, object]] = []
        for arg, value in arguments.items():
            if arg in ("name",) and func.endswith("as_unit_ball_inputs"):
                continue  # the caller's label for the argument, not data
            for kind, label, bad in _variants(value, arg in spec["none_ok"]):
                kinds.append((arg, kind, label, bad))
            for i, bad in enumerate(spec["range"].get(arg, [])):
                kinds.append((arg, "range", f"r{i}", bad))
            if arg in spec["huge"]:
                kinds.append((arg, "huge", "huge", spec["huge"][arg]))
        for arg, kind, label, bad in kinds:
            skip_reason = None
            for key in (arg, "*"):
                if key in spec["skip"]:
                    which, reason = spec["skip"][key]
                    if "*" in which or f"{kind}:{label}" in which:
                        skip_reason = reason
            args_map = dict(arguments)
            args_map[arg] = bad

            def call(fn=fn, args_map=args_map, sig=sig):
                pos, kw = [], {}
                for p in sig.parameters.values():
                    if p.name not in args_map:
                        continue
                    if p.kind == p.POSITIONAL_ONLY:
                        pos.append(args_map[p.name])
                    else:
                        kw[p.name] = args_map[p.name]
                return fn(*pos, **kw)

            calls.append(BadCall(func, arg, kind, label, call, skip_reason))
    return calls


def outcome(bc: BadCall, timeout: float = 5.0) -> tuple[str, str]:
    """('clear' | 'unnamed' | 'obscure' | 'accepted' | 'timeout', detail) of one bad call."""
    def alarm(signum, frame):
        raise TimeoutError(f"bad call did not return in {timeout} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            bc.call()
    except TimeoutError as exc:
        return "timeout", str(exc)
    except (ValueError, TypeError) as exc:
        msg = str(exc)
        if re.search(rf"(?<![A-Za-z0-9_]){re.escape(bc.arg)}(?![A-Za-z0-9_])", msg):
            return "clear", msg
        return "unnamed", f"{type(exc).__name__}: {msg}"
    except BaseException as exc:  # noqa: BLE001 - the walk classifies every failure
        return "obscure", f"{type(exc).__name__}: {exc}"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return "accepted", ""


BAD_CALLS = bad_calls()


# ---------------------------------------------------------------------- known gaps
# One line per bad call that does not give a clear error today: "<id>  <outcome>".
# Regenerate with ``python -m tests.api.test_bad_input --write-gaps`` after a fix (the
# strict xfail below fails when a listed call starts giving a clear error, and the
# walk fails when a call not listed stops giving one).
GAPS_FILE = pathlib.Path(__file__).with_name("known_gaps.txt")


def load_gaps() -> dict[str, str]:
    gaps = {}
    if GAPS_FILE.exists():
        for line in GAPS_FILE.read_text().splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                call_id, _, what = line.partition("  ")
                gaps[call_id] = what.strip()
    return gaps


KNOWN_GAPS = load_gaps()
WALKED = [bc for bc in BAD_CALLS if bc.skip_reason is None]


def test_every_public_function_is_walked():
    names = set(public_names())
    missing = names - set(VALID) - NOT_WALKED
    assert not missing, f"public names with no valid call in VALID (add one, or list in NOT_WALKED): {sorted(missing)}"
    stale = (set(VALID) | NOT_WALKED) - names
    assert not stale, f"names in VALID/NOT_WALKED that are no longer public: {sorted(stale)}"


@pytest.mark.parametrize("name", sorted(n for n, s in VALID.items() if not s["skip"].get("*")
                                        and "*" not in {k for v in s["skip"].values() for k in v[0]}))
def test_valid_call_is_accepted(name):
    # The bad calls are derived from these: a valid call that fails would make every
    # bad call derived from it "clear" for the wrong reason.
    spec = VALID[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec["call"](*spec["args"], **spec["kwargs"])


def test_known_gaps_are_still_bad_calls():
    ids = {bc.id for bc in WALKED}
    stale = sorted(set(KNOWN_GAPS) - ids)
    assert not stale, f"known_gaps.txt lists calls the walk no longer makes: {stale[:10]}"


@pytest.mark.parametrize("bc", WALKED, ids=[bc.id for bc in WALKED])
def test_bad_call_gives_clear_error(bc, request):
    if bc.id in KNOWN_GAPS:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"known gap: {KNOWN_GAPS[bc.id]}"))
    what, detail = outcome(bc)
    assert what == "clear", f"{bc.id}: {what} {detail}"


def tally(calls=None) -> dict:
    """Outcomes of every walked bad call: totals, per kind and per function."""
    calls = WALKED if calls is None else calls
    per_kind = collections.defaultdict(collections.Counter)
    per_func = collections.defaultdict(collections.Counter)
    results = {}
    for bc in calls:
        what, detail = outcome(bc)
        results[bc.id] = (what, detail)
        per_kind[bc.kind][what] += 1
        per_func[bc.func][what] += 1
    total = collections.Counter(w for w, _ in results.values())
    return dict(total=total, per_kind=per_kind, per_func=per_func, results=results)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    t = tally()
    n = sum(t["total"].values())
    skipped = len(BAD_CALLS) - len(WALKED)
    print(f"bad calls tried: {n} to {len(t['per_func'])} public functions and classes "
          f"({skipped} more listed as not applicable)")
    print(f"clear error (ValueError/TypeError naming the argument): {t['total']['clear']}")
    for what in ("unnamed", "obscure", "accepted", "timeout"):
        print(f"  {what}: {t['total'][what]}")
    print("per kind:")
    for kind, c in sorted(t["per_kind"].items()):
        print(f"  {kind:10s} {c['clear']:5d} / {sum(c.values()):5d} clear")
    print("per function (clear / tried):")
    for func, c in sorted(t["per_func"].items()):
        print(f"  {func:55s} {c['clear']:4d} / {sum(c.values()):4d}")
    if "--write-gaps" in argv:
        lines = ["# Bad calls of the API walk that do not give a clear error yet (id  outcome: detail).",
                 "# Generated by `python -m tests.api.test_bad_input --write-gaps`."]
        for call_id, (what, detail) in sorted(t["results"].items()):
            if what != "clear":
                detail = " ".join(detail.split())[:120]
                lines.append(f"{call_id}  {what}: {detail}".rstrip(": "))
        GAPS_FILE.write_text("\n".join(lines) + "\n")
        print(f"wrote {len(lines) - 2} gaps to {GAPS_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
