r"""The claim record, its measurement, and the one rule that turns them into a status.

A :class:`Claim` says what a paper (or this package) asserts, which experiment and
quantity check it, how the prediction is computed (``predict(inputs)`` calls
:mod:`theory`) and how the measurement is read from the store (``measure(store)``).
Its status is never typed: :func:`claim_status` computes it from the claim's
comparison, tolerance and horizon and the measurement's value, uncertainty, horizon and
per-seed values.

Coverage. Every measured uncertainty ``u`` is the half-width of an interval at the
family-wise coverage of the registry: two-sided level :data:`FAMILY_ALPHA` / :data:`FAMILY_SIZE`
per claim (Bonferroni), i.e. :data:`Z_FAMILY` (= 3.48) standard errors for normal
intervals (Monte Carlo means, slope fits) and the Clopper-Pearson interval at the same
level for pass rates over seeds. Then all intervals of the registry hold together with
probability >= 95%, so a "deviates" is not a 1-in-20 fluke of one of ~60 claims.
Deterministic runs have ``u = 0`` (their horizon is part of the measurement).

Statuses (:data:`STATUSES`):

* ``reproduced``: the measured interval :math:`[v-u, v+u]` meets the accepted set
  (prediction ± tolerance, or the one-sided threshold) at the claim's horizon, on every
  seed measured;
* ``reproduced only at a longer horizon``: it does not at the claim's horizon, but does
  at the longest horizon stored (the status says which);
* ``reproduced on some seeds``: per-seed values agree on some seeds only (it says which);
* ``reproduced on some settings``: the same, when the per-item values are not seeds but
  datasets, targets or protocols (:attr:`Measurement.per_seed_kind`);
* ``deviates``: it does not agree; the status gives the distance to the accepted set;
* ``refuted``: the distance exceeds :data:`REFUTE_FACTOR` times the allowance
  (tolerance + uncertainty);
* ``out of reach at our scale``: the claim's own prediction says the effect needs a
  horizon beyond what the package runs (it says what it would take);
* ``not measured``: no run in the store, or the store's runs stop before the claim's
  horizon and do not already agree there (it says which ``ibl run`` produces it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from scipy.stats import beta as _beta
from scipy.stats import norm as _norm

from theory._validation import as_choice, as_int, as_real

_normal_quantile = _norm.ppf

__all__ = [
    "COMPARISONS",
    "FAMILY_ALPHA",
    "FAMILY_SIZE",
    "MC_KIND",
    "SLOPE_KIND",
    "Z_FAMILY",
    "Claim",
    "Measurement",
    "Missing",
    "REFUTE_FACTOR",
    "STATUSES",
    "Status",
    "Tolerance",
    "claim_status",
    "format_number",
    "pass_rate_interval",
]

REPRODUCED = "reproduced"
LONGER = "reproduced only at a longer horizon"
SOME_SEEDS = "reproduced on some seeds"
SOME_SETTINGS = "reproduced on some settings"
DEVIATES = "deviates"
REFUTED = "refuted"
OUT_OF_REACH = "out of reach at our scale"
NOT_MEASURED = "not measured"
STATUSES = (REPRODUCED, LONGER, SOME_SEEDS, SOME_SETTINGS, DEVIATES, REFUTED, OUT_OF_REACH, NOT_MEASURED)

#: What a measurement's ``per_seed`` items can be (:attr:`Measurement.per_seed_kind`).
PER_SEED_KINDS = ("seeds", "settings")

#: "equal": |value - prediction| <= tol; "at_least": value >= prediction - tol;
#: "at_most": value <= prediction + tol.
COMPARISONS = ("equal", "at_least", "at_most")

#: A miss by more than this many allowances (tolerance + measurement uncertainty) is a
#: refutation, a smaller one a deviation. A choice (policy, not statistics): the allowance
#: already holds the family-wise interval, so a miss of 3 allowances is far outside any
#: slack the tolerance's derivation or the sampling error gives. A claim with no allowance
#: (a threshold on a deterministic run) can only deviate: its distance is reported.
REFUTE_FACTOR = 3

#: Family-wise error level of the registry's intervals (see the module docstring).
FAMILY_ALPHA = 0.05
#: Bound on the number of claims the level is shared over (a test checks the registry fits).
FAMILY_SIZE = 100
#: Standard errors per half-width: two-sided normal quantile at FAMILY_ALPHA / FAMILY_SIZE.
Z_FAMILY = float(_normal_quantile(1 - FAMILY_ALPHA / (2 * FAMILY_SIZE)))
#: Names of the two normal interval kinds the measures use.
SLOPE_KIND = f"{Z_FAMILY:.2f} x stderr of the slope (family-wise)"
MC_KIND = f"{Z_FAMILY:.2f} x MC stderr (family-wise)"


@dataclass(frozen=True)
class Tolerance:
    """How far from the prediction a measurement may lie, and why.

    Attributes
    ----------
    value : float
        Absolute tolerance (``relative=False``) or a fraction of ``|prediction|``.
    why : str
        One line: where the tolerance comes from (a check's range, a rate, a solver accuracy).
    relative : bool
    key : str
        Name of a measured bound in the measurement's ``inputs`` that multiplies ``value``.
    """

    value: float
    why: str
    relative: bool = False
    key: str = ""

    def __post_init__(self):
        as_real(self.value, "Tolerance.value", low=0.0)
        if not isinstance(self.why, str) or not self.why.strip():
            raise ValueError(f"Tolerance.why must say where the tolerance comes from, got {self.why!r}")

    def absolute(self, prediction: float, inputs: Mapping[str, Any] | None = None) -> float:
        """The tolerance in the measurement's units.

        With ``key``, the tolerance is ``value * inputs[key]`` (a bound the measurement
        computed from the run, e.g. the first-order effect of the residual); otherwise
        ``value``. ``relative`` multiplies by ``|prediction|``.
        """
        tol = self.value
        if self.key:
            tol *= float((inputs or {})[self.key])
        return tol * abs(prediction) if self.relative else tol


@dataclass(frozen=True)
class Measurement:
    """A value read from the store, with its uncertainty and provenance.

    Attributes
    ----------
    value : float
    uncertainty : float
        Half-width of the interval the value is known to (>= 0).
    uncertainty_kind : str
        What the half-width is (:data:`SLOPE_KIND`, :data:`MC_KIND`, a Clopper-Pearson interval, "exact" ...).
    horizon : float
        Where it was measured (steps k or sample size n).
    inputs : dict
        What ``predict`` needs (instance sizes, constants the run computed with theory).
    later : tuple or None
        ``(horizon, value, uncertainty)`` at the longest stored horizon, when longer.
    per_seed : tuple
        ``(label, value, uncertainty)`` per seed (or per data instance); empty when one.
    per_seed_kind : str
        What the ``per_seed`` items are: ``"seeds"`` (default) or ``"settings"`` (datasets,
        targets, protocols); it names the partial status.
    seeds : tuple of str
    run_keys : tuple of str
    sweep_key : str
    quick : bool
        Whether the sweep ran in quick mode.
    digests : tuple of str
        Code digests of the runs, where the store records them.
    note : str
    """

    value: float
    uncertainty: float
    uncertainty_kind: str
    horizon: float
    inputs: Mapping[str, Any] = field(default_factory=dict)
    later: tuple | None = None
    per_seed: tuple = ()
    per_seed_kind: str = "seeds"
    seeds: tuple = ()
    run_keys: tuple = ()
    sweep_key: str = ""
    quick: bool = False
    digests: tuple = ()
    note: str = ""

    def __post_init__(self):
        as_real(self.uncertainty, "Measurement.uncertainty", low=0.0)
        as_choice(self.per_seed_kind, "Measurement.per_seed_kind", PER_SEED_KINDS)

    def to_dict(self) -> dict:
        return {
            "value": _num(self.value), "uncertainty": _num(self.uncertainty),
            "uncertainty_kind": self.uncertainty_kind, "horizon": _num(self.horizon),
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
            "later": None if self.later is None else [_num(x) for x in self.later],
            "per_seed": [[str(s), _num(v), _num(u)] for s, v, u in self.per_seed],
            "per_seed_kind": self.per_seed_kind,
            "seeds": list(self.seeds), "run_keys": list(self.run_keys), "sweep_key": self.sweep_key,
            "quick": bool(self.quick), "digests": list(self.digests), "note": self.note,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Measurement":
        return cls(
            value=_unnum(d["value"]), uncertainty=_unnum(d["uncertainty"]),
            uncertainty_kind=d["uncertainty_kind"], horizon=_unnum(d["horizon"]),
            inputs=dict(d.get("inputs", {})),
            later=None if d.get("later") is None else tuple(_unnum(x) for x in d["later"]),
            per_seed=tuple((s, _unnum(v), _unnum(u)) for s, v, u in d.get("per_seed", [])),
            per_seed_kind=d.get("per_seed_kind", "seeds"),
            seeds=tuple(d.get("seeds", ())), run_keys=tuple(d.get("run_keys", ())),
            sweep_key=d.get("sweep_key", ""), quick=bool(d.get("quick", False)),
            digests=tuple(d.get("digests", ())), note=d.get("note", ""),
        )


@dataclass(frozen=True)
class Missing:
    """No measurement: ``reason`` says why (and which run would produce one)."""

    reason: str

    def to_dict(self) -> dict:
        return {"missing": self.reason}


@dataclass(frozen=True)
class Status:
    """A computed status: one of :data:`STATUSES` and a short explanation."""

    category: str
    detail: str

    def __str__(self) -> str:
        return f"{self.category}: {self.detail}" if self.detail else self.category


@dataclass(frozen=True)
class Claim:
    r"""One claim of a paper, a check of the paper's appendix or one of our derivations.

    Attributes
    ----------
    id : str
        Stable identifier, ``family.short-name``.
    source : str
        Paper and theorem / figure / equation, check label (N.k, T.k, S.k), or "derived here (section)".
    statement : str
        What is claimed, in one sentence.
    experiment : str
        Registered experiment whose runs check it.
    quantity : str
        The measured quantity (attribute path and how it is summarised).
    predict : callable
        ``predict(inputs) -> float``; calls :mod:`theory` (``inputs`` from the measurement).
    prediction_source : str
        The theory function(s) ``predict`` calls.
    measure : callable
        ``measure(store) -> Measurement | Missing``.
    comparison : {"equal", "at_least", "at_most"}
    tolerance : Tolerance
    horizon : float
        The horizon the claim is made at (steps or n); ``horizon_unit`` names it.
    horizon_unit : str
    seeds : str
        Which seeds / data instances the claim is checked on.
    produce : str
        The command that produces the runs (``ibl run NAME``).
    reach : callable or None
        ``reach(inputs) -> (needed_horizon, text)``: the horizon the effect needs by the
        claim's own theory, when that can be computed.
    max_horizon : float
        The largest horizon the package runs for this experiment (full mode).
    """

    id: str
    source: str
    statement: str
    experiment: str
    quantity: str
    predict: Callable[[Mapping[str, Any]], float]
    prediction_source: str
    measure: Callable[[Any], "Measurement | Missing"]
    comparison: str
    tolerance: Tolerance
    horizon: float
    horizon_unit: str
    seeds: str
    produce: str
    reach: Callable[[Mapping[str, Any]], tuple] | None = None
    max_horizon: float = math.inf

    def __post_init__(self):
        as_choice(self.comparison, f"Claim {self.id!r}: comparison", COMPARISONS)
        as_real(self.horizon, f"Claim {self.id!r}: horizon", low=0.0)
        as_real(self.max_horizon, f"Claim {self.id!r}: max_horizon", low=0.0, allow_inf=True)
        if not isinstance(self.tolerance, Tolerance):
            raise TypeError(f"Claim {self.id!r}: tolerance must be a Tolerance, got {type(self.tolerance).__name__}")


def pass_rate_interval(passed: int, total: int) -> tuple[float, float]:
    """Clopper-Pearson interval of a pass rate at the family-wise level (two-sided
    :data:`FAMILY_ALPHA` / :data:`FAMILY_SIZE`).

    Parameters
    ----------
    passed, total : int
        ``0 <= passed <= total``, ``total >= 1``.

    Returns
    -------
    (low, high) : tuple of float
    """
    total = as_int(total, "total", low=1)
    passed = as_int(passed, "passed", low=0, high=total)
    a = FAMILY_ALPHA / FAMILY_SIZE
    lo = 0.0 if passed == 0 else float(_beta.ppf(a / 2, passed, total - passed + 1))
    hi = 1.0 if passed == total else float(_beta.ppf(1 - a / 2, passed + 1, total - passed))
    return lo, hi


# ----------------------------------------------------------------------------
# the status rule


def _miss(claim: Claim, prediction: float, value: float, uncertainty: float, inputs=None) -> float:
    """Distance from the interval [value - u, value + u] to the accepted set (0 if they meet)."""
    tol = claim.tolerance.absolute(prediction, inputs)
    if not (math.isfinite(value) and math.isfinite(prediction)):
        return math.inf
    if claim.comparison == "equal":
        return max(abs(value - prediction) - tol - uncertainty, 0.0)
    if claim.comparison == "at_least":
        return max((prediction - tol) - (value + uncertainty), 0.0)
    return max((value - uncertainty) - (prediction + tol), 0.0)


def format_number(x: float) -> str:
    """Four significant digits, plain below 1e4 and above 1e-3, scientific otherwise."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    x = float(x)
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.4g}"
    return f"{x:.3e}"


def claim_status(claim: Claim, measurement: "Measurement | Missing | None", prediction: float) -> Status:
    """The status of ``claim`` given its measurement and prediction (the one rule).

    Parameters
    ----------
    claim : Claim
    measurement : Measurement, Missing or None
    prediction : float
        ``claim.predict(measurement.inputs)``.

    Returns
    -------
    Status
    """
    if measurement is None or isinstance(measurement, Missing):
        reason = measurement.reason if isinstance(measurement, Missing) else "no run in the store"
        return Status(NOT_MEASURED, f"{reason}; `{claim.produce}` produces it")
    m = measurement
    if claim.reach is not None:
        needed, text = claim.reach(m.inputs)
        if needed > claim.max_horizon:
            return Status(OUT_OF_REACH, f"{text} (we run up to {claim.horizon_unit} = {format_number(claim.max_horizon)})")
    unit = claim.horizon_unit
    miss = _miss(claim, prediction, m.value, m.uncertainty, m.inputs)
    short = m.horizon < claim.horizon
    if miss > 0 and short:
        return Status(NOT_MEASURED, f"the store reaches {unit} = {format_number(m.horizon)} < {format_number(claim.horizon)} and "
                                    f"does not agree there yet; `{claim.produce}` (full mode) measures it")
    if miss == 0:
        if m.per_seed:
            ok = [s for s, v, u in m.per_seed if _miss(claim, prediction, v, u, m.inputs) == 0]
            if len(ok) < len(m.per_seed):
                bad = [s for s, v, u in m.per_seed if s not in ok]
                if ok:
                    return Status(SOME_SEEDS if m.per_seed_kind == "seeds" else SOME_SETTINGS,
                                  f"on {', '.join(ok)}; not on {', '.join(bad)}")
                # every seed misses although the pooled value agrees: report the seeds
                return Status(DEVIATES, f"pooled value agrees, but no single seed does ({', '.join(bad)})")
        where = f"at {unit} = {format_number(m.horizon)} < {format_number(claim.horizon)}" if short else ""
        return Status(REPRODUCED, where)
    if m.later is not None:
        k_late, v_late, u_late = m.later
        if k_late > m.horizon and _miss(claim, prediction, v_late, u_late, m.inputs) == 0:
            return Status(LONGER, f"at {unit} = {format_number(k_late)} (value {format_number(v_late)}), "
                                  f"not at {format_number(m.horizon)} (value {format_number(m.value)})")
    allowance = claim.tolerance.absolute(prediction, m.inputs) + m.uncertainty
    detail = f"misses the accepted range by {format_number(miss)} (value {format_number(m.value)}, prediction {format_number(prediction)})"
    if allowance > 0 and miss > REFUTE_FACTOR * allowance:
        return Status(REFUTED, detail)
    return Status(DEVIATES, detail)


# ----------------------------------------------------------------------------
# JSON numbers (NaN and inf are not JSON)


def _num(x):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _unnum(x):
    if x is None:
        return math.nan
    return float(x)


def _jsonable(v):
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return int(v)
    try:
        return _num(v)
    except (TypeError, ValueError):
        return str(v)
