"""The soft/hard experiment points refuse the issue-9 bad inputs by name: eps outside
(0, 1), widths < 1, no random features (the data checks live in theory.ntk and
sims.twolayer and are tested there: tests/theory/ntk/test_ntk_inputs.py,
tests/sims/test_twolayer_inputs.py)."""

from __future__ import annotations

import pytest

from sims.experiments.softhard import WidthPoint


@pytest.mark.parametrize("kwargs, pattern", [
    (dict(eps=(0.5, 1.0)), r"eps\[1\]: expected a finite number in \(0, 1\), got 1.0"),
    (dict(eps=(0.0, 0.5)), r"eps\[0\]: expected a finite number in \(0, 1\), got 0.0"),
    (dict(widths=(0, 4)), r"widths\[0\]: expected an integer >= 1, got 0"),
    (dict(n_features=0), r"n_features: expected an integer >= 1, got 0"),
])
def test_width_point_refuses_bad_settings(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        WidthPoint(**kwargs)
