"""Domain types shared by every layer: channels of purchase, vendors' origins, the life status of a market.

They sit at the bottom of the layers (docs/architecture.md), so that rules, agents, interventions
and reporting name the same things without importing each other.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class Channel(IntEnum):
    """Where a purchase is made; markets have kinds 1-3, the street is 0."""

    OFFLINE = 0
    WEBSHOP = 1
    CRYPTOMARKET = 2
    DECENTRALISED = 3


CHANNEL_NAMES = ("offline", "webshop", "cryptomarket", "decentralised")


class Origin(IntEnum):
    """Where a vendor ships from, seen from the buyers' country: the route its parcels take."""

    DOMESTIC = 0  #: the buyers' country: no border, no customs
    EU = 1  #: another EU member state: no customs at internal borders, postal inspection only
    NON_EU = 2  #: outside the EU: customs at the external border


#: names of the origins as the outputs and the parameters write them (index = :class:`Origin`)
ORIGIN_NAMES = ("domestic", "eu", "non_eu")


class MarketStatus(Enum):
    """Life status of a marketplace."""

    ACTIVE = "active"
    SEIZED = "seized"
    EXIT_SCAMMED = "exit_scammed"
    CLOSED = "closed"  # voluntary closure or lost all trade


#: the statuses in a fixed order: a status stored as a small integer is its position here
STATUS_ORDER: tuple[MarketStatus, ...] = tuple(MarketStatus)
