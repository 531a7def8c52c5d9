"""Every registered figure, drawn from a tiny store: the plotted data are the stored data.

A module-scoped fixture runs each experiment a figure reads with tiny ``--set``-style
overrides (a few hundred steps, a handful of sample sizes) into a temporary store. Each
figure is then built (:func:`figures.build_figure`, not saved) and every artist tagged as
showing stored values (:func:`figures._common.tag`) is checked against the typed runs
read back from the store: each plotted point must be exactly (bit for bit) a stored
(x, y) pair, after the tag's transform (``np.log`` or ``1 / np.log``, the same numpy call
the figure makes). Comparisons are exact because plotting copies numbers, it does not
compute them.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from figures import FIGURES, build_figure
from figures._common import TAG_PREFIX, plt
from sims.experiment import load_runs
from sims.store import ResultStore
from sims.sweep import run_experiment

#: Tiny overrides per experiment: enough checkpoints for every fit a figure makes (>= 3 points
#: in the last decade / two decades; k >= 100 for the 1/log k panels of onehot_maxmargin).
TINY = {
    "ntp_overparam": {"steps": 300, "record": 20},
    "ntp_text": {"steps": 300, "record": 20},
    "ntp_toy": {"steps": 300, "record": 20},
    "ntp_w_tilde": {"steps": 1000, "record": 20},
    "onehot_maxmargin": {"steps": 2000, "record": 30},
    "softhard_width": {"ks": (1, 2), "gaps": (0.4, 0.8, 1.6), "widths": (2, 4, 8), "n_seeds": 2, "eps": (0.4, 0.2, 0.1),
                       "steps_max": 300,
                       "n_features": 500},
    "softhard_accuracy": {"ks": (1, 2), "digit_pairs": (38,), "widths": (4, 8), "n_seeds": 2,
                          "temperatures": (1.0,), "steps": (50, 100), "n_train": 60, "n_test": 200,
                          "teacher_width": 64, "teacher_steps": 100, "map_k": 2},
    "transfer_fig1": {"panels": (("a", 10, 5, 10, 50),), "n_points": 3, "repeats": 20},
    # n = 1e3, 3162, 1e4 lie in the fit window of Instance 2 at (10, 11) (n >= 5 S (A - 1) = 500)
    # two n per panel, k = 100 and 1000, one SEL_ptl random start of at most 2000 steps
    "transfer_gd": {"n_points": 2, "repeats": 3, "steps": (100, 1000), "sel_repeats": 1, "sel_max_steps": 2000},
    "transfer_fig2": {"panels": (("c", "instance2", 10, 11),), "n_min": 100, "n_max": 1e4, "n_points": 5,
                      "repeats": 50},
}


@pytest.fixture(scope="module")
def tiny_store(tmp_path_factory):
    store = ResultStore(tmp_path_factory.mktemp("figures") / "store")
    needed = sorted({e for fig in FIGURES.values() for e in fig.experiments})
    missing = [e for e in needed if e not in TINY]
    assert not missing, f"add tiny overrides for {missing}"
    for name in needed:
        run_experiment(name, overrides=TINY[name], store=store, progress=False)
    return store


def _get(run, path: str):
    obj = run
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _values(spec: dict, runs: dict) -> np.ndarray:
    if "run" in spec:
        v = np.asarray(_get(runs[spec["run"]], spec["path"]), dtype=np.float64)
    else:
        v = np.array([_get(runs[k], spec["path"]) for k in spec["runs"]], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # k = 0 is stored; figures plot k >= 1 only
        if spec["transform"] == "log":
            v = np.log(v)
        elif spec["transform"] == "inv_log":
            v = 1.0 / np.log(v)
    return v


def _tagged(fig):
    for ax in fig.axes:
        for artist in list(ax.get_lines()) + list(ax.get_images()):
            gid = artist.get_gid()
            if gid and gid.startswith(TAG_PREFIX):
                yield ax, artist, json.loads(gid[len(TAG_PREFIX):])


def _bits(a) -> list[bytes]:
    return [np.float64(v).tobytes() for v in np.asarray(a, dtype=np.float64).ravel()]


def _foreign_points(artist, spec: dict, runs: dict) -> int:
    """How many plotted values are not stored values (images: the whole matrix must match)."""
    if "x" not in spec:
        stored = _values(spec["y"], runs)
        plotted = np.asarray(artist.get_array(), dtype=np.float64)
        return 0 if plotted.shape == stored.shape and _bits(plotted) == _bits(stored) else plotted.size
    X, Y = _values(spec["x"], runs), _values(spec["y"], runs)
    pairs = set(zip(_bits(X), _bits(Y)))
    xd = np.asarray(artist.get_xdata(), dtype=np.float64)
    yd = np.asarray(artist.get_ydata(), dtype=np.float64)
    assert xd.size > 0 and xd.size == yd.size, f"empty or ragged line for {spec['y']['path']}"
    return sum(p not in pairs for p in zip(_bits(xd), _bits(yd)))


def _typed_runs(store, name: str) -> dict:
    runs = {}
    for exp in FIGURES[name].experiments:
        _, typed = load_runs(store, exp)
        runs.update({r.key: r for r in typed})
    return runs


@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_plots_the_stored_data(tiny_store, name):
    runs = _typed_runs(tiny_store, name)
    fig, numbers = build_figure(name, tiny_store)
    try:
        tagged = list(_tagged(fig))
        assert tagged, f"{name}: no artist is tagged as showing stored data"
        shown = set()
        for _, artist, spec in tagged:
            for ref in spec.values():
                shown |= {ref["run"]} if "run" in ref else set(ref["runs"])
            bad = _foreign_points(artist, spec, runs)
            assert bad == 0, f"{name}: {bad} plotted values are not stored values of {spec['y']['path']}"
        # every run the figure reads is shown by at least one tagged artist
        assert shown == set(runs), f"{name}: runs not shown: {sorted(set(runs) - shown)}"
    finally:
        plt.close(fig)
    if numbers is not None:
        json.dumps(numbers)  # the numbers file is plain JSON


@pytest.mark.parametrize("name", ["ntp_w_tilde", "ntp_toy"])
def test_a_value_one_ulp_off_is_caught(tiny_store, name):
    """The check can fail: shift one plotted value (line) or matrix entry (image) by one ulp."""
    runs = _typed_runs(tiny_store, name)
    fig, _ = build_figure(name, tiny_store)
    try:
        _, artist, spec = next(_tagged(fig))
        assert _foreign_points(artist, spec, runs) == 0
        if "x" in spec:
            y = np.array(artist.get_ydata(), dtype=np.float64)
            y[-1] = np.nextafter(y[-1], np.inf)
            artist.set_ydata(y)
        else:
            M = np.array(artist.get_array(), dtype=np.float64)
            M.flat[0] = np.nextafter(M.flat[0], np.inf)
            artist.set_data(M)
        assert _foreign_points(artist, spec, runs) == (1 if "x" in spec else M.size)
    finally:
        plt.close(fig)
