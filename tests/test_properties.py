"""Property-based tests (Hypothesis): random overrides, valid and invalid, for every config key and
intervention parameter. Either the run completes with finite outputs, or it is refused with a
message naming the key; a value outside its declared range is always refused. A few of the draws
also go through the command line, where a refusal must leave nothing on disk and a folder's
existing files must stay untouched. The example budget is fixed, so CI time is bounded.
"""

from __future__ import annotations

import math
import subprocess
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config import Config, SubstanceConfig
from sim.errors import ConfigError
from sim.interventions import REGISTRY
from sim.params import Range, is_number, range_of
from sim.runner import compose, simulate

ROOT = Path(__file__).resolve().parent.parent
TINY = ["model.n_buyers=200", "run.days=5", "run.burn_in_days=1", "run.figures=false", "run.progress=false"]
#: a scenario (and the overrides it needs to fire inside a 5-day run) for each intervention
SCENARIO_OF = {
    "takedown": ("takedown", 0, []),
    "site_blocking": ("blocking_webshops", 0, []),
    "substance_ban": ("nps_ban", 0, []),
    "parcel_interdiction": ("parcel_interdiction", 0, []),
    "payment": ("payment", 0, []),
    "exit_scam": ("exit_scam", 0, []),
    "drug_checking": ("harm_reduction", 0, ["scenario.interventions.1.start_day=2", "scenario.interventions.1.end_day=4"]),
    "red_alert": ("harm_reduction", 1, ["scenario.interventions.0.start_day=2", "scenario.interventions.1.end_day=4"]),
    "honeypot": ("bayonet", 0, ["scenario.interventions.1.start_day=3"]),
    "price_change": ("price_rise", 0, []),
    "prevention_campaign": ("prevention", 0, ["scenario.interventions.0.end_day=4"]),
}


def _numeric_keys() -> list[tuple[str, Range, type, list[str]]]:
    """(override key, range, type, extra overrides) of every numeric parameter."""
    out = []

    def walk(obj, path):
        for f in fields(obj):
            value = getattr(obj, f.name)
            key = f"{path}.{f.name}" if path else f.name
            if is_dataclass(value):
                walk(value, key)
            elif is_number(value) and range_of(f) is not None:
                out.append((key, range_of(f), type(value), []))

    walk(Config(), "")
    for f in fields(SubstanceConfig):
        r = range_of(f)
        if r is not None:
            out.append((f"substances.1.{f.name}", r, float, []))
    for name, cls in REGISTRY.items():
        scenario, i, extra = SCENARIO_OF[name]
        for f in fields(cls.Params):
            r = range_of(f)
            if r is not None:
                typ = int if f.type in ("int", int) else float
                out.append(
                    (
                        f"+scenario.interventions.{i}.params.{f.name}",
                        r,
                        typ,
                        [f"scenario={scenario}", f"scenario.interventions.{i}.start_day=2", *extra],
                    )
                )
    return out


KEYS = _numeric_keys()
#: daily columns documented as empty where undefined (docs/outputs.md): no online order in the window
MAY_BE_EMPTY = ("hhi", "mean_trust_online")
#: small values only, so that a valid draw runs in well under a second
SMALL = 10.0


def valid_value(r: Range, typ: type) -> st.SearchStrategy:
    lo = r.lo if r.lo is not None else -SMALL
    hi = min(r.hi, lo + SMALL) if r.hi is not None else lo + SMALL
    if typ is int:
        lo_i, hi_i = math.ceil(lo + (1e-9 if r.lo_open else 0)), math.floor(hi - (1e-9 if r.hi_open else 0))
        return st.integers(lo_i, max(lo_i, hi_i))
    return st.floats(lo, hi, exclude_min=r.lo_open, exclude_max=r.hi_open, allow_nan=False)


def invalid_value(r: Range, typ: type) -> st.SearchStrategy:
    options = [st.sampled_from(["abc", "nan", "inf", "[1]"])]
    if r.lo is not None:
        options.append(st.just(r.lo) if r.lo_open else st.floats(r.lo - 1e6, r.lo, exclude_max=True, allow_nan=False))
    if r.hi is not None:
        options.append(st.floats(r.hi, r.hi + 1e6, exclude_min=True, allow_nan=False))
    return st.one_of(options)


@st.composite
def overrides(draw):
    key, r, typ, extra = draw(st.sampled_from(KEYS))
    valid = draw(st.booleans())
    value = draw(valid_value(r, typ) if valid else invalid_value(r, typ))
    text = repr(value) if isinstance(value, float) else str(value)
    return key, r, typ, extra, value, text


def _out_of_range(r: Range, typ: type, value) -> bool:
    if isinstance(value, str):
        return value != "nan" and value != "inf" or not r.contains(float(value))
    if typ is int and isinstance(value, float) and not value.is_integer():
        return True
    return not r.contains(float(value))


@pytest.mark.filterwarnings("error::RuntimeWarning")  # overflow, invalid casts: a numeric bug, not noise
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(overrides())
def test_random_override_completes_or_is_refused_naming_the_key(draw):
    key, r, typ, extra, value, text = draw
    leaf = key.rsplit(".", 1)[-1]
    try:
        cfg = compose([*TINY, *extra, f"{key}={text}"])
    except ConfigError as err:
        message = str(err)
        assert "\n" not in message.strip(), f"one-line message: {message}"
        assert leaf in message, f"the message names {leaf!r}: {message}"
        return
    assert not _out_of_range(r, typ, value), f"{key}={text} is outside {r.describe()} and must be refused"
    model, tables = simulate(cfg)
    daily = tables["daily"]
    numbers = daily.select_dtypes("number")
    assert len(daily) == cfg.run.days, "every day recorded"
    assert not numbers.abs().eq(float("inf")).any().any(), f"{key}={text}: no infinite outputs"
    defined = numbers.drop(columns=list(MAY_BE_EMPTY))
    assert defined.notna().all().all(), f"{key}={text}: NaN in {defined.columns[defined.isna().any()].tolist()}"


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
@given(overrides())
def test_random_override_on_the_command_line_leaves_nothing_behind(tmp_path_factory, draw):
    key, _r, _typ, extra, _value, text = draw
    parent = tmp_path_factory.mktemp("cli")
    (parent / "keep.txt").write_text("mine")
    out = parent / "run"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *TINY, *extra, f"{key}={text}", f"hydra.run.dir={out}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert (parent / "keep.txt").read_text() == "mine", "existing files are untouched"
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    if proc.returncode == 0:
        assert (out / "status.json").read_text().count('"finished"') == 1, "a completed run is marked finished"
    else:
        assert proc.returncode == 2, f"refusal exits 2: {proc.returncode} {proc.stderr[-800:]}"
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and key.rsplit(".", 1)[-1] in lines[0], f"one line naming the key: {proc.stderr[-800:]}"
        assert not out.exists(), "a refused run leaves nothing on disk"
        assert sorted(p.name for p in parent.iterdir()) == ["keep.txt"]


@pytest.mark.parametrize("key", [k[0] for k in KEYS][:3])
def test_the_key_list_covers_the_schema(key):
    assert len(KEYS) > 100, f"every numeric parameter is drawn from ({len(KEYS)} keys)"
