"""Thread limits of a run: one parallel layer, never more threads than the caller set."""

from __future__ import annotations

from theory._validation import as_int

_CONTROLLER = None


def blas_controller():
    """A cached ``threadpoolctl.ThreadpoolController`` that also sees numba's BLAS
    (scipy's OpenBLAS, which numba's ``np.dot`` calls)."""
    global _CONTROLLER
    if _CONTROLLER is None:
        import scipy.linalg.cython_blas  # noqa: F401, PLC0415 (load the BLAS numba calls)
        from threadpoolctl import ThreadpoolController  # noqa: PLC0415

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def blas_threads():
    """The largest thread count of the loaded BLAS libraries right now (1 if none)."""
    info = blas_controller().info()
    counts = [int(d.get("num_threads", 1)) for d in info if d.get("user_api") == "blas"]
    return max(counts) if counts else 1


def resolve_threads(threads):
    """Numba threads a run may use.

    ``None``: the caller's current setting, ``numba.get_num_threads()`` (a sweep
    worker that set 1 thread gets 1; never more than the caller allows); an int
    n >= 1: min(n, ``numba.config.NUMBA_NUM_THREADS``).

    Raises
    ------
    TypeError, ValueError
        If ``threads`` is not None or an integer >= 1.
    """
    import numba  # noqa: PLC0415

    if threads is None:
        return int(numba.get_num_threads())
    n = as_int(threads, "threads", low=1)
    return min(n, int(numba.config.NUMBA_NUM_THREADS))


class ThreadScope:
    """Context manager: numba at ``n`` threads and BLAS at 1 thread (one parallel layer).

    ``n`` is an int >= 1 or None (the caller's current numba setting). On exit both
    are restored. ``n`` comes from :func:`resolve_threads`, so with
    ``threads=None`` the scope never raises the caller's numba thread count; BLAS
    is only ever lowered. ``numba_threads`` and ``blas_threads`` hold the counts
    measured inside the scope (what the kernels ran with).
    """

    def __init__(self, n):
        # None: the caller's numba setting (resolve_threads); else an int >= 1
        self.n = resolve_threads(n) if n is None else as_int(n, "n", low=1)
        self.numba_threads = None
        self.blas_threads = None

    def __enter__(self):
        import numba  # noqa: PLC0415

        self._old = numba.get_num_threads()
        numba.set_num_threads(max(1, min(self.n, numba.config.NUMBA_NUM_THREADS)))
        self._tp = blas_controller().limit(limits=1, user_api="blas")
        self._tp.__enter__()
        self.numba_threads = int(numba.get_num_threads())
        self.blas_threads = blas_threads()
        return self

    def __exit__(self, *exc):
        import numba  # noqa: PLC0415

        self._tp.__exit__(*exc)
        numba.set_num_threads(self._old)
        return False
