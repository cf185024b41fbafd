"""Declared ranges of parameters: each numeric field says which values it allows.

A field is declared with one of the helpers below instead of a bare default, e.g.
``trust_gain: float = prob(0.08)`` or ``capacity_median: float = positive(3.0)``. The range sits
in the field's metadata, so the schema itself says what is allowed; :func:`check_ranges` checks a
whole dataclass tree in one pass and names the key, the value and the allowed range. The same
helpers declare the parameters of interventions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from sim.errors import ConfigError

RANGE = "range"


@dataclass(frozen=True)
class Range:
    """An interval of allowed values; ``None`` bounds are open to infinity."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    #: what the bound protects, said in the message (e.g. "a shape parameter of a Beta distribution")
    why: str = ""

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite and inside the interval."""
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)))

    def describe(self) -> str:
        """The interval in words, e.g. ``a number in (0, 1]`` or ``a number >= 0``."""
        if self.lo is not None and self.hi is not None:
            left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
            text = f"a number in {left}{_fmt(self.lo)}, {_fmt(self.hi)}{right}"
        elif self.lo is not None:
            text = f"a number {'>' if self.lo_open else '>='} {_fmt(self.lo)}"
        elif self.hi is not None:
            text = f"a number {'<' if self.hi_open else '<='} {_fmt(self.hi)}"
        else:
            text = "a finite number"
        text = text.replace("a number", "a finite number", 1) if "finite" not in text else text
        return f"{text} ({self.why})" if self.why else text


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def ranged(default: Any = None, *, factory=None, **bounds) -> Any:
    """A dataclass field with ``default`` (or ``factory``) and a :class:`Range` in its metadata."""
    meta = {RANGE: Range(**bounds)}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def prob(default: float | None, why: str = "a probability or share") -> Any:
    """A probability or share: [0, 1]."""
    return ranged(default, lo=0.0, hi=1.0, why=why)


def nonneg(default: float | None, why: str = "") -> Any:
    """A rate, count or duration that may be zero: >= 0."""
    return ranged(default, lo=0.0, why=why)


def positive(default: float, why: str = "") -> Any:
    """A value that must be > 0 (a mean that is divided by, a distribution's scale or shape)."""
    return ranged(default, lo=0.0, lo_open=True, why=why)


def at_least(default: float, lo: float, why: str = "") -> Any:
    """A value >= ``lo`` (e.g. a number of days that must be at least 1)."""
    return ranged(default, lo=lo, why=why)


def signed(default: float, why: str = "") -> Any:
    """Any finite number (utility constants, effects that may go either way)."""
    return ranged(default, why=why)


def range_of(f) -> Range | None:
    """The declared range of a dataclass field, or None."""
    return f.metadata.get(RANGE) if f.metadata else None


def is_number(value: Any) -> bool:
    """An int or float, but not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_ranges(obj: Any, path: str) -> None:
    """Check every declared range in the dataclass tree ``obj`` (lists of dataclasses included).

    Raises:
        ConfigError: ``<path>.<key>=<value>: must be <range>``.
    """
    for f in fields(obj):
        value = getattr(obj, f.name)
        where = f"{path}.{f.name}" if path else f.name
        if is_dataclass(value):
            check_ranges(value, where)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if is_dataclass(item):
                    check_ranges(item, f"{where}[{i}]")
        elif is_number(value):
            r = range_of(f)
            if r is not None and not r.contains(value):
                raise ConfigError(f"{where}={value}: must be {r.describe()}")


def undeclared_numbers(cls, path: str = "") -> list[str]:
    """Numeric fields of the dataclass ``cls`` (recursively) that declare no range: for a test."""
    out = []
    for f in fields(cls):
        where = f"{path}.{f.name}" if path else f.name
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if is_dataclass(default):
            out += undeclared_numbers(type(default), where)
        elif f.type in ("int", "float", "int | None", "float | None", int, float) and range_of(f) is None:
            out.append(where)
    return out
