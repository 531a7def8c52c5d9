r"""The manuscript's generated numbers (sims.paper, ``ibl paper``) and checks of its LaTeX sources.

No LaTeX is needed except for :func:`test_pdf_builds_and_shows_generated_numbers`, which is
skipped (saying what to install) when latexmk is absent. The small store of these tests holds
one tiny ``transfer_fig2`` sweep (one panel, three sample sizes): its numbers are computed, the
others must come out as "n/a" with the command that computes them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sims.claims import CLAIMS, GENERATED_DIR, load_measurements, measure_all, write_outputs
from sims.cli import build_parser, main
from sims.experiment import load_runs
from sims.experiments.transfer import fig2_fit_mask
from sims.paper import (ALLOWED_CONSTANTS, check_numbers, check_references, collect_numbers, declared_keys,
                        format_value, generate, lint_numbers, read_numbers, used_keys, write_numbers)
from sims.store import ResultStore
from sims.sweep import run_experiment
from theory.fitting import loglog_slope

ROOT = Path(__file__).resolve().parents[2]
PAPER = ROOT / "paper"
TINY = {"panels": "(('a', 'instance1', 10, 10),)", "n_min": "1000", "n_max": "4000", "n_points": "3",
        "repeats": "400"}


def _run_tiny(store: ResultStore, repeats: int = 400):
    return run_experiment("transfer_fig2", overrides=TINY | {"repeats": str(repeats)}, store=store, jobs=1,
                          progress=False)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """(store, measurements, numbers, outdir): one tiny transfer_fig2 sweep and the numbers written from it."""
    root = tmp_path_factory.mktemp("paper")
    store = ResultStore(root / "store")
    _run_tiny(store)
    measurements = measure_all(CLAIMS, store)
    numbers = collect_numbers(store, measurements)
    outdir = root / "generated"
    write_numbers(numbers, outdir, used=used_keys(PAPER), source=str(store.root))
    write_outputs(CLAIMS, measurements, outdir / "claims")  # where `ibl paper` puts the table the PDF includes
    return store, measurements, numbers, outdir


# ------------------------------------------------------------------ the sources, without a store

def test_the_paper_uses_only_numbers_that_are_generated():
    used = set(used_keys(PAPER))
    assert used, "the manuscript prints no generated number at all"
    assert used <= set(declared_keys()), sorted(used - set(declared_keys()))


def test_no_decimal_result_is_typed_by_hand():
    assert lint_numbers(PAPER) == []


def test_every_allowed_constant_is_used_and_has_a_reason():
    # an allow-list entry nobody needs is a hole the next typed result could slip through
    text = " ".join(p.read_text() for p in PAPER.rglob("*.tex") if not {"generated", "claims"} & set(p.parts))
    for number, reason in ALLOWED_CONSTANTS.items():
        assert reason.strip(), number
        assert re.search(rf"(?<![\d.]){re.escape(number)}(?![\d.])", text), f"{number} is allowed but never used"


def test_lint_flags_typed_results_and_skips_what_is_not_one(tmp_path):
    (tmp_path / "a.tex").write_text(
        "We measure 0.4431 here.\n"                      # a typed result
        "and $x=\\pm0.0123$\n"                             # glued to a macro: still a number
        "or 1e-3 steps\n"                                  # e-notation
        "Thm.~3.1 and Thms.~4.1, 5.1 and~6.2; App.~C.4\n"  # numbered references to a paper
        "check~N.9, \\IBL{zz.fig2.a.0.5}, \\includegraphics[width=0.48\\textwidth]{x}\n"
        "% a comment: 0.999\n"
        "the paper reports $-0.532$\n")                    # an allowed constant of the cited paper
    problems = lint_numbers(tmp_path)
    found = [p.split(": ")[1].split()[0] for p in problems]
    assert found == ["0.4431", "0.0123", "1e-3"], problems
    assert all(p.startswith("a.tex:") for p in problems)


def test_every_ref_and_cite_target_exists():
    assert check_references(PAPER) == []


def test_reference_check_finds_dangling_targets(tmp_path):
    (tmp_path / "references.bib").write_text("@article{known,\n title={T}, year={2020}}\n")
    (tmp_path / "main.tex").write_text("\\section{A}\\label{sec:a} See \\ref{sec:a}, \\cref{sec:b}, "
                                       "\\citep[Thm.~2]{known,unknown}.\n")
    problems = check_references(tmp_path)
    assert len(problems) == 2, problems
    assert "'sec:b'" in problems[0] and "'unknown'" in problems[1]


@pytest.mark.parametrize("value, style, text", [
    (-0.50064, "slope", r"\ensuremath{-0.501}"),
    (-0.0001, "slope", r"\ensuremath{0.000}"),
    (3.30478, "sig3", r"\ensuremath{3.30}"),
    (7.678e-5, "sig2", r"\ensuremath{7.7\times 10^{-5}}"),
    (18201.46, "sig2", r"\ensuremath{1.8\times 10^{4}}"),
    (9.996e-4, "sig3", r"\ensuremath{1.00\times 10^{-3}}"),  # rounds up; its zeros are significant
    (1.036e4, "sig2", r"\ensuremath{1.0\times 10^{4}}"),
    (99600.0, "sci", r"\ensuremath{10^{5}}"),
    (1e5, "sci", r"\ensuremath{10^{5}}"),
    (64000, "int", r"\ensuremath{64\,000}"),
    (None, "sig3", "n/a"),
    (None, "text", "n/a"),  # a text setting of an experiment the store lacks
    (float("inf"), "sig3", "n/a"),
    ("reproduced only at a longer horizon", "text", "reproduced only at a longer horizon"),
    ("a_b & 5%", "text", r"a\_b \& 5\%"),
])
def test_format_value(value, style, text):
    assert format_value(value, style) == text


# ------------------------------------------------------------------ numbers from a small store

def test_every_declared_number_is_written_once(small):
    store, measurements, numbers, outdir = small
    assert [n.key for n in numbers] == declared_keys()
    tex = (outdir / "numbers.tex").read_text()
    defined = re.findall(r"^\\iblnumber\{([^}]*)\}", tex, flags=re.M)
    assert defined == declared_keys()
    assert set(used_keys(PAPER)) <= set(defined)


def test_a_figure_number_is_the_stored_fit_with_its_provenance(small):
    store, measurements, numbers, outdir = small
    by = {n.key: n for n in numbers}
    manifest, runs = load_runs(store, "transfer_fig2")
    panel = sorted((r for r in runs if r.point.panel == "a"), key=lambda r: r.point.n)
    # independent of the figure script: refit the stored means over the fit window
    n = np.array([r.point.n for r in panel], dtype=float)
    mean = np.array([r.result.mean.ce_sgl for r in panel])
    keep = fig2_fit_mask("instance1", 10, 10, n)
    expected = loglog_slope(n[keep], mean[keep]).slope
    slope = by["zz.fig2.a.slope"]
    assert slope.value == pytest.approx(expected, rel=1e-12)  # the same least-squares fit, float64
    assert slope.text == format_value(expected, "slope")
    assert slope.experiment == "transfer_fig2" and slope.sweep_key == manifest["sweep_key"]
    assert set(slope.run_keys) == {r.key for r in panel}
    assert slope.digests == tuple(sorted({r.meta["code"]["digest"] for r in panel}))
    assert slope.quick is False and not slope.missing
    assert by["zz.fig2.repeats"].value == 400
    assert by["meta.mode"].value == "full mode for every experiment"


def test_numbers_without_runs_say_which_run_computes_them(small):
    store, measurements, numbers, outdir = small
    by = {n.key: n for n in numbers}
    for key, experiment in (("ntp.a2.entropy", "ntp_overparam"), ("wt.toy.slope", "ntp_w_tilde"),
                            ("zz.fig2.b.slope", "transfer_fig2")):
        n = by[key]
        assert n.value is None and n.text == "n/a", key
        assert n.missing, key
        if key != "zz.fig2.b.slope":  # an unstored experiment: the command that runs it
            assert f"ibl run {experiment}" in n.missing, (key, n.missing)
    # a claim whose experiment is stored gets its measurement, value and provenance
    c = by["claim.zz.fig2.a.ce_sgl.slope.value"]
    assert c.value == pytest.approx(by["zz.fig2.a.slope"].value, abs=0.0) and c.run_keys
    # theory constants need no store: [JT20]'s lambda at gamma = 0.1, eps = 0.01, n = 1000, delta = 0.1
    assert by["sh.jt.lam"].text == r"\ensuremath{424}" and by["sh.jt.lam"].source.startswith("theory ")


def test_fresh_numbers_are_not_stale_and_a_new_sweep_makes_them_stale(small, tmp_path):
    store, measurements, numbers, outdir = small
    assert check_numbers(outdir, store, measurements) == []
    # a hand edit of the generated file is caught
    copy = tmp_path / "generated"
    shutil.copytree(outdir, copy)
    tex = copy / "numbers.tex"
    tex.write_text(tex.read_text().replace(numbers[3].text, r"\ensuremath{0.123}", 1))
    assert any("differs from what ibl paper writes now" in p for p in check_numbers(copy, store, measurements))
    # a newer sweep of the experiment (other settings) makes the figure's numbers stale
    other = ResultStore(tmp_path / "store")
    shutil.copytree(store.root, other.root)
    _run_tiny(other, repeats=500)
    problems = check_numbers(outdir, other, measure_all(CLAIMS, other))
    stale = {p.split(":")[0] for p in problems}
    assert {"zz.fig2.a.slope", "zz.fig2.repeats", "claim.zz.fig2.a.ce_sgl.slope.value"} <= stale, problems
    assert "ntp.a2.entropy" not in stale  # still not computed, as before


def test_ibl_paper_writes_the_generated_files_and_the_claims(small, tmp_path, capsys):
    store, measurements, numbers, outdir = small
    paper = tmp_path / "paper"
    paper.mkdir()
    for p in [PAPER / "main.tex", *PAPER.glob("sections/*.tex")]:
        dest = paper / p.relative_to(PAPER)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest)
    claims = paper / "generated" / "claims"  # the default: the table main.tex includes
    assert main(["paper", "--store", str(store.root), "--paper-dir", str(paper)]) == 0
    out = capsys.readouterr().out
    assert "paper: wrote" in out and "not computed from this store" in out
    assert (claims / "claims.tex").is_file() and (claims / "measurements.json").is_file()
    # the claims table names the store of the numbers, and says it is not the committed one
    assert load_measurements(claims / "measurements.json")["store"] == str(store.root)
    assert f"store {store.root} (a generated table, not the committed one" in (claims / "claims.md").read_text()
    assert check_numbers(paper / "generated", store) == []
    assert read_numbers(paper / "generated")["zz.fig2.a.slope"]["text"] == \
        read_numbers(outdir)["zz.fig2.a.slope"]["text"]
    provenance = (paper / "generated" / "provenance.tex").read_text()
    assert "{ibl:zz.fig2.a.slope}" in provenance and "{ibl:ntp.a2.entropy}" in provenance  # used keys only
    assert "{ibl:claim.zz.fig2.b.ce-sgl.slope.uncertainty}" not in provenance
    assert r"zz.\allowbreak{}fig2.\allowbreak{}a.\allowbreak{}slope" in provenance  # long keys can break
    # a manuscript using a number no spec produces fails
    (paper / "sections" / "extra.tex").write_text("\\IBL{no.such.number}\n")
    assert main(["paper", "--store", str(store.root), "--paper-dir", str(paper), "--from-measurements"]) == 1
    err = capsys.readouterr().err
    assert "no.such.number" in err and "measured from" not in err  # claims and numbers: one store, no warning


def test_ibl_paper_warns_when_the_claims_come_from_another_store(small, tmp_path, capsys):
    store = small[0]
    paper = tmp_path / "paper"
    for p in [PAPER / "main.tex", *PAPER.glob("sections/*.tex")]:
        dest = paper / p.relative_to(PAPER)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dest)
    claims = paper / "generated" / "claims"
    claims.mkdir(parents=True)
    shutil.copy(PAPER / "claims" / "measurements.json", claims)  # the committed ones: no store recorded
    assert main(["paper", "--store", str(store.root), "--paper-dir", str(paper), "--from-measurements"]) == 0
    assert "were measured from an unrecorded store (the committed measurements), the numbers come from " \
        f"{store.root}" in " ".join(capsys.readouterr().err.split())


# ------------------------------------------------------------------ the main command leaves a clone clean

def _ignored_by_git(paths: list[str]) -> set[str]:
    """The repository-relative ``paths`` that this checkout's git ignores (a tracked file never is)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot ask which paths it ignores")
    proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--stdin"], input="\n".join(paths),
                          capture_output=True, text=True)
    if proc.returncode not in (0, 1):  # 0: some ignored, 1: none; else not a git checkout (an sdist)
        pytest.skip(f"{ROOT} is not a git checkout: {proc.stderr.strip()}")
    return set(proc.stdout.split())


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_main_command_writes_only_git_ignored_files(small, tmp_path, monkeypatch, capsys):
    """`ibl all` (make main) in a copy of the checkout: the committed claims tables and README stay byte for byte,
    every file it writes is one git ignores, and the manuscript's claims table comes from the store of its numbers.

    The experiments are not run here (``list_experiments`` is emptied: the copied store already holds the small
    sweep); the figures, claims and paper steps run exactly as the main command calls them.
    """
    import sims.experiment

    store = small[0]
    repo = tmp_path / "repo"
    tracked = ["README.md", "paper/main.tex", *(p.relative_to(ROOT).as_posix() for p in PAPER.glob("sections/*.tex")),
               *(p.relative_to(ROOT).as_posix() for p in (PAPER / "claims").iterdir())]
    for rel in tracked:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, repo / rel)
    shutil.copytree(store.root, repo / "results")  # the default store of the main command
    before = _files(repo)
    monkeypatch.chdir(repo)
    monkeypatch.delenv("IBL_STORE", raising=False)
    monkeypatch.setattr(sims.experiment, "list_experiments", lambda: [])
    assert main(["all", "--quick", "--no-progress"]) in (0, 1)  # 1: figures whose experiments are not stored
    assert "main job finished" in capsys.readouterr().out
    after = _files(repo)
    changed = [rel for rel in tracked if after[rel] != before[rel]]
    assert changed == [], f"the main command rewrote committed files: {changed}"
    written = sorted(rel for rel, data in after.items() if before.get(rel) != data)
    assert {"paper/generated/numbers.tex", "paper/generated/claims/claims.tex",
            "paper/generated/claims/measurements.json"} <= set(written), written
    not_ignored = sorted(set(written) - _ignored_by_git(written))
    assert not_ignored == [], f"the main command wrote files git does not ignore: {not_ignored}"
    numbers = read_numbers(repo / "paper" / "generated")
    measurements = load_measurements(repo / GENERATED_DIR / "measurements.json")
    assert measurements["store"] == numbers["meta.store"]["value"] == "results"


def test_the_commands_default_to_ignored_folders():
    """`ibl claims` and `ibl paper` without --outdir, and `ibl all`, write their tables under paper/generated/."""
    parser = build_parser()
    claims = parser.parse_args(["claims"]).outdir
    assert Path(claims) == GENERATED_DIR
    assert parser.parse_args(["paper"]).outdir is None  # PAPER_DIR/generated/claims (cmd_paper)
    assert not {"claims_outdir", "claims_readme"} & set(vars(parser.parse_args(["all"])))
    probe = [f"{GENERATED_DIR.as_posix()}/claims.tex", "paper/generated/numbers.tex", "paper/figures/x.pdf",
             "paper/numbers/x.json", "results/x.json"]
    assert _ignored_by_git(probe) == set(probe)
    assert _ignored_by_git(["paper/claims/claims.tex", "README.md"]) == set()  # committed: never ignored


def test_generate_refuses_a_folder_without_main_tex(small, tmp_path):
    store = small[0]
    with pytest.raises(ValueError, match="paper_dir must be a folder holding main.tex"):
        generate(store, tmp_path)


# ------------------------------------------------------------------ the PDF (needs LaTeX)

def _plain(text: str) -> str:
    """The characters pdftotext gives for a generated number such as \\ensuremath{-0.501}."""
    inner = re.fullmatch(r"\\ensuremath\{(.*)\}", text).group(1)
    return inner.replace("-", "\u2212")


def test_pdf_builds_and_shows_generated_numbers(small, tmp_path):
    if shutil.which("latexmk") is None or shutil.which("pdflatex") is None:
        pytest.skip("latexmk/pdflatex not installed: apt-get install --no-install-recommends latexmk "
                    "texlive-latex-recommended (see README, 'The paper')")
    store, measurements, numbers, outdir = small
    paper = tmp_path / "paper"
    shutil.copytree(PAPER, paper, ignore=shutil.ignore_patterns("generated", "figures", "numbers", "*.pdf", "*.aux",
                                                                "*.log", "*.bbl", "*.blg", "*.out", "*.toc",
                                                                "*.fls", "*.fdb_latexmk"))
    shutil.copytree(outdir, paper / "generated")
    proc = subprocess.run(["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=paper,
                          capture_output=True, text=True, errors="replace", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:]
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed (apt-get install poppler-utils): the PDF built, its text was not read")
    text = subprocess.run(["pdftotext", "main.pdf", "-"], cwd=paper, capture_output=True, text=True).stdout
    # every number the manuscript prints as a plain decimal, computed from the small store, is in the PDF
    used = set(used_keys(PAPER))
    shown = [n for n in numbers if n.key in used and re.fullmatch(r"\\ensuremath\{-?[\d.]+\}", n.text)]
    assert {"zz.fig2.a.slope", "zz.fig2.a.ci_low", "sh.jt.lam"} <= {n.key for n in shown}
    missing = [n.key for n in shown if _plain(n.text) not in text]
    assert missing == [], missing
    flat = " ".join(text.split())
    assert "figure transfer_fig2 not drawn yet" in flat  # no figures here: boxes instead
    assert "??" not in text  # no undefined number or reference
    # the claims table is the one measured from the store of the numbers, and its caption says so
    assert "Not generated yet" not in flat and "a generated table, not the committed one" in flat
    assert "zz.fig2.a.ce" in flat


# ------------------------------------------------------------------ reusing the numbers of `ibl figures`

def test_ibl_paper_reuses_the_figure_numbers_while_they_are_current(small, tmp_path, capsys):
    """Numbers that `ibl figures` stamped are read back (not recomputed) until the store or the file changes."""
    from sims.paper import STAMP_SUFFIX, current_figure_numbers, figure_state, stamp_figure_numbers

    store, measurements, numbers, outdir = small
    paper = tmp_path / "paper"
    assert main(["figures", "transfer_fig2", "--store", str(store.root), "--outdir", str(paper / "figures")]) == 0
    nums = paper / "numbers"
    assert (nums / "transfer_fig2.json").is_file() and (nums / f"transfer_fig2{STAMP_SUFFIX}").is_file()
    stored = current_figure_numbers("transfer_fig2", store, nums)
    assert stored is not None and stored["sweep_key"] == load_runs(store, "transfer_fig2")[0]["sweep_key"]

    # the reused numbers print exactly as the recomputed ones
    reused: list = []
    again = collect_numbers(store, measurements, figure_numbers=nums, reused=reused)
    assert reused == ["transfer_fig2"]
    assert [(n.key, n.text) for n in again] == [(n.key, n.text) for n in numbers]

    # and they are really read from the file: a restamped sentinel comes through ...
    state = figure_state("transfer_fig2", store)
    data = json.loads((nums / "transfer_fig2.json").read_text())
    data["panels"]["a"]["slope"] = -0.25
    (nums / "transfer_fig2.json").write_text(json.dumps(data))
    stamp_figure_numbers(state, nums)
    by = {n.key: n for n in collect_numbers(store, measurements, figure_numbers=nums)}
    assert by["zz.fig2.a.slope"].value == -0.25

    # ... while an edit without a new stamp is not trusted: the figure is drawn again
    data["panels"]["a"]["slope"] = -0.75
    (nums / "transfer_fig2.json").write_text(json.dumps(data))
    assert current_figure_numbers("transfer_fig2", store, nums) is None
    reused = []
    by = {n.key: n for n in collect_numbers(store, measurements, figure_numbers=nums, reused=reused)}
    assert reused == [] and by["zz.fig2.a.slope"].text == {n.key: n for n in numbers}["zz.fig2.a.slope"].text

    # another store, or a newer sweep of the figure's experiment, makes a correct stamp stale
    other = ResultStore(tmp_path / "store")
    shutil.copytree(store.root, other.root)
    assert current_figure_numbers("transfer_fig2", other, nums) is None  # stamped for another store
    other_figs = tmp_path / "other" / "figures"
    assert main(["figures", "transfer_fig2", "--store", str(other.root), "--outdir", str(other_figs)]) == 0
    assert current_figure_numbers("transfer_fig2", other, other_figs.parent / "numbers") is not None
    _run_tiny(other, repeats=300)
    assert current_figure_numbers("transfer_fig2", other, other_figs.parent / "numbers") is None

    # `ibl paper` says what it reused
    for src in [PAPER / "main.tex", *PAPER.glob("sections/*.tex")]:
        dest = paper / src.relative_to(PAPER)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, dest)
    capsys.readouterr()
    assert main(["figures", "transfer_fig2", "--store", str(store.root), "--outdir", str(paper / "figures")]) == 0
    assert main(["paper", "--store", str(store.root), "--paper-dir", str(paper), "--outdir",
                 str(tmp_path / "claims")]) == 0
    assert "reused the numbers of 1 figure(s)" in capsys.readouterr().out


def test_figure_numbers_arguments_are_checked(small, tmp_path):
    from sims.paper import current_figure_numbers, figure_state, stamp_figure_numbers

    store = small[0]
    with pytest.raises(ValueError, match="name must be one of the figures"):
        figure_state("no_such_figure", store)
    with pytest.raises(TypeError, match="store must be a sims.store.ResultStore"):
        figure_state("transfer_fig2", "results")
    with pytest.raises(ValueError, match="state must be the dict of sims.paper.figure_state"):
        stamp_figure_numbers({"figure": "transfer_fig2"}, tmp_path)
    with pytest.raises(TypeError, match="numbers_dir must be a folder path"):
        current_figure_numbers("transfer_fig2", store, 3)
    with pytest.raises(ValueError, match="numbers_dir must be an existing folder"):
        current_figure_numbers("transfer_fig2", store, tmp_path / "missing")
    assert current_figure_numbers("transfer_fig2", store, tmp_path) is None  # nothing stamped there
