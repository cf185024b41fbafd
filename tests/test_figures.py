"""Figures on small hand-made tables (no simulation): files, intervals, censoring, words, validation."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from sim import figures
from sim.figures import (
    draw_displacement,
    draw_distribution,
    draw_timeseries,
    draw_validation,
    interval_of_mean,
    key_label,
    metric_label,
    run_figures,
    setting_label,
    style,
    sweep_figures,
    validation_figure,
)

# a layout that collapses or a text that cannot be placed warns: fail on it
pytestmark = pytest.mark.filterwarnings("error::UserWarning")

DAYS, T0 = 60, 30
BLOCK = "scenario.interventions.0.params.block_share"
RATE = "scenario.interventions.0.params.workaround_rate"
DEST = ("other_cryptomarkets", "webshop", "decentralised", "offline", "nowhere")


def sweep_tables(settings: list[dict], seeds: int = 6, seed: int = 0, baseline: bool = True):
    """runs_daily and runs_summary as sim/report.py builds them: a baseline and intervention settings.

    Each intervention run has its counterfactual (equal to the baseline at the same seed, as with
    common random numbers) and lowers online sales from day T0 by its ``effect``.
    """
    rng = np.random.default_rng(seed)
    base_runs = {s: np.clip(80 + rng.normal(0, 40, DAYS), 0, None) for s in range(seeds)}  # skewed, many zeros possible
    daily, summary = [], []
    rows = ([{"scenario": "baseline"}] if baseline else []) + settings
    for st in rows:
        effect = st.get("effect", 0.0)
        keys = {k: v for k, v in st.items() if k != "effect"}
        for s in range(seeds):
            cf = base_runs[s]
            treated = cf.copy()
            if keys["scenario"] != "baseline":
                treated[T0:] = np.clip(cf[T0:] * (1 - effect) + rng.normal(0, 5, DAYS - T0), 0, None)
            arms = [("treated", treated)] + ([("counterfactual", cf)] if keys["scenario"] != "baseline" else [])
            for arm, v in arms:
                daily.append(
                    pd.DataFrame(
                        {
                            "day": np.arange(DAYS),
                            "arm": arm,
                            "online_value_eur": v,
                            "mean_trust_online": 0.4 + v / 1000,
                            **keys,
                            "seed": s,
                        }
                    )
                )
            row = {**keys, "seed": s, "online_volume_eur_per_day": treated.mean()}
            if keys["scenario"] != "baseline":
                days = int(rng.integers(5, 40))
                row.update(
                    online_drop=effect + rng.normal(0, 0.05),
                    online_days_to_recovery=days,
                    online_recovery_censored=days > 30,
                    trust_half_recovery_days=days // 2,
                    trust_half_recovery_censored=False,
                )
                for d in ("displacement", "market_displacement"):
                    for w in ("30d", "90d"):
                        parts = rng.normal(0.1, 0.2, len(DEST))
                        row.update({f"{d}_{w}_{k}": v for k, v in zip(DEST, parts)})
                        row[f"{d}_{w}_target_lost"] = parts.sum()
            summary.append(row)
    return pd.concat(daily, ignore_index=True), pd.DataFrame(summary)


RC = {
    "metrics": ["online_value_eur", "mean_trust_online"],
    "summary": ["online_volume_eur_per_day", "online_drop"],
    "baseline": "baseline",
    "smooth_days": 7,
}


def written(folder, name):
    png, pdf = folder / f"{name}.png", folder / f"{name}.pdf"
    return png.exists() and png.stat().st_size > 0 and pdf.exists() and pdf.stat().st_size > 0


def test_every_sweep_figure_is_written(tmp_path):
    daily, summary = sweep_tables([{"scenario": "takedown", "effect": 0.6}, {"scenario": "raid", "effect": 0.3}])
    out = sweep_figures(daily, summary, ["scenario", "seed"], RC, tmp_path, events=[T0])
    names = [
        "timeseries_online_value_eur",
        "effect_online_value_eur",
        "timeseries_mean_trust_online",
        "effect_mean_trust_online",
        "displacement",
        "distribution_online_drop",
        "distribution_online_days_to_recovery",
        "distribution_trust_half_recovery_days",
    ]
    for name in names:
        assert written(tmp_path, name), f"{name}.png / .pdf not written"
        assert tmp_path / f"{name}.png" in out, f"{name}.png not among the returned paths {out}"
    assert not list(tmp_path.glob("heatmap*")), "a one-key sweep has no heat map"


def test_two_parameter_sweep_draws_annotated_heatmaps(tmp_path, monkeypatch):
    settings = [{"scenario": "blocking", BLOCK: b, RATE: r, "effect": b} for b in (0.3, 0.9) for r in (0.01, 0.05)]
    daily, summary = sweep_tables(settings, seeds=3, baseline=False)
    captured = {}
    save = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, folder, name: captured.setdefault(name, fig) and save(fig, folder, name))
    rc = {**RC, "metrics": [], "summary": ["online_drop"]}  # time series are tested above
    out = sweep_figures(daily, summary, [BLOCK, RATE, "seed"], rc, tmp_path)
    assert written(tmp_path, "heatmap_online_drop") and tmp_path / "heatmap_online_drop.png" in out, (
        "heatmap_online_drop not written"
    )
    fig = captured["heatmap_online_drop"]
    ax = fig.axes[0]
    assert ax.get_xlabel() == "share learning a workaround per day" and ax.get_ylabel() == "share of buyers blocked", (
        f"heat map axes must name the keys in words, got {ax.get_xlabel()!r} / {ax.get_ylabel()!r}"
    )
    cells = [t.get_text() for t in ax.texts]
    assert len(cells) == 4 and all("n = 3" in t for t in cells), f"each cell shows its value and n: {cells}"


def test_many_settings_are_faceted_with_the_reference_in_each_panel():
    settings = [{"scenario": f"policy_{i}", "effect": 0.1 * (i + 1)} for i in range(6)]
    daily, _ = sweep_tables(settings, seeds=5)
    fig = draw_timeseries(daily, ["scenario", "seed"], "online_value_eur", RC, [T0])
    panels = [ax for ax in fig.axes if ax.get_visible()]
    assert len(panels) == 6, f"6 settings > {figures.MAX_OVERLAID}: one panel each, got {len(panels)}"
    for ax in panels:
        black = [ln for ln in ax.get_lines() if matplotlib.colors.to_hex(ln.get_color()) == "#000000"]
        assert black, f"panel {ax.get_title()!r} lacks the reference without intervention"
        assert "(n = 5)" in ax.get_title(), f"panel title shows n: {ax.get_title()!r}"
    matplotlib.pyplot.close(fig)


def test_bootstrap_interval_of_a_nonnegative_quantity_stays_above_zero():
    rng = np.random.default_rng(3)
    wide = pd.DataFrame(np.where(rng.random((40, 5)) < 0.6, 0.0, rng.exponential(50, (40, 5))))  # mostly zeros, skewed
    boot = interval_of_mean(wide, "bootstrap")
    t = interval_of_mean(wide, "t")
    assert (t["low"] < 0).any(), "test data must be such that a t-interval goes below zero"
    assert (boot["low"].dropna() >= 0).all(), f"bootstrap interval went below zero: {boot['low'].min()}"
    assert (boot["low"] <= boot["mean"] + 1e-12).all() and (boot["mean"] <= boot["high"] + 1e-12).all(), (
        "mean inside its interval"
    )
    assert (boot["n"] == 5).all(), "n counts the runs with a value"
    one = interval_of_mean(pd.DataFrame({"a": [1.0, 2.0]}), "bootstrap")
    assert one["low"].isna().all() and one["mean"].tolist() == [1.0, 2.0], "n = 1: mean, no interval"


def test_drawn_bands_of_a_nonnegative_quantity_never_go_below_zero():
    daily, _ = sweep_tables([{"scenario": "takedown", "effect": 0.95}], seeds=6)
    daily.loc[daily["arm"] == "treated", "online_value_eur"] *= daily.loc[daily["arm"] == "treated", "day"] % 3 == 0  # many zeros
    fig = draw_timeseries(daily, ["scenario", "seed"], "online_value_eur", RC, [T0])
    bands = [c for ax in fig.axes for c in ax.collections if isinstance(c, PolyCollection) and c.get_gid() == "interval"]
    assert bands, "with 6 runs per setting a band is drawn"
    lowest = min(p.vertices[:, 1].min() for c in bands for p in c.get_paths())
    assert lowest >= 0, f"a band of online sales (EUR, non-negative) goes below zero: {lowest}"
    caption = fig.legends[0].get_title().get_text() + " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "bootstrap percentile" in caption, "the legend says which interval is drawn"
    matplotlib.pyplot.close(fig)


def test_few_runs_are_drawn_singly_instead_of_a_band():
    daily, _ = sweep_tables([{"scenario": "takedown", "effect": 0.5}], seeds=3)
    fig = draw_timeseries(daily, ["scenario", "seed"], "online_value_eur", RC, effect=True)
    ax = fig.axes[0]
    assert not [c for c in ax.collections if c.get_gid() == "interval"], "no band from 3 runs"
    assert len([ln for ln in ax.get_lines() if ln.get_gid() == "single run"]) == 3, "the 3 runs are drawn singly"
    matplotlib.pyplot.close(fig)


def test_censored_value_is_an_open_marker_with_an_arrow():
    rs = pd.DataFrame(
        {
            "scenario": ["baseline", "takedown", "takedown", "takedown"],
            "seed": [0, 0, 1, 2],
            "online_days_to_recovery": [None, 20, 120, 35],
            "online_recovery_censored": [None, False, True, False],
        }
    )
    fig = draw_distribution(rs, ["scenario"], "online_days_to_recovery")
    ax = fig.axes[0]
    censored = [c for c in ax.collections if c.get_gid() == "censored"]
    observed = [c for c in ax.collections if c.get_gid() == "observed"]
    assert len(censored) == 1, "one collection of censored runs"
    assert censored[0].get_offsets()[:, 0].tolist() == [120.0], f"censored run drawn: {censored[0].get_offsets()}"
    face = censored[0].get_facecolors()
    assert len(face) == 0 or (face[:, 3] == 0).all(), "censored marker is open (no fill)"
    assert sorted(observed[0].get_offsets()[:, 0].tolist()) == [20.0, 35.0], "observed runs are filled markers"
    arrows = [t for t in ax.texts if getattr(t, "arrow_patch", None) is not None]
    assert len(arrows) >= 1, "the censored value has an arrow to larger values"
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "censored: did not recover by the end of the run" in legend, f"legend explains censoring: {legend!r}"
    ticks = " ".join(t.get_text() for t in ax.get_yticklabels())
    assert "n = 3, censored 1" in ticks, f"n and censored count are shown: {ticks!r}"
    matplotlib.pyplot.close(fig)


def test_legends_and_labels_use_words():
    assert (
        setting_label(["scenario", BLOCK], ("takedown", 0.5), 5) == "scenario = takedown, share of buyers blocked = 0.5 (n = 5)"
    ), "legend entries name the keys in words"
    assert key_label("model.buyers.some_new_thing") == "some new thing", "unknown keys: last component, spaces"
    assert key_label("scenario.interventions.1.params.block_share") == "share of buyers blocked (intervention 2)", (
        "second intervention"
    )
    assert metric_label("online_value_eur") == "Online sales, EUR per day", "known column in words with unit"
    assert metric_label("mystery_metric") == "Mystery metric", "unknown column falls back to its name in words"
    daily, _ = sweep_tables([{"scenario": "takedown", BLOCK: 0.5, "effect": 0.5}], seeds=5)
    fig = draw_timeseries(daily, ["scenario", BLOCK, "seed"], "online_value_eur", RC, [T0])
    texts = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "scenario = takedown, share of buyers blocked = 0.5 (n = 5)" in texts, f"legend in words: {texts}"
    assert not any(BLOCK in t for t in texts), f"no raw dotted key in the legend: {texts}"
    assert fig.get_suptitle() == "Online sales by setting", f"title in words: {fig.get_suptitle()!r}"
    fig.canvas.draw()  # constrained layout places the legend at draw time
    legend_box = fig.legends[0].get_window_extent()
    axes_box = fig.axes[0].get_window_extent()
    assert legend_box.y1 <= axes_box.y0, "the legend sits below the axes, not on the data"
    matplotlib.pyplot.close(fig)


def test_colours_do_not_repeat():
    looks = [(style(i)["color"], style(i)["ls"], style(i)["marker"]) for i in range(20)]
    assert len(set(looks)) == 20, "every setting gets its own colour / line style / marker"
    assert len({style(i)["color"] for i in range(7)}) == 7, "the first seven settings differ in colour"


def test_displacement_shows_negative_shares_and_n():
    daily, summary = sweep_tables([{"scenario": "takedown", "effect": 0.5}], seeds=4)
    summary.loc[summary["scenario"] == "takedown", "displacement_30d_webshop"] = -0.4
    fig = draw_displacement(summary, ["scenario", "seed"])
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4, "cohort and all buyers x 30 and 90 days"
    ax = fig.axes[0]
    ys = np.concatenate([c.get_offsets()[:, 1] for c in ax.collections if len(c.get_offsets())])
    assert (ys <= -0.4 + 1e-9).any(), "negative shares are drawn, not clipped"
    assert ax.get_ylim()[0] < -0.4, "the axis shows negative shares"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "scenario = takedown (n = 4)" in legend, f"legend gives n per setting: {legend}"
    matplotlib.pyplot.close(fig)


def test_validation_figure_handles_rows_without_values(tmp_path):
    nan = math.nan
    table = pd.DataFrame(
        [
            ("delivery_reliability", "input", 0.85, 0.95, 0.9, 0.88, 0.92, True, "holds"),
            ("vendor_concentration", "emergent", 0.3, 0.5, 0.16, 0.12, 0.2, False, "fails"),
            ("online_price_premium.cannabis", "emergent", 1.0, 1.3, nan, nan, nan, None, "not modelled yet"),
            ("nothing_at_all", "emergent", nan, nan, nan, nan, nan, None, "not modelled yet"),
        ],
        columns=["pattern", "kind", "low", "high", "mean", "ci_low", "ci_high", "holds", "status"],
    )
    path = validation_figure(table, tmp_path)
    assert path == tmp_path / "validation.png" and written(tmp_path, "validation"), "validation.png / .pdf written"
    fig = draw_validation(table)
    statuses = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "status"]
    assert statuses == ["holds", "fails", "not modelled yet", "not modelled yet"], f"one status label per row: {statuses}"
    assert any("input" in t.get_text() for ax in fig.axes for t in ax.texts), "inputs are marked"
    matplotlib.pyplot.close(fig)
    assert written(tmp_path, "validation") and validation_figure(table.iloc[:0], tmp_path / "empty").exists(), (
        "an empty table still draws"
    )


def test_run_figures_draw_the_counterfactual_and_label_interventions(tmp_path, monkeypatch):
    days = np.arange(80)
    rng = np.random.default_rng(1)

    def daily(scale):
        d = {"day": days, "mean_trust_online": np.full(80, 0.5)}
        for c in ("offline", "webshop", "cryptomarket", "decentralised"):
            d[f"value_{c}_eur"] = rng.uniform(10, 50, 80) * (scale if c == "cryptomarket" else 1)
        return pd.DataFrame(d)

    cf = daily(1.0)
    treated = cf.copy()
    treated.loc[40:, "value_cryptomarket_eur"] = 0.0
    markets = pd.DataFrame(
        {
            "day": np.repeat(days, 2),
            "market": ["crypto_1", "shop_1"] * 80,
            "kind": ["cryptomarket", "webshop"] * 80,
            "value_eur": 10.0,
        }
    )
    events = pd.DataFrame(
        {"day": [40, 12], "event": ["intervention_takedown", "market_opened"], "target": ["crypto_1", "shop_2"], "detail": ""}
    )
    captured = {}
    save = figures._save
    monkeypatch.setattr(figures, "_save", lambda fig, folder, name: captured.setdefault(name, fig) and save(fig, folder, name))
    out = run_figures(
        {"daily": treated, "markets": markets, "events": events}, tmp_path, counterfactual={"daily": cf, "markets": markets}
    )
    for name in ("online_volume_by_channel", "market_shares", "mean_trust"):
        assert written(tmp_path, name) and tmp_path / f"{name}.png" in out, f"{name} not written"
    fig = captured["online_volume_by_channel"]
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() not in ("-", "None", ":")]
    assert len(dashed) == 3, f"each online channel's counterfactual is dashed: {len(dashed)}"
    assert len(fig.axes) == 2, "a second panel shows the difference to the counterfactual"
    legend = " ".join(t.get_text() for t in fig.legends[0].get_texts())
    assert "1: day 40, takedown (crypto_1)" in legend and "market opened" not in legend, f"interventions labelled: {legend!r}"
    assert "1" in [t.get_text() for t in fig.axes[0].texts], "the intervention line is numbered on the plot"


def test_distribution_figure_keeps_its_signature(tmp_path):
    rs = pd.DataFrame({"scenario": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "online_drop": [0.1, 0.2, -0.1, 0.3]})
    path = figures.distribution_figure(rs, ["scenario"], "online_drop", "drop (share)", tmp_path)
    assert path == tmp_path / "distribution_online_drop.png" and written(tmp_path, "distribution_online_drop"), (
        "written by the old call"
    )
