"""A run's summary: headline figures, pattern checks against published targets, intervention effects.

Computation only; :mod:`sim.output` writes the results to files.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim import metrics
from sim.domain import Channel
from sim.effects import EMPTY_EFFECTS, pair_effects

if TYPE_CHECKING:
    from sim.config import Config
    from sim.model import CryptoMarketModel

TARGETS_FILE = Path(__file__).resolve().parent / "data" / "targets.yaml"
DEFAULT_SUBSTANCES = Path(__file__).resolve().parent.parent / "configs" / "substances" / "default.yaml"


def run_facts(model: CryptoMarketModel, tables: dict[str, pd.DataFrame]) -> dict:
    """What a run's summary needs from its model, so the model can be freed before its counterfactual runs.

    ``probes`` are the cohorts the counterfactual run must follow: (intervention index, start day,
    target market columns) of each intervention that fired.
    """
    fired = [a for a in model.police.actions if a.fired]
    return {
        "headline": headline(model, tables),
        "units": dict(zip(model.subs.names, model.subs.purity_unit)),
        "records": [dict(a.record) for a in fired],
        "probes": [(a.index, a.start_day, [m.idx for m in a.targets]) for a in fired],
    }


def headline(model: CryptoMarketModel, tables: dict[str, pd.DataFrame]) -> dict:
    """Headline figures of one run (summary.json ``run``; docs/outputs.md)."""
    daily, markets, subs = tables["daily"], tables["markets"], tables["substances"]
    classes = dict(zip(model.subs.names, model.subs.drug_class))
    online = metrics.online_value(daily)
    life = metrics.market_lifespans(markets)
    orders = {k: model.orders.column(k) for k in ("buyer", "vendor", "market", "day")}
    recorded = orders["day"] >= 0
    vendor_orders = np.bincount(orders["vendor"][recorded], minlength=model.vend.n)
    crypto = recorded & (model.market_table.kind[orders["market"]] == Channel.CRYPTOMARKET)
    last_year = orders["day"] >= int(daily["day"].max()) - 364
    share = metrics.online_share_of_purchases(subs, classes)
    return {
        "days": int(len(daily)),
        "online_volume_eur_per_day": float(online.mean()),
        "offline_volume_eur_per_day": float(daily["value_offline_eur"].mean()),
        "online_share_of_purchases": share,
        "active_markets_mean": float(daily["active_markets"].mean()),
        "active_markets_end": int(daily["active_markets"].iloc[-1]),
        "active_cryptomarkets_end": int(
            ((markets.day == markets.day.max()) & (markets.kind == "cryptomarket") & (markets.status == "active")).sum()
        ),
        "active_vendors_mean": float(daily["active_vendors"].mean()),
        "delivery_success_rate": metrics.delivery_success_rate(daily),
        "mean_trust_online_mean": float(daily["mean_trust_online"].mean()),
        "hhi_mean": float(daily["hhi"].mean()),
        "arrests_vendors": int(daily["arrests_vendors"].sum()),
        "arrests_buyers": int(daily["arrests_buyers"].sum()),
        "parcels_seized": int(daily["parcels_seized"].sum()),
        "escrow_lost_eur": float(daily["escrow_lost_eur"].sum()),
        "harm_per_day": float(daily["harm"].mean()),
        "market_closures": int(len(life)),
        "market_lifespan_mean_days": float(life.mean()) if len(life) else None,
        "migration_concentration": metrics.migration_concentration(model.migrations),
        "top1pct_vendor_share": metrics.top_vendor_share(vendor_orders),
        "top10pct_buyer_share": metrics.top_buyer_share(orders["buyer"][recorded & last_year]),
        "wholesale_share": metrics.wholesale_share(tables["vendors"]) if "vendors" in tables else None,
        "multi_homing_share": metrics.multi_homing_share(
            orders["buyer"][crypto & last_year], orders["market"][crypto & last_year], orders["day"][crypto & last_year]
        ),
        "price_premium": metrics.price_premium(subs),
        "purity_difference": metrics.purity_difference(subs),
        "money_imbalance_eur": float(model.ledger.imbalance()),
    }


#: what an intervention's effects say when the run has no counterfactual (run.counterfactual=false)
NO_COUNTERFACTUAL = (
    "run.counterfactual=false: no counterfactual in this run; a sweep's collection computes the effects "
    "against the baseline arm at the same seed"
)


def summarise(
    model: CryptoMarketModel, tables: dict[str, pd.DataFrame], counterfactual: dict[str, pd.DataFrame] | None = None
) -> dict:
    """A run's summary from its model and tables (and its counterfactual's tables, for the effects)."""
    return assemble(run_facts(model, tables), tables, counterfactual)


def assemble(facts: dict, tables: dict[str, pd.DataFrame], counterfactual: dict[str, pd.DataFrame] | None = None) -> dict:
    """summary.json: headline, pattern checks, and each fired intervention's effects against the counterfactual."""
    if counterfactual is not None:
        effects = [pair_effects(tables, counterfactual, r) for r in facts["records"]]
    else:
        effects = [{**r, **EMPTY_EFFECTS, "note": NO_COUNTERFACTUAL} for r in facts["records"]]
    return {
        "run": facts["headline"],
        "patterns": pattern_checks(facts["headline"], facts["units"]),
        "interventions": effects,
        "counterfactual": counterfactual is not None,
    }


def pattern_checks(h: dict, units: dict[str, str] | None = None) -> list[dict]:
    """Compare one run's headline figures with the published targets in ``sim/data/targets.yaml``.

    A quick look at one run; ``python -m sim.validate`` checks every pattern over seeds. ``kind``
    says whether the figure is an input the model is fed (``input``) or follows from mechanisms.

    ``units`` maps substance names to their purity unit (``fraction`` or ``mg``), which sets the
    tolerance of the purity comparison.
    """
    units = units or {}
    import yaml

    targets = {t["id"]: t for t in yaml.safe_load(TARGETS_FILE.read_text())}
    checks = []

    def add(tid: str, value, band, note: str = "") -> None:
        ok = None if value is None or (isinstance(value, float) and math.isnan(value)) else bool(band[0] <= value <= band[1])
        target = targets.get(tid.split(".")[0], {})
        checks.append(
            {
                "id": tid,
                "value": value,
                "band": list(band),
                "within": ok,
                "kind": target.get("kind"),
                "source": target.get("source"),
                "note": note,
            }
        )

    for tid, key in (
        ("delivery_reliability", "delivery_success_rate"),
        ("migration_concentration", "migration_concentration"),
        ("vendor_concentration", "top1pct_vendor_share"),
        ("market_lifespan", "market_lifespan_mean_days"),
        ("buyer_concentration", "top10pct_buyer_share"),
        ("multi_homing", "multi_homing_share"),
        ("wholesale_share", "wholesale_share"),
    ):
        add(tid, h[key], targets[tid]["band"])
    band = targets["online_share_of_samples"]["band"]
    add("online_share_of_samples.classic", h["online_share_of_purchases"].get("classic"), band["classic"])
    add("online_share_of_samples.nps", h["online_share_of_purchases"].get("nps"), band["nps"])
    for sub, ratio in h["price_premium"].items():
        add(f"online_price_premium.{sub}", ratio, targets["online_price_premium"]["band"])
    purity = targets["purity_online_vs_offline"]
    for sub, obs in purity["observed_difference"].items():
        if sub in h["purity_difference"]:
            tol = purity["tolerance"][units.get(sub, "fraction")]
            add(
                f"purity_online_vs_offline.{sub}",
                h["purity_difference"][sub],
                (obs - tol, obs + tol),
                f"observed difference {obs}",
            )
    return checks


def json_safe(x):
    """JSON-safe: NaN -> None, numpy scalars -> Python."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if math.isnan(x) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.bool_):
        return bool(x)
    return x


# ----------------------------------------------------------------------------- guards
#: settings named by a message about a run that went wrong: at most this many
SUSPECTS_SHOWN = 3
#: a setting counts as far from its default from this ratio on (:func:`sim.params.departure`)
FAR_RATIO = 2.0


def far_settings(cfg: Config) -> list[str]:
    """The settings farthest from their defaults, largest ratio first, as ``key=value (default d)``.

    Model and run settings are compared with the schema's defaults, interventions' parameters with
    their ``Params`` defaults, substances with the rows of the same name in the default table.
    """
    import yaml

    from sim.config import Config as Schema
    from sim.config import SubstanceConfig
    from sim.interventions import REGISTRY
    from sim.params import far_from_default

    ref = Schema()
    rows = far_from_default(cfg.model, ref.model, "model") + far_from_default(cfg.run, ref.run, "run")
    for i, iv in enumerate(cfg.scenario.interventions):
        cls = REGISTRY.get(iv.name)
        if cls is not None:
            where = f"scenario.interventions[{i}] ({iv.name})"
            rows += far_from_default(cls.parse_params(dict(iv.params or {}), where), cls.Params(), f"{where}.params")
    try:  # a ``# @package _global_`` file: the rows sit under ``substances``
        entries = yaml.safe_load(DEFAULT_SUBSTANCES.read_text())["substances"]
        table = {r["name"]: SubstanceConfig(**r) for r in entries}
    except (OSError, TypeError, KeyError, yaml.YAMLError):
        table = {}
    for i, sub in enumerate(cfg.substances):
        if sub.name in table:
            rows += far_from_default(sub, table[sub.name], f"substances[{i}] ({sub.name})")
    rows.sort(key=lambda r: -r[3])
    return [f"{key}={value:g} (default {default:g})" for key, value, default, ratio in rows if ratio >= FAR_RATIO]


def overflow_message(cfg: Config, err: BaseException, day: int | None = None) -> str:
    """One line for a run whose arithmetic overflowed (or gave NaN): when, what, and the settings most likely to blame."""
    when = "while the model was built" if day is None else f"on day {day}" + (" (burn-in)" if day < 0 else "")
    what = str(err).splitlines()[0] if str(err) else type(err).__name__
    suspects = far_settings(cfg)[:SUSPECTS_SHOWN]
    blame = (
        f"the settings farthest from their defaults: {'; '.join(suspects)}; bring them nearer their defaults"
        if suspects
        else "no setting is far from its default (a bug: please report it with the command line)"
    )
    happened = "overflowed" if "overflow" in what.lower() or isinstance(err, OverflowError) else "became undefined"
    return f"the run's arithmetic {happened} {when} ({what}): {blame}"


#: share of an online-capable user's purchase occasions that end in an online order at the start of
#: a run: 0.08 to 0.16 in the first 30 recorded days of default runs (5,000 buyers, seeds 0-2;
#: 20,000 buyers, seeds 0-1). Later in a run it is higher (Tor skill spreads), so estimates from it
#: err on the side of warning
ONLINE_ORDER_SHARE = 0.12
#: online-capable users (at the start) below which a run often has no online order at all: orders
#: cluster on a few frequent buyers (the top tenth make about half), so what matters first is how
#: many people can buy online. Year-long default runs, eight seeds each: at 55 such users (500
#: buyers) one run had no online order, at 76 (690 buyers) none did; at 22 (200 buyers) a third
MIN_ONLINE_USERS = 100.0
#: expected online orders below which a figure counted from them may be undefined even with enough
#: online-capable users: at 40 expected (5,000 buyers, 10 days) eight seeds had 23 to 48
MIN_ONLINE_ORDERS = 20.0
#: the longest window of an intervention's effects, days (``displacement_90d``, ``deterrence_90d``,
#: the 90 days of the trust gap): each needs online orders in it
EFFECT_DAYS = 90


def online_capable_share(cfg: Config) -> float:
    """Share of users able to buy online at the start: Tor skill, or web shops without it."""
    b = cfg.model.buyers
    return b.tech_skill_share + (1.0 - b.tech_skill_share) * b.webshop_use_share


def online_orders_per_day(cfg: Config) -> float:
    """Online orders a day the configuration leads one to expect at the start, from its parameters.

    Users (``model.n_buyers``) x the share able to buy online x purchase occasions a day x
    :data:`ONLINE_ORDER_SHARE`.
    """
    return cfg.model.n_buyers * online_capable_share(cfg) * cfg.model.buyers.purchases_per_month_mean / 30.0 * ONLINE_ORDER_SHARE


def population_warnings(cfg: Config) -> list[str]:
    """Warnings about figures the run is likely too small to give, each naming the size that would give them.

    The delivery success rate needs online orders whose outcome is learned in the recorded days
    (after the shipping delay); an intervention's effects need online trade in the days from its
    start. Both need :data:`MIN_ONLINE_USERS` online-capable users and :data:`MIN_ONLINE_ORDERS`
    expected orders in their window; both grow in proportion to ``model.n_buyers``.
    """
    from sim.params import MAX_PEOPLE

    n = cfg.model.n_buyers
    share = online_capable_share(cfg)
    per_day = online_orders_per_day(cfg)
    delay = max(1.0, cfg.model.escrow.shipping_days_domestic)
    window = cfg.run.days - max(0.0, delay - cfg.run.burn_in_days)

    def short(figure: str, days: float, otherwise: str) -> str | None:
        """A warning if ``days`` of online trade likely fall short of ``figure``, else None."""
        expected = per_day * days
        if n * share >= MIN_ONLINE_USERS and expected >= MIN_ONLINE_ORDERS:
            return None
        size = max(MIN_ONLINE_USERS / share, n * MIN_ONLINE_ORDERS / expected) if expected > 0 else math.inf
        gives = f"model.n_buyers={math.ceil(size)} or more gives it" if size <= MAX_PEOPLE else "no population size gives it"
        return (
            f"model.n_buyers={n} is likely too small for {figure}: about {n * share:.3g} users can buy online ({n} x "
            f"{share:.1%}; with fewer than {MIN_ONLINE_USERS:g} there is often no online order) and about {expected:.3g} "
            f"online orders are expected in {days:g} days; {gives} ({otherwise})"
        )

    out: list[str | None] = []
    if window <= 0:
        out.append(
            f"run.days={cfg.run.days} is likely too short for the delivery success rate: shipping takes about {delay:g} days "
            f"and the burn-in is {cfg.run.burn_in_days}, so few if any outcomes are learned before the end (else it reads n/a)"
        )
    else:
        out.append(short("the delivery success rate", window, "else it reads n/a"))
    if cfg.scenario.interventions:
        out.append(short(f"the effects of scenario {cfg.scenario.name}", EFFECT_DAYS, "effects without online trade are empty"))
    return [w for w in out if w]


def headline_text(h: dict) -> str:
    """The line ``run.py`` prints after a run: volume, online share, delivery success, markets at the end.

    Figures that are undefined (no purchases, no deliveries) read ``n/a`` with the reason, not ``nan``.
    """

    def num(x, fmt: str, why: str) -> str:
        return f"n/a ({why})" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)

    return (
        f"online volume {num(h['online_volume_eur_per_day'], '.0f', 'no days')} EUR/day, "
        f"online share {num(h['online_share_of_purchases'].get('all'), '.3f', 'no purchases')}, "
        f"delivery success {num(h['delivery_success_rate'], '.3f', 'no deliveries')}, "
        f"markets at end {h['active_markets_end']}"
    )
