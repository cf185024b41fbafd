"""Orders through their life: placement, outcome, escrow settlement (vectorised over a day).

These functions apply the rules of :mod:`sim.market.escrow` to a day's batch of orders in the
model's :class:`~sim.market.orders.OrderBook`. They use the ``orders`` random stream only, so
that changes elsewhere (e.g. an intervention) do not shift the draws that decide parcels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import isin_few, sorted_unique
from sim.domain import Origin
from sim.market.escrow import HELD, OrderEvent, OrderState, Outcome, flows_sum, transition_array
from sim.market.harm import consumption_harm
from sim.market.reputation import reputation_score
from sim.market.routes import seizure_prob

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel


def place_orders(
    model: CryptoMarketModel,
    buyers: np.ndarray,
    markets: np.ndarray,
    vendors: np.ndarray,
    subs: np.ndarray,
    portions: np.ndarray | None = None,
) -> np.ndarray:
    """Create the orders of a day's online purchases and schedule their outcomes and settlements.

    ``portions``: purchase-sized portions per order (default 1; social suppliers add their friends').
    """
    n = len(buyers)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if portions is None:
        portions = np.ones(n, dtype=np.int64)
    rng = model.streams["orders"]
    day = model.day
    price = model.vend.price[vendors, subs] * model.units[subs] * portions
    commission = model.market_table.commission[markets]
    u = rng.random((n, 7))
    into_escrow = model.market_table.has_escrow[markets] & ~_finalise_early(model, vendors, markets, u[:, 0])
    outcome, outcome_day, cross = _draw_outcomes(model, rng, vendors, subs, into_escrow, u[:, 1:5])
    purity = model.vend.purity[vendors, subs] * np.where(
        outcome == Outcome.NOT_AS_DESCRIBED, model.cfg.model.escrow.not_as_described_purity_factor, 1.0
    )
    state = np.where(into_escrow, OrderState.ESCROW, OrderState.PAID_OUT).astype(np.int8)
    ids = model.orders.add(
        buyer=buyers,
        vendor=vendors,
        market=markets,
        substance=subs,
        day=np.full(n, day),
        price=price,
        commission=commission,
        purity=purity,
        state=state,
        outcome=outcome,
        outcome_day=outcome_day,
        cross_border=cross,
        origin=model.vend.origin[vendors],
        portions=portions,
    )
    _take_payment(model, markets, price, commission, into_escrow)
    model.orders.schedule_outcome(ids, outcome_day)
    _schedule_escrow_events(model, ids, outcome, outcome_day, into_escrow, u[:, 5:7])
    return ids


def _finalise_early(model: CryptoMarketModel, vendors: np.ndarray, markets: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Orders whose vendor demands finalise-early: established vendors some of the time, scammers always."""
    cfg, vc = model.cfg.model.escrow, model.cfg.model.vendors
    cnt = model.vend.fb_count[vendors, markets]
    score = reputation_score(model.vend.fb_sum[vendors, markets], cnt, vc.rating_prior_good, vc.rating_prior_count)
    scammer = model.vend.scam_prob[vendors] >= vc.scam_prob_scammer
    return (
        model.market_table.has_escrow[markets]
        & (cnt >= cfg.finalise_early_min_feedback)
        & (score >= cfg.finalise_early_min_score)
        & (scammer | (u < cfg.finalise_early_demand_prob))
    )


def _draw_outcomes(
    model: CryptoMarketModel,
    rng: np.random.Generator,
    vendors: np.ndarray,
    subs: np.ndarray,
    into_escrow: np.ndarray,
    u: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What will happen to each parcel (fixed now, observed later): outcome, the day it is known, cross-border."""
    cfg, vend, day = model.cfg.model.escrow, model.vend, model.day
    n = len(vendors)
    exit_scamming = vend.exit_until[vendors] >= day
    scam_p = np.minimum(1.0, vend.scam_prob[vendors] * np.where(into_escrow, 1.0, 1.5))
    not_shipped = exit_scamming | (u[:, 0] < scam_p)
    origin = vend.origin[vendors]
    cross = origin != Origin.DOMESTIC
    seized = cross & (u[:, 1] < seizure_prob(model.levers.customs_prob, origin, vend.stealth[vendors]))
    lost = u[:, 2] < cfg.lost_in_post_prob
    nad = u[:, 3] < model.subs.nad_online[subs]
    outcome = np.full(n, Outcome.DELIVERED, dtype=np.int8)
    outcome[nad] = Outcome.NOT_AS_DESCRIBED
    outcome[lost] = Outcome.LOST
    outcome[seized] = Outcome.SEIZED
    outcome[not_shipped] = Outcome.NOT_SHIPPED
    mean_delay = np.where(cross, cfg.shipping_days_cross_border, cfg.shipping_days_domestic)
    delay = 1 + rng.poisson(np.maximum(mean_delay - 1.0, 0.0))
    arrived = (outcome == Outcome.DELIVERED) | (outcome == Outcome.NOT_AS_DESCRIBED)
    outcome_day = day + delay + np.where(arrived, 0, cfg.patience_days)
    return outcome, outcome_day, cross


def _take_payment(
    model: CryptoMarketModel, markets: np.ndarray, price: np.ndarray, commission: np.ndarray, into_escrow: np.ndarray
) -> None:
    """Money in: into escrow, or straight to the vendor less the market's commission."""
    paid = float(price.sum())
    held = price * into_escrow
    np.add.at(model.market_table.escrow, markets, held)
    direct = ~into_escrow
    com = float((price * commission * direct).sum())
    model.ledger.paid += paid
    model.ledger.escrow += float(held.sum())
    model.ledger.vendor += float((price * direct).sum()) - com
    model.ledger.commission += com


def _schedule_escrow_events(
    model: CryptoMarketModel,
    ids: np.ndarray,
    outcome: np.ndarray,
    outcome_day: np.ndarray,
    into_escrow: np.ndarray,
    u: np.ndarray,
) -> None:
    """Each order's escrow event: finalise on delivery, dispute, or auto-finalise; completion if paid out."""
    cfg = model.cfg.model.escrow
    auto_day = model.day + cfg.auto_finalise_days
    good = outcome == Outcome.DELIVERED
    finalise = good & (u[:, 0] < cfg.finalise_on_delivery_prob) & (outcome_day < auto_day)
    dispute = ~good & (u[:, 1] < cfg.dispute_prob)
    ev = np.where(finalise, OrderEvent.FINALISE, np.where(dispute, OrderEvent.DISPUTE, OrderEvent.AUTO_FINALISE))
    when = np.where(finalise, outcome_day, np.where(dispute, np.minimum(outcome_day, auto_day - 1), auto_day))
    e = into_escrow
    model.orders.schedule_settle(ids[e], when[e], ev[e].astype(np.int8))
    model.orders.schedule_settle(ids[~e], outcome_day[~e], np.full(int((~e).sum()), OrderEvent.COMPLETE, dtype=np.int8))


def process_settlements(model: CryptoMarketModel) -> None:
    """Apply the escrow events due today; disputes get a resolution scheduled."""
    ob = model.orders
    ids = ob.pop_settlements(model.day)
    if len(ids) == 0:
        return
    rng = model.streams["orders"]
    cfg = model.cfg.model.escrow
    state = ob.state[ids]
    # orders frozen or stolen in the meantime have nothing left to settle
    live = isin_few(state, (*HELD, OrderState.PAID_OUT))
    ids, state = ids[live], state[live]
    events = ob.settle_event[ids]
    for event in (
        OrderEvent.FINALISE,
        OrderEvent.AUTO_FINALISE,
        OrderEvent.REJECT_DISPUTE,
        OrderEvent.REFUND,
        OrderEvent.DISPUTE,
        OrderEvent.COMPLETE,
    ):
        sel = ids[events == event]
        if len(sel) == 0:
            continue
        ob.state[sel] = transition_array(ob.state[sel], event)
        price = ob.price[sel]
        flows = flows_sum(price, ob.commission[sel], event)
        model.ledger.add(flows)
        if flows.escrow:
            np.add.at(model.market_table.escrow, ob.market[sel], -price)
        if event == OrderEvent.DISPUTE:
            refund = rng.random(len(sel)) < cfg.refund_prob
            ev = np.where(refund, OrderEvent.REFUND, OrderEvent.REJECT_DISPUTE).astype(np.int8)
            ob.schedule_settle(sel, np.full(len(sel), model.day + cfg.dispute_resolution_days), ev)
        if event == OrderEvent.REFUND:
            model.today.refunds += len(sel)


def seize_escrow(model: CryptoMarketModel, market: int, event: OrderEvent) -> float:
    """Take all money held by ``market`` (FREEZE for a takedown, EXIT_SCAM for an exit scam).

    Returns:
        The amount taken, EUR (equal to the market's escrow balance).
    """
    ob = model.orders
    horizon = model.cfg.model.escrow.auto_finalise_days + model.cfg.model.escrow.dispute_resolution_days + 60
    ids = ob.recent(model.day - horizon)
    ids = ids[(ob.market[ids] == market) & isin_few(ob.state[ids], HELD)]
    if len(ids):
        ob.state[ids] = transition_array(ob.state[ids], event)
        model.ledger.add(flows_sum(ob.price[ids], ob.commission[ids], event))
    taken = float(ob.price[ids].sum())
    model.market_table.escrow[market] = 0.0
    return taken


def process_outcomes(model: CryptoMarketModel) -> None:
    """Buyers learn what arrived: trust, feedback, forum posts, harm, seizures and arrests."""
    ob = model.orders
    ids = ob.pop_outcomes(model.day)
    if len(ids) == 0:
        return
    rng = model.streams["outcomes"]
    cfg = model.cfg.model
    b, v, m, s = ob.buyer[ids], ob.vendor[ids], ob.market[ids], ob.substance[ids]
    out = ob.outcome[ids]
    good = out == Outcome.DELIVERED
    model.buyers.learn(b, m, v, good)
    _stock_friends(model, ids, good | (out == Outcome.NOT_AS_DESCRIBED))
    u = rng.random((len(ids), 4))
    fb = u[:, 0] < cfg.escrow.feedback_prob
    np.add.at(model.vend.fb_count, (v[fb], m[fb]), 1.0)
    np.add.at(model.vend.fb_sum, (v[fb], m[fb]), good[fb].astype(float))
    post = u[:, 1] < np.where(good, cfg.forum.post_prob_good, cfg.forum.post_prob_bad)
    model.forum.post(model.day, m[post], good[post])
    # consumption and harm
    consumed = good | (out == Outcome.NOT_AS_DESCRIBED)
    nad = out == Outcome.NOT_AS_DESCRIBED
    t = model.today
    t.harm += float(consumption_harm(model, b[consumed], s[consumed], ob.purity[ids][consumed], nad[consumed], online=True).sum())
    # a drug check that finds a product not as described is reported: a certain bad rating and post
    # (for those whose random draws above gave neither)
    reported = nad & model.buyers.checking[b]
    rate, tell = reported & ~fb, reported & ~post
    if rate.any():
        np.add.at(model.vend.fb_count, (v[rate], m[rate]), 1.0)
    if tell.any():
        model.forum.post(model.day, m[tell], np.zeros(int(tell.sum()), dtype=bool))
    t.delivered_ok += int(good.sum())
    t.outcomes += len(ids)
    seized = out == Outcome.SEIZED
    t.parcels_seized += int(seized.sum())
    # controlled deliveries: seized parcels of controlled substances lead to buyer and sometimes
    # vendor arrests (a parcel of an uncontrolled NPS is no offence to prosecute)
    seized = seized & model.subs.controlled[s]
    cd = seized & (u[:, 2] < model.levers.controlled_delivery_prob)
    if cd.any():
        model.police.arrest_buyers(b[cd], online=True)
    va = seized & (u[:, 3] < model.levers.trace_prob)
    for vv in sorted_unique(v[va]).tolist():
        model.police.arrest_vendor(int(vv), reason="seized parcel traced")


def _stock_friends(model: CryptoMarketModel, ids: np.ndarray, consumed: np.ndarray) -> None:
    """Social suppliers' orders that arrived become stock for their friends (sim/agents/social.py)."""
    ob = model.orders
    extra = ob.portions[ids] > 1
    if not extra.any():
        return
    mine = ids[extra]
    model.social.settled(ob.buyer[mine])
    got = mine[consumed[extra]]
    if len(got) == 0:
        return
    portions = ob.portions[got].astype(np.int64)
    subs = ob.substance[got].astype(np.int64)
    unit_price = ob.price[got] / (portions * model.units[subs])
    nad = ob.outcome[got] == Outcome.NOT_AS_DESCRIBED
    model.social.receive(ob.buyer[got].astype(np.int64), subs, portions - 1, unit_price, ob.purity[got].astype(float), nad)
