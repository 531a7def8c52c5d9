"""The trajectory container shared by the engines."""

from __future__ import annotations

import json

import numpy as np


class Trajectory:
    """Checkpoints, metrics, recorded iterates and the resumable state of a run.

    A model engine subclasses it and declares its own fields; this base class
    keeps the bookkeeping that does not depend on the model: metric access,
    :meth:`at`, storage as a plain dict (:meth:`to_dict` / :meth:`from_dict`)
    and the concatenation of a resumed run (:meth:`resumed_by`).

    Class attributes a subclass sets
    --------------------------------
    FORMAT : str
        Tag written to ``to_dict()["format"]`` and checked by :meth:`from_dict`.
    FIELDS : tuple of (name, kind)
        The stored fields in storage order; kind is one of ``"steps"`` (int64
        array), ``"metrics"`` (dict of float arrays), ``"state"`` (dict of arrays
        and scalars), ``"json"`` (JSON-able dict), ``"array"`` (ndarray or None),
        ``"float"``. ``steps``, ``metrics``, ``state``, ``config`` and ``info``
        are required.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
        Recorded steps k (0 = the initial point).
    metrics : dict of str -> ndarray of float64, shape (n_rec,)
        One array per metric name (also readable as attributes, ``traj.loss``).
    state : dict
        What a resumed run needs; ``state["step"]`` is the number of steps taken.
    config : dict
        JSON-able run settings.
    info : dict
        JSON-able metadata (threads, timings per segment, versions).
    """

    FORMAT = "sims.engine.Trajectory/1"
    FIELDS = (("steps", "steps"), ("metrics", "metrics"), ("state", "state"), ("config", "json"),
              ("info", "json"))

    def __init__(self, **fields):
        kinds = dict(self.FIELDS)
        unknown = set(fields) - set(kinds)
        if unknown:
            raise TypeError(f"unknown Trajectory fields {sorted(unknown)}; accepted: {list(kinds)}")
        for name, kind in self.FIELDS:
            value = fields.get(name)
            if kind == "steps":
                value = np.asarray(value, dtype=np.int64)
            elif kind == "metrics":
                value = {k: np.asarray(v, dtype=np.float64) for k, v in (value or {}).items()}
            elif kind == "float":
                value = float("nan") if value is None else float(value)
            elif kind in ("json", "state") and value is None:
                value = {}
            object.__setattr__(self, name, value)
        self._problem = None  # the engine's prepared problem (for fast extension)
        self._data = None  # the data of a run made in this process

    @property
    def step(self) -> int:
        """Number of steps taken so far."""
        return int(self.state["step"])

    @property
    def interrupted(self) -> bool:
        """True if this run was stopped by Ctrl-C before its last step (see RunInterrupted)."""
        return bool(self.info.get("interrupted", False))

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(name)

    def __len__(self):
        return int(self.steps.size)

    def at(self, step):
        """Metrics at a recorded step, as a dict of floats.

        Raises
        ------
        ValueError
            If ``step`` was not recorded.
        """
        idx = np.flatnonzero(self.steps == step)
        if idx.size == 0:
            raise ValueError(f"step {step!r} was not recorded; recorded steps are {self.steps.tolist()[:10]}...")
        return {k: float(v[idx[0]]) for k, v in self.metrics.items()}

    def to_dict(self) -> dict:
        """Plain dict of numpy arrays and JSON-able scalars (None for absent arrays).

        Keys: ``format`` then the names of :attr:`FIELDS` in order;
        :meth:`from_dict` inverts it exactly.
        """
        out = {"format": self.FORMAT}
        for name, kind in self.FIELDS:
            v = getattr(self, name)
            if kind == "steps":
                out[name] = v.copy()
            elif kind == "metrics":
                out[name] = {k: a.copy() for k, a in v.items()}
            elif kind == "array":
                out[name] = None if v is None else np.array(v)
            elif kind == "state":
                out[name] = {k: (np.array(a) if isinstance(a, np.ndarray) else a) for k, a in v.items()}
            elif kind == "json":
                out[name] = json.loads(json.dumps(v))
            else:
                out[name] = v
        return out

    @classmethod
    def from_dict(cls, d):
        """Rebuild a trajectory from :meth:`to_dict` output (e.g. read from the store).

        Raises
        ------
        ValueError
            If ``d`` is not a dict with this class's ``format`` tag.
        """
        if not isinstance(d, dict) or d.get("format") != cls.FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise ValueError(f"d must be a dict produced by {cls.__name__}.to_dict (format {cls.FORMAT!r}), "
                             f"got {got!r}")
        fields = {}
        for name, kind in cls.FIELDS:
            v = d.get(name)
            if kind in ("steps", "array"):
                v = None if v is None else np.array(v)
            elif kind == "metrics":
                v = {k: np.array(a) for k, a in v.items()}
            elif kind == "state":
                v = {k: (np.array(a) if isinstance(a, np.ndarray) else a) for k, a in v.items()}
            elif kind == "json":
                v = dict(v)
            fields[name] = v
        return cls(**fields)

    def resumed_by(self, steps, metrics, records=None, record_name=None):
        """Steps, metrics (and recorded iterates) of this run followed by a new segment's.

        Parameters
        ----------
        steps : ndarray (n_new,)
        metrics : dict of ndarray (n_new,)
        records : ndarray (n_new, ...) or None
            The new segment's recorded iterates, if it recorded them.
        record_name : str, optional
            Field of this class holding recorded iterates.

        Returns
        -------
        (steps, metrics, records)
            Concatenated; records is None unless both this run and the segment recorded.
        """
        steps = np.concatenate([self.steps, steps])
        metrics = {k: np.concatenate([self.metrics[k], metrics[k]]) for k in metrics}
        old = getattr(self, record_name) if record_name else None
        recs = None if records is None else (records if old is None else np.concatenate([old, records]))
        return steps, metrics, recs
