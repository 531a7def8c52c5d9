"""The ibl command line, end to end on a temporary store."""

import json

import numpy as np

from sims.cli import main
from theory.fitting import loglog_slope


def test_list_run_status(tmp_path, capsys):
    store = str(tmp_path / "s")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "transfer_fig2" in out and "selftest" in out
    assert main(["--store", store, "run", "selftest", "--quick", "--set", "runs=3", "--jobs", "1", "--no-progress"]) == 0
    assert "3 computed" in capsys.readouterr().out
    assert main(["--store", store, "run", "selftest", "--quick", "--set", "runs=3", "--jobs", "1", "--no-progress"]) == 0
    assert "3 already stored, 0 computed" in capsys.readouterr().out
    assert main(["--store", store, "status"]) == 0
    assert "selftest" in capsys.readouterr().out
    # --store after the subcommand means the same store (and overrides a global one)
    args = ["run", "selftest", "--quick", "--set", "runs=3", "--jobs", "1", "--no-progress", "--store", store]
    assert main(["--store", str(tmp_path / "other")] + args) == 0
    assert "3 already stored, 0 computed" in capsys.readouterr().out
    assert not (tmp_path / "other").exists()


def test_bad_set_is_a_clear_error(tmp_path, capsys):
    rc = main(["--store", str(tmp_path), "run", "selftest", "--set", "bogus=1", "--no-progress"])
    assert rc == 2
    assert "no setting 'bogus'" in capsys.readouterr().err


def test_figure_two_from_a_small_sweep(tmp_path, capsys):
    store = str(tmp_path / "s")
    sets = ["--set", "repeats=300", "--set", "n_points=5", "--set", "panels=(('a','instance2',10,11),)"]
    assert main(["--store", store, "run", "transfer_fig2", *sets, "--jobs", "1", "--no-progress"]) == 0
    outdir = tmp_path / "paper" / "figures"
    assert main(["--store", store, "figures", "transfer_fig2", "--outdir", str(outdir)]) == 0
    assert (outdir / "transfer_fig2.png").stat().st_size > 0
    numbers = json.loads((tmp_path / "paper" / "numbers" / "transfer_fig2.json").read_text())
    fit = numbers["panels"]["a"]
    # the printed slope is the least-squares fit of the stored SEL_ptl means in the window
    from sims.store import ResultStore
    from sims.sweep import load_sweep_runs

    _, runs = load_sweep_runs(ResultStore(store), "transfer_fig2")
    n = np.array([r.params["n"] for r in runs], float)
    m = np.array([r.result["mean"]["sel_ptl"] for r in runs])
    assert np.isclose(fit["slope"], loglog_slope(n, m, window=(1e3, np.inf)).slope, rtol=1e-12)
    # SEL_ptl on Instance 2 is a 1/n learner (Thm 4.4); 300 repeats leave ~2% noise per point
    assert abs(fit["slope"] + 1) < 0.1


def test_figures_without_results_fail_clearly(tmp_path, capsys):
    assert main(["--store", str(tmp_path), "figures", "transfer_fig1", "--outdir", str(tmp_path / "f")]) == 1
    assert "ibl run transfer_fig1" in capsys.readouterr().err
