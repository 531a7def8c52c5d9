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
from tests.helpers.layout import hidden_points, text_collisions
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
                       "steps_max": 300, "hard_steps_max": 300, "n_features": 500},
    # d = 3 and n = 8 m_max d = 192: the smallest store the experiment accepts (n >= 8 m d)
    "softhard_floor": {"gaps": (0.4, 0.8, 1.6), "d": 3, "n": 192, "n_teacher": 32, "widths": (2, 4, 8),
                       "n_seeds": 2, "max_iter": 100, "gd_steps": 50, "fit_min_width": 2, "n_features": 500,
                       "eps": (1e-2, 1e-3, 1e-4)},
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


# ----------------------------------------------------------------------------- layout
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_figure_layout_has_no_collisions(tiny_store, name):
    """No two texts overlap (titles, axis and tick labels, notes, legends) and no legend or
    note hides a plotted point, at the size the figure is saved."""
    fig, _ = build_figure(name, tiny_store)
    try:
        assert text_collisions(fig) == [], f"{name}: overlapping texts"
        assert hidden_points(fig) == [], f"{name}: legends or notes over plotted points"
        # a page is ~7.5 in wide: wider figures would be shrunk and their 7-9 pt text with them
        assert fig.get_figwidth() <= 7.6, f"{name}: {fig.get_figwidth():.1f} in wide"
    finally:
        plt.close(fig)


def test_layout_checks_can_fail():
    """The checks see a title on a tick label and a legend over a point."""
    fig, (a, b) = plt.subplots(2, 1, figsize=(3, 3), layout="none")
    fig.subplots_adjust(hspace=0.0)  # b's title sits on a's x tick labels
    b.set_title("a title as wide as the axes above")
    a.plot([0.0, 1.0], [0.0, 1.0], "o", label="points")
    a.legend(loc="lower left", bbox_to_anchor=(-0.02, -0.05))  # over the point (0, 0)
    try:
        assert any("a title" in pair[0] + pair[1] for pair in text_collisions(fig)), text_collisions(fig)
        assert hidden_points(fig) and hidden_points(fig)[0][1] == "legend"
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- missing results
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_missing_results_name_the_run_command(tmp_path, name):
    """With nothing stored, a figure raises LookupError naming `ibl run <experiment>` and
    writes nothing to the store (it never runs a simulation itself)."""
    store = ResultStore(tmp_path / "empty")
    with pytest.raises(LookupError) as info:
        build_figure(name, store)
    assert any(f"ibl run {exp}" in str(info.value) for exp in FIGURES[name].experiments), str(info.value)
    assert not store.root.exists() or not any(store.root.rglob("*")), "the figure wrote to the store"
    plt.close("all")


def test_cli_missing_results_say_what_to_run(tmp_path, capsys):
    from sims.cli import main

    store, out = tmp_path / "empty", tmp_path / "out"
    assert main(["figures", "transfer_fig1", "--store", str(store), "--outdir", str(out)]) == 1
    err = capsys.readouterr().err
    assert "transfer_fig1: no complete sweep" in err and "ibl run transfer_fig1" in err
    gallery = (out / "README.md").read_text()
    section = gallery.split("## transfer_fig1\n", 1)[1].split("\n## ", 1)[0]
    assert "No image in this folder yet" in section and "ibl run transfer_fig1" in section
    assert f"ibl run transfer_fig1 --quick --store {store}" in section


# ----------------------------------------------------------------------------- gallery
def _check_gallery(out, store, capsys, rerun: bool = True) -> None:
    """OUTDIR/README.md lists every figure with an existing image, its caption and commands;
    the `ibl run` commands name exactly the stored sweeps (rerunning them computes nothing)."""
    import shlex

    from sims.cli import main

    gallery = (out / "README.md").read_text()
    sections = dict(s.split("\n", 1) for s in gallery.split("\n## ")[1:])
    assert set(sections) == set(FIGURES)
    for name, body in sections.items():
        images = [line[line.index("](") + 2:-1] for line in body.splitlines() if line.startswith("![")]
        assert images == [f"{name}.png"] and (out / images[0]).stat().st_size > 0, name
        assert f"[PDF]({name}.pdf)" in body and (out / f"{name}.pdf").exists()
        assert FIGURES[name].caption and FIGURES[name].caption in body, name
        commands = body.split("```sh\n", 1)[1].split("```", 1)[0].split("\n")[:-1]
        assert commands[-1] == f"ibl figures {name} --store {store.root} --outdir {out}", commands
        for exp, command in zip(FIGURES[name].experiments, commands[:-1]):
            argv = shlex.split(command)
            assert argv[:3] == ["ibl", "run", exp], command
            if rerun:
                capsys.readouterr()
                assert main(argv[1:] + ["--no-progress"]) == 0
                assert ", 0 computed" in capsys.readouterr().out, command


def test_gallery_lists_every_figure(tiny_store, tmp_path, capsys):
    """The gallery of one `ibl figures` call: the drawn figure's image is real; the others'
    images are stand-ins (drawing all of them is the slow test below)."""
    from sims.cli import main

    out = tmp_path / "gallery"
    out.mkdir()
    for name in FIGURES:
        if name != "transfer_fig1":
            (out / f"{name}.png").write_bytes(b"png")
            (out / f"{name}.pdf").write_bytes(b"pdf")
    assert main(["figures", "transfer_fig1", "--store", str(tiny_store.root), "--outdir", str(out)]) == 0
    assert (out / "transfer_fig1.png").read_bytes()[:4] == b"\x89PNG"
    _check_gallery(out, tiny_store, capsys)


@pytest.mark.slow
def test_cli_figures_writes_a_complete_gallery(tiny_store, tmp_path, capsys):
    """`ibl figures` draws every figure, then the gallery lists them all."""
    from sims.cli import main

    out = tmp_path / "gallery"
    assert main(["figures", "--store", str(tiny_store.root), "--outdir", str(out)]) == 0
    _check_gallery(out, tiny_store, capsys, rerun=False)


def test_gallery_bad_input(tmp_path):
    from figures import figure_info, regenerate_commands, render_gallery
    from figures._common import series_style

    with pytest.raises(TypeError, match="outdir"):
        render_gallery(3)
    with pytest.raises(TypeError, match="store"):
        render_gallery(tmp_path, store=str(tmp_path))
    with pytest.raises(ValueError, match="problems names unknown figure 'nope'"):
        render_gallery(tmp_path, ResultStore(tmp_path / "s"), {"nope": "why"})
    with pytest.raises(TypeError, match=r"problems\['ntp_toy'\]"):
        render_gallery(tmp_path, ResultStore(tmp_path / "s"), {"ntp_toy": 3})
    with pytest.raises(ValueError, match="unknown figure 'nope'; known figures: ntp_"):
        regenerate_commands("nope", ResultStore(tmp_path / "s"))
    with pytest.raises(TypeError, match="name must be a figure name"):
        figure_info(None)
    with pytest.raises(ValueError, match="i must be"):
        series_style(-1)
    with pytest.raises(TypeError, match="i must be"):
        series_style("0")
