"""Code digests: each run records the code it depends on; edits to that code flag the run as stale."""

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sims.experiment import get_experiment
from sims.store import ResultStore
from sims.sweep import code_dependencies, experiment_code, load_sweep_runs, run_experiment, source_code_hash

ROOT = Path(__file__).resolve().parents[2]


def _runtime_modules(module):
    """Package modules actually imported (in a fresh interpreter) by importing ``module``."""
    code = (
        "import sys, json, importlib; importlib.import_module(%r); "
        "print(json.dumps(sorted(getattr(m, '__file__', None) or '' for n, m in sys.modules.items() "
        "if n.split('.')[0] in ('theory', 'sims'))))" % module
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return {Path(f).resolve().relative_to(ROOT).as_posix() for f in json.loads(out) if f}


@pytest.mark.parametrize("name", ["selftest", "transfer_fig2"])
def test_static_graph_covers_what_python_imports(name):
    exp = get_experiment(name)
    deps = set(code_dependencies(exp.run.__module__))
    # independent check: every module the interpreter loads for the experiment is in the
    # static graph (the graph may hold more: imports inside functions count too)
    assert _runtime_modules(exp.run.__module__) <= deps
    assert f"sims/experiments/{exp.run.__module__.rsplit('.', 1)[1]}.py" in deps


def test_dependencies_of_the_transfer_experiment():
    deps = set(experiment_code(get_experiment("transfer_fig2"))["files"])
    assert {"theory/transfer/__init__.py", "theory/transfer/_exact.py", "sims/transfer.py",
            "sims/experiments/transfer.py", "theory/__init__.py"} <= deps
    assert not any(f.startswith(("theory/ntp/", "sims/gd")) for f in deps)
    # selftest imports no model: only the shared input checks (through the typed settings)
    selftest = {f for f in experiment_code(get_experiment("selftest"))["files"] if f.startswith("theory/")}
    assert selftest == {"theory/__init__.py", "theory/_validation.py"}


def test_each_run_records_its_code_and_the_digest_is_not_in_the_key(tmp_path):
    store = ResultStore(tmp_path)
    rep = run_experiment("selftest", overrides={"runs": 2}, store=store, progress=False)
    _, runs = load_sweep_runs(store, "selftest")
    current = experiment_code(get_experiment("selftest"))
    for r in runs:
        assert r.meta["code"]["digest"] == current["digest"] and len(current["digest"]) == 64
        assert sorted(r.meta["code"]["files"]) == sorted(current["files"])
    # keys are the same as before digests existed: the version, not the code, marks meaning
    from sims.experiment import make_config, run_specs

    exp = get_experiment("selftest")
    assert list(rep.computed_keys) == [s.key for s in run_specs(exp, make_config(exp, overrides={"runs": 2}))]


TRANSFER_SETS = ["--set", "repeats=20", "--set", "n_points=5", "--set", "panels=(('a','instance2',10,11),)"]


def _ibl(cwd, *args):
    return subprocess.run([sys.executable, "-m", "sims.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _attention(status_out):
    return [line.strip() for line in status_out.split("needs attention:")[-1].splitlines()[1:]] \
        if "needs attention:" in status_out else []


def _copy_package(tmp_path):
    """A private copy of the package, so that editing it does not touch the checkout."""
    pkg = tmp_path / "pkg"
    ignore = shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc")
    for name in ("theory", "sims", "figures"):
        shutil.copytree(ROOT / name, pkg / name, ignore=ignore)
    return pkg


def _append_comment(path):
    # a statement (not a comment: comments and docstrings do not enter the digest)
    with open(path, "a") as fh:
        fh.write("\n_IBL_DIGEST_EDIT = 1  # an edit that changes no number, only the code's digest\n")


def test_comments_docstrings_and_layout_do_not_change_the_code_hash():
    src = b'"""Module doc."""\nimport math\n\n\ndef f(x):\n    """Doc."""\n    return math.sqrt(x)  # root\n'
    edited = (b'"""Another module doc."""\n# a comment\nimport math\n\ndef f(x):\n    """Other doc,\n    two lines."""\n'
              b'    return math.sqrt(x)\n')
    assert source_code_hash(src) == source_code_hash(edited)
    # any change of code does change it: a constant, an operator, a name, a new statement
    for changed in (src.replace(b"sqrt(x)", b"sqrt(2 * x)"), src.replace(b"sqrt", b"exp"),
                    src + b"y = 1\n", src.replace(b'"""Doc."""\n    ', b'"""Doc."""\n    x = -x\n    ')):
        assert source_code_hash(changed) != source_code_hash(src), changed
    # a function whose body is only a docstring still hashes (and differs from one with code)
    assert source_code_hash(b'def g():\n    """Doc."""\n') != source_code_hash(b'def g():\n    return 1\n')
    # a file that does not parse is hashed byte for byte
    assert source_code_hash(b"def (") != source_code_hash(b"def  (")


def test_editing_a_dependency_flags_the_runs_and_nothing_else(tmp_path):
    # fast tier: selftest depends on sims/experiments/selftest.py (and the experiment layer)
    pkg = _copy_package(tmp_path)
    store = str(tmp_path / "store")
    r = _ibl(pkg, "--store", store, "run", "selftest", "--set", "runs=2", "--jobs", "1", "--no-progress")
    assert r.returncode == 0, r.stderr
    r = _ibl(pkg, "--store", store, "status")
    assert r.returncode == 0 and _attention(r.stdout) == [], r.stdout

    _append_comment(pkg / "theory" / "ntp" / "_losses.py")  # not imported by selftest
    r = _ibl(pkg, "--store", store, "status")
    assert _attention(r.stdout) == [], r.stdout

    _append_comment(pkg / "sims" / "experiments" / "selftest.py")
    r = _ibl(pkg, "--store", store, "status")
    lines = _attention(r.stdout)
    assert len(lines) == 1, r.stdout
    assert lines[0].startswith("selftest sweep ")
    assert "2 of 2 runs computed by code that has changed since (sims/experiments/selftest.py)" in lines[0]
    assert lines[0].endswith(f"refresh: ibl run selftest --set runs=2 --store {store} --force")

    r = _ibl(pkg, "--store", store, "run", "selftest", "--set", "runs=2", "--force", "--jobs", "1", "--no-progress")
    # recomputed here (not "collected": --force must not take the stored runs as done elsewhere)
    assert r.returncode == 0 and "2 computed" in r.stdout and "another process" not in r.stdout, r.stdout
    r = _ibl(pkg, "--store", store, "status")
    assert _attention(r.stdout) == [], r.stdout


@pytest.mark.slow
def test_editing_a_theory_module_flags_its_experiment_only(tmp_path):
    pkg = _copy_package(tmp_path)
    store = str(tmp_path / "store")
    for args in (["selftest", "--set", "runs=2"], ["transfer_fig2", *TRANSFER_SETS]):
        r = _ibl(pkg, "--store", store, "run", *args, "--jobs", "1", "--no-progress")
        assert r.returncode == 0, r.stderr
    r = _ibl(pkg, "--store", store, "status")
    assert r.returncode == 0 and _attention(r.stdout) == [], r.stdout

    _append_comment(pkg / "theory" / "ntp" / "_losses.py")  # a theory module neither experiment imports
    r = _ibl(pkg, "--store", store, "status")
    assert _attention(r.stdout) == [], r.stdout

    _append_comment(pkg / "theory" / "transfer" / "_instances.py")  # the transfer experiment's data constructors
    r = _ibl(pkg, "--store", store, "status")
    lines = _attention(r.stdout)
    assert len(lines) == 1, r.stdout  # selftest is not flagged
    assert lines[0].startswith("transfer_fig2 sweep ")
    assert "5 of 5 runs computed by code that has changed since (theory/transfer/_instances.py)" in lines[0]
    assert "refresh: ibl run transfer_fig2" in lines[0] and lines[0].endswith("--force")

    # figures warn (one line naming the refresh command) and still draw
    r = _ibl(pkg, "--store", store, "figures", "transfer_fig2", "--outdir", str(tmp_path / "out" / "figures"))
    assert r.returncode == 0, r.stderr
    warn = [line for line in r.stderr.splitlines() if line.startswith("warning: transfer_fig2")]
    assert len(warn) == 1 and "theory/transfer/_instances.py" in warn[0] and "ibl run transfer_fig2" in warn[0]
    assert (tmp_path / "out" / "figures" / "transfer_fig2.png").is_file()

    # the printed command, run as printed, refreshes the runs
    argv = shlex.split(lines[0].split("refresh: ", 1)[1])
    assert argv[:2] == ["ibl", "run"]
    r = _ibl(pkg, *argv[1:], "--jobs", "1", "--no-progress")
    assert r.returncode == 0 and "5 computed" in r.stdout, r.stdout + r.stderr
    r = _ibl(pkg, "--store", store, "status")
    assert _attention(r.stdout) == [], r.stdout
