r"""The manuscript's numbers: what each one is, and how it is read from the result store.

Every number the paper prints is one :class:`Spec` (a figure's fitted number, a value of
typed runs, a claim's measurement, or a constant computed by :mod:`theory`). The list of
keys is fixed by the code, not by the store (:func:`declared_keys`), so that a store
without some experiment still yields every key (its value "n/a" and the reason why).
:func:`collect_numbers` turns the specs into :class:`PaperNumber` objects, each with its
provenance: experiment, sweep key, run keys, code digests (``meta["code"]["digest"]``)
and quick/full mode.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any, Callable

from sims.paper._format import STYLES, format_value

__all__ = ["PaperNumber", "Spec", "SPECS", "collect_numbers", "declared_keys", "claim_keys", "check_store_argument",
           "check_measurements_argument"]


def check_store_argument(store, name: str = "store"):
    """``store`` if it is a :class:`sims.store.ResultStore`, else ``TypeError`` naming ``name``."""
    from sims.store import ResultStore

    if not isinstance(store, ResultStore):
        raise TypeError(f"{name} must be a sims.store.ResultStore (e.g. ResultStore('results')), got "
                        f"{type(store).__name__}: {store!r}")
    return store


def check_measurements_argument(measurements, name: str = "measurements"):
    """``measurements`` if it is None or the dict of ``sims.claims.measure_all``, else an error naming ``name``."""
    if measurements is None:
        return None
    if not isinstance(measurements, dict):
        raise TypeError(f"{name} must be None or the dict of sims.claims.measure_all (with a 'claims' entry), "
                        f"got {type(measurements).__name__}: {measurements!r}")
    if not isinstance(measurements.get("claims"), dict):
        raise ValueError(f"{name} must be the dict of sims.claims.measure_all, with a 'claims' dict, got the keys "
                         f"{sorted(measurements)}")
    return measurements


@dataclass(frozen=True)
class PaperNumber:
    """One generated number and where it comes from.

    Attributes
    ----------
    key : str
        What the manuscript writes: ``\\IBL{key}``.
    value : float, int, str or None
        The value (None when it could not be computed from the store).
    text : str
        Its LaTeX text (:func:`sims.paper.format_value`).
    what : str
        One line: the quantity and how it is computed.
    source : str
        ``figure NAME: PATH``, ``runs EXPERIMENT``, ``claim ID: FIELD`` or ``theory CALL``.
    experiment, sweep_key : str
        Empty for theory constants.
    run_keys, digests : tuple of str
        The runs the number is computed from, and the code digests they record
        (empty when the store predates digests).
    quick : bool or None
        Whether the sweep ran in quick mode (None for theory constants).
    missing : str
        Why there is no value (empty when there is one).
    """

    key: str
    value: Any
    text: str
    what: str
    source: str
    experiment: str = ""
    sweep_key: str = ""
    run_keys: tuple = ()
    digests: tuple = ()
    quick: bool | None = None
    missing: str = ""

    def to_dict(self) -> dict:
        v = self.value
        if isinstance(v, float) and not math.isfinite(v):
            v = str(v)
        return {"key": self.key, "value": v, "text": self.text, "what": self.what, "source": self.source,
                "experiment": self.experiment, "sweep_key": self.sweep_key, "run_keys": list(self.run_keys),
                "digests": list(self.digests), "quick": self.quick, "missing": self.missing}


@dataclass(frozen=True)
class Spec:
    """How one number is computed.

    Attributes
    ----------
    key : str
    style : str
        One of :data:`sims.paper.STYLES`.
    what : str
    figure : str
        Figure whose ``make(store)`` numbers hold the value at ``path`` (dotted, e.g.
        ``panels.a.slope``), or empty.
    experiment : str
        Experiment whose latest complete sweep ``get`` reads (typed runs), or empty.
    path : str
    get : callable or None
        ``get(runs) -> value`` on the selected typed runs (experiment specs), or
        ``get() -> value`` (theory constants, ``experiment`` and ``figure`` empty).
    select : callable or None
        ``select(run) -> bool``: the runs the number depends on (default all of the sweep).
    source : str
        For theory constants: the call, as text.
    """

    key: str
    style: str
    what: str
    figure: str = ""
    experiment: str = ""
    path: str = ""
    get: Callable | None = None
    select: Callable | None = None
    source: str = ""

    def __post_init__(self):
        if self.style not in STYLES:
            raise ValueError(f"Spec {self.key!r}: style must be one of {STYLES}, got {self.style!r}")


# ------------------------------------------------------------------ spec helpers

def _panel(name: str) -> Callable:
    return lambda r: getattr(r.point, "panel", None) == name


def _fig(key, figure, path, style, what, panel: str | None = None, select=None) -> Spec:
    return Spec(key, style, what, figure=figure, path=path,
                select=select if select is not None else (_panel(panel) if panel else None))


def _runs(key, experiment, get, style, what, panel: str | None = None, select=None) -> Spec:
    return Spec(key, style, what, experiment=experiment, get=get,
                select=select if select is not None else (_panel(panel) if panel else None))


def _theory(key, call: Callable[[], Any], source: str, style: str, what: str) -> Spec:
    return Spec(key, style, what, get=call, source=source)


def _jt(attr: str, gamma: float, eps: float) -> Callable[[], Any]:
    def call():
        from theory.ntk import jt_width_bound

        return getattr(jt_width_bound(gamma, eps, 1000, 0.1), attr)
    return call


def _toy_limit(index: int | None) -> Callable[[], Any]:
    def call():
        import numpy as np

        from theory.transfer import partial_ce_limit, tv_risk

        pi = np.array([[0.6, 0.3, 0.1]])
        lim = partial_ce_limit(pi)
        return float(tv_risk(lim, pi, np.array([1.0]))) if index is None else float(lim[0, index])
    return call


@functools.lru_cache(maxsize=None)
def _second_order(data_seed: int, lr: float):
    """(mu_F, ||E||) of theory.ntp_asymptotics.ntp_w_tilde on App. A.2 data of one seed (cached: ~2 s each)."""
    import numpy as np

    from theory.ntp import NTPData
    from theory.ntp_asymptotics import ntp_w_tilde

    pred = ntp_w_tilde(NTPData.paper_a2(data_seed), lr=lr)
    return float(pred.finite_curvature), float(np.linalg.norm(pred.finite_correction))


def _a2_seed(data_seed: int, what: str) -> Callable[[], Any]:
    def call():
        mu, e = _second_order(data_seed, 0.5)
        return {"mu_F": mu, "relax": 1.0 / (0.5 * mu), "E": e}[what]
    return call


def _m_star_count(which: str) -> Callable[[Any], int]:
    """Count over runs of the (dataset, eps) points of m* that are ``which`` (the figure's classes)."""
    def count(runs) -> int:
        import numpy as np

        total = 0
        for r in runs:
            m = np.asarray(r.result.m_star, dtype=np.float64)
            cen = np.asarray(r.result.censored, bool)
            cap = np.asarray(r.result.budget_capped, bool)
            found = np.isfinite(m)
            total += int({"points": np.ones_like(found), "usable": found & ~cen & ~cap, "censored": cen,
                          "capped": cap & found, "unreached": ~found}[which].sum())
        return total
    return count


def _hard_budget_ratio(which) -> Callable[[Any], float]:
    """T_hard(eps) gamma_2^2 eps of the first hard run at its largest or smallest eps: c_H lambda_bar(eps)^2."""
    def get(runs) -> float:
        from theory.ntk import hard_label_budget

        p, res = runs[0].point, runs[0].result
        e = which(res.eps)
        return hard_label_budget(res.gamma2, e, p.n, p.delta, budget_constant=p.hard_budget_constant) \
            * res.gamma2 ** 2 * e
    return get


def _hard_budget_specs() -> list[Spec]:
    """The hard runs' budget rule (sims.experiments.softhard, hard_budget) and the other settings' sweeps."""
    hard = (lambda r: r.point.kind == "hard")
    s = [
        _runs("sh.hard.rule", "softhard_width", lambda r: r[0].point.hard_budget, "text",
              "budget rule of the hard-label width runs (jt: [JT20]-shaped)", select=hard),
        _runs("sh.hard.c", "softhard_width", lambda r: r[0].point.hard_budget_constant, "sig2",
              "c_H of the hard budget c_H lambda_bar^2/(gamma_2^2 eps)", select=hard),
        _runs("sh.hard.tmax", "softhard_width", lambda r: r[0].point.hard_steps_max, "sci",
              "cap of the hard budgets", select=hard),
        _runs("sh.soft.tmax", "softhard_width", lambda r: r[0].point.steps_max, "sci",
              "cap of the soft budgets", select=(lambda r: r.point.kind == "soft")),
        _runs("sh.hard.ratio_lo", "softhard_width", _hard_budget_ratio(max), "sig2",
              "hard over common budget at the largest eps: c_H lambda_bar^2", select=hard),
        _runs("sh.hard.ratio_hi", "softhard_width", _hard_budget_ratio(min), "sig2",
              "hard over common budget at the smallest eps: c_H lambda_bar^2", select=hard),
        _runs("sh.projected.c", "softhard_width_projected", lambda r: r[0].point.project_constant, "sig2",
              "c' of the projected sweep's radius R = c'/gamma_2"),
    ]
    for exp, tag, kinds in (("softhard_width_coupled", "coupled", ("soft", "hard")),
                            ("softhard_width_projected", "projected", ("soft",))):
        for kind in kinds:
            sel = (lambda kk: (lambda r: r.point.kind == kk))(kind)
            for what, count, text in _M_STAR_COUNTS:
                s.append(_runs(f"sh.{tag}.{kind}.{what}", exp, count, "int",
                               f"{tag} sweep, {kind} labels: (dataset, eps) points {text}", select=sel))
    return s


def _transfer_gd_specs() -> list[Spec]:
    """Numbers of the section on the [ZZ23] learners trained by GD (experiment and figure ``transfer_gd``).

    GD slopes are read at the smallest and the largest step count of the full-mode configuration
    (a quick sweep records fewer step counts: the largest one is then "n/a").
    """
    from sims.experiments.transfer_gd import LEARNERS, TransferGDConfig

    cfg_steps = TransferGDConfig().steps
    ends = {"kmin": int(min(cfg_steps)), "kmax": int(max(cfg_steps))}
    f, e = "transfer_gd", "transfer_gd"
    s: list[Spec] = [
        _runs("tg.nmin", e, lambda r: min(x.point.n for x in r), "int", "smallest sample size n of transfer_gd"),
        _runs("tg.nmax", e, lambda r: max(x.point.n for x in r), "int", "largest sample size n of transfer_gd"),
        _runs("tg.npoints", e, lambda r: len({x.point.n for x in r}), "int", "sample sizes per panel of transfer_gd",
              "a"),
        _runs("tg.repeats", e, lambda r: r[0].point.repeats, "int", "data sets per point of transfer_gd"),
        _runs("tg.lr", e, lambda r: r[0].point.lr, "sig2", "GD step size eta of transfer_gd"),
        _runs("tg.kmin", e, lambda r: int(min(r[0].point.steps)), "sci", "smallest step count k recorded"),
        _runs("tg.kmax", e, lambda r: int(max(r[0].point.steps)), "sci", "largest step count k recorded"),
        _runs("tg.ksteps", e, lambda r: len(r[0].point.steps), "int", "step counts k recorded per run"),
        _runs("tg.sel_repeats", e, lambda r: r[0].point.sel_repeats, "int",
              "data sets of the SEL_ptl random-start check"),
        _runs("tg.sel_steps", e, lambda r: max(int(x.result.sel_steps) for x in r), "sci",
              "largest step count of a SEL_ptl random-start run"),
    ]
    for p in "ab":
        s += [
            _fig(f"tg.{p}.S", f, f"panels.{p}.S", "int", f"panel ({p}): number of inputs |S|", p),
            _fig(f"tg.{p}.A", f, f"panels.{p}.A", "int", f"panel ({p}): number of labels |A|", p),
            _runs(f"tg.{p}.instance", e, lambda r: r[0].point.instance.removeprefix("instance"), "text",
                  f"panel ({p}): instance of [ZZ23] Sec. 6", p),
        ]
        for learner in LEARNERS:
            if learner != "ce_ful":  # the closed-form CE_ful risk reaches 0 (exponential decay): no slope
                s.append(_fig(f"tg.{p}.{learner}.closed", f, f"panels.{p}.fits.{learner}.closed.slope", "slope",
                              f"panel ({p}), {learner}: log-log slope in n of the closed form's mean risk "
                              "(whole n grid)", p))
            for end, k in ends.items():
                s.append(_fig(f"tg.{p}.{learner}.{end}", f, f"panels.{p}.fits.{learner}.gd.{k}.slope", "slope",
                              f"panel ({p}), {learner}: log-log slope in n of the GD student's mean risk at k = {k} "
                              "(whole n grid)", p))
    return s


#: The classes of m* points (sims.experiments.softhard): all, usable for a fit, censored at the
#: smallest width, with a budget capped by steps_max (m* found), and not reached at any width.
_M_STAR_COUNTS = (
    ("points", _m_star_count("points"), "in all"),
    ("usable", _m_star_count("usable"), "usable for a fit (finite, uncensored, budget not capped)"),
    ("censored", _m_star_count("censored"), "censored at the smallest width"),
    ("capped", _m_star_count("capped"), "with m* found under a budget capped by steps_max"),
    ("unreached", _m_star_count("unreached"), "where no width of the grid reaches eps"),
)


def _specs() -> list[Spec]:
    s: list[Spec] = []
    # ---------------- finite-domain transfer (Zhao & Zhu), figure 2 fits
    for p in "abcdef":
        s += [
            _fig(f"zz.fig2.{p}.slope", "transfer_fig2", f"panels.{p}.slope", "slope",
                 f"panel ({p}): log-log slope of the minimax learner's mean risk over its fit window", p),
            _fig(f"zz.fig2.{p}.ci_low", "transfer_fig2", f"panels.{p}.ci_low", "slope",
                 f"panel ({p}): lower end of the 95% CI of the slope", p),
            _fig(f"zz.fig2.{p}.ci_high", "transfer_fig2", f"panels.{p}.ci_high", "slope",
                 f"panel ({p}): upper end of the 95% CI of the slope", p),
            _fig(f"zz.fig2.{p}.nlow", "transfer_fig2", f"panels.{p}.window.0", "sci",
                 f"panel ({p}): smallest n of the fit window", p),
            _fig(f"zz.fig2.{p}.nhigh", "transfer_fig2", f"panels.{p}.window.1", "sci",
                 f"panel ({p}): largest n of the fit window", p),
        ]
    s += [
        _fig("zz.fig2.repeats", "transfer_fig2", "panels.a.repeats", "int",
             "independent data sets per marker of Fig. 2 (panel a)", "a"),
        _runs("zz.fig1.repeats", "transfer_fig1", lambda r: r[0].point.repeats, "int",
              "independent data sets per marker of Fig. 1"),
        _runs("zz.fig1.nmax", "transfer_fig1", lambda r: max(x.point.n for x in r), "int",
              "largest n of Fig. 1, panel (a)", "a"),
        _theory("zz.toy.limit1", _toy_limit(0), "theory.transfer.partial_ce_limit([[0.6, 0.3, 0.1]])[0, 0]",
                "sig4", "CE_ptl limit of pi* = (0.6, 0.3, 0.1), first label"),
        _theory("zz.toy.limit2", _toy_limit(1), "theory.transfer.partial_ce_limit([[0.6, 0.3, 0.1]])[0, 1]",
                "sig4", "CE_ptl limit of pi* = (0.6, 0.3, 0.1), second label"),
        _theory("zz.toy.limit3", _toy_limit(2), "theory.transfer.partial_ce_limit([[0.6, 0.3, 0.1]])[0, 2]",
                "sig3", "CE_ptl limit of pi* = (0.6, 0.3, 0.1), third label"),
        _theory("zz.toy.tv", _toy_limit(None), "theory.transfer.tv_risk(partial_ce_limit(pi), pi, [1])",
                "sig4", "TV between the CE_ptl limit and pi* = (0.6, 0.3, 0.1)"),
    ]
    s += _transfer_gd_specs()
    # ---------------- NTP (Thrampoulidis), App. A.2
    a2 = "ntp_overparam"
    s += [
        _runs("ntp.a2.m", a2, lambda r: r[0].result.shape[0], "int", "contexts m of App. A.2", "gd"),
        _runs("ntp.a2.d", a2, lambda r: r[0].result.shape[1], "int", "embedding dimension d of App. A.2", "gd"),
        _runs("ntp.a2.V", a2, lambda r: r[0].result.shape[2], "int", "vocabulary size V of App. A.2", "gd"),
        _runs("ntp.a2.entropy", a2, lambda r: r[0].result.entropy, "sig3", "empirical entropy H of App. A.2", "gd"),
        _runs("ntp.a2.wstar", a2, lambda r: r[0].result.W_star_norm, "sig3", "norm of W* (App. A.2)", "gd"),
        _runs("ntp.a2.wmm", a2, lambda r: r[0].result.W_mm_norm, "sig3", "norm of W^mm (App. A.2)", "gd"),
        _runs("ntp.a2.steps", a2, lambda r: r[0].point.steps, "sci", "GD steps of the App. A.2 runs", "gd"),
        _runs("ntp.a2.lr", a2, lambda r: r[0].point.lr, "sig2", "GD step size of the App. A.2 run", "gd"),
        _runs("ntp.a2.ngd_lr", a2, lambda r: r[0].point.lr, "sig2", "NGD step size", "ngd"),
        _fig("ntp.a2.gd.gap_slope", "ntp_overparam", "gd.gap_loglog_slope.slope", "slope",
             "GD: log-log slope of CE - H over the last decade of steps", "gd"),
        _fig("ntp.a2.gd.gap_ci_low", "ntp_overparam", "gd.gap_loglog_slope.ci_low", "slope",
             "GD: lower end of the 95% CI of the gap slope", "gd"),
        _fig("ntp.a2.gd.gap_ci_high", "ntp_overparam", "gd.gap_loglog_slope.ci_high", "slope",
             "GD: upper end of the 95% CI of the gap slope", "gd"),
        _fig("ntp.a2.gd.window_low", "ntp_overparam", "gd.window.0", "sci", "GD: start of the fit window", "gd"),
        _fig("ntp.a2.gd.window_high", "ntp_overparam", "gd.window.1", "sci", "GD: end of the fit window", "gd"),
        _fig("ntp.a2.gd.norm_slope", "ntp_overparam", "gd.norm_slope_in_log_k", "sig3",
             "GD: slope of the norm against log k over the fit window", "gd"),
        _fig("ntp.a2.mu_F", "ntp_overparam", "gd.mu_F", "sig2", "smallest curvature mu_F of CE on F (App. A.2)", "gd"),
    ]
    for m in ("gd", "ngd", "adam"):
        s += [
            _fig(f"ntp.a2.{m}.cos", "ntp_overparam", f"{m}.final.cos_mm", "sig3",
                 f"{m}: cos(W_k, W^mm) at the last step", m),
            _fig(f"ntp.a2.{m}.cos_corrected", "ntp_overparam", f"{m}.final.cos_mm_corrected", "sig3",
                 f"{m}: cos(W_k - W*, W^mm) at the last step", m),
            _fig(f"ntp.a2.{m}.dist_F", "ntp_overparam", f"{m}.final.dist_F", "sig2",
                 f"{m}: ||P_F W_k - W*|| / ||W*|| at the last step", m),
        ]
    # ---------------- NTP: toy and text
    s += [
        _runs("ntp.toy.entropy", "ntp_toy", lambda r: r[0].result.entropy, "sig4", "entropy H of our 2-D toy draw"),
        _runs("ntp.toy.wmm", "ntp_toy", lambda r: r[0].result.W_mm_norm, "sig3", "norm of W^mm on the 2-D toy"),
        _runs("ntp.text.m", "ntp_text", lambda r: r[0].result.shape[0], "int", "contexts of the text instance", "gd"),
        _runs("ntp.text.d", "ntp_text", lambda r: r[0].result.shape[1], "int", "dimension of the text instance", "gd"),
        _runs("ntp.text.V", "ntp_text", lambda r: r[0].result.shape[2], "int", "vocabulary of the text instance", "gd"),
        _runs("ntp.text.steps", "ntp_text", lambda r: r[0].point.steps, "sci", "steps of the text runs", "gd"),
    ]
    for m in ("gd", "ngd", "adam"):
        s.append(_fig(f"ntp.text.{m}.cos", "ntp_text", f"{m}.final.cos_mm", "sig3",
                      f"text instance, {m}: cos(W_k, W^mm) at the last step", m))
    # ---------------- our derivation: W~
    for p in ("toy", "orthonormal", "gaussian", "paper_a2"):
        s += [
            _fig(f"wt.{p}.slope", "ntp_w_tilde", f"{p}.determined_slope.slope", "slope",
                 f"{p}: log-log slope of the determined residual over the last two decades", p),
            _fig(f"wt.{p}.ci_low", "ntp_w_tilde", f"{p}.determined_slope.ci_low", "slope",
                 f"{p}: lower end of the slope's 95% CI", p),
            _fig(f"wt.{p}.ci_high", "ntp_w_tilde", f"{p}.determined_slope.ci_high", "slope",
                 f"{p}: upper end of the slope's 95% CI", p),
            _fig(f"wt.{p}.mu_min", "ntp_w_tilde", f"{p}.restoring_min", "sig2",
                 f"{p}: smallest eigenvalue of Lambda^1/2 Gamma Lambda^1/2", p),
            _runs(f"wt.{p}.rate", "ntp_w_tilde", lambda r: r[0].result.rate_exponent, "sig2",
                  f"{p}: predicted rate exponent nu", p),
            _fig(f"wt.{p}.active", "ntp_w_tilde", f"{p}.n_active", "int", f"{p}: active pairs", p),
            _fig(f"wt.{p}.free", "ntp_w_tilde", f"{p}.free_dim", "int",
                 f"{p}: free directions (0 when the active generators span)", p),
            _fig(f"wt.{p}.kappa", "ntp_w_tilde", f"{p}.kappa_min", "sig3",
                 f"{p}: smallest margin of the non-active pairs", p),
            _fig(f"wt.{p}.mass_low", "ntp_w_tilde", f"{p}.final_mass_ratio_range.0", "sig3",
                 f"{p}: smallest mass ratio at the last checkpoint", p),
            _fig(f"wt.{p}.mass_high", "ntp_w_tilde", f"{p}.final_mass_ratio_range.1", "sig3",
                 f"{p}: largest mass ratio at the last checkpoint", p),
        ]
    for seed in (0, 1, 3, 8):
        call = f"theory.ntp_asymptotics.ntp_w_tilde(NTPData.paper_a2({seed}), lr=0.5)"
        s += [
            _theory(f"wt.seed{seed}.mu_F", _a2_seed(seed, "mu_F"), call + ".finite_curvature", "sig2",
                    f"App. A.2, data seed {seed}: smallest curvature mu_F of CE on F"),
            _theory(f"wt.seed{seed}.relax", _a2_seed(seed, "relax"), f"1 / (0.5 mu_F) of {call}", "sig2",
                    f"App. A.2, data seed {seed}: relaxation time 1/(eta mu_F), eta = 0.5"),
            _theory(f"wt.seed{seed}.E", _a2_seed(seed, "E"), f"||{call}.finite_correction||", "sig2",
                    f"App. A.2, data seed {seed}: norm of the 1/k correction E"),
        ]
    s += [
        _runs("wt.steps", "ntp_w_tilde", lambda r: r[0].point.steps, "sci", "steps of the W~ runs"),
        _runs("wt.a2.kappa_gap", "ntp_w_tilde", lambda r: r[0].result.kappa_min - 1.0, "sig2",
              "App. A.2: kappa_min - 1", "paper_a2"),
    ]
    # ---------------- one-hot max margin (Soudry et al.)
    for p in ("binary", "multiclass"):
        f = "onehot_maxmargin"
        s += [
            _fig(f"oh.{p}.n", f, f"{p}.n", "int", f"{p}: data points", p),
            _fig(f"oh.{p}.svm_norm", f, f"{p}.svm_norm", "sig3", f"{p}: norm of the hard-margin SVM", p),
            _fig(f"oh.{p}.loss_slope", f, f"{p}.loss_loglog_slope.slope", "slope",
                 f"{p}: log-log slope of the loss over the last decade", p),
            _fig(f"oh.{p}.loss_ratio", f, f"{p}.loss_times_k_over_prediction", "sig3",
                 f"{p}: k L(W_k) over its predicted limit at the last step", p),
            _fig(f"oh.{p}.dir_logk", f, f"{p}.direction_error_times_log_k", "sig3",
                 f"{p}: log k times the direction error at the last step", p),
            _fig(f"oh.{p}.dir_logk_limit", f, f"{p}.direction_error_times_log_k_predicted_limit", "sig3",
                 f"{p}: its predicted limit", p),
            _fig(f"oh.{p}.res_slope", f, f"{p}.tilde_residual_loglog_slope.slope", "slope",
                 f"{p}: log-log slope of ||W_k - W^ log k - W~|| over the last decade", p),
            _fig(f"oh.{p}.res_rate", f, f"{p}.tilde_residual_predicted_rate", "sig3",
                 f"{p}: predicted rate rho of the residual", p),
            _fig(f"oh.{p}.kmax", f, f"{p}.k_max", "sci", f"{p}: GD steps", p),
        ]
    # ---------------- soft vs hard labels
    s += [
        _theory("sh.jt.lam", _jt("lam", 0.1, 0.01), "theory.ntk.jt_width_bound(0.1, 0.01, 1000, 0.1).lam",
                "sig3", "[JT20] lambda at gamma = 0.1, eps = 0.01, n = 1000, delta = 0.1"),
        _theory("sh.jt.width", _jt("width", 0.1, 0.01), "theory.ntk.jt_width_bound(0.1, 0.01, 1000, 0.1).width",
                "sig3", "[JT20] width M at gamma = 0.1, eps = 0.01"),
        _theory("sh.jt.iter", _jt("iterations", 0.1, 0.01),
                "theory.ntk.jt_width_bound(0.1, 0.01, 1000, 0.1).iterations", "sig3",
                "[JT20] iterations T at gamma = 0.1, eps = 0.01"),
        _theory("sh.jt.width_half", _jt("width", 0.05, 0.01),
                "theory.ntk.jt_width_bound(0.05, 0.01, 1000, 0.1).width", "sig3",
                "[JT20] width M at gamma = 0.05 (half), eps = 0.01"),
        _runs("sh.width.n", "softhard_width", lambda r: r[0].point.n, "int", "training points of the width runs"),
        _runs("sh.width.seeds", "softhard_width", lambda r: r[0].point.n_seeds, "int", "seeds per width"),
        _runs("sh.width.wmax", "softhard_width", lambda r: max(r[0].point.widths), "int", "largest width"),
        _runs("sh.acc.configs", "softhard_accuracy", lambda r: len(r), "int", "accuracy configurations run"),
    ]
    for k in (1, 2, 3):
        sel = (lambda kk: (lambda r: r.point.family == "circle" and r.point.k == kk and r.point.kind == "hard"))(k)
        s += [
            _runs(f"sh.k{k}.gamma", "softhard_width", lambda r: r[0].result.gamma, "sig2",
                  f"k = {k}: random-feature NTK margin gamma", select=sel),
            _runs(f"sh.k{k}.gamma2", "softhard_width", lambda r: r[0].result.gamma2, "sig2",
                  f"k = {k}: kernel margin gamma_2", select=sel),
            _fig(f"sh.k{k}.lazy", "softhard_width", f"lazy.hard/circle/k={k}.max_measured", "sig3",
                 f"k = {k}, hard labels: measured sqrt(m) max_s ||w_s(t) - w_s(0)||"),
            _fig(f"sh.k{k}.lazy_bound", "softhard_width", f"lazy.hard/circle/k={k}.bound_4lambda_over_gamma", "sig2",
                 f"k = {k}, hard labels: the [JT20] bound 4 lambda / gamma"),
        ]
    clusters = (lambda r: r.point.family == "clusters" and r.point.kind == "soft")
    s += [
        _runs("sh.width.teacher", "softhard_width", lambda r: r[0].point.teacher, "text",
              "soft teacher of the width runs"),
        _runs("sh.width.targets", "softhard_width", lambda r: len(r[0].result.eps), "int",
              "targets eps per dataset of the width runs"),
        _runs("sh.width.eps_min", "softhard_width", lambda r: float(min(r[0].result.eps)), "sig2",
              "smallest target eps of the width runs"),
        _runs("sh.width.eps_max", "softhard_width", lambda r: float(max(r[0].result.eps)), "sig2",
              "largest target eps of the width runs"),
        _runs("sh.gap.datasets", "softhard_width", lambda r: len(r), "int",
              "two-cluster datasets of the gamma sweep", select=clusters),
        _fig("sh.gap.gamma_min", "softhard_width", "gamma_span.min", "sig2",
             "smallest random-feature NTK margin gamma of the two-cluster sweep", select=clusters),
        _fig("sh.gap.gamma_max", "softhard_width", "gamma_span.max", "sig2",
             "largest gamma of the two-cluster sweep", select=clusters),
        _fig("sh.gap.gamma_ratio", "softhard_width", "gamma_span.ratio", "sig2",
             "largest over smallest gamma of the two-cluster sweep", select=clusters),
    ]
    for kind in ("soft", "hard"):
        sel = (lambda kk: (lambda r: r.point.kind == kk))(kind)
        for what, count, text in _M_STAR_COUNTS:
            s.append(_runs(f"sh.{kind}.{what}", "softhard_width", count, "int",
                           f"{kind} labels: (dataset, eps) points of the width runs {text}", select=sel))
    s += _hard_budget_specs()
    s += [
        _fig("sh.acc.soft_some", "softhard_accuracy", "soft_wins_somewhere", "int",
             "configurations where soft labels win at some width (count)"),
        _fig("sh.acc.hard_some", "softhard_accuracy", "hard_wins_somewhere", "int",
             "configurations where hard labels win at some width (count)"),
        _fig("sh.acc.soft_all", "softhard_accuracy", "soft_wins_everywhere", "int",
             "configurations where soft labels win at every width (count)"),
    ]
    # ---------------- the soft floor to convergence (softhard_floor)
    f = "softhard_floor"
    s += [
        _runs("sf.n", f, lambda r: r[0].result.n, "int", "student (transfer) points of the floor runs"),
        _runs("sf.d", f, lambda r: r[0].result.d, "int", "input dimension of the floor runs"),
        _runs("sf.n_teacher", f, lambda r: r[0].result.n_teacher, "int", "teacher sample of the floor runs"),
        _runs("sf.gaps", f, lambda r: len(r), "int", "gaps (datasets) of the floor runs"),
        _runs("sf.seeds", f, lambda r: r[0].point.n_seeds, "int", "seeds per width of the floor runs"),
        _runs("sf.wmin", f, lambda r: min(r[0].point.widths), "int", "smallest width of the floor runs"),
        _runs("sf.wmax", f, lambda r: max(r[0].point.widths), "int", "largest width of the floor runs"),
        _runs("sf.fit_wmin", f, lambda r: r[0].point.fit_min_width, "int", "smallest width of the 1/m fits"),
        _runs("sf.max_iter", f, lambda r: r[0].point.max_iter, "int", "trust-region iterations at most"),
        _runs("sf.gd_steps", f, lambda r: r[0].point.gd_steps, "int", "GD steps of the fixed-budget comparison"),
        _fig("sf.gamma2_min", f, "gamma2_span.min", "sig2", "smallest kernel margin gamma_2 of the floor runs"),
        _fig("sf.gamma2_max", f, "gamma2_span.max", "sig2", "largest kernel margin gamma_2 of the floor runs"),
        _fig("sf.gamma2_ratio", f, "gamma2_span.ratio", "sig2", "largest over smallest gamma_2 of the floor runs"),
        _fig("sf.certified", f, "certified_fraction", "sig2", "fraction of floor solves certified (decrement)"),
        _fig("sf.gd_over_floor", f, "gd_over_floor_min", "sig3",
             "smallest ratio of GD's loss after gd_steps to the converged floor"),
        _fig("sf.gd_over_floor_wmax", f, "gd_over_floor_wmax_min", "sig2",
             "GD's loss after gd_steps over the floor at the largest width (median over seeds, smallest gap)"),
    ]
    return s


SPECS: tuple[Spec, ...] = tuple(_specs())

#: Fields of a claim's measurement that become numbers (``claim.ID.FIELD``).
CLAIM_FIELDS = ("value", "uncertainty", "prediction", "horizon", "status")


def claim_keys() -> list[str]:
    """``claim.ID.FIELD`` for every claim of the registry and every field of :data:`CLAIM_FIELDS`."""
    from sims.claims import CLAIMS

    return [f"claim.{c.id}.{f}" for c in CLAIMS for f in CLAIM_FIELDS]


#: Numbers about the store itself (what the copy of the paper was generated from).
META_KEYS = ("meta.store", "meta.mode")


def declared_keys() -> list[str]:
    """Every key :func:`collect_numbers` produces, whatever the store holds."""
    keys = list(META_KEYS) + [sp.key for sp in SPECS] + claim_keys()
    dup = {k for k in keys if keys.count(k) > 1}
    if dup:  # a programming error: two specs for one key
        raise RuntimeError(f"duplicate paper number keys: {sorted(dup)}")
    return keys


# ------------------------------------------------------------------ collection


@dataclass
class _Context:
    store: Any
    runs: dict = field(default_factory=dict)
    figures: dict = field(default_factory=dict)
    numbers_dir: Any = None  # where ibl figures wrote its numbers (reused when current), or None
    reused: list = field(default_factory=list)

    def load(self, experiment: str):
        """``(manifest, runs)`` of the latest complete sweep, or the LookupError that says what to run."""
        if experiment not in self.runs:
            from sims.experiment import load_runs

            from sims.store import CorruptResult

            try:
                self.runs[experiment] = load_runs(self.store, experiment)
            except LookupError as exc:
                self.runs[experiment] = exc
            except (CorruptResult, ValueError, TypeError) as exc:  # damaged, or stored by other code
                self.runs[experiment] = LookupError(f"the stored runs of {experiment} cannot be read by this code "
                                                    f"({exc}); recompute them: ibl run {experiment} --force")
        return self.runs[experiment]

    def figure(self, name: str):
        if name not in self.figures and self.numbers_dir is not None:
            from sims.paper._reuse import current_figure_numbers

            stored = current_figure_numbers(name, self.store, self.numbers_dir)
            if stored is not None:
                self.figures[name] = stored
                self.reused.append(name)
        if name not in self.figures:
            from figures import build_figure
            from figures._common import plt

            from sims.store import CorruptResult

            try:
                fig, numbers = build_figure(name, self.store)
                plt.close(fig)
                self.figures[name] = numbers if numbers is not None else {}
            except LookupError as exc:
                self.figures[name] = exc
            except (CorruptResult, ValueError, TypeError) as exc:
                self.figures[name] = LookupError(f"figure {name} cannot be drawn from this store ({exc})")
        return self.figures[name]


def _dig_fig(numbers: dict, path: str) -> Any:
    """A value of a figure's numbers dict; keys may contain dots' neighbours like 'hard/k=1'."""
    cur: Any = numbers
    parts = path.split(".")
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(cur, (list, tuple)):
            cur = cur[int(part)]
            i += 1
            continue
        # keys such as "hard/k=1" or "soft/eps=0.1" contain no dots except in numbers: join greedily
        j = i + 1
        while part not in cur and j < len(parts):
            part = part + "." + parts[j]
            j += 1
        cur = cur[part]
        i = j
    return cur


def _provenance(ctx: _Context, experiment: str, select) -> dict:
    loaded = ctx.load(experiment)
    if isinstance(loaded, LookupError):
        return {"experiment": experiment, "missing": str(loaded)}
    manifest, runs = loaded
    chosen = [r for r in runs if select is None or select(r)]
    digests = sorted({(r.meta.get("code") or {}).get("digest", "") for r in chosen} - {""})
    return {"experiment": experiment, "sweep_key": manifest["sweep_key"], "run_keys": tuple(r.key for r in chosen),
            "digests": tuple(digests), "quick": bool(manifest.get("quick")), "runs": chosen}


def _number(spec: Spec, value: Any, source: str, prov: dict) -> PaperNumber:
    missing = prov.get("missing", "")
    if isinstance(value, (list, tuple)) and spec.style == "int":  # a list of configurations: its length
        value = len(value)
    if value is None and not missing:
        missing = "the stored results give no value (e.g. no width of the grid reached the target)"
    return PaperNumber(key=spec.key, value=value, text=format_value(value, spec.style), what=spec.what, source=source,
                       experiment=prov.get("experiment", ""), sweep_key=prov.get("sweep_key", ""),
                       run_keys=tuple(prov.get("run_keys", ())), digests=tuple(prov.get("digests", ())),
                       quick=prov.get("quick"), missing=missing)


def _from_spec(ctx: _Context, spec: Spec) -> PaperNumber:
    if spec.figure:
        from figures import FIGURES

        experiment = FIGURES[spec.figure].experiments[0]
        prov = _provenance(ctx, experiment, spec.select)
        source = f"figure {spec.figure}: {spec.path}"
        if "missing" in prov:
            return _number(spec, None, source, prov)
        numbers = ctx.figure(spec.figure)
        if isinstance(numbers, LookupError):
            return _number(spec, None, source, prov | {"missing": str(numbers)})
        try:
            value = _dig_fig(numbers, spec.path)
        except (KeyError, IndexError, TypeError):
            return _number(spec, None, source, prov | {"missing": f"figure {spec.figure} has no number {spec.path}"})
        return _number(spec, value, source, prov)
    if spec.experiment:
        prov = _provenance(ctx, spec.experiment, spec.select)
        source = f"runs {spec.experiment}"
        if "missing" in prov:
            return _number(spec, None, source, prov)
        if not prov["runs"]:
            return _number(spec, None, source, prov | {"missing": f"no run of {spec.experiment} matches this number"})
        return _number(spec, spec.get(prov["runs"]), source, prov)
    return _number(spec, spec.get(), f"theory {spec.source}", {})


def _claim_numbers(ctx: _Context, measurements: dict) -> list[PaperNumber]:
    from sims.claims import CLAIMS, evaluate

    rows = evaluate(CLAIMS, measurements)
    out = []
    for row in rows:
        c, m = row.claim, row.measurement
        slope = "log-log slope" in c.quantity.lower()  # a fitted exponent (a slope against log k is a constant)
        styles = {"value": "slope" if slope else "sig3", "uncertainty": "sig2",
                  "prediction": "slope" if slope else "sig3", "horizon": "sci", "status": "text"}
        measured = hasattr(m, "value")
        prov: dict = {"experiment": c.experiment}
        if measured:
            digests = tuple(m.digests)
            if not digests:  # claims of an older store record none: look the runs up
                loaded = ctx.load(c.experiment)
                if not isinstance(loaded, LookupError):
                    keys = set(m.run_keys)
                    digests = tuple(sorted({(r.meta.get("code") or {}).get("digest", "") for r in loaded[1]
                                            if r.key in keys} - {""}))
            prov |= {"sweep_key": m.sweep_key, "run_keys": tuple(m.run_keys), "digests": digests, "quick": m.quick}
        values = {"value": m.value if measured else None, "uncertainty": m.uncertainty if measured else None,
                  "prediction": row.prediction, "horizon": m.horizon if measured else None,
                  "status": row.status.category}
        for fld in CLAIM_FIELDS:
            spec = Spec(f"claim.{c.id}.{fld}", styles[fld], f"claim {c.id}: {fld} ({c.statement})")
            v = values[fld]
            if isinstance(v, float) and math.isnan(v):
                v = None
            p = dict(prov)
            if v is None and not measured:
                p["missing"] = m.reason
            out.append(_number(spec, v, f"claim {c.id}: {fld}", p))
    return out


def _meta_numbers(ctx: _Context) -> list[PaperNumber]:
    """The store's path and which experiments of it ran in quick or full mode."""
    modes: dict[str, list[str]] = {}
    for name in sorted(ctx.runs):
        loaded = ctx.runs[name]
        if not isinstance(loaded, LookupError):
            modes.setdefault("quick" if loaded[0].get("quick") else "full", []).append(name)
    if len(modes) == 1:
        mode = f"{next(iter(modes))} mode for every experiment"
    elif modes:
        mode = "; ".join(f"{m} mode: {', '.join(names)}" for m, names in sorted(modes.items()))
    else:
        mode = "no experiment stored"
    root = str(ctx.store.root)
    return [
        PaperNumber("meta.store", root, r"\texttt{" + format_value(root, "text").replace("/", r"/\allowbreak ") + "}",
                    "the result store read",
                    "ibl paper --store"),
        PaperNumber("meta.mode", mode, format_value(mode, "text"), "quick or full mode of the sweeps read",
                    "the sweeps' manifests"),
    ]


def collect_numbers(store, measurements: dict | None = None, figure_numbers=None,
                    reused: list | None = None) -> list[PaperNumber]:
    """Every number of the manuscript, read from ``store``.

    Parameters
    ----------
    store : sims.store.ResultStore
    measurements : dict, optional
        The claims registry's measurements (``sims.claims.measure_all``); measured from
        ``store`` when omitted.
    figure_numbers : str or Path, optional
        An existing folder where ``ibl figures`` wrote the figures' numbers (``paper/numbers``): a
        figure whose numbers there are current for ``store`` (same sweeps, same code;
        :func:`sims.paper.current_figure_numbers`) is not drawn again. Default: draw every figure.
    reused : list, optional
        Receives the names of the figures whose stored numbers were reused.

    Returns
    -------
    list of PaperNumber
        One per :func:`declared_keys` entry, in that order. Numbers whose experiment is
        not stored have value None and say which ``ibl run`` produces them.
    """
    check_store_argument(store)
    check_measurements_argument(measurements)
    if reused is not None and not isinstance(reused, list):
        raise TypeError(f"reused must be None or a list (it receives figure names), got {type(reused).__name__}: "
                        f"{reused!r}")
    ctx = _Context(store)
    if figure_numbers is not None:
        from sims.paper._lint import as_folder

        ctx.numbers_dir = as_folder(figure_numbers, "figure_numbers")
    out = [_from_spec(ctx, sp) for sp in SPECS]
    if reused is not None:
        reused.extend(ctx.reused)
    out = _meta_numbers(ctx) + out
    if measurements is None:
        from sims.claims import CLAIMS, measure_all

        measurements = measure_all(CLAIMS, store)
    out += _claim_numbers(ctx, measurements)
    return out
