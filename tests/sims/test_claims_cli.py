"""``ibl claims``: re-rendering from committed measurements, and an empty store."""

from __future__ import annotations

import shutil
from pathlib import Path

from sims.claims import CLAIMS, evaluate, measure_all
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
