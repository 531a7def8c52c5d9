"""Every kind of damage to a stored file is detected, named by path, and recomputed (never used)."""

import hashlib
import json
import os
import time

import numpy as np
import pytest

from sims.cli import main
from sims.experiment import get_experiment, make_config, run_specs
from sims.store import CorruptResult, ResultStore, check_store_name
from sims.sweep import latest_sweep, load_sweep_runs, run_experiment, sweep_key

RUNS = 3


def _sweep(store):
    return run_experiment("selftest", overrides={"runs": RUNS}, store=store, jobs=1, progress=False)


def _victim(index=1):
    exp = get_experiment("selftest")
    return run_specs(exp, make_config(exp, overrides={"runs": RUNS}))[index].key


def _results(store):
    _, runs = load_sweep_runs(store, "selftest")
    return {r.key: r.result["sample"].tobytes() for r in runs}


def _rewrite_body(path, edit):
    """Edit a run file's body and give it a *valid* checksum again (damage the checksum cannot see)."""
    doc = json.loads(path.read_text())
    edit(doc["body"])
    payload = json.dumps(doc["body"], sort_keys=True, separators=(",", ":"), allow_nan=True)
    path.write_text('{"sha256":"%s","body":%s}\n' % (hashlib.sha256(payload.encode()).hexdigest(), payload))


def _flip_high_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] |= 0x80  # an ASCII byte with its high bit set is never valid UTF-8 alone
    path.write_bytes(bytes(data))


def _directory(path):
    path.unlink()
    (path / "inner").mkdir(parents=True)


def _body_not_object(path):
    payload = json.dumps([1, 2, 3], separators=(",", ":"))
    path.write_text(json.dumps({"sha256": hashlib.sha256(payload.encode()).hexdigest(), "body": [1, 2, 3]}))


def _result_is_list(path):
    _rewrite_body(path, lambda b: b.__setitem__("result", [1.0, 2.0]))


def _array_shape_lies(path):
    _rewrite_body(path, lambda b: b["result"]["sample"].__setitem__("shape", [3]))  # 8 float64 stored


def _array_bad_dtype(path):
    _rewrite_body(path, lambda b: b["result"]["sample"].__setitem__("dtype", "not-a-dtype"))


def _array_invalid_base64(path):
    def edit(body):
        data = body["result"]["sample"]["__ndarray__"]
        body["result"]["sample"]["__ndarray__"] = "*" + data[1:]

    _rewrite_body(path, edit)


def _missing_meta(path):
    _rewrite_body(path, lambda b: b.pop("meta"))


def _checksum_not_string(path):
    doc = json.loads(path.read_text())
    doc["sha256"] = 12
    path.write_text(json.dumps(doc))


DAMAGE = {
    "non-utf8": (_flip_high_bit, "not UTF-8"),
    "directory": (_directory, "directory"),
    "body-not-object": (_body_not_object, "expected an object"),
    "result-wrong-type": (_result_is_list, "'result'"),
    "array-shape": (_array_shape_lies, "bytes"),
    "array-dtype": (_array_bad_dtype, "dtype"),
    "array-base64": (_array_invalid_base64, "base64"),
    "missing-field": (_missing_meta, "'meta'"),
    "checksum-type": (_checksum_not_string, "checksum"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_run_is_named_and_recomputed(tmp_path, capsys, kind):
    damage, match = DAMAGE[kind]
    store = ResultStore(tmp_path)
    _sweep(store)
    before = _results(store)
    victim = _victim()
    path = store.run_path("selftest", victim)
    damage(path)

    state, run, problem = store.inspect("selftest", victim)
    assert (state, run) == ("corrupt", None)
    assert str(path) in problem and match in problem
    with pytest.raises(CorruptResult, match=match):
        store.load_run("selftest", victim)
    # the other runs are untouched and still read
    assert all(store.status("selftest", k) == "ok" for k in before if k != victim)

    capsys.readouterr()
    report = _sweep(store)
    assert report.corrupt == 1 and report.computed_keys == (victim,)
    assert str(path) in capsys.readouterr().err
    assert _results(store) == before  # recomputed bit for bit, nothing damaged used


def test_valid_arrays_of_every_size_still_read(tmp_path):
    # the structure checks must not refuse legitimate edge cases
    store = ResultStore(tmp_path)
    result = {"empty": np.zeros((0, 3)), "scalar": np.array(2.5), "b": np.array([True, False]),
              "c": np.array([1 + 2j]), "i8": np.arange(3, dtype=np.int8)}
    store.save_run("e", "k", {}, result, {})
    back = store.load_run("e", "k").result
    for k, v in result.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape and back[k].tobytes() == v.tobytes()


@pytest.mark.parametrize("garbage", [b"\xff\xfe not json", b'{"keys": "nope"}', b"[]", b'{"keys": ["../x"]}', b""])
def test_garbage_sweep_manifest_does_not_stop_runs(tmp_path, capsys, garbage):
    store = ResultStore(tmp_path)
    _sweep(store)
    exp = get_experiment("selftest")
    path = store.sweep_path("selftest", sweep_key(exp, make_config(exp, overrides={"runs": RUNS})))
    path.write_bytes(garbage)
    with pytest.raises(CorruptResult, match=str(path)):
        store.load_sweep("selftest", path.stem)
    problems = []
    assert latest_sweep(store, "selftest", problems) is None  # the damaged one is skipped, not used
    assert len(problems) == 1 and str(path) in problems[0]
    capsys.readouterr()
    assert main(["--store", str(tmp_path), "status"]) == 0  # status reports it, does not stop
    out = capsys.readouterr().out
    assert f"selftest: damaged sweep manifest: {path}" in out
    report = _sweep(store)
    assert (report.cached, report.computed) == (RUNS, 0)
    assert str(path) in capsys.readouterr().err
    assert latest_sweep(store, "selftest")["keys"] == [_victim(i) for i in range(RUNS)]  # rewritten


def test_stray_temp_files_are_ignored_then_cleaned(tmp_path):
    store = ResultStore(tmp_path)
    _sweep(store)
    runs = store.run_path("selftest", _victim()).parent
    old = runs / f".{_victim()}.json.abc123.tmp"
    old.write_text('{"sha256": "trunc')
    stamp = time.time() - 3600
    os.utime(old, (stamp, stamp))
    fresh = runs / f".{_victim(0)}.json.def456.tmp"  # could belong to a live writer: left alone
    fresh.write_text("{")
    assert store.run_keys("selftest") == sorted(_victim(i) for i in range(RUNS))
    assert store.stray_temp_files("selftest") == [old]
    report = _sweep(store)
    assert report.cached == RUNS
    assert not old.exists() and fresh.exists()


@pytest.mark.parametrize("bad", ["../../x", "..", "a/b", "/abs", "", ".hidden", "a\\b", "-rf", "x\x00y"])
def test_names_that_leave_the_store_are_refused(tmp_path, bad):
    store = ResultStore(tmp_path / "s")
    with pytest.raises(ValueError, match="cannot name a file in the store"):
        store.save_run("e", bad, {}, {}, {})
    with pytest.raises(ValueError, match="cannot name a file in the store"):
        store.save_run(bad, "k", {}, {}, {})
    with pytest.raises(ValueError, match="cannot name a file in the store"):
        store.load_run("e", bad)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))  # nothing written anywhere


def test_store_names_type_error():
    with pytest.raises(TypeError, match="run key must be a string"):
        check_store_name(3, "run key")
    assert check_store_name("ntp_gd-v1.2", "experiment") == "ntp_gd-v1.2"


def test_directory_in_place_is_moved_aside_when_saving(tmp_path):
    store = ResultStore(tmp_path)
    path = store.run_path("e", "k")
    (path / "sub").mkdir(parents=True)
    store.save_run("e", "k", {}, {"x": 1}, {})
    assert store.load_run("e", "k").result == {"x": 1}
    assert [p.name.split(".damaged-")[0] for p in path.parent.iterdir() if ".damaged-" in p.name] == ["k.json"]
