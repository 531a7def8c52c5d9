"""The curated list of plausible math bugs the test suite must catch (issue 11).

Each :class:`Mutation` replaces one snippet (which must occur exactly once in its file)
and names the test node ids that should fail with the bug in place. The node ids are
default-tier tests (not ``slow``), so a mutation run takes seconds to a few minutes.

Engine mutations (``engine=True``) target the Numba kernels, which another branch is
rewriting; when their snippet is gone the harness reports ``skipped`` with the missing
snippet, and the entry must be updated to the new kernel text.
"""

from __future__ import annotations

import dataclasses

__all__ = ["Mutation", "MUTATIONS", "by_id"]


@dataclasses.dataclass(frozen=True)
class Mutation:
    """One plausible bug.

    Attributes
    ----------
    id : str
        Short unique name (``area-what``).
    file : str
        Path relative to the repository root.
    original : str
        Text that must occur exactly once in ``file``.
    replacement : str
        The buggy text put in its place.
    bug : str
        The kind of bug modelled (dropped factor, flipped sign, wrong mask, missing term,
        off-by-one, swapped argument) and where.
    tests : tuple of str
        pytest node ids (relative to the repository root) that must fail.
    engine : bool
        True for the Numba engine, whose text may change under another branch.
    """

    id: str
    file: str
    original: str
    replacement: str
    bug: str
    tests: tuple[str, ...]
    engine: bool = False


T_NTP = "tests/theory/test_ntp.py::"
T_MM = "tests/theory/test_maxmargin.py::"
T_ASY = "tests/theory/test_ntp_asymptotics.py::"
T_TR = "tests/theory/test_transfer.py::"
T_FIT = "tests/theory/test_fitting.py::"
T_GD = "tests/sims/linear_softmax/test_run.py::"
T_ONE = "tests/sims/test_onehot_experiment.py::"

_LOSSES = "theory/ntp/_losses.py"
_BOUNDS = "theory/ntp/_bounds.py"
_SUB = "theory/ntp/_subspace.py"
_MM = "theory/maxmargin.py"
_ASY = "theory/ntp_asymptotics.py"
_CHUNKS = "sims/linear_softmax/_chunks.py"

MUTATIONS: tuple[Mutation, ...] = (
    # ------------------------------------------------------------------ theory.ntp losses
    Mutation(
        "ntp-loss-drop-pi", _LOSSES,
        "return float(data.pi @ np.where(data.support, data.P * neg_logsm, 0.0).sum(axis=1))",
        "return float(np.where(data.support, data.P * neg_logsm, 0.0).sum())",
        "dropped factor pi_j: the NTP loss sums contexts unweighted",
        (T_NTP + "test_gradient_and_loss_match_sympy", T_NTP + "test_ce_equals_entropy_plus_gap"),
    ),
    Mutation(
        "ntp-gradient-drop-pi", _LOSSES,
        "return (R * data.pi[:, None]).T @ data.H",
        "return R.T @ data.H",
        "dropped factor pi_j in the gradient",
        (T_NTP + "test_gradient_matches_central_differences", T_NTP + "test_gradient_and_loss_match_sympy"),
    ),
    Mutation(
        "ntp-residual-sign", _LOSSES,
        "r_in = delta - q * sig",
        "r_in = delta + q * sig",
        "flipped sign of the out-of-support correction of the in-support residual",
        (T_NTP + "test_gradient_matches_central_differences",
         T_NTP + "test_in_support_residual_matches_mpmath_in_large_gap_regime"),
    ),
    Mutation(
        "ntp-residual-mask", _LOSSES,
        "return np.where(S, r_in, r_out)",
        "return np.where(S, r_in, 0.0)",
        "wrong support mask: the out-of-support residual is dropped",
        (T_NTP + "test_gradient_matches_central_differences",),
    ),
    Mutation(
        "ntp-entropy-sign", _LOSSES,
        "return float(-(pi * t.sum(axis=1)).sum())",
        "return float((pi * t.sum(axis=1)).sum())",
        "flipped sign of the entropy",
        (T_NTP + "test_entropy_from_arrays_is_the_entropy_formula", T_NTP + "test_ce_equals_entropy_plus_gap"),
    ),
    Mutation(
        "ntp-entropy-drop-pi", _LOSSES,
        "return float(-(pi * t.sum(axis=1)).sum())",
        "return float(-(t.sum(axis=1)).sum())",
        "dropped factor pi_j in the entropy",
        (T_NTP + "test_entropy_from_arrays_is_the_entropy_formula", T_NTP + "test_ce_equals_entropy_plus_gap"),
    ),
    Mutation(
        "ntp-gap-missing-term", _LOSSES,
        "return np.where(wmax <= 50.0, small, big) + off",
        "return np.where(wmax <= 50.0, small, big)",
        "missing term log(1 + eps_j) (out-of-support mass) in the loss gap",
        (T_NTP + "test_ce_equals_entropy_plus_gap", T_NTP + "test_loss_gap_matches_mpmath_for_generic_W"),
    ),
    Mutation(
        "ntp-log-odds-sign", _LOSSES,
        "diff = (L[rows, a][:, None] - L) - (data.log_P[rows, a][:, None] - data.log_P)",
        "diff = (L[rows, a][:, None] - L) + (data.log_P[rows, a][:, None] - data.log_P)",
        "flipped sign of the target log-odds",
        (T_NTP + "test_finite_component_solves_log_odds_inside_F",),
    ),
    # ------------------------------------------------------------------ theory.ntp bounds
    Mutation(
        "ntp-smoothness-drop-half", _BOUNDS,
        "return 0.5 * float(np.linalg.eigvalsh(gram).max())",
        "return float(np.linalg.eigvalsh(gram).max())",
        "dropped factor 1/2 (lambda_max(diag(s) - ss^T) <= 1/2) in the smoothness bound",
        (T_NTP + "test_smoothness_bound_is_a_lipschitz_constant_of_the_gradient",
         T_NTP + "test_smoothness_bound_is_attained_with_one_shared_embedding"),
    ),
    Mutation(
        "ntp-smoothness-drop-pi", _BOUNDS,
        "gram = (data.pi[:, None] * data.H).T @ data.H",
        "gram = data.H.T @ data.H",
        "dropped factor pi_j in the weighted Gram matrix of the smoothness bound",
        (T_NTP + "test_smoothness_bound_is_a_lipschitz_constant_of_the_gradient",
         T_NTP + "test_smoothness_bound_is_attained_with_one_shared_embedding"),
    ),
    Mutation(
        "ntp-genie-drop-sqrt2", _BOUNDS,
        "M = np.sqrt(2.0) * np.max(np.linalg.norm(data.H, axis=1))",
        "M = np.max(np.linalg.norm(data.H, axis=1))",
        "dropped factor sqrt(2) (|e_z - e_v| = sqrt 2) in the genie bound",
        (T_NTP + "test_genie_bound_closed_form_on_orthonormal_embeddings",
         T_NTP + "test_log_gap_has_slope_minus_one_along_genie_ray"),
    ),
    Mutation(
        "ntp-genie-drop-V", _BOUNDS,
        "out = data.V * np.exp(np.linalg.norm(Ws) * M - R)",
        "out = np.exp(np.linalg.norm(Ws) * M - R)",
        "dropped factor V in the genie bound",
        (T_NTP + "test_genie_bound_closed_form_on_orthonormal_embeddings",
         T_NTP + "test_log_gap_has_slope_minus_one_along_genie_ray"),
    ),
    # ------------------------------------------------------------------ theory.ntp subspace
    Mutation(
        "ntp-finite-component-swap", _SUB,
        "b = (data.log_P[jj, aa] - data.log_P[jj, zz]) / self.row_norms",
        "b = (data.log_P[jj, zz] - data.log_P[jj, aa]) / self.row_norms",
        "swapped arguments (anchor and token) in the log-odds right-hand side of W*",
        (T_NTP + "test_finite_component_solves_log_odds_inside_F", T_NTP + "test_orthonormal_embeddings_closed_forms"),
    ),
    Mutation(
        "ntp-gram-no-rank-check", _SUB,
        "if not ev[0] > floor:",
        "if not ev[0] > -floor:",
        "the Gram path's independence check accepts dependent generators (singular Gram matrix)",
        (T_NTP + "test_dense_path_falls_back_to_the_svd_for_dependent_generators",),
    ),
    Mutation(
        "ntp-dim-F-off-by-one", _SUB,
        "self.dim = int(np.sum(data.support_sizes - 1))",
        "self.dim = int(np.sum(data.support_sizes))",
        "off-by-one: dim F counts |S_j| instead of |S_j| - 1 per context (blocks method)",
        (T_NTP + "test_dim_F_is_sum_of_support_sizes_minus_one_for_full_rank_H",
         T_NTP + "test_projections_are_complementary_orthogonal_projectors"),
    ),
    # ------------------------------------------------------------------ theory.maxmargin
    Mutation(
        "mm-binary-margin-square", _MM,
        "margin=1.0 / float(np.linalg.norm(w_fin)),",
        "margin=1.0 / float(np.linalg.norm(w_fin)) ** 2,",
        "wrong power: margin 1/|w|^2 instead of 1/|w|",
        (T_MM + "test_binary_svm_single_point_closed_form", T_MM + "test_binary_svm_two_support_vectors_closed_form"),
    ),
    Mutation(
        "mm-binary-wtilde-swap", _MM,
        "rhs = np.log(lr / svm.alpha[sv])",
        "rhs = np.log(svm.alpha[sv] / lr)",
        "swapped arguments in eta exp(-z_s w~) = alpha_s (sign of the offsets)",
        (T_MM + "test_binary_w_tilde_matches_gd",),
    ),
    Mutation(
        "mm-multiclass-init-centering", _MM,
        "C = np.eye(K) - 1.0 / K",
        "C = np.eye(K)",
        "missing term: the class-mean of W0 (which GD never moves) is projected out of w~",
        (T_MM + "test_multiclass_w_tilde_keeps_what_gd_never_moves", T_MM + "test_multiclass_w_tilde_matches_gd"),
    ),
    Mutation(
        "mm-soudry-margin-unweighted", _MM,
        "c_margin = float(np.log(a_s).max() - (a_s @ np.log(a_s)) / a_s.sum()) / nw",
        "c_margin = float(np.log(a_s).max() - np.log(a_s).mean()) / nw",
        "dropped weights alpha_s in the mean log multiplier of the margin-gap constant",
        (T_MM + "test_soudry_constants_are_the_limits_of_the_expansion",),
    ),
    Mutation(
        "mm-soudry-cos-drop-half", _MM,
        '"one_minus_cos_times_log2_k": 0.5 * c_dir**2,',
        '"one_minus_cos_times_log2_k": c_dir**2,',
        "dropped factor 1/2 in 1 - cos = |u - u_hat|^2 / 2",
        (T_MM + "test_soudry_constants_are_the_limits_of_the_expansion",),
    ),
    Mutation(
        "mm-soudry-direction-no-projection", _MM,
        "perp = wt - (u @ wt) * u",
        "perp = wt",
        "missing term: the direction constant uses |w~| instead of |P_perp w~|",
        (T_MM + "test_soudry_constants_are_the_limits_of_the_expansion",),
    ),
    Mutation(
        "mm-soudry-loss-power", _MM,
        '"loss_times_k": nw**2 / lr_eff,',
        '"loss_times_k": nw / lr_eff,',
        "wrong power: k L(W_k) -> |W_hat| / eta instead of |W_hat|^2 / eta",
        (T_MM + "test_soudry_constants_are_the_limits_of_the_expansion",),
    ),
    Mutation(
        "mm-soudry-rate-off-by-one", _MM,
        '"residual_rate": float(min(lam_min, theta - 1.0, 1.0)),',
        '"residual_rate": float(min(lam_min, theta, 1.0)),',
        "off-by-one: the non-support exponent theta instead of theta - 1",
        (T_ASY + "test_one_hot_rate_exponent_matches_soudry_predictions",),
    ),
    # ------------------------------------------------------------------ theory.ntp_asymptotics
    Mutation(
        "asy-offsets-drop-pi", _ASY,
        "b = np.log(lr * data.pi[j] / lam) + u[j, v]",
        "b = np.log(lr / lam) + u[j, v]",
        "dropped factor pi_j in the W~ equations eta pi_j exp(...) = lambda",
        (T_ASY + "test_orthonormal_closed_forms", T_ASY + "test_spanning_instance_residual_rate_and_masses",
         T_ASY + "test_one_hot_reduces_to_multiclass_w_tilde"),
    ),
    Mutation(
        "asy-offsets-missing-u", _ASY,
        "b = np.log(lr * data.pi[j] / lam) + u[j, v]",
        "b = np.log(lr * data.pi[j] / lam)",
        "missing term: the W* log-probabilities u_{j,v} in the W~ equations",
        (T_ASY + "test_orthonormal_closed_forms", T_ASY + "test_spanning_instance_residual_rate_and_masses"),
    ),
    Mutation(
        "asy-rate-off-by-one", _ASY,
        "nu = float(min(1.0, kappa - 1.0, restoring))",
        "nu = float(min(1.0, kappa, restoring))",
        "off-by-one: non-active margin kappa instead of kappa - 1 in nu",
        (T_ASY + "test_one_hot_rate_exponent_matches_soudry_predictions", T_ASY + "test_orthonormal_closed_forms"),
    ),
    Mutation(
        "asy-E-drop-lr", _ASY,
        "return (Q.T @ c).reshape(V, d) / lr, mu_F",
        "return (Q.T @ c).reshape(V, d), mu_F",
        "dropped factor 1/eta in the finite-part correction E",
        (T_ASY + "test_finite_part_correction_E_over_k",),
    ),
    Mutation(
        "asy-E-push-sign", _ASY,
        'push = np.einsum("a,av,ad->vd", lam, data.P[j] - np.eye(V)[v], data.H[j])',
        'push = np.einsum("a,av,ad->vd", lam, np.eye(V)[v] - data.P[j], data.H[j])',
        "flipped sign of the push of the active pairs on F",
        (T_ASY + "test_finite_part_correction_E_over_k",),
    ),
    Mutation(
        "asy-resonance-missing-nonactive", _ASY,
        "h += (A @ Ac.T) @ amp",
        "h += 0 * ((A @ Ac.T) @ amp)",
        "missing term: the resonant forcing of the non-active pairs in the log coefficient c1",
        (T_ASY + "test_toy_remainder_has_the_resonant_log_factor",),
    ),
    Mutation(
        "asy-quasi-static-sign", _ASY,
        "G = data.pi[:, None] * (S.sum(axis=1, keepdims=True) * data.P - S)",
        "G = data.pi[:, None] * (S - S.sum(axis=1, keepdims=True) * data.P)",
        "flipped sign of the off-support push in the quasi-static correction E(W_k)",
        (T_ASY + "test_quasi_static_correction_at_the_limit_masses_is_E",),
    ),
    Mutation(
        "asy-mass-ratio-drop-pi", _ASY,
        "out[i] = np.exp(np.log(kk[i] * self.lr * self._pi[j] / self.multipliers) + logs)",
        "out[i] = np.exp(np.log(kk[i] * self.lr / self.multipliers) + logs)",
        "dropped factor pi_j in the mass ratio k eta pi_j p_{j,v} / lambda",
        (T_ASY + "test_spanning_instance_residual_rate_and_masses",),
    ),
    # ------------------------------------------------------------------ theory.transfer
    Mutation(
        "tr-lower2-factor", "theory/transfer/_bounds.py",
        "S * (A - 1) / (4.0 * math.e * (n + 1.0))",
        "S * (A - 1) / (2.0 * math.e * (n + 1.0))",
        "factor 2 in the level-2 lower bound constant",
        (T_TR + "test_bounds_reproduce_spec_numbers",),
    ),
    Mutation(
        "tr-lower3-off-by-one", "theory/transfer/_bounds.py",
        "(S - 1) / (2.0 * math.e * (n + 1.0))",
        "(S - 1) / (2.0 * math.e * n)",
        "off-by-one: n instead of n + 1 in the level-3 lower bound",
        (T_TR + "test_bounds_reproduce_spec_numbers", T_TR + "test_lower_bound_level3_on_its_vertex"),
    ),
    Mutation(
        "tr-mle-expectation-drop-half", "theory/transfer/_bounds.py",
        "np.sqrt(A / (2.0 * n)) * root_sum",
        "np.sqrt(A / n) * root_sum",
        "dropped factor 1/2 under the root of the MLE expectation bound",
        (T_TR + "test_bounds_reproduce_spec_numbers", T_TR + "test_mle_expectation_bound_uses_rho"),
    ),
    Mutation(
        "tr-unseen-off-by-one", "theory/transfer/_exact.py",
        "np.exp(n * np.log1p(-np.minimum(rho, 1.0)))",
        "np.exp((n - 1) * np.log1p(-np.minimum(rho, 1.0)))",
        "off-by-one: (1 - rho)^(n-1) as the probability that an input is unseen in n draws",
        (T_TR + "test_expected_missing_mass_sympy",),
    ),
    Mutation(
        "tr-tv-drop-half", "theory/transfer/_learners.py",
        "return 0.5 * np.abs(pi_hat - pi_star).sum(axis=-1)",
        "return np.abs(pi_hat - pi_star).sum(axis=-1)",
        "dropped factor 1/2 in the total-variation distance",
        (T_TR + "test_estimates_are_distributions_and_respect_risk_bounds",
         T_TR + "test_expected_risk_ce_sgl_reproduces_spec_check3"),
    ),
    Mutation(
        "tr-ptl-drop-pi", "theory/transfer/_learners.py",
        "weights = counts * pi_star",
        "weights = counts",
        "dropped factor pi*: the partial-CE estimate becomes the empirical one",
        (T_TR + "test_estimate_hand_example",),
    ),
    Mutation(
        "tr-sel-fill-not-shared", "theory/transfer/_learners.py",
        "fill = unseen_mass / np.maximum(n_unseen, 1)",
        "fill = unseen_mass",
        "missing division: the leftover mass is given to every unseen label",
        (T_TR + "test_estimate_hand_example",),
    ),
    Mutation(
        "tr-mad-binomial-index", "theory/transfer/_exact.py",
        "out = M * r - t + 2.0 * (t * F - M * r * F1)",
        "out = M * r - t + 2.0 * (t * F - M * r * F)",
        "wrong term: Binomial(M, r) CDF where the identity needs Binomial(M - 1, r) at k - 1",
        (T_TR + "test_expected_risk_ce_ptl_matches_enumeration",),
    ),
    Mutation(
        "tr-ce-sgl-drop-half", "theory/transfer/_exact.py",
        "parts.append(float(stats.binom.pmf(ms, n, rho_s) @ (mad / (2.0 * ms))))",
        "parts.append(float(stats.binom.pmf(ms, n, rho_s) @ (mad / ms)))",
        "dropped factor 1/2 (TV) in the exact single-input CE risk",
        (T_TR + "test_expected_risk_ce_sgl_matches_enumeration",),
    ),
    Mutation(
        "tr-de-moivre-factor", "theory/transfer/_exact.py",
        "return 2.0 * nu * (1.0 - r) * stats.binom.pmf(nu, M, r)",
        "return 2.0 * nu * r * stats.binom.pmf(nu, M, r)",
        "wrong factor in de Moivre's mean absolute deviation: r where (1 - r) belongs",
        (T_TR + "test_expected_risk_ce_sgl_one_input_is_the_binomial_mean_absolute_deviation",
         T_TR + "test_expected_risk_ce_sgl_matches_enumeration"),
    ),
    # ------------------------------------------------------------------ theory.fitting
    Mutation(
        "fit-window-open", "theory/fitting.py",
        "mask &= (x >= lo) & (x <= hi)",
        "mask &= (x > lo) & (x <= hi)",
        "off-by-one in the rate window: the left end point is excluded",
        (T_FIT + "test_exact_power_law_and_window",),
    ),
    Mutation(
        "fit-ci-dof", "theory/fitting.py",
        "q = stats.t.ppf(0.5 + level / 2, t.size - 2)",
        "q = stats.t.ppf(0.5 + level / 2, t.size - 1)",
        "off-by-one in the degrees of freedom of the slope's confidence interval",
        (T_FIT + "test_ci_matches_textbook_formula",),
    ),
    # ------------------------------------------------------------------ sims experiments
    Mutation(
        "onehot-binary-step-factor", "sims/experiments/onehot.py",
        "lr_eff = 2.0 * lr  # GD step lr on W",
        "lr_eff = lr  # GD step lr on W",
        "dropped factor 2: GD step lr on W = (w_0, w_1) is step 2 lr on w = w_0 - w_1",
        (T_ONE + "test_w_minus_w_hat_log_k_converges_to_w_tilde",),
    ),
    # ------------------------------------------------------------------ engine (Numba)
    Mutation(
        "gd-step-sign", _CHUNKS,
        "    for v in range(v0, v1):\n        for t in range(r):\n            Wr[v, t] -= s * Gb[v, t]",
        "    for v in range(v0, v1):\n        for t in range(r):\n            Wr[v, t] += s * Gb[v, t]",
        "flipped sign of the GD step (ascent) in the chunked primal update",
        # the chunked kernels run only above a size threshold, which this test lowers to 0
        (T_GD + "test_kernel_paths_are_bitwise_identical",),
        engine=True,
    ),
    Mutation(
        "gd-power-schedule-off-by-one", "sims/linear_softmax/_metrics.py",
        "return lr / (k + 1.0) ** hp[HP_POWER]",
        "return lr / (k + 2.0) ** hp[HP_POWER]",
        "off-by-one in the step index of the power schedule",
        (T_GD + "test_schedules_match_numpy_reference",),
        engine=True,
    ),
    Mutation(
        "gd-dense-residual-drop-pi", _CHUNKS,
        "Rt[v, j] = pi_j * np.exp(Lt[c, v, jj] - mm - lz)",
        "Rt[v, j] = np.exp(Lt[c, v, jj] - mm - lz)",
        "dropped factor pi_j in the out-of-support residual of the plain-softmax fallback kernel",
        # the fallback runs only for contexts whose out-of-support logits overflow the split form,
        # which this test arranges (an out-of-support logit ~650 above the support)
        (T_GD + "test_size_specialised_tiny_kernel_is_bitwise_the_generic_one",),
        engine=True,
    ),
    Mutation(
        "gd-dense-residual-sign", _CHUNKS,
        "Rt[v, j] = pi_j * (np.exp(Lt[c, v, jj] - mm - lz) - sup_p[j, i])",
        "Rt[v, j] = pi_j * (sup_p[j, i] - np.exp(Lt[c, v, jj] - mm - lz))",
        "flipped sign of the in-support residual of the plain-softmax fallback kernel",
        # the fallback runs only for contexts whose out-of-support logits overflow the split form,
        # which this test arranges (an out-of-support logit ~650 above the support)
        (T_GD + "test_size_specialised_tiny_kernel_is_bitwise_the_generic_one",),
        engine=True,
    ),
)


def by_id(ids) -> tuple[Mutation, ...]:
    """The mutations with the given ids, in list order; unknown ids raise ``ValueError``."""
    ids = list(ids)
    known = {m.id: m for m in MUTATIONS}
    bad = [i for i in ids if i not in known]
    if bad:
        raise ValueError(f"unknown mutation id(s) {bad}; known ids: {sorted(known)}")
    return tuple(m for m in MUTATIONS if m.id in set(ids))
