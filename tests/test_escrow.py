"""Escrow state machine and money rules, tested without a model."""

import numpy as np
import pytest

from sim.market.escrow import (
    TERMINAL,
    TRANSITIONS,
    InvalidTransition,
    Ledger,
    OrderEvent,
    OrderState,
    flows_sum,
    pay,
    settle,
    transition,
    transition_array,
)


def test_happy_path_escrow():
    s = transition(OrderState.ESCROW, OrderEvent.FINALISE)
    assert s == OrderState.FINALISED, "finalise must release an escrow order"
    assert s in TERMINAL, "a finalised order is over"


def test_dispute_paths():
    d = transition(OrderState.ESCROW, OrderEvent.DISPUTE)
    assert d == OrderState.DISPUTED, "a dispute keeps the money held"
    assert transition(d, OrderEvent.REFUND) == OrderState.REFUNDED, "won dispute refunds"
    assert transition(d, OrderEvent.REJECT_DISPUTE) == OrderState.RELEASED_AFTER_DISPUTE, "lost dispute releases"


@pytest.mark.parametrize("state", list(TERMINAL))
def test_terminal_states_accept_nothing(state):
    for event in OrderEvent:
        with pytest.raises(InvalidTransition):
            transition(state, event)


def test_paid_out_orders_cannot_be_disputed_or_frozen():
    for event in (OrderEvent.DISPUTE, OrderEvent.FREEZE, OrderEvent.EXIT_SCAM, OrderEvent.REFUND):
        with pytest.raises(InvalidTransition):
            transition(OrderState.PAID_OUT, event)


def test_array_transition_matches_scalar():
    for (s, e), t in TRANSITIONS.items():
        got = transition_array(np.array([s, s], dtype=np.int8), e)
        assert list(got) == [t, t], f"array transition of {s.name} by {e.name} must give {t.name}"
    with pytest.raises(InvalidTransition):
        transition_array(np.array([OrderState.ESCROW, OrderState.FINALISED], dtype=np.int8), OrderEvent.FINALISE)


@pytest.mark.parametrize(
    "path",
    [
        [OrderEvent.FINALISE],
        [OrderEvent.AUTO_FINALISE],
        [OrderEvent.DISPUTE, OrderEvent.REFUND],
        [OrderEvent.DISPUTE, OrderEvent.REJECT_DISPUTE],
        [OrderEvent.FREEZE],
        [OrderEvent.DISPUTE, OrderEvent.EXIT_SCAM],
    ],
)
def test_money_is_conserved_on_every_escrow_path(path):
    ledger = Ledger()
    ledger.add(pay(100.0, 0.05, into_escrow=True))
    assert ledger.escrow == 100.0, "payment must sit in escrow"
    for e in path:
        ledger.add(settle(100.0, 0.05, e))
    assert abs(ledger.imbalance()) < 1e-9, f"money lost or created on path {path}: {ledger}"
    assert abs(ledger.escrow) < 1e-9, f"escrow must be empty at the end of {path}"


def test_release_pays_commission():
    f = settle(200.0, 0.1, OrderEvent.FINALISE)
    assert f.vendor == pytest.approx(180.0) and f.commission == pytest.approx(20.0), "vendor gets price less commission"
    d = pay(200.0, 0.1, into_escrow=False)
    assert d.vendor == pytest.approx(180.0) and d.escrow == 0.0, "direct payment skips escrow"


def test_flows_sum_equals_sum_of_flows():
    prices, coms = np.array([10.0, 20.0, 30.0]), np.array([0.05, 0.05, 0.0])
    total = flows_sum(prices, coms, OrderEvent.AUTO_FINALISE)
    vendor = sum(settle(p, c, OrderEvent.AUTO_FINALISE).vendor for p, c in zip(prices, coms))
    assert total.vendor == pytest.approx(vendor), "vectorised release must equal the sum of single releases"
    assert total.escrow == pytest.approx(-60.0), "all released money leaves escrow"
