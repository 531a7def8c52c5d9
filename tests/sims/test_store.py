"""Result store: exact round trips, atomic writes, corruption detection."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sims.store import CorruptResult, ResultStore, canonical_json, stable_hash


@pytest.fixture
def store(tmp_path):
    return ResultStore(tmp_path / "store")


def test_round_trip_is_bit_exact(store):
    rng = np.random.default_rng(0)
    result = {
        "W": rng.standard_normal((5, 3)),
        "ints": np.arange(7, dtype=np.int64),
        "tiny": np.array([5e-324, -0.0, np.inf, np.nan]),
        "nested": {"x": 1.0 / 3.0, "list": [1, 2.5, "a"]},
    }
    store.save_run("exp", "k1", {"n": 3}, result, {"seed": 1})
    back = store.load_run("exp", "k1")
    assert back.params == {"n": 3}
    for key in ("W", "ints", "tiny"):
        assert back.result[key].dtype == result[key].dtype
        # bit-for-bit, NaN included
        assert back.result[key].tobytes() == result[key].tobytes()
    assert back.result["nested"] == result["nested"]


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=3, max_side=4)))
def test_any_float64_array_round_trips(tmp_path_factory, arr):
    store = ResultStore(tmp_path_factory.mktemp("s"))
    store.save_run("e", "k", {}, {"a": arr}, {})
    assert store.load_run("e", "k").result["a"].tobytes() == arr.tobytes()


@pytest.mark.parametrize("cut", [0, 1, 10, -40, -2])
def test_truncated_file_is_detected(store, cut):
    store.save_run("exp", "k", {"n": 1}, {"x": np.ones(50)}, {})
    path = store.run_path("exp", "k")
    text = path.read_text()
    path.write_text(text[:cut] if cut > 0 else text[: len(text) + cut] if cut < 0 else "")
    assert store.status("exp", "k") == "corrupt"
    with pytest.raises(CorruptResult):
        store.load_run("exp", "k")


def test_edited_value_fails_checksum(store):
    store.save_run("exp", "k", {"n": 1}, {"x": 1.5}, {})
    path = store.run_path("exp", "k")
    doc = json.loads(path.read_text())
    doc["body"]["result"]["x"] = 2.5
    path.write_text(json.dumps(doc))
    with pytest.raises(CorruptResult, match="checksum"):
        store.load_run("exp", "k")


def test_file_under_wrong_key_is_rejected(store):
    store.save_run("exp", "a", {}, {"x": 1}, {})
    store.run_path("exp", "a").rename(store.run_path("exp", "b"))
    assert store.status("exp", "b") == "corrupt"


def test_missing_and_no_temp_files_left(store):
    assert store.status("exp", "nope") == "missing"
    store.save_run("exp", "k", {}, {"x": 1}, {})
    leftovers = [p for p in store.run_path("exp", "k").parent.iterdir() if p.suffix == ".tmp"]
    assert leftovers == []


def test_unstorable_values_raise_type_error(store):
    with pytest.raises(TypeError, match="cannot store"):
        store.save_run("exp", "k", {}, {"x": object()}, {})
    with pytest.raises(TypeError, match="keys must be strings"):
        store.save_run("exp", "k", {}, {1: 2}, {})
    assert store.status("exp", "k") == "missing"  # nothing half-written


def test_hash_is_canonical():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 1.5})
    assert canonical_json({"b": 1, "a": 2}) == '{"a":2,"b":1}'
    # strict JSON: a key built on NaN or inf would name a meaningless configuration
    with pytest.raises(ValueError, match=r"obj\['a'\]\[1\] is not finite"):
        canonical_json({"a": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="not finite"):
        stable_hash({"b": float("inf")})
    # arrays are stored by their bytes, NaN included
    assert "__ndarray__" in canonical_json({"a": np.array([np.nan])})
    assert len(stable_hash({"a": 1}, length=64)) == 64
    with pytest.raises(ValueError, match="length must be an integer in"):
        stable_hash({"a": 1}, length=0)
