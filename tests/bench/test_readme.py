"""The README's bench blocks are rendered from the committed results files (no timing here).

``bench.readme`` renders each block from ``bench/results/NAME.md`` alone; these tests fail
when a README block was edited by hand or a results file changed without re-rendering
(``python -m bench.readme README.md`` fixes both), and check the rendering helpers and the
OpenBLAS pinning check of ``bench.environment`` on made-up inputs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import environment, readme

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", readme.BENCHES)
def test_readme_block_equals_the_rendered_results_file(name):
    text = (ROOT / "README.md").read_text()
    assert readme.block(text, name) == readme.wrap(readme.render(name)), (
        f"README block {name} differs from bench/results/{name}.md: run `python -m bench.readme README.md`")


@pytest.mark.parametrize("name", readme.BENCHES)
def test_every_results_table_row_reaches_the_readme(name):
    # the block is built from the file: each data row of the file's first table shows up
    # (by its first cell) in the rendered block, so a selection cannot silently drop rows
    results = readme.results_path(name).read_text()
    _, _, rows = readme.markdown_tables(results)[0]
    block = readme.render(name)
    assert rows
    for row in rows:
        assert f"| {row[0]} |" in block


def test_check_mode_flags_a_hand_edited_block(tmp_path):
    readme_file = tmp_path / "README.md"
    readme_file.write_text((ROOT / "README.md").read_text())
    assert readme.main([str(readme_file), "--check"]) == 0
    text = readme_file.read_text()
    begin, _ = readme.markers("gd")
    readme_file.write_text(text.replace(begin + "\n", begin + "\nhand-typed 9.99x\n", 1))
    assert readme.main([str(readme_file), "--check", "gd"]) == 1
    assert readme.main([str(readme_file), "--check", "twolayer"]) == 0
    assert readme.main([str(readme_file), "gd"]) == 0  # re-render
    assert readme_file.read_text() == text


def test_select_columns_and_lines():
    text = "intro\n\n| a | b | c |\n|---|---:|---|\n| 1 | 2 | 3 |\n| 4 | 5 | 6 |\n\nNote: x\n"
    table = readme.markdown_tables(text)[0]
    assert table == (["a", "b", "c"], ["---", "---:", "---"], [["1", "2", "3"], ["4", "5", "6"]])
    assert readme.select_columns(table, [("c", "C"), ("b", "B")]) == "| C | B |\n|---|---:|\n| 3 | 2 |\n| 6 | 5 |"
    assert readme.line_starting(text, "Note") == "Note: x"
    with pytest.raises(ValueError, match="no column 'z'"):
        readme.select_columns(table, [("z", "Z")])
    with pytest.raises(ValueError, match="no line starting with 'Missing'"):
        readme.line_starting(text, "Missing")
    assert readme.blas_line(text).startswith("BLAS: not recorded")


def test_replace_block_keeps_the_rest_and_refuses_missing_markers():
    text = "head\n<!-- bench:gd -->\nold\n<!-- /bench:gd -->\ntail\n"
    new = readme.replace_block(text, "gd", "new table")
    assert new == "head\n<!-- bench:gd -->\nnew table\n<!-- /bench:gd -->\ntail\n"
    assert readme.block(new, "gd") == "\nnew table\n"
    with pytest.raises(ValueError, match="no <!-- bench:twolayer -->"):
        readme.replace_block(text, "twolayer", "x")
    with pytest.raises(ValueError, match="name must be one of"):
        readme.markers("nope")


def _lib(arch, api="openblas"):
    return dict(internal_api=api, version="0.3.31", architecture=arch, num_threads=2, filepath=f"/lib/{arch}.so")


def test_pinned_openblas_is_found_only_on_an_avx512_cpu():
    libs = [_lib("Haswell"), _lib("SkylakeX"), _lib("Haswell", api="mkl")]
    assert environment.pinned_libraries(libs, True) == [libs[0]]
    assert environment.pinned_libraries(libs, False) == []
    assert environment.pinned_libraries(libs, None) == []
    assert "pinned below" in environment.describe(libs, True)
    assert "pinned below" not in environment.describe(libs[1:], True)


def test_check_openblas_refuses_pinned_kernels(monkeypatch):
    monkeypatch.setattr(environment, "blas_libraries", lambda: [_lib("Haswell")])
    monkeypatch.setattr(environment, "host_has_avx512", lambda: True)
    with pytest.raises(SystemExit, match="env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"):
        environment.check_openblas(allow_pinned=False)
    assert "Haswell kernels" in environment.check_openblas(allow_pinned=True)
    assert "Haswell kernels" in environment.check_openblas(allow_pinned=False, uses_blas=False)
    monkeypatch.setattr(environment, "blas_libraries", lambda: [_lib("SkylakeX")])
    assert "SkylakeX kernels" in environment.check_openblas(allow_pinned=False)


def test_blas_libraries_are_read_from_this_process():
    # whatever this machine pins, the report names the core type of each loaded OpenBLAS
    libs = environment.blas_libraries()
    assert any(lib["internal_api"] == "openblas" for lib in libs)
    sentence = environment.describe(libs, environment.host_has_avx512())
    for lib in libs:
        assert f"({lib['architecture']} kernels)" in sentence
