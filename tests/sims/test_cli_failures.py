"""Every failure of ``ibl`` is one line on stderr naming the cause, with a non-zero exit."""

import errno
import json
import os
import socket

import pytest

import sims.store
import sims.sweep
from sims.cli import main
from sims.store import ResultStore
from sims.sweep import load_sweep_runs

RUN = ["run", "selftest", "--set", "runs=5", "--jobs", "1", "--no-progress"]


def _one_line(capsys):
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_unreachable_dask_scheduler(tmp_path, capsys):
    pytest.importorskip("dask.distributed")
    address = f"tcp://127.0.0.1:{_free_port()}"
    rc = main(["--store", str(tmp_path), *RUN, "--scheduler", address])
    line = _one_line(capsys)
    assert rc == 1
    assert line.startswith("ibl: error: cannot reach the dask scheduler at " + address) and "within 5 s" in line


@pytest.mark.parametrize("under", [False, True])
def test_store_path_that_is_a_file(tmp_path, capsys, under):
    f = tmp_path / "afile"
    f.write_text("x")
    store = f / "store" if under else f
    for cmd in (RUN, ["status"], ["figures", "transfer_fig2", "--outdir", str(tmp_path / "out")]):
        rc = main(["--store", str(store), *cmd])
        line = _one_line(capsys)
        assert rc == 1 and str(store) in line and "regular file" in line


@pytest.fixture
def read_only(monkeypatch):
    """Make every write to the file system fail as on a read-only mount (root ignores chmod)."""

    def refuse(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(args[0]) if args else None)

    real_open = os.open

    def guarded_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return real_open(path, flags, *args, **kwargs)

    def on():
        for name in ("mkdir", "unlink", "rename", "replace", "rmdir"):
            monkeypatch.setattr(os, name, refuse)
        monkeypatch.setattr(os, "open", guarded_open)

    return on


def test_fully_cached_sweep_succeeds_on_a_read_only_store(tmp_path, capsys, read_only):
    store = str(tmp_path / "s")
    assert main(["--store", store, *RUN]) == 0
    capsys.readouterr()
    read_only()
    assert main(["--store", store, *RUN]) == 0
    out, err = capsys.readouterr()
    assert "5 already stored, 0 computed" in out and err == ""
    assert main(["--store", store, "status"]) == 0
    # a sweep that needs a run fails in one line that says why
    capsys.readouterr()
    rc = main(["--store", store, "run", "selftest", "--set", "runs=6", "--jobs", "1", "--no-progress"])
    line = _one_line(capsys)
    assert rc == 1 and "Read-only file system" in line and store in line


def test_full_disk_says_which_runs_are_saved(tmp_path, capsys, monkeypatch):
    store = str(tmp_path / "s")
    real = sims.store.atomic_write_text
    calls = {"runs": 0}

    def write(path, text):
        if path.parent.name == "runs":
            calls["runs"] += 1
            if calls["runs"] == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, text)

    monkeypatch.setattr(sims.store, "atomic_write_text", write)
    rc = main(["--store", store, *RUN])
    line = _one_line(capsys)
    assert rc == 1
    assert "No space left on device" in line and "2 of 5 runs of selftest are saved" in line
    assert "resume with: ibl run selftest --set runs=5" in line
    monkeypatch.setattr(sims.store, "atomic_write_text", real)
    assert main(["--store", store, *RUN]) == 0
    assert "2 already stored, 3 computed" in capsys.readouterr().out
    _, runs = load_sweep_runs(ResultStore(store), "selftest")
    assert len(runs) == 5


def test_keyboard_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    store = str(tmp_path / "s")
    real = sims.sweep.execute_run
    calls = {"n": 0}

    def run(spec):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real(spec)

    monkeypatch.setattr(sims.sweep, "execute_run", run)
    rc = main(["--store", store, *RUN])
    line = _one_line(capsys)
    assert rc == 130
    assert line.startswith("ibl: interrupted") and "3 of 5 runs of selftest are saved" in line
    assert f"resume with: ibl run selftest --set runs=5 --store {store}" in line
    assert not list((tmp_path / "s" / "selftest" / "runs").glob("*.claim"))


def test_internal_error_is_one_line_unless_debug(tmp_path, capsys, monkeypatch):
    def broken(spec):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(sims.sweep, "execute_run", broken)
    rc = main(["--store", str(tmp_path), *RUN])
    line = _one_line(capsys)
    assert rc == 1 and "internal error: RuntimeError: a bug over two lines" in line and "--debug" in line
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--debug", "--store", str(tmp_path), *RUN])
    monkeypatch.setenv("IBL_DEBUG", "1")
    with pytest.raises(RuntimeError, match="a bug"):
        main(["--store", str(tmp_path), *RUN])


def test_bad_arguments_are_one_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run"])
    assert exc.value.code == 2
    line = _one_line(capsys)
    assert line.startswith("ibl run: error:") and "required: name" in line and "ibl run --help" in line


def test_figures_skip_a_damaged_run_and_name_it(tmp_path, capsys):
    store = str(tmp_path / "s")
    sets = ["--set", "repeats=20", "--set", "n_points=5", "--set", "panels=(('a','instance2',10,11),)"]
    assert main(["--store", store, "run", "transfer_fig2", *sets, "--jobs", "1", "--no-progress"]) == 0
    manifest, runs = load_sweep_runs(ResultStore(store), "transfer_fig2")
    path = ResultStore(store).run_path("transfer_fig2", runs[2].key)
    data = bytearray(path.read_bytes())
    data[200] |= 0x80
    path.write_bytes(bytes(data))
    capsys.readouterr()
    outdir = tmp_path / "paper" / "figures"
    assert main(["--store", store, "figures", "transfer_fig2", "--outdir", str(outdir)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    damaged = [line for line in err.splitlines() if str(path) in line]
    assert len(damaged) == 1 and "recompute: ibl run transfer_fig2" in damaged[0] and "--force" not in damaged[0]
    assert not (outdir / "transfer_fig2.png").exists()  # never drawn from damaged data
    # the named command repairs it
    assert main(["--store", store, "run", "transfer_fig2", *sets, "--jobs", "1", "--no-progress"]) == 0
    assert "1 computed (1 corrupt replaced)" in capsys.readouterr().out
    assert main(["--store", store, "figures", "transfer_fig2", "--outdir", str(outdir)]) == 0
    assert (outdir / "transfer_fig2.png").stat().st_size > 0


def test_figures_warn_about_stale_runs_once(tmp_path, capsys, monkeypatch):
    store = str(tmp_path / "s")
    sets = ["--set", "repeats=20", "--set", "n_points=5", "--set", "panels=(('a','instance2',10,11),)"]
    assert main(["--store", store, "run", "transfer_fig2", *sets, "--jobs", "1", "--no-progress"]) == 0
    real = sims.sweep.experiment_code

    def edited(exp):
        code = real(exp)
        files = dict(code["files"], **{"theory/transfer.py": "0" * 64})
        return {"digest": "f" * 64, "files": files}

    monkeypatch.setattr(sims.sweep, "experiment_code", edited)
    capsys.readouterr()
    outdir = tmp_path / "paper" / "figures"
    assert main(["--store", store, "figures", "transfer_fig2", "--outdir", str(outdir)]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: transfer_fig2: 5 of 5 runs")
    assert "(theory/transfer.py)" in err[0] and "refresh: ibl run transfer_fig2" in err[0] and "--force" in err[0]
    assert json.loads((tmp_path / "paper" / "numbers" / "transfer_fig2.json").read_text())
