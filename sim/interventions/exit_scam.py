"""Exit scam: the operator of a market runs off with the escrow (a shock, not a police action)."""

from __future__ import annotations

from dataclasses import dataclass

from sim.domain import MarketStatus
from sim.interventions.base import Intervention


class ExitScam(Intervention):
    """The operator runs off with the market's escrow."""

    name = "exit_scam"
    revertible = False

    @dataclass
    class Params:
        """No parameters: the operator takes the escrow."""

        pass

    def apply(self) -> None:
        """The operator of each target market takes the escrow and closes it."""
        model = self.model
        before = model.ledger.exit_scammed
        held = {m.name: float(model.market_table.escrow[m.idx]) for m in self.targets}
        for m in self.targets:
            m.close(MarketStatus.EXIT_SCAMMED, reason="exit scam (scenario)")
        self.record.update(escrow_held_eur=sum(held.values()), escrow_stolen_eur=model.ledger.exit_scammed - before)
