"""The explorer without a browser: the model pair, its interventions, tables, figures and page components.

The browser test (tests/test_explorer_browser.py) drives the served page in Chromium.
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import sys
import zipfile

import pandas as pd
import pytest

from sim.errors import ConfigError
from sim.explore import figures
from sim.explore.session import LEVERS, ExplorerModel, default_value, market_shares
from sim.runner import compose, simulate_pair
from tests.conftest import ROOT

SMALL = {"n_buyers": 3000, "days": 40, "seed": 4}


def _stepped(steps: int, **kw) -> ExplorerModel:
    ex = ExplorerModel(**{**SMALL, **kw})
    for _ in range(steps):
        ex.step()
    return ex


@pytest.fixture(scope="module")
def taken_down() -> ExplorerModel:
    """12 days, a takedown of the largest cryptomarket applied on day 11 (dawn of 12), 28 days in all."""
    ex = _stepped(12)
    entry = ex.apply_now("takedown")
    assert entry.start_day == 12, f"an intervention applied after day 11 starts at the dawn of day 12, not {entry.start_day}"
    for _ in range(16):
        ex.step()
    return ex


def test_counterfactual_is_identical_until_the_intervention_and_differs_after(taken_down):
    run, cf = taken_down.tables()["daily"], taken_down.counterfactual_tables()["daily"]
    before, after = run["day"] < 12, run["day"] >= 12
    pd.testing.assert_frame_equal(run[before], cf[before], obj="daily rows before the takedown (same seed, no intervention yet)")
    assert not run[after].equals(cf[after]), "the takedown changed nothing from its start day on"
    assert (run[after]["sales_cryptomarket"].sum() != cf[after]["sales_cryptomarket"].sum()) or (
        run[after]["escrow_lost_eur"].sum() > 0
    ), "the takedown neither moved cryptomarket sales nor froze escrow"


def test_the_taken_down_market_shows_seized_with_no_sales_while_others_sell(taken_down):
    rows = taken_down.market_rows().set_index("market")
    seized = rows[rows["status"] == "seized"]
    assert len(seized) == 1, f"one market is seized: {rows}"
    assert seized["sales_last_7d"].iloc[0] == 0, f"the seized market still sells: {seized}"
    others = rows.drop(index=seized.index)
    assert others["sales_last_7d"].sum() > 0, f"no other market sells: {others}"
    assert taken_down.intervention_days() == [(12, "takedown")], "the page marks the day the takedown fired"


@pytest.mark.parametrize("pending", [False, True])
def test_run_py_with_the_reproduce_overrides_gives_the_same_tables(pending):
    """Interventions applied live become scenario entries: run.py's composition reproduces every table.

    The scenario's own takedown comes on day 14 (and, with ``pending``, after the last recorded
    day, with one more intervention waiting for the next dawn): those not started are left out,
    and the cohorts keep their numbers.
    """
    own_day = 30 if pending else 14
    ex = _stepped(8, scenario_name="takedown", overrides=[f"scenario.interventions.0.start_day={own_day}"])
    ex.apply_now("site_blocking", 0.7)
    ex.apply_now("substance_ban", 0.5)
    for _ in range(4):
        ex.step()
    ex.apply_now("exit_scam", target=ex.open_markets()[-1])
    for _ in range(8):
        ex.step()
    if pending:
        ex.apply_now("payment")
        assert [e.name for e in ex.pending()] == ["takedown", "payment"], ex.pending()
    command = ex.reproduce_command()
    assert command.startswith("python run.py "), command
    facts, tables, cf = simulate_pair(compose(shlex.split(command)[2:]))
    for name, df in tables.items():
        pd.testing.assert_frame_equal(df, ex.tables()[name], obj=f"{name} of run.py against the explorer's")
    for name, df in cf[1].items():
        pd.testing.assert_frame_equal(df, ex.counterfactual_tables()[name], obj=f"counterfactual {name}")
    names = (
        ["site_blocking", "substance_ban", "exit_scam"]
        if pending
        else ["site_blocking", "substance_ban", "exit_scam", "takedown"]
    )
    assert [r["name"] for r in facts["records"]] == names, facts["records"]
    assert ex.download_name().startswith("cmabm-explorer_takedown_explorer_s4_day19"), ex.download_name()
    zipfile.ZipFile(io.BytesIO(ex.download()))  # a download works with interventions still waiting


def test_download_holds_the_tables_as_run_py_writes_them(taken_down):
    archive = zipfile.ZipFile(io.BytesIO(taken_down.download()))
    names = set(archive.namelist())
    for table in ("daily", "markets", "substances", "events", "vendors", "cohorts"):
        assert f"{table}.parquet" in names, f"{table}.parquet missing from {sorted(names)}"
        assert f"counterfactual/{table}.parquet" in names, f"counterfactual/{table}.parquet missing"
    daily = pd.read_parquet(io.BytesIO(archive.read("daily.parquet")))
    pd.testing.assert_frame_equal(daily, taken_down.tables()["daily"], obj="downloaded daily table")
    info = json.loads(archive.read("manifest.json"))
    assert info["seed"] == SMALL["seed"] and info["days_recorded"] == 28, info
    assert info["git_revision"] is not None and "run.py" in info["reproduce"], info
    assert "takedown" in archive.read("config.yaml").decode(), "config.yaml lists the applied takedown"


@pytest.mark.parametrize(
    ("name", "value", "target", "message"),
    [
        ("nuke", None, None, "allowed are"),
        ("site_blocking", 1.5, None, "block_share"),
        ("takedown", None, "crypto_999", "not an open hidden market"),
    ],
)
def test_bad_interventions_are_refused_with_a_clear_message(name, value, target, message):
    ex = _stepped(2)
    with pytest.raises(ConfigError, match=message):
        ex.apply_now(name, value, target)
    assert ex.applied == [] and ex.treated.police.actions == [], "a refused intervention left something scheduled"


def test_a_market_already_to_be_closed_is_refused_and_the_log_names_the_markets_hit():
    ex = _stepped(4)
    market = ex.open_markets()[0]
    ex.apply_now("takedown", target=market)
    with pytest.raises(ConfigError, match="already to be closed by a takedown"):
        ex.apply_now("exit_scam", target=market)
    assert [r["state"] for r in ex.intervention_log()] == ["waiting"], ex.intervention_log()
    other = ExplorerModel(**SMALL)
    for _ in range(4):
        other.step()
    other.apply_now("exit_scam")  # "largest", resolved at the dawn: it may be any market
    with pytest.raises(ConfigError, match="may close"):
        other.apply_now("takedown", target=other.open_markets()[0])
    ex.step()
    (row,) = ex.intervention_log()
    assert row["state"] == "started" and row["markets"] == [market] and row["source"] == "page", row


def test_reset_in_solaraviz_builds_the_model_from_the_page_parameters():
    """Mesa's Reset passes the page's parameters back (its own ``scenario`` must not replace ours)."""
    pytest.importorskip("solara")
    from mesa.visualization.solara_viz import _build_model_init_kwargs

    from sim.explore.page import model_params

    ex = ExplorerModel(n_buyers=3000, days=40, bad_settings="show")
    params = {k: v["value"] if isinstance(v, dict) else v for k, v in model_params().items()}
    params.update(n_buyers=3000, scenario_name="takedown", days=400)
    kwargs = _build_model_init_kwargs(ex, params, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    fresh = type(ex)(**kwargs)
    assert fresh.error is None and fresh.cfg.scenario.name == "takedown" and fresh.cfg.run.days == 400, fresh.error
    params.update(days=200)
    refused = type(ex)(**_build_model_init_kwargs(ex, params, add_scenario_when_empty=True, require_model_accepts_scenario=True))
    assert refused.error and "start_day=365" in refused.error and not refused.running, refused.error


def test_an_ended_run_refuses_interventions_and_stops():
    ex = _stepped(5, days=3)
    assert not ex.running and ex.days_recorded == 3, "the run stops at run.days"
    with pytest.raises(ConfigError, match="ended"):
        ex.apply_now("payment")


def test_refused_settings_raise_or_are_shown():
    with pytest.raises(ConfigError, match="start_day"):
        ExplorerModel(n_buyers=3000, days=30, scenario_name="takedown")
    shown = ExplorerModel(n_buyers=3000, days=30, scenario_name="takedown", bad_settings="show")
    assert shown.error and "start_day" in shown.error and not shown.running, shown.error


def test_every_lever_applies_with_its_default():
    ex = _stepped(3)
    for lever in LEVERS:
        entry = ex.apply_now(lever.name, default_value(lever))
        assert entry.name == lever.name and entry.start_day == 3, entry
    ex.step()
    fired = {a.name for a in ex.treated.police.actions if a.fired}
    assert fired == {lever.name for lever in LEVERS}, f"not every intervention fired: {fired}"


def test_figures_are_labelled_and_handle_the_empty_start(taken_down):
    fresh = ExplorerModel(**SMALL)
    for ex in (fresh, taken_down):
        for draw in (
            figures.volume_figure,
            figures.shares_figure,
            figures.trust_figure,
            figures.users_harm_figure,
            figures.enforcement_figure,
            lambda e: figures.price_purity_figure(e, e.treated.subs.names[0]),
        ):
            fig = draw(ex)
            axes = fig.get_axes()
            assert axes, "a figure without axes"
            if ex is taken_down:
                assert all(ax.get_ylabel() for ax in axes), f"an axis without a label in {fig._suptitle.get_text()!r}"
                assert f"n = {SMALL['n_buyers']:,} buyers" in fig._suptitle.get_text(), "the caption gives n"
    shares = market_shares(taken_down.tables()["markets"]).dropna()
    assert len(shares) and ((shares.sum(axis=1) - 1).abs() < 1e-9).all(), "market shares of a 7-day window sum to 1 each day"


def test_a_slider_value_is_the_share_as_set():
    ex = ExplorerModel(n_buyers=3000, days=40, tech_skill_share=0.011800000000000001)
    assert ex.cfg.model.buyers.tech_skill_share == 0.0118, "six decimals: the configured default, not slider noise"


def test_page_buttons_apply_interventions_without_a_browser():
    solara = pytest.importorskip("solara")
    import ipyvuetify as v

    from sim.explore.page import Panels

    ex = _stepped(6)
    _, rc = solara.render(Panels(ex), handle_error=False)
    rc.find(v.Btn, children=["Block web shops"]).widget.click()
    assert [e.name for e in ex.applied] == ["site_blocking"], ex.applied
    assert "dawn of day 6" in str(rc.find(v.Alert).widget.children), "the page confirms the scheduled day"
    table = rc.find(tag="table").widget.unsafe_innerHTML
    assert table.count("<tr data-market=") == len(ex.market_rows()), "the table has one row per market opened so far"
    assert 'data-status="active"' in table, "the table shows market status"


def test_launcher_refuses_bad_arguments_and_defaults_to_loopback():
    from sim.explore.__main__ import LOOPBACK, parse

    assert parse([]).host == LOOPBACK == "127.0.0.1", "the page binds to the loopback address by default"
    out = subprocess.run([sys.executable, "-m", "sim.explore", "--port", "70000"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "allowed are 0 to 65535" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_a_port_in_use_is_refused_in_one_line_before_the_server_starts():
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "sim.explore", "--port", str(port)], capture_output=True, text=True, timeout=120
        )
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, f"refused with status 2: {proc.stderr[-800:]}"
    assert len(lines) == 1 and str(port) in lines[0] and "starting" not in proc.stdout.lower(), (
        f"one line naming the port: {proc.stderr}"
    )
