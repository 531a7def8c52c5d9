"""Shared test fixtures: per-test seeds and multi-seed reruns.

* ``seed`` fixture: a per-test integer seed (0 unless the test is parametrised over
  seeds with the ``seeds`` marker). Tests make their own generator from it; nothing
  uses global random state.
* ``@pytest.mark.seeds(n)``: rerun the test over seeds ``0..n-1`` (each a separate
  test id), so a statistical tolerance cannot hide behind one lucky seed.
"""

from __future__ import annotations

import numpy as np
import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "seeds(n): rerun a test that takes the `seed` fixture over seeds 0..n-1"
    )


def pytest_generate_tests(metafunc):
    if "seed" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        names = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
        if "seed" in names:  # the test chose its own seeds
            return
    marker = metafunc.definition.get_closest_marker("seeds")
    n = int(marker.args[0]) if marker is not None else 1
    metafunc.parametrize("seed", list(range(n)), ids=[f"seed{s}" for s in range(n)])


@pytest.fixture
def rng(seed):
    """A fresh ``numpy.random.Generator`` seeded by the test's ``seed``."""
    return np.random.default_rng(seed)
