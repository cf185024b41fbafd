"""Declared ranges of parameters: each numeric field says which values it allows.

A field is declared with one of the helpers below instead of a bare default, e.g.
``trust_gain: float = prob(0.08)`` or ``capacity_median: float = positive(3.0)``. The range sits
in the field's metadata, so the schema itself says what is allowed; :func:`check_ranges` checks a
whole dataclass tree in one pass and names the key, the value and the allowed range. The same
helpers declare the parameters of interventions.

Every numeric parameter has a finite upper bound (and a finite lower bound): the one its meaning
gives where it has one (a share is at most 1, a utility coefficient at most :data:`MAX_UTILITY`, a
number of days at most :data:`MAX_DAYS`), else the generic :data:`GENERIC_BOUND`, which
:class:`Range` applies when a declaration gives none. Values that pass the check keep the model's
arithmetic finite and its work bounded; should a run overflow all the same (a divisor set to a
subnormal number, say), :func:`far_from_default` names the keys to blame (:func:`sim.runner.simulate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, TypeGuard

from sim.errors import ConfigError

RANGE = "range"

#: Upper bound of a numeric parameter whose declaration gives none (and, negated, its lower bound).
#: The parameters left to it are amounts of money, feedback counts, pseudo-ratings and relative
#: weights, for which a million is far beyond any sensible value (their largest default is 1,500 EUR). A
#: product of up to 50 such values stays below float64's largest number (1e300 < 1.8e308), so sums
#: of money over every purchase of a run and ratios of them stay finite. Parameters whose value
#: multiplies the run's events or memory (rates, counts of markets, vendors, dealers, days) or enters
#: an exponent (utilities, log-sds, exponents) declare tighter bounds of their own.
GENERIC_BOUND = 1e6
#: Longest horizon and longest duration of any kind, days: a century (36,500 days), longer than any
#: market studied has lasted many times over. It keeps day numbers, which are stored as 32-bit
#: integers, and the calendar's work bounded.
MAX_DAYS = 36_500
#: Largest magnitude of a utility or utility coefficient, logit units. At 20 an alternative weighs
#: e^20 (about 5e8) times another that lacks it, a certain choice, so larger values change no
#: decision; utilities are exponentiated (after subtracting the row's maximum) and divided by nest
#: dissimilarities, so they must stay far from float64's range.
MAX_UTILITY = 20.0
#: Largest sd of the log of a lognormal spread across agents. At 3 the 99.9th percentile is
#: e^(3 x 3.1), about 10,000 times the median: a wider spread means nothing for a population of
#: buyers or vendors, and exp(sd x z) and sd^2 stay finite.
MAX_LOGSD = 3.0
#: Largest shape of a Beta distribution: at 1,000 (the other shape as large) the draws have an sd of
#: about 0.011, all but a point mass, so larger shapes change nothing a run measures.
MAX_BETA_SHAPE = 1000.0
#: Largest number of people in the population (``model.n_buyers``), and of any reference size of
#: it: more than the drug users of any EU country (the model is one country's buyers); the scale
#: benchmark ran 10,000,000 (docs/performance.md). The memory check (``run.check_memory``) refuses
#: smaller runs that do not fit the machine.
MAX_PEOPLE = 100_000_000


@dataclass(frozen=True)
class Range:
    """An interval of allowed values, always finite.

    A bound that is not declared (``None``) becomes :data:`GENERIC_BOUND` (the lower one
    ``-GENERIC_BOUND``); ``generic_hi`` records that the upper bound is the generic one.
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    #: what the bound protects, said in the message (e.g. "a shape parameter of a Beta distribution")
    why: str = ""
    #: the upper bound is the generic :data:`GENERIC_BOUND`, not one of the parameter's own
    generic_hi: bool = False

    def __post_init__(self) -> None:
        # frozen: set the generic bounds through object.__setattr__, once, at declaration
        if self.hi is None:
            object.__setattr__(self, "hi", GENERIC_BOUND)
            object.__setattr__(self, "generic_hi", True)
        if self.lo is None:
            object.__setattr__(self, "lo", -GENERIC_BOUND)

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite and inside the interval (an int too large for a float is not)."""
        try:
            x = float(value)
        except OverflowError:
            return False
        if not math.isfinite(x):
            return False
        v = value if isinstance(value, int) else x  # an int compared exactly (2**63 - 1 is no float)
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def below(self, value: float) -> bool:
        """Whether a finite ``value`` lies below the interval (the lower bound is what it violates)."""
        try:
            x = float(value)
        except OverflowError:
            return False
        return self.lo is not None and math.isfinite(x) and (x < self.lo or (self.lo_open and x == self.lo))

    def lower(self) -> str:
        """The lower bound as an inequality, e.g. ``> 0`` or ``>= 1``."""
        return f"{'>' if self.lo_open else '>='} {_fmt(self.lo if self.lo is not None else -GENERIC_BOUND)}"

    def describe(self) -> str:
        """The interval in words, e.g. ``a finite number in (0, 1] (why)``."""
        lo = self.lo if self.lo is not None else -GENERIC_BOUND
        hi = self.hi if self.hi is not None else GENERIC_BOUND
        left, right = "(" if self.lo_open else "[", ")" if self.hi_open else "]"
        text = f"a finite number in {left}{_fmt(lo)}, {_fmt(hi)}{right}"
        why = self.why or ("no bound of its own: the generic bound" if self.generic_hi else "")
        return f"{text} ({why})" if why else text


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


def nonneg(default: float | None, why: str = "", hi: float | None = None) -> Any:
    """A rate, count or duration that may be zero: [0, ``hi``] (``hi`` None: :data:`GENERIC_BOUND`)."""
    return ranged(default, lo=0.0, hi=hi, why=why)


def positive(default: float, why: str = "", hi: float | None = None) -> Any:
    """A value that must be > 0 (a mean that is divided by, a distribution's scale or shape), at most ``hi``."""
    return ranged(default, lo=0.0, lo_open=True, hi=hi, why=why)


def at_least(default: float, lo: float, why: str = "", hi: float | None = None) -> Any:
    """A value in [``lo``, ``hi``] (e.g. a number of days that must be at least 1)."""
    return ranged(default, lo=lo, hi=hi, why=why)


def signed(default: float, why: str = "", lo: float | None = None, hi: float | None = None) -> Any:
    """A number that may be negative (effects that may go either way); generic bounds unless given."""
    return ranged(default, lo=lo, hi=hi, why=why)


def duration(default: float | None, lo: float = 0.0, why: str = "", hi: float = MAX_DAYS) -> Any:
    """A number of days (a duration, delay, half-life or horizon): [``lo``, :data:`MAX_DAYS`]."""
    return ranged(default, lo=lo, hi=hi, why=why or "days; at most a century")


def utility(default: float, why: str = "") -> Any:
    """A utility in logit units that may be negative: [-:data:`MAX_UTILITY`, :data:`MAX_UTILITY`]."""
    return ranged(default, lo=-MAX_UTILITY, hi=MAX_UTILITY, why=why or "logit units; at 20 the choice is already certain")


def coefficient(default: float, why: str = "") -> Any:
    """A utility coefficient or penalty in logit units: [0, :data:`MAX_UTILITY`]."""
    return ranged(default, lo=0.0, hi=MAX_UTILITY, why=why or "logit units; at 20 the choice is already certain")


def logsd(default: float, why: str = "") -> Any:
    """The sd of the log of a lognormal spread: [0, :data:`MAX_LOGSD`]."""
    return ranged(default, lo=0.0, hi=MAX_LOGSD, why=why or "sd of a log; at 3 the spread is already 10,000-fold")


def beta_shape(default: float) -> Any:
    """A shape parameter of a Beta distribution: (0, :data:`MAX_BETA_SHAPE`]."""
    return ranged(default, lo=0.0, lo_open=True, hi=MAX_BETA_SHAPE, why="a shape parameter of a Beta distribution")


def range_of(f) -> Range | None:
    """The declared range of a dataclass field, or None."""
    return f.metadata.get(RANGE) if f.metadata else None


def is_number(value: Any) -> TypeGuard[int | float]:
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
                # name the violated side first: "> 0" says more about a 0 than the whole interval
                side = f"{r.lower()}, " if r.below(value) else ""
                raise ConfigError(f"{where}={value}: must be {side}{r.describe()}")


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


def unbounded_numbers(cls, path: str = "") -> list[str]:
    """Numeric fields of the dataclass ``cls`` (recursively) without finite lower and upper bounds: for a test.

    A field without a declared range counts too (:func:`undeclared_numbers` lists those alone).
    """
    out = []
    for f in fields(cls):
        where = f"{path}.{f.name}" if path else f.name
        default = f.default_factory() if callable(f.default_factory) else f.default  # type: ignore[misc]
        if is_dataclass(default):
            out += unbounded_numbers(type(default), where)
        elif f.type in ("int", "float", "int | None", "float | None", int, float):
            r = range_of(f)
            if r is None or r.lo is None or r.hi is None or not (math.isfinite(r.lo) and math.isfinite(r.hi)):
                out.append(where)
    return out


def departure(value: float, default: float) -> float:
    """How far ``value`` lies from ``default``, as a ratio >= 1 (1: equal).

    The ratio of magnitudes, each plus 1 (so that a change from 0 to 0.1 counts as little), or of
    the magnitudes themselves when the value is the smaller one (so that a divisor set near 0 counts).
    """
    a, b = abs(float(value)), abs(float(default))
    if not math.isfinite(a):
        return math.inf
    ratio = max((a + 1.0) / (b + 1.0), (b + 1.0) / (a + 1.0))
    if 0.0 < a < b:
        ratio = max(ratio, b / a)
    return ratio


def far_from_default(obj: Any, reference: Any, path: str = "") -> list[tuple[str, float, float, float]]:
    """Numeric fields of the dataclass tree ``obj`` that differ from those of ``reference``.

    Lists of dataclasses are compared item by item (as far as both have items).

    Returns:
        ``(key, value, default, ratio)`` per differing field, the largest :func:`departure` first.
    """
    out: list[tuple[str, float, float, float]] = []

    def walk(a: Any, b: Any, where: str) -> None:
        for f in fields(a):
            va, vb = getattr(a, f.name), getattr(b, f.name, None)
            key = f"{where}.{f.name}" if where else f.name
            if is_dataclass(va) and is_dataclass(vb):
                walk(va, vb, key)
            elif isinstance(va, list) and isinstance(vb, list):
                for i, (ia, ib) in enumerate(zip(va, vb)):
                    if is_dataclass(ia) and is_dataclass(ib):
                        walk(ia, ib, f"{key}[{i}]")
            elif is_number(va) and is_number(vb) and va != vb:
                out.append((key, float(va), float(vb), departure(va, vb)))

    walk(obj, reference, path)
    return sorted(out, key=lambda t: -t[3])
