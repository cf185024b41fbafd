"""Interventions: a registry from config names to classes (DESIGN.md section 5).

Each intervention is a small class with ``start_day`` (and optionally ``end_day``) whose
``fire`` runs at the dawn of its start day. The concrete interventions (takedown, blocking,
bans, ...) register themselves in :data:`REGISTRY`; a scenario naming anything else is refused
before the run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sim.config import ConfigError

if TYPE_CHECKING:
    from sim.model import CryptoMarketModel

#: config name -> intervention class
REGISTRY: dict[str, type] = {}


def check_names(interventions) -> None:
    """Refuse unknown intervention names, listing the known ones."""
    for i, iv in enumerate(interventions):
        if iv.name not in REGISTRY:
            known = sorted(REGISTRY) or ["(none registered yet)"]
            raise ConfigError(f"scenario.interventions[{i}].name={iv.name!r}: unknown intervention; allowed: {known}")


def build_interventions(model: CryptoMarketModel, interventions) -> list:
    """Instantiate the scenario's interventions for ``model``."""
    check_names(interventions)
    return [REGISTRY[iv.name](model, iv) for iv in interventions]
