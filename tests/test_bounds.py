"""Bounds that keep a run finite: every numeric parameter has a finite upper bound, the values a hostile
trial found are refused naming their key, a run that overflows all the same ends in one line naming
the settings to blame, outputs are checked finite before they are written, and a population too small
for its figures says so (sim/params.py, sim/runner.py:simulate, sim/output.py, sim/summary.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import fields, is_dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim.config import Config, InterventionConfig, SubstanceConfig
from sim.errors import ConfigError
from sim.interventions import REGISTRY
from sim.params import GENERIC_BOUND, Range, range_of, unbounded_numbers
from sim.runner import compose, simulate, simulate_pair

ROOT = Path(__file__).resolve().parent.parent
TINY = ["model.n_buyers=300", "run.days=5", "run.burn_in_days=1", "run.figures=false", "run.progress=false"]
#: parameters whose value multiplies a run's events or memory: each must declare a bound of its own
#: (the generic one would allow a million markets, vendors or days)
WORK_KEYS = (
    "run.days",
    "run.burn_in_days",
    "model.n_buyers",
    "model.buyers.purchases_per_month_mean",
    "model.demand.potential_users_per_user",
    "model.demand.start_attempts_per_month",
    "model.markets.initial_cryptomarkets",
    "model.markets.initial_decentralised",
    "model.markets.initial_webshops",
    "model.markets.new_cryptomarkets_per_year",
    "model.markets.new_decentralised_per_year",
    "model.markets.new_webshops_per_year",
    "model.markets.migration_news_days",
    "model.vendors.vendors_per_1000_online_buyers",
    "model.vendors.entry_per_100_unserved",
    "model.vendors.entry_base_weekly_per_1000",
    "model.vendors.max_substances",
    "model.forum.delay_days",
    "model.forum.window_days",
    "model.street.dealers_per_1000_users",
    "model.social.max_portions",
)


def schema_ranges() -> dict[str, Range]:
    """Every numeric parameter of the schema and of the interventions, with its declared range."""
    return {key: r for key, (r, _) in schema_fields().items()}


def schema_fields() -> dict[str, tuple[Range, bool]]:
    """Every numeric parameter of the schema and of the interventions: its range, and whether it is an int."""
    out: dict[str, tuple[Range, bool]] = {}

    def add(key: str, f) -> None:
        r = range_of(f)
        if r is not None:
            out[key] = (r, f.type in ("int", "int | None", int))

    def walk(obj, path: str) -> None:
        for f in fields(obj):
            value = getattr(obj, f.name)
            key = f"{path}.{f.name}" if path else f.name
            if is_dataclass(value):
                walk(value, key)
            else:
                add(key, f)

    walk(Config(), "")
    for f in fields(SubstanceConfig):
        add(f"substances[].{f.name}", f)
    for name, cls in REGISTRY.items():
        for f in fields(cls.Params):
            add(f"{name}.params.{f.name}", f)
    return out


def one_line_naming(err: BaseException | str, *words: str) -> str:
    """The error's message, checked to be one line naming every word of ``words``."""
    message = str(err)
    assert "\n" not in message.strip(), f"one line: {message}"
    for w in words:
        assert w in message, f"the message must name {w!r}: {message}"
    return message


# ----------------------------------------------------------------------------- declared bounds
def test_every_numeric_parameter_has_a_finite_upper_bound():
    """Schema, substance table and every intervention's Params: finite lower and upper bounds."""
    missing = unbounded_numbers(Config) + unbounded_numbers(SubstanceConfig, "substances[]")
    missing += unbounded_numbers(InterventionConfig, "scenario.interventions[]")
    for name, cls in REGISTRY.items():
        missing += unbounded_numbers(cls.Params, f"{name}.params")
    assert not missing, f"numeric parameters without finite bounds: {missing}"
    ranges = schema_ranges()
    assert len(ranges) > 150, f"every numeric parameter is checked ({len(ranges)})"
    unexplained = [k for k, r in ranges.items() if not r.why and not r.generic_hi]
    assert not unexplained, f"bounds of their own without a why: {unexplained}"


def test_a_range_without_an_upper_bound_gets_the_generic_one():
    r = Range(lo=0.0)
    assert r.hi == GENERIC_BOUND and r.generic_hi, f"the generic bound applies: {r}"
    assert not r.contains(GENERIC_BOUND * 10), "a value above the generic bound is refused"
    assert Range(lo=None).lo == -GENERIC_BOUND, "an undeclared lower bound is the generic one, negated"
    assert not Range(lo=0, hi=10).contains(10**400), "an int too large for a float is refused, not an OverflowError"


@pytest.mark.parametrize("key", WORK_KEYS)
def test_rates_that_multiply_the_work_have_bounds_of_their_own(key):
    r = schema_ranges()[key]
    assert not r.generic_hi and r.hi is not None and r.hi <= 100_000_000, f"{key}: a bound of its own, not {r.describe()}"
    assert r.why, f"{key}: the declaration says why its bound is what it is"


def test_every_default_lies_inside_its_bounds():
    """Schema defaults, interventions' defaults and the default substance table."""
    cfg = compose([])  # validates the default configuration and substance table
    assert cfg.model.n_buyers == 20000, "the default configuration composes"
    for name, cls in REGISTRY.items():
        p = cls.Params()
        for f in fields(p):
            r, value = range_of(f), getattr(p, f.name)
            if r is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                assert r.contains(value), f"{name}.params.{f.name}={value}: default outside {r.describe()}"


def _text_overrides() -> list[tuple[str, str, str]]:
    """(file, key, value) of every numeric ``key=value`` override written in the README, docs/ and experiments/."""
    pattern = re.compile(r"((?:model|run|seed)[\w.]*|scenario\.interventions\.\d+\.params\.\w+)=([-0-9.e]+(?:,[-0-9.e]+)*)")
    out = []
    for f in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "experiments").glob("*.yaml"))]:
        for m in pattern.finditer(f.read_text()):
            for v in m.group(2).split(","):
                out.append((f.name, m.group(1), v))
    return out


def _yaml_values() -> list[tuple[str, str, object]]:
    """(file, key, value) of the numeric settings of experiments/ and configs/scenario/ and of parameters.yaml's ranges."""
    out: list[tuple[str, str, object]] = []

    def walk(d, path: str, where: str) -> None:
        if isinstance(d, dict):
            for k, v in d.items():
                walk(v, f"{path}.{k}" if path else str(k), where)
        elif isinstance(d, list):
            for i, v in enumerate(d):
                if isinstance(v, dict) and "params" in v and "name" in v:
                    for k, pv in (v.get("params") or {}).items():
                        out.append((where, f"{v['name']}.params.{k}", pv))
                else:
                    walk(v, f"{path}.{i}", where)
        elif isinstance(d, str) and path.startswith("hydra.sweeper.params."):
            key = path.removeprefix("hydra.sweeper.params.")
            if not d.startswith("range(") and key != "scenario":
                out.extend((where, key, v) for v in d.split(","))
        else:
            out.append((where, path, d))

    for f in [*sorted((ROOT / "experiments").glob("*.yaml")), *sorted((ROOT / "configs" / "scenario").glob("*.yaml"))]:
        walk(yaml.safe_load(f.read_text()), "", f.name)
    for entry in yaml.safe_load((ROOT / "sim" / "data" / "parameters.yaml").read_text())["parameters"]:
        out += [("parameters.yaml", entry["key"], v) for v in entry["range"]]
    return out


def test_values_used_in_configs_experiments_and_docs_lie_inside_the_bounds():
    ranges = schema_ranges()
    by_leaf: dict[str, list[Range]] = {}
    for key, r in ranges.items():
        if ".params." in key:
            by_leaf.setdefault(key.rsplit(".", 1)[1], []).append(r)
    checked, outside = 0, []
    for where, key, value in _text_overrides() + _yaml_values():
        try:
            x = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if ".params." in key:
            candidates = by_leaf.get(key.rsplit(".", 1)[1], [])
        else:
            candidates = [ranges[key]] if key in ranges else []
        for r in candidates:
            checked += 1
            if not r.contains(x):
                outside.append(f"{where}: {key}={value} outside {r.describe()}")
    assert checked > 30, f"the documented values were found ({checked})"
    assert not outside, f"documented values outside their bounds: {outside}"


# ----------------------------------------------------------------------------- hostile values
@pytest.mark.parametrize(
    "overrides, key",
    [
        (["model.buyers.purchases_per_month_mean=1e308"], "purchases_per_month_mean"),
        (["model.choice.beta_price=1e308"], "beta_price"),
        (
            ["scenario=price_rise", "scenario.interventions.0.start_day=2", "scenario.interventions.0.params.factor=1e308"],
            "factor",
        ),
        (["model.buyers.purchases_per_month_logsd=1e308"], "purchases_per_month_logsd"),
        (
            [
                "scenario=takedown",
                "scenario.interventions.0.start_day=2",
                "++scenario.interventions.0.params.publicity_half_life_days=1e308",
            ],
            "publicity_half_life_days",
        ),
        (["model.vendors.vendors_per_1000_online_buyers=1e12"], "vendors_per_1000_online_buyers"),
        (["model.markets.initial_cryptomarkets=10000000"], "initial_cryptomarkets"),
        (["model.demand.dose_harm_exponent=1000"], "dose_harm_exponent"),
        (["model.choice.conv_offline=-1e300"], "conv_offline"),
        (["seed=" + "9" * 400], "seed"),
        (["model.buyers.units_per_purchase.cannabis=1e308"], "units_per_purchase"),
    ],
)
def test_a_hostile_value_is_refused_naming_its_key(overrides, key):
    """The values of the hostile trial: refused before anything runs, with one line naming the key (not another)."""
    with pytest.raises(ConfigError) as err:
        compose([*TINY, *overrides])
    message = one_line_naming(err.value, key)
    assert "model.n_buyers" not in message or key == "n_buyers", f"the key to blame, not model.n_buyers: {message}"


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # 30 / 0 on the way to the overflow
def test_a_run_that_overflows_ends_in_one_line_naming_the_setting():
    """A value inside its bounds that still overflows (a subnormal rate: 30 / rate is infinite): the guard."""
    cfg = compose([*TINY, "model.buyers.purchases_per_month_mean=5e-324"])
    with pytest.raises(ConfigError) as err:
        simulate(cfg)
    message = one_line_naming(err.value, "overflowed", "purchases_per_month_mean")
    assert "Traceback" not in message, message


def test_the_overflow_message_names_the_farthest_settings_first():
    from sim.summary import far_settings, overflow_message

    cfg = compose(
        [
            "model.choice.beta_price=20",
            "scenario=takedown",
            "++scenario.interventions.0.params.publicity_half_life_days=30000",
            "substances.1.purity_offline_mean=0.01",
        ]
    )
    far = far_settings(cfg)
    assert "publicity_half_life_days=30000" in far[0], f"largest ratio first (1000): {far}"
    assert any("(cocaine).purity_offline_mean=0.01" in f for f in far), f"substances compared with the default table: {far}"
    message = overflow_message(cfg, FloatingPointError("overflow encountered in multiply"), 200)
    one_line_naming(message, "day 200", "overflow encountered in multiply", "publicity_half_life_days")
    assert far_settings(compose([])) == [], "the defaults are far from nothing"


#: parameters whose upper bound is the size of the run itself: a tiny run at that bound is not tiny
SIZE_KEYS = ("run.days", "run.burn_in_days", "model.n_buyers")


def upper_corners() -> list[tuple[str, list[str]]]:
    """(key, overrides) setting one parameter to its upper bound, for every parameter but the run's size."""
    from tests.test_properties import KEYS

    out = []
    for key, r, typ, extra in KEYS:
        if key in SIZE_KEYS:
            continue
        hi = float(r.hi)
        if r.hi_open:
            hi = hi - 1 if typ is int else float(np.nextafter(hi, -np.inf))
        text = str(math.floor(hi)) if typ is int else repr(hi)
        out.append((key, [*extra, f"{key}={text}"]))
    return out


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the guard, not numpy's warning, is what is checked
@pytest.mark.parametrize("key, overrides", upper_corners(), ids=[k for k, _ in upper_corners()])
def test_every_parameter_at_its_upper_bound_runs_finite_or_ends_in_one_line(key, overrides):
    """At its upper bound a parameter gives a run with finite outputs, or a one-line error naming a setting."""
    from sim.output import check_finite
    from sim.summary import assemble, run_facts

    leaf = key.rsplit(".", 1)[-1]
    try:
        cfg = compose([*TINY, *overrides])
    except ConfigError as err:
        one_line_naming(err, leaf)
        return
    try:
        model, tables = simulate(cfg)
        check_finite(tables, assemble(run_facts(model, tables), tables), cfg)
    except ConfigError as err:  # the overflow guard or the finite check: one line naming the setting
        one_line_naming(err, leaf)
        return
    assert len(tables["daily"]) == cfg.run.days, f"{key} at its bound: every day recorded"


# ----------------------------------------------------------------------------- finite outputs
@pytest.fixture(scope="module")
def small_pair():
    cfg = compose(
        [
            "model.n_buyers=2000",
            "run.days=40",
            "run.burn_in_days=20",
            "scenario=takedown",
            "scenario.interventions.0.start_day=10",
        ]
    )
    return cfg, simulate_pair(cfg)


def test_the_default_run_raises_nothing_under_the_overflow_guard(small_pair):
    """The guard raises on overflow; a short default-settings run (with a takedown) has none."""
    from sim.output import check_finite
    from sim.summary import assemble

    cfg, (facts, tables, counterfactual) = small_pair
    assert len(tables["daily"]) == 40, "every day recorded"
    check_finite(tables, assemble(facts, tables, counterfactual[1] if counterfactual else None), cfg)


def test_finite_outputs_are_written(small_pair, tmp_path):
    from sim.output import write_outputs

    cfg, (facts, tables, cf) = small_pair
    write_outputs(facts, tables, tmp_path / "out", cfg, manifest={}, counterfactual=cf)
    assert (tmp_path / "out" / "daily.parquet").exists(), "a finite run writes its tables"


@pytest.mark.parametrize(
    "table, column, bad",
    [("daily", "value_webshop_eur", float("nan")), ("daily", "harm", float("inf")), ("daily", "hhi", float("inf"))],
)
def test_a_non_finite_value_stops_the_writing_naming_the_column(small_pair, tmp_path, table, column, bad):
    from sim.output import write_outputs

    cfg, (facts, tables, cf) = small_pair
    broken = {k: v.copy() for k, v in tables.items()}
    broken[table][column] = broken[table][column].astype(float)
    broken[table].loc[broken[table].index[3], column] = bad
    with pytest.raises(ConfigError) as err:
        write_outputs(facts, broken, tmp_path / "out", cfg, manifest={}, counterfactual=cf)
    one_line_naming(err.value, f"{table}.parquet column {column}", "day 3")
    assert not (tmp_path / "out").exists(), "no table is written"


def test_documented_empty_values_pass(small_pair, tmp_path):
    """hhi and mean_trust_online may be NaN (docs/outputs.md), the undefined headline figures null."""
    from sim.output import check_finite
    from sim.summary import assemble

    cfg, (facts, tables, cf) = small_pair
    daily = tables["daily"].copy()
    daily["hhi"] = float("nan")
    daily["mean_trust_online"] = float("nan")
    summary = assemble(facts, {**tables, "daily": daily})
    summary["run"]["delivery_success_rate"] = float("nan")
    check_finite({**tables, "daily": daily}, summary, cfg)
    summary["run"]["harm_per_day"] = float("nan")
    with pytest.raises(ConfigError) as err:
        check_finite(tables, summary, cfg)
    one_line_naming(err.value, "run.harm_per_day")


# ----------------------------------------------------------------------------- small populations
def test_a_population_too_small_for_its_figures_warns_with_the_size_it_needs():
    from sim.summary import MIN_ONLINE_USERS, online_capable_share, population_warnings

    cfg = compose(["model.n_buyers=50", "run.figures=false"])
    warnings = population_warnings(cfg)
    assert len(warnings) == 1 and "delivery success rate" in warnings[0], f"one warning about delivery success: {warnings}"
    size = int(re.search(r"model\.n_buyers=(\d+) or more", warnings[0]).group(1))
    assert size >= MIN_ONLINE_USERS / online_capable_share(cfg), (
        f"the size gives {MIN_ONLINE_USERS:g} online-capable users: {size}"
    )
    assert population_warnings(compose([f"model.n_buyers={size}"])) == [], f"at {size} buyers no warning: {warnings[0]}"
    assert population_warnings(compose([])) == [], "the default size gives every figure"
    assert population_warnings(compose(["scenario=takedown", "model.n_buyers=5000"])) == [], "the README's small takedown sweep"
    takedown = population_warnings(compose(["scenario=takedown", "model.n_buyers=500"]))
    assert any("effects of scenario takedown" in w for w in takedown), f"a scenario's effects too: {takedown}"
    short = population_warnings(compose(["run.days=1", "run.burn_in_days=0"]))
    assert short and short[0].startswith("run.days=1"), f"a horizon shorter than shipping names run.days: {short}"


def test_a_tiny_run_prints_the_warning_at_the_start_and_reports_n_a(capsys):
    from sim.summary import headline_text

    facts, tables, cf = simulate_pair(compose(TINY))
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines and lines[0].startswith("warning: model.n_buyers=300"), f"a warning line on stderr: {err}"
    assert "delivery success rate" in lines[0] and "or more gives it" in lines[0], f"with the size it needs: {lines[0]}"
    h = facts["headline"]
    assert math.isnan(h["delivery_success_rate"]), "no deliveries in 5 days at 300 buyers (else pick a smaller run)"
    text = headline_text(h)
    assert "delivery success n/a (no deliveries)" in text and "nan" not in text, f"the headline says n/a: {text}"


def test_the_headline_text_formats_defined_figures():
    from sim.summary import headline_text

    h = {
        "online_volume_eur_per_day": 3519.4,
        "online_share_of_purchases": {"all": 0.1401},
        "delivery_success_rate": 0.9231,
        "active_markets_end": 11,
    }
    text = headline_text(h)
    assert text == "online volume 3519 EUR/day, online share 0.140, delivery success 0.923, markets at end 11", text
    assert "n/a (no purchases)" in headline_text({**h, "online_share_of_purchases": {"all": np.nan}}), "empty share"
