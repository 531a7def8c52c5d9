"""On-disk result store: one JSON file per completed run, written atomically.

Layout (default root ``results/``, or ``$IBL_STORE``, or ``--store DIR``)::

    results/
      <experiment>/
        runs/<key>.json          one completed run (config, result, metadata, checksum)
        runs/<key>.claim         while a process computes the run: its pid, host, start time
        sweeps/<sweep-key>.json  the manifest of one sweep: its config and its run keys

Every file is written to a temporary file in the same directory, flushed,
``fsync``-ed and renamed over its final name (``os.replace`` is atomic on POSIX),
so a crash (even ``SIGKILL``) leaves either the old file, the new file or a
stray ``*.tmp`` that is never read. Each run file carries a SHA-256 of its
canonical payload; a truncated or edited file fails the check, is reported as
corrupt and is recomputed by the next sweep instead of being used.

Reading trusts nothing: bytes that are not UTF-8, a directory in place of a file,
a body of the wrong structure under a valid checksum, invalid base64 or an array
whose byte count does not match its shape all raise :class:`CorruptResult` naming
the file (and a sweep recomputes the run). Experiment names and keys are checked
(:func:`check_store_name`) before a path is built, so none can leave the store.

NumPy arrays are stored exactly: their raw little-endian bytes in base64 with
dtype and shape, so a float64 result reads back bit-identical.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from theory._validation import as_int, as_text

__all__ = [
    "Claim",
    "CorruptResult",
    "ResultStore",
    "StoredRun",
    "atomic_write_text",
    "canonical_json",
    "check_store_name",
    "default_store_path",
    "stable_hash",
]

STORE_ENV = "IBL_STORE"
FORMAT_VERSION = 1


#: Seconds after which a claim held by a process on *another* host is taken over
#: (its pid cannot be checked from here); ``$IBL_CLAIM_TIMEOUT`` overrides it.
CLAIM_TIMEOUT_S = 6 * 3600.0
#: A ``*.tmp`` file older than this many seconds was left by a killed writer
#: (a live writer renames its temporary file within milliseconds).
STRAY_TMP_AGE_S = 600.0

_NAME_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")


class CorruptResult(Exception):
    """A stored file exists but cannot be trusted (truncated, edited, unparsable, not a file).

    The message starts with the file's path.
    """


def check_store_name(value: Any, name: str) -> str:
    """Refuse experiment names and keys that could leave the store directory.

    Accepted: a non-empty string of letters, digits, ``_``, ``-`` and ``.`` that does
    not start with ``.`` or ``-`` (so no path separators, no ``..``, no absolute path).
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {type(value).__name__} {value!r}")
    if not _NAME_RE.fullmatch(value) or ".." in value:
        raise ValueError(
            f"{name} {value!r} cannot name a file in the store: use letters, digits, '_', '-' and '.' "
            "(no path separators, no '..', not starting with '.' or '-')"
        )
    return value


def default_store_path() -> Path:
    """The store root: ``$IBL_STORE`` if set, else ``./results``."""
    return Path(os.environ.get(STORE_ENV, "results"))


# ----------------------------------------------------------------------------
# Encoding


def _encode(obj: Any) -> Any:
    """Turn results into JSON-able data; arrays keep their exact bytes."""
    if isinstance(obj, np.ndarray):
        # (np.ascontiguousarray would turn a 0-d array into shape (1,))
        arr = obj if obj.flags.c_contiguous else np.ascontiguousarray(obj)
        if arr.dtype == object:
            raise TypeError("result arrays of dtype=object cannot be stored; convert them to lists")
        return {
            "__ndarray__": base64.b64encode(arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()).decode(),
            "dtype": arr.dtype.newbyteorder("<").str,
            "shape": list(arr.shape),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, str):
                raise TypeError(f"result dictionary keys must be strings, got {k!r}")
            out[k] = _encode(v)
        return out
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store a value of type {type(obj).__name__}: {obj!r}")


def _decode_array(obj: dict) -> np.ndarray:
    """An encoded array back; ``ValueError`` says what is wrong with a damaged one."""
    if set(obj) != {"__ndarray__", "dtype", "shape"}:
        raise ValueError(f"array record has fields {sorted(obj)}, expected __ndarray__, dtype, shape")
    data, dtype, shape = obj["__ndarray__"], obj["dtype"], obj["shape"]
    if not isinstance(data, str) or not isinstance(dtype, str) or not isinstance(shape, list):
        raise ValueError("array record fields have the wrong types")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise ValueError(f"array shape {shape!r} is not a list of non-negative integers")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise ValueError(f"array dtype {dtype!r} is not a NumPy dtype") from exc
    if dt.hasobject:
        raise ValueError(f"array dtype {dtype!r} holds Python objects")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"array data is not valid base64 ({exc})") from exc
    count = int(np.prod(shape, dtype=np.int64))
    if len(raw) != count * dt.itemsize:
        raise ValueError(f"array data has {len(raw)} bytes, shape {shape} of {dtype} needs {count * dt.itemsize}")
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return _decode_array(obj)
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def _first_nonfinite(obj: Any, where: str) -> str | None:
    """Path (e.g. ``obj['a'][2]``) of the first NaN or infinite float in encoded data, or None."""
    if isinstance(obj, float):
        return None if np.isfinite(obj) else where
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            return None  # array bytes are exact, NaN included
        for k in sorted(obj):
            found = _first_nonfinite(obj[k], f"{where}[{k!r}]")
            if found:
                return found
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            found = _first_nonfinite(v, f"{where}[{i}]")
            if found:
                return found
    return None


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace, exact float repr).

    Used for content keys and sweep manifests, so it is strict JSON: a NaN or infinite
    float (outside arrays, whose bytes are stored exactly) raises ``ValueError`` naming
    where it is, since a key built on NaN would name a meaningless configuration.
    """
    enc = _encode(obj)
    bad = _first_nonfinite(enc, "obj")
    if bad:
        raise ValueError(f"obj must hold finite numbers only (strict JSON, no NaN or Infinity); {bad} is not finite")
    return json.dumps(enc, sort_keys=True, separators=(",", ":"), allow_nan=False)


def stable_hash(obj: Any, length: int = 20) -> str:
    """Hex SHA-256 prefix (``length`` hex digits, 1 to 64) of the canonical JSON of ``obj``."""
    length = as_int(length, "length", low=1, high=64)
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a mix."""
    text = as_text(text, "text")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


# ----------------------------------------------------------------------------
# Store


@dataclass(frozen=True)
class StoredRun:
    """One completed run as read back from the store.

    Attributes
    ----------
    key : str
        The run's content key (hash of experiment name, parameters, seed and index).
    experiment : str
    params : dict
        The run's parameters (one point of the sweep).
    result : dict
        What the experiment's run function returned (arrays decoded exactly).
    meta : dict
        Seed, run index, package versions, solver names, thread counts, wall time,
        code digest, ...
    """

    key: str
    experiment: str
    params: dict
    result: dict
    meta: dict


@dataclass(frozen=True)
class Claim:
    """Who is computing a run: the content of a ``runs/<key>.claim`` file.

    Attributes
    ----------
    pid : int
    host : str
    time : float
        Seconds since the epoch when the claim was made.
    start : str or None
        The process's start time (``/proc/<pid>/stat`` field 22, Linux), so a pid
        reused by another process does not keep a dead claim alive.
    """

    pid: int
    host: str
    time: float
    start: str | None = None


def _process_start(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _pid_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's live process
    if start is not None:
        now = _process_start(pid)
        if now is not None and now != start:
            return False  # the pid was reused
    return True


def _read_text(path: Path) -> str:
    """A stored file's text; damage that is not a missing file becomes :class:`CorruptResult`."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except IsADirectoryError as exc:
        raise CorruptResult(f"{path}: a directory stands where a result file should be") from exc
    except OSError as exc:
        if path.is_dir():
            raise CorruptResult(f"{path}: a directory stands where a result file should be") from exc
        raise
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptResult(f"{path}: not UTF-8 text (byte {exc.start} is {data[exc.start]:#04x}): damaged file") from exc


class ResultStore:
    """A directory of run results keyed by content hash.

    Parameters
    ----------
    root : str or Path, optional
        Store directory; default :func:`default_store_path`.

    Notes
    -----
    Experiment names and keys are checked by :func:`check_store_name` before any
    path is built, so no name can reach outside ``root``. Reading never trusts a
    file: anything that is not a complete, checksummed run of the expected key and
    structure raises :class:`CorruptResult` naming the file.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        if root is not None and not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a str or os.PathLike (a directory), got {root!r} of type {type(root).__name__}")
        self.root = Path(root) if root is not None else default_store_path()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # paths -------------------------------------------------------------------
    def run_path(self, experiment: str, key: str) -> Path:
        check_store_name(experiment, "experiment")
        check_store_name(key, "run key")
        return self.root / experiment / "runs" / f"{key}.json"

    def sweep_path(self, experiment: str, sweep_key: str) -> Path:
        check_store_name(experiment, "experiment")
        check_store_name(sweep_key, "sweep key")
        return self.root / experiment / "sweeps" / f"{sweep_key}.json"

    def claim_path(self, experiment: str, key: str) -> Path:
        return self.run_path(experiment, key).with_suffix(".claim")

    # runs ----------------------------------------------------------------------
    def save_run(self, experiment: str, key: str, params: dict, result: dict, meta: dict) -> Path:
        """Atomically write one completed run; returns its path."""
        path = self.run_path(experiment, key)
        body = {
            "format": FORMAT_VERSION,
            "key": key,
            "experiment": experiment,
            "params": _encode(params),
            "result": _encode(result),
            "meta": _encode(meta),
        }
        payload = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
        checksum = hashlib.sha256(payload.encode()).hexdigest()
        text = '{"sha256":"%s","body":%s}\n' % (checksum, payload)
        if path.is_dir() and not path.is_symlink():
            # a directory in place of the run file: move it aside so the run can be stored
            path.rename(path.with_name(f"{path.name}.damaged-{os.getpid()}-{time.time_ns()}"))
        atomic_write_text(path, text)
        return path

    def load_run(self, experiment: str, key: str) -> StoredRun:
        """Read one run; raises ``FileNotFoundError`` or :class:`CorruptResult`."""
        path = self.run_path(experiment, key)
        text = _read_text(path)
        try:
            doc = json.loads(text)
            checksum, body = doc["sha256"], doc["body"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CorruptResult(f"{path}: not a complete result file ({exc})") from exc
        if not isinstance(checksum, str):
            raise CorruptResult(f"{path}: not a complete result file (checksum is not a string)")
        payload = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
        if hashlib.sha256(payload.encode()).hexdigest() != checksum:
            raise CorruptResult(f"{path}: checksum mismatch (file edited or damaged)")
        # a valid checksum proves only that the body was not changed after writing:
        # check its structure too (a file written by a bug or by hand)
        if not isinstance(body, dict):
            raise CorruptResult(f"{path}: body is a {type(body).__name__}, expected an object")
        if body.get("key") != key or body.get("experiment") != experiment:
            raise CorruptResult(f"{path}: file holds key {body.get('key')!r}, expected {key!r}")
        if body.get("format") != FORMAT_VERSION:
            raise CorruptResult(f"{path}: format {body.get('format')!r}, this version reads {FORMAT_VERSION}")
        for part in ("params", "result", "meta"):
            if not isinstance(body.get(part), dict):
                raise CorruptResult(f"{path}: body field {part!r} is {type(body.get(part)).__name__}, expected an object")
        try:
            decoded = {part: _decode(body[part]) for part in ("params", "result", "meta")}
        except (ValueError, TypeError) as exc:
            raise CorruptResult(f"{path}: damaged content ({exc})") from exc
        return StoredRun(key=key, experiment=experiment, **decoded)

    def status(self, experiment: str, key: str) -> str:
        """``"ok"``, ``"missing"`` or ``"corrupt"`` for one run."""
        return self.inspect(experiment, key)[0]

    def inspect(self, experiment: str, key: str) -> tuple[str, StoredRun | None, str | None]:
        """``(state, run, problem)``: ``("ok", run, None)``, ``("missing", None, None)``
        or ``("corrupt", None, message naming the file)``."""
        try:
            return "ok", self.load_run(experiment, key), None
        except FileNotFoundError:
            return "missing", None, None
        except CorruptResult as exc:
            return "corrupt", None, str(exc)

    def run_keys(self, experiment: str) -> list[str]:
        """Keys of every run file of ``experiment`` (sorted; temporary files ignored)."""
        d = self.root / check_store_name(experiment, "experiment") / "runs"
        return sorted(p.stem for p in d.glob("*.json")) if d.is_dir() else []

    def experiments(self) -> list[str]:
        """Names of the experiments with a folder in the store."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME_RE.fullmatch(p.name))

    # sweeps --------------------------------------------------------------------
    def save_sweep(self, experiment: str, sweep_key: str, manifest: dict) -> None:
        path = self.sweep_path(experiment, sweep_key)
        if path.is_dir() and not path.is_symlink():
            path.rename(path.with_name(f"{path.name}.damaged-{os.getpid()}-{time.time_ns()}"))
        atomic_write_text(path, canonical_json(manifest) + "\n")

    def load_sweep(self, experiment: str, sweep_key: str) -> dict | None:
        """One sweep manifest, ``None`` if absent; :class:`CorruptResult` if damaged."""
        return self._read_manifest(self.sweep_path(experiment, sweep_key))

    @staticmethod
    def _read_manifest(path: Path) -> dict | None:
        try:
            text = _read_text(path)
        except FileNotFoundError:
            return None
        try:
            doc = _decode(json.loads(text))
        except (json.JSONDecodeError, ValueError, TypeError) as exc:
            raise CorruptResult(f"{path}: unreadable sweep manifest ({exc})") from exc
        if not isinstance(doc, dict):
            raise CorruptResult(f"{path}: sweep manifest is a {type(doc).__name__}, expected an object")
        keys = doc.get("keys")
        if not (isinstance(keys, list) and all(isinstance(k, str) and _NAME_RE.fullmatch(k) for k in keys)):
            raise CorruptResult(f"{path}: sweep manifest has no valid list of run keys")
        for field, kind in (("experiment", str), ("sweep_key", str), ("config", dict)):
            if not isinstance(doc.get(field), kind):
                raise CorruptResult(f"{path}: sweep manifest field {field!r} is missing or of the wrong type")
        return doc

    def iter_sweeps(self, experiment: str, problems: list | None = None) -> Iterator[dict]:
        """Every readable sweep manifest of ``experiment``; damaged ones are skipped
        (and their messages appended to ``problems`` if given)."""
        d = self.root / check_store_name(experiment, "experiment") / "sweeps"
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                try:
                    doc = self._read_manifest(p)
                except (CorruptResult, OSError) as exc:
                    if problems is not None:
                        problems.append(str(exc))
                    continue
                if doc is not None:
                    yield doc

    # stray temporary files ---------------------------------------------------
    def stray_temp_files(self, experiment: str, min_age_s: float = STRAY_TMP_AGE_S) -> list[Path]:
        """``*.tmp`` files older than ``min_age_s`` left by killed writers (never read)."""
        base = self.root / check_store_name(experiment, "experiment")
        now = time.time()
        out = []
        for sub in ("runs", "sweeps"):
            d = base / sub
            if not d.is_dir():
                continue
            for p in d.glob(".*.tmp"):
                try:
                    if now - p.stat().st_mtime >= min_age_s:
                        out.append(p)
                except OSError:
                    continue
        return sorted(out)

    def clean_temp_files(self, experiment: str, min_age_s: float = STRAY_TMP_AGE_S) -> int:
        """Remove stray temporary files (best effort: a read-only store keeps them); returns the count."""
        removed = 0
        for p in self.stray_temp_files(experiment, min_age_s):
            try:
                p.unlink()
                removed += 1
            except OSError:
                pass
        return removed

    # claims --------------------------------------------------------------------
    def claim(self, experiment: str, key: str, timeout_s: float | None = None) -> bool:
        """Claim a run for this process; ``False`` if a live process holds it.

        The claim file is created with ``O_CREAT | O_EXCL`` (atomic on POSIX, also
        on NFSv3+), holding this process's pid, host, start time and the time. A
        claim whose holder is dead (pid gone on this host, or older than
        ``timeout_s``, default ``$IBL_CLAIM_TIMEOUT`` or :data:`CLAIM_TIMEOUT_S`, on
        another host) is taken over.
        """
        path = self.claim_path(experiment, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time(), "start": _process_start(os.getpid())}
        text = json.dumps(me, sort_keys=True)
        for _ in range(3):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder_text = self._claim_text(path)
                if holder_text is None:
                    continue  # released meanwhile: try again
                if not self._claim_is_dead(path, holder_text, timeout_s):
                    return False
                # take the dead claim over: move it aside atomically (only one process
                # can move a given file), then check that what we moved is what we judged
                aside = path.with_name(f"{path.name}.stale-{os.getpid()}-{time.time_ns()}")
                try:
                    os.rename(path, aside)
                except FileNotFoundError:
                    continue
                moved = self._claim_text(aside)
                if moved != holder_text:
                    try:  # we moved someone's fresh claim: put it back
                        os.link(aside, path)
                    except OSError:
                        pass
                    aside.unlink(missing_ok=True)
                    return False
                aside.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return True
        return False

    @staticmethod
    def _claim_text(path: Path) -> str | None:
        try:
            return path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return None
        except OSError:
            return ""

    @staticmethod
    def _claim_is_dead(path: Path, text: str, timeout_s: float | None) -> bool:
        if timeout_s is None:
            timeout_s = float(os.environ.get("IBL_CLAIM_TIMEOUT", CLAIM_TIMEOUT_S))
        try:
            doc = json.loads(text)
            holder = Claim(int(doc["pid"]), str(doc["host"]), float(doc["time"]), doc.get("start"))
        except (ValueError, KeyError, TypeError):
            # unreadable: a claim is written in one small write right after creation,
            # so an empty or garbled one that is a few seconds old was left by a crash
            try:
                return time.time() - path.stat().st_mtime > 5.0
            except OSError:
                return True
        if holder.host == socket.gethostname():
            return not _pid_alive(holder.pid, holder.start)
        return time.time() - holder.time > timeout_s

    def claim_holder(self, experiment: str, key: str) -> Claim | None:
        """Who holds the claim of a run (``None`` if nobody or unreadable)."""
        text = self._claim_text(self.claim_path(experiment, key))
        try:
            doc = json.loads(text) if text else None
            return None if doc is None else Claim(int(doc["pid"]), str(doc["host"]), float(doc["time"]), doc.get("start"))
        except (ValueError, KeyError, TypeError):
            return None

    def claim_is_live(self, experiment: str, key: str, timeout_s: float | None = None) -> bool:
        """``True`` while a live process holds the run's claim."""
        path = self.claim_path(experiment, key)
        text = self._claim_text(path)
        return text is not None and not self._claim_is_dead(path, text, timeout_s)

    def release(self, experiment: str, key: str) -> None:
        """Remove this process's claim of a run (no error if it is gone)."""
        path = self.claim_path(experiment, key)
        holder = self.claim_holder(experiment, key)
        if holder is not None and (holder.pid != os.getpid() or holder.host != socket.gethostname()):
            return  # someone took it over: not ours to remove
        try:
            path.unlink()
        except OSError:
            pass
