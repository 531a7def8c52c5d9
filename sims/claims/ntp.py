"""Claims of Thrampoulidis (NeurIPS 2024) [T24] and the NTP checks N.k (the paper's appendix "Checks").

Measured on the experiments' own instances (``ntp_overparam``: App. A.2 sizes, data seed 0;
``ntp_toy``; ``ntp_text``), GD unless a row says otherwise. Thresholds of the checks N.k (cosines,
distances) are the checks' numbers, quoted with their check; the references
:math:`\\|W^{mm}\\|`, :math:`W^\\star` were computed by :mod:`theory` in the run
(:func:`theory.ntp_svm.max_margin_direction`, :func:`theory.ntp.finite_component`).
"""

from __future__ import annotations

import math

import numpy as np

from sims.claims._measure import at_horizon, latest_runs, provenance, trajectory_measurement
from sims.claims._record import (SLOPE_KIND, Z_FAMILY, Claim, Measurement, Missing, Tolerance,
                                 pass_rate_interval)
from sims.experiments.ntp_gd import OverparamConfig, SeedsConfig, TextConfig, ToyConfig
from theory.fitting import loglog_slope

__all__ = ["CLAIMS"]

_FULL = OverparamConfig().steps  # full-mode horizon of ntp_overparam / ntp_text / ntp_toy


def _method_run(store, experiment: str, method: str):
    got = latest_runs(store, experiment)
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    mine = [r for r in runs if r.point.method == method]
    if not mine:
        return Missing(f"the latest {experiment} sweep has no {method} run")
    return manifest, mine[0]


def _metric_at(experiment: str, method: str, metric: str, horizon: float):
    def measure(store):
        got = _method_run(store, experiment, method)
        if isinstance(got, Missing):
            return got
        manifest, run = got
        return trajectory_measurement(run.result.steps, getattr(run.result.metrics, metric), horizon,
                                      f"{experiment}/{method}/{metric}", provenance(manifest, [run]))
    return measure


def _threshold(value):
    """A threshold of a check is the prediction itself (``predict`` returns it); the caller quotes the check."""
    return lambda inputs: value


def _gap_slope(store):
    """Log-log slope of CE - H over k in [1e4, 1e5] (check N.5's window)."""
    got = _method_run(store, "ntp_overparam", "gd")
    if isinstance(got, Missing):
        return got
    manifest, run = got
    k = np.asarray(run.result.steps, dtype=np.float64)
    lo, hi = _GAP_WINDOW
    if k.max() < hi:
        return Missing(f"the stored GD run stops at k = {k.max():g} < {hi:g} (window of check N.5 [{lo:g}, {hi:g}])")
    fit = loglog_slope(k, run.result.metrics.gap, window=(lo, hi))
    return Measurement(value=fit.slope, uncertainty=Z_FAMILY * fit.stderr, uncertainty_kind=SLOPE_KIND,
                       horizon=hi, note=f"{fit.n_points} checkpoints", **provenance(manifest, [run]))


_GAP_WINDOW = (1e4, 1e5)  # from: check N.5
_K_EARLY, _K_LATE = 1e4, 1e5  # from: checks N.7-N.8 (thresholds "by 1e4" and "by 1e5" steps)


def _norm_growth(store):
    """(||W_k2|| - ||W_k1||) / log(k2/k1) over the last half-decade of the run, vs ||W^mm||."""
    got = _method_run(store, "ntp_overparam", "gd")
    if isinstance(got, Missing):
        return got
    manifest, run = got
    k = np.asarray(run.result.steps, dtype=np.float64)
    nrm = np.asarray(run.result.metrics.norm)
    k2 = k[-1]
    i1 = int(np.searchsorted(k, k2 / _NORM_RATIO))
    val = (nrm[-1] - nrm[i1]) / math.log(k2 / k[i1])
    return Measurement(value=float(val), uncertainty=0, uncertainty_kind="exact (deterministic run)", horizon=k2,
                       inputs={"W_mm_norm": run.result.W_mm_norm}, note=f"k1 = {k[i1]:g}, k2 = {k2:g}",
                       **provenance(manifest, [run]))


_NORM_RATIO = 3  # check N.6: k1 = 1e5, k2 = 3e5


def _ngd_ahead(store):
    """cos(W_k - W*, W^mm) of NGD minus GD's, at k = 1e4 (check N.10)."""
    got = latest_runs(store, "ntp_overparam")
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    by = {r.point.method: r for r in runs}
    if "gd" not in by or "ngd" not in by:
        return Missing("the latest ntp_overparam sweep lacks the GD or the NGD run")
    vals = []
    for m in ("ngd", "gd"):
        got = trajectory_measurement(by[m].result.steps, by[m].result.metrics.cos_mm_corrected, _K_EARLY, m,
                                     provenance(manifest, [by[m]]))
        if isinstance(got, Missing):
            return got
        vals.append(got)
    ngd, gd = vals
    return Measurement(value=ngd.value - gd.value, uncertainty=0, uncertainty_kind="exact (deterministic runs)",
                       horizon=min(ngd.horizon, gd.horizon), note=f"NGD {ngd.value:.4g}, GD {gd.value:.4g}",
                       **provenance(manifest, [by["ngd"], by["gd"]]))


_SEEDS_FULL = SeedsConfig().steps
#: (metric, "at_least"/"at_most", threshold, horizon, check) of checks N.7 and N.8
_SEED_THRESHOLDS = (
    ("cos_mm_corrected", "at_least", 0.95, _K_EARLY, "N.7"),  # from: check N.7 (0.95 by 1e4 steps)
    ("cos_mm_corrected", "at_least", 0.97, _K_LATE, "N.7"),  # from: check N.7 (0.97 by 1e5 steps)
    ("dist_F", "at_most", 1e-2, _K_LATE, "N.8"),  # from: check N.8 (1e-2 by 1e5 steps)
)
_DECADES = (10**3, 10**4, 10**5, 10**6)  # pass rates reported per decade


def _holds(values, side: str, threshold: float):
    v = np.asarray(values, dtype=np.float64)
    return v >= threshold if side == "at_least" else v <= threshold


def _first_hold(steps, ok) -> float:
    """First checkpoint from which the threshold holds at every later checkpoint (inf if not at the end)."""
    ok = np.asarray(ok, dtype=bool)
    if not ok[-1]:
        return math.inf
    bad = np.flatnonzero(~ok)
    return float(steps[bad[-1] + 1]) if bad.size else float(steps[0])


def _seed_runs(store):
    got = latest_runs(store, "ntp_overparam_seeds")
    if isinstance(got, Missing):
        return got
    manifest, runs = got
    return manifest, sorted(runs, key=lambda r: r.point.data_seed)


def _pass_rate(metric: str, side: str, threshold: float, horizon: float):
    """Fraction of data seeds meeting the threshold at ``horizon`` (Clopper-Pearson, family-wise).

    ``per_seed`` holds 1/0 (met or not) per data seed; ``later`` is the pass rate at the
    run's end; the note gives the rate at each decade and the first checkpoint from which
    the threshold holds on each seed.
    """
    def measure(store):
        got = _seed_runs(store)
        if isinstance(got, Missing):
            return got
        manifest, runs = got
        rows, firsts = [], []
        k_end = min(float(r.result.steps[-1]) for r in runs)
        if k_end < horizon:
            return Missing(f"the stored seed runs stop at k = {k_end:g} < {horizon:g}")

        def rate_at(k):
            ok = []
            for r in runs:
                kr, v = at_horizon(r.result.steps, getattr(r.result.metrics, metric), k)
                ok.append(bool(_holds([v], side, threshold)[0]) if math.isfinite(v) else False)
            return ok
        ok = rate_at(horizon)
        for r, o in zip(runs, ok):
            rows.append((f"data seed {r.point.data_seed}", float(o), 0))
            firsts.append(_first_hold(r.result.steps, _holds(getattr(r.result.metrics, metric), side, threshold)))
        n, p = len(runs), sum(ok)
        lo, hi = pass_rate_interval(p, n)
        # "later": the first decade past the horizon where every seed passes (else the run's end)
        k_later = next((k for k in _DECADES if horizon < k <= k_end and all(rate_at(k))), k_end)
        ok_end = rate_at(k_later)
        lo_e, hi_e = pass_rate_interval(sum(ok_end), n)
        rate_end = sum(ok_end) / n
        decades = ", ".join(f"{sum(rate_at(k))}/{n} at {k:g}" for k in _DECADES if k <= k_end)
        fin = sorted(f for f in firsts if math.isfinite(f))
        never = [r.point.data_seed for r, f in zip(runs, firsts) if not math.isfinite(f)]
        hold = (f"holds from k = {fin[len(fin) // 2]:.3g} (median over the {len(fin)} seeds where it holds at the end), "
                f"latest {fin[-1]:.3g}" if fin else "holds on no seed at the end")
        note = (f"passed {decades}; Clopper-Pearson [{lo:.3g}, {hi:.3g}] at {horizon:g}; {hold}"
                + (f"; not by k = {k_end:g} on data seeds {never}" if never else "")
                + f"; seed 0 (the figure's instance) first holds at k = {firsts[0]:.3g}" * (runs[0].point.data_seed == 0))
        return Measurement(value=p / n, uncertainty=max(p / n - lo, hi - p / n),
                           uncertainty_kind="Clopper-Pearson half-width (family-wise), larger side",
                           horizon=horizon, per_seed=tuple(rows),
                           later=(k_later, rate_end, max(rate_end - lo_e, hi_e - rate_end)) if k_later > horizon else None,
                           inputs={"n_seeds": n}, note=note, **provenance(manifest, runs))
    return measure


def _seed_claims() -> list[Claim]:
    out = []
    run = "ibl run ntp_overparam_seeds"
    for metric, side, thr, k, check in _SEED_THRESHOLDS:
        name = "cos_corrected" if metric.startswith("cos") else "dist_F"
        what = ("cos(W_k - W*, W^mm) >= " if name == "cos_corrected" else "||P_F W_k - W*|| / ||W*|| <= ") + f"{thr:g}"
        out.append(Claim(
            id=f"t24.a2.seeds.{name}.{k:.0e}".replace("+0", ""), source=f"[T24] Thm 2; check {check}",
            statement=f"{what} by {k:g} GD steps on App. A.2 draws (every data seed)",
            experiment="ntp_overparam_seeds",
            quantity=f"fraction of data seeds with result.metrics.{metric} past the threshold at k = {k:g}",
            predict=lambda inputs: 1, prediction_source=f"check {check}: the threshold holds on every draw",
            measure=_pass_rate(metric, side, thr, k), comparison="at_least",
            tolerance=Tolerance(0.0, "a threshold on every draw: only the binomial interval is allowed"),
            horizon=k, horizon_unit="k", seeds=f"data seeds {SeedsConfig().data_seeds[0]}..{SeedsConfig().data_seeds[-1]}",
            produce=run, max_horizon=_SEEDS_FULL))
    return out


def _claims() -> list[Claim]:
    run_op = "ibl run ntp_overparam"
    out = [
        Claim(id="t24.a2.gap_slope", source="check N.5 (a rate stated by analogy with Soudry et al.; not proved for NTP)",
              statement="GD's loss gap CE - H decays like 1/k on the App. A.2 instance",
              experiment="ntp_overparam", quantity="log-log slope of result.metrics.gap over k in [1e4, 1e5]",
              predict=lambda inputs: -1, prediction_source="1/k (exponent -1, check N.5)",
              measure=_gap_slope, comparison="equal",
              tolerance=Tolerance(0.1, "check N.5 accepts [-1.15, -0.9]; we use its tighter side"),
              horizon=_GAP_WINDOW[1], horizon_unit="k", seeds="data seed 0", produce=run_op, max_horizon=_FULL),
        Claim(id="t24.a2.cos_corrected.1e4", source="[T24] Thm 2; check N.7",
              statement="cos(W_k - W*, W^mm) > 0.95 by 1e4 GD steps (App. A.2, data seed 0)",
              experiment="ntp_overparam", quantity="result.metrics.cos_mm_corrected at k = 1e4",
              predict=_threshold(0.95), prediction_source="threshold of check N.7",  # from: check N.7
              measure=_metric_at("ntp_overparam", "gd", "cos_mm_corrected", _K_EARLY), comparison="at_least",
              tolerance=Tolerance(0.0, "a threshold: no slack"), horizon=_K_EARLY, horizon_unit="k",
              seeds="data seed 0", produce=run_op, max_horizon=_FULL),
        Claim(id="t24.a2.cos_corrected.1e5", source="[T24] Thm 2; check N.7",
              statement="cos(W_k - W*, W^mm) > 0.97 by 1e5 GD steps (App. A.2, data seed 0)",
              experiment="ntp_overparam", quantity="result.metrics.cos_mm_corrected at k = 1e5",
              predict=_threshold(0.97), prediction_source="threshold of check N.7",  # from: check N.7
              measure=_metric_at("ntp_overparam", "gd", "cos_mm_corrected", _K_LATE), comparison="at_least",
              tolerance=Tolerance(0.0, "a threshold: no slack"), horizon=_K_LATE, horizon_unit="k",
              seeds="data seed 0", produce=run_op, max_horizon=_FULL),
        Claim(id="t24.a2.dist_F.1e5", source="[T24] Thm 2 (P_F W_k -> W*); check N.8",
              statement="||P_F W_k - W*|| / ||W*|| < 1e-2 by 1e5 GD steps (App. A.2, data seed 0)",
              experiment="ntp_overparam", quantity="result.metrics.dist_F at k = 1e5",
              predict=_threshold(1e-2), prediction_source="threshold of check N.8",  # from: check N.8
              measure=_metric_at("ntp_overparam", "gd", "dist_F", _K_LATE), comparison="at_most",
              tolerance=Tolerance(0.0, "a threshold: no slack"), horizon=_K_LATE, horizon_unit="k",
              seeds="data seed 0", produce=run_op, max_horizon=_FULL),
        Claim(id="t24.a2.norm_growth", source="[T24] Thm 2 (P_perp W_k / log k -> W^mm); check N.6",
              statement="||W_k|| grows like ||W^mm|| log k: (||W_k2|| - ||W_k1||)/log(k2/k1) -> ||W^mm||, "
                        "k2 = 3 k1 = 3e5",
              experiment="ntp_overparam", quantity="norm increment per unit log k over the run's last log 3",
              predict=lambda inputs: float(inputs["W_mm_norm"]),
              prediction_source="||W^mm|| by theory.ntp_svm.max_margin_direction (stored with the run)",
              measure=_norm_growth, comparison="equal",
              tolerance=Tolerance(0.05, "check N.6: within 5%", relative=True),
              horizon=3e5, horizon_unit="k", seeds="data seed 0",  # from: check N.6 (k2 = 3e5)
              produce="ibl run ntp_overparam --set steps=300000", max_horizon=_FULL),
        Claim(id="t24.a2.ngd_ahead", source="check N.10 ([T24] §5: normalised GD aligns faster)",
              statement="NGD (eta = 0.01) is closer to W^mm than GD (eta = 0.5) at 1e4 steps: higher cos(W_k - W*, W^mm)",
              experiment="ntp_overparam", quantity="cos_mm_corrected(NGD) - cos_mm_corrected(GD) at k = 1e4",
              predict=lambda inputs: 0, prediction_source="an ordering (check N.10): difference > 0",
              measure=_ngd_ahead, comparison="at_least", tolerance=Tolerance(0, "an ordering: no slack"),
              horizon=_K_EARLY, horizon_unit="k", seeds="data seed 0", produce=run_op, max_horizon=_FULL),
        Claim(id="t24.toy.cos_corrected", source="[T24] Figs. 1-2, Thm 2",
              statement="on the 2-D toy, cos(W_k - W*, W^mm) > 0.97 by 1e5 GD steps",
              experiment="ntp_toy", quantity="result.metrics.cos_mm_corrected at k = 1e5",
              predict=_threshold(0.97), prediction_source="threshold of check N.7, applied to the toy",
              measure=_metric_at("ntp_toy", "gd", "cos_mm_corrected", _K_LATE), comparison="at_least",
              tolerance=Tolerance(0.0, "a threshold: no slack"), horizon=ToyConfig().steps, horizon_unit="k",
              seeds="data seed 0", produce="ibl run ntp_toy", max_horizon=ToyConfig().steps),
        Claim(id="t24.toy.dist_F", source="[T24] Figs. 1-2, Thm 2",
              statement="on the 2-D toy, ||P_F W_k - W*|| / ||W*|| < 1e-2 by 1e5 GD steps",
              experiment="ntp_toy", quantity="result.metrics.dist_F at k = 1e5",
              predict=_threshold(1e-2), prediction_source="threshold of check N.8, applied to the toy",
              measure=_metric_at("ntp_toy", "gd", "dist_F", _K_LATE), comparison="at_most",
              tolerance=Tolerance(0.0, "a threshold: no slack"), horizon=ToyConfig().steps, horizon_unit="k",
              seeds="data seed 0", produce="ibl run ntp_toy", max_horizon=ToyConfig().steps),
    ]
    for method in ("gd", "ngd", "adam"):
        extra = (" No theorem covers Adam here; the measured cosine is what is known."
                 if method == "adam" else "")
        src = "[T24] Thm 2 (GD)" if method == "gd" else "[T24] §5 (NGD/Adam: conjectured, not proved)"
        out.append(Claim(
            id=f"t24.text.{method}.cos_mm", source=src,
            statement=f"{method.upper()} on the real-text instance converges in direction to W^mm "
                      f"(cos(W_k, W^mm) -> 1).{extra}",
            experiment="ntp_text", quantity="result.metrics.cos_mm at k = 1e5",
            predict=lambda inputs: 1, prediction_source="directional convergence: cosine 1",
            measure=_metric_at("ntp_text", method, "cos_mm", TextConfig().steps), comparison="at_least",
            tolerance=Tolerance(0.03, "check N.7's 0.97 at 1e5 steps, read as 1 - 0.03"),
            horizon=TextConfig().steps, horizon_unit="k", seeds="data seed 0 (embeddings)",
            produce="ibl run ntp_text", max_horizon=TextConfig().steps))
    return out


CLAIMS: list[Claim] = _claims() + _seed_claims()
