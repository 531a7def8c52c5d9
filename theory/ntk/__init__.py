r"""The NTK theory of two-layer ReLU nets: kernel, margin γ, width bounds, data families.

The fourth model family of the package ([M25] soft vs hard labels, on the [JT20]
two-layer model; paper, Sec. 'Soft- versus hard-label training of two-layer ReLU networks'). Topic files,
re-exported here:

* ``_kernel``: :func:`first_layer_kernel` :math:`K_1`, :func:`activation_overlap`,
  :func:`gaussian_directions`, :func:`activation_pattern`;
* ``_program``: the finite-neuron margin program (primal SOCP, dual over the simplex,
  certified gap; by Clarabel or by a first-order solver of the dual):
  :func:`solve_margin_program`, :func:`primal_value`, :func:`dual_value`;
* ``_arrangement``: the arcs of :math:`\{x_i^\perp\}` in d = 2 (:func:`arc_cells_2d`);
* ``_margin``: :func:`ntk_margin`, :class:`NTKMarginResult`, :func:`uniform_dual_mc`;
* ``_predictor``: :func:`margin_predictor`, the kernel-limit teacher from the margin program's primal;
* ``_width``: :func:`jt_width_bound` ([JT20] Thm 2.2), :func:`initial_output_bound`, :func:`hard_label_budget`, :func:`soft_label_neurons`,
  :func:`hard_label_neurons`, :func:`crossover_gamma`, :func:`crossover_eps`;
* ``_floor``: :func:`soft_floor_bound`, :func:`soft_floor_neurons` (the soft approximation floor at width m);
* :mod:`theory.ntk.data`: datasets with a controllable γ.

References: [JT20] Z. Ji, M. Telgarsky, ICLR 2020, arXiv 1909.12292; [M25] S. Mandal,
X. Lin, R. Srikant, L4DC 2025 (PMLR 283:1078-1089), arXiv 2412.09579.
"""

from theory.ntk import data
from theory.ntk._arrangement import arc_cells_2d, half_line_cells_1d
from theory.ntk._floor import FLOOR_INITS, soft_floor_bound, soft_floor_neurons
from theory.ntk._kernel import activation_overlap, activation_pattern, first_layer_kernel, gaussian_directions
from theory.ntk._margin import (
    NTKMarginResult,
    check_ntk_data,
    contradictory_pairs,
    kernel_margin,
    linear_margin,
    ntk_margin,
    random_feature_error,
    uniform_dual_mc,
)
from theory.ntk._predictor import MarginPredictor, margin_predictor
from theory.ntk._program import (
    CLARABEL_SOCP_OPTIONS,
    FIRST_ORDER_OPTIONS,
    MARGIN_SOLVERS,
    MarginProgramResult,
    dual_value,
    primal_value,
    project_simplex,
    random_feature_patterns,
    solve_margin_program,
    unique_patterns,
)
from theory.ntk._width import (
    JTWidthBound,
    crossover_eps,
    crossover_gamma,
    hard_label_budget,
    hard_label_neurons,
    initial_output_bound,
    jt_width_bound,
    soft_label_neurons,
)
from theory.ntk.data import (
    as_unit_ball_inputs,
    breast_cancer,
    circle_sectors,
    digits_pair,
    flip_labels,
    noisy_two_xor,
    scale_to_unit_ball,
    two_clusters,
)

__all__ = [
    "as_unit_ball_inputs",
    "scale_to_unit_ball",
    "data",
    "first_layer_kernel", "activation_overlap", "gaussian_directions", "activation_pattern",
    "arc_cells_2d", "half_line_cells_1d",
    "NTKMarginResult", "ntk_margin", "check_ntk_data", "contradictory_pairs", "kernel_margin",
    "linear_margin", "random_feature_error", "uniform_dual_mc",
    "MarginPredictor", "margin_predictor",
    "CLARABEL_SOCP_OPTIONS", "FIRST_ORDER_OPTIONS", "MARGIN_SOLVERS", "MarginProgramResult", "solve_margin_program", "primal_value", "dual_value",
    "project_simplex", "random_feature_patterns", "unique_patterns",
    "FLOOR_INITS", "soft_floor_bound", "soft_floor_neurons",
    "JTWidthBound", "jt_width_bound", "initial_output_bound", "hard_label_budget", "soft_label_neurons", "hard_label_neurons", "crossover_gamma",
    "crossover_eps",
    "circle_sectors", "two_clusters", "noisy_two_xor", "flip_labels", "digits_pair", "breast_cancer",
]
