r"""Knowledge transfer over finite domains: learners, exact risks and bounds of [ZZ23].

A teacher ("reference policy") :math:`\pi^* \in \Delta(\mathcal A|\mathcal S)` labels
inputs drawn from :math:`\rho \in \Delta(\mathcal S)`; the student sees
:math:`n` i.i.d. pairs :math:`(s_i, a_i) \sim \rho\times\pi^*` plus, depending on
the privileged-information level, the teacher's probability of the sampled label
(level 2) or the whole teacher row (level 3). All the learners of [ZZ23] depend
on the data only through the count matrix :math:`n_{s,a}` (and :math:`\pi^*` on
the rows and labels the level reveals), so this module works with the
(S, A) integer matrix ``counts``; :math:`n_s = \sum_a n_{s,a}`.

Learners (``LEARNERS``, [ZZ23] sections 3-5), for a seen input :math:`n_s > 0`:

.. math::

    \hat\pi_{\text{ce\_sgl}}(a|s) &= \frac{n_{s,a}}{n_s}
        \quad\text{(MLE, level 1, Thm 3.2)}\\
    \hat\pi_{\text{ce\_ptl}}(a|s) &= \frac{n_{s,a}\pi^*(a|s)}{\sum_b n_{s,b}\pi^*(b|s)}
        \quad\text{(partial cross-entropy, level 2, Thm 4.3)}\\
    \hat\pi_{\text{sel\_ptl}}(a|s) &= \begin{cases}\pi^*(a|s) & n_{s,a} > 0\\
        \frac{1-\sum_{b: n_{s,b}>0}\pi^*(b|s)}{\#\{b : n_{s,b} = 0\}} & n_{s,a} = 0
        \end{cases}\quad\text{(empirical squared-error logit, level 2, Thm 4.4)}\\
    \hat\pi_{\text{ce\_ful}}(a|s) &= \pi^*(a|s)
        \quad\text{(full cross-entropy = KL minimiser, level 3, Thm 5.2)}

and every learner outputs :math:`\mathrm{Uniform}(\mathcal A)` at unseen inputs
(the experiment convention of [ZZ23] section 6). The risk is the
:math:`\rho`-weighted total variation
:math:`\mathrm{TV}(\hat\pi, \pi^*|\rho) = \sum_s \rho(s)\,\tfrac12\|\hat\pi(\cdot|s)
- \pi^*(\cdot|s)\|_1`.

Indexing: inputs are ``0..S-1`` and labels ``0..A-1``; the paper's label
:math:`a \in \{1, \dots, A\}` is column ``a - 1`` here (so the paper's odd labels
:math:`2j-1` are the even columns ``0, 2, 4, ...``).

Slips of the paper that this module corrects (paper, Sec. 'Knowledge transfer over finite domains'
section 6): Instance 3 uses Instance 2's :math:`\pi^*` (the text says "same as
Instance 3"); the light-input mass of the Thm 5.1 construction (C.4) is
:math:`1-(S-1)/(n+1)` on the heavy input, not :math:`1 - S^{-1}/(n+1)`; Lemma E.5
reads :math:`x(1-x)^n \le 4/(9n)`, not :math:`(4/9)n`.

The package is split by topic: ``_instances`` (instances and where they exist),
``_learners`` (learners, TV risk), ``_exact`` (exact expected risks), ``_limits``
(large-n limits) and ``_bounds`` (minimax bounds and their ranges of validity) and ``_gd`` (the learners
trained by gradient descent on tabular logits: their NTP form, the mass GD keeps on
unobserved labels, the SEL_ptl limit; derivation in ``paper/transfer_gd.md``).

Contents: the instances of [ZZ23] section 6 (:func:`instance0` ... :func:`instance3`,
:func:`build_instance` by name) and where they exist (:func:`instance_min_n`,
:func:`instance_exists`);
the learners (:func:`estimate`) and the risk (:func:`tv_risk`); exact expected
risks at finite n (:func:`expected_risk_ce_ful` for any instance,
:func:`expected_risk_ce_sgl` for any instance, :func:`expected_risk_ce_ptl` for rows
"one odd label + equal others", :func:`expected_risk_sel_ptl_instance2`); limits
(:func:`partial_ce_limit`, :func:`ce_ptl_limit_risk` and the :math:`n\,\mathbb E\,\mathrm{TV}`
limits on Instances 2 and 3); the lower bounds of Thms 3.1, 4.1, 5.1 and the upper
bounds of Thms 3.2, 4.4, 5.2, with the theorems' ranges of validity
(:func:`lower_bound_holds`, :data:`INSTANCE_LEVEL`). Experiments and figures ask these
functions instead of restating the conditions.

Provenance: formulas marked (derived here) are not printed in [ZZ23]; their derivation
is in the docstring and they are checked against brute-force enumeration and
Monte Carlo in ``tests/theory/test_transfer.py`` and ``tests/sims/test_transfer.py``.

References
----------
.. [ZZ23] Q. Zhao, B. Zhu, "Towards the Fundamental Limits of Knowledge Transfer
   over Finite Domains", ICLR 2024, arXiv 2310.07838.

Examples
--------
>>> import numpy as np
>>> from theory import transfer
>>> inst = transfer.instance0(2, 3)
>>> counts = np.array([[3, 1, 0], [0, 0, 0]])
>>> transfer.estimate("ce_sgl", counts, inst.pi_star)[0].round(3).tolist()
[0.75, 0.25, 0.0]
>>> transfer.estimate("ce_sgl", counts, inst.pi_star)[1].round(3).tolist()
[0.333, 0.333, 0.333]
"""

from __future__ import annotations

from theory.transfer._bounds import (
    lower_bound,
    lower_bound_holds,
    lower_bound_level1,
    lower_bound_level2,
    lower_bound_level3,
    upper_bound_ce_ful_expectation,
    upper_bound_ce_ful_hp,
    upper_bound_mle_expectation,
    upper_bound_mle_hp,
    upper_bound_sel_ptl_hp,
    xi,
    xi_tilde,
)
from theory.transfer._common import (
    LEARNERS,
    SUM_TOL,
)
from theory.transfer._exact import (
    expected_missing_mass,
    expected_risk_ce_ful,
    expected_risk_ce_ptl,
    expected_risk_ce_sgl,
    expected_risk_sel_ptl_instance2,
)
from theory.transfer._gd import (
    GD_CE_LEARNERS,
    gd_ntp_weights,
    gd_population_weights,
    gd_loss,
    gd_loss_gradient,
    unobserved_mass_constant,
    gd_relaxation_steps,
    gd_policy_prediction,
    gd_contraction,
    sel_ptl_gd_limit,
    sel_ptl_relaxation_steps,
)
from theory.transfer._instances import (
    INSTANCE_KINDS,
    INSTANCE_LEVEL,
    Instance,
    build_instance,
    instance0,
    instance1,
    instance2,
    instance3,
    instance_exists,
    instance_min_n,
)
from theory.transfer._learners import (
    estimate,
    tv_risk,
    tv_to_uniform,
)
from theory.transfer._limits import (
    ce_ful_limit_instance3,
    ce_ptl_limit_instance2,
    ce_ptl_limit_risk,
    ce_sgl_limit_instance2,
    mle_risk_normal_approx,
    partial_ce_limit,
    sel_ptl_limit_instance2,
)

__all__ = [
    "LEARNERS",
    "SUM_TOL",
    "INSTANCE_KINDS",
    "INSTANCE_LEVEL",
    "Instance",
    "instance_min_n",
    "instance_exists",
    "build_instance",
    "lower_bound_holds",
    "lower_bound",
    "instance0",
    "instance1",
    "instance2",
    "instance3",
    "estimate",
    "tv_risk",
    "tv_to_uniform",
    "partial_ce_limit",
    "ce_ptl_limit_risk",
    "expected_missing_mass",
    "expected_risk_ce_ful",
    "expected_risk_ce_sgl",
    "expected_risk_ce_ptl",
    "expected_risk_sel_ptl_instance2",
    "sel_ptl_limit_instance2",
    "ce_sgl_limit_instance2",
    "ce_ptl_limit_instance2",
    "ce_ful_limit_instance3",
    "mle_risk_normal_approx",
    "xi",
    "xi_tilde",
    "lower_bound_level1",
    "lower_bound_level2",
    "lower_bound_level3",
    "upper_bound_mle_hp",
    "upper_bound_mle_expectation",
    "upper_bound_sel_ptl_hp",
    "upper_bound_ce_ful_hp",
    "upper_bound_ce_ful_expectation",
    "GD_CE_LEARNERS",
    "gd_ntp_weights",
    "gd_population_weights",
    "gd_loss",
    "gd_loss_gradient",
    "unobserved_mass_constant",
    "gd_relaxation_steps",
    "gd_policy_prediction",
    "gd_contraction",
    "sel_ptl_gd_limit",
    "sel_ptl_relaxation_steps",
]
