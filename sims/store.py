"""On-disk result store: one JSON file per completed run, written atomically.

Layout (default root ``results/``, or ``$IBL_STORE``, or ``--store DIR``)::

    results/
      <experiment>/
        runs/<key>.json          one completed run (config, result, metadata, checksum)
        sweeps/<sweep-key>.json  the manifest of one sweep: its config and its run keys

Every file is written to a temporary file in the same directory, flushed,
``fsync``-ed and renamed over its final name (``os.replace`` is atomic on POSIX),
so a crash (even ``SIGKILL``) leaves either the old file, the new file or a
stray ``*.tmp`` that is never read. Each run file carries a SHA-256 of its
canonical payload; a truncated or edited file fails the check, is reported as
corrupt and is recomputed by the next sweep instead of being used.

NumPy arrays are stored exactly: their raw little-endian bytes in base64 with
dtype and shape, so a float64 result reads back bit-identical.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

__all__ = [
    "CorruptResult",
    "ResultStore",
    "StoredRun",
    "canonical_json",
    "default_store_path",
    "stable_hash",
]

STORE_ENV = "IBL_STORE"
FORMAT_VERSION = 1


class CorruptResult(Exception):
    """A stored run file exists but cannot be trusted (truncated, edited, unparsable)."""


def default_store_path() -> Path:
    """The store root: ``$IBL_STORE`` if set, else ``./results``."""
    return Path(os.environ.get(STORE_ENV, "results"))


# ----------------------------------------------------------------------------
# Encoding


def _encode(obj: Any) -> Any:
    """Turn results into JSON-able data; arrays keep their exact bytes."""
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj)
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


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            raw = base64.b64decode(obj["__ndarray__"])
            return np.frombuffer(raw, dtype=np.dtype(obj["dtype"])).reshape(obj["shape"]).copy()
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace, exact float repr)."""
    return json.dumps(_encode(obj), sort_keys=True, separators=(",", ":"), allow_nan=True)


def stable_hash(obj: Any, length: int = 20) -> str:
    """Hex SHA-256 prefix of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old or the new file, never a mix."""
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
        Seed, run index, package versions, solver names, thread counts, wall time, ...
    """

    key: str
    experiment: str
    params: dict
    result: dict
    meta: dict


class ResultStore:
    """A directory of run results keyed by content hash.

    Parameters
    ----------
    root : str or Path, optional
        Store directory; default :func:`default_store_path`.
    """

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_store_path()

    def __repr__(self) -> str:
        return f"ResultStore({str(self.root)!r})"

    # paths -------------------------------------------------------------------
    def run_path(self, experiment: str, key: str) -> Path:
        return self.root / experiment / "runs" / f"{key}.json"

    def sweep_path(self, experiment: str, sweep_key: str) -> Path:
        return self.root / experiment / "sweeps" / f"{sweep_key}.json"

    # runs ----------------------------------------------------------------------
    def save_run(self, experiment: str, key: str, params: dict, result: dict, meta: dict) -> Path:
        """Atomically write one completed run; returns its path."""
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
        path = self.run_path(experiment, key)
        atomic_write_text(path, text)
        return path

    def load_run(self, experiment: str, key: str) -> StoredRun:
        """Read one run; raises ``FileNotFoundError`` or :class:`CorruptResult`."""
        path = self.run_path(experiment, key)
        text = path.read_text(encoding="utf-8")
        try:
            doc = json.loads(text)
            checksum, body = doc["sha256"], doc["body"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CorruptResult(f"{path}: not a complete result file ({exc})") from exc
        payload = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
        if hashlib.sha256(payload.encode()).hexdigest() != checksum:
            raise CorruptResult(f"{path}: checksum mismatch (file edited or damaged)")
        if body.get("key") != key or body.get("experiment") != experiment:
            raise CorruptResult(f"{path}: file holds key {body.get('key')!r}, expected {key!r}")
        return StoredRun(
            key=key,
            experiment=experiment,
            params=_decode(body["params"]),
            result=_decode(body["result"]),
            meta=_decode(body["meta"]),
        )

    def status(self, experiment: str, key: str) -> str:
        """``"ok"``, ``"missing"`` or ``"corrupt"`` for one run."""
        try:
            self.load_run(experiment, key)
        except FileNotFoundError:
            return "missing"
        except CorruptResult:
            return "corrupt"
        return "ok"

    def save_sweep(self, experiment: str, sweep_key: str, manifest: dict) -> None:
        atomic_write_text(self.sweep_path(experiment, sweep_key), canonical_json(manifest) + "\n")

    def load_sweep(self, experiment: str, sweep_key: str) -> dict | None:
        path = self.sweep_path(experiment, sweep_key)
        try:
            return _decode(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError as exc:
            raise CorruptResult(f"{path}: unreadable sweep manifest ({exc})") from exc

    def iter_sweeps(self, experiment: str) -> Iterator[dict]:
        d = self.root / experiment / "sweeps"
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                try:
                    yield _decode(json.loads(p.read_text(encoding="utf-8")))
                except json.JSONDecodeError:
                    continue
