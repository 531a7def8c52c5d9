"""The claims registry: status rules, renderers, the committed tables, no typed numbers."""

from __future__ import annotations

import ast
import json
import math
import re
from pathlib import Path

import pytest

from sims.claims import (
    CLAIMS,
    STATUSES,
    Claim,
    Measurement,
    Missing,
    Tolerance,
    claim_status,
    evaluate,
    latex_escape,
    load_measurements,
    readme_section,
    render_json,
    render_latex,
    render_markdown,
)

ROOT = Path(__file__).resolve().parents[2]
_CHECK = re.compile(r"checks? [NTS]\.\d")
OUT = ROOT / "paper" / "claims"


def _claim(comparison="equal", tol=0.1, horizon=100.0, reach=None, max_horizon=math.inf):
    return Claim(id="t.x", source="test", statement="s", experiment="e", quantity="q",
                 predict=lambda inputs: 1, prediction_source="test", measure=lambda store: Missing("none"),
                 comparison=comparison, tolerance=Tolerance(tol, "test tolerance"), horizon=horizon,
                 horizon_unit="k", seeds="0", produce="ibl run e", reach=reach, max_horizon=max_horizon)


def _m(value, unc=0.0, horizon=100.0, **kw):
    return Measurement(value=value, uncertainty=unc, uncertainty_kind="test", horizon=horizon, **kw)


def test_every_status_is_reachable():
    c = _claim()
    seen = {
        claim_status(c, _m(1.05), 1.0).category,
        claim_status(c, _m(1.5, later=(1000.0, 1.02, 0.0)), 1.0).category,
        claim_status(c, _m(1.0, per_seed=(("s0", 1.0, 0.0), ("s1", 2.0, 0.0))), 1.0).category,
        claim_status(c, _m(1.0, per_seed=(("a", 1.0, 0.0), ("b", 2.0, 0.0)), per_seed_kind="settings"), 1.0).category,
        claim_status(c, _m(1.25), 1.0).category,
        claim_status(c, _m(5.0), 1.0).category,
        claim_status(_claim(reach=lambda i: (1e9, "needs 1e9"), max_horizon=1e6), _m(1.0), 1.0).category,
        claim_status(c, Missing("no run"), 1.0).category,
    }
    assert seen == set(STATUSES)



def test_partial_agreement_names_what_the_items_are():
    """Per-item values that are datasets or protocols give "on some settings", never "on some seeds"."""
    c = _claim()
    items = (("teacher=ntk", 1.0, 0.0), ("teacher=margin", 2.0, 0.0))
    st = claim_status(c, _m(1.0, per_seed=items, per_seed_kind="settings"), 1.0)
    assert st.category == "reproduced on some settings" and "seeds" not in str(st)
    assert st.detail == "on teacher=ntk; not on teacher=margin"
    assert claim_status(c, _m(1.0, per_seed=items), 1.0).category == "reproduced on some seeds"
    m = _m(1.0, per_seed=items, per_seed_kind="settings")
    assert Measurement.from_dict(m.to_dict()) == m
    assert Measurement.from_dict({k: v for k, v in m.to_dict().items() if k != "per_seed_kind"}).per_seed_kind == "seeds"
    with pytest.raises(ValueError, match="per_seed_kind"):
        _m(1.0, per_seed_kind="protocols")


def test_boundaries_of_the_equal_rule():
    c = _claim(tol=0.25)  # binary-exact numbers: the boundaries are not blurred by rounding
    assert claim_status(c, _m(1.25), 1.0).category == "reproduced"  # exactly at the tolerance
    assert claim_status(c, _m(1.25 + 1e-9), 1.0).category == "deviates"
    assert claim_status(c, _m(0.5, unc=0.25), 1.0).category == "reproduced"  # interval touches the set
    # refuted beyond REFUTE_FACTOR (3) allowances of 0.25 + 0: a miss of 0.75 deviates, 0.75 + eps refutes
    assert claim_status(c, _m(2.0), 1.0).category == "deviates"
    assert claim_status(c, _m(2.0 + 1e-9), 1.0).category == "refuted"


def test_one_sided_rules():
    lo, hi = _claim("at_least", tol=0.0), _claim("at_most", tol=0.0)
    assert claim_status(lo, _m(5.0), 1.0).category == "reproduced"
    assert claim_status(lo, _m(0.99), 1.0).category == "deviates"
    assert claim_status(hi, _m(-5.0), 1.0).category == "reproduced"
    assert claim_status(hi, _m(1.01), 1.0).category == "deviates"


def test_short_horizon_is_not_measured_unless_it_already_agrees():
    c = _claim(horizon=1e5)
    st = claim_status(c, _m(2.0, horizon=1e4), 1.0)
    assert st.category == "not measured" and "ibl run e" in st.detail
    assert claim_status(c, _m(1.0, horizon=1e4), 1.0).category == "reproduced"


def test_relative_and_keyed_tolerances():
    t = Tolerance(0.5, "x", relative=True, key="b")
    assert t.absolute(-4.0, {"b": 0.1}) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="why"):
        Tolerance(0.1, "")
    with pytest.raises(ValueError, match="comparison"):
        _claim(comparison="close")


def test_measurement_json_round_trip():
    m = _m(math.nan, 0.5, later=(10.0, math.inf, 0.0), per_seed=(("a", 1.0, 0.1),), inputs={"S": 3, "x": [1.5]})
    back = Measurement.from_dict(json.loads(json.dumps(m.to_dict(), allow_nan=False)))
    assert math.isnan(back.value) and back.later[1] == math.inf and back.per_seed == (("a", 1.0, 0.1),)
    assert back.inputs == {"S": 3, "x": [1.5]}


def test_latex_escape():
    assert latex_escape("a_b & 5% $x$ {y} ~^\\") == \
        r"a\_b \& 5\% \$x\$ \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}"
    assert latex_escape("±") == r"$\pm$"
    # OT1 text mode prints < > | as other glyphs: they need commands too
    assert latex_escape("a <= |b| §7 `c`") == \
        r"a \textless{}= \textbar{}b\textbar{} \S{}7 \textasciigrave{}c\textasciigrave{}"


def test_renderers_on_synthetic_rows():
    c = _claim()
    meas = {"claims": {"t.x": _m(1.05, 0.01).to_dict()}}
    rows = evaluate([c], meas)
    md = render_markdown(rows, meas)
    assert "| t.x |" in md and "reproduced" in md
    tex = render_latex(rows, meas)
    assert r"t.\allowbreak{}x & test" in tex and "\\end{longtable}" in tex and r"\raggedright" in tex
    assert "1.05" in tex  # a number keeps its dot: break points only inside identifiers
    js = json.loads(render_json(rows, meas))
    assert js["claims"][0]["status"] == "reproduced" and js["claims"][0]["prediction"] == 1


def test_ids_are_unique_and_tolerances_explained():
    ids = [c.id for c in CLAIMS]
    assert len(ids) == len(set(ids))
    assert all(c.tolerance.why.strip() for c in CLAIMS)


def test_committed_tables_match_the_registry():
    """Re-render from the committed measurements (no store, no simulation); byte for byte."""
    meas = load_measurements(OUT / "measurements.json")
    rows = evaluate(CLAIMS, meas)
    md = render_markdown(rows, meas)
    assert (OUT / "claims.md").read_text() == md
    assert (OUT / "claims.tex").read_text() == render_latex(rows, meas)
    assert (OUT / "claims.json").read_text() == render_json(rows, meas)
    assert readme_section((ROOT / "README.md").read_text()) == "\n" + md


def _float_literals(path: Path):
    tree = ast.parse(path.read_text())
    lines = path.read_text().splitlines()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            yield node.lineno, node.value, lines[node.lineno - 1]


def test_no_typed_numbers_in_the_records():
    """Float literals only in a Tolerance(...) or on a line that quotes its source ("# from:" / a check label)."""
    bad = []
    for path in sorted((ROOT / "sims" / "claims").glob("*.py")):
        for lineno, value, line in _float_literals(path):
            allowed = ("Tolerance(" in line or "# from:" in line or _CHECK.search(line) is not None
                       or path.name == "_record.py")
            if not allowed:
                bad.append(f"{path.name}:{lineno}: {value!r}: {line.strip()}")
    assert not bad, "typed numbers without provenance:\n" + "\n".join(bad)


def test_every_prediction_names_its_theory_or_spec_source():
    """A prediction comes from theory/ (named) or is a check's threshold (labelled N.k / T.k / S.k)."""
    for c in CLAIMS:
        src = c.prediction_source
        assert "theory." in src or _CHECK.search(src) or "directional convergence" in src, (c.id, src)


def test_sources_point_inside_the_repository():
    """Sources cite papers, check labels (the paper's appendix "Checks") or repository files, nothing outside."""
    for c in CLAIMS:
        for text in (c.source, c.prediction_source, c.tolerance.why):
            assert "spec" not in text and "[unverified" not in text and "[open]" not in text, (c.id, text)


def test_family_wise_coverage_covers_the_registry():
    """Z_FAMILY is the Bonferroni quantile over FAMILY_SIZE claims: the registry must fit in it."""
    from scipy.stats import norm

    from sims.claims._record import FAMILY_ALPHA, FAMILY_SIZE, Z_FAMILY, pass_rate_interval

    assert len(CLAIMS) <= FAMILY_SIZE
    assert norm.sf(Z_FAMILY) * 2 * FAMILY_SIZE == pytest.approx(FAMILY_ALPHA, rel=1e-9)
    lo, hi = pass_rate_interval(20, 20)
    # Clopper-Pearson with all passes: lower end (a/2)^(1/n), a = FAMILY_ALPHA / FAMILY_SIZE
    assert hi == 1.0 and lo == pytest.approx((FAMILY_ALPHA / FAMILY_SIZE / 2) ** (1 / 20), rel=1e-9)
    lo, hi = pass_rate_interval(0, 20)
    assert lo == 0.0 and 1 - hi == pytest.approx((FAMILY_ALPHA / FAMILY_SIZE / 2) ** (1 / 20), rel=1e-9)


def test_provenance_reads_code_digests_where_recorded():
    from types import SimpleNamespace

    from sims.claims._measure import provenance

    runs = [SimpleNamespace(key="k1", meta={"code": {"digest": "abc", "files": {}}}),
            SimpleNamespace(key="k2", meta={})]
    prov = provenance({"sweep_key": "s", "quick": True, "config": {"seed": 3}}, runs)
    assert prov["digests"] == ("abc",) and prov["run_keys"] == ("k1", "k2") and prov["quick"] is True


def test_first_hold_is_the_checkpoint_after_the_last_miss():
    from sims.claims.ntp import _first_hold

    k = [1, 10, 100, 1000]
    assert _first_hold(k, [False, True, True, True]) == 10
    assert _first_hold(k, [True, False, True, True]) == 100  # a later miss resets it
    assert _first_hold(k, [True, True, True, True]) == 1
    assert _first_hold(k, [True, True, True, False]) == math.inf
