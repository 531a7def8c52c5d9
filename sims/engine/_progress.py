"""Running a kernel in segments: progress bar and Ctrl-C that keeps the state."""

from __future__ import annotations

import multiprocessing
import signal
import sys
import threading
import time

from theory._validation import as_int, as_real, as_text, check_callable

#: Wall time aimed at per kernel call when a run is split into segments (the
#: progress bar and an interrupt act between calls). Each call may redo some
#: work at its boundaries (e.g. the logits of its first step, about half a step
#: of a large primal problem), so segments are kept long: 1 s costs < 1% there.
SEGMENT_SECONDS = 1.0
#: An automatic progress bar (``progress=None``) appears only after this many seconds.
PROGRESS_DELAY = 2.0


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by Ctrl-C (SIGINT) between two kernel segments.

    A subclass of ``KeyboardInterrupt`` (an uncaught one still stops a script);
    ``trajectory`` holds the partial result: the checkpoints recorded so far and
    the state after the last finished segment (``trajectory.step`` steps), which
    resumes bitwise like an uninterrupted run (``trajectory.extend(n)``, or
    ``run(..., resume=trajectory)``).

    Examples
    --------
    >>> try:                                              # doctest: +SKIP
    ...     traj = gd.run(data, 1e12, 0.5)
    ... except RunInterrupted as stop:
    ...     traj = stop.trajectory                        # resumable
    """

    def __init__(self, trajectory, message=None):
        self.trajectory = trajectory
        step = getattr(trajectory, "step", "?")
        super().__init__(message or f"run interrupted at step {step}; the partial trajectory is in .trajectory")


def in_main_thread_of_main_process():
    """True in the main thread of the main process (not in a sweep worker)."""
    return (threading.current_thread() is threading.main_thread()
            and multiprocessing.current_process().name == "MainProcess")


def wants_progress(progress):
    """Resolve a ``progress`` argument: True, False, or None = automatic.

    Automatic: a bar (shown after :data:`PROGRESS_DELAY` seconds) when stderr is a
    terminal (or the code runs in a Jupyter kernel) and the run is in the main
    thread of the main process, never in workers. Returns (show, delay).

    Raises
    ------
    TypeError
        If ``progress`` is not None or a bool.
    """
    if progress is None:
        tty = bool(getattr(sys.stderr, "isatty", lambda: False)()) or "ipykernel" in sys.modules
        return (tty and in_main_thread_of_main_process()), PROGRESS_DELAY
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be None (automatic), True or False, got {progress!r}")
    return progress, 0.0


class _SigintFlag:
    """While active (main thread only), SIGINT sets a flag instead of raising."""

    def __init__(self):
        self.hit = False
        self._old = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._old = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # pragma: no cover (signals unavailable)
                self._old = None
        return self

    def _handler(self, signum, frame):
        if self.hit:  # a second Ctrl-C: stop at once
            raise KeyboardInterrupt
        self.hit = True

    def __exit__(self, *exc):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        return False


def run_segments(advance, k0, total, *, progress=None, desc="steps", segment_seconds=None, first_steps=1):
    """Advance a run from step ``k0`` to ``total`` by calls ``advance(k, n)``.

    ``advance(k, n)`` must take steps k .. k+n (a resumable kernel: calling it for
    consecutive segments gives bitwise what one call gives). In the main thread
    the run is cut into segments of about ``segment_seconds`` (sizes grow from
    ``first_steps`` by at most 16x per segment, measured time per step), so that
    a progress bar (tqdm) can move and Ctrl-C stops the run cleanly after the
    current segment; elsewhere (worker threads and processes) without a bar
    there is one call.

    Parameters
    ----------
    advance : callable (k, n) -> None
    k0, total : int
        First and last step, 0 <= k0 <= total.
    progress : None or bool
        See :func:`wants_progress`.
    desc : str
        Label of the bar.
    segment_seconds : float, optional
        Target wall time of a segment, > 0 (default :data:`SEGMENT_SECONDS`).
    first_steps : int
        Steps of the first segment, >= 1 (an engine passes its cost estimate of
        ~0.25 s of work; the first call may also compile the kernel).

    Returns
    -------
    k : int
        The step reached (``total`` unless interrupted).
    interrupted : bool
        True if Ctrl-C stopped the run at ``k`` < ``total``.
    """
    check_callable(advance, "advance", "a function advance(k, n) that takes steps k .. k+n")
    k0 = as_int(k0, "k0", low=0)
    total = as_int(total, "total", low=k0)
    desc = as_text(desc, "desc")
    if segment_seconds is not None:
        segment_seconds = as_real(segment_seconds, "segment_seconds", low=0.0, low_open=True)
    first_steps = as_int(first_steps, "first_steps", low=1)
    show, delay = wants_progress(progress)
    n_total = total - k0
    if not show and not in_main_thread_of_main_process():
        advance(k0, n_total)
        return total, False
    from tqdm.auto import tqdm  # noqa: PLC0415

    if segment_seconds is None:
        segment_seconds = SEGMENT_SECONDS
    k = k0
    n = first_steps
    with _SigintFlag() as flag, tqdm(total=n_total, disable=not show, delay=delay, unit="step",
                                     desc=desc, unit_scale=True, leave=False, dynamic_ncols=True) as bar:
        if n_total == 0:
            advance(k0, 0)
            return total, False
        while k < total:
            n = min(n, total - k)
            t0 = time.perf_counter()
            advance(k, n)
            dt = time.perf_counter() - t0
            k += n
            bar.update(n)
            if flag.hit and k < total:
                return k, True
            per_step = dt / n if dt > 0 else 1e-9
            n = int(max(1, min(16 * n, segment_seconds / per_step)))
    return k, False
