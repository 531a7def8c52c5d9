"""The three model-independent pieces the runner needs: checkpoints, a thread scope,
a trajectory container.

They are isolated here so that they can be swapped for the shared engine base
(``sims/engine``, being written on branch ``engine``) once it lands; nothing else in
``sims.twolayer`` knows how they are implemented.
"""

from __future__ import annotations

import json

import numpy as np

from sims.gd import log_checkpoints
from theory._validation import as_int

__all__ = ["ThreadScope", "TwoLayerTrajectory", "checkpoint_steps", "resolve_threads"]

_N_RECORD = 200
_FORMAT = "sims.twolayer.TwoLayerTrajectory/1"


def checkpoint_steps(record, start, total):
    """Steps to record in ``(start, total]`` (``[0, total]`` for a fresh run).

    ``record`` is None (about 200 log-spaced steps), an int (that many log-spaced
    points before de-duplication) or a 1-D integer array of steps; ``total`` is
    always included.
    """
    if record is None:
        return log_checkpoints(total, _N_RECORD, start)
    if isinstance(record, (int, np.integer)) and not isinstance(record, (bool, np.bool_)):
        return log_checkpoints(total, as_int(record, "record", low=2), start)
    arr = np.asarray(record)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"record must be None, an int >= 2 or a 1-D integer array of steps, got {record!r}")
    lo = start + 1 if start > 0 else 0
    if arr.size and (arr.min() < lo or arr.max() > total):
        raise ValueError(f"record steps must lie in [{lo}, {total}], got range [{arr.min()}, {arr.max()}]")
    return np.unique(np.append(arr.astype(np.int64), total))


def resolve_threads(threads):
    """Numba thread count: all of numba's threads by default, else an int >= 1."""
    import numba  # noqa: PLC0415

    if threads is None:
        return int(numba.config.NUMBA_NUM_THREADS)
    return min(as_int(threads, "threads", low=1), int(numba.config.NUMBA_NUM_THREADS))


_CONTROLLER = None


def _blas_controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        import scipy.linalg.cython_blas  # noqa: F401, PLC0415 (the BLAS that numba's np.dot calls)
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


class ThreadScope:
    """Numba threads set to ``n`` and BLAS held at one thread (one parallel layer)."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        import numba  # noqa: PLC0415

        self._old = numba.get_num_threads()
        numba.set_num_threads(self.n)
        self._tp = _blas_controller().limit(limits=1, user_api="blas")
        self._tp.__enter__()
        return self

    def __exit__(self, *exc):
        import numba  # noqa: PLC0415

        self._tp.__exit__(*exc)
        numba.set_num_threads(self._old)


class TwoLayerTrajectory:
    """One network's run: checkpoints, metrics, parameters and the resumable state.

    Attributes
    ----------
    steps : ndarray of int64, shape (n_rec,)
        Recorded steps t (W_t is the iterate after t updates; 0 = W_0).
    metrics : dict of str -> ndarray of float64, shape (n_rec,)
        (also readable as attributes, ``traj.loss``)

        - ``loss``: L(W_t), the average logistic loss (hard) or the average KL (soft);
        - ``avg_loss``: (1/t) sum_{u < t} L(W_u), the quantity of [JT] Thm 2.2 and
          [M25] (NaN at t = 0);
        - ``accuracy``: fraction of i with labels_i f(x_i; W_t) > 0;
        - ``min_margin``, ``mean_margin``: min_i and mean_i of labels_i f(x_i; W_t);
        - ``lazy``: sqrt(m) max_s ||w_s(t) - w_s(0)|| (bounded by 4 lambda / gamma in
          [JT] Thm 2.2);
        - ``distance``: ||W_t - W_0||_F.
    W : ndarray, shape (m, d)
        Final iterate.
    W0 : ndarray, shape (m, d)
        Initial weights.
    a : ndarray, shape (m,)
        Output signs.
    outputs : ndarray, shape (n,)
        f(x_i; W) at the final iterate.
    state : dict
        ``step`` (int) and ``cum_loss`` (float, sum_{u < step} L(W_u)): with W, W0
        and a, what :meth:`extend` needs.
    config : dict
        JSON-able settings: width, seed, init, kind, lr, temperature,
        project_radius (None for plain GD), n, d, x_scale, data_fingerprint.
    info : dict
        JSON-able metadata: threads, kernel seconds per segment, versions.
    """

    def __init__(self, steps, metrics, W, W0, a, outputs, state, config, info=None):
        self.steps = np.asarray(steps, dtype=np.int64)
        self.metrics = {k: np.asarray(v, dtype=np.float64) for k, v in metrics.items()}
        self.W = W
        self.W0 = W0
        self.a = a
        self.outputs = outputs
        self.state = state
        self.config = config
        self.info = info if info is not None else {}

    @property
    def step(self) -> int:
        """Number of steps taken so far."""
        return int(self.state["step"])

    @property
    def params(self):
        """The final parameters as a TwoLayerParams."""
        from sims.twolayer._model import TwoLayerParams  # noqa: PLC0415

        return TwoLayerParams(W=self.W, a=self.a)

    @property
    def initial_params(self):
        """The initial parameters as a TwoLayerParams."""
        from sims.twolayer._model import TwoLayerParams  # noqa: PLC0415

        return TwoLayerParams(W=self.W0, a=self.a)

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics")
        if metrics is not None and name in metrics:
            return metrics[name]
        raise AttributeError(name)

    def __len__(self):
        return int(self.steps.size)

    def __repr__(self):
        c = self.config
        return (f"TwoLayerTrajectory(kind={c.get('kind')!r}, width={c.get('width')}, seed={c.get('seed')!r}, "
                f"init={c.get('init')!r}, lr={c.get('lr')!r}, step={self.step}, n_records={len(self)})")

    def at(self, step):
        """Metrics at a recorded step, as a dict of floats."""
        idx = np.flatnonzero(self.steps == step)
        if idx.size == 0:
            raise ValueError(f"step {step!r} was not recorded; recorded steps start {self.steps.tolist()[:10]}")
        return {k: float(v[idx[0]]) for k, v in self.metrics.items()}

    def to_dict(self) -> dict:
        """Plain dict of arrays and JSON-able values; :meth:`from_dict` inverts it."""
        return {
            "format": _FORMAT,
            "steps": self.steps.copy(),
            "metrics": {k: v.copy() for k, v in self.metrics.items()},
            "W": np.array(self.W), "W0": np.array(self.W0), "a": np.array(self.a),
            "outputs": np.array(self.outputs),
            "state": json.loads(json.dumps(self.state)),
            "config": json.loads(json.dumps(self.config)),
            "info": json.loads(json.dumps(self.info)),
        }

    @classmethod
    def from_dict(cls, d):
        """Rebuild from :meth:`to_dict` output."""
        if not isinstance(d, dict) or d.get("format") != _FORMAT:
            raise ValueError(f"d must be a dict produced by TwoLayerTrajectory.to_dict (format {_FORMAT!r})")
        return cls(steps=np.array(d["steps"]), metrics={k: np.array(v) for k, v in d["metrics"].items()},
                   W=np.array(d["W"]), W0=np.array(d["W0"]), a=np.array(d["a"]), outputs=np.array(d["outputs"]),
                   state=dict(d["state"]), config=dict(d["config"]), info=dict(d["info"]))

    def extend(self, steps, X, targets, *, labels=None, record=None, threads=None, normalize=False):
        """Continue for ``steps`` more steps with the same settings (bitwise the same
        as one run of ``self.step + steps`` steps)."""
        from sims.twolayer._train import resume  # noqa: PLC0415

        return resume(self, steps, X, targets, labels=labels, record=record, threads=threads, normalize=normalize)
