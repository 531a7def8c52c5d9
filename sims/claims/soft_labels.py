r"""Claims of [M25] and [JT20] on soft- vs hard-label training (paper, Sec. 'Soft- versus hard-label
training of two-layer ReLU networks'; checks S.5, S.8-S.10 of the appendix 'Checks').

Measured on the full-mode ``softhard_width`` sweep (circle k = 1..4, the two-cluster γ
sweep; the fixed-budget protocol), ``softhard_accuracy`` (the calibration map) and
``softhard_floor`` (the soft floor to convergence, ``m25.soft.floor_*``: the protocol on
which the width binds, check S.8, last bullet). Exponents are log-log slopes
(:func:`theory.fitting.loglog_slope`; intervals of
:data:`sims.claims._record.Z_FAMILY` standard errors, the registry's family-wise coverage) of :math:`m^*` over the points that are a
measurement: finite, not censored at the smallest width, budget not capped (see
:mod:`sims.experiments.softhard`). Several datasets (or targets ε) give one fit each;
the claim's value pools them by inverse-variance weighting (the per-dataset fits are
the rows' ``per_seed`` entries, of kind "settings"). [M25] give no constants; our choice: the crossover uses
:math:`C_{soft}=C_{hard}=1` (:func:`theory.ntk.crossover_gamma`). The hard-label rows are
reported with the status the rule gives; the hard order is an upper bound of one analysis
(paper, Sec. 'Theorems as implemented' of the soft/hard section), not a prediction of the exponent.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

from sims.claims._measure import latest_runs, provenance
from sims.claims._record import Z_FAMILY, Claim, Measurement, Missing, Tolerance
from sims.experiments.softhard import AccuracyConfig, WidthConfig
from theory.fitting import loglog_slope
from theory.ntk import crossover_gamma, hard_label_neurons, soft_label_neurons

__all__ = ["CLAIMS"]

_W = "softhard_width"
_A = "softhard_accuracy"
_STEPS = WidthConfig().steps_max  # full-mode cap of the budgets T(eps) (soft)
_HARD_STEPS = WidthConfig().hard_steps_max  # full-mode cap of the hard budgets ([JT20]-shaped by default)
_ACC_STEPS = max(AccuracyConfig().steps)
# the registry's family-wise coverage (sims.claims._record): Z_FAMILY standard errors per half-width
_POOLED = f"{Z_FAMILY:.2f} x stderr of the pooled slope (family-wise)"
_LOG_WHY = ("an order-level exponent: a ln(1/eps) (or ln(1/gamma)) factor hidden in O(.) tilts a log-log slope "
            "over one decade by log10(ln 100 / ln 10) = 0.30")


def _latest(store, experiment: str):
    """:func:`latest_runs`, with a stored result of an older format (fields renamed or added) as Missing."""
    try:
        return latest_runs(store, experiment)
    except (TypeError, ValueError) as exc:
        return Missing(f"the latest {experiment} sweep is of an older result format ({exc}); "
                       f"rerun `ibl run {experiment}`")


def _usable(res) -> np.ndarray:
    """m* values that are measurements: finite, not censored at the smallest width, budget not capped."""
    return np.isfinite(res.m_star) & ~np.asarray(res.censored, bool) & ~np.asarray(res.budget_capped, bool)


def _label(point) -> str:
    return f"circle k={point.k}" if point.family == "circle" else f"clusters gap={point.gap:g}"


def _pool(fits):
    """Inverse-variance mean of slopes (label, SlopeFit): (value, family-wise half-width)."""
    se = np.array([max(f.stderr, 1e-12) for _, f in fits])  # from: floor against a zero-residual 3-point fit
    w = 1 / se ** 2
    value = float(np.sum(w * np.array([f.slope for _, f in fits])) / np.sum(w))
    return value, float(Z_FAMILY / math.sqrt(np.sum(w)))


def _fit_ok(x, y) -> bool:
    return x.size >= 3 and np.unique(y).size > 1


def _eps_exponent(kind: str):
    """Slope of log m* against log(1/eps), per dataset, pooled (the note adds the slope against ln(1/eps))."""
    def measure(store):
        got = _latest(store, _W)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        sel = [r for r in runs if r.point.kind == kind]
        fits, ln_fits, used, skipped = [], [], [], []
        for r in sel:
            ok = _usable(r.result)
            x, y = 1 / r.result.eps[ok], r.result.m_star[ok]
            if _fit_ok(x, y):
                fits.append((_label(r.point), loglog_slope(x, y)))
                ln_fits.append((_label(r.point), loglog_slope(np.log(x), y)))
                used.append(r)
            else:
                skipped.append(f"{_label(r.point)} ({int(ok.sum())} usable)")
        if not fits:
            return Missing(f"no {kind} dataset has 3 usable m* (finite, uncensored, budget not capped): "
                           + ", ".join(skipped))
        value, half = _pool(fits)
        ln_value, ln_half = _pool(ln_fits)
        lo = min(f.window[0] for _, f in fits)
        hi = max(f.window[1] for _, f in fits)
        return Measurement(value=value, uncertainty=half, uncertainty_kind=_POOLED,
                           horizon=float(max(int(r.result.budgets.max()) for r in used)),
                           inputs={"eps_low": 1 / hi, "eps_high": 1 / lo, "ln_slope": ln_value,
                                   "ln_slope_halfwidth": ln_half},
                           per_seed=tuple((lab, f.slope, f.ci_high - f.slope) for lab, f in fits),
                           per_seed_kind="settings",
                           note=f"1/eps window [{lo:.3g}, {hi:.3g}]; slope in ln(1/eps) {ln_value:.3g} +- "
                                f"{ln_half:.2g} (family-wise interval; [M25]'s order: 1); skipped: {', '.join(skipped) or 'none'}",
                           **provenance(manifest, used))
    return measure


def _gamma_exponent(kind: str, families=("clusters",), horizon: float = _STEPS):
    """Slope of log m* against log(1/gamma), one fit per (family, eps), pooled.

    ``families``: the two-cluster gap sweep (gamma over a decade) and, for the hard rows,
    also the circle's k sweep (gamma falls with k, by a factor of about 2).
    """
    def measure(store):
        got = _latest(store, _W)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        fits, reasons, spans, used, g_all = [], [], [], [], []
        for fam in families:
            sel = [r for r in runs if r.point.kind == kind and r.point.family == fam]
            if not sel:
                reasons.append(f"{fam}: no runs")
                continue
            used += sel
            g = np.array([r.result.gamma for r in sel])
            g_all += list(g)
            spans.append(f"{fam}: gamma {g.min():.3g}..{g.max():.3g} (factor {g.max() / g.min():.3g})")
            for j, e in enumerate(sel[0].result.eps):
                ok = np.array([_usable(r.result)[j] for r in sel])
                m = np.array([r.result.m_star[j] for r in sel])
                if _fit_ok(g[ok], m[ok]):
                    fits.append((f"{fam} eps={e:g}", loglog_slope(1 / g[ok], m[ok])))
                else:
                    cens = sum(bool(r.result.censored[j]) for r in sel)
                    nan = sum(not np.isfinite(r.result.m_star[j]) for r in sel)
                    cap = sum(bool(r.result.budget_capped[j]) for r in sel)
                    reasons.append(f"{fam} eps={e:g}: {int(ok.sum())} usable of {len(sel)} ({cens} censored at the "
                                   f"smallest width, {nan} not reached, {cap} capped)")
        if not used:
            return Missing(f"the latest softhard_width sweep has no {kind} runs of {', '.join(families)}")
        span = "; ".join(spans)
        if not fits:
            return Missing(f"{kind}: no eps with 3 usable m* over the gamma sweep ({span}): " + "; ".join(reasons))
        value, half = _pool(fits)
        return Measurement(value=value, uncertainty=half, uncertainty_kind=_POOLED,
                           horizon=float(horizon),
                           inputs={"gamma_low": float(min(g_all)), "gamma_high": float(max(g_all))},
                           per_seed=tuple((lab, f.slope, f.ci_high - f.slope) for lab, f in fits),
                           per_seed_kind="settings",
                           note=f"{span}; " + ("; ".join(reasons) or "every eps fitted"),
                           **provenance(manifest, used))
    return measure


def _order_slope_eps(order, inputs):
    """Log-log slope in 1/eps of a theory order over the measured eps window (gamma fixed)."""
    e = np.geomspace(inputs["eps_low"], inputs["eps_high"], 8)
    return loglog_slope(1 / e, order(0.1, e)).slope  # from: any fixed gamma in (0, 1] (it cancels)


def _order_slope_gamma(order, inputs):
    g = np.geomspace(inputs["gamma_low"], inputs["gamma_high"], 8)
    return loglog_slope(1 / g, order(g, 0.05)).slope  # from: any fixed eps in (0, 1) (it cancels)


def _crossover(store):
    """Fraction of (dataset, eps) pairs whose m*_soft vs m*_hard ordering is on the predicted side."""
    got = _latest(store, _W)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    by = {}
    for r in runs:
        by.setdefault(_label(r.point), {})[r.point.kind] = r
    sides = {"soft side": [0, 0], "hard side": [0, 0]}
    undecided, used = 0, []
    for lab, pair in by.items():
        if set(pair) != {"soft", "hard"}:
            continue
        s, h = pair["soft"].result, pair["hard"].result
        used += [pair["soft"], pair["hard"]]
        for j, e in enumerate(s.eps):
            ms = math.inf if not np.isfinite(s.m_star[j]) else s.m_star[j]
            mh = math.inf if not np.isfinite(h.m_star[j]) else h.m_star[j]
            if ms == mh or (s.censored[j] and h.censored[j]):
                undecided += 1
                continue
            soft_side = s.gamma < crossover_gamma(e)
            key = "soft side" if soft_side else "hard side"
            sides[key][1] += 1
            sides[key][0] += int((ms < mh) == soft_side)
    total = sum(n for _, n in sides.values())
    if not total:
        return Missing("no (dataset, eps) pair with an ordered m*_soft, m*_hard")
    agree = sum(a for a, _ in sides.values())
    per = tuple((f"{k} ({n} pairs)", a / n, 0) for k, (a, n) in sides.items() if n)
    return Measurement(value=agree / total, uncertainty=0, uncertainty_kind="exact (count over pairs)",
                       horizon=float(_STEPS), per_seed=per, per_seed_kind="settings",
                       note=f"{agree}/{total} pairs on the predicted side; {undecided} undecided (equal or both "
                            f"censored); C_soft = C_hard = 1", **provenance(manifest, used))


def _lazy(store, experiment: str = _W):
    """max over runs and widths of sqrt(m) max_{s,t} ||w_s(t) - w_s(0)|| / (4 lambda / gamma)."""
    got = _latest(store, experiment)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    ratios = [(f"{r.point.kind}/{_label(r.point)}", float(np.max(r.result.lazy_max) / np.min(r.result.lazy_bound)))
              for r in runs]
    worst = max(ratios, key=lambda t: t[1])
    return Measurement(value=worst[1], uncertainty=0, uncertainty_kind="exact (deterministic runs)",
                       horizon=float(_STEPS), note=f"largest ratio on {worst[0]}", **provenance(manifest, runs))


def _calibration(store):
    """Mean test-accuracy gap soft - hard per protocol of the region map (teacher, tau, noise, length)."""
    got = _latest(store, _A)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    k_map = manifest.get("config", {}).get("map_k", AccuracyConfig().map_k)
    sel = [r for r in runs if r.point.family == "circle" and r.point.difficulty == k_map]
    if not sel:
        return Missing(f"the latest softhard_accuracy sweep has no region-map runs (circle k = {k_map})")
    per, gaps = [], []
    for r in sel:
        p = r.point
        d = (r.result.soft_accuracy - r.result.hard_accuracy).mean(axis=1)  # per seed (paired), mean over widths
        half = Z_FAMILY * float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else math.inf
        per.append((f"{p.teacher}/tau={p.temperature:g}/noise={p.label_noise:g}/T={p.steps}", float(d.mean()),
                    half))
        gaps.append(d)
    allg = np.concatenate(gaps)
    return Measurement(value=float(allg.mean()), uncertainty=Z_FAMILY * float(allg.std(ddof=1) / math.sqrt(allg.size)),
                       uncertainty_kind=f"{Z_FAMILY:.2f} x stderr over seeds and protocols (family-wise)", horizon=float(_ACC_STEPS),
                       per_seed=tuple(per), per_seed_kind="settings",
                       note=f"circle k = {k_map}; gap averaged over widths per seed",
                       **provenance(manifest, sel))


def _claims() -> list[Claim]:
    run_w = f"ibl run {_W}"
    run_a = f"ibl run {_A}"
    seeds = "5 initialisation seeds per ensemble (median), sweep seed of the config"
    return [
        Claim(id="m25.soft.eps_exponent", source="[M25] abstract: O(1/(gamma^2 eps)) neurons (soft); check S.8",
              statement="soft labels: m*(eps) grows like 1/eps (log-log slope 1)",
              experiment=_W, quantity="pooled log-log slope of result.m_star in 1/eps (usable points)",
              predict=lambda inputs: _order_slope_eps(soft_label_neurons, inputs),
              prediction_source="theory.ntk.soft_label_neurons (slope over the measured eps window)",
              measure=_eps_exponent("soft"), comparison="equal", tolerance=Tolerance(0.3, _LOG_WHY),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=run_w, max_horizon=_STEPS),
        Claim(id="m25.soft.gamma_exponent", source="[M25] abstract: O(1/(gamma^2 eps)) neurons (soft); check S.8",
              statement="soft labels: m* grows like 1/gamma^2 over the two-cluster gamma sweep (slope 2)",
              experiment=_W, quantity="pooled log-log slope of result.m_star in 1/result.gamma, per eps",
              predict=lambda inputs: _order_slope_gamma(soft_label_neurons, inputs),
              prediction_source="theory.ntk.soft_label_neurons (slope in 1/gamma)",
              measure=_gamma_exponent("soft"), comparison="equal", tolerance=Tolerance(0.3, _LOG_WHY),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=run_w, max_horizon=_STEPS),
        Claim(id="m25.hard.eps_exponent",
              source="[M25] abstract: O(ln(1/eps)/gamma^4) (hard; an upper bound, check S.8)",
              statement="hard labels: m*(eps) grows at most like ln(1/eps) at the [JT20]-shaped budget "
                        "T = c_H lambda_bar^2/(gamma_2^2 eps) (reported, not asserted)",
              experiment=_W, quantity="pooled log-log slope of result.m_star in 1/eps (usable points); the note "
                                      "gives the slope in ln(1/eps)",
              predict=lambda inputs: _order_slope_eps(hard_label_neurons, inputs),
              prediction_source="theory.ntk.hard_label_neurons (slope of ln(1/eps) over the window)",
              measure=_eps_exponent("hard"), comparison="at_most", tolerance=Tolerance(0.3, _LOG_WHY),
              horizon=_HARD_STEPS, horizon_unit="T", seeds=seeds, produce=run_w, max_horizon=_HARD_STEPS),
        Claim(id="m25.hard.gamma_exponent",
              source="[M25] abstract: O(ln(1/eps)/gamma^4) (hard; an upper bound, check S.8)",
              statement="hard labels: the 1/gamma exponent of m* is at most 4 (reported, not asserted; 2 by [MOSW22] "
                        "with coupled initialisation)",
              experiment=_W, quantity="pooled log-log slope of result.m_star in 1/result.gamma, per (family, eps): "
                                      "cluster gaps and circle k",
              predict=lambda inputs: _order_slope_gamma(hard_label_neurons, inputs),
              prediction_source="theory.ntk.hard_label_neurons (slope in 1/gamma)",
              measure=_gamma_exponent("hard", ("clusters", "circle"), _HARD_STEPS), comparison="at_most",
              tolerance=Tolerance(0.3, _LOG_WHY),
              horizon=_HARD_STEPS, horizon_unit="T", seeds=seeds, produce=run_w, max_horizon=_HARD_STEPS),
        Claim(id="m25.crossover.ordering", source="[M25] abstract (soft better when gamma <= eps); check S.9",
              statement="m*_soft < m*_hard exactly when gamma < gamma_x(eps) = sqrt(eps ln(1/eps)) (C_soft = C_hard = 1)",
              experiment=_W, quantity="fraction of (dataset, eps) pairs ordered on the predicted side (each loss's m* "
                                      "at its own budget: hard at the [JT20]-shaped one)",
              predict=lambda inputs: 1,
              prediction_source="theory.ntk.crossover_gamma gives each pair's side; check S.9: all pairs",
              measure=_crossover, comparison="at_least",
              tolerance=Tolerance(0, "every pair: the ordering is a deterministic function of the stored m*"),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=run_w, max_horizon=_STEPS),
        Claim(id="jt20.lazy_movement", source="[JT20] Thm 2.2 (check S.5; constants not confirmed in the source)",
              statement="sqrt(m) max_{s,t<T} ||w_s(t) - w_s(0)|| <= 4 lambda / gamma at every width",
              experiment=_W, quantity="max over runs of result.lazy_max / min(result.lazy_bound)",
              predict=lambda inputs: 1,
              prediction_source="theory.ntk.jt_width_bound movement 4 lambda/gamma (ratio 1; check S.5)",
              measure=_lazy, comparison="at_most",
              tolerance=Tolerance(0, "the theorem's bound, no slack (it is proven only for m >= M ~ 1e15)"),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=run_w, max_horizon=_STEPS),
        Claim(id="m25.calibration.soft_beats_hard", source="[M25] abstract claim 1; check S.10",
              statement="soft-label students are at least as accurate as hard-label ones, per protocol "
                        "(teacher, temperature, label noise, length)",
              experiment=_A, quantity="mean over widths and seeds of soft_accuracy - hard_accuracy, per protocol",
              predict=lambda inputs: 0,
              prediction_source="check S.10 (soft >= hard: a gap >= 0)",
              measure=_calibration, comparison="at_least",
              tolerance=Tolerance(0, "[M25]: soft >= hard with no slack; the uncertainty is the seed spread"),
              horizon=_ACC_STEPS, horizon_unit="T", seeds="5 student seeds per protocol (paired soft/hard)",
              produce=run_a, max_horizon=_ACC_STEPS),
    ]


# ---------------------------------------------------------------- the other settings: coupled init, projected GD
# (softhard_width_coupled, softhard_width_projected: the standard sweep's points with one setting changed)

_WC = "softhard_width_coupled"
_PLAIN = WidthConfig().project_constant  # from: the standard protocol's setting (no projection)
_WP = "softhard_width_projected"


def _standard_twin(point):
    """The standard-protocol point a coupled or projected point is compared with."""
    return dataclasses.replace(point, init="standard", project_constant=_PLAIN)


def _log2_ratio(variant: str, kind: str):
    """Mean over (dataset, eps) of log2(m*_variant / m*_standard), pairs where both are finite and not both censored.

    A pair where one side reaches eps and the other does not has no finite ratio: counted in the note. A side
    censored at the smallest width enters at that width (an upper bound on its m*): counted in the note too.
    """
    def measure(store):
        base, var = _latest(store, _W), _latest(store, variant)
        for got in (base, var):
            if isinstance(got, Missing):
                return got
        (_, bruns), (manifest, vruns) = base, var
        twin = {r.point: r for r in bruns if r.point.kind == kind}
        per, used = [], []
        only_variant = only_standard = neither = both_censored = one_censored = 0
        for r in (r for r in vruns if r.point.kind == kind):
            b = twin.get(_standard_twin(r.point))
            if b is None:
                continue
            used += [r, b]
            for j, e in enumerate(r.result.eps):
                mv, mb = r.result.m_star[j], b.result.m_star[j]
                fv, fb = np.isfinite(mv), np.isfinite(mb)
                if fv and fb:
                    if r.result.censored[j] and b.result.censored[j]:
                        both_censored += 1
                    else:
                        one_censored += int(bool(r.result.censored[j]) or bool(b.result.censored[j]))
                        per.append((f"{_label(r.point)} eps={e:g}", float(np.log2(mv / mb)), 0))  # a deterministic pair
                else:
                    only_variant += int(fv and not fb)
                    only_standard += int(fb and not fv)
                    neither += int(not fv and not fb)
        counts = (f"{only_variant} pairs reached only by {variant.split('_')[-1]}, {only_standard} only by standard, "
                  f"{neither} by neither, {both_censored} censored on both sides, {one_censored} of the pairs used "
                  "censored on one side (entered at the smallest width, an upper bound)")
        if not used:
            return Missing(f"no {kind} point of the latest {variant} sweep has a standard twin in the latest {_W} "
                           "sweep (rerun both with the same settings)")
        if not per:
            return Missing(f"{kind}: no (dataset, eps) pair with finite m* on both sides ({counts})")
        v = np.array([x for _, x, _ in per])
        if v.size < 2:  # no spread to give an interval
            return Missing(f"{kind}: one (dataset, eps) pair only ({per[0][0]}: log2 ratio {v[0]:.3g}); need 2")
        half = Z_FAMILY * float(v.std(ddof=1) / math.sqrt(v.size))
        return Measurement(value=float(v.mean()), uncertainty=half,
                           uncertainty_kind=f"{Z_FAMILY:.2f} x stderr over (dataset, eps) pairs (family-wise)", horizon=float(_STEPS),
                           per_seed=tuple(per), per_seed_kind="settings",
                           note=f"{v.size} pairs; {counts}", **provenance(manifest, used))
    return measure


def _log2_loss_ratio(variant: str, kind: str):
    """Mean over (dataset, eps) of log2 of the median average loss at T(eps), variant over standard twin.

    Per (dataset, eps) the log-ratio is averaged over the width grid; measurable where m* is not (censored or
    not reached on both sides), since it needs no crossing of eps.
    """
    def measure(store):
        base, var = _latest(store, _W), _latest(store, variant)
        for got in (base, var):
            if isinstance(got, Missing):
                return got
        (_, bruns), (manifest, vruns) = base, var
        twin = {r.point: r for r in bruns if r.point.kind == kind}
        per, used = [], []
        for r in (r for r in vruns if r.point.kind == kind):
            b = twin.get(_standard_twin(r.point))
            if b is None:
                continue
            used += [r, b]
            lv = np.median(r.result.avg_loss, axis=0)
            lb = np.median(b.result.avg_loss, axis=0)
            for j, e in enumerate(r.result.eps):
                per.append((f"{_label(r.point)} eps={e:g}", float(np.mean(np.log2(lv[:, j] / lb[:, j]))), 0))
        if not per:
            return Missing(f"no {kind} point of the latest {variant} sweep has a standard twin in the latest {_W} "
                           "sweep (rerun both with the same settings)")
        v = np.array([x for _, x, _ in per])
        if v.size < 2:  # no spread to give an interval
            return Missing(f"{kind}: one (dataset, eps) pair only ({per[0][0]}: log2 ratio {v[0]:.3g}); need 2")
        half = Z_FAMILY * float(v.std(ddof=1) / math.sqrt(v.size))
        return Measurement(value=float(v.mean()), uncertainty=half,
                           uncertainty_kind=f"{Z_FAMILY:.2f} x stderr over (dataset, eps) pairs (family-wise)", horizon=float(_STEPS),
                           per_seed=tuple(per), per_seed_kind="settings",
                           note=f"{v.size} (dataset, eps) pairs, each averaged over {len(r.result.widths)} widths",
                           **provenance(manifest, used))
    return measure


def _settings_claims() -> list[Claim]:
    seeds = "5 initialisation seeds per ensemble (median), sweep seed of the config; the same seeds as the standard"
    grid = "a factor 2 between grid widths: one grid step is log2 = 1"
    return [
        Claim(id="mosw22.coupled.hard_width", source="[MOSW22] (coupled initialisation: gamma^-8 -> gamma^-2 width)",
              statement="coupled initialisation (f(.; W0) = 0) needs no more hard-label neurons than standard",
              experiment=_WC, quantity="mean over (dataset, eps) of log2(m*_coupled / m*_standard), hard labels",
              predict=lambda inputs: 0,
              prediction_source="check S.8 with [MOSW22]: the coupled width requirement is smaller (log-ratio <= 0)",
              measure=_log2_ratio(_WC, "hard"), comparison="at_most", tolerance=Tolerance(0, grid),
              horizon=_HARD_STEPS, horizon_unit="T", seeds=seeds, produce=f"ibl run {_WC}",
              max_horizon=_HARD_STEPS),
        Claim(id="m25.coupled.soft_width", source="[M25] soft bound; check S.3 (coupled init: f(.; W0) = 0)",
              statement="coupled initialisation needs no more soft-label neurons than standard (the initial output "
                        "the student must undo is 0)",
              experiment=_WC, quantity="mean over (dataset, eps) of log2(m*_coupled / m*_standard), soft labels",
              predict=lambda inputs: 0,
              prediction_source="check S.3: the initial output sqrt(2 ln(4n/delta)) (theory.ntk.initial_output_bound) "
                                "vanishes (log-ratio <= 0)",
              measure=_log2_ratio(_WC, "soft"), comparison="at_most", tolerance=Tolerance(0, grid),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=f"ibl run {_WC}", max_horizon=_STEPS),
        Claim(id="mosw22.coupled.hard_loss", source="[MOSW22] (coupled initialisation); check S.3",
              statement="coupled initialisation lowers the average hard-label loss at the prescribed budget",
              experiment=_WC, quantity="mean over (dataset, eps) of log2(avg loss coupled / standard) at T(eps), "
                                       "median over seeds, mean over widths",
              predict=lambda inputs: 0,
              prediction_source="check S.3: f(.; W0) = 0 removes the initial-output term of lambda "
                                "(theory.ntk.initial_output_bound): log-ratio <= 0",
              measure=_log2_loss_ratio(_WC, "hard"), comparison="at_most",
              tolerance=Tolerance(0, "a direction, no slack; the uncertainty is the spread over datasets and eps"),
              horizon=_HARD_STEPS, horizon_unit="T", seeds=seeds, produce=f"ibl run {_WC}",
              max_horizon=_HARD_STEPS),
        Claim(id="m25.coupled.soft_loss", source="[M25] soft bound; check S.3 (coupled init: f(.; W0) = 0)",
              statement="coupled initialisation lowers the average soft-label loss at the prescribed budget",
              experiment=_WC, quantity="mean over (dataset, eps) of log2(avg loss coupled / standard) at T(eps), "
                                       "median over seeds, mean over widths",
              predict=lambda inputs: 0,
              prediction_source="check S.3: f(.; W0) = 0 removes the initial-output term of lambda "
                                "(theory.ntk.initial_output_bound): log-ratio <= 0",
              measure=_log2_loss_ratio(_WC, "soft"), comparison="at_most",
              tolerance=Tolerance(0, "a direction, no slack; the uncertainty is the spread over datasets and eps"),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=f"ibl run {_WC}", max_horizon=_STEPS),
        Claim(id="m25.projected.soft_width", source="[M25] soft analysis (projected GD, R = c'/gamma); check S.8",
              statement="projected GD with R = 1/gamma_2 (the kernel teacher's norm) needs the same soft-label "
                        "width as plain GD, within one grid step",
              experiment=_WP, quantity="mean over (dataset, eps) of log2(m*_projected / m*_plain), soft labels",
              predict=lambda inputs: 0,
              prediction_source="check S.8: the ball contains the teacher's reference, so the [M25] order is unchanged",
              measure=_log2_ratio(_WP, "soft"), comparison="equal", tolerance=Tolerance(1, grid),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=f"ibl run {_WP}", max_horizon=_STEPS),
        Claim(id="jt20.lazy_movement.projected", source="[JT20] Thm 2.2 (check S.5) under projected GD",
              statement="under projection (R = 1/gamma_2) sqrt(m) max_{s,t<T} ||w_s(t) - w_s(0)|| <= 4 lambda / gamma "
                        "at every width",
              experiment=_WP, quantity="max over runs of result.lazy_max / min(result.lazy_bound)",
              predict=lambda inputs: 1,
              prediction_source="theory.ntk.jt_width_bound movement 4 lambda/gamma (ratio 1; check S.5)",
              measure=lambda store: _lazy(store, _WP), comparison="at_most",
              tolerance=Tolerance(0, "the theorem's bound, no slack (it is proven only for m >= M ~ 1e15)"),
              horizon=_STEPS, horizon_unit="T", seeds=seeds, produce=f"ibl run {_WP}", max_horizon=_STEPS),
    ]


CLAIMS: list[Claim] = _claims() + _settings_claims()


# ---------------------------------------------------------------- the converged soft floor (softhard_floor)
# Check S.8, last bullet: the soft KL floor at width m, measured to convergence (sims.twolayer.converge) on
# n >= 8 m d points, over the two-cluster gap sweep (sims/experiments/softhard_floor.py). Slopes are fitted on
# the median floor over seeds (widths >= fit_min_width) and on m*(eps) from it (usable: finite, not censored);
# gamma is the kernel margin gamma_2 of the teacher sample (the teacher's RKHS norm is 1/gamma_2, the quantity
# of theory.ntk.soft_floor_bound).

_F = "softhard_floor"


def _floor_horizon() -> float:
    from sims.experiments.softhard_floor import FloorConfig  # noqa: PLC0415 (registers the experiment)

    return float(FloorConfig().max_iter)


def _floor_runs(store):
    got = _latest(store, _F)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    if not runs:
        return Missing(f"the latest {_F} sweep has no runs")
    return manifest, sorted(runs, key=lambda r: r.result.gamma2)


def _certified_note(runs) -> str:
    cert = np.concatenate([np.asarray(r.result.certified, bool).ravel() for r in runs])
    conv = np.concatenate([np.asarray(r.result.converged, bool).ravel() for r in runs])
    return (f"{int(cert.sum())}/{cert.size} solves certified (Newton decrement <= 1% of the floor), "
            f"{int(conv.sum())} with ||grad|| <= gtol")


def _floor_width_exponent(store):
    """Slope of the median floor in 1/m, per gap, pooled."""
    from sims.experiments.softhard_floor import width_slope  # noqa: PLC0415

    got = _floor_runs(store)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    fits, used = [], []
    for r in runs:
        f = width_slope(r.result.widths, r.result.floor, r.point.fit_min_width)
        if f is not None:
            fits.append((f"gamma2={r.result.gamma2:.3g}", f))
            used.append(r)
    if not fits:
        return Missing(f"no {_F} gap has 3 widths >= fit_min_width with a positive floor")
    value, half = _pool(fits)
    lo = min(f.window[0] for _, f in fits)
    hi = max(f.window[1] for _, f in fits)
    return Measurement(value=value, uncertainty=half, uncertainty_kind=_POOLED,
                       horizon=_floor_horizon(), inputs={"m_low": 1 / hi, "m_high": 1 / lo},
                       per_seed=tuple((lab, f.slope, f.ci_high - f.slope) for lab, f in fits),
                       per_seed_kind="settings",
                       note=f"1/m window [{lo:.3g}, {hi:.3g}]; {_certified_note(runs)}", **provenance(manifest, used))


def _floor_gamma_exponent(store):
    """Slope of the median floor in 1/gamma_2 at each width >= fit_min_width, pooled over widths."""
    got = _floor_runs(store)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    g = np.array([r.result.gamma2 for r in runs])
    fits = []
    for j, m in enumerate(runs[0].result.widths):
        if m < runs[0].point.fit_min_width:
            continue
        y = np.array([r.result.floor_median[j] for r in runs])
        ok = y > 0
        if _fit_ok(g[ok], y[ok]):
            fits.append((f"m={int(m)}", loglog_slope(1 / g[ok], y[ok])))
    span = f"gamma2 {g.min():.3g}..{g.max():.3g} (factor {g.max() / g.min():.3g})"
    if not fits:
        return Missing(f"no width with 3 positive median floors over the gap sweep, {span}")
    value, half = _pool(fits)
    return Measurement(value=value, uncertainty=half, uncertainty_kind=_POOLED,
                       horizon=_floor_horizon(), inputs={"gamma_low": float(g.min()), "gamma_high": float(g.max())},
                       per_seed=tuple((lab, f.slope, f.ci_high - f.slope) for lab, f in fits),
                       per_seed_kind="settings", note=f"{span}; {_certified_note(runs)}",
                       **provenance(manifest, runs))


def _floor_mstar_eps_exponent(store):
    """Slope of m*(eps) (from the converged floors) in 1/eps, per gap, pooled."""
    got = _floor_runs(store)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    fits, used, skipped = [], [], []
    for r in runs:
        ok = np.isfinite(r.result.m_star) & ~np.asarray(r.result.censored, bool)
        x, y = 1 / r.result.eps[ok], r.result.m_star[ok]
        lab = f"gamma2={r.result.gamma2:.3g}"
        if _fit_ok(x, y):
            fits.append((lab, loglog_slope(x, y)))
            used.append(r)
        else:
            skipped.append(f"{lab} ({int(ok.sum())} usable)")
    if not fits:
        return Missing(f"no {_F} gap has 3 usable m* (finite, uncensored): " + ", ".join(skipped))
    value, half = _pool(fits)
    lo = min(f.window[0] for _, f in fits)
    hi = max(f.window[1] for _, f in fits)
    return Measurement(value=value, uncertainty=half, uncertainty_kind=_POOLED,
                       horizon=_floor_horizon(), inputs={"eps_low": 1 / hi, "eps_high": 1 / lo},
                       per_seed=tuple((lab, f.slope, f.ci_high - f.slope) for lab, f in fits),
                       per_seed_kind="settings",
                       note=f"1/eps window [{lo:.3g}, {hi:.3g}]; skipped: {', '.join(skipped) or 'none'}",
                       **provenance(manifest, used))


def _floor_mstar_gamma_exponent(store):
    """Slope of m*(eps) in 1/gamma_2 at each eps, pooled over eps."""
    got = _floor_runs(store)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    g = np.array([r.result.gamma2 for r in runs])
    fits, reasons = [], []
    for j, e in enumerate(runs[0].result.eps):
        ok = np.array([np.isfinite(r.result.m_star[j]) and not r.result.censored[j] for r in runs])
        m = np.array([r.result.m_star[j] for r in runs])
        if _fit_ok(g[ok], m[ok]):
            fits.append((f"eps={e:g}", loglog_slope(1 / g[ok], m[ok])))
        else:
            reasons.append(f"eps={e:g}: {int(ok.sum())} usable of {len(runs)}")
    span = f"gamma2 {g.min():.3g}..{g.max():.3g} (factor {g.max() / g.min():.3g})"
    if not fits:
        return Missing(f"no eps with 3 usable m* over the gap sweep, {span}: " + "; ".join(reasons))
    value, half = _pool(fits)
    return Measurement(value=value, uncertainty=half, uncertainty_kind=_POOLED,
                       horizon=_floor_horizon(), inputs={"gamma_low": float(g.min()), "gamma_high": float(g.max())},
                       per_seed=tuple((lab, f.slope, f.ci_high - f.slope) for lab, f in fits),
                       per_seed_kind="settings", note=f"{span}; " + ("; ".join(reasons) or "every eps fitted"),
                       **provenance(manifest, runs))


def _floor_below_bound(store):
    """max over gaps and widths of the median floor / the random-feature bound."""
    got = _floor_runs(store)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    ratios = [(f"gamma2={r.result.gamma2:.3g}", float(np.max(r.result.floor_median / r.result.bound)))
              for r in runs]
    worst = max(ratios, key=lambda t: t[1])
    return Measurement(value=worst[1], uncertainty=0, uncertainty_kind="exact (deterministic solves)",
                       horizon=_floor_horizon(), per_seed=tuple((lab, v, 0) for lab, v in ratios),
                       per_seed_kind="settings", note=f"largest ratio on {worst[0]}", **provenance(manifest, runs))


def _bound_slope(inputs, variable: str) -> float:
    """Log-log slope of theory.ntk.soft_floor_bound (or soft_floor_neurons) over the measured window."""
    from theory.ntk import soft_floor_bound, soft_floor_neurons  # noqa: PLC0415

    if variable == "m":
        m = np.geomspace(inputs["m_low"], inputs["m_high"], 8)
        return loglog_slope(1 / m, soft_floor_bound(0.1, m)).slope  # from: any fixed gamma_2 (it cancels)
    if variable == "eps":
        e = np.geomspace(inputs["eps_low"], inputs["eps_high"], 8)
        return loglog_slope(1 / e, soft_floor_neurons(0.1, e)).slope  # from: any fixed gamma_2 (it cancels)
    g = np.geomspace(inputs["gamma_low"], inputs["gamma_high"], 8)
    return loglog_slope(1 / g, soft_floor_bound(g, 16.0)).slope  # from: any fixed width (it cancels)


def _floor_claims() -> list[Claim]:
    run_f = f"ibl run {_F}"
    h = _floor_horizon()
    seeds = "5 initialisation seeds per gap (median), sweep seed of the config"
    src = "check S.8 (soft KL floor ~ (teacher norm)^2/m); [M25] O(1/(gamma^2 eps))"
    # what every floor row shares: the experiment, its solver horizon, seeds and the command producing it
    Floor = functools.partial(Claim, experiment=_F, horizon=h, horizon_unit="solver iterations", seeds=seeds,
                              produce=run_f, max_horizon=h)
    return [
        Floor(id="m25.soft.floor_width_exponent", source=src,
              statement="soft labels, to convergence: the floor L_inf(m) falls like 1/m (log-log slope 1)",
              quantity="pooled log-log slope of median result.floor in 1/m (m >= fit_min_width)",
              predict=lambda inputs: _bound_slope(inputs, "m"),
              prediction_source="theory.ntk.soft_floor_bound (slope in 1/m)",
              measure=_floor_width_exponent, comparison="equal", tolerance=Tolerance(0.3, _LOG_WHY)),
        Floor(id="m25.soft.floor_gamma_exponent", source=src,
              statement="soft labels, to convergence: the floor at fixed m grows like 1/gamma_2^2 (slope 2)",
              quantity="pooled log-log slope of median result.floor in 1/result.gamma2, per width",
              predict=lambda inputs: _bound_slope(inputs, "gamma"),
              prediction_source="theory.ntk.soft_floor_bound (slope in 1/gamma_2)",
              measure=_floor_gamma_exponent, comparison="equal", tolerance=Tolerance(0.3, _LOG_WHY)),
        Floor(id="m25.soft.floor_eps_exponent", source=src,
              statement="soft labels, to convergence: m*(eps) from the floors grows like 1/eps (slope 1)",
              quantity="pooled log-log slope of result.m_star in 1/eps (usable points)",
              predict=lambda inputs: _bound_slope(inputs, "eps"),
              prediction_source="theory.ntk.soft_floor_neurons (slope in 1/eps)",
              measure=_floor_mstar_eps_exponent, comparison="equal", tolerance=Tolerance(0.3, _LOG_WHY)),
        Floor(id="m25.soft.floor_mstar_gamma_exponent", source=src,
              statement="soft labels, to convergence: m*(eps) from the floors grows like 1/gamma_2^2 (slope 2)",
              quantity="pooled log-log slope of result.m_star in 1/result.gamma2, per eps",
              predict=lambda inputs: _bound_slope(inputs, "gamma"),
              prediction_source="theory.ntk.soft_floor_neurons (slope in 1/gamma_2)",
              measure=_floor_mstar_gamma_exponent, comparison="equal", tolerance=Tolerance(0.3, _LOG_WHY)),
        Floor(id="m25.soft.floor_below_rf_bound",
              source="derived: random-feature student, E floor <= |x|^2/(8 gamma_2^2 m_eff) (theory.ntk.soft_floor_bound)",
              statement="the converged network's median floor is below the random-feature bound at every width",
              quantity="max over gaps and widths of result.floor_median / result.bound",
              predict=lambda inputs: 1,
              prediction_source="theory.ntk.soft_floor_bound (ratio 1)",
              measure=_floor_below_bound, comparison="at_most",
              tolerance=Tolerance(0, "an upper bound (proven for the random-feature student, in expectation; "
                                     "applied to the trained network as a check)")),
    ]


CLAIMS += _floor_claims()
