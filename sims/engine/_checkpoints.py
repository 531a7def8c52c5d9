"""Log-spaced checkpoints and the recorded steps of a run segment."""

from __future__ import annotations

import numbers

import numpy as np

from theory._validation import as_int, check_memory

#: Default number of log-spaced checkpoints of a run (before de-duplication).
N_RECORD = 200


def log_checkpoints(total, n=N_RECORD, start=0):
    """Log-spaced integer checkpoints in [start, total] (0 and ``total`` included).

    ``unique(rint(geomspace(1, total, n)))`` plus 0, restricted to steps
    > ``start`` when ``start`` > 0 (a resumed run), always ending with ``total``.

    Parameters
    ----------
    total : int
        Last step (>= 0; an integral float such as 1e6 is accepted).
    n : int
        Number of log-spaced points before de-duplication (>= 1; values below 2
        are treated as 2, i.e. 0, 1 and ``total``).
    start : int
        First step of the segment (0 <= start <= total); steps <= start are
        dropped when start > 0.

    Returns
    -------
    ndarray of int64, shape (n_rec,)

    Raises
    ------
    TypeError, ValueError
        If ``total``, ``n`` or ``start`` is not a whole number in its range.

    Examples
    --------
    >>> log_checkpoints(100, 5).tolist()
    [0, 1, 3, 10, 32, 100]
    """
    total = as_int(total, "total", low=0, allow_integral_float=True)
    n = as_int(n, "n", low=1, allow_integral_float=True)
    start = as_int(start, "start", low=0, high=total, allow_integral_float=True)
    # geomspace, rint and unique each hold n float64/int64 values.
    check_memory(24.0 * n, f"log_checkpoints(n={n})", hint="ask for fewer checkpoints")
    pts = [0, total]
    if total >= 1:
        pts.extend(np.rint(np.geomspace(1, total, max(n, 2))).astype(np.int64).tolist())
    pts = np.unique(np.asarray(pts, dtype=np.int64))
    if start > 0:
        pts = pts[pts > start]
    return pts


def record_steps(record, k0, total):
    """The checkpoints of a segment running steps k0 .. total.

    Parameters
    ----------
    record : None, int or 1-D int array
        None: :data:`N_RECORD` log-spaced steps (:func:`log_checkpoints`); int n:
        n log-spaced steps; array: explicit steps in [k0 + 1, total] (in [0, total]
        when k0 = 0). ``total`` is always added.
    k0, total : int
        First and last step of the segment.

    Returns
    -------
    ndarray of int64, shape (n_rec,), increasing, ending with ``total``.
    """
    total = as_int(total, "total", low=0, allow_integral_float=True)
    k0 = as_int(k0, "k0", low=0, high=total, allow_integral_float=True)
    if record is None:
        return log_checkpoints(total, N_RECORD, k0)
    if isinstance(record, numbers.Integral) and not isinstance(record, (bool, np.bool_)):
        record = as_int(record, "record", low=1)
        check_memory(24.0 * record, f"record={record} checkpoints", hint="ask for fewer checkpoints")
        return log_checkpoints(total, record, k0)
    if isinstance(record, (bool, np.bool_, str, bytes, float)):
        raise TypeError(f"record must be None, an int or a 1-D integer array of steps, got {record!r}")
    arr = np.asarray(record)
    if arr.ndim != 1 or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"record must be None, an int or a 1-D integer array of steps, got {record!r}")
    arr = arr.astype(np.int64)
    lo = k0 + 1 if k0 > 0 else 0
    if arr.size and (arr.min() < lo or arr.max() > total):
        raise ValueError(f"record steps must lie in [{lo}, {total}], got range [{arr.min()}, {arr.max()}]")
    return np.unique(np.append(arr, total))
