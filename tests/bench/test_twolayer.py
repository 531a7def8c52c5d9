"""The two-layer bench's goal sentence and README block on made-up rates (no timing here)."""

from __future__ import annotations

from bench import readme, twolayer


def _row(m, kernel, torch, jax, dgemm):
    rates = dict(kernel=kernel, kernel_serial=kernel, kernel_threads=kernel, numpy=1.0, torch=torch, jax=jax,
                 dgemm=dgemm)
    return dict(m=m, steps=10, rates=rates, median=dict(rates), threaded=[0], dgemm_best_of="dgemm_openblas1")


def test_goals_follow_the_ratios():
    rows = [_row(64, 300.0, 100.0, 140.0, 320.0),   # 2.14x the faster framework, ceiling 2.29x
            _row(256, 90.0, 50.0, 100.0, 150.0),    # below JAX, ceiling 1.5x: 2x unreachable
            _row(4096, 10.0, 5.0, 8.0, 12.0),       # bound / kernel = 1.2 <= 1.3
            _row(16384, 2.0, 1.0, 1.5, 2.7)]        # bound / kernel = 1.35 > 1.3
    text = twolayer.goals(rows, (1.0, 1.0, 1.5, 0.9))
    assert "kernel >= faster framework (best): met at m = 64, 4096, 16384; missed at m = 256." in text
    assert "kernel >= 2x faster framework at m <= 256 (best): met at m = 64; missed at m = 256." in text
    assert "DGEMM bound at m in (4096, 16384) (best): met at m = 4096; missed at m = 16384." in text
    assert "m = 64: reachable (ceiling 2.29x best" in text
    assert "m = 256: unreachable (ceiling 1.50x best" in text
    assert "ensemble faster than the runs one by one: best met, median missed" in text


def test_readme_block_is_rendered_from_the_results_text():
    rows = [_row(64, 300.0, 100.0, 140.0, 320.0), _row(256, 90.0, 50.0, 100.0, 150.0)]
    overhead = {"kernel": (1e-6, 2e-6), "torch": (5e-5, 6e-5), "jax": (3e-6, 4e-6)}
    counts = {"kernel": 1000, "torch": 100, "jax": 100}
    meta = dict(load0=0.5, load1=0.7, repeats=3, seconds=1.0, numba="x", machine="m", blas="openblas (SkylakeX)",
                frameworks="f")
    text = twolayer.results_text(rows, overhead, counts, ([1.0, 1.1], [1.5, 1.6], {"groups": 2}), meta)
    block = twolayer.readme_block(text)
    header, _, body = readme.markdown_tables(block)[0]
    assert header[0] == "width m" and "ceiling: DGEMM bound / faster framework" in header
    assert [r[0] for r in body] == ["64", "256"]
    # JAX overhead share at m = 64: 3 us x 140 steps/s = 0.042%
    assert body[0][header.index("JAX overhead share")] == "0.0% (0.1%)"
    assert body[1][header.index("ceiling: DGEMM bound / faster framework")] == "1.50x (1.50x)"
    assert "Goals (computed from the rows above)" in block and "BLAS: openblas (SkylakeX)" in block
