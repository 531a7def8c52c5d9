"""Typed experiments: the constraint vocabulary, configs from --set, typed results through the store, ibl show."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from sims.cli import main
from sims.experiment import (
    Boolean,
    Interval,
    Options,
    Settings,
    Text,
    Tuple,
    decode,
    encode,
    get_experiment,
    list_experiments,
    load_runs,
    make_config,
    run_specs,
    setting,
)
from sims.store import ResultStore
from sims.sweep import execute_run, run_experiment

# ----------------------------------------------------------------------------
# constraint vocabulary


@pytest.mark.parametrize(
    "constraint, good, normalised",
    [
        (Interval(int, 1, None), 5, 5),
        (Interval(int, 1, None), 1e5, 100000),  # a whole float is a count
        (Interval(int, 0, 10), 10, 10),
        (Interval(float, 0.0, 1.0, closed="left"), 0.0, 0.0),
        (Interval(float, 0.0, None, closed="neither"), 3, 3.0),
        (Options(str, ("gd", "adam")), "adam", "adam"),
        (Boolean(), True, True),
        (Text(), "a", "a"),
        (Tuple(Interval(int, 1, None), length=(1, None)), [1, 2], (1, 2)),
        (Tuple(Options(str, ("binary", "multiclass"))), "binary", ("binary",)),  # --set panels=binary
        (Tuple(items=(Text(), Interval(int, 1, None)), names=("label", "S")), ["a", 3], ("a", 3)),
    ],
)
def test_constraints_accept_and_normalise(constraint, good, normalised):
    out = constraint.check(good, "x")
    assert out == normalised and type(out) is type(normalised)


@pytest.mark.parametrize(
    "constraint, bad, message",
    [
        (Interval(int, 1, None), 0, "x: expected an integer >= 1, got 0"),
        (Interval(int, 1, None), 2.5, "x: expected an integer >= 1, got 2.5"),
        (Interval(int, 1, None), True, "x: expected an integer >= 1, got True"),
        (Interval(int, 0, 10), 11, "x: expected an integer in [0, 10], got 11"),
        (Interval(float, 0.0, 1.0, closed="left"), 1.0, "x: expected a finite number in [0, 1), got 1.0"),
        (Interval(float, 0.0, None, closed="neither"), 0.0, "x: expected a finite number > 0, got 0.0"),
        (Interval(float, 0.0, None), float("nan"), "x: expected a finite number >= 0, got nan"),
        (Interval(float, 0.0, None), "1", "x: expected a finite number >= 0, got '1'"),
        (Options(str, ("gd", "adam")), "sgd", "x: expected one of 'gd', 'adam', got 'sgd'"),
        (Boolean(), 1, "x: expected true or false, got 1"),
        (Text(), "", "x: expected a non-empty string, got ''"),
        (Tuple(Interval(int, 1, None), length=(1, None)), (), "x: expected a tuple of length >= 1"),
        (Tuple(Tuple(items=(Text(), Interval(int, 1, None)), names=("label", "S"))), "a",
         "x: expected a tuple of (a tuple (label: a non-empty string; S: an integer >= 1)), got 'a'"),
        (Tuple(Interval(int, 1, None)), 0, "x[0]: expected an integer >= 1, got 0"),
        (Tuple(Interval(int, 1, None)), (1, 0), "x[1]: expected an integer >= 1, got 0"),
        (Tuple(items=(Text(), Interval(int, 1, None)), names=("label", "S")), ("a", 0),
         "x[1] (S): expected an integer >= 1, got 0"),
        (Tuple(items=(Text(), Interval(int, 1, None)), names=("label", "S")), ("a",),
         "x: expected a tuple (label: a non-empty string; S: an integer >= 1)"),
    ],
)
def test_constraints_refuse_with_a_message_that_names_value_and_expectation(constraint, bad, message):
    with pytest.raises((ValueError, TypeError)) as info:
        constraint.check(bad, "x")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


@dataclass(frozen=True)
class _Point(Settings):
    n: int = setting(1, Interval(int, 1, None), "count")
    lo: float = setting(0.0, Interval(float, 0.0, None))
    hi: float = setting(1.0, Interval(float, 0.0, None))

    def check(self):
        if self.lo > self.hi:
            raise ValueError(f"lo: expected lo <= hi = {self.hi}, got {self.lo}")


def test_settings_check_fields_and_cross_field_rules():
    assert _Point(n=2.0).n == 2 and isinstance(_Point(n=2.0).n, int)
    with pytest.raises(ValueError, match="n: expected an integer >= 1, got 0"):
        _Point(n=0)
    with pytest.raises(ValueError, match="lo: expected lo <= hi"):
        _Point(lo=2.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        _Point().n = 3
    p = _Point(n=3, lo=0.5)
    assert _Point.from_params(p.to_params()) == p
    with pytest.raises(TypeError, match="unknown fields"):
        _Point.from_params({"n": 1, "nope": 2})


def test_every_registered_experiment_is_typed_and_its_defaults_are_valid():
    for exp in list_experiments():
        for quick in (False, True):
            cfg = make_config(exp, quick=quick)
            specs = run_specs(exp, cfg)
            assert specs, exp.name
            for s in specs:  # the stored parameters rebuild the same typed point
                assert exp.point.from_params(s.params).to_params() == s.params
        names = {f.name for f in dataclasses.fields(exp.config)}
        # one name for the step size: no eta / step_size / step settings anywhere
        fields = names | {f.name for f in dataclasses.fields(exp.point)} | {f.name for f in dataclasses.fields(exp.result)}
        assert not fields & {"eta", "step_size", "step", "learning_rate"}, exp.name


# ----------------------------------------------------------------------------
# configs from --set


@pytest.mark.parametrize(
    "name, sets, message",
    [
        ("transfer_fig1", {"n_points": "0"}, "--set n_points=0: expected an integer >= 1, got 0"),
        ("selftest", {"runs": "-5"}, "--set runs=-5: expected an integer >= 1, got -5"),
        ("selftest", {"draws": "0"}, "--set draws=0: expected an integer >= 1, got 0"),
        ("transfer_fig2", {"n_min": "-1"}, "--set n_min=-1: expected a finite number >= 1, got -1"),
        ("transfer_fig2", {"n_min": "1e7"}, "--set n_min=1e7: expected n_min <= n_max"),
        ("ntp_overparam", {"methods": "(('gd', -1),)"}, "--set methods=(('gd', -1),): methods[0][1] (lr)"),
        ("ntp_text", {"level": "byte"}, "--set level=byte: expected one of 'char', 'word', got 'byte'"),
        ("onehot_maxmargin", {"lr_scale": "2"}, "--set lr_scale=2: expected a finite number in (0, 2), got 2"),
        ("selftest", {"runs": "many"}, "--set runs=many: expected an integer >= 1, got 'many'"),
    ],
)
def test_bad_settings_are_refused_by_make_config(name, sets, message):
    with pytest.raises((ValueError, TypeError)) as info:
        make_config(get_experiment(name), overrides=sets)
    assert str(info.value).startswith(message), str(info.value)


def test_settings_that_leave_no_run_are_refused():
    exp = get_experiment("transfer_fig2")
    # Instance 1 at (100, 100) exists from n = 625 on: a grid ending at 100 is empty
    cfg = make_config(exp, overrides={"n_max": "100", "panels": "(('b', 'instance1', 100, 100),)"})
    with pytest.raises(ValueError, match="empty sweep"):
        run_specs(exp, cfg)


@pytest.mark.parametrize(
    "sets",
    [["runs=0"], ["draws=-1"], ["sleep_s=-1"], ["runs=3", "seed=-2"], ["nope=1"]],
)
def test_bad_set_on_the_command_line(tmp_path, capsys, sets):
    store = tmp_path / "store"
    argv = ["--store", str(store), "run", "selftest", "--jobs", "1", "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ibl: error: --set "), err  # one line, no traceback
    assert not store.exists()  # nothing was written


# ----------------------------------------------------------------------------
# typed results through the store


def test_encode_decode_round_trip_is_exact():
    from sims.experiments.transfer import LearnerValues, TransferResult

    res = TransferResult(mean=LearnerValues(0.1, 0.2, float("nan"), 1e-300), stderr=LearnerValues(1, 2, 3, 4),
                         exact=LearnerValues(0.5, 0.25, 0.125, 0.0625), lower_bound=float("nan"),
                         ce_ptl_limit=0.3, solvers=["closed-form"])
    back = decode(TransferResult, encode(res))
    assert back.mean.ce_sgl == 0.1 and np.isnan(back.mean.sel_ptl) and back.exact == res.exact
    with pytest.raises(TypeError, match="unknown fields"):
        decode(TransferResult, dict(encode(res), extra=1))


def test_stored_runs_decode_to_the_typed_results_the_run_returned(tmp_path):
    store = ResultStore(tmp_path)
    exp = get_experiment("selftest")
    run_experiment(exp, overrides={"runs": 3, "draws": 50}, store=store, progress=False)
    _, runs = load_runs(store, "selftest")
    cfg = make_config(exp, overrides={"runs": 3, "draws": 50})
    for run, spec in zip(runs, run_specs(exp, cfg)):
        assert isinstance(run.result, exp.result) and isinstance(run.point, exp.point)
        direct = exp.run(run.point, np.random.default_rng(spec.seed_sequence()))
        assert run.result.mean == direct.mean and run.result.sum_sq == direct.sum_sq
        assert run.result.sample.dtype == np.float64 and run.result.sample.tobytes() == direct.sample.tobytes()
        assert execute_run(spec)[0] == run.key


def test_optional_result_fields_stay_absent_from_the_store(tmp_path):
    """ntp_toy stores its matrices, GD on App. A.2 its E/k prediction: absent fields decode to None."""
    store = ResultStore(tmp_path)
    run_experiment("ntp_toy", overrides={"steps": 50, "record": 5}, store=store, progress=False)
    _, (run,) = load_runs(store, "ntp_toy")
    assert run.result.E_norm is None  # only for GD on paper_a2
    assert run.result.W_mm.shape == (5, 2) and run.result.P.shape == (3, 5)
    stored = store.load_run("ntp_toy", run.key).result
    assert "E_norm" not in stored and stored["W_mm"].tobytes() == run.result.W_mm.tobytes()


# ----------------------------------------------------------------------------
# ibl show


def test_show_lists_settings_quick_values_constraints_figures_and_command(capsys):
    assert main(["show", "transfer_fig2"]) == 0
    out = capsys.readouterr().out
    assert "n_points  int    default: 13   quick: 9" in out
    assert "repeats   int    default: 64000   quick: 2000" in out
    assert "expects an integer >= 2" in out
    assert "one of 'instance1', 'instance2', 'instance3'" in out
    assert "Figures:   transfer_fig2" in out
    assert "ibl run transfer_fig2 --quick" in out
    assert "TransferResult (mean, stderr, exact, lower_bound, ce_ptl_limit, solvers)" in out
    for exp in list_experiments():  # every experiment can be shown
        assert main(["show", exp.name]) == 0
        assert exp.name in capsys.readouterr().out


def test_show_unknown_experiment_is_a_clear_error(capsys):
    assert main(["show", "no-such"]) == 2
    assert "registered experiments:" in capsys.readouterr().err
