r"""Typed settings, run points and results of the experiments.

A small declarative vocabulary of constraints, in the spirit of scikit-learn's
parameter constraints, attached to the fields of frozen dataclasses:

* :class:`Interval` -- an integer or real number in a (closed, open or half-open) range;
* :class:`Options` -- one of a fixed set of values (strings);
* :class:`Boolean` -- ``True`` or ``False``;
* :class:`Text` -- any string;
* :class:`Tuple` -- a tuple, either of one element constraint (``of=``, with an optional
  ``length``) or of fixed heterogeneous ``items=``.

:func:`setting` declares a field with its constraint and a one-line description;
:class:`Settings` is the base of every config and run point: its ``__post_init__``
checks (and normalises: ``1e5`` steps become the int 100000, lists become tuples) each
field, then calls :meth:`Settings.check` for rules that involve several fields. Messages
name the setting, the value and what is accepted::

    n_points: expected an integer >= 1, got 0

Results are frozen dataclasses too; :func:`encode` turns one into the plain mapping the
store writes (arrays are kept as arrays, so the store stores their exact bytes) and
:func:`decode` builds the typed result back from that mapping.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from theory._validation import as_choice, as_int, as_real

__all__ = [
    "Boolean",
    "Constraint",
    "Interval",
    "Options",
    "Settings",
    "Text",
    "Tuple",
    "decode",
    "encode",
    "setting",
    "settings_table",
]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expected(name: str, what: str, value: Any) -> str:
    return f"{name}: expected {what}, got {_show(value)}"


class Constraint:
    """Base class: ``check(value, name)`` returns the normalised value or raises."""

    def check(self, value: Any, name: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> str:  # pragma: no cover - interface
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"


class Interval(Constraint):
    """A number of type ``kind`` (``int`` or ``float``) in a range.

    Parameters
    ----------
    kind : {int, float}
    low, high : number or None
        Bounds (None: unbounded).
    closed : {"both", "left", "right", "neither"}
        Which bounds belong to the interval.

    Integers accept whole floats (``1e5`` steps); reals must be finite.
    """

    def __init__(self, kind: type, low=None, high=None, *, closed: str = "both"):
        if kind not in (int, float):
            raise TypeError(f"Interval kind must be int or float, got {kind!r}")
        as_choice(closed, "closed", ("both", "left", "right", "neither"))
        self.kind, self.low, self.high, self.closed = kind, low, high, closed

    def _low_open(self) -> bool:
        return self.closed in ("right", "neither")

    def _high_open(self) -> bool:
        return self.closed in ("left", "neither")

    def check(self, value: Any, name: str) -> Any:
        lo_open, hi_open = self._low_open(), self._high_open()
        try:  # the shared checks decide; the message says what this setting accepts
            if self.kind is int:
                out = as_int(value, name, allow_integral_float=True)
                if (self.low is not None and (out < self.low or (lo_open and out == self.low))) or \
                        (self.high is not None and (out > self.high or (hi_open and out == self.high))):
                    raise ValueError
                return out
            return as_real(value, name, low=self.low, high=self.high, low_open=lo_open, high_open=hi_open)
        except (TypeError, ValueError) as exc:
            kind = TypeError if isinstance(exc, TypeError) else ValueError
            raise kind(_expected(name, self.describe(), value)) from None

    def describe(self) -> str:
        what = "an integer" if self.kind is int else "a finite number"
        lo, hi = self.low, self.high
        if lo is None and hi is None:
            return what
        if hi is None:
            return f"{what} {'>' if self._low_open() else '>='} {lo:g}"
        if lo is None:
            return f"{what} {'<' if self._high_open() else '<='} {hi:g}"
        return f"{what} in {'(' if self._low_open() else '['}{lo:g}, {hi:g}{')' if self._high_open() else ']'}"


class Options(Constraint):
    """One of ``values`` (of type ``kind``, e.g. ``Options(str, {"gd", "ngd"})``)."""

    def __init__(self, kind: type, values: Iterable):
        self.kind = kind
        self.values = tuple(sorted(values)) if not isinstance(values, tuple) else values

    def check(self, value: Any, name: str) -> Any:
        try:
            if self.kind is str:
                return as_choice(value, name, self.values)
            if not isinstance(value, self.kind) or value not in self.values:
                raise ValueError
        except (TypeError, ValueError):
            raise ValueError(_expected(name, self.describe(), value)) from None
        return value

    def describe(self) -> str:
        return "one of " + ", ".join(map(repr, self.values))


class Boolean(Constraint):
    """``True`` or ``False`` (not 0/1)."""

    def check(self, value: Any, name: str) -> bool:
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(_expected(name, self.describe(), value))
        return bool(value)

    def describe(self) -> str:
        return "true or false"


class Text(Constraint):
    """Any non-empty string."""

    def check(self, value: Any, name: str) -> str:
        if not isinstance(value, str) or not value:
            raise TypeError(_expected(name, self.describe(), value))
        return value

    def describe(self) -> str:
        return "a non-empty string"


class Tuple(Constraint):
    """A tuple: homogeneous (``of=``, optional ``length`` int or (min, max)) or fixed ``items=``.

    Lists are accepted and frozen into tuples; a bare value where a homogeneous tuple of
    scalars is expected is a tuple of one (``--set panels=binary`` means ``('binary',)``),
    but not where the elements are tuples themselves.
    """

    def __init__(self, of: Constraint | None = None, *, length: int | tuple | None = None,
                 items: tuple[Constraint, ...] | None = None, names: tuple[str, ...] | None = None):
        if (of is None) == (items is None):
            raise TypeError("Tuple needs exactly one of of= (homogeneous) or items= (fixed fields)")
        self.of, self.items, self.names = of, items, names
        if items is not None:
            length = len(items)
        if isinstance(length, int):
            length = (length, length)
        self.length = length

    def check(self, value: Any, name: str) -> tuple:
        if self.of is not None and not isinstance(self.of, Tuple) and not isinstance(value, (tuple, list)):
            value = (value,)  # one bare element: --set panels=binary means ('binary',)
        if not isinstance(value, (tuple, list)):
            raise TypeError(_expected(name, self.describe(), value))
        if self.length is not None:
            lo, hi = self.length
            if len(value) < lo or (hi is not None and len(value) > hi):
                raise ValueError(_expected(name, self.describe(), value) + f" ({len(value)} elements)")
        if self.items is not None:
            labels = self.names or tuple(str(i) for i in range(len(self.items)))
            return tuple(c.check(v, f"{name}[{i}] ({labels[i]})") for i, (c, v) in enumerate(zip(self.items, value)))
        return tuple(self.of.check(v, f"{name}[{i}]") for i, v in enumerate(value))

    def describe(self) -> str:
        if self.items is not None:
            parts = [f"{n}: {c.describe()}" for n, c in zip(self.names or range(len(self.items)), self.items)]
            return "a tuple (" + "; ".join(parts) + ")"
        lo, hi = self.length or (0, None)
        size = "" if (lo, hi) == (0, None) else (
            f" of length {lo}" if lo == hi else f" of length >= {lo}" if hi is None else f" of length {lo}..{hi}")
        return f"a tuple{size} of ({self.of.describe()})"


def setting(default: Any, constraint: Constraint, doc: str = "") -> Any:
    """A dataclass field with a constraint (checked by :class:`Settings`) and a description."""
    return field(default=default, metadata={"constraint": constraint, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """Base of configs and run points: fields with constraints are checked on creation.

    Subclasses are frozen dataclasses whose fields are declared with :func:`setting`;
    override :meth:`check` for rules between fields (raise ``ValueError`` naming them,
    ``"NAME: expected ..., got ..."``).
    """

    def __post_init__(self):
        for f in dataclasses.fields(self):
            c = f.metadata.get("constraint")
            if c is not None:
                object.__setattr__(self, f.name, c.check(getattr(self, f.name), f.name))
        self.check()

    def check(self) -> None:
        """Rules between fields (none by default)."""

    def to_params(self) -> dict:
        """The fields as a plain dict (what the store writes as a run's parameters)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    @classmethod
    def from_params(cls, params: dict):
        """Inverse of :meth:`to_params`; unknown keys are an error that names them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(params) - names)
        if unknown:
            raise TypeError(f"{cls.__name__}: unknown fields {unknown}; expected {sorted(names)}")
        return cls(**params)


def settings_table(cls: type, quick: dict | None = None) -> list[dict]:
    """One row per field of a :class:`Settings` class: name, type, default, quick value, constraint, doc."""
    quick = quick or {}
    hints = typing.get_type_hints(cls)
    rows = []
    for f in dataclasses.fields(cls):
        c = f.metadata.get("constraint")
        t = hints.get(f.name, object)
        rows.append({
            "name": f.name,
            "type": getattr(t, "__name__", str(t)),
            "default": f.default,
            "quick": quick.get(f.name, f.default),
            "constraint": c.describe() if c is not None else "",
            "doc": f.metadata.get("doc", ""),
        })
    return rows


# ----------------------------------------------------------------------------
# results


def encode(obj: Any) -> Any:
    """A typed result as plain data for the store: dataclasses become dicts (fields that are
    ``None`` are left out), everything else is passed through unchanged (arrays stay arrays)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            v = getattr(obj, f.name)
            if v is not None:
                out[f.name] = encode(v)
        return out
    if isinstance(obj, dict):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(encode(v) for v in obj)
    return obj


def _dataclass_of(t: Any) -> type | None:
    """The dataclass in an annotation ``C`` or ``C | None``, else None."""
    if dataclasses.is_dataclass(t):
        return t
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        for a in typing.get_args(t):
            if dataclasses.is_dataclass(a):
                return a
    return None


def decode(cls: type, data: dict) -> Any:
    """Build the typed result ``cls`` from the mapping :func:`encode` produced.

    Raises
    ------
    TypeError
        If ``data`` has keys that ``cls`` does not know (a result written by another
        version of the experiment), naming them.
    """
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__}: expected a mapping of stored fields, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise TypeError(f"{cls.__name__}: stored result has unknown fields {unknown}")
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        v = data[name]
        sub = _dataclass_of(hints.get(name))
        kwargs[name] = decode(sub, v) if sub is not None and v is not None else v
    return cls(**kwargs)


