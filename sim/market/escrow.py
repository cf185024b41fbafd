"""Escrow as plain functions: order states, legal transitions, and the money each one moves.

Nothing here needs a model, so the state machine and the money rules are tested directly
(``tests/test_escrow.py``). The order book applies these rules to arrays of orders.

Money paths (docs/ODD.md, entities, centralised escrow cryptomarket):

- pay into escrow -> held by the market until finalise, auto-finalise or dispute;
- finalise / auto-finalise / dispute lost by the buyer -> released: vendor gets the price
  less commission, the market the commission;
- dispute won by the buyer -> refunded;
- takedown -> frozen (seized by police); exit scam -> stolen by the operator.

Finalise-early orders and orders on decentralised markets and web shops are paid out at once
(``PAID_OUT``): no one holds the money and no one adjudicates.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import IntEnum

import numpy as np


class OrderState(IntEnum):
    """Where an order's money is."""

    ESCROW = 0  #: held by the market
    PAID_OUT = 1  #: already with the vendor (finalise-early or direct payment)
    DISPUTED = 2  #: held by the market, dispute open
    FINALISED = 3  #: released after the buyer clicked finalise
    AUTO_FINALISED = 4  #: released after the auto-finalise delay
    REFUNDED = 5  #: dispute won by the buyer
    RELEASED_AFTER_DISPUTE = 6  #: dispute lost by the buyer
    COMPLETED = 7  #: paid-out order whose outcome is known
    FROZEN = 8  #: escrow seized in a takedown
    EXIT_SCAMMED = 9  #: escrow stolen by the market operator


class OrderEvent(IntEnum):
    """What can happen to an order's money."""

    FINALISE = 0
    AUTO_FINALISE = 1
    DISPUTE = 2
    REFUND = 3
    REJECT_DISPUTE = 4
    COMPLETE = 5
    FREEZE = 6
    EXIT_SCAM = 7


class Outcome(IntEnum):
    """What the buyer experiences (fixed when the order is placed, observed later)."""

    DELIVERED = 0  #: arrived, as described
    NOT_AS_DESCRIBED = 1  #: arrived, wrong substance or far too weak
    NOT_SHIPPED = 2  #: selective or exit scam
    LOST = 3  #: lost in the post
    SEIZED = 4  #: seized by customs


S, E = OrderState, OrderEvent
#: the legal transitions; anything else is a bug
TRANSITIONS: dict[tuple[OrderState, OrderEvent], OrderState] = {
    (S.ESCROW, E.FINALISE): S.FINALISED,
    (S.ESCROW, E.AUTO_FINALISE): S.AUTO_FINALISED,
    (S.ESCROW, E.DISPUTE): S.DISPUTED,
    (S.DISPUTED, E.REFUND): S.REFUNDED,
    (S.DISPUTED, E.REJECT_DISPUTE): S.RELEASED_AFTER_DISPUTE,
    (S.PAID_OUT, E.COMPLETE): S.COMPLETED,
    (S.ESCROW, E.FREEZE): S.FROZEN,
    (S.DISPUTED, E.FREEZE): S.FROZEN,
    (S.ESCROW, E.EXIT_SCAM): S.EXIT_SCAMMED,
    (S.DISPUTED, E.EXIT_SCAM): S.EXIT_SCAMMED,
}
#: states whose money the market holds
HELD = (S.ESCROW, S.DISPUTED)
#: states that end an order
TERMINAL = (
    S.FINALISED,
    S.AUTO_FINALISED,
    S.REFUNDED,
    S.RELEASED_AFTER_DISPUTE,
    S.COMPLETED,
    S.FROZEN,
    S.EXIT_SCAMMED,
)

# lookup table [event, state] -> new state, -1 where illegal (used on arrays)
_TABLE = np.full((len(OrderEvent), len(OrderState)), -1, dtype=np.int8)
for (_s, _e), _t in TRANSITIONS.items():
    _TABLE[_e, _s] = _t


class InvalidTransition(ValueError):
    """An event was applied to an order in a state that does not allow it."""


def transition(state: OrderState, event: OrderEvent) -> OrderState:
    """Return the state after ``event``; raise :class:`InvalidTransition` if illegal."""
    try:
        return TRANSITIONS[(OrderState(state), OrderEvent(event))]
    except KeyError:
        raise InvalidTransition(f"{OrderEvent(event).name} is not allowed in state {OrderState(state).name}") from None


def transition_array(states: np.ndarray, event: OrderEvent) -> np.ndarray:
    """Vectorised :func:`transition`; raises if any element is illegal."""
    new = _TABLE[int(event), states]
    if (new < 0).any():
        bad = OrderState(int(states[np.argmax(new < 0)])).name
        raise InvalidTransition(f"{OrderEvent(event).name} is not allowed in state {bad}")
    return new


@dataclass(frozen=True)
class Flows:
    """Money moved by one step of an order, EUR; each field is a change of a ledger account."""

    paid: float = 0.0
    escrow: float = 0.0
    vendor: float = 0.0
    commission: float = 0.0
    refunded: float = 0.0
    seized: float = 0.0
    exit_scammed: float = 0.0


def pay(price: float, commission: float, into_escrow: bool) -> Flows:
    """Buyer pays ``price``: into escrow, or straight to the vendor less commission."""
    if into_escrow:
        return Flows(paid=price, escrow=price)
    return Flows(paid=price, vendor=price * (1 - commission), commission=price * commission)


def settle(price: float, commission: float, event: OrderEvent) -> Flows:
    """Money moved when ``event`` ends (or advances) an order of ``price``."""
    if event in (E.FINALISE, E.AUTO_FINALISE, E.REJECT_DISPUTE):
        return Flows(escrow=-price, vendor=price * (1 - commission), commission=price * commission)
    if event == E.REFUND:
        return Flows(escrow=-price, refunded=price)
    if event == E.FREEZE:
        return Flows(escrow=-price, seized=price)
    if event == E.EXIT_SCAM:
        return Flows(escrow=-price, exit_scammed=price)
    return Flows()  # DISPUTE and COMPLETE move no money


@dataclass
class Ledger:
    """Running totals of where buyers' money went, EUR.

    Conservation: ``paid == vendor + commission + escrow + refunded + seized + exit_scammed``.
    """

    paid: float = 0.0
    escrow: float = 0.0
    vendor: float = 0.0
    commission: float = 0.0
    refunded: float = 0.0
    seized: float = 0.0
    exit_scammed: float = 0.0

    def add(self, flows: Flows) -> None:
        """Add ``flows`` (one order's, or a sum over many from :func:`flows_sum`)."""
        for f in fields(Flows):
            setattr(self, f.name, getattr(self, f.name) + getattr(flows, f.name))

    def imbalance(self) -> float:
        """Paid minus where it went; zero up to rounding when money is conserved."""
        return self.paid - (self.vendor + self.commission + self.escrow + self.refunded + self.seized + self.exit_scammed)


def flows_sum(prices: np.ndarray, commissions: np.ndarray, event: OrderEvent) -> Flows:
    """Vectorised :func:`settle` summed over many orders."""
    total = float(prices.sum())
    if event in (E.FINALISE, E.AUTO_FINALISE, E.REJECT_DISPUTE):
        com = float((prices * commissions).sum())
        return Flows(escrow=-total, vendor=total - com, commission=com)
    return settle(total, 0.0, event)
