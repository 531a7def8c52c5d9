"""Input checks shared by ``theory`` and ``sims``: validate once, at the boundary.

Every check returns the cleaned value (a Python ``int``/``float``, a float64 array,
a ``numpy.random.Generator``) or raises an error for people:

* ``TypeError`` when the *kind* of value is wrong (a string for an integer, a complex
  array, an object that is not a generator);
* ``ValueError`` when the kind is right but the value is not accepted (out of range,
  non-finite, wrong shape, a row that is not a distribution, a size that cannot fit
  in memory).

Each message names the argument, shows the offending value and says what is accepted,
e.g. ``lr must be a finite number > 0, got -1.0``. The module is private (``theory``
and ``sims`` import it; users see its messages, not its names); its functions carry
no leading underscore so that importing them does not reach into another module's
private names.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = [
    "MEMORY_LIMIT_BYTES",
    "as_generator",
    "as_int",
    "as_real",
    "as_real_array",
    "as_probability_rows",
    "as_choice",
    "as_tolerance",
    "as_bool",
    "as_bool_array",
    "as_index_array",
    "as_options",
    "as_sign_labels",
    "as_text",
    "check_callable",
    "check_memory",
    "check_shape",
]

#: Refuse allocations estimated above this many bytes (half of a 24 GiB machine by
#: default), before trying them. Callers may pass their own ``limit``.
MEMORY_LIMIT_BYTES = 12 * 2**30


def _show(value: Any, width: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def as_int(value: Any, name: str, *, low: int | None = None, high: int | None = None,
           allow_integral_float: bool = False) -> int:
    """``value`` as a Python int in ``[low, high]``.

    Booleans are refused (``True`` is not a count). Floats are refused unless
    ``allow_integral_float`` and the float is a whole number (``1e6`` as a step count).
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got the boolean {value!r}")
    if allow_integral_float and isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or float(value) != math.floor(value):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        out = int(value)
    else:
        try:
            out = operator.index(value)
        except TypeError:
            raise TypeError(
                f"{name} must be an integer, got {_show(value)} of type {type(value).__name__}"
            ) from None
    if (low is not None and out < low) or (high is not None and out > high):
        raise ValueError(f"{name} must be an integer {_range_text(low, high)}, got {out}")
    return int(out)


def _num(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _range_text(low, high, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        lb = "(" if low_open else "["
        hb = ")" if high_open else "]"
        return f"in {lb}{_num(low)}, {_num(high)}{hb}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_num(low)}"
    if high is not None:
        return f"{'<' if high_open else '<='} {_num(high)}"
    return ""


def as_real(value: Any, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False, high_open: bool = False, allow_inf: bool = False) -> float:
    """``value`` as a finite Python float in the given (closed or open) range.

    NaN is always refused; ``inf`` only with ``allow_inf`` (and then the range applies
    to finite values only through the comparison).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        if isinstance(value, numbers.Complex):
            raise TypeError(f"{name} must be a real number, got the complex {value!r}")
        raise TypeError(
            f"{name} must be a real number, got {_show(value)} of type {type(value).__name__}"
        )
    out = float(value)
    what = f"a {'' if allow_inf else 'finite '}number"
    rng = _range_text(low, high, low_open, high_open)
    accepted = f"{what} {rng}".strip()
    if math.isnan(out) or (math.isinf(out) and not allow_inf):
        raise ValueError(f"{name} must be {accepted}, got {out!r}")
    if low is not None and (out < low or (low_open and out == low)):
        raise ValueError(f"{name} must be {accepted}, got {out!r}")
    if high is not None and (out > high or (high_open and out == high)):
        raise ValueError(f"{name} must be {accepted}, got {out!r}")
    return out


def as_tolerance(value: Any, name: str = "tol") -> float:
    """A numerical tolerance: a finite number > 0."""
    return as_real(value, name, low=0.0, low_open=True)


def as_choice(value: Any, name: str, choices: Iterable[str]) -> str:
    """``value`` if it is one of the strings ``choices``."""
    choices = tuple(choices)
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {_show(value)}")
    return value


def as_real_array(value: Any, name: str, *, ndim: int | None = None, shape: Sequence[int | None] | None = None,
                  finite: bool = True, nonempty: bool = True, copy: bool = True) -> np.ndarray:
    """``value`` as a float64 array (a copy unless ``copy=False``), checked.

    Refuses object, string and complex arrays (``TypeError``), ragged nesting, wrong
    ``ndim`` or ``shape`` (``None`` entries match any length), empty arrays (unless
    ``nonempty=False``) and, with ``finite``, NaN or inf entries (the first one is
    named with its index).
    """
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a real numeric array, got the string {_show(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be a real numeric array; conversion failed: {exc}") from None
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must be real, got complex dtype {arr.dtype}")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = np.array(arr, dtype=np.float64, copy=copy) if copy else np.asarray(arr, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None:
        check_shape(arr, name, shape)
    if nonempty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if finite:
        bad = np.argwhere(~np.isfinite(np.atleast_1d(arr)))
        if bad.size:
            idx = tuple(int(i) for i in bad[0]) if arr.ndim else ()
            where = f"{name}[{', '.join(map(str, idx))}]" if idx else name
            raise ValueError(f"{name} must be finite (no NaN or inf); {where} = {float(arr[idx])!r}")
    return arr


def check_shape(arr: np.ndarray, name: str, shape: Sequence[int | None]) -> None:
    """Raise ``ValueError`` unless ``arr.shape`` matches ``shape`` (``None`` = any)."""
    shape = tuple(shape)
    ok = arr.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, arr.shape))
    if not ok:
        want = "(" + ", ".join("any" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}, got {arr.shape}")


def as_probability_rows(value: Any, name: str, *, atol: float = 1e-9, ndim: int | None = None) -> np.ndarray:
    """A float64 array whose last axis holds probability distributions.

    Entries must be finite and >= 0 and each row (the whole vector if 1-D) must sum to
    1 within ``atol``. The offending entry or row is named in the error.
    """
    arr = as_real_array(value, name, ndim=ndim)
    neg = np.argwhere(arr < 0)
    if neg.size:
        idx = tuple(int(i) for i in neg[0])
        raise ValueError(f"{name} must be nonnegative (probabilities); {name}{list(idx)} = {float(arr[idx])!r}")
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > atol
    if np.any(off):
        if arr.ndim == 1:
            raise ValueError(f"{name} must sum to 1 (within {atol:g}); it sums to {float(sums):.12g}")
        row = tuple(int(i) for i in np.argwhere(off)[0])
        label = row[0] if len(row) == 1 else row
        raise ValueError(
            f"each row of {name} must sum to 1 (within {atol:g}); row {label} sums to {float(sums[row]):.12g}"
        )
    return arr


def as_generator(value: Any, name: str = "seed") -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, a SeedSequence or an int >= 0."""
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, np.random.SeedSequence):
        return np.random.default_rng(value)
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        if value < 0:
            raise ValueError(f"{name} must be a nonnegative integer, got {value}")
        return np.random.default_rng(int(value))
    raise TypeError(
        f"{name} must be an int >= 0, a numpy.random.SeedSequence or a numpy.random.Generator, "
        f"got {_show(value)} of type {type(value).__name__}"
    )


def check_memory(n_bytes: float, what: str, *, limit: float | None = None, hint: str = "") -> None:
    """Refuse, before allocating, work whose estimated memory exceeds ``limit`` bytes.

    ``what`` names the request (``"instance0(S=100000, A=100000)"``); ``hint`` says
    how to make it fit.
    """
    limit = MEMORY_LIMIT_BYTES if limit is None else limit
    if n_bytes > limit:
        raise ValueError(
            f"{what} needs about {_bytes(n_bytes)} of memory, more than the {_bytes(limit)} allowed"
            + (f"; {hint}" if hint else "")
        )


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} B"  # pragma: no cover


def as_bool(value: Any, name: str) -> bool:
    """``value`` as a Python bool; only ``True``/``False`` (or NumPy bools) are accepted.

    Truthy stand-ins (``1``, ``"yes"``, ``None``) are refused: a flag spelled wrong
    should not silently mean ``True`` or ``False``.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_show(value)} of type {type(value).__name__}")
    return bool(value)


def as_options(value: Any, name: str) -> dict:
    """Solver options: ``None`` (no options) or a mapping with string keys, as a new dict."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be None or a dict of solver settings, got {_show(value)} "
                        f"of type {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{name} must have string keys (setting names), got the key {_show(bad[0])}")
    return dict(value)


def as_sign_labels(value: Any, name: str, n: int | None = None) -> np.ndarray:
    """Binary labels in {-1, +1} as a float64 vector of shape (n,) (any length if ``n`` is None).

    The first label outside {-1, +1} is named with its index.
    """
    y = as_real_array(value, name, ndim=1)
    if n is not None and y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match the {n} inputs, got {y.shape}")
    bad = np.flatnonzero((y != 1.0) & (y != -1.0))
    if bad.size:
        i = int(bad[0])
        raise ValueError(f"{name} must contain only the labels -1 and +1; {name}[{i}] = {float(y[i])!r}")
    return y


def as_text(value: Any, name: str, *, nonempty: bool = False) -> str:
    """``value`` if it is a ``str`` (non-empty if ``nonempty``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {_show(value)} of type {type(value).__name__}")
    if nonempty and not value:
        raise ValueError(f"{name} must be a non-empty string, got ''")
    return value


def check_callable(value: Any, name: str, what: str = "a function") -> Any:
    """``value`` if it is callable (``what`` describes the expected signature)."""
    if not callable(value):
        raise TypeError(f"{name} must be {what}, got {_show(value)} of type {type(value).__name__}")
    return value


def as_index_array(value: Any, name: str, *, ndim: int | None = 1, shape: Sequence[int | None] | None = None,
                   low: int | None = 0, high: int | None = None, nonempty: bool = False) -> np.ndarray:
    """``value`` as an int64 array of indices in ``[low, high)`` (``high`` exclusive).

    Refuses strings, booleans, floats (even whole ones: an index array of floats is a
    mistake upstream), complex and object arrays (``TypeError``); wrong ``ndim`` or
    ``shape``, empty arrays when ``nonempty``, out-of-range entries (``ValueError``, the
    first one named with its position).
    """
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be an array of integers, got {_show(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged nesting
        raise TypeError(f"{name} must be an array of integers; conversion failed: {exc}") from None
    if arr.size == 0 and arr.dtype.kind == "f":
        arr = arr.astype(np.int64)  # np.asarray([]) is float64: an empty list is a valid empty index set
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an array of integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None:
        check_shape(arr, name, shape)
    if nonempty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if arr.size:
        bad = np.flatnonzero(((arr < low) if low is not None else False) | ((arr >= high) if high is not None else False))
        if bad.size:
            pos = np.unravel_index(int(bad[0]), arr.shape)
            lo = "" if low is None else f"{low} <= "
            hi = "" if high is None else f" < {high}"
            raise ValueError(
                f"{name} must hold indices {lo}i{hi}; {name}[{', '.join(map(str, pos))}] = {int(arr[pos])}"
            )
    return arr


def as_bool_array(value: Any, name: str, *, ndim: int | None = None,
                  shape: Sequence[int | None] | None = None, nonempty: bool = True) -> np.ndarray:
    """``value`` as a boolean array (NumPy ``bool`` dtype only: 0/1 integers are refused, so
    that an index array is never mistaken for a mask)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a boolean array, got {_show(value)}")
    try:
        arr = np.asarray(value)
    except Exception as exc:
        raise TypeError(f"{name} must be a boolean array; conversion failed: {exc}") from None
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean array, got dtype {arr.dtype}")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-dimensional, got shape {arr.shape}")
    if shape is not None:
        check_shape(arr, name, shape)
    if nonempty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr
