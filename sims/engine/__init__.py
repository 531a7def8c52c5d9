"""Model-independent parts of the training engines (checkpoints, threads, trajectory, progress).

An engine trains one model family with full-batch first-order methods inside
numba kernels; :mod:`sims.linear_softmax` (linear softmax / NTP models, the
engine behind :mod:`sims.gd`) is the first. This package holds what does not
depend on the model, so that a second engine (e.g. two-layer ReLU networks)
plugs in by writing only its model-specific parts.

Contract for an engine
----------------------
1. **Prepare** (Python): validate the inputs at the boundary with
   :mod:`theory._validation`, build the kernel inputs (grouped in a few named
   tuples: problem, state, scratch, references, hyper-parameters, recording;
   never dozens of positional arguments) and a state dict that a resumed run can
   start from.
2. **Step kernel** (numba, ``cache=True``): ``drive(k0, nsteps, ...)`` advances the
   state arrays in place from step ``k0`` to ``k0 + nsteps`` and writes one row of
   its metric table (model-specific metric names) at every step of the recorded
   steps ``rec`` (found from ``k0`` by position, so the same ``rec`` array serves
   every call). It must be *resumable*: calling it for consecutive segments
   gives bitwise the same state and rows as one call. Its results must not
   depend on the number of threads (chunk by problem size, never by threads).
3. **Run** (Python): resolve the thread count with :func:`resolve_threads`, and
   inside ``with ThreadScope(n)`` (numba at n threads, BLAS at 1; never more than
   the caller set) call :func:`run_segments` with a closure ``advance(k, n)`` that
   calls the kernel. It gives the progress bar and turns Ctrl-C into a stop
   after the current segment; the engine then raises :class:`RunInterrupted`
   carrying its partial, resumable trajectory.
4. **Result**: a subclass of :class:`Trajectory` that declares its stored fields
   (``FORMAT``, ``FIELDS``) and implements ``extend(steps, data=None, ...)``
   through its engine's ``run(..., resume=self)``. Record in ``info["segments"]``
   what actually ran: numba threads, BLAS threads, chunks, kernel seconds.

Checkpoints are log-spaced (:func:`log_checkpoints`, ~200 per run by default),
so a 1e12-step run stores ~200 rows.
"""

from sims.engine._checkpoints import N_RECORD, log_checkpoints, record_steps
from sims.engine._progress import RunInterrupted, run_segments, wants_progress
from sims.engine._threads import ThreadScope, blas_controller, blas_threads, resolve_threads
from sims.engine._trajectory import Trajectory

__all__ = [
    "N_RECORD",
    "RunInterrupted",
    "ThreadScope",
    "Trajectory",
    "blas_controller",
    "blas_threads",
    "log_checkpoints",
    "record_steps",
    "resolve_threads",
    "run_segments",
    "wants_progress",
]
