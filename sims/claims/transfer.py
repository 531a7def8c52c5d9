"""Claims of Zhao & Zhu (ICLR 2024) and the transfer checks T.k (the paper's appendix "Checks").

Experiments: ``transfer_fig2`` (Instances 1-3, log n grid), ``transfer_fig1``
(Instance 0) and ``transfer_hp`` (the upper tail of the risk, for the high-probability
bounds). Slopes are least-squares log-log fits (:func:`theory.fitting.loglog_slope`)
over the fit window of :func:`sims.experiments.transfer.fig2_fit_mask`; the predicted
slope is the exponent of the matching theorem's lower bound over the same window
(:func:`theory.transfer.lower_bound`: :math:`n^{-1/2}` at level 1, :math:`1/(n+1)` at
levels 2 and 3), so no exponent is typed here.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import binom

from sims.claims._measure import latest_runs, provenance
from sims.claims._record import FAMILY_ALPHA, FAMILY_SIZE, MC_KIND, SLOPE_KIND, Z_FAMILY, Claim, Measurement, Missing, Tolerance
from sims.experiments.transfer import Fig1Config, Fig2Config, fig2_fit_mask
from theory import transfer as tt
from theory.fitting import loglog_slope

__all__ = ["CLAIMS"]

_FIG2 = "ibl run transfer_fig2 --quick"
_FIG1 = "ibl run transfer_fig1 --quick"
#: checks T.3-T.8: the slopes are stated over n in [1e3, 1e6]
_N_TOP = Fig2Config().n_max

# (learner, level whose lower-bound exponent is the predicted rate, check)
_SLOPE_TOL = Tolerance(0.03, "checks T.3, T.5, T.6, T.8: slope within ±0.03 of the rate")
_SLOPES = {
    "instance1": (("ce_sgl", 1, "check T.3 (Thm 3.1 rate, Fig. 2)"),),
    "instance2": (("sel_ptl", 2, "check T.5 (Thm 4.1 rate, Fig. 2)"), ("ce_sgl", 2, "check T.8 (benign-case MLE)")),
    "instance3": (("ce_ful", 3, "check T.6 (Thm 5.1 rate, Fig. 2)"), ("ce_sgl", 3, "check T.8 (benign-case MLE)")),
}


def _panel_runs(store, experiment: str, label: str):
    got = latest_runs(store, experiment)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    mine = [r for r in runs if r.point.panel == label]
    if not mine:
        return Missing(f"the latest {experiment} sweep has no panel {label!r}")
    return manifest, mine


def _slope_measure(label: str, learner: str):
    def measure(store):
        got = _panel_runs(store, "transfer_fig2", label)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        p = runs[0].point
        n = np.array([r.point.n for r in runs], dtype=np.float64)
        mean = np.array([getattr(r.result.mean, learner) for r in runs])
        keep = fig2_fit_mask(p.instance, p.S, p.A, n) & (mean > 0)
        if keep.sum() < 3:
            return Missing(f"fewer than 3 sample sizes with positive risk in the fit window of panel {label}")
        fit = loglog_slope(n[keep], mean[keep])
        return Measurement(
            value=fit.slope, uncertainty=Z_FAMILY * fit.stderr, uncertainty_kind=SLOPE_KIND,
            horizon=float(n[keep].max()),
            inputs={"S": p.S, "A": p.A, "n_lo": float(n[keep].min()), "n_hi": float(n[keep].max())},
            note=f"{int(keep.sum())} sample sizes, {p.repeats} repeats each", **provenance(manifest, runs))
    return measure


def _rate(level: int):
    def predict(inputs):
        lo, hi = inputs["n_lo"], inputs["n_hi"]
        S, A = int(inputs["S"]), int(inputs["A"])
        b = tt.lower_bound(level, S, A, np.array([lo, hi]), strict=False)
        return float(np.log(b[1] / b[0]) / np.log(hi / lo))
    return predict


def _slope_claims() -> list[Claim]:
    out = []
    for label, kind, S, A in Fig2Config().panels:
        for learner, level, check in _SLOPES[kind]:
            out.append(Claim(
                id=f"zz.fig2.{label}.{learner}.slope",
                source=f"Zhao & Zhu 2024, Fig. 2; {check}",
                statement=f"{learner} risk on {kind} (|S|={S}, |A|={A}) decays at the level-{level} minimax rate",
                experiment="transfer_fig2",
                quantity=f"log-log slope of result.mean.{learner} vs n over the fit window",
                predict=_rate(level), prediction_source=f"exponent of theory.transfer.lower_bound({level}, S, A, n)",
                measure=_slope_measure(label, learner), comparison="equal", tolerance=_SLOPE_TOL,
                horizon=_N_TOP, horizon_unit="n", seeds="sweep seed (one stream per n)", produce=_FIG2,
                max_horizon=_N_TOP))
    return out


def _nrisk_measure(label: str, learner: str):
    """n E TV at the largest n of the panel (n times the MC mean; Z_FAMILY n stderr)."""
    def measure(store):
        got = _panel_runs(store, "transfer_fig2", label)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        last = max(runs, key=lambda r: r.point.n)
        n = float(last.point.n)
        return Measurement(
            value=n * getattr(last.result.mean, learner), uncertainty=Z_FAMILY * n * getattr(last.result.stderr, learner),
            uncertainty_kind=MC_KIND, horizon=n, inputs={"S": last.point.S, "A": last.point.A},
            note=f"{last.point.repeats} repeats", **provenance(manifest, [last]))
    return measure


def _limit_claims() -> list[Claim]:
    panels = {kind: (label, S, A) for label, kind, S, A in reversed(Fig2Config().panels)}  # first panel per kind
    out = []
    spec = [
        ("instance2", "sel_ptl", tt.sel_ptl_limit_instance2, "check T.5 (derived from the closed forms): n E TV -> S K E[U/(U+K)]",
         "theory.transfer.sel_ptl_limit_instance2"),
        ("instance3", "ce_ful", tt.ce_ful_limit_instance3, "check T.6 (derived from the closed forms): n E TV -> (S-1) e^-1 (1-1/A)",
         "theory.transfer.ce_ful_limit_instance3"),
        ("instance2", "ce_ptl", tt.ce_ptl_limit_instance2, "check T.8: CE_ptl's n E TV levels off on Instance 2",
         "theory.transfer.ce_ptl_limit_instance2"),
        ("instance2", "ce_sgl", tt.ce_sgl_limit_instance2, "check T.8: CE_sgl's n E TV levels off on Instance 2",
         "theory.transfer.ce_sgl_limit_instance2"),
    ]
    for kind, learner, fn, source, via in spec:
        label, S, A = panels[kind]
        out.append(Claim(
            id=f"zz.limit.{label}.{learner}",
            source=source,
            statement=f"n E TV of {learner} on {kind} (|S|={S}, |A|={A}) tends to its closed-form limit",
            experiment="transfer_fig2", quantity=f"n * result.mean.{learner} at the largest n",
            predict=lambda inputs, fn=fn: float(fn(int(inputs["S"]), int(inputs["A"]))), prediction_source=via,
            measure=_nrisk_measure(label, learner), comparison="equal",
            tolerance=Tolerance(1e-3, "check T.5: the limit is matched to about three significant figures",
                                relative=True),
            horizon=_N_TOP, horizon_unit="n", seeds="sweep seed", produce=_FIG2, max_horizon=_N_TOP))
    return out


def _exact_measure(experiment: str, labels: tuple, learner: str):
    """Pooled MC mean of ``learner`` over the panels' sample sizes (Z_FAMILY x pooled stderr)."""
    def measure(store):
        got = latest_runs(store, experiment)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        runs = [r for r in runs if r.point.panel in labels]
        if not runs:
            return Missing(f"no run of panels {labels} in the latest {experiment} sweep")
        mean = np.array([getattr(r.result.mean, learner) for r in runs])
        se = np.array([getattr(r.result.stderr, learner) for r in runs])
        pts = [[r.point.instance, r.point.S, r.point.A, r.point.n] for r in runs]
        return Measurement(
            value=float(mean.mean()), uncertainty=Z_FAMILY * float(np.sqrt(np.sum(se**2))) / len(runs),
            uncertainty_kind=MC_KIND + " (pooled)", horizon=float(max(p[3] for p in pts)),
            inputs={"points": pts},
            note=f"mean over {len(runs)} sample sizes; where unseen inputs are rare, a normal interval from "
                 f"{runs[0].point.repeats} repeats understates the error", **provenance(manifest, runs))
    return measure


def _exact_mean(learner: str):
    fn = {"ce_ful": tt.expected_risk_ce_ful}[learner]

    def predict(inputs):
        return float(np.mean([fn(tt.build_instance(k, S, A, n), n) for k, S, A, n in inputs["points"]]))
    return predict


def _exact_claims() -> list[Claim]:
    exact_tol = Tolerance(0.0, "exact formula: only the Monte-Carlo error (in the uncertainty) is allowed")
    out = []
    for label, S, A, *_ in Fig1Config().panels:
        out.append(Claim(
            id=f"zz.exact.fig1{label}.ce_ful", source="check T.2 (derived from the closed forms): exact E TV of CE_ful",
            statement=f"the CE_ful risk on Instance 0 (|S|={S}, |A|={A}) equals its closed form (mean over the n grid)",
            experiment="transfer_fig1", quantity="mean over n of result.mean.ce_ful",
            predict=_exact_mean("ce_ful"), prediction_source="theory.transfer.expected_risk_ce_ful",
            measure=_exact_measure("transfer_fig1", (label,), "ce_ful"), comparison="equal", tolerance=exact_tol,
            horizon=0, horizon_unit="n", seeds="sweep seed", produce=_FIG1))
    labels3 = tuple(label for label, kind, *_ in Fig2Config().panels if kind == "instance3")
    out.append(Claim(
        id="zz.exact.fig2.instance3.ce_ful", source="checks T.2 and T.6: exact E TV of CE_ful",
        statement="the CE_ful risk on Instance 3 equals its closed form (mean over panels and n)",
        experiment="transfer_fig2", quantity="mean over (panel, n) of result.mean.ce_ful",
        predict=_exact_mean("ce_ful"), prediction_source="theory.transfer.expected_risk_ce_ful",
        measure=_exact_measure("transfer_fig2", labels3, "ce_ful"), comparison="equal", tolerance=exact_tol,
        horizon=0, horizon_unit="n", seeds="sweep seed", produce=_FIG2))
    return out


def _ptl_limit_measure(label: str):
    def measure(store):
        got = _panel_runs(store, "transfer_fig1", label)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        last = max(runs, key=lambda r: r.point.n)
        return Measurement(
            value=last.result.mean.ce_ptl, uncertainty=Z_FAMILY * last.result.stderr.ce_ptl,
            uncertainty_kind=MC_KIND, horizon=float(last.point.n),
            inputs={"S": last.point.S, "A": last.point.A}, note=f"{last.point.repeats} repeats",
            **provenance(manifest, [last]))
    return measure


def _ptl_limit(inputs) -> float:
    return float(tt.ce_ptl_limit_risk(tt.instance0(int(inputs["S"]), int(inputs["A"]))))


def _fig1_claims() -> list[Claim]:
    out = []
    for label, S, A, _, n_max in Fig1Config().panels:
        out.append(Claim(
            id=f"zz.fig1{label}.ce_ptl.limit", source="Zhao & Zhu 2024, Fig. 1; check T.1",
            statement=f"CE_ptl is inconsistent on Instance 0 (|S|={S}, |A|={A}): its risk approaches TV_inf "
                      f"of pi*^2/||pi*||^2 from below",
            experiment="transfer_fig1", quantity="result.mean.ce_ptl at the largest n",
            predict=_ptl_limit, prediction_source="theory.transfer.ce_ptl_limit_risk",
            measure=_ptl_limit_measure(label), comparison="at_most",
            tolerance=Tolerance(0.0, "a limit approached from below: only the Monte-Carlo error is allowed"),
            horizon=float(n_max), horizon_unit="n", seeds="sweep seed", produce=_FIG1))
    return out


#: check T.9: at n = 1e3 on Instance 0 (100, 25), CE_ful < SEL_ptl < CE_ptl < CE_sgl
_FIG1_ORDER = ("ce_ful", "sel_ptl", "ce_ptl", "ce_sgl")
_FIG1_ORDER_N = 1e3  # from: check T.9


def _order_measure(store):
    """Adjacent pairs of the claimed order that hold with a gap above Z_FAMILY x their joint stderr.

    The learners share their data sets (common random numbers) and are positively
    correlated, so sqrt(se_x^2 + se_y^2) overstates the stderr of the difference: conservative.
    """
    label = Fig1Config().panels[0][0]
    got = _panel_runs(store, "transfer_fig1", label)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    run = min(runs, key=lambda r: abs(math.log(r.point.n / _FIG1_ORDER_N)))
    held, failed = 0, []
    for x, y in zip(_FIG1_ORDER, _FIG1_ORDER[1:]):
        mx, my = getattr(run.result.mean, x), getattr(run.result.mean, y)
        se = math.hypot(getattr(run.result.stderr, x), getattr(run.result.stderr, y))
        if my - mx > Z_FAMILY * se:
            held += 1
        else:
            failed.append(f"{x} < {y}")
    note = f"n = {run.point.n}, {run.point.repeats} repeats" + (f"; not significant: {', '.join(failed)}" if failed else "")
    return Measurement(value=held, uncertainty=0, uncertainty_kind="count of pairs (each at the family-wise level)",
                       horizon=_FIG1_ORDER_N, inputs={"learners": list(_FIG1_ORDER)}, note=note,
                       **provenance(manifest, [run]))


def _order_claims() -> list[Claim]:
    label, S, A, *_ = Fig1Config().panels[0]
    return [Claim(
        id=f"zz.fig1{label}.order", source="Zhao & Zhu 2024, Fig. 1; check T.9",
        statement=f"on Instance 0 (|S|={S}, |A|={A}) at n = 1e3: CE_ful < SEL_ptl < CE_ptl < CE_sgl",
        experiment="transfer_fig1", quantity="adjacent pairs ordered (gap > Z_FAMILY x joint stderr) at n nearest 1e3",
        predict=lambda inputs: len(inputs["learners"]) - 1,
        prediction_source="every adjacent pair of the order of check T.9 (check T.9)",
        measure=_order_measure, comparison="at_least", tolerance=Tolerance(0, "a count: every pair must hold"),
        horizon=_FIG1_ORDER_N, horizon_unit="n", seeds="sweep seed", produce=_FIG1)]


#: check T.4: (instance, symmetric learner, theorem level, n) where risk >= the theorem constant
_BAYES = (("instance1", "ce_sgl", 1, 10_000), ("instance2", "sel_ptl", 2, 1000), ("instance3", "ce_ful", 3, 1000))


def _at_n_measure(label: str, learner: str, n_target: int):
    def measure(store):
        got = _panel_runs(store, "transfer_fig2", label)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        run = min(runs, key=lambda r: abs(math.log(r.point.n / n_target)))
        n = run.point.n
        if abs(math.log(n / n_target)) > math.log(2):
            return Missing(f"panel {label} has no sample size within a factor 2 of n = {n_target}")
        return Measurement(value=getattr(run.result.mean, learner), uncertainty=Z_FAMILY * getattr(run.result.stderr, learner),
                           uncertainty_kind=MC_KIND, horizon=float(n_target),
                           inputs={"S": run.point.S, "A": run.point.A, "n": n},
                           note=f"n = {n}, {run.point.repeats} repeats", **provenance(manifest, [run]))
    return measure


def _bayes_claims() -> list[Claim]:
    first = {kind: (label, S, A) for label, kind, S, A in reversed(Fig2Config().panels)}
    out = []
    for kind, learner, level, n in _BAYES:
        label, S, A = first[kind]
        out.append(Claim(
            id=f"zz.lower_bound.{label}.{learner}", source=f"Zhao & Zhu 2024, Thm {level + 2}.1; check T.4",
            statement=f"{learner} (label-symmetric) on {kind} (|S|={S}, |A|={A}) at n = {n} lies above the "
                      f"level-{level} lower bound",
            experiment="transfer_fig2", quantity=f"result.mean.{learner} at n",
            predict=lambda inputs, level=level: float(tt.lower_bound(level, int(inputs["S"]), int(inputs["A"]),
                                                                     int(inputs["n"]))),
            prediction_source=f"theory.transfer.lower_bound({level}, S, A, n)",
            measure=_at_n_measure(label, learner, n), comparison="at_least",
            tolerance=Tolerance(0, "a lower bound: only the Monte-Carlo error is allowed"),
            horizon=n, horizon_unit="n", seeds="sweep seed", produce=_FIG2))
    return out


_THEOREM = {"thm3_2": ("Thm 3.2", "the MLE (ce_sgl)"), "thm5_2": ("Thm 5.2", "ce_ful"),
            "thm4_4": ("Thm 4.4", "sel_ptl")}


def _hp_measure(label: str):
    """The (1 - delta)-quantile of the risk: the order statistic of rank ceil((1 - delta) R), with
    the distribution-free order-statistic interval at the family-wise level (ranks from
    Binomial(R, 1 - delta) quantiles; no normal approximation)."""
    def measure(store):
        got = _panel_runs(store, "transfer_hp", label)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        run = runs[0]
        p, res = run.point, run.result
        R = int(res.repeats)
        tail = np.asarray(res.tail, dtype=np.float64)
        first = R - tail.size + 1  # rank of tail[0] (ranks 1..R, increasing)
        q = 1 - p.delta
        a = FAMILY_ALPHA / FAMILY_SIZE
        r = math.ceil(q * R)
        r_lo = max(int(binom.ppf(a / 2, R, q)), first)
        r_hi = min(int(binom.ppf(1 - a / 2, R, q)) + 1, R)
        val, lo, hi = (float(tail[i - first]) for i in (r, r_lo, r_hi))
        return Measurement(
            value=val, uncertainty=max(val - lo, hi - val),
            uncertainty_kind="order-statistic interval (family-wise), larger side", horizon=float(p.n),
            inputs={"bound": float(res.bound)},
            note=f"{R} repeats; ranks [{r_lo}, {r_hi}] give [{lo:.4g}, {hi:.4g}]; max {tail[-1]:.4g}; "
                 f"mean {res.mean:.4g} +- {res.stderr:.2g}", **provenance(manifest, runs))
    return measure


def _hp_claims() -> list[Claim]:
    from sims.experiments.transfer import HP_PANELS

    out = []
    for label, kind, S, A, n, learner, delta in HP_PANELS:
        thm, who = _THEOREM[label]
        out.append(Claim(
            id=f"zz.{label}.hp_bound", source=f"Zhao & Zhu 2024, {thm}; check T.10",
            statement=f"with probability >= 1 - delta (delta = {delta:g}) the risk of {who} on {kind} (|S|={S}, "
                      f"|A|={A}, n = {n}) is below the explicit bound",
            experiment="transfer_hp", quantity=f"(1 - delta)-quantile of the {learner} risk (result.tail)",
            predict=lambda inputs: float(inputs["bound"]),
            prediction_source="theory.transfer.upper_bound_*_hp (stored as result.bound)",
            measure=_hp_measure(label), comparison="at_most",
            tolerance=Tolerance(0, "an upper bound: only the order-statistic interval is allowed"),
            horizon=n, horizon_unit="n", seeds="sweep seed", produce="ibl run transfer_hp"))
    return out


CLAIMS: list[Claim] = (_hp_claims() + _slope_claims() + _limit_claims() + _exact_claims() + _fig1_claims() + _order_claims()
                       + _bayes_claims())
