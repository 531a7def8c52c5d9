"""``ibl claims``: re-rendering from committed measurements, the maintainer command, and an empty store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from sims.claims import CLAIMS, evaluate, load_measurements, measure_all, render_markdown
from sims.cli import main
from sims.store import ResultStore

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "paper" / "claims"


def test_from_measurements_reproduces_the_committed_files(tmp_path, capsys):
    shutil.copy(OUT / "measurements.json", tmp_path / "measurements.json")
    assert main(["claims", "--from-measurements", "--outdir", str(tmp_path)]) == 0
    for name in ("measurements.json", "claims.md", "claims.tex", "claims.json"):
        assert (tmp_path / name).read_text() == (OUT / name).read_text(), name
    assert "zz.fig2.a.ce_sgl.slope" in capsys.readouterr().out


def test_empty_store_says_not_measured_and_which_run(tmp_path):
    rows = evaluate(CLAIMS, measure_all(CLAIMS, ResultStore(tmp_path / "store")))
    assert {r.status.category for r in rows} == {"not measured"}
    for r in rows:
        assert r.claim.produce in r.status.detail, (r.claim.id, r.status.detail)
        if r.claim.produce.startswith("ibl run"):
            assert f"ibl run {r.claim.experiment}" in r.status.detail, (r.claim.id, r.status.detail)


def test_the_maintainer_command_renders_the_committed_files(tmp_path, monkeypatch, capsys):
    """`ibl claims --outdir paper/claims --readme README.md` (make claims) writes the committed files as committed.

    Its measurements here record a store (as :func:`measure_all` does); the committed tables name none, so
    rendering them into the committed folder gives the committed bytes, README block included.
    """
    (tmp_path / "paper" / "claims").mkdir(parents=True)
    measurements = load_measurements(OUT / "measurements.json") | {"store": "/some/full/store"}
    (tmp_path / "paper" / "claims" / "measurements.json").write_text(json.dumps(measurements))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    monkeypatch.chdir(tmp_path)
    assert main(["claims", "--from-measurements", "--outdir", "paper/claims", "--readme", "README.md"]) == 0
    for name in ("measurements.json", "claims.md", "claims.tex", "claims.json"):
        assert (tmp_path / "paper" / "claims" / name).read_text() == (OUT / name).read_text(), name
    assert (tmp_path / "README.md").read_text() == (ROOT / "README.md").read_text()
    assert "claims: note" not in capsys.readouterr().err


def test_a_generated_table_names_its_store(tmp_path, capsys):
    """Anywhere but paper/claims the caption names the store and says the table is not the committed one."""
    measurements = load_measurements(OUT / "measurements.json") | {"store": "/some/store"}
    (tmp_path / "measurements.json").write_text(json.dumps(measurements))
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    assert main(["claims", "--from-measurements", "--outdir", str(tmp_path), "--readme", str(readme)]) == 0
    first = (tmp_path / "claims.md").read_text().splitlines()[0]
    assert first.startswith("Rendered by `ibl claims` from measurements of the store /some/store (a generated "
                            "table, not the committed one in paper/claims/); full mode: ")
    committed = render_markdown(evaluate(CLAIMS, load_measurements(OUT / "measurements.json")), {})
    assert (tmp_path / "claims.md").read_text().splitlines()[1:] == committed.splitlines()[1:]  # same rows
    assert "/some/store" in (tmp_path / "claims.tex").read_text() and first in readme.read_text()
    assert "now shows the measurements of" in capsys.readouterr().err  # the README no longer matches paper/claims
