"""The explorer page: Mesa's SolaraViz around an :class:`~sim.explore.session.ExplorerModel`.

Started by ``python -m sim.explore`` (README "Interactive explorer"). The sidebar holds Mesa's
controls (reset, play, step) and the model's parameters; the pages hold the intervention buttons,
the market table, the download button and the live figures. Elements the browser test reads carry
``data-testid`` attributes or CSS classes named ``cmabm-...``.
"""

from __future__ import annotations

import html

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from sim.errors import ConfigError
from sim.explore import figures
from sim.explore.session import LEVERS, SCENARIOS, SUBSTANCE_TABLES, ExplorerModel, default_value
from sim.runner import compose

#: the page's parameter controls; defaults are the configuration's (configs/)
_DEFAULTS = compose([])


def model_params() -> dict:
    """SolaraViz's parameter controls, keyed by :class:`ExplorerModel`'s keyword arguments."""
    d = _DEFAULTS
    return {
        "n_buyers": {"type": "SliderInt", "value": 20_000, "label": "Buyers", "min": 5_000, "max": 200_000, "step": 5_000},
        "tech_skill_share": {
            "type": "SliderFloat",
            "value": d.model.buyers.tech_skill_share,
            "label": "Share with Tor skill at start",
            "min": 0.0,
            "max": 0.1,
            "step": 0.0001,  # the default (0.0118) lies on it
        },
        "decentralised_markets": {
            "type": "SliderInt",
            "value": d.model.markets.initial_decentralised,
            "label": "Decentralised markets at start",
            "min": 0,
            "max": 5,
            "step": 1,
        },
        "substances": {"type": "Select", "value": "default", "label": "Substance table", "values": list(SUBSTANCE_TABLES)},
        "scenario_name": {"type": "Select", "value": "baseline", "label": "Scenario", "values": list(SCENARIOS)},
        "seed": {"type": "SliderInt", "value": 0, "label": "Seed", "min": 0, "max": 999, "step": 1},
        "days": {"type": "SliderInt", "value": d.run.days, "label": "Days to record", "min": 30, "max": 1825, "step": 5},
        "counterfactual": {"type": "Checkbox", "value": True, "label": "Run the counterfactual alongside"},
        # fixed: Reset cannot catch errors, so refused settings are shown on the page instead
        "bad_settings": "show",
    }


# ---------------------------------------------------------------------- components
@solara.component
def LeverRow(model: ExplorerModel, lever, on_result, tick: int = 0):
    """One intervention: its main parameter, the market for market interventions, and the button.

    ``tick`` (Mesa's update counter) changes after every step, so the row is redrawn: Solara redraws
    a component only when its arguments change.
    """
    value = solara.use_reactive(default_value(lever) or 0.0)  # levers without a parameter draw no slider
    target = solara.use_reactive("largest")
    choices = ["largest", *model.open_markets()] if lever.chooses_market else []
    # a chosen market that has closed since falls back to "largest", as the selector then shows
    chosen = target.value if target.value in choices else "largest"

    def apply() -> None:
        try:
            entry = model.apply_now(lever.name, value.value, chosen if lever.chooses_market else None)
        except ConfigError as err:
            on_result(f"refused: {err}", False)
            return
        where = f" on {entry.target}" if entry.target else ""
        on_result(f"{lever.label}{where}: scheduled for the dawn of day {entry.start_day}", True)
        force_update()

    with solara.Row(style="align-items: center; flex-wrap: wrap"):
        solara.Button(
            lever.label,
            on_click=apply,
            color="error" if lever.chooses_market else "primary",
            disabled=not model.running,
            classes=[f"cmabm-apply-{lever.name}"],
        )
        if lever.chooses_market:
            solara.Select("market", value=chosen, values=choices, on_value=target.set, style="max-width: 220px")
        if lever.param is not None:
            solara.SliderFloat(f"{lever.param} = {value.value:.2f}", value=value, min=lever.lo, max=lever.hi, step=lever.step)


@solara.component
def InterventionPanel(model: ExplorerModel, tick: int = 0):
    """Buttons that apply an intervention at the next day's dawn, with its main parameter (``tick``: see LeverRow)."""
    # (model, day it was said, text, ok): a notice belongs to one model and to the day it was given
    nothing: tuple[ExplorerModel | None, int, str, bool] = (None, 0, "", True)
    result = solara.use_reactive(nothing)
    with solara.Card("Apply an intervention now", style="min-width: 420px"):
        c = model.cfg
        # plain text, not Markdown: Markdown pulls KaTeX from a CDN, which an offline machine cannot reach
        solara.Text(
            f"{c.model.n_buyers:,} buyers, seed {c.seed}, scenario {c.scenario.name}, Tor skill at start "
            f"{c.model.buyers.tech_skill_share:.4f}, {c.model.markets.initial_decentralised} decentralised market(s), "
            f"substance table {model.substances}. "
            f"{model.days_recorded} of {c.run.days} days recorded (last: day {model.day}). An intervention applied "
            "now starts at the dawn of the next day, in the run only; the counterfactual goes on without it."
        )
        for lever in LEVERS:
            LeverRow(model, lever, lambda text, ok: result.set((model, model.days_recorded, text, ok)), tick=tick)
        said_to, said_on, text, ok = result.value
        if text and said_to is model and said_on == model.days_recorded:
            (solara.Success if ok else solara.Error)(text, classes=["cmabm-intervention-result"])
        if model.message:
            solara.Error(model.message, classes=["cmabm-run-message"])
        elif not model.running:
            solara.Info(
                f"The run has ended after {model.days_recorded} recorded days. Download its tables below, "
                "or change the parameters and press Reset.",
                classes=["cmabm-run-message"],
            )
        log = model.intervention_log()
        if log:
            lines = "".join("<li>" + html.escape(_log_line(row)) + "</li>" for row in log)
            solara.HTML(tag="div", unsafe_innerHTML="Interventions:<ul>" + lines + "</ul>", attributes={"data-testid": "applied"})


def _log_line(row: dict) -> str:
    """One intervention of :meth:`ExplorerModel.intervention_log` as text."""
    where = ""
    if row["markets"]:
        where = " on " + ", ".join(row["markets"])
    elif row["target"]:
        where = f" on {row['target']}"
    params = " " + ", ".join(f"{k}={v}" for k, v in row["params"].items()) if row["params"] else ""
    return f"day {row['day']}: {row['name']}{where}{params} ({row['source']}; {row['state']})"


#: market-table columns drawn right-aligned (numbers)
_NUMERIC = {"sales_last_7d", "vendors", "trust", "opened_day"}


def market_table_html(model: ExplorerModel) -> str:
    """The market table as HTML rows with ``data-market`` and ``data-column`` attributes (the browser test reads them)."""
    rows = model.market_rows()

    def cell(tag: str, column: str, text: str, extra: str = "") -> str:
        align = "right" if column in _NUMERIC else "left"
        return f'<{tag} style="padding: 1px 10px; text-align: {align}"{extra}>{html.escape(text)}</{tag}>'

    head = "".join(cell("th", str(c), str(c)) for c in rows.columns)
    body = []
    for rec in rows.to_dict("records"):
        cells = "".join(cell("td", str(k), str(v), f' data-column="{html.escape(str(k))}"') for k, v in rec.items())
        body.append(
            f'<tr data-market="{html.escape(str(rec["market"]))}" data-status="{html.escape(str(rec["status"]))}">{cells}</tr>'
        )
    return f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"


@solara.component
def MarketTable(model: ExplorerModel, tick: int = 0):
    """Markets opened so far: name, kind, status, sales in the last 7 days, vendors, trust; the download button (``tick``: see LeverRow)."""
    with solara.Card("Markets"):
        solara.Text(f"Day {model.day}; sales are the last 7 recorded days of the run (not the counterfactual).")
        solara.HTML(
            tag="table",
            unsafe_innerHTML=market_table_html(model),
            attributes={"data-testid": "market-table"},
            style="font-size: 12px; border-collapse: collapse",
        )
        if model.days_recorded == 0:
            solara.Text("Nothing to download before the first recorded day.")
        else:
            solara.FileDownload(
                model.download,
                filename=model.download_name(),
                label="Download the run's tables (zip: Parquet tables as run.py writes them, counterfactual/, config.yaml, manifest.json)",
            )


@solara.component
def PricePurity(model: ExplorerModel, tick: int = 0):
    """Price and purity of one substance, chosen on the card (``tick``: see LeverRow)."""
    names = list(model.treated.subs.names)
    substance = solara.use_reactive(names[0])
    chosen = substance.value if substance.value in names else names[0]
    with solara.Card("Price and purity"):
        solara.Select("substance", value=chosen, values=names, on_value=substance.set)
        solara.FigureMatplotlib(figures.price_purity_figure(model, chosen))


def _figure_card(title: str, draw):
    def card(model: ExplorerModel):
        with solara.Card(title) as main:
            if model.error:
                solara.Text("nothing to show: the settings were refused (see above)")
            else:
                solara.FigureMatplotlib(draw(model))
        return main

    card.__name__ = f"card_{draw.__name__}"
    return card


def price_card(model: ExplorerModel):
    """Price and purity (a plain function, so SolaraViz redraws it every step)."""
    if model.error:
        return solara.Text("nothing to show: the settings were refused (see above)")
    return PricePurity(model, tick=update_counter.value)


#: SolaraViz's pages of figures (component, page); the intervention panel and market table sit above them
FIGURES = [
    (_figure_card("Online volume", figures.volume_figure), 0),
    (_figure_card("Market shares", figures.shares_figure), 0),
    (_figure_card("Users and harm", figures.users_harm_figure), 0),
    (_figure_card("Trust", figures.trust_figure), 0),
    (price_card, 1),
    (_figure_card("Arrests and money lost", figures.enforcement_figure), 1),
]


@solara.component
def Explorer(model: solara.Reactive[ExplorerModel]):
    """The whole page around a reactive model (SolaraViz's Reset replaces ``model.value``)."""
    with solara.Column(style="width: 100%"):
        Panels(model.value)
        SolaraViz(model, components=FIGURES, model_params=model_params(), name="cryptomarket-abm explorer", play_interval=50)


@solara.component
def Panels(model: ExplorerModel):
    """The intervention buttons and the market table, redrawn after every step."""
    tick = update_counter.value
    if model.error:
        solara.Error(f"{model.error}. Change the model parameters and press Reset.", classes=["cmabm-settings-error"])
        return
    with solara.Row(style="align-items: flex-start; flex-wrap: wrap; width: 100%"):
        InterventionPanel(model, tick=tick)
        MarketTable(model, tick=tick)


@solara.component
def Page():
    """The page ``solara run`` serves: one model per browser session."""
    model = solara.use_reactive(solara.use_memo(lambda: ExplorerModel(bad_settings="show"), []))
    Explorer(model)
